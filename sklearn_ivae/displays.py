"""Plots in scikit-learn's manner: restart consistency, source recovery, latents by u.

Each display holds the numbers to plot; ``plot`` draws them (matplotlib is
imported only there) and returns the display, with the figure, the axes and
the artists as attributes. The class methods ``from_estimator``,
``from_result``, ``from_predictions`` and ``from_latents`` compute the numbers
and plot them in one call.
"""

from numbers import Integral

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.multiclass import type_of_target

from .metrics import _abs_cross_correlation, _check_pair
from .model_selection import ConsistencyResult, ShuffledAuxResult, fit_consistency

__all__ = ["ConsistencyDisplay", "LatentDisplay", "SourceRecoveryDisplay"]

# A categorical u with at most this many labels gets one qualitative colour
# per label and a legend; with more, a colorbar of the label index.
_MAX_LEGEND_LABELS = 10


def _merged(defaults, overrides):
    """``defaults`` updated with the user's keyword arguments (which may be None)."""
    return {**defaults, **(overrides or {})}


def _axes_array(ax, n_axes, name, **subplots_kw):
    """``n_axes`` Axes: new ones in a new figure if ``ax`` is None, else the given ones."""
    import matplotlib.pyplot as plt

    if ax is None:
        figure, axes = plt.subplots(squeeze=False, **subplots_kw)
        return figure, axes
    axes = np.asarray(ax, dtype=object)
    if axes.size != n_axes:
        raise ValueError(
            f"{name} draws {n_axes} panel(s), but ax holds {axes.size} Axes: pass "
            f"{n_axes} Axes (e.g. plt.subplots(1, {n_axes})[1]), or ax=None for a new figure."
        )
    return axes.flat[0].figure, axes.reshape(-1, 1) if axes.ndim < 2 else axes


