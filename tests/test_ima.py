"""The IMA regime of a plain VAE: uniform prior and the decoder's Jacobian."""

import numpy as np
import pytest

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_mobius_ica, make_nonlinear_ica
from sklearn_ivae.metrics import ima_contrast, mean_corr_coef

FAST = {"hidden_layer_sizes": (16,), "max_epochs": 2}


@pytest.fixture(scope="module")
def mobius():
    return make_mobius_ica(n_samples=3000, random_state=0)


@pytest.fixture(scope="module")
def uniform_vae(mobius):
    X, _ = mobius
    return IVAE(
        prior="isotropic",
        posterior="diag",
        source_distribution="uniform",
        decoder_var=1e-3,
        max_epochs=8,
        random_state=0,
    ).fit(X)


def test_uniform_prior_recovers_mobius_sources(mobius, uniform_vae):
    X, S = mobius
    Z = uniform_vae.transform(X)
    assert ((Z > 0) & (Z < 1)).all()
    # Measured about 0.7-0.8 here; a VAE that ignores the data scores about 0.3.
    assert mean_corr_coef(S, Z) >= 0.6
    # The learned decoder is close to column-orthogonal at a small decoder variance.
    assert ima_contrast(uniform_vae.decoder_jacobian(Z)) < 0.2


def test_uniform_prior_samples_in_the_unit_cube(uniform_vae):
    X_new, Z_new = uniform_vae.sample(100, random_state=0)
    assert X_new.shape == (100, 3) and ((Z_new > 0) & (Z_new < 1)).all()


@pytest.mark.parametrize("source_distribution", ["gaussian", "uniform"])
def test_decoder_jacobian_matches_finite_differences(mobius, source_distribution):
    X, _ = mobius
    X = 10 * X[:300] + 3  # units other than 1, to check the scale is applied
    model = IVAE(prior="isotropic", source_distribution=source_distribution, random_state=0)
    model.set_params(**FAST).fit(X)
    Z = model.transform(X[:20])
    J = model.decoder_jacobian(Z)
    assert J.shape == (20, 3, 3)
    h = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        fd = (model.inverse_transform(Z + step) - model.inverse_transform(Z - step)) / (2 * h)
        np.testing.assert_allclose(J[:, :, j], fd, rtol=1e-5, atol=1e-6)


def test_decoder_jacobian_undercomplete():
    X, _, u = make_nonlinear_ica(
        n_sources=2, n_features=4, n_segments=4, n_samples_per_segment=50, random_state=0
    )
    model = IVAE(n_components=2, random_state=0, **FAST).fit(X, u)
    J = model.decoder_jacobian(model.transform(X))
    assert J.shape == (200, 4, 2) and J.dtype == np.float64
    with pytest.raises(ValueError, match="Z has 3 columns, but IVAE has n_components_=2"):
        model.decoder_jacobian(np.zeros((2, 3)))


def test_uniform_prior_needs_the_isotropic_prior(mobius):
    X, _ = mobius
    with pytest.raises(
        ValueError, match="got source_distribution='uniform'. .* use prior='isotropic'"
    ):
        IVAE(source_distribution="uniform", **FAST).fit(X, np.arange(len(X)) % 3)
