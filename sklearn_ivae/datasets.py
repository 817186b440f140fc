"""Synthetic nonlinear ICA data with known sources, as in the papers."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "make_nonlinear_ica",
    "make_mobius_ica",
    "make_mixture_latents",
    "make_segment_labels",
]


def _leaky_relu(x, slope):
    return np.where(x > 0, x, slope * x)


def _xtanh(x, slope):
    return np.tanh(x) + slope * x


_ACTIVATIONS = {"leaky_relu": _leaky_relu, "xtanh": _xtanh}


def _condition_threshold(n_rows, n_cols, rng, n_draws=2000):
    """25th percentile of the condition number of random uniform matrices.

    The papers screen each mixing matrix against this threshold so that no layer
    is close to singular (a near-singular layer makes the sources unrecoverable
    whatever the model).
    """
    conds = [np.linalg.cond(rng.uniform(-1, 1, size=(n_rows, n_cols))) for _ in range(n_draws)]
    return np.percentile(conds, 25)


def _well_conditioned_matrix(n_rows, n_cols, threshold, rng):
    while True:
        A = rng.uniform(-1, 1, size=(n_rows, n_cols))
        if np.linalg.cond(A) < threshold:
            # Unit-norm columns keep the scale of activations comparable across
            # layers, so deep mixings neither explode nor vanish.
            return A / np.linalg.norm(A, axis=0, keepdims=True)


def _random_rotation(n, rng):
    """A random orthogonal n x n matrix (the Q of a Gaussian matrix's QR)."""
    rotation, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return rotation


def _random_mlp_mixing(S, n_features, n_layers, nonlinearity, rng, return_matrices=False):
    """Mix S by ``n_layers`` fresh well-conditioned random layers.

    ``nonlinearity`` is applied after every layer but the last, which is linear.
    With ``return_matrices``, the layers' matrices are returned too.
    """
    n_sources = S.shape[1]
    threshold = _condition_threshold(n_features, n_sources, rng)
    square_threshold = _condition_threshold(n_features, n_features, rng)
    H = S
    matrices = []
    for layer in range(n_layers):
        n_in = n_sources if layer == 0 else n_features
        A = _well_conditioned_matrix(
            n_features, n_in, threshold if layer == 0 else square_threshold, rng
        )
        matrices.append(A)
        H = H @ A.T
        if layer < n_layers - 1:
            H = nonlinearity(H)
    return (H, matrices) if return_matrices else H


def _gaussian_mixture_log_pdf(Z, weights, means, covariances):
    """log of sum_k weights[k] N(Z; means[k], covariances[k]), per row."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    return logsumexp(
        [
            np.log(weight) + multivariate_normal(mean, cov).logpdf(Z)
            for weight, mean, cov in zip(weights, means, covariances, strict=True)
        ],
        axis=0,
    )


@validate_params(
    {
        "n_sources": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_segments": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_samples_per_segment": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "source_distribution": [StrOptions({"gaussian", "laplace"})],
        "modulation": [StrOptions({"variance", "mean_variance"})],
        "activation": [StrOptions({"leaky_relu", "xtanh"})],
        "slope": [Interval(numbers.Real, 0, 1, closed="both")],
        "scale_range": [tuple],
        "mean_range": [tuple],
        "mean_modulated_sources": ["array-like", None],
        "noise_std": [Interval(numbers.Real, 0, None, closed="left")],
        "observation": [StrOptions({"continuous", "bernoulli"})],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_nonlinear_ica(
    n_sources=5,
    n_features=None,
    n_segments=40,
    n_samples_per_segment=1000,
    n_layers=3,
    *,
    source_distribution="gaussian",
    modulation="variance",
    activation="leaky_relu",
    slope=0.1,
    scale_range=(0.5, 3.0),
    mean_range=(-5.0, 5.0),
    mean_modulated_sources=None,
    noise_std=0.0,
    observation="continuous",
    random_state=None,
):
    """Generate segment-wise nonstationary sources mixed by a random MLP.

    This is the synthetic data of the iVAE, TCL and iFlow papers. The samples
    come in ``n_segments`` segments (the auxiliary variable ``u`` is the segment
    index). Within a segment each source is independent with its own scale
    (and, with ``modulation='mean_variance'``, its own mean) drawn at random.
    The sources are then mixed by an MLP of ``n_layers`` layers: each layer is a
    fresh random matrix screened for its condition number, followed by the
    nonlinearity, except the last layer which is linear.

    Parameters
    ----------
    n_sources : int, default=5
        Number of independent sources (latent dimension).
    n_features : int, default=None
        Observed dimension, at least ``n_sources``. None means ``n_sources``.
    n_segments : int, default=40
        Number of segments, that is distinct values of the auxiliary variable.
    n_samples_per_segment : int, default=1000
        Number of samples in each segment.
    n_layers : int, default=3
        Number of mixing layers. ``1`` is a linear mixing.
    source_distribution : {'gaussian', 'laplace'}, default='gaussian'
        Base distribution of the sources within a segment.
    modulation : {'variance', 'mean_variance'}, default='variance'
        What the segment changes: the scale only (centred sources, the iVAE and
        TCL setting) or both the mean and the scale (the iFlow setting).
    activation : {'leaky_relu', 'xtanh'}, default='leaky_relu'
        Nonlinearity between mixing layers: ``max(x, slope * x)`` or
        ``tanh(x) + slope * x``.
    slope : float, default=0.1
        Slope of the activation, which keeps the mixing invertible.
    scale_range : tuple of float, default=(0.5, 3.0)
        Range of the per-segment standard deviations.
    mean_range : tuple of float, default=(-5.0, 5.0)
        Range of the per-segment means when ``modulation='mean_variance'``.
    mean_modulated_sources : array-like of int, default=None
        With ``modulation='mean_variance'``, the indices of the sources whose
        means change; the others stay centred. None means all. One strongly
        mean-modulated source makes the segments easy to classify from it
        alone: the case where the iVAE paper shows TCL failing.
    noise_std : float, default=0.0
        Standard deviation of Gaussian noise added to the observations.
    observation : {'continuous', 'bernoulli'}, default='continuous'
        ``'bernoulli'`` returns binary observations drawn with probability
        ``sigmoid(mixed sources)``: the discrete-data setting of iVAE.
    random_state : int, RandomState instance or None, default=None
        Seeds the sources and the mixing.

    Returns
    -------
    X : ndarray of shape (n_segments * n_samples_per_segment, n_features)
        The observations.
    S : ndarray of shape (n_segments * n_samples_per_segment, n_sources)
        The true sources.
    u : ndarray of shape (n_segments * n_samples_per_segment,)
        Segment index of each sample, the auxiliary variable to pass as ``y``.

    Examples
    --------
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> X, S, u = make_nonlinear_ica(n_sources=3, n_segments=10,
    ...                              n_samples_per_segment=100, random_state=0)
    >>> X.shape, S.shape, u.shape
    ((1000, 3), (1000, 3), (1000,))
    """
    n_features = n_sources if n_features is None else n_features
    if n_features < n_sources:
        raise ValueError(
            f"n_features={n_features} must be at least n_sources={n_sources}: "
            "the mixing must be injective for the sources to be recoverable."
        )
    if len(scale_range) != 2 or not 0 < scale_range[0] <= scale_range[1]:
        raise ValueError(
            f"scale_range must be (low, high) with 0 < low <= high, got {scale_range}."
        )
    if len(mean_range) != 2 or mean_range[0] > mean_range[1]:
        raise ValueError(f"mean_range must be (low, high) with low <= high, got {mean_range}.")
    rng = check_random_state(random_state)

    n_samples = n_segments * n_samples_per_segment
    u = np.repeat(np.arange(n_segments), n_samples_per_segment)
    scales = rng.uniform(*scale_range, size=(n_segments, n_sources))
    if modulation == "mean_variance":
        means = rng.uniform(*mean_range, size=(n_segments, n_sources))
        if mean_modulated_sources is not None:
            centred = np.ones(n_sources, dtype=bool)
            centred[np.asarray(mean_modulated_sources, dtype=int)] = False
            means[:, centred] = 0.0
    else:
        means = np.zeros((n_segments, n_sources))
    if source_distribution == "gaussian":
        base = rng.standard_normal(size=(n_samples, n_sources))
    else:
        # Laplace with unit variance, so `scales` are standard deviations.
        base = rng.laplace(scale=1 / np.sqrt(2), size=(n_samples, n_sources))
    S = means[u] + scales[u] * base

    act = _ACTIVATIONS[activation]
    H = _random_mlp_mixing(S, n_features, n_layers, lambda H: act(H, slope), rng)

    if noise_std > 0:
        H = H + noise_std * rng.standard_normal(size=H.shape)
    if observation == "bernoulli":
        X = (rng.uniform(size=H.shape) < 1 / (1 + np.exp(-H))).astype(np.float64)
    else:
        X = H
    return X, S, u


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "segment_length": [Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_segment_labels(n_samples, segment_length):
    """Label consecutive samples of a time series by segment.

    Nonstationary time series are the classic use of the auxiliary variable:
    cut the series into windows of ``segment_length`` consecutive samples and
    use the window index as ``u``.

    Parameters
    ----------
    n_samples : int
        Length of the time series.
    segment_length : int
        Number of consecutive samples per segment (the last one may be shorter).

    Returns
    -------
    u : ndarray of shape (n_samples,)
        Integer segment label of each time point.

    Examples
    --------
    >>> from sklearn_ivae.datasets import make_segment_labels
    >>> make_segment_labels(7, 3)
    array([0, 0, 0, 1, 1, 1, 2])
    """
    return np.arange(n_samples) // segment_length


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_sources": [Interval(numbers.Integral, 2, None, closed="left")],
        "non_orthogonality": [Interval(numbers.Real, 0, 1, closed="left")],
        "return_jacobians": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_mobius_ica(
    n_samples=10000,
    n_sources=3,
    *,
    non_orthogonality=0.0,
    return_jacobians=False,
    random_state=None,
):
    """Generate uniform sources mixed by a random Möbius transformation (IMA setting).

    A Möbius transformation ``f(s) = alpha * A (s - a) / ||s - a||^2`` (A
    orthogonal, ``a`` a pole outside the sources' support) is conformal: its
    Jacobian is a multiple of an orthogonal matrix at every point, so its
    columns are orthogonal and its IMA contrast is 0. This is the mixing under
    which a plain VAE with a near-deterministic decoder recovers the sources
    (Reizinger et al. 2022). ``non_orthogonality`` > 0 follows it with the
    linear map ``(1 - t) I + t B`` (B random with unit columns), which breaks
    the column-orthogonality on purpose.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of samples.
    n_sources : int, default=3
        Number of independent sources, uniform on [0, 1], and of observed
        dimensions.
    non_orthogonality : float in [0, 1), default=0.0
        Weight t of the non-orthogonal linear map after the Möbius
        transformation; 0 keeps the mixing conformal.
    return_jacobians : bool, default=False
        Also return the Jacobian of the mixing at each sample (to compute the
        true mixing's :func:`~sklearn_ivae.metrics.ima_contrast`).
    random_state : int, RandomState instance or None, default=None
        Seeds the sources and the mixing.

    Returns
    -------
    X : ndarray of shape (n_samples, n_sources)
        The observations.
    S : ndarray of shape (n_samples, n_sources)
        The true sources.
    jacobians : ndarray of shape (n_samples, n_sources, n_sources)
        The Jacobian dX/dS at each sample; only when ``return_jacobians=True``.

    Examples
    --------
    >>> from sklearn_ivae.datasets import make_mobius_ica
    >>> from sklearn_ivae.metrics import ima_contrast
    >>> X, S, J = make_mobius_ica(n_samples=500, return_jacobians=True, random_state=0)
    >>> X.shape, S.shape, J.shape
    ((500, 3), (500, 3), (500, 3, 3))
    >>> abs(ima_contrast(J)) < 1e-10
    True
    """
    rng = check_random_state(random_state)
    S = rng.uniform(0.0, 1.0, size=(n_samples, n_sources))
    # The pole sits at a random direction, one cube-diagonal away from the
    # centre of the support: far enough to keep the map smooth on it, close
    # enough to make it clearly nonlinear.
    direction = rng.standard_normal(n_sources)
    pole = 0.5 + np.sqrt(n_sources) * direction / np.linalg.norm(direction)
    rotation = _random_rotation(n_sources, rng)
    D = S - pole
    squared_norm = (D**2).sum(axis=1, keepdims=True)
    # Scaled so that X has about the sources' spread.
    alpha = np.median(squared_norm)
    X = alpha * (D / squared_norm) @ rotation.T
    B = rng.uniform(-1, 1, size=(n_sources, n_sources))
    B /= np.linalg.norm(B, axis=0, keepdims=True)
    linear = (1 - non_orthogonality) * np.eye(n_sources) + non_orthogonality * B
    X = X @ linear.T
    if not return_jacobians:
        return X, S
    # d/ds [D / |D|^2] = (I - 2 D D^T / |D|^2) / |D|^2
    outer = D[:, :, None] * D[:, None, :] / squared_norm[:, :, None]
    inversion = (np.eye(n_sources) - 2 * outer) / squared_norm[:, :, None]
    jacobians = alpha * linear @ rotation @ inversion
    return X, S, jacobians


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_sources": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "separation": [Interval(numbers.Real, 0, None, closed="left")],
        "slope": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
        "return_log_density": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_mixture_latents(
    n_samples=5000,
    n_sources=2,
    n_features=None,
    n_clusters=3,
    n_layers=3,
    *,
    separation=3.0,
    slope=0.2,
    random_state=None,
    return_log_density=False,
):
    """Generate latents from a Gaussian mixture mixed by a random leaky-ReLU MLP.

    The setting of Kivva et al. (2022): the latents are *not* independent
    (each cluster has its own mean and a random full covariance, with
    principal standard deviations in [0.5, 1.5]), there is no
    auxiliary variable, and the mixing is piecewise affine: ``n_layers``
    random well-conditioned matrices with a leaky ReLU between them (the last
    layer is linear; each kink passes through a random sample, so that it cuts
    through the data). A VAE with a Gaussian-mixture prior recovers the latents
    up to an affine map (see :func:`~sklearn_ivae.metrics.affine_r2_score`).

    Parameters
    ----------
    n_samples : int, default=5000
        Number of samples.
    n_sources : int, default=2
        Latent dimension.
    n_features : int, default=None
        Observed dimension, at least ``n_sources``. None means ``n_sources``.
    n_clusters : int, default=3
        Number of mixture components.
    n_layers : int, default=3
        Number of mixing layers; 1 is a linear mixing.
    separation : float, default=3.0
        Standard deviation of the cluster means, in units of the clusters'
        typical standard deviation (about 1).
    slope : float, default=0.2
        Negative slope of the leaky ReLU, which keeps the mixing invertible.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixture, the draw and the mixing.
    return_log_density : bool, default=False
        Also return the true log-density of each observation: the mixture's
        log-density at its latent minus the log-determinant of the mixing's
        Jacobian there (change of variables), in the units of X. The
        yardstick for a density model's ``score_samples``: no model of these
        data can have a higher expected log-likelihood on fresh samples.
        Needs a square mixing (``n_features == n_sources``) and ``slope > 0``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The observations.
    Z : ndarray of shape (n_samples, n_sources)
        The true latents.
    labels : ndarray of shape (n_samples,)
        The mixture component each sample was drawn from.
    log_density : ndarray of shape (n_samples,)
        The log-density log p(x) of each observation under the true model;
        only with ``return_log_density=True``.

    Examples
    --------
    >>> from sklearn_ivae.datasets import make_mixture_latents
    >>> X, Z, labels = make_mixture_latents(n_samples=100, random_state=0)
    >>> X.shape, Z.shape, labels.shape
    ((100, 2), (100, 2), (100,))

    A deeper mixing with steeper kinks is far from affine: the raw X no
    longer predicts the latents well by a linear map (how far varies from
    draw to draw), so that what a model recovers beyond an affine map of X
    shows:

    >>> from sklearn_ivae.metrics import affine_r2_score
    >>> X, Z, labels = make_mixture_latents(n_samples=1000, n_layers=4, slope=0.1,
    ...                                     random_state=0)
    >>> bool(affine_r2_score(Z, X) < 0.8)
    True

    The true log-density of each row, a yardstick for a density model:

    >>> X, Z, labels, log_density = make_mixture_latents(
    ...     n_samples=100, random_state=0, return_log_density=True)
    >>> log_density.shape
    (100,)
    """
    n_features = n_sources if n_features is None else n_features
    if n_features < n_sources:
        raise ValueError(
            f"n_features={n_features} must be at least n_sources={n_sources}: "
            "the mixing must be injective for the latents to be recoverable."
        )
    if return_log_density and (n_features != n_sources or slope == 0):
        raise ValueError(
            "return_log_density=True needs an invertible mixing: n_features equal to "
            f"n_sources and slope > 0 (got n_features={n_features}, n_sources={n_sources}, "
            f"slope={slope}); otherwise X has no density in R^n_features."
        )
    X, Z, labels, log_density, _ = _draw_mixture_latents(
        n_samples,
        n_sources,
        n_features,
        n_clusters,
        n_layers,
        separation,
        slope,
        random_state,
        with_log_density=return_log_density,
    )
    if not return_log_density:
        return X, Z, labels
    return X, Z, labels, log_density


def _draw_mixture_latents(
    n_samples,
    n_sources,
    n_features,
    n_clusters,
    n_layers,
    separation,
    slope,
    random_state,
    with_log_density=False,
):
    """The draw of :func:`make_mixture_latents`, with the true model's parameters.

    Returns X, Z, labels, the true log-density (None unless
    ``with_log_density``, which needs a square mixing and ``slope > 0``) and
    a dict of the generating model: the mixture's ``weights``, ``means`` and
    ``covariances``, and the mixing's ``matrices`` and ``kinks`` (each hidden
    layer computes ``leaky_relu(H @ A.T - kinks)``) and ``slope``. The
    diagnostics start models at this truth.
    """
    rng = check_random_state(random_state)
    weights = rng.dirichlet(np.full(n_clusters, 5.0))
    means = separation * rng.standard_normal((n_clusters, n_sources))
    # Random full covariances: a random rotation of standard deviations in
    # [0.5, 1.5] along the principal axes. Bounding the principal standard
    # deviations keeps every component non-degenerate (a condition of Kivva et
    # al.'s theorem); factors with random, possibly near-parallel columns gave
    # clusters that were almost flat lines.
    rotations = np.stack([_random_rotation(n_sources, rng) for _ in range(n_clusters)])
    factors = rotations * rng.uniform(0.5, 1.5, size=(n_clusters, 1, n_sources))
    labels = rng.choice(n_clusters, size=n_samples, p=weights)
    noise = rng.standard_normal((n_samples, n_sources))
    Z = means[labels] + np.einsum("nij,nj->ni", factors[labels], noise)

    # log |det| of the leaky ReLUs' Jacobians, per row, for the density.
    log_det = np.zeros(n_samples)
    all_kinks = []

    def kinked_leaky_relu(H):
        nonlocal log_det
        # Each unit's kink passes through a random data point, so that every
        # layer bends the data (a bias-free kink through the origin can miss
        # clusters that lie far from it).
        kinks = H[rng.randint(n_samples, size=n_features), range(n_features)]
        all_kinks.append(kinks)
        if with_log_density:
            log_det = log_det + np.log(slope) * (H - kinks <= 0).sum(axis=1)
        return _leaky_relu(H - kinks, slope)

    H, matrices = _random_mlp_mixing(
        Z, n_features, n_layers, kinked_leaky_relu, rng, return_matrices=True
    )
    covariances = factors @ factors.transpose(0, 2, 1)
    model = {
        "weights": weights,
        "means": means,
        "covariances": covariances,
        "matrices": matrices,
        "kinks": all_kinks,
        "slope": slope,
    }
    log_density = None
    if with_log_density:
        log_det = log_det + sum(np.linalg.slogdet(A)[1] for A in matrices)
        log_density = _gaussian_mixture_log_pdf(Z, weights, means, covariances) - log_det
    return H, Z, labels, log_density, model
