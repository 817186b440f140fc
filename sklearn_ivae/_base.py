"""The shared estimator base: sklearn plumbing written once for every model."""

import copy
import math
from abc import abstractmethod
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data
from skorch.callbacks import ProgressBar

from ._aux import AuxiliaryEncoder
from ._training import IndexSplit, LatentVariableNet, NonFiniteLossGuard, ValidationEarlyStopping
from .nn.mlp import ACTIVATIONS

# Rows per forward pass at inference: bounds memory without affecting results.
INFERENCE_BATCH_SIZE = 8192

# max_epochs='auto' trains each estimator's usual number of epochs up to this
# many training rows (the 40 segments x 1000 points of the papers' benchmark),
# and beyond it the same number of sample visits in fewer epochs, so that the
# cost of a default fit stops growing with n_samples.
AUTO_EPOCHS_REFERENCE_ROWS = 40_000


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch intra-op threads, then restore them.

    None leaves torch's setting as it is.
    """
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _same_value(a, b):
    """Equality of parameter values that may be arrays or tuples."""
    try:
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except (TypeError, ValueError):
        return a == b


def _load_modules(net, start_from):
    """Copy every module's parameters and buffers of a fitted net into ``net``."""
    for module, fitted in zip(net.trained_modules(), start_from.trained_modules(), strict=True):
        module.load_state_dict(fitted.state_dict())
    return net


