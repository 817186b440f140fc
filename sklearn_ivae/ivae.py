"""IVAE: the identifiable variational autoencoder."""

import math
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._aux import aux_module_params
from ._base import BaseLatentVariableModel, inference_device, sampling_inputs, store_init_params
from ._docstrings import fill_docstring
from ._mixture import MixturePriorMixin
from ._training import DecoderVarianceAnnealing, one_cycle_schedule, start_from_latents
from .flow import IdentifiableFlow
from .nn.ivae import IVAEModule
from .nn.posteriors import MAX_LOG_VAR, MIN_LOG_VAR
from .nn.priors import check_prior_options

# Fraction of the epochs spent warming up: the decoder variance anneals from
# _DECODER_VAR_START to decoder_var, and a mixture prior is a standard normal.
_WARMUP_FRACTION = 0.5

# Where an annealed decoder variance starts: a broad decoder smooths the
# early objective of a random start.
_DECODER_VAR_START = 0.1

# The posterior families of ``posterior``: (covariance, x-conditioned
# transforms on top of the Gaussian).
_POSTERIORS = {"full": ("full", 0), "diag": ("diag", 0), "flow": ("full", 2)}

# max_epochs='auto' after a flow start: these fractions of the epochs of a
# random start. The IVAE then refines the flow's solution: with the flow
# inside the encoder only a correction is learned, and a long stage drifts
# away from the start; an encoder and decoder regressed onto the flow
# ('flow', fewer sources than features) take longer to improve on it.
_FLOW_STAGE_FRACTION = {"flow_encoder": 0.2, "flow": 0.4}

# Passes over the training rows (at most _START_MAX_STEPS steps of 256 rows)
# that move the IVAE to the flow's latents.
_START_PASSES = 10
_START_MAX_STEPS = 1500

# The mixture prior's covariance: diagonal (a full one recovered the latents
# no better).
_MIXTURE_COVARIANCE = "diag"

# decoder_var='auto' from a random start: a near-deterministic decoder.
_DEFAULT_DECODER_VAR = 1e-3

__all__ = ["IVAE"]


