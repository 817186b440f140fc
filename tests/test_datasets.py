import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from sklearn_ivae.datasets import (
    make_mixture_latents,
    make_mobius_ica,
    make_nonlinear_ica,
    make_segment_labels,
)
from sklearn_ivae.metrics import ima_contrast


def test_shapes_and_labels():
    X, S, u = make_nonlinear_ica(
        n_sources=3, n_features=6, n_segments=4, n_samples_per_segment=50, random_state=0
    )
    assert X.shape == (200, 6) and S.shape == (200, 3) and u.shape == (200,)
    np.testing.assert_array_equal(np.bincount(u), [50] * 4)


def test_reproducible_with_random_state():
    a = make_nonlinear_ica(n_segments=3, n_samples_per_segment=20, random_state=1)
    b = make_nonlinear_ica(n_segments=3, n_samples_per_segment=20, random_state=1)
    c = make_nonlinear_ica(n_segments=3, n_samples_per_segment=20, random_state=2)
    for x, y in zip(a, b, strict=False):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a[0], c[0])


@pytest.mark.parametrize("distribution", ["gaussian", "laplace"])
def test_segment_scales_in_range(distribution):
    _, S, u = make_nonlinear_ica(
        n_sources=2,
        n_segments=5,
        n_samples_per_segment=4000,
        source_distribution=distribution,
        random_state=0,
    )
    stds = np.array([S[u == k].std(axis=0) for k in range(5)])
    assert stds.min() > 0.45 and stds.max() < 3.1
    means = np.array([S[u == k].mean(axis=0) for k in range(5)])
    assert np.abs(means).max() < 0.15


def test_mean_modulation_moves_segment_means():
    _, S, u = make_nonlinear_ica(
        n_sources=2,
        n_segments=5,
        n_samples_per_segment=500,
        modulation="mean_variance",
        random_state=0,
    )
    means = np.array([S[u == k].mean(axis=0) for k in range(5)])
    assert np.abs(means).max() > 1.0


def test_one_layer_is_linear_and_deeper_is_not():
    X, S, _ = make_nonlinear_ica(
        n_sources=3, n_layers=1, n_segments=4, n_samples_per_segment=100, random_state=0
    )
    coef, residuals, *_ = np.linalg.lstsq(S, X, rcond=None)
    assert residuals.max() < 1e-20
    X, S, _ = make_nonlinear_ica(
        n_sources=3, n_layers=3, n_segments=4, n_samples_per_segment=100, random_state=0
    )
    _, residuals, *_ = np.linalg.lstsq(np.c_[S, np.ones(len(S))], X, rcond=None)
    assert residuals.max() > 1e-3


@pytest.mark.parametrize("activation", ["leaky_relu", "xtanh"])
def test_activations_and_noise(activation):
    X, *_ = make_nonlinear_ica(
        n_segments=2, n_samples_per_segment=50, noise_std=0.1, activation=activation, random_state=0
    )
    assert np.isfinite(X).all()


def test_bernoulli_observations_are_binary():
    X, *_ = make_nonlinear_ica(
        n_segments=2, n_samples_per_segment=50, observation="bernoulli", random_state=0
    )
    assert set(np.unique(X)) <= {0.0, 1.0}


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_features=2 must be at least n_sources=3"):
        make_nonlinear_ica(n_sources=3, n_features=2)
    with pytest.raises(ValueError, match="source_distribution"):
        make_nonlinear_ica(source_distribution="cauchy")
    with pytest.raises(ValueError, match="scale_range"):
        make_nonlinear_ica(scale_range=(2.0, 1.0))


def test_make_segment_labels():
    np.testing.assert_array_equal(make_segment_labels(5, 2), [0, 0, 1, 1, 2])


def test_mean_modulation_of_chosen_sources_only():
    _, S, u = make_nonlinear_ica(
        n_sources=3,
        n_segments=10,
        n_samples_per_segment=500,
        modulation="mean_variance",
        mean_modulated_sources=[1],
        random_state=0,
    )
    spread_of_means = np.array([S[u == k].mean(axis=0) for k in range(10)]).std(axis=0)
    assert spread_of_means[1] > 1.0
    assert (spread_of_means[[0, 2]] < 0.3).all()


def test_mobius_mixing_is_conformal_and_its_jacobian_is_right():
    X, S, J = make_mobius_ica(n_samples=20000, return_jacobians=True, random_state=0)
    assert abs(ima_contrast(J)) < 1e-10
    # First-order Taylor check between each point and its nearest neighbour.
    neighbours = NearestNeighbors(n_neighbors=2).fit(S)
    nearest = neighbours.kneighbors(S[:500], return_distance=False)[:, 1]
    dS, dX = S[nearest] - S[:500], X[nearest] - X[:500]
    predicted = np.einsum("nij,nj->ni", J[:500], dS)
    error = np.linalg.norm(dX - predicted, axis=1) / np.linalg.norm(dX, axis=1)
    assert np.median(error) < 0.05


