"""Identifiable deep latent-variable models as scikit-learn transformers."""

from .ivae import IVAE

__version__ = "0.1.0"

__all__ = ["IVAE", "__version__"]