def _mean_and_std(X):
    """Column means and standard deviations of X, finite and exact wherever X is.

    Squares of values near the float type's limits overflow or underflow;
    such columns are divided by their largest magnitude first, and the
    result scaled back. Other columns take the plain computation.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        mean, std = X.mean(axis=0), X.std(axis=0)
    info = np.finfo(X.dtype)
    peak = np.abs(X).max(axis=0)
    low, high = np.sqrt(info.tiny) / info.eps, np.sqrt(info.max / len(X))
    extreme = (peak > high) | ((peak > 0) & (peak < low))
    if extreme.any():
        scaled = X[:, extreme] / peak[extreme]
        mean[extreme] = scaled.mean(axis=0) * peak[extreme]
        std[extreme] = scaled.std(axis=0) * peak[extreme]
    return mean, std


def _check_hidden_layer_sizes(hidden_layer_sizes):
    sizes = tuple(np.ravel(hidden_layer_sizes).tolist())
    if not all(isinstance(n, Integral) and n > 0 for n in sizes):
        raise ValueError(
            "hidden_layer_sizes must be a tuple of positive integers, e.g. (64, 64); "
            f"got {hidden_layer_sizes!r}."
        )
    return sizes


class BaseLatentVariableModel(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the identifiable latent-variable estimators.

    It validates X and the auxiliary variable u (passed as ``y``), scales X,
    builds and trains one skorch net reproducibly, and runs float64 inference
    in batches. Subclasses say which torch module to build and how to map data
    to latents and back.

    ``fit``, ``transform``, ``inverse_transform``, ``score_samples`` and
    ``score`` are written here once. Subclasses implement ``_module_params``,
    ``_transform_tensor`` and ``_inverse_transform_tensor``, and may override
    ``_requires_aux``, ``_scales_X``, ``_check_options``,
    ``_validate_X_values``, ``_net_class``, ``_net_params``,
    ``_training_callbacks``, ``_warmup_callbacks``, ``_warmup_epochs``, ``_learning_rate``,
    ``_resolve_options``, ``_initializer``, ``_scoring_function``, ``_score_offset`` and
    ``_set_fitted_attributes``.
    """

    # Rows per forward pass of score_samples (a model whose score compares the
    # rows of a batch with each other bounds that batch).
    _scoring_batch_size = INFERENCE_BATCH_SIZE
    # Epochs of max_epochs='auto' on up to AUTO_EPOCHS_REFERENCE_ROWS rows.
    _auto_epochs = 50
    # max_epochs='auto' trains at least this many steps on small data.
    _auto_min_steps = 0
    # Whether score_samples(X) without u is the marginal over the u seen in fit
    # (a density model), or an error (a score that is about u itself).
    _scores_marginal_of_u = True

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "aux_type": [StrOptions({"auto", "categorical", "continuous"})],
        "device": [str, torch.device],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def _store_init_params(self, arguments):
        """Store ``__init__``'s arguments as given (scikit-learn's convention).

        ``__init__`` calls it with ``locals()``: every parameter is kept under
        its own name, unvalidated and unchanged.
        """
        for name in self._get_param_names():
            setattr(self, name, arguments[name])

    # ------------------------------------------------------------------ hooks
    def _requires_aux(self):
        """Whether fit needs the auxiliary variable u."""
        return True

    def _scales_X(self):
        """Whether X is standardized before training (undone on the way back)."""
        return True

    def _validate_X_values(self, X):
        """Model-specific checks on the values of X (e.g. binary data)."""

    def _check_options(self):
        """Checks of combinations of parameters, once per fit."""

    def _net_class(self):
        """The skorch net class that trains the module."""
        return LatentVariableNet

    def _net_params(self):
        """Extra keyword arguments of the skorch net (e.g. optimizer settings)."""
        return {}

    def _training_callbacks(self, steps_per_epoch):
        """Model-specific skorch callbacks of every fit (e.g. the learning-rate
        schedule), as ``(name, callback)`` pairs; ``steps_per_epoch`` sizes
        schedules."""
        return []

    def _warmup_callbacks(self, steps_per_epoch):
        """Callbacks that start a model from scratch (an annealed objective, a
        mixture initialized from the latents): not run when ``warm_start``
        continues a fitted model."""
        return []

    def _warmup_epochs(self):
        """Epochs during which a schedule changes the objective itself (e.g. an
        annealed decoder variance). Early stopping does not watch them: losses
        of those epochs are not comparable."""
        return 0

    def _scoring_function(self):
        """``fn(module, x, u)``: the per-sample score of a batch (a tensor)."""
        return lambda module, x, u: module(x, u)

    def _score_offset(self):
        """Added to the per-sample score: log |d x_scaled / d x| for densities, so
        that they are in the units of X."""
        return self._log_abs_det_scale()

    def _set_fitted_attributes(self):
        """Fitted attributes read off the trained module, after training."""

    @abstractmethod
    def _module_params(self, n_features, n_components):
        """(module class, keyword arguments) of the torch module to train."""

    @abstractmethod
    def _transform_tensor(self, module, x):
        """Latents of a batch of scaled data (float64 tensor)."""

    @abstractmethod
    def _inverse_transform_tensor(self, module, z):
        """Scaled data of a batch of latents (float64 tensor)."""

    # ------------------------------------------------------------ validation
    def _validate_X(self, X, reset):
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2 if reset else 1,
            reset=reset,
        )
        self._validate_X_values(X)
        return X

    def _fit_aux(self, y, n_samples, classes=None):
        """Encode u for training and remember how; None when u is not used."""
        if not self._requires_aux():
            return None
        self._check_y_given(y)
        self.aux_encoder_ = AuxiliaryEncoder(kind=self.aux_type).fit(y, n_samples, classes)
        if self.aux_encoder_.is_constant():
            raise ValueError(
                f"{type(self).__name__} learns from how the data change with the auxiliary "
                "variable u, but u (y) takes a single value here (one segment): nothing is "
                "identifiable. Pass a u that varies, e.g. segment labels from "
                "sklearn_ivae.datasets.make_segment_labels for a time series, or use a model "
                "without u (IVAE(prior='isotropic' or 'mixture'))."
            )
        self.aux_kind_ = self.aux_encoder_.kind_
        if self.aux_kind_ == "categorical":
            self.classes_ = self.aux_encoder_.classes_
        return self._encode_aux(y)

    def _check_y_given(self, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. "
                "y is the auxiliary variable u (segment labels, time, class, ...): "
                "call fit(X, u), or pass it through a Pipeline or GridSearchCV as y."
            )

    def _warm_aux(self, y, n_samples, unseen_hint=""):
        """u encoded as in the first fit, for a continuation (``warm_start``,
        ``partial_fit``)."""
        if not self._requires_aux():
            return None
        self._check_y_given(y)
        check_consistent_length(np.empty(n_samples), np.asarray(y))
        return self.aux_encoder_.transform(y, type(self).__name__, unseen_hint=unseen_hint)

    def _encode_aux(self, y):
        """u as the float32 matrix the prior network reads."""
        return self.aux_encoder_.transform(y, type(self).__name__)

    def _aux_module_params(self):
        """The module's ``n_aux`` and ``aux_kind`` (0 and None without u)."""
        if not self._requires_aux():
            return {"n_aux": 0, "aux_kind": None}
        return {"n_aux": self.aux_encoder_.n_aux_, "aux_kind": self.aux_encoder_.kind_}

    def _aux_for_scoring(self, y, n_samples):
        if not self._requires_aux():
            return None
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.score needs the auxiliary variable u as y: "
                "call score(X, u)."
            )
        check_consistent_length(np.empty(n_samples), np.asarray(y))
        # Only a score about u itself gets here with a categorical u (the
        # density models score unseen segments under the marginal).
        hint = (
            f"{type(self).__name__}'s score is about u itself (e.g. the log-probability of "
            "classifying a sample into its own segment), and a segment not seen in fit has no "
            "class to score. Cross-validate with folds that share segments, e.g. "
            "StratifiedKFold(shuffle=True)."
        )
        return self.aux_encoder_.transform(y, type(self).__name__, unseen_hint=hint)

    def _sampling_inputs(self, n_samples, y, random_state):
        """u as a float64 tensor (or None) and a seeded generator, for ``sample``."""
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        U = None
        if self._requires_aux():
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
            U = torch.as_tensor(self._encode_aux(y), dtype=torch.float64)
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        return U, torch.Generator().manual_seed(seed)

    def _validate_Z(self, Z):
        """Latents given to a fitted model (inverse_transform, Jacobians)."""
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32], input_name="Z")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but {type(self).__name__} has "
                f"n_components_={self.n_components_}."
            )
        return Z

    def _resolve_max_epochs(self, n_train):
        """The number of epochs: ``max_epochs``, or what ``'auto'`` means for n_train rows."""
        if self.max_epochs != "auto":
            return self.max_epochs
        visits = self._auto_epochs * AUTO_EPOCHS_REFERENCE_ROWS
        epochs = min(self._auto_epochs, max(1, math.ceil(visits / n_train)))
        steps_per_epoch = math.ceil(n_train / self.batch_size)
        return int(max(epochs, math.ceil(self._auto_min_steps / steps_per_epoch)))

    def _n_components(self, n_features):
        n_components = n_features if self.n_components is None else self.n_components
        if n_components > n_features:
            raise ValueError(
                f"n_components={n_components} must be at most n_features={n_features}: "
                "the model maps data to at most as many latents as observed dimensions."
            )
        return n_components

    # -------------------------------------------------------------- scaling
    def _scale(self, X):
        return (X - self.x_mean_) / self.x_scale_ if self._scales_X() else X

    def _unscale(self, X):
        return X * self.x_scale_ + self.x_mean_ if self._scales_X() else X

    def _log_abs_det_scale(self):
        """log |d x_scaled / d x|, to express densities in the units of X."""
        return -float(np.log(self.x_scale_).sum()) if self._scales_X() else 0.0

    # ------------------------------------------------------------- training
    def _validation_split(self, n_samples, labels, random_state):
        """The rows held out for early stopping, stratified by categorical u."""
        n_valid = int(np.ceil(self.validation_fraction * n_samples))
        if n_samples - n_valid < 2:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction} "
                f"of the {n_samples} samples, which leaves {n_samples - n_valid} to train "
                "on. Pass more samples, a smaller validation_fraction, or "
                "early_stopping=False."
            )
        stratify = None
        if labels is not None:
            counts = np.bincount(labels)
            counts = counts[counts > 0]
            # Stratify when every segment can be in both parts.
            if counts.min() >= 2 and len(counts) <= min(n_valid, n_samples - n_valid):
                stratify = labels
        train, valid = train_test_split(
            np.arange(n_samples), test_size=n_valid, stratify=stratify, random_state=random_state
        )
        return IndexSplit(np.sort(train), np.sort(valid))

    def _make_net(
        self, module, module_kwargs, extra_callbacks=(), train_split=None, warmup_epochs=0
    ):
        callbacks = [("nonfinite_guard", NonFiniteLossGuard())]
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += list(extra_callbacks)
        if train_split is not None:
            early_stopping = ValidationEarlyStopping(
                patience=self.n_iter_no_change,
                threshold=self.tol,
                start_epoch=warmup_epochs,
            )
            callbacks.append(("early_stopping", early_stopping))
        # Copies, so that fitting never mutates the user's callback objects.
        callbacks += copy.deepcopy(list(self.callbacks or []))
        return self._net_class()(
            module,
            **{f"module__{key}": value for key, value in module_kwargs.items()},
            optimizer=torch.optim.Adam,
            # One multi-tensor kernel per Adam operation instead of one per
            # parameter tensor: the same numbers, a smaller share of the step.
            optimizer__foreach=True,
            lr=self._learning_rate(),
            max_epochs=self.max_epochs_,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device,
            verbose=int(bool(self.verbose)),
            **self._net_params(),
        )

    def _learning_rate(self):
        """The (peak) learning rate that ``lr`` stands for."""
        return self.lr

    def _resolve_options(self, n_train, n_features, n_components, incremental, continuing):
        """Resolve every ``'auto'`` of a fit (``incremental``: by ``partial_fit``;
        ``continuing``: a warm start or a later ``partial_fit`` call, which keeps
        its start), in one place, into fitted attributes (e.g. IVAE's
        ``init_``, ``decoder_var_``, ``lr_``); called before ``_module_params``
        and the callbacks, which read what it resolves."""

    def _initializer(self, X, y, inputs, train_split, random_state):
        """A function that starts each new module before it trains (called with
        the module), or None for the modules' own random initialization."""
        return None

    def _train(self, net, inputs, seed, start_from=None, initialize=None):
        """Fit ``net`` on a dict of arrays, with torch seeded by ``seed``.

        ``start_from`` (a fitted net, for ``warm_start``) or ``initialize`` (a
        function of the new module) sets where training starts.

        Returns the net and its final loss: the training objective of the
        trained module over all rows (lower is better), which ranks the
        ``n_init`` initializations.

        The global torch generator is seeded inside ``fork_rng``, so results are
        reproducible and the caller's own torch random state is left untouched.
        """
        cuda_devices = list(range(torch.cuda.device_count())) if "cuda" in str(self.device) else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            if start_from is None and initialize is None:
                net.fit(inputs, None)
            else:
                net.initialize()
                if start_from is not None:
                    # warm_start: the fitted modules' parameters and buffers,
                    # new optimizers and callbacks.
                    _load_modules(net, start_from)
                else:
                    initialize(net.module_)
                net.partial_fit(inputs, None)
            # One pass of the trained module in eval mode: it ranks restarts
            # (the last epoch's mean loss mixes parameters from across that
            # epoch), and it catches a divergence that no training loss saw,
            # e.g. a last step that left finite but useless parameters.
            objective = net.forward(inputs, training=False)
            loss = -float(objective.double().mean())
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"The training diverged: the trained model's objective on the training rows "
                f"is {-loss}. Try a smaller `lr`, or check X for extreme values."
            )
        return net, loss

    def _train_best_of(
        self, make_net, inputs, random_state, n_init=None, start_from=None, initialize=None
    ):
        """Train ``n_init`` nets from different seeds; keep the lowest final loss.

        Deep latent-variable models have local optima (e.g. two sources merged
        into one latent) from which a training run does not escape; like
        GaussianMixture's ``n_init``, restarts ranked by the objective, which
        does not need the true sources, avoid most of them.
        """
        n_init = self.n_init if n_init is None else n_init
        seeds = random_state.randint(np.iinfo(np.int32).max, size=n_init)
        best_net, best_loss = None, np.inf
        for init, seed in enumerate(seeds):
            if self.verbose and n_init > 1:
                print(f"Initialization {init + 1}/{n_init}", flush=True)
            net, loss = self._train(make_net(), inputs, seed, start_from, initialize)
            if best_net is None or loss < best_loss:
                best_net, best_loss = net, loss
        return best_net

    def _check_device(self):
        """``device`` checked against what this machine has, before any work."""
        try:
            device = torch.device(self.device)
        except RuntimeError as error:
            raise ValueError(
                f"device={self.device!r} is not a device name: use 'cpu', 'cuda', 'cuda:N' "
                "or 'mps'."
            ) from error
        if device.type == "cuda":
            n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if n_gpus == 0:
                raise ValueError(
                    f"device={self.device!r}, but CUDA is not available on this machine "
                    "(e.g. a model fitted on a GPU, loaded here): set_params(device='cpu') "
                    "to train on the CPU."
                )
            if device.index is not None and device.index >= n_gpus:
                raise ValueError(
                    f"device={self.device!r}, but this machine has {n_gpus} CUDA device(s), "
                    f"numbered 0 to {n_gpus - 1}."
                )
        elif device.type == "mps":
            if not torch.backends.mps.is_available():
                raise ValueError(
                    f"device={self.device!r}, but Apple's MPS backend is not available on "
                    "this machine: use device='cpu'."
                )
        elif device.type != "cpu":
            raise ValueError(
                f"device={self.device!r}: the estimators train on 'cpu', 'cuda', 'cuda:N' "
                f"or 'mps', not on {device.type!r}."
            )

    def _check_warm_start(self, module_kwargs, check_early_stopping=True):
        """A warm start continues the fitted networks as they are: the arguments
        they were built with (of every module, e.g. IVAEGAN's discriminator too)
        must not have changed, nor whether rows are held out for validation."""
        net_params = self._net_params()
        changed = []
        for name in self.net_.module_names:
            if name == "module":
                wanted = module_kwargs
            else:
                prefix = name + "__"
                wanted = {
                    k[len(prefix) :]: v for k, v in net_params.items() if k.startswith(prefix)
                }
            fitted = self.net_.get_params_for(name)
            changed += sorted(
                key
                for key in set(fitted) | set(wanted)
                if not _same_value(fitted.get(key), wanted.get(key))
            )
        if check_early_stopping and self.early_stopping != hasattr(self, "validation_scores_"):
            changed.append("early_stopping")
        if changed:
            raise ValueError(
                "warm_start=True continues the fitted network, but these settings of it "
                f"changed since it was fitted: {changed}. Fit with warm_start=False to start "
                "a new one."
            )

    def _reset_fitted_attributes(self):
        """Forget what an earlier fit learned (a refit with other options must
        not leave e.g. ``classes_`` or ``mixture_means_`` behind)."""
        for key in [key for key in vars(self) if key.endswith("_") and not key.startswith("_")]:
            delattr(self, key)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to X, with the auxiliary variable u passed as y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.
        y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
            The auxiliary variable u. 1-D labels (ints, strings) are
            categorical (segment index, class); floats (1-D non-integer, or
            2-D) are continuous (time, covariates). Required by the models
            that need u (a ``ValueError`` says how to pass it), ignored by the
            others.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # warm_start continues the fitted networks on the first fit's scaling
        # of X and encoding of u.
        warm = self.warm_start and hasattr(self, "net_")
        X, U, inputs = self._training_inputs(X, y, continuing=warm)
        n_samples, n_features = X.shape
        n_components = self._n_components(n_features)
        random_state = check_random_state(self.random_state)
        train_split = None
        n_train = n_samples
        if self.early_stopping:
            categorical = U is not None and self.aux_kind_ == "categorical"
            labels = U.argmax(axis=1) if categorical else None
            train_split = self._validation_split(n_samples, labels, random_state)
            n_train = len(train_split.train_indices)
        steps_per_epoch = math.ceil(n_train / self.batch_size)
        self._resolve_options(n_train, n_features, n_components, incremental=False, continuing=warm)
        # After the options are resolved: the module's arguments may depend on them.
        module, module_kwargs, _ = self._module_spec(n_features)
        if warm:
            self._check_warm_start(module_kwargs)
        self.max_epochs_ = self._resolve_max_epochs(n_train)
        # A warm start continues a trained model: no warm-up callbacks.
        callback_factory = self._training_callbacks
        warmup_epochs = 0
        if warm:
            previous = {
                "n_iter_": self.n_iter_,
                "loss_curve_": self.loss_curve_,
                "validation_scores_": getattr(self, "validation_scores_", []),
            }
        else:
            warmup_epochs = self._warmup_epochs()

            def callback_factory(steps_per_epoch):
                return [
                    *self._training_callbacks(steps_per_epoch),
                    *self._warmup_callbacks(steps_per_epoch),
                ]

        def make_net():
            callbacks = callback_factory(steps_per_epoch)
            return self._make_net(module, module_kwargs, callbacks, train_split, warmup_epochs)

        with torch_threads(self.n_threads):
            initialize = (
                None if warm else self._initializer(X, y, inputs, train_split, random_state)
            )
            self.net_ = self._train_best_of(
                make_net,
                inputs,
                random_state,
                n_init=1 if warm else None,
                start_from=self.net_ if warm else None,
                initialize=initialize,
            )
        # As in scikit-learn's MLP: the loss per epoch, and the validation
        # score (higher is better) per epoch when early stopping holds rows out;
        # a warm start appends to them.
        history = self.net_.history
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(loss) for loss in history[:, "train_loss"]]
        if self.early_stopping:
            self.validation_scores_ = [-float(v) for v in history[:, "valid_loss"]]
        if warm:
            self.n_iter_ += previous["n_iter_"]
            self.loss_curve_ = previous["loss_curve_"] + self.loss_curve_
            if self.early_stopping:
                self.validation_scores_ = previous["validation_scores_"] + self.validation_scores_
        self._fitted_incrementally = False
        self._finish_fit(n_components)
        return self

    def _training_inputs(self, X, y, continuing, classes=None, unseen_hint=""):
        """Validated X, encoded u and the training dict of a fit.

        A fresh start forgets any earlier fit and learns the standardization
        of X and the encoding of u; a continuation (``warm_start``,
        ``partial_fit``) keeps those of the first fit.
        """
        if not continuing:
            self._reset_fitted_attributes()
        self._check_options()
        self._check_device()
        X = self._validate_X(X, reset=not continuing)
        n_samples = X.shape[0]
        if continuing:
            U = self._warm_aux(y, n_samples, unseen_hint)
        else:
            U = self._fit_aux(y, n_samples, classes)
            if self._scales_X():
                self.x_mean_, std = _mean_and_std(X)
                # A column is constant when its spread is rounding error of its mean.
                self.x_scale_ = np.where(std > 1e-12 * np.abs(self.x_mean_), std, 1.0)
        inputs = {"x": self._scale(X).astype(np.float32)}
        if not np.isfinite(inputs["x"]).all():
            raise ValueError(
                "X could not be standardized: its values are too large for its float type "
                f"({X.dtype}), or differ from the first fit's scale by that much. Rescale X "
                "first, e.g. divide it by its largest absolute value, or pass it as float64."
            )
        if U is not None:
            inputs["u"] = U
        return X, U, inputs

    def _module_spec(self, n_features):
        """(module class, its keyword arguments, n_components) for n_features."""
        hidden = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        n_components = self._n_components(n_features)
        module, module_kwargs = self._module_params(n_features, n_components)
        return module, {"hidden_layer_sizes": hidden, **module_kwargs}, n_components

    def _finish_fit(self, n_components):
        self.n_components_ = n_components
        self._n_features_out = n_components
        self._set_fitted_attributes()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, classes=None):
        """Train for one epoch on X: incremental training, as in scikit-learn's MLP.

        The first call (on an unfitted estimator) builds the network, and
        takes the standardization of X and the encoding of u from its data:
        make the first chunk representative. Each call then runs one epoch
        over the rows it is given, continuing the same network and optimizer
        (a call after ``fit`` continues the fitted network). Each call trains
        at the estimator's current ``lr``, constant within the call: a
        schedule over the whole fit (the VAEs' one-cycle) needs its end,
        which ``partial_fit`` does not know, so lower ``lr`` between calls
        (``set_params``) to anneal. Warm-ups defined in epochs (the
        VAEs' decoder-variance annealing, a mixture prior's pretraining) run
        over the first calls as in a fit of ``max_epochs`` epochs on the
        first chunk's size. ``n_init`` and ``early_stopping`` do not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of observations.
        y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
            The auxiliary variable u of the chunk (see :meth:`fit`).
        classes : array-like of shape (n_classes,), default=None
            Every label of a categorical u. Needed in the first call when
            its chunk does not show them all (e.g. segments that arrive
            later); ignored afterwards.

        Returns
        -------
        self : object
            The estimator, trained for one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ivae import IVAE
        >>> from sklearn_ivae.datasets import make_nonlinear_ica
        >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=4,
        ...                              n_samples_per_segment=50, random_state=0)
        >>> model = IVAE(hidden_layer_sizes=(16,), random_state=0)
        >>> for rows in np.array_split(np.arange(len(X)), 2):
        ...     model = model.partial_fit(X[rows], u[rows], classes=np.unique(u))
        >>> model.n_iter_
        2
        """
        continuing = hasattr(self, "net_")
        hint = "Pass every label of u as classes in the first call to partial_fit."
        X, U, inputs = self._training_inputs(X, y, continuing, classes, unseen_hint=hint)
        if continuing and U is not None:
            self.aux_encoder_.update_counts(y)
        self._resolve_options(
            *X.shape, self._n_components(X.shape[1]), incremental=True, continuing=continuing
        )
        module, module_kwargs, n_components = self._module_spec(X.shape[1])
        if continuing:
            self._check_warm_start(module_kwargs, check_early_stopping=False)
        previous_loss_curve = getattr(self, "loss_curve_", [])
        # The seed of each call: from random_state and the number of epochs so
        # far, so that repeated calls do not repeat one shuffle.
        base_seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        seed = np.random.SeedSequence([base_seed, len(previous_loss_curve)]).generate_state(1)[0]
        cuda_devices = list(range(torch.cuda.device_count())) if "cuda" in str(self.device) else []
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(int(seed))
            if continuing and getattr(self, "_fitted_incrementally", False):
                net = self.net_
            else:
                net = self._incremental_net(
                    module, module_kwargs, len(X), start_from=(self.net_ if continuing else None)
                )
            # The estimator's current lr, so that it can be lowered between
            # calls (set_params) to anneal the training.
            for optimizer in net.optimizers():
                for group in optimizer.param_groups:
                    group["lr"] = self._learning_rate()
            net.partial_fit(inputs, None, epochs=1)
        self.net_ = net
        self._fitted_incrementally = True
        self.n_iter_ = len(previous_loss_curve) + 1
        self.loss_curve_ = [*previous_loss_curve, float(net.history[-1, "train_loss"])]
        self._finish_fit(n_components)
        return self

    def _incremental_net(self, module, module_kwargs, n_samples, start_from=None):
        """The net that ``partial_fit`` trains, one epoch per call, initialized.

        No learning-rate schedule; a fresh start gets the warm-up callbacks,
        sized as for a fit of ``max_epochs`` epochs on ``n_samples`` rows and
        told not to finish at the end of a call; ``start_from`` (a fitted
        net) is continued as it is.
        """
        self.max_epochs_ = self._resolve_max_epochs(n_samples)
        callbacks = []
        if start_from is None:
            callbacks = self._warmup_callbacks(math.ceil(n_samples / self.batch_size))
            for _, callback in callbacks:
                if hasattr(callback, "finish_at_train_end"):
                    callback.finish_at_train_end = False
        net = self._make_net(module, module_kwargs, callbacks).initialize()
        if start_from is not None:
            _load_modules(net, start_from)
        return net

    # ------------------------------------------------------------ inference
    def _inference_module(self):
        """A float64 copy of the trained module, in eval mode.

        float32 matrix products round differently with the batch size, which
        makes results depend (at 1e-6) on how rows are grouped; float64 keeps
        them batch- and order-invariant to sklearn's tolerances.
        """
        module = copy.deepcopy(self.net_.module_)
        return module.to(device=self._inference_device(), dtype=torch.float64).eval()

    def _inference_device(self):
        """Where inference runs: the estimator's ``device``.

        So ``set_params(device='cpu')`` moves a fitted model (the training
        net is not touched). A model fitted on a GPU and loaded where CUDA is
        not available runs on the CPU, as skorch loaded its weights there.
        """
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            return torch.device("cpu")
        return device

    def _run_batched(self, fn, *arrays, out_dtype, batch_size=INFERENCE_BATCH_SIZE):
        """Apply ``fn`` to float64 tensor batches of ``arrays`` without grad."""
        module = self._inference_module()
        device = self._inference_device()
        outputs = []
        n_samples = len(arrays[0])
        with torch.no_grad(), torch_threads(self.n_threads):
            for start in range(0, n_samples, batch_size):
                batch = [
                    None
                    if a is None
                    else torch.as_tensor(
                        np.asarray(a[start : start + batch_size], dtype=np.float64),
                        device=device,
                    )
                    for a in arrays
                ]
                outputs.append(fn(module, *batch).cpu().numpy())
        return np.concatenate(outputs).astype(out_dtype, copy=False)

    def transform(self, X):
        """Map data to the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Latent representation, of the same float dtype as X.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._run_batched(self._transform_tensor, self._scale(X), out_dtype=X.dtype)

    def inverse_transform(self, Z):
        """Map latents back to the data space.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latent representation.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Data-space reconstruction, of the same float dtype as Z.
        """
        Z = self._validate_Z(Z)
        X_scaled = self._run_batched(self._inverse_transform_tensor, Z, out_dtype=np.float64)
        return self._unscale(X_scaled).astype(Z.dtype, copy=False)

    def _is_density_model(self):
        # A model whose score is about u itself (TCL's log-probability of the
        # right segment) has no score without u, so no score_samples:
        # scikit-learn expects score_samples(X) to work on X alone.
        return self._scores_marginal_of_u

    @available_if(_is_density_model)
    def score_samples(self, X, y=None):
        """Per-sample log-likelihood of X given u, or the bound on it the model trains.

        What it is depends on the model (see its class documentation): the
        bound on log p(x|u) that a VAE maximizes, or a flow's exact
        log-likelihood. It is deterministic and invariant to the order and grouping of the rows, and
        densities are in the units of X (the standardization's Jacobian is
        included).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.
        y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
            The auxiliary variable u. For a density model that needs u, None
            scores log p(x) under the distribution of u seen in fit: the
            log-mean-exp of the scores given every class, weighted by its
            frequency (categorical u), or given up to 100 training values of
            u (continuous u), at that many times the cost. A label not seen
            in fit is scored the same way: a new segment, whose prior the
            model cannot know, taken to be like the training segments. So
            cross-validation over contiguous segments gives finite scores.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Score of each sample (higher is better).
        """
        return self._score_samples(X, y)

    def _score_samples(self, X, y):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        X_scaled = self._scale(X)
        marginal = self._requires_aux() and self._scores_marginal_of_u
        if marginal and y is None:
            values = self._marginal_scores(X_scaled)
        elif marginal and self.aux_kind_ == "categorical":
            y = np.asarray(y)
            check_consistent_length(X, y)
            # A segment never seen in fit has no prior of its own: score it as
            # one drawn like the training segments (the marginal over them).
            unseen = self.aux_encoder_.labels(y) < 0
            values = np.empty(len(X))
            if unseen.any():
                values[unseen] = self._marginal_scores(X_scaled[unseen])
            if not unseen.all():
                seen = ~unseen
                values[seen] = self._score_batches(X_scaled[seen], self._encode_aux(y[seen]))
        else:
            values = self._score_batches(X_scaled, self._aux_for_scoring(y, X.shape[0]))
        return values + self._score_offset()

    def _marginal_scores(self, X_scaled):
        """Scores under the distribution of u seen in fit (log-mean-exp over it)."""
        encoder = self.aux_encoder_
        scores = [
            self._score_batches(X_scaled, np.repeat(u[None], len(X_scaled), axis=0))
            for u in encoder.support_
        ]
        return logsumexp(np.add(scores, encoder.log_weights_[:, None]), axis=0)

    def _score_batches(self, X_scaled, U):
        return self._run_batched(
            self._scoring_function(),
            X_scaled,
            U,
            out_dtype=np.float64,
            batch_size=self._scoring_batch_size,
        )

    def score(self, X, y=None):
        """Mean per-sample score of X given u (higher is better): ``GridSearchCV``'s default.

        For the density models, the mean of :meth:`score_samples`; for
        :class:`~sklearn_ivae.TCLNonlinearICA`, the mean log-probability its
        contrastive classifier gives to each sample's own u. For the density
        models, samples of a segment not seen in fit are
        scored under the marginal over the training segments (see
        :meth:`score_samples`); folds that share segments, e.g.
        ``StratifiedKFold(shuffle=True)``, score each sample under its own
        segment's prior instead.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.
        y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
            The auxiliary variable u; required by the models that need it.

        Returns
        -------
        score : float
            Mean per-sample score.
        """
        return float(np.mean(self._score_samples(X, y)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._requires_aux()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
