"""The shared estimator base: sklearn plumbing written once for every model."""

import copy
import math
from abc import abstractmethod
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
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data
from skorch.callbacks import ProgressBar

from ._aux import check_aux_given, fit_aux_encoder, sampling_aux
from ._training import LatentVariableNet, NonFiniteLossGuard, ValidationEarlyStopping
from ._training.fitting import (
    EARLY_STOPPING_PATIENCE,
    EARLY_STOPPING_TOL,
    auto_max_epochs,
    check_unchanged,
    incremental_seed,
    torch_threads,
    train,
    train_best_of,
    validation_split,
)
from .nn.mlp import ACTIVATIONS

# Rows per forward pass at inference: bounds memory without affecting results.
INFERENCE_BATCH_SIZE = 8192

# The fraction of rows that early_stopping=True holds out.
DEFAULT_VALIDATION_FRACTION = 0.1


def store_init_params(estimator, arguments):
    """Store ``__init__``'s arguments as given (scikit-learn's convention).

    ``__init__`` calls it with ``locals()``: every parameter is kept under
    its own name, unvalidated and unchanged.
    """
    for name in estimator._get_param_names():
        setattr(estimator, name, arguments[name])


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


def check_device(device):
    """``device`` checked against what this machine has, before any work."""
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ValueError(
            f"device={device!r} is not a device name: use 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from error
    if parsed.type == "cuda":
        n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n_gpus == 0:
            raise ValueError(
                f"device={device!r}, but CUDA is not available on this machine "
                "(e.g. a model fitted on a GPU, loaded here): set_params(device='cpu') "
                "to train on the CPU."
            )
        if parsed.index is not None and parsed.index >= n_gpus:
            raise ValueError(
                f"device={device!r}, but this machine has {n_gpus} CUDA device(s), "
                f"numbered 0 to {n_gpus - 1}."
            )
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r}, but Apple's MPS backend is not available on "
                "this machine: use device='cpu'."
            )
    elif parsed.type != "cpu":
        raise ValueError(
            f"device={device!r}: the estimators train on 'cpu', 'cuda', 'cuda:N' "
            f"or 'mps', not on {parsed.type!r}."
        )