class ConsistencyDisplay:
    """The consistency matrix of refits, with its chance level marked.

    Entry ``(i, j)`` is the :func:`~sklearn_ivae.metrics.consistency_score`
    of fits ``i`` and ``j``. The chance level (the same procedure on
    structureless data, or with ``u`` shuffled) is marked on the colorbar
    and written in the title: read the matrix against it.

    It is easiest to make with :meth:`from_result` or :meth:`from_estimator`.
    All parameters are stored as attributes.

    Parameters
    ----------
    scores : ndarray of shape (n_fits, n_fits)
        The consistency matrix, e.g. ``ConsistencyResult.scores``.
    chance_level : float, default=None
        The level to compare with (e.g. ``ConsistencyResult.chance_mean``);
        None draws no mark.
    chance_label : str, default='chance'
        What the level is called on the plot.
    indeterminacy : str, default=None
        The indeterminacy of the scores, for the colorbar's label.

    Attributes
    ----------
    im_ : matplotlib AxesImage
        The image of the matrix.
    text_ : ndarray of shape (n_fits, n_fits) of matplotlib Text, or None
        The values written on the cells; None if ``include_values=False``.
    colorbar_ : matplotlib Colorbar or None
        The colorbar; None if ``colorbar=False``.
    chance_line_ : matplotlib Line2D or None
        The chance level on the colorbar; None without a colorbar or a level.
    ax_ : matplotlib Axes
        The Axes of the matrix.
    figure_ : matplotlib Figure
        The figure that holds it.

    See Also
    --------
    sklearn_ivae.model_selection.fit_consistency : Computes the matrix and its
        chance level.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_ivae.displays import ConsistencyDisplay
    >>> scores = np.array([[1.0, 0.97, 0.95], [0.97, 1.0, 0.96], [0.95, 0.96, 1.0]])
    >>> display = ConsistencyDisplay(scores, chance_level=0.8).plot()
    >>> display.text_.shape
    (3, 3)
    >>> display.ax_.get_title()
    'mean 0.96, chance 0.80'
    """

    def __init__(self, scores, *, chance_level=None, chance_label="chance", indeterminacy=None):
        self.scores = scores
        self.chance_level = chance_level
        self.chance_label = chance_label
        self.indeterminacy = indeterminacy

    def plot(
        self,
        *,
        ax=None,
        include_values=True,
        values_format=".2f",
        cmap="viridis",
        vmin=None,
        vmax=1.0,
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Draw the matrix.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        include_values : bool, default=True
            Write each value on its cell.
        values_format : str, default='.2f'
            Format of those values.
        cmap : str or matplotlib Colormap, default='viridis'
            Colormap of the matrix.
        vmin : float, default=None
            Value at the bottom of the colour scale. None takes the smaller of
            the lowest score and the chance level, so that both show.
        vmax : float, default=1.0
            Value at the top of the colour scale.
        colorbar : bool, default=True
            Add a colorbar, with the chance level marked on it.
        im_kw : dict, default=None
            Keyword arguments of ``ax.imshow``.
        text_kw : dict, default=None
            Keyword arguments of ``ax.text`` for the values.

        Returns
        -------
        display : ConsistencyDisplay
            This display, with ``ax_``, ``figure_`` and the artists set.
        """
        check_matplotlib_support("ConsistencyDisplay.plot")
        import matplotlib.pyplot as plt

        scores = check_array(self.scores, input_name="scores")
        n_fits = scores.shape[0]
        if scores.shape != (n_fits, n_fits):
            raise ValueError(
                f"scores must be a square (n_fits, n_fits) matrix; got shape {scores.shape}."
            )
        figure, ax = plt.subplots() if ax is None else (ax.figure, ax)
        off_diagonal = scores[~np.eye(n_fits, dtype=bool)]
        if vmin is None:
            low = [off_diagonal.min()] if off_diagonal.size else []
            low += [] if self.chance_level is None else [self.chance_level]
            # A margin below the lowest value, so that the chance mark shows.
            vmin = max(np.floor(min(low) * 20) / 20 - 0.05, 0.0) if low else 0.0
            vmin = vmin if vmin < vmax else 0.0
        self.im_ = ax.imshow(
            scores,
            **_merged(
                {"cmap": cmap, "vmin": vmin, "vmax": vmax, "interpolation": "nearest"}, im_kw
            ),
        )
        self.text_ = None
        if include_values:
            self.text_ = np.empty((n_fits, n_fits), dtype=object)
            middle = (vmin + vmax) / 2
            for (i, j), value in np.ndenumerate(scores):
                color = self.im_.cmap(1.0 if value < middle else 0.0)
                self.text_[i, j] = ax.text(
                    j,
                    i,
                    format(value, values_format),
                    **_merged({"ha": "center", "va": "center", "color": color}, text_kw),
                )
        title = f"mean {off_diagonal.mean():.2f}" if off_diagonal.size else ""
        if self.chance_level is not None:
            title += f", {self.chance_label} {self.chance_level:.2f}"
        ax.set(
            xticks=np.arange(n_fits),
            yticks=np.arange(n_fits),
            xlabel="fit",
            ylabel="fit",
            title=title,
        )
        self.colorbar_ = self.chance_line_ = None
        if colorbar:
            label = "consistency_score"
            if self.indeterminacy is not None:
                label += f" ({self.indeterminacy})"
            self.colorbar_ = figure.colorbar(self.im_, ax=ax, label=label)
            if self.chance_level is not None:
                self.chance_line_ = self.colorbar_.ax.axhline(
                    self.chance_level, color="red", lw=2, ls="--"
                )
        self.ax_ = ax
        self.figure_ = figure
        return self

    @classmethod
    def from_result(cls, result, *, ax=None, **plot_kw):
        """Plot the matrix of a :func:`~sklearn_ivae.model_selection.fit_consistency` result.

        Parameters
        ----------
        result : ConsistencyResult or ShuffledAuxResult
            From :func:`~sklearn_ivae.model_selection.fit_consistency` (the
            level marked is its chance level on structureless data) or from
            :func:`~sklearn_ivae.model_selection.shuffled_aux_control` (the
            real fits' matrix; the level is that of the shuffled-u fits).
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        **plot_kw : dict
            Passed to :meth:`plot` (``include_values``, ``cmap``, ``vmin``, ...).

        Returns
        -------
        display : ConsistencyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.decomposition import FastICA
        >>> from sklearn_ivae.displays import ConsistencyDisplay
        >>> from sklearn_ivae.model_selection import fit_consistency
        >>> rng = np.random.RandomState(0)
        >>> X = rng.laplace(size=(500, 3)) @ rng.normal(size=(3, 3))
        >>> result = fit_consistency(FastICA(max_iter=1000), X, subsample=0.5, random_state=0)
        >>> display = ConsistencyDisplay.from_result(result)
        >>> display.chance_level == result.chance_mean
        True
        """
        if isinstance(result, ShuffledAuxResult):
            display = cls(
                result.consistency.scores,
                chance_level=float(np.mean(result.null_consistency)),
                chance_label="shuffled u",
                indeterminacy=result.consistency.indeterminacy,
            )
        elif isinstance(result, ConsistencyResult):
            display = cls(
                result.scores,
                chance_level=result.chance_mean,
                indeterminacy=result.indeterminacy,
            )
        else:
            raise TypeError(
                "result must be a ConsistencyResult (from fit_consistency) or a "
                f"ShuffledAuxResult (from shuffled_aux_control); got {type(result).__name__}."
            )
        return display.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        n_fits=3,
        indeterminacy="permutation",
        subsample=None,
        random_state=None,
        chance=True,
        ax=None,
        **plot_kw,
    ):
        """Refit an estimator with new seeds and plot how much the fits agree.

        Runs :func:`~sklearn_ivae.model_selection.fit_consistency` (the
        estimator is cloned and fitted ``n_fits`` times, twice as many with
        the chance level) and plots its result.

        Parameters
        ----------
        estimator : estimator object
            An unfitted transformer or Pipeline, e.g.
            ``make_pipeline(IVAE(), FastICA())``.
        X : array-like of shape (n_samples, n_features)
            Data.
        y : array-like of shape (n_samples,) or (n_samples, n_aux), default=None
            The auxiliary variable ``u``.
        n_fits : int, default=3
            Number of fits.
        indeterminacy : {'permutation', 'linear', 'affine'}, default='permutation'
            What two fits' latents may differ by.
        subsample : float in (0, 1], int or None, default=None
            Fit each clone on a random subset of the rows.
        random_state : int, RandomState instance or None, default=None
            Seeds of the procedure.
        chance : bool, default=True
            Compute and mark the chance level.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        **plot_kw : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ConsistencyDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.decomposition import FastICA
        >>> from sklearn_ivae.displays import ConsistencyDisplay
        >>> rng = np.random.RandomState(0)
        >>> X = rng.laplace(size=(500, 3)) @ rng.normal(size=(3, 3))
        >>> display = ConsistencyDisplay.from_estimator(
        ...     FastICA(max_iter=1000), X, n_fits=4, subsample=0.5, random_state=0)
        >>> display.scores.shape
        (4, 4)
        """
        result = fit_consistency(
            estimator,
            X,
            y,
            n_fits=n_fits,
            indeterminacy=indeterminacy,
            subsample=subsample,
            random_state=random_state,
            chance=chance,
        )
        return cls.from_result(result, ax=ax, **plot_kw)


class SourceRecoveryDisplay:
    """True against recovered sources: one scatter panel per matched pair.

    Each true source is paired with the estimated component that
    :func:`~sklearn_ivae.metrics.mean_corr_coef` matches it with (the one to
    one matching of largest total absolute correlation). The component is
    given the sign, scale and offset that fit the source best (least
    squares), for display only, so that a recovered source lies on the
    diagonal. Each panel's title gives the pair's absolute correlation; the
    figure's title gives the MCC, their mean.

    It is easiest to make with :meth:`from_predictions` or
    :meth:`from_estimator`. All parameters are stored as attributes.

    Parameters
    ----------
    S_true : ndarray of shape (n_samples, n_pairs)
        The true sources, in the order of the pairs.
    S_matched : ndarray of shape (n_samples, n_pairs)
        The matched components, rescaled onto the sources.
    correlations : ndarray of shape (n_pairs,)
        Absolute correlation of each pair.
    source_index : ndarray of shape (n_pairs,), default=None
        Column of each pair's source in the original true sources; None
        means ``0, 1, ...``.
    component_index : ndarray of shape (n_pairs,), default=None
        Column of each pair's component in the original estimate; None
        means ``0, 1, ...``.

    Attributes
    ----------
    mcc : float
        Mean of ``correlations``: :func:`~sklearn_ivae.metrics.mean_corr_coef`
        of the sources and the estimate.
    axes_ : ndarray of matplotlib Axes
        One Axes per pair, in the layout they were drawn in.
    scatters_ : list of matplotlib PathCollection
        The scatter of each pair.
    lines_ : list of matplotlib Line2D
        The diagonal of each panel; empty if ``diagonal=False``.
    figure_ : matplotlib Figure
        The figure that holds the panels.

    See Also
    --------
    sklearn_ivae.metrics.mean_corr_coef : The score drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_ivae.displays import SourceRecoveryDisplay
    >>> rng = np.random.RandomState(0)
    >>> S = rng.laplace(size=(300, 3))
    >>> S_est = -2 * S[:, [2, 0, 1]] + 0.1 * rng.normal(size=(300, 3))
    >>> display = SourceRecoveryDisplay.from_predictions(S, S_est)
    >>> display.component_index
    array([1, 2, 0])
    >>> display.axes_.shape
    (1, 3)
    """

    def __init__(self, S_true, S_matched, correlations, *, source_index=None, component_index=None):
        self.S_true = S_true
        self.S_matched = S_matched
        self.correlations = correlations
        self.source_index = source_index
        self.component_index = component_index

    @property
    def mcc(self):
        """Mean absolute correlation of the pairs (the MCC)."""
        return float(np.mean(self.correlations))

    def plot(self, *, ax=None, n_cols=None, diagonal=True, scatter_kw=None, line_kw=None):
        """Draw one panel per pair.

        Parameters
        ----------
        ax : array-like of matplotlib Axes, default=None
            One Axes per pair; None makes a new figure.
        n_cols : int, default=None
            Panels per row of a new figure; None puts up to 4 in a row.
        diagonal : bool, default=True
            Draw the diagonal, where a recovered source lies.
        scatter_kw : dict, default=None
            Keyword arguments of ``ax.scatter``.
        line_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the diagonal.

        Returns
        -------
        display : SourceRecoveryDisplay
            This display, with ``axes_``, ``figure_`` and the artists set.
        """
        check_matplotlib_support("SourceRecoveryDisplay.plot")
        S_true = check_array(self.S_true, input_name="S_true")
        S_matched = check_array(self.S_matched, input_name="S_matched")
        n_pairs = S_true.shape[1]
        sources = np.arange(n_pairs) if self.source_index is None else self.source_index
        components = np.arange(n_pairs) if self.component_index is None else self.component_index
        n_cols = min(n_pairs, 4) if n_cols is None else n_cols
        n_rows = -(-n_pairs // n_cols)
        figure, axes = _axes_array(
            ax,
            n_pairs,
            "SourceRecoveryDisplay",
            nrows=n_rows,
            ncols=n_cols,
            figsize=(3.2 * n_cols, 3.2 * n_rows),
            layout="constrained",
        )
        flat = axes.ravel()
        self.scatters_, self.lines_ = [], []
        for k in range(n_pairs):
            ax_k = flat[k]
            self.scatters_.append(
                ax_k.scatter(
                    S_true[:, k],
                    S_matched[:, k],
                    **_merged({"s": 3, "alpha": 0.3, "linewidths": 0}, scatter_kw),
                )
            )
            if diagonal:
                low, high = S_true[:, k].min(), S_true[:, k].max()
                (line,) = ax_k.plot(
                    [low, high],
                    [low, high],
                    **_merged({"color": "k", "ls": "--", "lw": 1}, line_kw),
                )
                self.lines_.append(line)
            ax_k.set_title(
                f"source {sources[k]}, component {components[k]}: "
                f"|corr| {self.correlations[k]:.2f}",
                fontsize="medium",
            )
            ax_k.set_xlabel(f"true source {sources[k]}")
            ax_k.set_ylabel("recovered (rescaled)")
        for ax_k in flat[n_pairs:]:
            ax_k.set_visible(False)
        figure.suptitle(f"MCC {self.mcc:.3f}")
        self.axes_ = axes
        self.figure_ = figure
        return self

    @classmethod
    def from_predictions(cls, S_true, S_est, *, ax=None, **plot_kw):
        """Match estimated components with the true sources and plot each pair.

        Parameters
        ----------
        S_true : array-like of shape (n_samples, n_sources)
            The true sources (or the statistic of them that the model recovers,
            e.g. ``np.abs(S)`` for TCL).
        S_est : array-like of shape (n_samples, n_components)
            The estimate, e.g. ``model.transform(X)``. With different numbers
            of columns, ``min(n_sources, n_components)`` pairs are drawn.
        ax : array-like of matplotlib Axes, default=None
            One Axes per pair; None makes a new figure.
        **plot_kw : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SourceRecoveryDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn_ivae.displays import SourceRecoveryDisplay
        >>> rng = np.random.RandomState(0)
        >>> S = rng.laplace(size=(300, 2))
        >>> display = SourceRecoveryDisplay.from_predictions(S, 3 * S[:, ::-1])
        >>> round(display.mcc, 6)
        1.0
        """
        S_true, S_est = _check_pair(S_true, S_est)
        corr = _abs_cross_correlation(S_true, S_est)
        # The matching of mean_corr_coef: largest total absolute correlation.
        rows, cols = linear_sum_assignment(-corr)
        target, matched = S_true[:, rows], S_est[:, cols]
        centred = matched - matched.mean(axis=0)
        norms = (centred**2).sum(axis=0)
        slope = np.divide(
            (centred * (target - target.mean(axis=0))).sum(axis=0),
            norms,
            out=np.zeros_like(norms),
            where=norms > 0,
        )
        display = cls(
            target,
            centred * slope + target.mean(axis=0),
            corr[rows, cols],
            source_index=rows,
            component_index=cols,
        )
        return display.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(cls, estimator, X, S_true, *, ax=None, **plot_kw):
        """Plot a fitted estimator's latents of ``X`` against the true sources.

        Parameters
        ----------
        estimator : estimator object
            A fitted transformer or Pipeline; ``transform(X)`` is the estimate.
        X : array-like of shape (n_samples, n_features)
            Data.
        S_true : array-like of shape (n_samples, n_sources)
            The true sources of ``X`` (or the statistic of them that the model
            recovers).
        ax : array-like of matplotlib Axes, default=None
            One Axes per pair; None makes a new figure.
        **plot_kw : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SourceRecoveryDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.decomposition import FastICA
        >>> from sklearn_ivae.displays import SourceRecoveryDisplay
        >>> rng = np.random.RandomState(0)
        >>> S = rng.laplace(size=(1000, 2))
        >>> X = S @ rng.normal(size=(2, 2))
        >>> ica = FastICA(random_state=0).fit(X)
        >>> display = SourceRecoveryDisplay.from_estimator(ica, X, S)
        >>> bool(display.mcc > 0.99)
        True
        """
        return cls.from_predictions(S_true, estimator.transform(X), ax=ax, **plot_kw)


class LatentDisplay:
    """Latents coloured by the auxiliary variable ``u``.

    Two components are drawn as one scatter; three or more as a grid of
    every pair, with a histogram of each component on the diagonal. A
    categorical ``u`` with few labels gets one colour per label and a
    legend, any other ``u`` a colorbar. Latents that the model identifies
    thanks to ``u`` change with it, so their distribution differs by colour.

    It is easiest to make with :meth:`from_latents` or :meth:`from_estimator`.
    All parameters are stored as attributes.

    Parameters
    ----------
    latents : ndarray of shape (n_samples, n_plotted)
        The components to draw, at least 2.
    u : ndarray of shape (n_samples,)
        The value of ``u`` of each row: labels, or a continuous variable.
    component_names : list of str, default=None
        Axis labels of the components; None means ``'latent 0'``, ...

    Attributes
    ----------
    ax_ : matplotlib Axes or None
        The Axes of a single scatter (2 components); None for a grid.
    axes_ : ndarray of matplotlib Axes of shape (n_plotted, n_plotted) or (1, 1)
        Every Axes drawn.
    scatters_ : list of matplotlib PathCollection
        The scatter of each pair of components.
    colorbar_ : matplotlib Colorbar or None
        The colorbar of ``u``; None when a legend is drawn.
    legend_ : matplotlib Legend or None
        The legend of the labels of ``u``; None when a colorbar is drawn.
    figure_ : matplotlib Figure
        The figure that holds the Axes.

    See Also
    --------
    SourceRecoveryDisplay : Latents against known sources.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_ivae.displays import LatentDisplay
    >>> rng = np.random.RandomState(0)
    >>> u = np.repeat([0, 1, 2], 100)
    >>> Z = rng.normal(size=(300, 2)) * (1 + u[:, None])
    >>> display = LatentDisplay(Z, u).plot()
    >>> len(display.legend_.get_texts())
    3
    """

    def __init__(self, latents, u, *, component_names=None):
        self.latents = latents
        self.u = u
        self.component_names = component_names

    def plot(self, *, ax=None, cmap=None, legend="auto", scatter_kw=None):
        """Draw the latents.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            One Axes for 2 components, ``n_plotted ** 2`` for a grid; None
            makes a new figure.
        cmap : str or matplotlib Colormap, default=None
            Colours of ``u``; None means ``'tab10'`` with a legend and
            ``'viridis'`` with a colorbar.
        legend : {'auto', True, False}, default='auto'
            One colour per label and a legend (True), or a colorbar (False).
            ``'auto'``: a legend for a categorical ``u`` of at most 10 labels.
        scatter_kw : dict, default=None
            Keyword arguments of ``ax.scatter``.

        Returns
        -------
        display : LatentDisplay
            This display, with ``axes_``, ``figure_`` and the artists set.
        """
        check_matplotlib_support("LatentDisplay.plot")
        latents = check_array(self.latents, input_name="latents")
        u = np.asarray(self.u)
        check_consistent_length(latents, u)
        n_plotted = latents.shape[1]
        if n_plotted < 2:
            raise ValueError(
                f"LatentDisplay draws pairs of components; got {n_plotted}. Pass at least 2 "
                "components (e.g. a model with n_components >= 2)."
            )
        names = self.component_names or [f"latent {i}" for i in range(n_plotted)]
        categorical = type_of_target(u) in ("binary", "multiclass")
        labels, codes = np.unique(u, return_inverse=True) if categorical else (None, None)
        if legend == "auto":
            legend = categorical and len(labels) <= _MAX_LEGEND_LABELS
        if legend and not categorical:
            raise ValueError(
                "legend=True needs a categorical u (labels); this u is continuous: use "
                "legend='auto' or False for a colorbar."
            )
        colour = codes if categorical else u.astype(np.float64)
        cmap = cmap or ("tab10" if legend else "viridis")
        single = n_plotted == 2
        figure, axes = _axes_array(
            ax,
            1 if single else n_plotted**2,
            "LatentDisplay",
            nrows=1 if single else n_plotted,
            ncols=1 if single else n_plotted,
            figsize=(4.5, 4) if single else (2.4 * n_plotted, 2.2 * n_plotted),
            layout="constrained",
        )
        if not single:
            axes = axes.reshape(n_plotted, n_plotted)
        # Rows are often sorted by u: draw them in a random order, so that the
        # last label does not cover the others.
        order = np.random.RandomState(0).permutation(len(u))
        style = _merged({"s": 4, "alpha": 0.5, "linewidths": 0, "cmap": cmap}, scatter_kw)
        if legend:
            style.setdefault("vmin", 0)
            style.setdefault("vmax", max(len(labels) - 1, 1) if cmap != "tab10" else 9)
        pairs = [(1, 0)] if single else [(i, j) for i in range(n_plotted) for j in range(n_plotted)]
        self.scatters_ = []
        for i, j in pairs:
            ax_ij = axes[0, 0] if single else axes[i, j]
            if i == j:
                ax_ij.hist(latents[:, i], bins=40, color="0.5")
            else:
                self.scatters_.append(
                    ax_ij.scatter(latents[order, j], latents[order, i], c=colour[order], **style)
                )
            if single or i == n_plotted - 1:
                ax_ij.set_xlabel(names[j])
            if j == 0:
                ax_ij.set_ylabel(names[i] if i != j or single else f"{names[i]} (count)")
        self.legend_ = self.colorbar_ = None
        if legend:
            handles = _legend_handles(self.scatters_[0], range(len(labels)))
            texts = [str(label) for label in labels]
            if single:
                self.legend_ = axes[0, 0].legend(handles, texts, title="u", fontsize="small")
            else:
                constrained = type(figure.get_layout_engine()).__name__.startswith("Constrained")
                loc = "outside right upper" if constrained else "upper right"
                self.legend_ = figure.legend(handles, texts, title="u", loc=loc)
        else:
            self.colorbar_ = figure.colorbar(
                self.scatters_[0],
                ax=axes.ravel().tolist(),
                label="u (label index)" if categorical else "u",
            )
        self.ax_ = axes[0, 0] if single else None
        self.axes_ = axes
        self.figure_ = figure
        return self

    @classmethod
    def from_latents(cls, Z, y, *, components=None, ax=None, **plot_kw):
        """Plot given latents coloured by ``u``.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latents, e.g. ``model.transform(X)``.
        y : array-like of shape (n_samples,) or (n_samples, 1)
            The auxiliary variable ``u`` of each row (one column: to colour
            by one column of a multi-column ``u``, pass ``u[:, k]``).
        components : int, sequence of int or None, default=None
            Which components to draw: a sequence of columns of ``Z`` (two
            for one scatter, more for a grid), or an int ``k`` for the first
            ``k``. None draws the first two.
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; None makes a new figure.
        **plot_kw : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : LatentDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn_ivae.displays import LatentDisplay
        >>> rng = np.random.RandomState(0)
        >>> Z, u = rng.normal(size=(200, 4)), rng.uniform(size=200)
        >>> display = LatentDisplay.from_latents(Z, u, components=3)
        >>> display.axes_.shape, display.colorbar_ is not None
        ((3, 3), True)
        """
        Z = check_array(Z, input_name="Z")
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        check_consistent_length(Z, y)
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ValueError(
                    f"LatentDisplay colours by one variable; y has {y.shape[1]} columns. "
                    "Pass one of them, e.g. y[:, 0]."
                )
            y = y[:, 0]
        if components is None:
            components = [0, 1]
        elif isinstance(components, Integral):
            components = list(range(components))
        components = [int(c) for c in components]
        if len(components) < 2 or not all(0 <= c < Z.shape[1] for c in components):
            raise ValueError(
                f"components must name at least 2 columns of Z, each in [0, {Z.shape[1]}); "
                f"got {components}."
            )
        display = cls(Z[:, components], y, component_names=[f"latent {c}" for c in components])
        return display.plot(ax=ax, **plot_kw)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, components=None, ax=None, **plot_kw):
        """Plot a fitted estimator's latents of ``X`` coloured by ``u``.

        Parameters
        ----------
        estimator : estimator object
            A fitted transformer or Pipeline; its ``transform(X)`` is drawn.
        X : array-like of shape (n_samples, n_features)
            Data.
        y : array-like of shape (n_samples,) or (n_samples, 1)
            The auxiliary variable ``u`` of each row.
        components : int, sequence of int or None, default=None
            Which components to draw (see :meth:`from_latents`).
        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; None makes a new figure.
        **plot_kw : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : LatentDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.decomposition import PCA
        >>> from sklearn_ivae.displays import LatentDisplay
        >>> rng = np.random.RandomState(0)
        >>> X, u = rng.normal(size=(200, 3)), np.repeat(["a", "b"], 100)
        >>> display = LatentDisplay.from_estimator(PCA().fit(X), X, u)
        >>> display.ax_.get_xlabel()
        'latent 0'
        """
        return cls.from_latents(estimator.transform(X), y, components=components, ax=ax, **plot_kw)


def _legend_handles(mappable, codes):
    """One marker per label code, in the colour the scatter gives it."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], ls="", marker="o", markersize=6, color=mappable.to_rgba(code))
        for code in codes
    ]
