"""Identifiability metrics: how well estimated latents match the true sources."""

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import StrOptions, validate_params

from ._docstrings import fill_docstring

__all__ = [
    "mean_corr_coef",
    "linear_mcc",
    "affine_r2_score",
    "ima_contrast",
    "classifier_two_sample_score",
    "consistency_score",
]


def _check_pair(S_true, S_est):
    S_true = check_array(S_true, ensure_2d=False, dtype=np.float64)
    S_est = check_array(S_est, ensure_2d=False, dtype=np.float64)
    if S_true.ndim == 1:
        S_true = S_true[:, None]
    if S_est.ndim == 1:
        S_est = S_est[:, None]
    check_consistent_length(S_true, S_est)
    if S_true.shape[0] < 2:
        raise ValueError("At least 2 samples are needed to compute correlations.")
    return S_true, S_est


def _abs_cross_correlation(A, B):
    """|corr(A[:, i], B[:, j])| for all i, j; constant columns correlate as 0."""
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    norm_a = np.linalg.norm(A, axis=0)
    norm_b = np.linalg.norm(B, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (A.T @ B) / np.outer(norm_a, norm_b)
    return np.nan_to_num(np.abs(corr), nan=0.0)


@validate_params(
    {
        "S_true": ["array-like"],
        "S_est": ["array-like"],
        "method": [StrOptions({"pearson", "spearman"})],
    },
    prefer_skip_nested_validation=True,
)
@fill_docstring
def mean_corr_coef(S_true, S_est, method="pearson"):
    """Mean correlation coefficient (MCC) between true and estimated sources.

    The absolute correlations between every true source and every estimated
    component are matched one to one so that their sum is largest
    (:func:`scipy.optimize.linear_sum_assignment`), and the matched values are
    averaged. This is the papers' measure of *strong* identifiability: recovery
    up to permutation, sign and (for Spearman) any monotone map of each source.

    When the numbers of true and estimated components differ, only
    ``min(n_true, n_est)`` pairs are matched and averaged.

    Parameters
    ----------
    {sources_parameters}
    method : {'pearson', 'spearman'}, default='pearson'
        Linear (Pearson) or rank (Spearman) correlation.

    Returns
    -------
    mcc : float
        Between 0 and 1, higher is better; 1 means every source is recovered
        exactly up to permutation and scaling.

    See Also
    --------
    linear_mcc : MCC after the best linear map (weak identifiability).
    affine_r2_score : R^2 of the true sources from an affine map of the estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.metrics import mean_corr_coef
    >>> rng = np.random.RandomState(0)
    >>> S = rng.normal(size=(500, 3))
    >>> round(mean_corr_coef(S, -2 * S[:, [2, 0, 1]]), 6)
    1.0
    """
    S_true, S_est = _check_pair(S_true, S_est)
    if method == "spearman":
        S_true = np.apply_along_axis(rankdata, 0, S_true)
        S_est = np.apply_along_axis(rankdata, 0, S_est)
    corr = _abs_cross_correlation(S_true, S_est)
    rows, cols = linear_sum_assignment(-corr)
    return float(corr[rows, cols].mean())


@validate_params(
    {"S_true": ["array-like"], "S_est": ["array-like"]},
    prefer_skip_nested_validation=True,
)
@fill_docstring
def linear_mcc(S_true, S_est):
    """MCC after canonical correlation analysis (weak identifiability).

    Models identifiable only up to an invertible linear map (iVAE with more
    than one sufficient statistic per source, the mixture-prior VAE) are scored
    by the mean of the canonical correlations between the true and estimated
    sources: 1 when the estimate is any invertible linear map of the truth.

    Parameters
    ----------
    {sources_parameters}

    Returns
    -------
    mcc : float
        Mean of the ``min(n_true, n_est)`` canonical correlations, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.metrics import linear_mcc
    >>> rng = np.random.RandomState(0)
    >>> S = rng.normal(size=(500, 3))
    >>> round(linear_mcc(S, S @ rng.normal(size=(3, 3))), 6)
    1.0
    """
    S_true, S_est = _check_pair(S_true, S_est)
    n_comp = min(S_true.shape[1], S_est.shape[1])
    cca = CCA(n_components=n_comp, scale=True, max_iter=2000)
    A, B = cca.fit_transform(S_true, S_est)
    corr = _abs_cross_correlation(A, B)
    return float(np.diag(corr).mean())


@validate_params(
    {"S_true": ["array-like"], "S_est": ["array-like"]},
    prefer_skip_nested_validation=True,
)
@fill_docstring
def affine_r2_score(S_true, S_est):
    """R^2 of the true sources predicted by an affine map of the estimate.

    The measure of identifiability up to an affine map (Kivva et al. 2022): fit
    a linear regression from ``S_est`` to ``S_true`` and report its
    coefficient of determination, averaged uniformly over the true sources.

    Parameters
    ----------
    {sources_parameters}

    Returns
    -------
    r2 : float
        At most 1; 1 means the truth is an exact affine function of the estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.metrics import affine_r2_score
    >>> rng = np.random.RandomState(0)
    >>> S = rng.normal(size=(500, 3))
    >>> round(affine_r2_score(S, 1 + S @ rng.normal(size=(3, 3))), 6)
    1.0
    """
    S_true, S_est = _check_pair(S_true, S_est)
    return _regression_r2(S_est, S_true, fit_intercept=True, multioutput="uniform_average")


def _regression_r2(Z_from, Z_to, *, fit_intercept, multioutput):
    """In-sample R^2 of ``Z_to`` predicted by a least-squares linear map of ``Z_from``."""
    Z_pred = LinearRegression(fit_intercept=fit_intercept).fit(Z_from, Z_to).predict(Z_from)
    return float(r2_score(Z_to, Z_pred, multioutput=multioutput))


@validate_params({"jacobians": ["array-like"]}, prefer_skip_nested_validation=True)
def ima_contrast(jacobians):
    """Mean IMA contrast of a mixing's Jacobians (Gresele et al. 2021).

    ``c_IMA(J) = sum_i log ||J[:, i]|| - 1/2 log det(J^T J)``, averaged over
    samples. By Hadamard's inequality it is non-negative, and 0 exactly when
    the columns of J are orthogonal (e.g. a conformal map): the "independent
    mechanisms" that a VAE with a near-deterministic decoder prefers
    (Reizinger et al. 2022).

    Parameters
    ----------
    jacobians : array-like of shape (n_samples, n_features, n_components)
        The Jacobian of the mixing (or of a decoder) at each sample, e.g. from
        :meth:`sklearn_ivae.IVAE.decoder_jacobian`.

    Returns
    -------
    contrast : float
        Mean c_IMA over samples, in nats.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.metrics import ima_contrast
    >>> rotation = np.array([[[0.0, -2.0], [2.0, 0.0]]])
    >>> float(ima_contrast(rotation))
    0.0
    >>> round(float(ima_contrast(np.array([[[1.0, 1.0], [0.0, 1.0]]]))), 4)
    0.3466
    """
    J = np.asarray(jacobians, dtype=np.float64)
    if J.ndim != 3 or J.shape[1] < J.shape[2]:
        raise ValueError(
            "jacobians must have shape (n_samples, n_features, n_components) with "
            f"n_features >= n_components; got shape {J.shape}."
        )
    if not np.isfinite(J).all():
        raise ValueError("jacobians contains NaN or infinity.")
    sign, log_det = np.linalg.slogdet(np.swapaxes(J, 1, 2) @ J)
    if (sign <= 0).any():
        raise ValueError("Some Jacobians are singular (rank-deficient): c_IMA is infinite.")
    column_norms = np.log(np.linalg.norm(J, axis=1)).sum(axis=-1)
    return float(np.mean(column_norms - 0.5 * log_det))


def classifier_two_sample_score(X_real, X_generated, *, classifier=None, cv=5, random_state=None):
    """Score how well a classifier tells generated data from real data (a two-sample test).

    A classifier is cross-validated on real (label 1) against generated
    (label 0) samples; the returned figure is its out-of-fold ROC AUC. 0.5
    means that the classifier cannot tell them apart (the generator is
    perfect for this classifier); 1.0 means that they are trivially separable.

    Parameters
    ----------
    X_real : array-like of shape (n_real, n_features)
        Real data.
    X_generated : array-like of shape (n_generated, n_features)
        Generated data, e.g. from ``sample``.
    classifier : classifier, default=None
        Any scikit-learn classifier with ``predict_proba``; None means a
        standardized MLP with two hidden layers of 64 units.
    cv : int, default=5
        Number of stratified folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the default classifier.

    Returns
    -------
    auc : float
        Out-of-fold ROC AUC of real against generated; lower is better,
        0.5 is the best.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.metrics import classifier_two_sample_score
    >>> rng = np.random.RandomState(0)
    >>> same = classifier_two_sample_score(rng.randn(400, 2), rng.randn(400, 2),
    ...                                    random_state=0)
    >>> shifted = classifier_two_sample_score(rng.randn(400, 2), rng.randn(400, 2) + 2,
    ...                                       random_state=0)
    >>> bool(abs(same - 0.5) < 0.1), bool(shifted > 0.9)
    (True, True)
    """
    X_real = check_array(X_real, dtype=np.float64, input_name="X_real")
    X_generated = check_array(X_generated, dtype=np.float64, input_name="X_generated")
    if X_real.ndim != 2 or X_generated.ndim != 2 or X_real.shape[1] != X_generated.shape[1]:
        raise ValueError(
            "X_real and X_generated must be 2-D with the same number of columns; got "
            f"shapes {X_real.shape} and {X_generated.shape}."
        )
    if classifier is None:
        classifier = make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=300, random_state=random_state),
        )
    X = np.vstack([X_real, X_generated])
    labels = np.r_[np.ones(len(X_real)), np.zeros(len(X_generated))]
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    proba = cross_val_predict(classifier, X, labels, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, proba))


