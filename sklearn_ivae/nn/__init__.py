"""Plain torch modules: no sklearn or skorch imports here."""

from .flow import IdentifiableFlowModule
from .ivae import IVAEModule
from .mlp import make_mlp

__all__ = ["IVAEModule", "IdentifiableFlowModule", "make_mlp"]
