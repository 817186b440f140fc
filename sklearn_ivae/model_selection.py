"""Judging fits without ground truth: agreement of refits against a chance level,
and the number of components by held-out score."""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import check_cv, cross_val_score, train_test_split
from sklearn.utils import check_array, check_consistent_length, check_random_state, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.multiclass import type_of_target

from .metrics import _INDETERMINACIES, consistency_score

__all__ = [
    "ComponentSelectionResult",
    "ConsistencyResult",
    "ShuffledAuxResult",
    "fit_consistency",
    "select_n_components",
    "shuffled_aux_control",
]

_MAX_SEED = np.iinfo(np.int32).max


@dataclass(frozen=True, repr=False)
class ConsistencyResult:
    """What :func:`fit_consistency` found.

    Made by :func:`fit_consistency`; its fields are read as attributes.

    Parameters
    ----------
    scores : ndarray of shape (n_fits, n_fits)
        ``scores[i, j]`` is :func:`~sklearn_ivae.metrics.consistency_score` of
        the latents of fits ``i`` and ``j`` (all rows of ``X``). Symmetric,
        with ones on the diagonal.
    mean : float
        Mean of the off-diagonal entries of ``scores``: the consistency of the
        estimator on this data.
    chance_scores : ndarray of shape (n_fits, n_fits) or None
        The same matrix for the same procedure on structureless data of the
        same shape; None if ``chance=False``.
    chance_mean : float or None
        Mean of the off-diagonal entries of ``chance_scores``: the chance level
        of ``mean``. None if ``chance=False``.
    indeterminacy : str
        The indeterminacy the latents were compared up to.
    random_states : ndarray of shape (n_fits,)
        The seed of each fit (each ``random_state`` parameter of fit ``i`` was
        drawn from ``random_states[i]``); the chance fits used the same seeds.
    estimators : list of estimator or None
        The ``n_fits`` fitted clones (on the real data) if
        ``return_estimator=True``, else None.

    See Also
    --------
    fit_consistency : Makes it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import FastICA
    >>> from sklearn_ivae.model_selection import fit_consistency
    >>> rng = np.random.RandomState(0)
    >>> X = rng.laplace(size=(1000, 3)) @ rng.normal(size=(3, 3))
    >>> result = fit_consistency(FastICA(max_iter=1000), X, subsample=0.5, random_state=0)
    >>> round(result.mean, 2), result.scores.shape
    (1.0, (3, 3))
    >>> bool(result.chance_mean < 0.95 and result.adjusted_mean > 0.9)
    True
    """

    scores: np.ndarray
    mean: float
    chance_scores: np.ndarray | None
    chance_mean: float | None
    indeterminacy: str
    random_states: np.ndarray
    estimators: list | None = None

    @property
    def adjusted_mean(self):
        """``(mean - chance_mean) / (1 - chance_mean)``: 0 at chance, 1 for identical fits.

        None if no chance level was computed. Negative when the fits agree
        less than fits on structureless data.
        """
        if self.chance_mean is None:
            return None
        if self.chance_mean >= 1.0:
            return 0.0
        return (self.mean - self.chance_mean) / (1.0 - self.chance_mean)

    def __repr__(self):
        chance = "None" if self.chance_mean is None else f"{self.chance_mean:.3f}"
        return (
            f"ConsistencyResult(mean={self.mean:.3f}, chance_mean={chance}, "
            f"n_fits={self.scores.shape[0]}, indeterminacy={self.indeterminacy!r})"
        )