def test_breaking_orthogonality_raises_the_ima_contrast():
    contrasts = [
        ima_contrast(
            make_mobius_ica(
                n_samples=200, non_orthogonality=t, return_jacobians=True, random_state=0
            )[2]
        )
        for t in (0.0, 0.3, 0.6)
    ]
    assert contrasts[0] < 1e-10 < contrasts[1] < contrasts[2]


@pytest.mark.parametrize("seed", range(5))
def test_mixture_components_are_not_degenerate(seed):
    # Each cluster's principal standard deviations lie in [0.5, 1.5]; a
    # near-singular covariance would make a cluster an almost flat line.
    _, Z, labels = make_mixture_latents(n_samples=20000, n_sources=3, random_state=seed)
    for k in np.unique(labels):
        stds = np.sqrt(np.linalg.eigvalsh(np.cov(Z[labels == k].T)))
        assert stds.min() > 0.4 and stds.max() < 1.7, stds


def test_mixture_log_density_of_a_linear_mixing_is_a_gaussian_mixtures():
    # One layer: X = Z A^T is itself a 3-component Gaussian mixture, whose
    # maximum-likelihood fit on many rows has (nearly) the true density. A
    # wrong sign of log |det A| (-0.09 nats here) shifts every row by 0.18.
    from sklearn.mixture import GaussianMixture

    X, _, _, log_density = make_mixture_latents(
        n_samples=50000, n_layers=1, random_state=0, return_log_density=True
    )
    fitted = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    difference = log_density - fitted.score_samples(X)
    assert np.abs(difference).mean() < 0.03  # measured 0.011
    assert np.corrcoef(log_density, fitted.score_samples(X))[0, 1] > 0.999


def test_mixture_log_density_beats_any_fitted_density():
    # No density has a higher expected log-likelihood than the true one (Gibbs'
    # inequality): on held-out rows the true log-density beats a Gaussian
    # mixture fitted to the training rows (measured 0.600 against 0.551). A
    # wrong sign of the mixing's log-determinant (-4.2 nats per row on
    # average here) fails this by far.
    from sklearn.mixture import GaussianMixture

    X, _, _, log_density = make_mixture_latents(
        n_samples=20000, random_state=1, return_log_density=True
    )
    train, test = slice(0, 10000), slice(10000, None)
    gmm = GaussianMixture(10, covariance_type="full", random_state=0).fit(X[train])
    assert log_density[test].mean() > gmm.score(X[test]) + 0.02
    with pytest.raises(ValueError, match="invertible mixing"):
        make_mixture_latents(n_features=3, return_log_density=True)


def test_deep_steep_mixture_mixing_is_far_from_affine():
    # Four layers of slope 0.1: the raw X is far from an affine map of the
    # latents (measured 0.63, 0.46, 0.61 on these seeds; 0.93-0.95 for the
    # default 3 layers of slope 0.2 on some draws), so that a model's gain
    # over X shows. Shapes and determinism of the deep setting as well.
    from sklearn_ivae.metrics import affine_r2_score

    scores = []
    for seed in range(3):
        X, Z, labels = make_mixture_latents(
            n_samples=1000, n_layers=4, slope=0.1, random_state=seed
        )
        assert X.shape == (1000, 2) and Z.shape == (1000, 2) and labels.shape == (1000,)
        again = make_mixture_latents(n_samples=1000, n_layers=4, slope=0.1, random_state=seed)
        for a, b in zip((X, Z, labels), again, strict=True):
            np.testing.assert_array_equal(a, b)
        scores.append(affine_r2_score(Z, X))
    assert max(scores) <= 0.8, scores


def test_mixture_draw_exposes_the_true_model():
    # The private draw behind make_mixture_latents returns the same rows and
    # the generating parameters: mixing X again from Z with them gives X.
    from sklearn_ivae.datasets import _draw_mixture_latents, _leaky_relu

    X, Z, labels, log_density = make_mixture_latents(
        n_samples=300, n_layers=3, random_state=4, return_log_density=True
    )
    X2, Z2, labels2, log_density2, model = _draw_mixture_latents(
        300, 2, 2, 3, 3, 3.0, 0.2, 4, with_log_density=True
    )
    for a, b in [(X, X2), (Z, Z2), (labels, labels2), (log_density, log_density2)]:
        np.testing.assert_array_equal(a, b)
    H = Z
    for A, kinks in zip(model["matrices"][:-1], model["kinks"], strict=True):
        H = _leaky_relu(H @ A.T - kinks, model["slope"])
    np.testing.assert_allclose(H @ model["matrices"][-1].T, X)
    assert model["covariances"].shape == (3, 2, 2) and model["weights"].shape == (3,)
