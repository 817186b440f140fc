"""The skorch side: batches, the nets that train every model, callbacks, and running a fit."""

from .batches import IndexSplit, TensorBatchIterator, dataset_tensors
from .callbacks import (
    DecoderVarianceAnnealing,
    MixturePriorInit,
    NonFiniteLossGuard,
    ValidationEarlyStopping,
    one_cycle_schedule,
    start_mixture_from_latents,
)
from .distillation import start_from_latents
from .nets import AdversarialNet, LatentVariableNet, ObjectiveLoss

__all__ = [
    "AdversarialNet",
    "DecoderVarianceAnnealing",
    "IndexSplit",
    "LatentVariableNet",
    "MixturePriorInit",
    "NonFiniteLossGuard",
    "ObjectiveLoss",
    "TensorBatchIterator",
    "ValidationEarlyStopping",
    "dataset_tensors",
    "one_cycle_schedule",
    "start_from_latents",
    "start_mixture_from_latents",
]