@validate_params(
    {
        "estimator": [HasMethods(["fit", "transform"])],
        "X": ["array-like"],
        "y": ["array-like", None],
        "n_fits": [Interval(Integral, 2, None, closed="left")],
        "indeterminacy": [StrOptions(set(_INDETERMINACIES))],
        "subsample": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(Integral, 2, None, closed="left"),
            None,
        ],
        "random_state": ["random_state"],
        "chance": ["boolean"],
        "return_estimator": ["boolean"],
    },
    prefer_skip_nested_validation=False,
)
def fit_consistency(
    estimator,
    X,
    y=None,
    *,
    n_fits=3,
    indeterminacy="permutation",
    subsample=None,
    random_state=None,
    chance=True,
    return_estimator=False,
):
    """Do refits of an estimator find the same latents? With a chance level.

    On real data the true sources are unknown, so the mean correlation
    coefficient with them cannot be computed. What can be measured is whether
    the fit is *reproducible*: an identifiable model that is well estimated
    should find the same latents, up to its indeterminacy, from every
    initialization and from every large enough sample of the data. This
    function clones ``estimator`` ``n_fits`` times, gives each clone different
    random seeds (every parameter of ``estimator.get_params(deep=True)`` whose
    name ends in ``random_state``, so a whole :class:`~sklearn.pipeline.Pipeline`
    is reseeded), fits each one (optionally on a random subsample of the
    rows), transforms **all** rows of ``X`` with each, and compares every pair
    of fits with :func:`~sklearn_ivae.metrics.consistency_score`.

    A consistency score alone is hard to read: latents of models that learned
    nothing can still agree by accident, the more so with few samples or with
    a lax ``indeterminacy``. So by default the same procedure (same
    estimator, seeds and subsampling) is also run on structureless data of the
    same shape: Gaussian noise with the column means of ``X`` and the same
    scale in every direction (the root mean column variance of ``X``), with
    the rows of ``y`` shuffled so that ``u`` carries no information about it.
    There is no latent structure to find there, so the fits' agreement is the
    chance level.

    How to read the numbers: ``mean`` close to 1 and well above ``chance_mean``
    says that the fits agree, as identifiability predicts when the model is
    right for the data and well optimized. It does not prove that the latents
    are the true sources (a model can consistently find the wrong ones), but
    low consistency says that they cannot all be: fits that disagree are stuck
    in different optima, underfitted (too few epochs), or the model is not
    identifiable on this data (e.g. ``u`` does not modulate the sources).
    ``mean`` near ``chance_mean`` means no reproducible structure was found.

    Parameters
    ----------
    estimator : estimator object
        A transformer (or a :class:`~sklearn.pipeline.Pipeline` ending in one),
        e.g. ``make_pipeline(IVAE(), FastICA())``. It is cloned, never
        fitted in place.
    X : array-like of shape (n_samples, n_features)
        Data.
    y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
        The auxiliary variable ``u``, passed to ``fit`` as ``y``.
    n_fits : int, default=3
        Number of fits (at least 2), so ``n_fits * (n_fits - 1) / 2`` pairs.
    indeterminacy : {'permutation', 'linear', 'affine'}, default='permutation'
        What two fits' latents may differ by; see
        :func:`~sklearn_ivae.metrics.consistency_score`. ``'permutation'``
        for models identifiable up to permutation and scaling (IVAE +
        FastICA, IdentifiableFlow); ``'affine'`` for models identifiable up
        to an affine map (IVAE alone, the mixture-prior VAE).
    subsample : float in (0, 1], int or None, default=None
        Fit each clone on a different random subset of the rows: a fraction
        of them (float), or that many (int). None fits every clone on all
        rows, so the fits differ only in their seeds. ``0.5`` also tests
        stability to the sample. The latents are always of all rows.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds of the fits, the subsamples and the chance data.
        An int makes the whole procedure reproducible.
    chance : bool, default=True
        Also compute the chance level (doubles the number of fits).
    return_estimator : bool, default=False
        Keep the fitted clones in the result's ``estimators``, e.g. to use
        one of them or to look at where they disagree.

    Returns
    -------
    result : ConsistencyResult
        With attributes ``scores`` (the ``n_fits x n_fits`` matrix),
        ``mean`` (its off-diagonal mean), ``chance_scores``,
        ``chance_mean``, ``adjusted_mean`` (``(mean - chance_mean) /
        (1 - chance_mean)``), ``indeterminacy``, ``random_states`` and
        ``estimators``.

    Warns
    -----
    UserWarning
        If a fit's latents contain NaN or infinity (e.g. a diverged fit):
        its scores against all other fits are set to 0.

    See Also
    --------
    sklearn_ivae.metrics.consistency_score : The pairwise score.
    sklearn_ivae.metrics.mean_corr_coef : The score against known sources.

    Notes
    -----
    Read the chance level, not only the score; it can be high:

    - With few components, unrelated latents already agree a lot up to a
      permutation: two random rotations of 2, 3, 5 and 10 components have an
      expected score of about 0.90, 0.83, 0.73 and 0.59. With ``n_fits=3``
      there are only 3 pairs, so the chance level is itself noisy (e.g.
      0.75-0.94 for 3 components); use more fits for a steadier one.
    - Fits on the same rows share that sample's accidents (directions that
      happen to look non-Gaussian to FastICA), which raises both the score and
      the chance level; ``subsample=0.5`` lowers both. For FastICA alone on
      3 components and 1000 rows, restarts on the same Gaussian noise agreed
      perfectly in 2 of 4 tries (chance level 1.0); on halves of the rows the
      chance level was 0.78-0.91.
    - Models whose restarts barely depend on the seed get a chance level near
      1, and agreement across seeds then says little about the data either
      way. The estimators of this package start from seeded random states
      for this reason (:class:`~sklearn_ivae.IdentifiableFlow` from a random
      rotation, and IVAE from that flow).
    - Up to ``'linear'`` or ``'affine'`` maps, fits with as many components as
      features that are close to linear maps of ``X`` all agree, on noise
      too: the chance level is near 1 and the score says little. These
      indeterminacies are informative when ``n_components < n_features``.

    Examples
    --------
    >>> from sklearn.decomposition import FastICA
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_ivae import IVAE
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> from sklearn_ivae.model_selection import fit_consistency
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=5,
    ...                              n_samples_per_segment=60, random_state=0)
    >>> model = make_pipeline(IVAE(hidden_layer_sizes=(16,), max_epochs=3),
    ...                       FastICA(max_iter=1000))
    >>> result = fit_consistency(model, X, u, n_fits=3, subsample=0.5, random_state=0)
    >>> result.scores.shape
    (3, 3)
    >>> bool(0 <= result.chance_mean <= 1 and 0 <= result.mean <= 1)
    True
    """
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    if y is not None:
        y = np.asarray(y)
        check_consistent_length(X, y)
    n_samples = X.shape[0]
    if subsample is None:
        n_subsample = n_samples
    elif isinstance(subsample, Integral):
        if subsample > n_samples:
            raise ValueError(
                f"subsample={subsample} is larger than the number of samples ({n_samples})."
            )
        n_subsample = int(subsample)
    else:
        n_subsample = int(round(subsample * n_samples))
        if n_subsample < 2:
            raise ValueError(
                f"subsample={subsample} of {n_samples} samples leaves fewer than 2 to fit on."
            )

    rng = check_random_state(random_state)
    seeds = rng.randint(_MAX_SEED, size=n_fits)
    subsets = [
        None
        if n_subsample == n_samples
        else np.sort(rng.choice(n_samples, n_subsample, replace=False))
        for _ in range(n_fits)
    ]

    scores, fitted = _pairwise_consistency(
        estimator, X, y, seeds, subsets, indeterminacy, keep=return_estimator
    )
    chance_scores = chance_mean = None
    if chance:
        X_null, y_null = _structureless_like(X, y, rng)
        chance_scores, _ = _pairwise_consistency(
            estimator, X_null, y_null, seeds, subsets, indeterminacy
        )
        chance_mean = _off_diagonal_mean(chance_scores)
    return ConsistencyResult(
        scores=scores,
        mean=_off_diagonal_mean(scores),
        chance_scores=chance_scores,
        chance_mean=chance_mean,
        indeterminacy=indeterminacy,
        random_states=seeds,
        estimators=fitted,
    )


