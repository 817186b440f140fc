"""Plain torch modules: no sklearn or skorch imports here."""

from .flow import IdentifiableFlowModule
from .ivae import IVAEModule
from .mlp import make_mlp
from .posteriors import DiagonalGaussian, FullGaussian, LogitNormal, PosteriorDraw
from .priors import ConditionalPrior, MixturePrior, StandardPrior

__all__ = [
    "ConditionalPrior",
    "DiagonalGaussian",
    "FullGaussian",
    "IVAEModule",
    "IdentifiableFlowModule",
    "LogitNormal",
    "MixturePrior",
    "PosteriorDraw",
    "StandardPrior",
    "make_mlp",
]
