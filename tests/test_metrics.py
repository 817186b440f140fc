import numpy as np
import pytest

from sklearn_ivae.metrics import affine_r2_score, ima_contrast, linear_mcc, mean_corr_coef


@pytest.fixture
def sources():
    return np.random.RandomState(0).laplace(size=(2000, 4))


def test_mcc_invariant_to_permutation_sign_and_scale(sources):
    estimate = sources[:, [2, 0, 3, 1]] * np.array([-3.0, 0.5, 2.0, -1.0]) + 7
    assert mean_corr_coef(sources, estimate) == pytest.approx(1.0)


def test_mcc_low_for_unrelated_and_for_mixed(sources):
    other = np.random.RandomState(1).normal(size=sources.shape)
    assert mean_corr_coef(sources, other) < 0.1
    mixed = sources @ np.random.RandomState(2).normal(size=(4, 4))
    assert mean_corr_coef(sources, mixed) < 0.9
    assert linear_mcc(sources, mixed) == pytest.approx(1.0)
    assert affine_r2_score(sources, mixed) == pytest.approx(1.0)


def test_spearman_sees_through_monotone_maps(sources):
    warped = np.tanh(sources) ** 3
    assert mean_corr_coef(sources, warped, method="spearman") == pytest.approx(1.0)
    assert mean_corr_coef(sources, warped) < 0.99


def test_different_numbers_of_components(sources):
    assert mean_corr_coef(sources, sources[:, :2]) == pytest.approx(1.0)
    extra = np.c_[sources, np.random.RandomState(3).normal(size=(2000, 2))]
    assert mean_corr_coef(sources, extra) == pytest.approx(1.0)
    assert linear_mcc(sources, extra) == pytest.approx(1.0, abs=1e-6)


def test_constant_estimate_scores_zero(sources):
    assert mean_corr_coef(sources, np.ones((2000, 4))) == 0.0


def test_errors():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        mean_corr_coef(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="method"):
        mean_corr_coef(np.zeros((10, 2)), np.zeros((10, 2)), method="kendall")
    with pytest.raises(ValueError, match="NaN"):
        mean_corr_coef(np.full((10, 2), np.nan), np.zeros((10, 2)))


def test_ima_contrast_is_zero_for_orthogonal_columns_and_positive_otherwise():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 3)))
    scaled = Q * np.array([0.5, 2.0, 7.0])
    assert abs(ima_contrast(np.stack([scaled, 3 * Q]))) < 1e-12
    assert ima_contrast(rng.standard_normal((10, 4, 3))) > 0


@pytest.mark.parametrize(
    "jacobians, message",
    [
        (np.zeros((2, 3)), "shape \\(n_samples, n_features, n_components\\)"),
        (np.zeros((2, 2, 3)), "n_features >= n_components"),
        (np.full((1, 2, 2), np.nan), "NaN or infinity"),
        (np.zeros((1, 2, 2)), "singular"),
    ],
)
def test_ima_contrast_bad_input(jacobians, message):
    with pytest.raises(ValueError, match=message):
        ima_contrast(jacobians)
