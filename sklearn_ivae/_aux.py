"""Reading the auxiliary variable u: one object that encodes it for the prior."""

import warnings

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length

__all__ = [
    "AuxiliaryEncoder",
    "aux_module_params",
    "check_aux_given",
    "fit_aux_encoder",
    "sampling_aux",
]

# aux_type='auto' warns when integer labels average fewer rows than this per
# label: a categorical prior has a parameter per label and cannot learn one
# from a row or two, and such u is usually a time index or a count.
_MIN_ROWS_PER_LABEL = 2


class AuxiliaryEncoder:
    """Encodes u (passed to the estimators as ``y``) as the matrix a prior reads.

    With ``kind='auto'``, 1-D labels (ints, strings, integer-valued floats)
    are categorical: one-hot columns, one per label seen in ``fit``
    (``classes_``); a warning says when such labels are nearly as many as the
    rows (e.g. time steps 0..n-1). Anything else (1-D non-integer floats, a
    2-D array) is continuous: standardized columns. ``'categorical'`` and
    ``'continuous'`` force a reading.

    Parameters
    ----------
    kind : {'auto', 'categorical', 'continuous'}, default='auto'
        How to read u.
    max_support : int, default=100
        Training values of a continuous u kept for the marginal over u.

    Attributes
    ----------
    kind_ : {'categorical', 'continuous'}
        How u was read.
    classes_ : ndarray of shape (n_classes,)
        The labels of a categorical u.
    counts_ : ndarray of shape (n_classes,)
        How often each label was seen (categorical u).
    mean_, scale_ : ndarray of shape (n_aux,)
        Standardization of a continuous u.
    n_aux_ : int
        Number of columns of the encoded u.
    support_, log_weights_ : ndarray of shape (n_support, n_aux), (n_support,)
        The distribution of the encoded u seen in fit, for marginalizing over
        it: every class with its frequency (categorical u), or up to
        ``max_support`` training rows, evenly spaced, with equal weights
        (continuous u).
    """

    def __init__(self, kind="auto", max_support=100):
        self.kind = kind
        self.max_support = max_support

    @staticmethod
    def _as_array(y):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind not in "fc":
            y = y.ravel()
        return y

    def fit(self, y, n_samples, classes=None):
        """Read u; ``classes`` (all labels of a categorical u) when ``y`` is a
        first chunk that may not show them all (``partial_fit``)."""
        y = self._as_array(y)
        check_consistent_length(np.empty(n_samples), y)
        if classes is not None or self._reads_categorical(y):
            self._fit_categorical(y, classes)
        else:
            self._fit_continuous(y)
        return self

    def _reads_categorical(self, y):
        if self.kind != "auto":
            if self.kind == "categorical" and y.ndim != 1:
                raise ValueError(
                    f"aux_type='categorical' needs 1-D labels of u, got an array of shape "
                    f"{y.shape}. Pass one label per row, or aux_type='continuous'."
                )
            return self.kind == "categorical"
        if y.ndim != 1 or type_of_target(y, input_name="y") not in ("binary", "multiclass"):
            return False
        n_labels = len(np.unique(y))
        if y.dtype.kind in "iuf" and n_labels * _MIN_ROWS_PER_LABEL > len(y):
            warnings.warn(
                f"u (y) has {n_labels} distinct integer values over {len(y)} rows: it is read "
                "as that many categories, each with its own prior learned from about "
                f"{len(y) / n_labels:.1f} rows. If u is a time index or a measurement, pass "
                "aux_type='continuous'; to keep the categories and silence this warning, "
                "aux_type='categorical'.",
                UserWarning,
                stacklevel=4,
            )
        return True

    def _fit_categorical(self, y, classes):
        if y.ndim != 1:
            y = y.ravel()
        if classes is not None:
            self.kind_ = "categorical"
            self.classes_ = np.unique(self._as_array(classes))
            self.n_aux_ = len(self.classes_)
            self.support_ = np.eye(self.n_aux_, dtype=np.float32)
            self.counts_ = np.zeros(self.n_aux_)
            self.update_counts(y)
        else:
            self.kind_ = "categorical"
            self.classes_, self.counts_ = np.unique(y, return_counts=True)
            self.n_aux_ = len(self.classes_)
            self.support_ = np.eye(self.n_aux_, dtype=np.float32)
            self.log_weights_ = np.log(self.counts_ / self.counts_.sum())

    def _fit_continuous(self, y):
        U = self._continuous(y)
        self.kind_ = "continuous"
        self.mean_ = U.mean(axis=0)
        std = U.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        self.constant_ = bool(np.all(std <= 1e-12))
        self.n_aux_ = U.shape[1]
        rows = np.unique(np.linspace(0, len(U) - 1, self.max_support).astype(int))
        self.support_ = self.transform(U[rows])
        self.log_weights_ = np.full(len(rows), -np.log(len(rows)))

    def is_constant(self):
        """Whether u can take a single value only: one label, or a constant continuous u."""
        if self.kind_ == "categorical":
            return len(self.classes_) < 2
        return self.constant_

    def update_counts(self, y):
        """Add the labels of y to the frequencies of a categorical u (the
        weights of the marginal over u); a label not in ``classes_`` raises."""
        if self.kind_ != "categorical":
            return self
        index = self.labels(y)
        if (index < 0).any():
            unseen = np.unique(self._as_array(y).ravel()[index < 0])[:10]
            raise ValueError(
                f"y contains labels that are not in classes: {unseen}. Pass every label of u "
                "as classes in the first call to partial_fit."
            )
        self.counts_ = self.counts_ + np.bincount(index, minlength=self.n_aux_)
        with np.errstate(divide="ignore"):  # a class not seen yet has weight 0
            self.log_weights_ = np.log(self.counts_ / self.counts_.sum())
        return self

    @staticmethod
    def _continuous(y):
        return check_array(y.reshape(-1, 1) if y.ndim == 1 else y, dtype=np.float64, input_name="y")

    def labels(self, y):
        """Index of each label in ``classes_`` (categorical u); -1 for unseen labels."""
        y = self._as_array(y).ravel()
        index = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        return np.where(self.classes_[index] == y, index, -1)

    def transform(self, y, estimator_name="The estimator", unseen_hint=""):
        """u as the float32 matrix the prior network reads; ``unseen_hint`` is
        added to the error for labels not seen in fit."""
        y = self._as_array(y)
        if self.kind_ == "categorical":
            index = self.labels(y)
            unseen = index < 0
            if unseen.any():
                raise ValueError(
                    f"y contains labels not seen during fit: {np.unique(y.ravel()[unseen])[:10]}. "
                    f"Known labels: {self.classes_[:10]}. {unseen_hint}".rstrip()
                )
            return np.eye(len(self.classes_), dtype=np.float32)[index]
        U = self._continuous(y)
        if U.shape[1] != len(self.mean_):
            raise ValueError(
                f"y has {U.shape[1]} columns, but {estimator_name} was fitted "
                f"with a {len(self.mean_)}-column auxiliary variable."
            )
        return ((U - self.mean_) / self.scale_).astype(np.float32)


