"""Plain torch modules: no sklearn or skorch imports here."""

from .ivae import IVAEModule
from .mlp import make_mlp

__all__ = ["IVAEModule", "make_mlp"]
