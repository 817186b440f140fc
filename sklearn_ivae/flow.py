"""IdentifiableFlow: the identifiable normalizing flow (iFlow)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._aux import aux_module_params
from ._base import (
    BaseLatentVariableModel,
    inference_device,
    sampling_inputs,
    store_init_params,
)
from ._docstrings import fill_docstring
from ._kinks import piecewise_affine_parameters, search_kinks
from ._mixture import MixturePriorMixin
from .nn.flow import IdentifiableFlowModule, load_piecewise_affine_flow

__all__ = ["IdentifiableFlow"]


@fill_docstring
class IdentifiableFlow(MixturePriorMixin, BaseLatentVariableModel):
    """Identifiable normalizing flow (iFlow).

    Nonlinear ICA by exact maximum likelihood (Li, Hooi & Lee, 2020): the data
    are an invertible function of the sources, x = f(z), and the sources
    follow a conditionally factorial exponential-family prior given an
    observed auxiliary variable u:

    - flow: z = f^-1(x) is a stack of masked autoregressive rational-quadratic
      spline transforms (neural spline flow, from ``zuko``), each preceded by a
      learned elementwise affine map and followed by an invertible linear map;
      the flow does not depend on u, so ``transform`` needs X alone;
    - prior: p(z|u) = prod_i N(z_i; m_i(u), v_i(u)), a free table of means and
      log-variances for categorical u, an MLP for continuous u. In natural
      parameters (sufficient statistics z and z^2), eta_1 = m / v is free and
      eta_2 = -1 / (2 v) is negative by construction, so the density is proper
      and the means may take either sign.

    The likelihood is exact, so there is no encoder, no decoder noise and no
    bound: ``transform`` is f^-1, ``inverse_transform`` is f (exact up to
    float64 rounding), and ``score`` is the exact log-likelihood.

    A flow is a bijection, so it has as many latents as features. With
    fewer sources than features (``n_components`` < n_features), the sources
    are the latents that u modulates; the others model what does not change
    with u. ``transform`` then returns the ``n_components`` latents whose
    prior variance varies most across u (``latent_index_``), and
    ``inverse_transform`` sets the others at their mean under the prior,
    averaged over the u seen in fit. X is standardized inside
    the estimator, which puts the data in the interval ``[-bound, bound]``
    where the splines act (they are the identity outside it, so the flow is a
    bijection of the whole space); the learned affine maps move values into
    that interval between layers. ``inverse_transform`` undoes the scaling and
    ``score`` is in the units of X.

    With ``prior='mixture'`` the prior is a learned Gaussian mixture and no u
    is needed: the model of Kivva, Rajendran, Ravikumar & Aragam (2022), here
    fitted by exact likelihood. With a piecewise-affine mixing the latents are
    identifiable up to an affine map; ``flow='piecewise_affine'`` is exactly
    that class of maps (LU-linear layers with invertible leaky ReLUs between
    them). ``predict`` and ``predict_proba`` give the mixture component of
    each sample. The mixture is started from a
    :class:`~sklearn.mixture.GaussianMixture` on the initial latents.

    Parameters
    ----------
    n_components : int, default=None
        Number of latents that ``transform`` returns, at most n_features:
        those the prior modulates most (see above). None means n_features.
    prior : {'conditional', 'mixture'}, default='conditional'
        ``'conditional'``: p(z|u), needs u as ``y`` in ``fit``.
        ``'mixture'``: a learned Gaussian-mixture prior; ``y`` is ignored.
    prior_mean : bool, default=True
        Whether u modulates the prior means as well as the variances. Set it to
        False when only the variances change across u.
    n_mixture_components : int, default=5
        Number of components of the mixture prior (``prior='mixture'`` only).
    mixture_covariance : {'diag', 'full'}, default='diag'
        Covariance of each mixture component (``prior='mixture'`` only).
    flow : {'spline', 'piecewise_affine'}, default='spline'
        ``'spline'``: masked autoregressive rational-quadratic splines (see
        above). ``'piecewise_affine'``: LU-linear maps with, between them, a
        learned elementwise affine map and an invertible leaky ReLU of learned
        slope; ``n_bins``, ``bound``, ``linear``, ``hidden_layer_sizes`` and
        ``activation`` do not apply to it.
    n_transforms : int, default=4
        Number of spline steps, or of leaky-ReLU layers, in the flow.
    init : {'random', 'kink_search'}, default='random'
        How the flow starts. ``'random'``: its layers' own random
        initialization, near the identity. ``'kink_search'`` (``flow='piecewise_affine'``
        with ``prior='mixture'`` only): the kinks of the mixing are looked
        for one at a time before training, each where it most raises the
        likelihood of a Gaussian mixture of ``n_mixture_components`` on the
        data it leaves, and each found kink takes one of the
        ``n_transforms`` layers (the others start as the identity). Use it
        when the data come from a deep or steep piecewise-affine mixing, which
        gradient training from a random start leaves largely undone; set
        ``n_transforms`` to at least the number of kinks of the mixing (its
        hidden layers times units). The search fits thousands of small
        mixtures: minutes on a few thousand rows of 2 features, and with more
        features its random directions cover the possible kinks more sparsely.
    n_bins : int, default=8
        Number of bins of each rational-quadratic spline.
    bound : float, default=5.0
        The splines act on ``[-bound, bound]`` (in units of the standardized
        data) and are the identity outside.
    linear : bool, default=True
        Whether invertible (LU-parametrized) linear maps are interleaved
        between the splines.
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of the autoregressive conditioners and, for continuous
        u, of the prior network.
    activation : {'leaky_relu', 'relu', 'tanh', 'elu', 'gelu'}, default='leaky_relu'
        Hidden activation.
    max_epochs : int or 'auto', default='auto'
        Number of passes over the data. ``'auto'``: 30 on up to 40,000
        training rows, and on small data at least as many as make 2,000
        steps of ``batch_size`` rows (e.g. 128 epochs on 4,000 rows); on
        more than 40,000, as many as visit 30 x 40,000 samples (at least 1),
        so that a default fit's cost stops growing with the data (e.g. 2
        epochs on 1,000,000 rows).
    batch_size : int, default=256
        Mini-batch size.
    lr : float, default=3e-3
        Learning rate of Adam.
    {training_parameters}

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the per-epoch log.
    n_components_ : int
        Number of latents that ``transform`` returns.
    latent_index_ : ndarray of shape (`n_components_`,)
        Which of the flow's n_features latents ``transform`` returns, in
        increasing order.
    {fitted_attributes}
    kinks_ : list of tuple
        The kinks the search placed before training (only with
        ``init='kink_search'``), in the order they apply to the standardized
        X: each ``(w, c, a, mean, scale)`` maps x to
        ``(x + (a - 1) min(w.x - c, 0) w - mean) / scale``.
    mixture_weights_ : ndarray of shape (n_mixture_components,)
        Learned weights of the mixture prior (only with ``prior='mixture'``).
    mixture_means_ : ndarray of shape (n_mixture_components, n_features)
        Learned means of the mixture prior (only with ``prior='mixture'``).
    mixture_covariances_ : ndarray of shape (n_mixture_components, n_features, n_features)
        Learned covariances of the mixture prior (only with ``prior='mixture'``).

    See Also
    --------
    IVAE : The identifiable VAE, trained by a variational bound.
    sklearn.decomposition.FastICA : Linear ICA.

    References
    ----------
    S. Li, B. Hooi and G. H. Lee. "Identifying through flows for recovering
    latent representations". ICLR 2020.

    B. Kivva, G. Rajendran, P. Ravikumar and B. Aragam. "Identifiability of
    deep generative models without auxiliary information". NeurIPS 2022.

    Examples
    --------
    >>> from sklearn_ivae import IdentifiableFlow
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> from sklearn_ivae.metrics import mean_corr_coef
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=10,
    ...                              n_samples_per_segment=200, n_layers=2,
    ...                              modulation='mean_variance',
    ...                              activation='xtanh', random_state=0)
    >>> flow = IdentifiableFlow(n_transforms=2, hidden_layer_sizes=(32,),
    ...                         max_epochs=20, batch_size=64, random_state=0)
    >>> S_hat = flow.fit_transform(X, u)
    >>> S_hat.shape
    (2000, 2)
    >>> mean_corr_coef(S, S_hat) > 0.8
    True
    >>> bool(abs(flow.inverse_transform(S_hat) - X).max() < 1e-8)
    True
    """

    _auto_epochs = 30
    # On small data 30 epochs are too few steps for the flow to find the
    # sources (a flow on 4,000 rows then lost to a random-start IVAE).
    _auto_min_steps = 2000

    _parameter_constraints: dict = {
        **BaseLatentVariableModel._parameter_constraints,
        "prior_mean": ["boolean"],
        "n_transforms": [Interval(Integral, 1, None, closed="left")],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
        "bound": [Interval(Real, 0, None, closed="neither")],
        "linear": ["boolean"],
        "flow": [StrOptions({"spline", "piecewise_affine"})],
        "init": [StrOptions({"random", "kink_search"})],
        "prior": [StrOptions({"conditional", "mixture"})],
        "n_mixture_components": [Interval(Integral, 1, None, closed="left")],
        "mixture_covariance": [StrOptions({"diag", "full"})],
    }

    def __init__(
        self,
        n_components=None,
        *,
        prior="conditional",
        prior_mean=True,
        n_mixture_components=5,
        mixture_covariance="diag",
        flow="spline",
        n_transforms=4,
        init="random",
        n_bins=8,
        bound=5.0,
        linear=True,
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        max_epochs="auto",
        batch_size=256,
        lr=3e-3,
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

    def _check_options(self):
        searchable = self.flow == "piecewise_affine" and self.prior == "mixture"
        if self.init == "kink_search" and not searchable:
            raise ValueError(
                f"init='kink_search' places the kinks of a piecewise-affine flow under a "
                f"mixture prior, not with flow={self.flow!r} and prior={self.prior!r}: set "
                "flow='piecewise_affine' and prior='mixture', or init='random'."
            )

    def _initializer(self, X, y, inputs, train_split, random_state):
        if self.init == "random":
            self.__dict__.pop("kinks_", None)  # of an earlier fit with the search
            return None
        rows = np.arange(len(X)) if train_split is None else train_split.train_indices
        kinks = search_kinks(
            self._scale(X[rows]).astype(np.float64),
            max_kinks=self.n_transforms,
            n_mixture_components=self.n_mixture_components,
            covariance=self.mixture_covariance,
            random_state=random_state.randint(np.iinfo(np.int32).max),
            verbose=self.verbose,
        )
        self.kinks_ = kinks
        params = piecewise_affine_parameters(kinks, self.n_features_in_, self.n_transforms)
        return lambda module: load_piecewise_affine_flow(module.flow, params)

    def _callbacks(self, steps_per_epoch, fresh, incremental):
        if not fresh:
            return []
        return self._mixture_callbacks(start_epoch=0, covariance=self.mixture_covariance)

    def _set_fitted_attributes(self):
        super()._set_fitted_attributes()
        order, means, weights = self._latents_by_modulation()
        self.latent_index_ = np.sort(order[: self.n_components_])
        # Where inverse_transform puts the latents it is not given: their
        # mean under the prior, averaged over the u (or components) of fit.
        self._latent_fill = weights @ means

    def _prior_moments(self):
        """Means and variances of each latent under each value of u seen in fit
        (each mixture component), with the weights of those values."""
        if self.prior == "mixture":
            variances = np.diagonal(self.mixture_covariances_, axis1=1, axis2=2)
            return self.mixture_means_, variances, self.mixture_weights_
        module = self._inference_module()
        support = torch.as_tensor(self.aux_encoder_.support_, dtype=torch.float64)
        with torch.no_grad():
            means, log_var = module.prior.params(support.to(inference_device(self.device)))
        weights = np.exp(self.aux_encoder_.log_weights_)
        return means.cpu().numpy(), np.exp(log_var.cpu().numpy()), weights

    def _latents_by_modulation(self):
        """The flow's latents ordered by how much the prior changes them across u
        (across components of a mixture), most first; and the prior's means
        and the weights they are averaged with.

        How much: the spread of the log-variance over the u seen in fit (the
        papers' sources are modulated in variance; a learned mean also varies
        a little where nothing changes); for a mixture, whose components
        differ mostly in their means, plus the spread of the means in units
        of the latent's standard deviation. With fewer sources than features
        the sources are the latents that u modulates; the others model the
        rest.
        """
        means, variances, weights = self._prior_moments()

        def spread(values):
            return np.sqrt(weights @ (values - weights @ values) ** 2)

        modulation = spread(np.log(variances))
        if self.prior == "mixture":
            modulation = modulation + spread(means / np.sqrt(weights @ variances))
        return np.argsort(-modulation, kind="stable"), means, weights

    def _module_params(self, n_features, n_components):
        return IdentifiableFlowModule, {
            "n_features": n_features,
            **aux_module_params(getattr(self, "aux_encoder_", None)),
            "activation": self.activation,
            "n_transforms": self.n_transforms,
            "n_bins": self.n_bins,
            "bound": float(self.bound),
            "linear": self.linear,
            "prior_mean": self.prior_mean,
            "flow": self.flow,
            "prior": self.prior,
            "n_mixture_components": self.n_mixture_components,
            "mixture_covariance": self.mixture_covariance,
        }

    def _transform_tensor(self, module, x):
        return module.transform(x)[:, self.latent_index_]

    def _inverse_transform_tensor(self, module, z):
        if len(self.latent_index_) < self.n_features_in_:
            fill = torch.as_tensor(self._latent_fill, dtype=z.dtype, device=z.device)
            full = fill.repeat(len(z), 1)
            full[:, self.latent_index_] = z
            z = full
        return module.inverse_transform(z)

    # --------------------------------------------------------------- public
    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw new data from the fitted generative model.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        y : scalar or array-like of shape (n_samples,) or (n_samples, n_aux)
            The auxiliary variable for each sample (a single label is
            repeated). Required with ``prior='conditional'``, ignored with
            ``prior='mixture'``.
        random_state : int, RandomState instance or None, default=None
            Seed of the draw.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Generated observations, x = f(z).
        Z : ndarray of shape (n_samples, n_components)
            The latent sources they were generated from, z ~ p(z|u) (the
            latents in ``latent_index_``).
        """
        check_is_fitted(self)
        U, generator = sampling_inputs(self, n_samples, y, random_state)
        module = self._inference_module().cpu()
        with torch.no_grad():
            z, x = module.sample(U, n_samples, generator=generator)
        return self._unscale(x.numpy()), z.numpy()[:, self.latent_index_]