def _structureless_like(X, y, rng):
    """Isotropic Gaussian data of X's shape, location and overall scale; y's rows shuffled."""
    scale = np.sqrt(np.mean(X.var(axis=0)))
    if not scale > 0:
        scale = 1.0
    X_null = X.mean(axis=0) + scale * rng.standard_normal(X.shape)
    y_null = None if y is None else y[rng.permutation(len(y))]
    return X_null.astype(X.dtype, copy=False), y_null


def _reseeded(estimator, seed):
    """A clone of estimator with every ``*random_state`` parameter drawn from ``seed``."""
    estimator = clone(estimator)
    seed_rng = np.random.RandomState(seed)
    keys = sorted(k for k in estimator.get_params(deep=True) if k.endswith("random_state"))
    estimator.set_params(**{key: int(seed_rng.randint(_MAX_SEED)) for key in keys})
    return estimator


def _pairwise_consistency(estimator, X, y, seeds, subsets, indeterminacy, keep=False):
    """The consistency matrix of refits, and the fitted refits if ``keep`` (else None)."""
    latents, fitted = [], []
    for seed, rows in zip(seeds, subsets, strict=True):
        model = _reseeded(estimator, seed)
        if rows is None:
            model.fit(X, y)
        else:
            model.fit(X[rows], None if y is None else y[rows])
        latents.append(np.asarray(model.transform(X)))
        if keep:
            fitted.append(model)

    n_fits = len(latents)
    finite = [bool(np.isfinite(Z).all()) for Z in latents]
    if not all(finite):
        warnings.warn(
            f"{finite.count(False)} of {n_fits} fits gave latents with NaN or infinity "
            "(diverged?); their consistency with the other fits is set to 0.",
            UserWarning,
            stacklevel=4,
        )
    scores = np.eye(n_fits)
    for i in range(n_fits):
        for j in range(i + 1, n_fits):
            if finite[i] and finite[j]:
                score = consistency_score(latents[i], latents[j], indeterminacy=indeterminacy)
            else:
                score = 0.0
            scores[i, j] = scores[j, i] = score
    return scores, (fitted if keep else None)


def _off_diagonal_mean(scores):
    return float(scores[~np.eye(len(scores), dtype=bool)].mean())


