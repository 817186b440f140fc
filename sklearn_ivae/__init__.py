"""Identifiable deep latent-variable models as scikit-learn transformers."""

from .flow import IdentifiableFlow
from .ivae import IVAE

__version__ = "0.1.0"

__all__ = ["IVAE", "IdentifiableFlow", "__version__"]
