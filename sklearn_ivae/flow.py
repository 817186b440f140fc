"""IdentifiableFlow: the identifiable normalizing flow (iFlow)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import BaseLatentVariableModel
from .nn.flow import IdentifiableFlowModule

__all__ = ["IdentifiableFlow"]


class IdentifiableFlow(BaseLatentVariableModel):
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

    A flow is a bijection, so there are as many latents as features
    (there is no ``n_components`` parameter; ``n_components_`` is
    n_features; reduce X first, e.g. with PCA, for fewer sources). X is standardized inside
    the estimator, which puts the data in the interval ``[-bound, bound]``
    where the splines act (they are the identity outside it, so the flow is a
    bijection of the whole space); the learned affine maps move values into
    that interval between layers. ``inverse_transform`` undoes the scaling and
    ``score`` is in the units of X.

    Parameters
    ----------
    prior_mean : bool, default=True
        Whether u modulates the prior means as well as the variances. Set it to
        False when only the variances change across u.
    n_transforms : int, default=4
        Number of spline steps in the flow.
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
    max_epochs : int, default=30
        Number of passes over the data.
    batch_size : int, default=256
        Mini-batch size.
    lr : float, default=3e-3
        Learning rate of Adam.
    device : str or torch.device, default='cpu'
        Where to train, e.g. ``'cuda'``. A fitted model pickles and loads on a
        machine without CUDA.
    random_state : int, RandomState instance or None, default=None
        Seeds initialization, shuffling and sampling: two fits with the same
        integer give the same numbers on CPU.
    n_init : int, default=1
        Number of trainings from different random initializations; the one
        whose final training objective, evaluated once on all rows after
        training, is best is kept, as in
        :class:`~sklearn.mixture.GaussianMixture`.
        Restarts escape local optima that the objective tells apart, at
        ``n_init`` times the cost.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified by segment
        when u is categorical) and stop when the validation loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs; the parameters of
        the best epoch are kept.
    validation_fraction : float, default=0.1
        Fraction of the rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping ends the fit.
    tol : float, default=1e-4
        Smallest decrease of the validation loss (nats per sample) that counts
        as an improvement.
    verbose : int, default=0
        0: silent; 1 (or more): a progress bar over each epoch's batches and
        one line per epoch (training and validation loss, seconds).
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (early stopping, LR schedules, checkpoints), as
        ``(name, callback)`` pairs or callback instances.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the per-epoch log.
    n_components_ : int
        Number of latent sources (``n_features_in_``).
    n_iter_ : int
        Number of epochs run.
    classes_ : ndarray of shape (n_classes,)
        Labels of a categorical u (only when u is categorical).
    aux_kind_ : {'categorical', 'continuous'}
        How u was read.
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        Standardization of X.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    IVAE : The identifiable VAE, trained by a variational bound.
    sklearn.decomposition.FastICA : Linear ICA.

    References
    ----------
    S. Li, B. Hooi and G. H. Lee. "Identifying through flows for recovering
    latent representations". ICLR 2020.

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

    # A flow is a bijection: no n_components to choose.
    _parameter_constraints: dict = {
        **{
            key: value
            for key, value in BaseLatentVariableModel._parameter_constraints.items()
            if key != "n_components"
        },
        "prior_mean": ["boolean"],
        "n_transforms": [Interval(Integral, 1, None, closed="left")],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
        "bound": [Interval(Real, 0, None, closed="neither")],
        "linear": ["boolean"],
    }

    def __init__(
        self,
        *,
        prior_mean=True,
        n_transforms=4,
        n_bins=8,
        bound=5.0,
        linear=True,
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        max_epochs=30,
        batch_size=256,
        lr=3e-3,
        device="cpu",
        random_state=None,
        n_init=1,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        verbose=0,
        callbacks=None,
    ):
        self.prior_mean = prior_mean
        self.n_transforms = n_transforms
        self.n_bins = n_bins
        self.bound = bound
        self.linear = linear
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.n_init = n_init
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------ base hooks
    def _n_components(self, n_features):
        return n_features

    def _module_params(self, n_features, n_components):
        return IdentifiableFlowModule, {
            "n_features": n_features,
            **self._aux_module_params(),
            "activation": self.activation,
            "n_transforms": self.n_transforms,
            "n_bins": self.n_bins,
            "bound": float(self.bound),
            "linear": self.linear,
            "prior_mean": self.prior_mean,
        }

    def _transform_tensor(self, module, x):
        return module.transform(x)

    def _inverse_transform_tensor(self, module, z):
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
            repeated). Required.
        random_state : int, RandomState instance or None, default=None
            Seed of the draw.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Generated observations, x = f(z).
        Z : ndarray of shape (n_samples, n_components)
            The latent sources they were generated from, z ~ p(z|u).
        """
        check_is_fitted(self)
        U, generator = self._sampling_inputs(n_samples, y, random_state)
        module = self._inference_module().cpu()
        with torch.no_grad():
            z, x = module.sample(U, generator=generator)
        return self._unscale(x.numpy()), z.numpy()
