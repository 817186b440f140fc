"""Identifiable deep latent-variable models as scikit-learn transformers."""

from .flow import IdentifiableFlow
from .gan import IVAEGAN
from .ivae import IVAE
from .tcl import TCLNonlinearICA

__version__ = "0.1.0"

__all__ = ["IVAE", "IVAEGAN", "IdentifiableFlow", "TCLNonlinearICA", "__version__"]