def check_aux_given(y, estimator_name):
    """Raise the error that says how to pass u when a model that needs it got none."""
    if y is None:
        raise ValueError(
            f"{estimator_name} requires y to be passed, but the target y is None. "
            "y is the auxiliary variable u (segment labels, time, class, ...): "
            "call fit(X, u), or pass it through a Pipeline or GridSearchCV as y."
        )


def fit_aux_encoder(y, n_samples, kind, estimator_name, classes=None):
    """The fitted encoder of u; u that takes a single value raises."""
    check_aux_given(y, estimator_name)
    encoder = AuxiliaryEncoder(kind=kind).fit(y, n_samples, classes)
    if encoder.is_constant():
        raise ValueError(
            f"{estimator_name} learns from how the data change with the auxiliary "
            "variable u, but u (y) takes a single value here (one segment): nothing is "
            "identifiable. Pass a u that varies, e.g. segment labels from "
            "sklearn_ivae.datasets.make_segment_labels for a time series, or use a model "
            "without u (IVAE(prior='isotropic' or 'mixture'))."
        )
    return encoder


def aux_module_params(encoder):
    """The module's ``n_aux`` and ``aux_kind`` for a fitted encoder (0 and None without u)."""
    if encoder is None:
        return {"n_aux": 0, "aux_kind": None}
    return {"n_aux": encoder.n_aux_, "aux_kind": encoder.kind_}


def sampling_aux(encoder, n_samples, y, estimator_name):
    """u of ``n_samples`` draws (a single label repeated) as a float64 tensor,
    or None for a model without u."""
    if encoder is None:
        return None
    if y is None:
        raise ValueError("sample needs the auxiliary variable u as y: sample(n, u).")
    y = np.asarray(y)
    if y.ndim == 0:
        y = np.repeat(y, n_samples)
    if len(y) != n_samples:
        raise ValueError(
            f"y has {len(y)} rows, but n_samples={n_samples}: pass one value of u "
            "per sample, or a single label to repeat."
        )
    return torch.as_tensor(encoder.transform(y, estimator_name), dtype=torch.float64)