def inference_device(device):
    """Where inference runs: the estimator's ``device``.

    So ``set_params(device='cpu')`` moves a fitted model (the training net
    is not touched). A model fitted on a GPU and loaded where CUDA is not
    available runs on the CPU, as skorch loaded its weights there.
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return device


def _is_density_model(estimator):
    # A model whose score is about u itself (TCL's log-probability of the
    # right segment) has no score without u, so no score_samples:
    # scikit-learn expects score_samples(X) to work on X alone.
    return estimator._scores_density


class BaseLatentVariableModel(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class of the identifiable latent-variable estimators.

    It validates X and the auxiliary variable u (passed as ``y``), scales X,
    builds and trains one skorch net reproducibly (``fit`` and
    ``partial_fit`` share one path, ``_fit``), and runs float64 inference in
    batches. Subclasses say which torch module to build and how to map data
    to latents and back.

    Subclasses implement ``_module_params``, ``_transform_tensor`` and
    ``_inverse_transform_tensor``, and may override ``_requires_aux``,
    ``_scales_X``, ``_check_options``, ``_validate_X``, ``_net_params``,
    ``_callbacks``, ``_resolve_options``, ``_initializer``,
    ``_scoring_function`` and ``_set_fitted_attributes``, and the class
    attributes below.
    """

    # The skorch net class that trains the module.
    _net_class = LatentVariableNet
    # Rows per forward pass of score_samples (a model whose score compares the
    # rows of a batch with each other bounds that batch).
    _scoring_batch_size = INFERENCE_BATCH_SIZE
    # Epochs of max_epochs='auto' on up to AUTO_EPOCHS_REFERENCE_ROWS rows.
    _auto_epochs = 50
    # max_epochs='auto' trains at least this many steps on small data.
    _auto_min_steps = 0
    # Whether the score is a density of X (in X's units, and without u the
    # marginal over the u seen in fit), or a score about u itself.
    _scores_density = True

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
        "early_stopping": ["boolean", Interval(Real, 0, 1, closed="neither")],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    # ------------------------------------------------------------------ hooks
    def _requires_aux(self):
        """Whether fit needs the auxiliary variable u."""
        return True

    def _scales_X(self):
        """Whether X is standardized before training (undone on the way back)."""
        return True

    def _check_options(self):
        """Checks of combinations of parameters, once per fit."""

    def _net_params(self):
        """Extra keyword arguments of the skorch net (e.g. optimizer settings)."""
        return {}

    def _callbacks(self, steps_per_epoch, fresh, incremental):
        """Model-specific skorch callbacks, as ``(name, callback)`` pairs.

        ``fresh``: the fit starts a new model (a warm-up that changes the
        objective, e.g. an annealed decoder variance, or a mixture started
        from the latents, belongs there, not in a continuation);
        ``incremental``: a ``partial_fit`` call, which knows no end, so no
        schedule over the whole fit; ``steps_per_epoch`` sizes schedules.
        """
        return []

    def _resolve_options(self, n_train, n_features, incremental, continuing):
        """Resolve every ``'auto'`` of a fit, here and nowhere else, into fitted
        attributes: ``n_components_``, ``max_epochs_``, ``lr_`` and the
        warm-up's epochs (which early stopping does not watch: their losses
        are not comparable); subclasses add theirs (e.g. IVAE's ``init_``).
        ``incremental``: by ``partial_fit``; ``continuing``: a warm start or a
        later ``partial_fit`` call, which keeps its start. Called before
        ``_module_params`` and the callbacks, which read what it resolves.
        """
        n_components = n_features if self.n_components is None else self.n_components
        if n_components > n_features:
            raise ValueError(
                f"n_components={n_components} must be at most n_features={n_features}: "
                "the model maps data to at most as many latents as observed dimensions."
            )
        self.n_components_ = n_components
        self.max_epochs_ = self.max_epochs
        if self.max_epochs == "auto":
            self.max_epochs_ = auto_max_epochs(
                n_train, self.batch_size, self._auto_epochs, self._auto_min_steps
            )
        self.lr_ = self.lr
        self._warmup_epochs = 0

    def _initializer(self, X, y, inputs, train_split, random_state):
        """A function that starts each new module before it trains (called with
        the module), or None for the modules' own random initialization."""
        return None

    def _scoring_function(self):
        """``fn(module, x, u)``: the per-sample score of a batch (a tensor)."""
        return lambda module, x, u: module(x, u)

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
        """X validated by scikit-learn's rules (subclasses add checks of its values)."""
        return validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2 if reset else 1,
            reset=reset,
        )

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

    # -------------------------------------------------------------- scaling
    def _scale(self, X):
        return (X - self.x_mean_) / self.x_scale_ if self._scales_X() else X

    def _unscale(self, X):
        return X * self.x_scale_ + self.x_mean_ if self._scales_X() else X

    # ------------------------------------------------------------- training
    def _make_net(self, module, module_kwargs, extra_callbacks, train_split):
        callbacks = [("nonfinite_guard", NonFiniteLossGuard())]
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += list(extra_callbacks)
        if train_split is not None:
            early_stopping = ValidationEarlyStopping(
                patience=EARLY_STOPPING_PATIENCE,
                threshold=EARLY_STOPPING_TOL,
                start_epoch=self._warmup_epochs,
            )
            callbacks.append(("early_stopping", early_stopping))
        # Copies, so that fitting never mutates the user's callback objects.
        callbacks += copy.deepcopy(list(self.callbacks or []))
        return self._net_class(
            module,
            **{f"module__{key}": value for key, value in module_kwargs.items()},
            optimizer=torch.optim.Adam,
            # One multi-tensor kernel per Adam operation instead of one per
            # parameter tensor: the same numbers, a smaller share of the step.
            optimizer__foreach=True,
            lr=self.lr_,
            max_epochs=self.max_epochs_,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device,
            verbose=int(bool(self.verbose)),
            **self._net_params(),
        )

    def _training_inputs(self, X, y, continuing, classes, unseen_hint):
        """Validated X, encoded u and the training dict of a fit.

        A fresh start forgets any earlier fit and learns the standardization
        of X and the encoding of u; a continuation (``warm_start``,
        ``partial_fit``) keeps those of the first fit.
        """
        if not continuing:
            # A refit with other options must not leave e.g. classes_ behind.
            for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
                delattr(self, key)
        self._check_options()
        check_device(self.device)
        X = self._validate_X(X, reset=not continuing)
        n_samples, name = X.shape[0], type(self).__name__
        U = None
        if self._requires_aux() and continuing:
            check_aux_given(y, name)
            check_consistent_length(X, np.asarray(y))
            U = self.aux_encoder_.transform(y, name, unseen_hint=unseen_hint)
        elif self._requires_aux():
            self.aux_encoder_ = fit_aux_encoder(y, n_samples, self.aux_type, name, classes)
            self.aux_kind_ = self.aux_encoder_.kind_
            if self.aux_kind_ == "categorical":
                self.classes_ = self.aux_encoder_.classes_
            U = self.aux_encoder_.transform(y, name)
        if not continuing and self._scales_X():
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

    def _fit(self, X, y, incremental, classes=None):
        """The one training path of ``fit`` (``incremental=False``) and
        ``partial_fit`` (one epoch, continuing the same net across calls)."""
        continuing = hasattr(self, "net_") and (incremental or self.warm_start)
        hint = "Pass every label of u as classes in the first call to partial_fit."
        X, U, inputs = self._training_inputs(
            X, y, continuing, classes, unseen_hint=hint if incremental else ""
        )
        if incremental and continuing and U is not None:
            self.aux_encoder_.update_counts(y)
        n_samples, n_features = X.shape
        random_state = check_random_state(self.random_state)
        previous = {
            key: getattr(self, key, []) if continuing else []
            for key in ("loss_curve_", "validation_scores_")
        }
        train_split = None
        if self.early_stopping and not incremental:
            fraction = (
                DEFAULT_VALIDATION_FRACTION if self.early_stopping is True else self.early_stopping
            )
            categorical = U is not None and self.aux_kind_ == "categorical"
            labels = U.argmax(axis=1) if categorical else None
            train_split = validation_split(n_samples, fraction, labels, random_state)
        n_train = n_samples if train_split is None else len(train_split.train_indices)
        self._resolve_options(n_train, n_features, incremental, continuing)
        # After the options are resolved: the module's arguments may depend on them.
        module, module_kwargs = self._module_params(n_features, self.n_components_)
        hidden = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        module_kwargs = {"hidden_layer_sizes": hidden, **module_kwargs}
        if continuing:
            holds_out = bool(self.early_stopping) != hasattr(self, "validation_scores_")
            changed = ["early_stopping"] if holds_out and not incremental else []
            check_unchanged(self.net_, module_kwargs, self._net_params(), changed)
        steps_per_epoch = math.ceil(n_train / self.batch_size)

        def make_net():
            callbacks = self._callbacks(steps_per_epoch, not continuing, incremental)
            if incremental:
                # A warm-up spans calls: it does not finish with the first one.
                for _, callback in callbacks:
                    if hasattr(callback, "finish_at_train_end"):
                        callback.finish_at_train_end = False
            return self._make_net(module, module_kwargs, callbacks, train_split)

        start_from = self.net_ if continuing else None
        with torch_threads(self.n_threads):
            if incremental:
                seed = incremental_seed(random_state, len(previous["loss_curve_"]))
                # A net that partial_fit built continues as it is; a fitted one
                # (with its schedule) is copied into a new one.
                net = self.net_ if continuing and self._fitted_incrementally else make_net()
                # The estimator's current lr, so that it can be lowered between
                # calls (set_params) to anneal the training.
                n_before = 0
                if net.initialized_:
                    for group in net.optimizer_.param_groups:
                        group["lr"] = self.lr_
                    n_before = len(net.history)
                train(net, inputs, seed, self.device, epochs=1, start_from=start_from)
            else:
                initialize = None
                if not continuing:
                    initialize = self._initializer(X, y, inputs, train_split, random_state)
                n_init = 1 if continuing else self.n_init
                seeds = random_state.randint(np.iinfo(np.int32).max, size=n_init)
                net = train_best_of(
                    make_net,
                    inputs,
                    seeds,
                    self.device,
                    start_from=start_from,
                    initialize=initialize,
                    verbose=self.verbose,
                )
                n_before = 0
        self.net_ = net
        self._fitted_incrementally = incremental
        # As in scikit-learn's MLP: the loss per epoch, and the validation
        # score (higher is better) per epoch when early stopping holds rows
        # out; a continuation appends to them.
        losses = net.history[n_before:, "train_loss"]
        self.loss_curve_ = previous["loss_curve_"] + [float(v) for v in losses]
        self.n_iter_ = len(self.loss_curve_)
        if train_split is not None:
            scores = [-float(v) for v in net.history[n_before:, "valid_loss"]]
            self.validation_scores_ = previous["validation_scores_"] + scores
        self._n_features_out = self.n_components_
        self._set_fitted_attributes()
        return self

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
        return self._fit(X, y, incremental=False)

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
        return self._fit(X, y, incremental=True, classes=classes)

    # ------------------------------------------------------------ inference
    def _inference_module(self):
        """A float64 copy of the trained module, in eval mode.

        float32 matrix products round differently with the batch size, which
        makes results depend (at 1e-6) on how rows are grouped; float64 keeps
        them batch- and order-invariant to sklearn's tolerances.
        """
        module = copy.deepcopy(self.net_.module_)
        return module.to(device=inference_device(self.device), dtype=torch.float64).eval()

    def _run_batched(self, fn, *arrays, out_dtype, batch_size=INFERENCE_BATCH_SIZE):
        """Apply ``fn`` to float64 tensor batches of ``arrays`` without grad."""
        module = self._inference_module()
        device = inference_device(self.device)
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
        name = type(self).__name__

        def scores(rows, U):
            return self._run_batched(
                self._scoring_function(),
                X_scaled[rows],
                U,
                out_dtype=np.float64,
                batch_size=self._scoring_batch_size,
            )

        def marginal_scores(rows):
            # Under the distribution of u seen in fit: log-mean-exp over it.
            n_rows = np.count_nonzero(rows) if rows.dtype == bool else len(rows)
            encoder = self.aux_encoder_
            given_u = [scores(rows, np.repeat(u[None], n_rows, axis=0)) for u in encoder.support_]
            return logsumexp(np.add(given_u, encoder.log_weights_[:, None]), axis=0)

        all_rows = np.arange(len(X))
        if not self._requires_aux():
            values = scores(all_rows, None)
        elif y is None and self._scores_density:
            values = marginal_scores(all_rows)
        elif y is None:
            raise ValueError(f"{name}.score needs the auxiliary variable u as y: call score(X, u).")
        else:
            y = np.asarray(y)
            check_consistent_length(X, y)
            if self.aux_kind_ == "categorical" and self._scores_density:
                # A segment never seen in fit has no prior of its own: score it
                # as one drawn like the training segments (the marginal over them).
                unseen = self.aux_encoder_.labels(y) < 0
                values = np.empty(len(X))
                if unseen.any():
                    values[unseen] = marginal_scores(unseen)
                if not unseen.all():
                    seen = ~unseen
                    values[seen] = scores(seen, self.aux_encoder_.transform(y[seen], name))
            else:
                hint = (
                    f"{name}'s score is about u itself (e.g. the log-probability of "
                    "classifying a sample into its own segment), and a segment not seen in fit "
                    "has no class to score. Cross-validate with folds that share segments, e.g. "
                    "StratifiedKFold(shuffle=True)."
                )
                values = scores(all_rows, self.aux_encoder_.transform(y, name, unseen_hint=hint))
        if self._scores_density and self._scales_X():
            # log |d x_scaled / d x|: densities in the units of X.
            values = values - float(np.log(self.x_scale_).sum())
        return values

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


def sampling_inputs(estimator, n_samples, y, random_state):
    """u as a float64 tensor (or None) and a seeded generator, for ``sample``."""
    if not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    encoder = getattr(estimator, "aux_encoder_", None) if estimator._requires_aux() else None
    U = sampling_aux(encoder, n_samples, y, type(estimator).__name__)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return U, torch.Generator().manual_seed(seed)
