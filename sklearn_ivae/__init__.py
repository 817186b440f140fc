"""Identifiable deep latent-variable models as scikit-learn transformers."""

from .gan import IVAEGAN
from .ivae import IVAE
from .tcl import TCLNonlinearICA

__version__ = "0.1.0"

__all__ = ["IVAE", "IVAEGAN", "TCLNonlinearICA", "__version__"]