_INDETERMINACIES = ("permutation", "linear", "affine")


@validate_params(
    {
        "Z_a": ["array-like"],
        "Z_b": ["array-like"],
        "indeterminacy": [StrOptions(set(_INDETERMINACIES))],
    },
    prefer_skip_nested_validation=True,
)
def consistency_score(Z_a, Z_b, indeterminacy="permutation"):
    """Agreement of two latent representations of the same rows, up to an indeterminacy.

    On real data the true sources are unknown, so :func:`mean_corr_coef` cannot
    be computed; what can be checked is whether two fits (different seeds,
    different subsamples) find the *same* latents, up to the transformations
    that the model cannot resolve. An identifiable model that fits well should
    give a score near 1; fits that land in different solutions give low scores.
    :func:`sklearn_ivae.model_selection.fit_consistency` runs the fits and
    reports the score against a chance level.

    The score is symmetric in ``Z_a`` and ``Z_b``.

    Parameters
    ----------
    Z_a : array-like of shape (n_samples, n_components_a)
        Latents of the rows from one fit (e.g. ``transform(X)``).
    Z_b : array-like of shape (n_samples, n_components_b)
        Latents of the same rows, in the same order, from another fit.
    indeterminacy : {'permutation', 'linear', 'affine'}, default='permutation'
        What the two representations may differ by:

        - ``'permutation'``: a permutation of the components, with a sign, a
          scale and an offset on each (strong identifiability, e.g. IVAE
          followed by FastICA, IdentifiableFlow). The score is the mean
          absolute Pearson correlation of the components matched one to one by
          the Hungarian algorithm, as :func:`mean_corr_coef`; with different
          numbers of components, ``min(n_components_a, n_components_b)`` pairs
          are matched.
        - ``'linear'``: any linear map without offset, ``Z_b ~ Z_a @ A``. The
          score is the in-sample R^2 of the least-squares linear map (no
          intercept, on the arrays as given) from ``Z_a`` to ``Z_b``, averaged
          with that from ``Z_b`` to ``Z_a``.
        - ``'affine'``: any affine map, ``Z_b ~ Z_a @ A + c`` (weak
          identifiability, e.g. IVAE without FastICA, the mixture-prior VAE).
          As ``'linear'``, with an intercept.

        For ``'linear'`` and ``'affine'`` each direction's R^2 is
        variance-weighted over the target's components
        (``r2_score(..., multioutput='variance_weighted')``, so it does not
        change if the target is rotated or rescaled as a whole, and components
        of negligible variance count little) and clipped to [0, 1]; the
        numbers of components may differ.

    Returns
    -------
    score : float
        In [0, 1]; 1 means that each representation is an exact transformation
        of the other of the given kind. Components that are constant (e.g. a
        collapsed latent) carry no information and score 0.

    See Also
    --------
    mean_corr_coef : The same measure of agreement against known sources.
    sklearn_ivae.model_selection.fit_consistency : Consistency across refits,
        with a chance level.

    Notes
    -----
    The maps are fitted and scored on the same rows, so when the number of
    components is not small compared with ``n_samples`` the ``'linear'`` and
    ``'affine'`` scores of unrelated latents are inflated (about
    ``n_components / n_samples`` each way). And two invertible, nearly linear
    functions of the same data always agree up to a linear map, whatever they
    are: with as many components as features, ``'linear'`` and ``'affine'``
    scores of fits are near 1 even on noise. Compare with the chance level
    that :func:`~sklearn_ivae.model_selection.fit_consistency` computes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.metrics import consistency_score
    >>> rng = np.random.RandomState(0)
    >>> Z = rng.laplace(size=(1000, 3))
    >>> Z_relabelled = 1 - 3 * Z[:, [2, 0, 1]]
    >>> round(consistency_score(Z, Z_relabelled), 6)
    1.0
    >>> Z_mixed = Z @ rng.normal(size=(3, 3))
    >>> round(consistency_score(Z, Z_mixed, indeterminacy="linear"), 6)
    1.0
    >>> bool(consistency_score(Z, Z_mixed) < 0.9)
    True
    >>> bool(consistency_score(Z, rng.normal(size=(1000, 3))) < 0.1)
    True
    """
    Z_a = check_array(Z_a, dtype=np.float64, ensure_min_samples=2, input_name="Z_a")
    Z_b = check_array(Z_b, dtype=np.float64, ensure_min_samples=2, input_name="Z_b")
    if Z_a.shape[0] != Z_b.shape[0]:
        raise ValueError(
            "Z_a and Z_b must hold the same rows (the latents of the same samples); got "
            f"{Z_a.shape[0]} and {Z_b.shape[0]} rows."
        )
    if indeterminacy == "permutation":
        return mean_corr_coef(Z_a, Z_b)
    fit_intercept = indeterminacy == "affine"
    return 0.5 * (
        _directed_r2(Z_a, Z_b, fit_intercept=fit_intercept)
        + _directed_r2(Z_b, Z_a, fit_intercept=fit_intercept)
    )


def _directed_r2(Z_from, Z_to, *, fit_intercept):
    """Variance-weighted R^2 of ``Z_to`` from ``Z_from``, clipped to [0, 1]; 0 if constant."""
    if not np.any(np.ptp(Z_to, axis=0) > 0):
        return 0.0
    r2 = _regression_r2(Z_from, Z_to, fit_intercept=fit_intercept, multioutput="variance_weighted")
    return float(np.clip(r2, 0.0, 1.0))