@dataclass(frozen=True, repr=False)
class ShuffledAuxResult:
    """What :func:`shuffled_aux_control` found.

    Made by :func:`shuffled_aux_control`; its fields are read as attributes.
    Every "null" field is of the same procedure with the rows of ``u``
    shuffled, so that ``u`` carries no information about ``X``.

    Parameters
    ----------
    consistency : ConsistencyResult
        Restart consistency of the fits with the real ``u`` (no chance level:
        its ``chance_scores`` and ``chance_mean`` are None).
    null_consistency_scores : ndarray of shape (n_repeats, n_fits, n_fits)
        The consistency matrix of the fits with each shuffle of ``u`` (the
        same seeds and rows as the real fits).
    null_consistency : ndarray of shape (n_repeats,)
        Mean of the off-diagonal entries of each of those matrices.
    scores : ndarray of shape (n_fits,) or None
        ``score`` of each real fit, on the held-out rows (or on the training
        rows if ``held_out`` is False). None if the estimator has no
        ``score`` (e.g. a :class:`~sklearn.pipeline.Pipeline` ending in
        FastICA).
    null_scores : ndarray of shape (n_repeats, n_fits) or None
        The same for the fits with shuffled ``u``, each scored with its own
        shuffle of ``u``.
    held_out : bool
        Whether the scores are of rows left out of the fits.

    See Also
    --------
    shuffled_aux_control : Makes it.
    ConsistencyResult : The consistency of the real fits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ivae.model_selection import ConsistencyResult, ShuffledAuxResult
    >>> real = ConsistencyResult(scores=np.array([[1.0, 0.9], [0.9, 1.0]]), mean=0.9,
    ...                          chance_scores=None, chance_mean=None,
    ...                          indeterminacy="permutation", random_states=np.array([1, 2]))
    >>> null = np.array([[[1.0, 0.6], [0.6, 1.0]]])
    >>> result = ShuffledAuxResult(consistency=real, null_consistency_scores=null,
    ...                            null_consistency=np.array([0.6]),
    ...                            scores=np.array([-1.0, -1.2]),
    ...                            null_scores=np.array([[-2.0, -2.2]]), held_out=True)
    >>> round(result.consistency_gap, 3), round(result.score_gap, 3)
    (0.3, 1.0)
    """

    consistency: ConsistencyResult
    null_consistency_scores: np.ndarray
    null_consistency: np.ndarray
    scores: np.ndarray | None
    null_scores: np.ndarray | None
    held_out: bool

    @property
    def consistency_gap(self):
        """Consistency of the real fits minus the mean of the shuffled-u fits'.

        Positive when the fits agree more with the real ``u``: the agreement
        comes from ``u``, as identifiability from an auxiliary variable
        predicts.
        """
        return float(self.consistency.mean - np.mean(self.null_consistency))

    @property
    def score_gap(self):
        """Mean score of the real fits minus that of the shuffled-u fits; None without scores.

        Positive when ``u`` helps the model explain ``X``. For the density
        models it is in nats per sample, for a categorical ``u`` an estimate
        of how much ``u`` tells about ``X`` (their mutual information, as far
        as the model captures it).
        """
        if self.scores is None:
            return None
        return float(np.mean(self.scores) - np.mean(self.null_scores))

    def summary(self):
        """A few lines that compare the real fits with the shuffled-u fits.

        Returns
        -------
        text : str
            The consistency and the score (where there is one) with the real
            and the shuffled ``u``, and their gaps.
        """
        n_repeats, n_fits = self.null_consistency_scores.shape[:2]
        lines = [
            f"Shuffled-u control: {n_fits} fits with the real u, {n_fits} with each of "
            f"{n_repeats} shuffle{'s' if n_repeats > 1 else ''} of u "
            f"({self.consistency.indeterminacy!r} consistency).",
            f"  consistency  real {self.consistency.mean:.3f}   shuffled u "
            f"{np.mean(self.null_consistency):.3f}   gap {self.consistency_gap:+.3f}",
        ]
        if self.scores is not None:
            where = "held-out" if self.held_out else "in-sample"
            lines.append(
                f"  {where} score  real {np.mean(self.scores):.4g}   shuffled u "
                f"{np.mean(self.null_scores):.4g}   gap {self.score_gap:+.4g}"
            )
        return "\n".join(lines)

    def __repr__(self):
        score_gap = "None" if self.scores is None else f"{self.score_gap:.4g}"
        return (
            f"ShuffledAuxResult(consistency_gap={self.consistency_gap:.3f}, "
            f"score_gap={score_gap}, n_repeats={len(self.null_consistency)}, "
            f"n_fits={self.consistency.scores.shape[0]})"
        )