@fill_docstring
class IVAE(MixturePriorMixin, BaseLatentVariableModel):
    """Identifiable variational autoencoder (iVAE).

    Nonlinear ICA by a VAE whose prior is conditionally factorial given an
    observed auxiliary variable u (Khemakhem, Kingma, Monti & Hyvärinen, 2020):

    - decoder: x = f(z) + noise, f an MLP, Gaussian noise of variance
      ``decoder_var`` (or Bernoulli observations);
    - prior: p(z|u) = prod_i p_i(z_i|u), Gaussian or Laplace, whose means and
      variances are functions of u (a free table for categorical u);
    - encoder: q(z|x), a Gaussian with a full covariance matrix that does not
      need u, so that ``transform`` works on new data alone.

    The full posterior covariance matters: with a near-deterministic decoder
    the true posterior is a narrow Gaussian whose covariance is that of the
    inverse decoder Jacobian, which is not diagonal for a generic mixing. A
    mean-field (diagonal) posterior then costs the ELBO a penalty on
    non-orthogonal Jacobian columns (Reizinger et al. 2022) of several nats on
    2-layer random mixings, so the ELBO prefers a wrong, rotated solution to
    the true sources.

    Training maximizes a bound on log p(x|u): with u, by default, the
    importance-weighted bound over 4 posterior draws (Burda et al. 2016),
    tighter than the evidence lower bound (ELBO), which recovers the sources
    better (see ``n_importance_samples``); ``score`` reports that bound.

    If the prior's variances vary enough across u, the sources are identifiable
    up to permutation, scaling and, in practice, a small residual linear mixing,
    which a final :class:`~sklearn.decomposition.FastICA` in a pipeline removes.
    With ``prior='isotropic'`` this is a plain VAE (standard normal prior, no u):
    the baseline that is *not* identifiable in general, except in the IMA regime
    (Reizinger et al. 2022): with a near-deterministic decoder (small
    ``decoder_var``) and a mean-field posterior (``posterior='diag'``)
    the ELBO favours decoders with column-orthogonal Jacobians, and a plain VAE
    recovers sources mixed by such a map (e.g. a conformal one); see
    :meth:`decoder_jacobian` and :func:`~sklearn_ivae.metrics.ima_contrast`.

    With ``prior='mixture'`` (Kivva, Rajendran, Ravikumar & Aragam 2022) the
    prior is a learned Gaussian mixture p(z) = sum_k pi_k N(z; mu_k, Sigma_k)
    and no u is needed: with the (piecewise-affine) leaky-ReLU decoder the
    latents are identifiable up to an affine map. ``predict`` and
    ``predict_proba`` then give the mixture component of each sample (a
    VaDE-style clustering).

    X is standardized inside the estimator (the decoder variance is relative to
    unit-variance features) and ``inverse_transform`` undoes it.

    Parameters
    ----------
    n_components : int, default=None
        Number of latent sources, at most n_features. None means n_features.
    prior : {'conditional', 'isotropic', 'mixture'}, default='conditional'
        ``'conditional'``: p(z|u), needs u as ``y`` in ``fit``. ``'isotropic'``:
        a fixed standard prior; ``y`` is ignored (a plain VAE). ``'mixture'``:
        a learned Gaussian-mixture prior; ``y`` is ignored.
    source_distribution : {'gaussian', 'laplace', 'uniform'}, default='gaussian'
        Family of the factorial prior. ``'uniform'`` needs
        ``prior='isotropic'``: each source is uniform on (0, 1) and the
        posterior is logit-normal (z = sigmoid(y), y Gaussian, the change of
        variables included in the ELBO), so ``transform`` returns sigmoid of
        the Gaussian's mean, the posterior *median*, in (0, 1). With
        ``prior='mixture'`` it must stay ``'gaussian'``.
    prior_mean : bool, default=True
        Whether u modulates the prior means as well as the variances. Set it to
        False when only the variances change across u (as in the iVAE and TCL
        papers' data): fewer parameters, same identifiability.
    n_mixture_components : int, default=5
        Number of components of the mixture prior (``prior='mixture'`` only).
    observation : {'gaussian', 'bernoulli'}, default='gaussian'
        Observation model. ``'bernoulli'`` is for binary X (values in [0, 1]);
        X is then not standardized and ``inverse_transform`` gives
        probabilities.
    decoder_var : float, 'learn' or 'auto', default='auto'
        Variance of the Gaussian observation noise on standardized data: a
        fixed value, or ``'learn'`` (one variance per feature, trained with
        the rest; see ``noise_variance_``). Small fixed values (a
        near-deterministic decoder) give the best recovery on noiseless data;
        raise it for noisy data, or learn it. From a random start a fixed
        variance anneals geometrically from 0.1 over the first half of the
        epochs (a broad decoder smooths the early objective). ``'auto'``:
        learned after a start from a flow (see ``init``), where it helps on
        noisy data and costs little on noiseless data; 1e-3 otherwise, where
        a learned variance does worse. See :ref:`ivae-init` in the User Guide.
    posterior : {'full', 'diag', 'flow'}, default='full'
        Family of the posterior q(z|x). ``'full'``: a Gaussian with a full
        covariance matrix (see above). ``'diag'``: the mean-field Gaussian of
        the original iVAE, cheaper for many latents but biased towards
        orthogonal mixings (the IMA regime of a plain VAE). ``'flow'``: the
        full Gaussian's draws mapped by two invertible affine autoregressive
        transforms conditioned on x (zuko's), which start at the identity,
        so the posterior can be skewed or curved like the true one of a deep
        mixing (Rezende & Mohamed 2015); ``transform`` returns the image of
        the Gaussian's mean. Try it for deep mixings from a random start, at
        about twice the cost (see :ref:`ivae-flow-posterior`). Not with
        ``source_distribution='uniform'``.
    n_importance_samples : int or 'auto', default='auto'
        K, the number of posterior draws of the bound that is trained and
        scored: 1 is the evidence lower bound (ELBO); K > 1 the
        importance-weighted bound (IWAE, Burda et al. 2016), tighter and
        rising with K towards log p(x|u), at a cost that grows with K.
        ``'auto'``: 4 with ``prior='conditional'``, where it recovers the
        sources better than the ELBO, and 1 otherwise: the IMA regime of the
        plain VAE is a property of the ELBO's gap, which importance
        weighting closes, and the mixture prior gains nothing clear from it
        (see :ref:`ivae-bound`).
    init : {'auto', 'random', 'flow', 'flow_encoder'}, default='auto'
        Where training starts. ``'random'``: the networks' random
        initialization. ``'flow'``: first an
        :class:`~sklearn_ivae.IdentifiableFlow` is fitted to (X, u) with the
        same ``hidden_layer_sizes``, ``activation``, ``prior_mean``,
        ``max_epochs``, device and threads (kept as ``init_flow_``; with an
        integer ``random_state``, the flow that
        ``IdentifiableFlow(random_state=random_state)`` fits); the
        encoder's means are then regressed onto its standardized latents, the
        decoder back onto X and the prior fitted to them, the posterior's
        covariance onto that of the started model (Laplace's approximation),
        and the IVAE trains from there on its own bound, without the
        decoder-variance warm-up. ``'flow_encoder'``: the same, but the flow
        stays inside the encoder: the posterior's location is the flow's
        standardized latents (frozen) plus a learned correction that starts
        at zero, which keeps more of the flow's solution at depth. The flow's
        exact likelihood finds the sources at depths where the VAE bound
        alone stops in a worse optimum, and the IVAE adds what a flow lacks:
        a model of the observation noise (see ``decoder_var``) and a decoder
        from fewer latents than features. With fewer ``n_components`` than
        features, the start keeps the flow's latents whose prior variance
        varies most with u (the flow's ``n_components``), and
        ``'flow_encoder'`` starts as ``'flow'``. Needs ``prior='conditional'``
        and Gaussian observations. ``'auto'``: a flow start wherever it is
        possible (``'flow_encoder'``, or ``'flow'`` with fewer components
        than features), whatever the number of rows; ``'random'`` otherwise.
        Choose ``'random'`` for the fastest fit of a shallow mixing, or with
        many more features than components and little observation noise
        (there the flow's density is nearly degenerate, and the VAE's bound
        alone identifies the sources). See
        :ref:`ivae-init` in the User Guide. The start used is ``init_``. It
        applies to ``fit``; ``partial_fit`` starts at random.
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of the encoder, the decoder and (for continuous u) the
        prior network.
    activation : {'leaky_relu', 'relu', 'tanh', 'elu', 'gelu', 'maxout'}, \
            default='leaky_relu'
        Hidden activation.
    max_epochs : int or 'auto', default='auto'
        Number of passes over the data. ``'auto'``: from a random start, 50
        on up to 40,000 training rows; on more, as many as visit 50 x 40,000
        samples (at least 1), so that a default fit's cost stops growing
        with the data (e.g. 2 epochs on 1,000,000 rows). After a flow start
        the IVAE refines the flow's solution, and a longer stage drifts away
        from it: a fifth of that with the flow inside the encoder
        (``'flow_encoder'``, 10 epochs on up to 40,000 rows), two fifths
        after ``'flow'``; the flow takes its own ``'auto'``. A number sets
        both stages.
    batch_size : int, default=64
        Mini-batch size.
    lr : float or 'auto', default='auto'
        Peak learning rate of Adam: ``fit`` warms up from ``lr / 25`` to
        ``lr`` over the first 30% of the steps, then anneals to about zero,
        with Adam's momentum cycled (a one-cycle schedule, as in
        :class:`torch.optim.lr_scheduler.OneCycleLR`); ``partial_fit`` trains
        at ``lr``. ``'auto'``: 5e-3, or 1e-3 when the encoder keeps a flow
        inside (``init='flow_encoder'``), whose solution larger steps would
        leave (see :ref:`ivae-init`).
    {training_parameters}

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the per-epoch log.
    n_components_ : int
        Number of latent sources.
    {resolved_attributes}
    noise_variance_ : ndarray of shape (n_features,)
        Variance of the observation noise per feature, in X's units: the
        fixed or learned ``decoder_var`` times ``x_scale_ ** 2`` (only with
        ``observation='gaussian'``). A learned value is the model's: with as
        many components as features the latents can absorb the noise, so it
        need not estimate the data's noise.
    {fitted_attributes}
    mixture_weights_ : ndarray of shape (n_mixture_components,)
        Learned weights of the mixture prior (only with ``prior='mixture'``).
    mixture_means_ : ndarray of shape (n_mixture_components, n_components)
        Learned means of the mixture prior (only with ``prior='mixture'``).
    mixture_covariances_ : ndarray of shape (n_mixture_components, \
            n_components, n_components)
        Learned covariances of the mixture prior (only with ``prior='mixture'``).

    See Also
    --------
    sklearn.decomposition.FastICA : Linear ICA, the final step after IVAE.

    References
    ----------
    I. Khemakhem, D. P. Kingma, R. P. Monti and A. Hyvärinen. "Variational
    autoencoders and nonlinear ICA: a unifying framework". AISTATS 2020.

    Y. Burda, R. Grosse and R. Salakhutdinov. "Importance weighted
    autoencoders". ICLR 2016.

    B. Kivva, G. Rajendran, P. Ravikumar and B. Aragam. "Identifiability of
    deep generative models without auxiliary information". NeurIPS 2022.

    P. Reizinger, L. Gresele, J. Brady, J. von Kügelgen, D. Zietlow,
    B. Schölkopf, G. Martius, W. Brendel and M. Besserve. "Embrace the gap:
    VAEs perform independent mechanism analysis". NeurIPS 2022.

    Examples
    --------
    >>> from sklearn.decomposition import FastICA
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_ivae import IVAE
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> from sklearn_ivae.metrics import mean_corr_coef
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=10,
    ...                              n_samples_per_segment=200, n_layers=2,
    ...                              random_state=0)
    >>> model = make_pipeline(IVAE(max_epochs=10, random_state=0),
    ...                       FastICA(random_state=0))
    >>> S_hat = model.fit_transform(X, u)
    >>> S_hat.shape
    (2000, 2)
    >>> mean_corr_coef(S, S_hat) > 0.8
    True
    """

    # The flow start that init='auto' takes where a flow start is chosen.
    _auto_flow_start = "flow_encoder"

    _parameter_constraints: dict = {
        **BaseLatentVariableModel._parameter_constraints,
        "prior": [StrOptions({"conditional", "isotropic", "mixture"})],
        "source_distribution": [StrOptions({"gaussian", "laplace", "uniform"})],
        "n_mixture_components": [Interval(Integral, 1, None, closed="left")],
        "prior_mean": ["boolean"],
        "observation": [StrOptions({"gaussian", "bernoulli"})],
        "decoder_var": [Interval(Real, 0, None, closed="neither"), StrOptions({"learn", "auto"})],
        "posterior": [StrOptions(set(_POSTERIORS))],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "init": [StrOptions({"auto", "random", "flow", "flow_encoder"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components=None,
        *,
        prior="conditional",
        source_distribution="gaussian",
        prior_mean=True,
        n_mixture_components=5,
        observation="gaussian",
        decoder_var="auto",
        posterior="full",
        n_importance_samples="auto",
        init="auto",
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        max_epochs="auto",
        batch_size=64,
        lr="auto",
        aux_type="auto",
        device="cpu",
        n_threads=1,
        random_state=None,
        n_init=1,
        warm_start=False,
        early_stopping=False,
        verbose=0,
        callbacks=None,
    ):
        store_init_params(self, locals())

    # ------------------------------------------------------------ base hooks
    def _requires_aux(self):
        return self.prior == "conditional"

    def _scales_X(self):
        return self.observation == "gaussian"

    def _check_options(self):
        check_prior_options(self.prior, self.source_distribution)
        if self.init in ("flow", "flow_encoder") and not self._flow_start_possible():
            raise ValueError(
                f"init={self.init!r} starts from an IdentifiableFlow fitted with u, which needs "
                "prior='conditional', observation='gaussian' and a Gaussian or Laplace "
                f"source_distribution; got prior={self.prior!r}, observation="
                f"{self.observation!r}, source_distribution={self.source_distribution!r}. "
                "Use init='random' with these options."
            )
        if self.posterior == "flow" and self.source_distribution == "uniform":
            raise ValueError(
                "posterior='flow' transforms a Gaussian posterior, but "
                "source_distribution='uniform' uses a logit-normal one on (0, 1): "
                "use posterior='full' or 'diag', or another source_distribution."
            )

    def _flow_start_possible(self):
        # The flow models a conditional prior of Gaussian or Laplace sources
        # and a deterministic mixing of real-valued X.
        return (
            self.prior == "conditional"
            and self.observation == "gaussian"
            and self.source_distribution != "uniform"
        )

    def _resolve_options(self, n_train, n_features, incremental, continuing):
        # Every 'auto' of IVAE, resolved here and nowhere else.
        super()._resolve_options(n_train, n_features, incremental, continuing)
        if not continuing:  # a continuation keeps its start
            self.init_ = self._resolve_init(n_features, incremental)
        flow_started = self.init_ in ("flow", "flow_encoder")
        if self.max_epochs == "auto" and flow_started:
            fraction = _FLOW_STAGE_FRACTION[self.init_]
            self.max_epochs_ = max(1, round(fraction * self.max_epochs_))
        self.decoder_var_ = self.decoder_var
        if self.decoder_var == "auto":
            # After a flow start the noise variance is learned; from a random
            # start a learned variance lost under noise to the annealed fixed one.
            self.decoder_var_ = "learn" if flow_started else _DEFAULT_DECODER_VAR
        if self.lr == "auto":
            # Larger steps would leave the solution of a flow inside the
            # encoder; an encoder and decoder regressed onto the flow's
            # latents ('flow') still have far to go.
            self.lr_ = 1e-3 if self.init_ == "flow_encoder" else 5e-3
        self.n_importance_samples_ = self.n_importance_samples
        if self.n_importance_samples == "auto":
            # The IMA regime of the isotropic prior is a property of the
            # ELBO's gap, which importance weighting closes.
            self.n_importance_samples_ = 4 if self.prior == "conditional" else 1
        if not continuing and (self._anneals_decoder_var() or self.prior == "mixture"):
            self._warmup_epochs = math.floor(_WARMUP_FRACTION * self.max_epochs_)

    def _resolve_init(self, n_features, incremental):
        if incremental:
            return "random"  # partial_fit has no data set to fit a flow to first
        init = self.init
        if init == "auto":
            init = self._auto_flow_start if self._flow_start_possible() else "random"
        if init == "flow_encoder" and self.n_components_ < n_features:
            # The flow's kept latents alone make a worse location than the
            # encoder regressed onto them.
            init = "flow"
        return init

    def _validate_X(self, X, reset):
        X = super()._validate_X(X, reset)
        if self.observation == "bernoulli" and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                "observation='bernoulli' needs X with values in [0, 1] (binary data); "
                f"got values in [{X.min():g}, {X.max():g}]. Use observation='gaussian' "
                "for real-valued data."
            )
        return X

    def _module_params(self, n_features, n_components):
        return IVAEModule, {
            "n_features": n_features,
            "n_components": n_components,
            **aux_module_params(getattr(self, "aux_encoder_", None)),
            "activation": self.activation,
            "observation": self.observation,
            "decoder_var": self.decoder_var_,
            "source_distribution": self.source_distribution,
            "prior": self.prior,
            "prior_mean": self.prior_mean,
            "posterior_covariance": _POSTERIORS[self.posterior][0],
            "posterior_transforms": _POSTERIORS[self.posterior][1],
            "n_importance_samples": self.n_importance_samples_,
            "flow_location": self._flow_inside_encoder(),
            **self._mixture_params(),
        }

    def _mixture_params(self):
        if self.prior != "mixture":
            return {}
        return {
            "n_mixture_components": self.n_mixture_components,
            "mixture_covariance": _MIXTURE_COVARIANCE,
        }

    def _flow_inside_encoder(self):
        return self.init_ == "flow_encoder"

    def _anneals_decoder_var(self):
        # A start from a flow's solution is not blurred by a broad decoder.
        return (
            self.init_ == "random"
            and self.decoder_var_ != "learn"
            and self.observation == "gaussian"
        )

    def _callbacks(self, steps_per_epoch, fresh, incremental):
        callbacks = []
        if not incremental:
            n_steps = self.max_epochs_ * steps_per_epoch
            callbacks.append(("one_cycle", one_cycle_schedule(self.lr_, n_steps)))
        if fresh and self._anneals_decoder_var():
            n_steps = self._warmup_epochs * steps_per_epoch
            annealing = DecoderVarianceAnnealing(_DECODER_VAR_START, self.decoder_var_, n_steps)
            callbacks.append(("decoder_var_annealing", annealing))
        if fresh:
            callbacks += self._mixture_callbacks(self._warmup_epochs, _MIXTURE_COVARIANCE)
        return callbacks

    def _initializer(self, X, y, inputs, train_split, random_state):
        if self.init_ == "random":
            return None
        rows = np.arange(len(X)) if train_split is None else train_split.train_indices
        y_rows = np.asarray(y)[rows]
        # An integer random_state seeds the flow as IdentifiableFlow's own, so
        # that init_flow_ is the flow a user would fit with that seed.
        seed = random_state.randint(np.iinfo(np.int32).max)  # drawn either way
        flow_seed = self.random_state if isinstance(self.random_state, Integral) else seed
        # With fewer sources than features, the sources are the flow's
        # latents that u modulates most (its n_components).
        flow = IdentifiableFlow(
            n_components=self.n_components_,
            prior_mean=self.prior_mean,
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation=self.activation,
            max_epochs=self.max_epochs,
            aux_type=self.aux_type,
            device=self.device,
            n_threads=self.n_threads,
            random_state=flow_seed,
            verbose=self.verbose,
        )
        if self.verbose:
            print("IVAE start, 1 of 2: fitting an IdentifiableFlow to (X, u)", flush=True)
        self.init_flow_ = flow.fit(X[rows], y_rows)
        index = flow.latent_index_
        all_latents = flow.transform(X)
        mean, std = all_latents[rows].mean(axis=0), all_latents[rows].std(axis=0)
        all_latents = ((all_latents - mean) / std).astype(np.float32)
        latents = all_latents[rows]
        offset = None
        if self._flow_inside_encoder():
            # The flow's part of the encoder's location on every row, once:
            # training reads it from the inputs instead of running the flow.
            inputs["location_offset"] = offset = all_latents
        # With 'flow_encoder' the module holds the flow (IVAEModule's
        # flow_location), which reads X in its own scaling.
        flow_latents = dict(
            flow_module=flow.net_.module_,
            index=index,
            input_scale=self.x_scale_ / flow.x_scale_,
            input_shift=(self.x_mean_ - flow.x_mean_) / flow.x_scale_,
            mean=mean,
            std=std,
        )
        n_steps = min(_START_MAX_STEPS, _START_PASSES * math.ceil(len(rows) / 256))
        start = partial(
            start_from_latents,
            x=inputs["x"][rows],
            u=inputs["u"][rows],
            latents=latents,
            n_steps=n_steps,
            location_offset=None if offset is None else offset[rows],
        )

        def initialize(module):
            if self.verbose:
                print(
                    f"IVAE start, 2 of 2: moving the IVAE to the flow's latents ({n_steps} "
                    "regression steps); then the IVAE trains on its own bound",
                    flush=True,
                )
            if module.location_base is not None:
                module.location_base.load(**flow_latents)
            return start(module)

        return initialize

    def _set_fitted_attributes(self):
        super()._set_fitted_attributes()
        if self.observation == "gaussian":
            # The module's variance is that of standardized X.
            log_var = self.net_.module_.decoder_log_var.detach().clamp(MIN_LOG_VAR, MAX_LOG_VAR)
            with np.errstate(over="ignore"):  # inf for X in units near float's limit
                self.noise_variance_ = log_var.double().exp().cpu().numpy() * self.x_scale_**2

    def _transform_tensor(self, module, x):
        return module.latents(x)

    def _inverse_transform_tensor(self, module, z):
        return module.decode_mean(z)

    def _scoring_function(self):
        device = inference_device(self.device)

        def bound(module, x, u):
            # The same seeded noise for every row of every batch: a row's
            # score depends on that row alone, and always takes one value.
            generator = torch.Generator(device=device).manual_seed(0)
            return module(x, u, generator=generator, shared_noise=True)

        return bound

    # --------------------------------------------------------------- public
    def posterior_mean(self, X, y=None, n_draws=256):
        """Posterior mean of the latents under the fitted model, E[z|x] or E[z|x, u].

        :meth:`transform` returns the encoder's location, which training fits
        as an approximation of the posterior. This computes the posterior mean
        of the model itself (its decoder, noise variance and prior) by
        self-normalized importance sampling, with the encoder's posterior as
        the proposal. Under observation noise it recovers the sources better
        than ``transform``. On noiseless data with as many components as
        features it can do worse: the model's noise variance is then not the
        data's (see ``noise_variance_``), and the mean shrinks the latents
        towards the prior. It is deterministic and costs about
        ``2 * n_draws`` decoder passes per row (and, without u, a prior term
        per training segment). See :ref:`ivae-posterior-mean` in the User
        Guide.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Observations.
        y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
            The auxiliary variable u, with ``prior='conditional'``: each row
            is then weighted by its own segment's prior, which sharpens the
            mean further. None uses the distribution of u seen in fit (every
            class with its frequency, or up to 100 training values of a
            continuous u), as for data whose u is not known. Ignored by the
            other priors.
        n_draws : int, default=256
            Antithetic pairs of posterior draws per row. More draws are
            closer to the exact mean, at a proportional cost.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Posterior means, of the same float dtype as X.

        Examples
        --------
        >>> from sklearn_ivae import IVAE
        >>> from sklearn_ivae.datasets import make_nonlinear_ica
        >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=5,
        ...                              n_samples_per_segment=100,
        ...                              noise_std=0.1, random_state=0)
        >>> model = IVAE(max_epochs=2, random_state=0).fit(X, u)
        >>> model.posterior_mean(X, n_draws=16).shape
        (500, 2)
        """
        check_is_fitted(self)
        if not isinstance(n_draws, Integral) or n_draws < 1:
            raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}.")
        X = self._validate_X(X, reset=False)
        U, u_weights = None, None
        if self._requires_aux():
            if y is None:
                U, u_weights = self.aux_encoder_.support_, self.aux_encoder_.log_weights_
            else:
                check_consistent_length(X, y)
                U = self.aux_encoder_.transform(y, type(self).__name__)
        device = inference_device(self.device)
        marginal = None
        if u_weights is not None:
            # Every batch's prior is the mixture over the u seen in fit.
            to_tensor = partial(torch.as_tensor, dtype=torch.float64, device=device)
            marginal = [to_tensor(U), to_tensor(u_weights)]

        def mean(module, x, u=None):
            # The same seeded draws for every batch: one value per row.
            generator = torch.Generator(device=device).manual_seed(0)
            if marginal is not None:
                return module.posterior_mean(x, marginal[0], n_draws, generator, marginal[1])
            return module.posterior_mean(x, u, n_draws, generator)

        arrays = [self._scale(X)] if marginal is not None or U is None else [self._scale(X), U]
        # About 2**19 draws a batch: the decoder's activations stay small.
        batch_size = max(1, 2**18 // n_draws)
        return self._run_batched(mean, *arrays, out_dtype=X.dtype, batch_size=batch_size)

    def decoder_jacobian(self, Z):
        """Jacobian of the decoder's mean at each row of Z, in the units of X.

        Computed by torch autograd (``torch.func.jacrev`` over a ``vmap``) in
        float64. The estimator standardizes X internally; the Jacobian returned
        is that of ``inverse_transform``, i.e. it includes ``x_scale_``. Pass
        latents as ``transform`` returns them (for ``source_distribution=
        'uniform'``, points in (0, 1)). Feed it to
        :func:`~sklearn_ivae.metrics.ima_contrast` to measure how far the
        learned mixing is from column-orthogonal.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latent points.

        Returns
        -------
        jacobians : ndarray of shape (n_samples, n_features, n_components)
            The Jacobian d inverse_transform(z) / dz at each row.

        Examples
        --------
        >>> from sklearn_ivae import IVAE
        >>> from sklearn_ivae.datasets import make_mobius_ica
        >>> from sklearn_ivae.metrics import ima_contrast
        >>> X, S = make_mobius_ica(n_samples=500, random_state=0)
        >>> model = IVAE(prior="isotropic", max_epochs=2, random_state=0).fit(X)
        >>> J = model.decoder_jacobian(model.transform(X))
        >>> J.shape
        (500, 3, 3)
        >>> bool(ima_contrast(J) >= 0)
        True
        """
        Z = self._validate_Z(Z)

        def jacobians(module, z):
            def decode_one(z_row):
                return module.decode_mean(z_row[None])[0]

            # A function transform: it differentiates despite the batches' no_grad.
            return torch.func.vmap(torch.func.jacrev(decode_one))(z)

        J = self._run_batched(jacobians, Z, out_dtype=np.float64)
        if self._scales_X():
            J = J * self.x_scale_[None, :, None]
        return J.astype(Z.dtype, copy=False)

    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw new data from the fitted generative model.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        y : scalar or array-like of shape (n_samples,) or (n_samples, n_aux)
            The auxiliary variable for each sample (a single label is repeated).
            Required with ``prior='conditional'``, ignored otherwise.
        random_state : int, RandomState instance or None, default=None
            Seed of the draw.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Generated observations (with observation noise).
        Z : ndarray of shape (n_samples, n_components)
            The latent sources they were generated from.
        """
        check_is_fitted(self)
        U, generator = sampling_inputs(self, n_samples, y, random_state)
        module = self._inference_module().cpu()
        with torch.no_grad():
            z, decoded = module.sample(U, n_samples, generator=generator)
            if self.observation == "bernoulli":
                x = torch.bernoulli(torch.sigmoid(decoded), generator=generator)
            else:
                noise_std = torch.exp(0.5 * module.decoder_log_var)
                noise = torch.randn(decoded.shape, generator=generator, dtype=decoded.dtype)
                x = decoded + noise_std * noise
        return self._unscale(x.numpy()), z.numpy()
