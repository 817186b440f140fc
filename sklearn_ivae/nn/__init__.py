"""Plain torch modules: no sklearn or skorch imports here."""

from .flow import IdentifiableFlowModule
from .ivae import IVAEModule
from .mlp import make_mlp
from .posteriors import DiagonalGaussian, FlowPosterior, FullGaussian, LogitNormal, PosteriorDraw
from .priors import ConditionalPrior, MixturePrior, StandardPrior

__all__ = [
    "ConditionalPrior",
    "DiagonalGaussian",
    "FlowPosterior",
    "FullGaussian",
    "IVAEModule",
    "IdentifiableFlowModule",
    "LogitNormal",
    "MixturePrior",
    "PosteriorDraw",
    "StandardPrior",
    "make_mlp",
]
