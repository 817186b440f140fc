"""The displays: what they draw, with which artists, and their errors."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.decomposition import PCA, FastICA  # noqa: E402

from sklearn_ivae.displays import (  # noqa: E402
    ConsistencyDisplay,
    LatentDisplay,
    SourceRecoveryDisplay,
)
from sklearn_ivae.metrics import mean_corr_coef  # noqa: E402
from sklearn_ivae.model_selection import (  # noqa: E402
    ConsistencyResult,
    ShuffledAuxResult,
    fit_consistency,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def scores():
    return np.array([[1.0, 0.97, 0.9], [0.97, 1.0, 0.95], [0.9, 0.95, 1.0]])


# -- ConsistencyDisplay ----------------------------------------------------------


def test_consistency_display_artists(scores):
    display = ConsistencyDisplay(scores, chance_level=0.8, indeterminacy="affine").plot()
    assert isinstance(display.figure_, matplotlib.figure.Figure)
    assert isinstance(display.ax_, matplotlib.axes.Axes)
    assert isinstance(display.im_, matplotlib.image.AxesImage)
    assert display.text_.shape == (3, 3)
    assert display.text_[0, 1].get_text() == "0.97"
    assert display.ax_.get_title() == "mean 0.94, chance 0.80"
    assert "affine" in display.colorbar_.ax.get_ylabel()
    # The chance level is marked on the colorbar, inside its colour scale.
    assert display.chance_line_.get_ydata()[0] == pytest.approx(0.8)
    low, high = display.im_.get_clim()
    assert low < 0.8 and high == 1.0
    assert len(display.figure_.axes) == 2


def test_consistency_display_options(scores):
    fig, ax = plt.subplots()
    display = ConsistencyDisplay(scores).plot(
        ax=ax, include_values=False, colorbar=False, vmin=0.0, values_format=".1f"
    )
    assert display.ax_ is ax and display.figure_ is fig
    assert display.text_ is None and display.colorbar_ is None and display.chance_line_ is None
    assert display.ax_.get_title() == "mean 0.94"
    assert display.im_.get_clim() == (0.0, 1.0)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="square"):
        ConsistencyDisplay(scores[:2]).plot()


def _result(scores, chance_mean):
    return ConsistencyResult(
        scores=scores,
        mean=0.94,
        chance_scores=None,
        chance_mean=chance_mean,
        indeterminacy="permutation",
        random_states=np.arange(3),
    )


def test_consistency_display_from_results(scores):
    display = ConsistencyDisplay.from_result(_result(scores, 0.7), cmap="magma")
    assert display.chance_level == 0.7 and display.chance_label == "chance"
    assert display.im_.get_cmap().name == "magma"
    shuffled = ShuffledAuxResult(
        consistency=_result(scores, None),
        null_consistency_scores=np.stack([np.eye(3)] * 2),
        null_consistency=np.array([0.5, 0.7]),
        scores=None,
        null_scores=None,
        held_out=True,
    )
    display = ConsistencyDisplay.from_result(shuffled)
    assert display.chance_level == pytest.approx(0.6)
    assert "shuffled u 0.60" in display.ax_.get_title()
    # No chance level computed: nothing marked.
    display = ConsistencyDisplay.from_result(_result(scores, None))
    assert display.chance_line_ is None and "chance" not in display.ax_.get_title()
    with pytest.raises(TypeError, match="ConsistencyResult"):
        ConsistencyDisplay.from_result(scores)


def test_consistency_display_from_estimator():
    rng = np.random.RandomState(0)
    X = rng.laplace(size=(400, 3)) @ rng.normal(size=(3, 3))
    display = ConsistencyDisplay.from_estimator(
        FastICA(max_iter=1000), X, n_fits=4, subsample=0.5, random_state=0
    )
    expected = fit_consistency(FastICA(max_iter=1000), X, n_fits=4, subsample=0.5, random_state=0)
    np.testing.assert_allclose(display.scores, expected.scores)
    assert display.chance_level == pytest.approx(expected.chance_mean)
    assert display.text_.shape == (4, 4)


# -- SourceRecoveryDisplay -------------------------------------------------------


@pytest.fixture
def sources():
    rng = np.random.RandomState(0)
    S = rng.laplace(size=(500, 3))
    S_est = np.c_[-2 * S[:, 2], S[:, 0] + 0.5 * rng.normal(size=500), 3 * S[:, 1] + 1]
    return S, S_est


def test_source_recovery_matching_and_titles(sources):
    S, S_est = sources
    display = SourceRecoveryDisplay.from_predictions(S, S_est)
    np.testing.assert_array_equal(display.source_index, [0, 1, 2])
    np.testing.assert_array_equal(display.component_index, [1, 2, 0])
    assert display.mcc == pytest.approx(mean_corr_coef(S, S_est))
    assert display.correlations[1] == pytest.approx(1.0) and display.correlations[0] < 0.95
    # The matched components are put onto the sources' sign and scale.
    np.testing.assert_allclose(display.S_matched[:, 1], S[:, 1], atol=1e-10)
    np.testing.assert_allclose(display.S_matched[:, 2], S[:, 2], atol=1e-10)
    assert display.axes_.shape == (1, 3)
    assert len(display.scatters_) == 3 and len(display.lines_) == 3
    assert all(len(ax.collections) == 1 for ax in display.axes_.ravel())
    assert f"MCC {display.mcc:.3f}" == display.figure_.get_suptitle()
    titles = [ax.get_title() for ax in display.axes_.ravel()]
    assert titles[0] == f"source 0, component 1: |corr| {display.correlations[0]:.2f}"
    assert isinstance(display.figure_, matplotlib.figure.Figure)


def test_source_recovery_layout_and_given_axes(sources):
    S, S_est = sources
    display = SourceRecoveryDisplay.from_predictions(S, S_est, n_cols=2, diagonal=False)
    assert display.axes_.shape == (2, 2) and display.lines_ == []
    assert not display.axes_[1, 1].get_visible()
    fig, axes = plt.subplots(1, 3)
    display = SourceRecoveryDisplay.from_predictions(S, S_est, ax=axes, scatter_kw={"s": 10})
    assert display.figure_ is fig and list(display.axes_.ravel()) == list(axes)
    assert display.scatters_[0].get_sizes()[0] == 10
    with pytest.raises(ValueError, match="pass 3 Axes"):
        SourceRecoveryDisplay.from_predictions(S, S_est, ax=axes[:2])
    # Fewer estimated components than sources: only the matched pairs.
    display = SourceRecoveryDisplay.from_predictions(S, S_est[:, :2])
    assert display.axes_.size == 2
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SourceRecoveryDisplay.from_predictions(S, S_est[:-1])


def test_source_recovery_from_estimator():
    rng = np.random.RandomState(0)
    S = rng.laplace(size=(1000, 2))
    X = S @ rng.normal(size=(2, 2))
    ica = FastICA(random_state=0).fit(X)
    display = SourceRecoveryDisplay.from_estimator(ica, X, S)
    assert display.mcc == pytest.approx(mean_corr_coef(S, ica.transform(X)))
    assert display.mcc > 0.99
    assert "MCC" in display.figure_.get_suptitle()


# -- LatentDisplay ---------------------------------------------------------------


@pytest.fixture
def latents():
    rng = np.random.RandomState(0)
    u = np.repeat(np.arange(4), 50)
    return rng.normal(size=(200, 4)) * (1 + u[:, None]), u


def test_latent_display_pair_with_legend(latents):
    Z, u = latents
    display = LatentDisplay.from_latents(Z, u, components=[2, 0])
    assert display.axes_.shape == (1, 1) and display.ax_ is display.axes_[0, 0]
    assert len(display.scatters_) == 1 and len(display.ax_.collections) == 1
    assert display.ax_.get_xlabel() == "latent 2" and display.ax_.get_ylabel() == "latent 0"
    assert [t.get_text() for t in display.legend_.get_texts()] == ["0", "1", "2", "3"]
    assert display.colorbar_ is None
    # Drawn in a shuffled order, with the colour of each row's own u.
    offsets = display.scatters_[0].get_offsets()
    assert not np.array_equal(offsets[:, 0], Z[:, 2])
    np.testing.assert_allclose(np.sort(offsets[:, 0]), np.sort(Z[:, 2]))


def test_latent_display_grid_and_colorbar(latents):
    Z, u = latents
    display = LatentDisplay.from_latents(Z, u, components=3, legend=False)
    assert display.ax_ is None and display.axes_.shape == (3, 3)
    assert len(display.scatters_) == 6  # the off-diagonal panels; histograms on the diagonal
    assert display.colorbar_ is not None and display.legend_ is None
    assert "label index" in display.colorbar_.ax.get_ylabel()
    # A continuous u: a colorbar whatever the number of values.
    display = LatentDisplay.from_latents(Z, np.linspace(0, 1, 200))
    assert display.colorbar_.ax.get_ylabel() == "u"
    # String labels, with more labels than a legend holds: a colorbar.
    many = np.array([f"s{i}" for i in np.arange(200) % 20])
    display = LatentDisplay.from_latents(Z, many)
    assert display.legend_ is None and display.colorbar_ is not None


def test_latent_display_from_estimator_and_errors(latents):
    Z, u = latents
    pca = PCA(n_components=3).fit(Z)
    display = LatentDisplay.from_estimator(pca, Z, u.astype(str))
    np.testing.assert_allclose(
        np.sort(display.scatters_[0].get_offsets()[:, 0]), np.sort(pca.transform(Z)[:, 0])
    )
    fig, ax = plt.subplots()
    assert LatentDisplay.from_latents(Z, u, ax=ax).figure_ is fig
    with pytest.raises(ValueError, match="pass 9 Axes"):
        LatentDisplay.from_latents(Z, u, components=3, ax=ax)
    with pytest.raises(ValueError, match="at least 2 columns"):
        LatentDisplay.from_latents(Z, u, components=[0])
    with pytest.raises(ValueError, match="at least 2 columns"):
        LatentDisplay.from_latents(Z, u, components=[0, 4])
    with pytest.raises(ValueError, match="one of them"):
        LatentDisplay.from_latents(Z, np.c_[u, u])
    with pytest.raises(ValueError, match="categorical u"):
        LatentDisplay.from_latents(Z, np.linspace(0, 1, 200), legend=True)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LatentDisplay.from_latents(Z, u[:-1])
    with pytest.raises(ValueError, match="at least 2"):
        LatentDisplay(Z[:, :1], u).plot()