def _uses_aux(estimator):
    """Whether fitting ``estimator`` (or a step of a Pipeline) needs the auxiliary variable."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):
        return any(
            _uses_aux(step) for _, step in steps if step is not None and step != "passthrough"
        )
    return bool(get_tags(estimator).target_tags.required)


def _shuffled(y, parts, rng):
    """A copy of ``y`` with its rows permuted within each part (an index array)."""
    y_null = y.copy()
    for rows in parts:
        y_null[rows] = y[rows[rng.permutation(len(rows))]]
    return y_null


@validate_params(
    {
        "estimator": [HasMethods(["fit", "transform"])],
        "X": ["array-like"],
        "y": ["array-like"],
        "n_fits": [Interval(Integral, 2, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "test_size": [Interval(RealNotInt, 0, 1, closed="neither"), None],
        "indeterminacy": [StrOptions(set(_INDETERMINACIES))],
        "random_state": ["random_state"],
        "return_estimator": ["boolean"],
    },
    prefer_skip_nested_validation=False,
)
def shuffled_aux_control(
    estimator,
    X,
    y,
    *,
    n_fits=3,
    n_repeats=2,
    test_size=0.25,
    indeterminacy="permutation",
    random_state=None,
    return_estimator=False,
):
    """Test whether ``u`` matters: fits with the real ``u`` against fits with ``u`` shuffled.

    The identifiable models learn from how the data change with the
    auxiliary variable ``u``. With the rows of ``u`` shuffled, ``u`` carries
    no information about ``X``, so whatever a model still finds is not owed
    to it: this is the negative control of a fit on real data, as a label
    permutation test is for a classifier
    (:func:`~sklearn.model_selection.permutation_test_score`).

    This function fits ``n_fits`` clones of ``estimator`` with different seeds
    (as :func:`fit_consistency` does) on the training rows with the real
    ``u``, and again, with the same seeds and rows, with ``n_repeats``
    shuffles of ``u``. It reports, for the real and the shuffled ``u``:

    - the restart consistency: the mean
      :func:`~sklearn_ivae.metrics.consistency_score` of every pair of fits,
      on the latents of all rows of ``X``;
    - the estimator's own ``score`` (for the density models a
      log-likelihood or its bound, in X's units; for
      :class:`~sklearn_ivae.TCLNonlinearICA` the log-probability of the
      right ``u``), on held-out rows, each fit scored with its own ``u``;

    and their gaps (real minus shuffled). Both gaps should be clearly
    positive when the model is identifiable thanks to ``u``: the restarts
    agree more, and the model explains held-out data better, with the real
    ``u``. A gap near 0 says that ``u`` adds nothing that the model uses:
    the latents are no more trustworthy than a model without ``u`` would
    give, even if they are consistent.

    Parameters
    ----------
    estimator : estimator object
        A transformer that learns from ``u``, or a
        :class:`~sklearn.pipeline.Pipeline` with one, e.g.
        ``make_pipeline(IVAE(), FastICA())``. It is cloned, never fitted in
        place. The scores are computed only if it has ``score`` (a Pipeline
        has it when its last step has).
    X : array-like of shape (n_samples, n_features)
        Data.
    y : array-like of shape (n_samples,) or (n_samples, n_aux)
        The auxiliary variable ``u``, passed to ``fit`` and ``score`` as
        ``y``.
    n_fits : int, default=3
        Fits with each ``u`` (at least 2, for a consistency).
    n_repeats : int, default=2
        Number of shuffles of ``u``. The cost is ``n_fits * (1 + n_repeats)``
        fits; more shuffles give a steadier null level.
    test_size : float in (0, 1) or None, default=0.25
        Fraction of the rows held out of every fit and scored. The split is
        stratified by ``u`` when ``u`` is categorical, and ``u`` is shuffled
        within the training rows and within the held-out rows, so that every
        held-out label is also seen in fit. None fits on all rows and scores
        them in-sample, where a flexible model can fit a shuffled ``u`` by
        heart and the score gap shrinks.
    indeterminacy : {'permutation', 'linear', 'affine'}, default='permutation'
        What two fits' latents may differ by; see :func:`fit_consistency`.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds of the fits, the split and the shuffles. An int makes
        the whole procedure reproducible.
    return_estimator : bool, default=False
        Keep the fits with the real ``u`` in ``result.consistency.estimators``.

    Returns
    -------
    result : ShuffledAuxResult
        With attributes ``consistency`` (a :class:`ConsistencyResult` of the
        real fits), ``null_consistency``, ``scores``, ``null_scores``,
        ``consistency_gap``, ``score_gap`` and a ``summary()``.

    Raises
    ------
    ValueError
        If the estimator does not use ``u`` (e.g. ``IVAE(prior='isotropic')``
        or FastICA alone): shuffling ``u`` could not change it.

    See Also
    --------
    fit_consistency : Consistency against structureless data instead.
    sklearn.model_selection.permutation_test_score : The same control for a
        classifier's labels.

    Notes
    -----
    The structureless data of :func:`fit_consistency` answers "is there any
    structure in ``X``?"; this control answers "is the structure found owed
    to ``u``?". A model can agree with itself across restarts without ``u``
    (e.g. a near-linear fit followed by FastICA on a mild mixing); then the
    consistency gap is small even though the fits are consistent, and the
    identifiability that ``u`` was meant to give is not what makes them agree.
    A model whose restarts barely depend on the seed also agrees with itself
    with a shuffled ``u``; read its score gap.

    The consistency gap of a few fits is noisy: 3 fits make only 3 pairs, and
    when ``u`` is unrelated to ``X`` the gap can still be far from 0. The
    held-out score gap is the steadier of the two; for a steadier consistency
    gap, use more fits and shuffles.

    Examples
    --------
    >>> from sklearn_ivae import TCLNonlinearICA
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> from sklearn_ivae.model_selection import shuffled_aux_control
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_segments=5,
    ...                              n_samples_per_segment=60, random_state=0)
    >>> model = TCLNonlinearICA(hidden_layer_sizes=(16,), max_epochs=3)
    >>> result = shuffled_aux_control(model, X, u, n_fits=2, n_repeats=1, random_state=0)
    >>> result.null_scores.shape
    (1, 2)
    >>> print(result.summary())  # doctest: +ELLIPSIS
    Shuffled-u control: 2 fits with the real u, 2 with each of 1 shuffle of u ...
    """
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
    check_consistent_length(X, y)
    if not _uses_aux(estimator):
        raise ValueError(
            f"{type(estimator).__name__} does not use the auxiliary variable u, so "
            "shuffling u cannot change its fits. Pass an estimator that learns from u "
            "(e.g. IVAE(), TCLNonlinearICA() or IdentifiableFlow(), alone or in a Pipeline); "
            "for a model without u, use fit_consistency."
        )
    n_samples = X.shape[0]
    rng = check_random_state(random_state)
    seeds = rng.randint(_MAX_SEED, size=n_fits)
    everything = np.arange(n_samples)
    if test_size is None:
        train = test = everything
        parts = [everything]
    else:
        categorical = y.ndim == 1 and type_of_target(y) in ("binary", "multiclass")
        train, test = train_test_split(
            everything,
            test_size=test_size,
            stratify=y if categorical else None,
            random_state=rng.randint(_MAX_SEED),
        )
        train, test = np.sort(train), np.sort(test)
        parts = [train, test]
    subsets = [train if test_size is not None else None] * n_fits
    has_score = hasattr(estimator, "score")

    def run(y_fit):
        scores, fitted = _pairwise_consistency(
            estimator, X, y_fit, seeds, subsets, indeterminacy, keep=True
        )
        values = None
        if has_score:
            values = np.array([model.score(X[test], y_fit[test]) for model in fitted])
        return scores, values, fitted

    scores, real_scores, fitted = run(y)
    null_runs = [run(_shuffled(y, parts, rng))[:2] for _ in range(n_repeats)]
    null_matrices = np.array([matrix for matrix, _ in null_runs])
    consistency = ConsistencyResult(
        scores=scores,
        mean=_off_diagonal_mean(scores),
        chance_scores=None,
        chance_mean=None,
        indeterminacy=indeterminacy,
        random_states=seeds,
        estimators=fitted if return_estimator else None,
    )
    return ShuffledAuxResult(
        consistency=consistency,
        null_consistency_scores=null_matrices,
        null_consistency=np.array([_off_diagonal_mean(matrix) for matrix in null_matrices]),
        scores=real_scores,
        null_scores=None if not has_score else np.array([values for _, values in null_runs]),
        held_out=test_size is not None,
    )


@dataclass(frozen=True, repr=False)
class ComponentSelectionResult:
    """What :func:`select_n_components` found.

    Made by :func:`select_n_components`; its fields are read as attributes.

    Parameters
    ----------
    candidates : ndarray of shape (n_candidates,)
        The numbers of components tried, in increasing order.
    scores : ndarray of shape (n_candidates, n_splits)
        Held-out ``score`` of each candidate on each cross-validation split
        (the same splits for every candidate).
    mean_scores : ndarray of shape (n_candidates,)
        Mean of ``scores`` over the splits.
    sem_scores : ndarray of shape (n_candidates,)
        Standard error of ``mean_scores``.
    n_components : int
        The selected number: the smallest candidate whose mean held-out score
        is within the tolerance of the best one.
    consistency : ndarray of shape (n_candidates,) or None
        Restart consistency of each candidate (the ``mean`` of
        :func:`fit_consistency`); None if it was not computed.

    See Also
    --------
    select_n_components : Makes it.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ivae.model_selection import select_n_components
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 2)) @ rng.normal(size=(2, 5)) * 3
    >>> X += 0.1 * rng.normal(size=X.shape)
    >>> result = select_n_components(PCA(), X, candidates=[1, 2, 3, 4], cv=3)
    >>> result.n_components
    2
    """

    candidates: np.ndarray
    scores: np.ndarray
    mean_scores: np.ndarray
    sem_scores: np.ndarray
    n_components: int
    consistency: np.ndarray | None = None

    def __repr__(self):
        rows = ", ".join(
            f"{n}: {score:.3g}"
            for n, score in zip(self.candidates.tolist(), self.mean_scores, strict=True)
        )
        return f"ComponentSelectionResult(n_components={self.n_components}, mean_scores={{{rows}}})"


@validate_params(
    {
        "estimator": [HasMethods(["fit", "score"])],
        "X": ["array-like"],
        "y": ["array-like", None],
        "candidates": ["array-like"],
        "groups": ["array-like", None],
        "param_name": [str],
        "cv": ["cv_object"],
        "tolerance": [Interval(Real, 0, 1, closed="both")],
        "consistency_fits": [Interval(Integral, 2, None, closed="left"), None],
        "indeterminacy": [StrOptions(set(_INDETERMINACIES))],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def select_n_components(
    estimator,
    X,
    y=None,
    *,
    candidates,
    groups=None,
    param_name="n_components",
    cv=5,
    tolerance=0.1,
    consistency_fits=None,
    indeterminacy="permutation",
    random_state=None,
):
    """Choose the number of latent components by held-out score.

    On real data the number of sources is unknown. Each candidate number is
    fitted on every training part of a cross-validation and scored on the
    held-out part with the estimator's own ``score`` (for the density models
    the held-out log-likelihood or its bound, in the units of X). Too few
    components cannot explain the data and score far lower; beyond the true
    number the score levels off, and often still creeps up by a few nats (an
    overcomplete network is easier to optimize), so the best mean score,
    which :class:`~sklearn.model_selection.GridSearchCV` would pick, tends to
    overshoot. The selected number is the elbow of the curve instead: the
    smallest candidate that reaches ``1 - tolerance`` of the whole gain in
    mean held-out score over the candidates, or is within one standard error
    of the best mean (the one-standard-error rule of Hastie, Tibshirani and
    Friedman), whichever margin is wider::

        margin = max(sem_best, tolerance * (best - worst))
        n_components = min(n for n in candidates if mean_score[n] >= best - margin)

    Like a fraction of explained variance, the gain is measured from the
    worst candidate, so include one that is surely too small (e.g. 1).

    Optionally, the restart consistency of every candidate is also measured
    (:func:`fit_consistency`): latents beyond the true number are not
    identifiable, so an overcomplete model typically agrees less across
    restarts. Read it beside the scores; it is not part of the rule.

    Parameters
    ----------
    estimator : estimator object
        An estimator with ``score``, e.g. :class:`~sklearn_ivae.IVAE` or a
        :class:`~sklearn.pipeline.Pipeline` that ends with one (then set
        ``param_name``, e.g. ``'ivae__n_components'``; the last step must
        have ``score``, so add FastICA after the selection). It is cloned for
        each fit; every parameter ending in ``random_state`` is drawn from
        ``random_state``, the same for every candidate.
    X : array-like of shape (n_samples, n_features)
        Data.
    y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
        The auxiliary variable ``u``, passed to ``fit`` and ``score`` as ``y``.
    candidates : array-like of int
        The numbers of components to try (at least one).
    groups : array-like of shape (n_samples,), default=None
        Group labels for a group-wise ``cv`` (e.g.
        :class:`~sklearn.model_selection.GroupKFold` to hold out whole
        recordings).
    param_name : str, default='n_components'
        The parameter that sets the number of components.
    cv : int, cross-validation generator or iterable, default=5
        The splits, as in :func:`~sklearn.model_selection.cross_val_score`.
        An int is stratified by ``y`` when ``y`` is categorical, so every
        segment is in both parts. For a series of contiguous segments,
        ``StratifiedKFold(shuffle=True)`` scores each sample under its own
        segment's prior.
    tolerance : float in [0, 1], default=0.1
        Fraction of the range of mean scores within which a smaller
        candidate counts as good as the best (see the rule above). 0 keeps
        only the one-standard-error rule.
    consistency_fits : int or None, default=None
        If an int (at least 2), also fit each candidate that many times on
        all of ``X`` and report its restart consistency.
    indeterminacy : {'permutation', 'linear', 'affine'}, default='permutation'
        Passed to :func:`fit_consistency` when ``consistency_fits`` is set.
    random_state : int, RandomState instance or None, default=None
        Seeds of the fits. An int makes the procedure reproducible when the
        splits are (an int ``cv``, or a splitter with its own seed).

    Returns
    -------
    result : ComponentSelectionResult
        With attributes ``n_components`` (the selected number),
        ``candidates``, ``scores`` (per split), ``mean_scores``,
        ``sem_scores`` and ``consistency``.

    See Also
    --------
    fit_consistency : Agreement of refits, against a chance level.
    sklearn.model_selection.GridSearchCV : Picks the best mean score instead,
        which often is an overcomplete model by a small margin.

    Notes
    -----
    Measured on :func:`~sklearn_ivae.datasets.make_nonlinear_ica` data (2
    sources mixed into 5 features by 2 layers, 10 segments of 100 points,
    :class:`~sklearn_ivae.IVAE` with ``(32, 32)`` hidden units and 20 or 40
    epochs, 3 shuffled stratified folds; data seeds 0-5 at 20 epochs and 3-5 at
    40, 9 runs): one component
    scored -220 to -550 nats, two -46 to +4, three and four -14 to +4. The
    best mean was an overcomplete model on 7 of 9 runs (by 0.1-33 nats); the
    rule with ``tolerance=0.1`` chose 2 on all 9, with ``tolerance=0.02`` on 4.

    Examples
    --------
    >>> from sklearn.model_selection import StratifiedKFold
    >>> from sklearn_ivae import IVAE
    >>> from sklearn_ivae.datasets import make_nonlinear_ica
    >>> from sklearn_ivae.model_selection import select_n_components
    >>> X, S, u = make_nonlinear_ica(n_sources=2, n_features=4, n_segments=5,
    ...                              n_samples_per_segment=80, random_state=0)
    >>> result = select_n_components(
    ...     IVAE(hidden_layer_sizes=(16,), max_epochs=5), X, u, candidates=[1, 2, 3],
    ...     cv=StratifiedKFold(2, shuffle=True, random_state=0), random_state=0)
    >>> result.scores.shape
    (3, 2)
    >>> int(result.n_components) in (1, 2, 3)
    True
    """
    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    if y is not None:
        y = np.asarray(y)
        check_consistent_length(X, y)
    candidates = np.unique(np.asarray(candidates).ravel())
    if candidates.size == 0 or not all(
        isinstance(n, Integral) and n >= 1 for n in candidates.tolist()
    ):
        raise ValueError(
            f"candidates must be positive integers (numbers of components); got {candidates!r}."
        )
    if param_name not in estimator.get_params(deep=True):
        raise ValueError(
            f"{type(estimator).__name__} has no parameter {param_name!r}: set param_name to the "
            "parameter that sets the number of components (e.g. 'ivae__n_components' in a "
            "Pipeline)."
        )
    rng = check_random_state(random_state)
    seed = rng.randint(_MAX_SEED)
    # Fixed splits, so that every candidate is scored on the same held-out rows.
    # check_cv stratifies an int cv by y when y is labels (binary or multiclass).
    splits = list(check_cv(cv, y, classifier=y is not None).split(X, y, groups))

    scores = np.array(
        [
            cross_val_score(
                _reseeded(estimator, seed).set_params(**{param_name: int(n)}),
                X,
                y,
                cv=splits,
                error_score="raise",
            )
            for n in candidates
        ]
    )
    mean_scores = scores.mean(axis=1)
    n_splits = scores.shape[1]
    sem_scores = scores.std(axis=1, ddof=1) / np.sqrt(n_splits) if n_splits > 1 else 0 * mean_scores
    if not np.isfinite(mean_scores).all():
        bad = candidates[~np.isfinite(mean_scores)].tolist()
        raise ValueError(
            f"The held-out scores of n_components={bad} are not finite (a diverged fit?); "
            "check those fits, e.g. with more epochs or a smaller lr."
        )
    best = int(np.argmax(mean_scores))
    margin = max(sem_scores[best], tolerance * (mean_scores[best] - mean_scores.min()))
    selected = int(candidates[np.flatnonzero(mean_scores >= mean_scores[best] - margin)[0]])

    consistency = None
    if consistency_fits is not None:
        consistency = np.array(
            [
                fit_consistency(
                    clone(estimator).set_params(**{param_name: int(n)}),
                    X,
                    y,
                    n_fits=consistency_fits,
                    indeterminacy=indeterminacy,
                    random_state=seed,
                    chance=False,
                ).mean
                for n in candidates
            ]
        )
    return ComponentSelectionResult(
        candidates=candidates,
        scores=scores,
        mean_scores=mean_scores,
        sem_scores=sem_scores,
        n_components=selected,
        consistency=consistency,
    )
