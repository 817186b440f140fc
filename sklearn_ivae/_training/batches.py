"""Mini-batches as tensor slices, and the fixed validation split."""

import math

import torch

__all__ = ["IndexSplit", "TensorBatchIterator", "dataset_tensors"]


class TensorBatchIterator:
    """Mini-batches sliced from whole tensors.

    skorch's default DataLoader collates every batch sample by sample, which
    about doubles the cost of a step for the small networks used here. Slicing
    tensors costs one gather per epoch (for the shuffle) and a view per batch.

    Yields ``(X_batch, None)`` pairs, with ``X_batch`` a dict of tensors that
    skorch passes to the module as keyword arguments.
    """

    def __init__(self, tensors, batch_size, shuffle=False, device="cpu"):
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        self.n_samples = len(next(iter(tensors.values())))

    def __len__(self):
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        tensors = {key: value.to(self.device) for key, value in self.tensors.items()}
        if self.shuffle:
            # The global torch generator is seeded by the estimator's
            # random_state, so shuffles are reproducible.
            order = torch.randperm(self.n_samples).to(self.device)
            tensors = {key: value[order] for key, value in tensors.items()}
        for start in range(0, self.n_samples, self.batch_size):
            yield (
                {key: value[start : start + self.batch_size] for key, value in tensors.items()},
                None,
            )


def dataset_tensors(dataset):
    """Dict of tensors behind a skorch Dataset, or a Subset of one (valid split)."""
    indices = None
    if isinstance(dataset, torch.utils.data.Subset):
        indices = torch.as_tensor(dataset.indices)
        dataset = dataset.dataset
    tensors = {key: torch.as_tensor(value) for key, value in dataset.X.items()}
    if indices is not None:
        tensors = {key: value[indices] for key, value in tensors.items()}
    return tensors


class IndexSplit:
    """A skorch ``train_split`` that holds out fixed rows for validation.

    The rows are chosen by the estimator (seeded, stratified by segment when u
    is categorical), so the split is reproducible and known before training
    starts, e.g. to size the learning-rate schedule.

    Parameters
    ----------
    train_indices, valid_indices : array-like of int
        Rows used for training and for validation.
    """

    def __init__(self, train_indices, valid_indices):
        self.train_indices = train_indices
        self.valid_indices = valid_indices

    def __call__(self, dataset, y=None, **kwargs):
        return (
            torch.utils.data.Subset(dataset, list(self.train_indices)),
            torch.utils.data.Subset(dataset, list(self.valid_indices)),
        )
