"""TCLNonlinearICA: recovery of the sources' sufficient statistics, and its options."""

import numpy as np
import pytest
from sklearn.decomposition import FastICA

from sklearn_ivae import TCLNonlinearICA
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

FAST = {"hidden_layer_sizes": (16,), "max_epochs": 2}


@pytest.fixture(scope="module")
def laplace_problem():
    """TCL paper's kind of data: variance-modulated Laplace sources, 2-layer mixing."""
    return make_nonlinear_ica(
        n_sources=3,
        n_segments=20,
        n_samples_per_segment=300,
        n_layers=2,
        source_distribution="laplace",
        random_state=0,
    )


@pytest.fixture(scope="module")
def fitted_tcl(laplace_problem):
    X, _, u = laplace_problem
    return TCLNonlinearICA(random_state=0).fit(X, u)


def fastica(Z):
    return FastICA(random_state=0, max_iter=1000).fit_transform(Z)


def test_features_recover_the_sources_sufficient_statistics(laplace_problem, fitted_tcl):
    X, S, u = laplace_problem
    mcc_tcl = mean_corr_coef(np.abs(S), fastica(fitted_tcl.transform(X)))
    # Linear ICA, given every chance: |.| of its estimates against |s|.
    mcc_linear = mean_corr_coef(np.abs(S), np.abs(fastica(X)))
    assert mcc_tcl >= 0.85
    assert mcc_tcl >= mcc_linear + 0.1


def test_gcl_with_a_continuous_auxiliary_variable(laplace_problem):
    X, S, u = laplace_problem
    # u as a continuous 2-D covariate: each segment at its own point on a circle.
    angle = 2 * np.pi * u / 20
    model = TCLNonlinearICA(random_state=0).fit(X, np.c_[np.cos(angle), np.sin(angle)])
    assert model.variant_ == "gcl"
    mcc = mean_corr_coef(np.abs(S), fastica(model.transform(X)))
    assert mcc >= 0.85
    assert mcc >= mean_corr_coef(np.abs(S), np.abs(fastica(X))) + 0.1


def test_score_is_the_held_out_classification_log_likelihood(laplace_problem, fitted_tcl):
    X, _, u = laplace_problem
    chance = np.log(1 / 20)
    assert fitted_tcl.score(X, u) > chance + 0.1
    # Scoring with the wrong segments must be worse than chance.
    assert fitted_tcl.score(X, np.roll(u, 300)) < chance
    # A score about u itself has no value without u: no score_samples(X),
    # which scikit-learn expects to work on X alone.
    assert not hasattr(fitted_tcl, "score_samples")


def test_inverse_transform_predicts_x_from_the_features(laplace_problem, fitted_tcl):
    """E[x | h(x)]: far from exact with |.| features (signs are lost), yet informative."""
    X, _, _ = laplace_problem
    X_rec = fitted_tcl.inverse_transform(fitted_tcl.transform(X))
    r2 = 1 - ((X - X_rec) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()
    assert 0.1 < r2 < 1


def test_weight_decay_spares_biases(laplace_problem):
    X, _, u = laplace_problem
    model = TCLNonlinearICA(weight_decay=1e-3, random_state=0, **FAST).fit(X[::30], u[::30])
    groups = model.net_.optimizer_.param_groups
    decays = sorted(group["weight_decay"] for group in groups)
    assert decays == [0.0, 1e-3]
    bias_group = next(group for group in groups if group["weight_decay"] == 0.0)
    assert all(p.ndim == 1 for p in bias_group["params"])


def test_maxout_doubles_the_affine_maps(laplace_problem):
    X, _, u = laplace_problem
    model = TCLNonlinearICA(hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    model.fit(X[::60], u[::60])
    assert model.net_.module_.feature_net[0].out_features == 16


def test_tcl_needs_categorical_u(laplace_problem):
    X, _, u = laplace_problem
    with pytest.raises(ValueError, match="variant='tcl' classifies segments"):
        TCLNonlinearICA(variant="tcl", **FAST).fit(X, u / 3.7)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"variant": "nce"}, "'variant' parameter"),
        ({"feature_nonlinearity": "relu"}, "'feature_nonlinearity' parameter"),
        ({"weight_decay": -1.0}, "'weight_decay' parameter"),
    ],
)
def test_bad_parameters(laplace_problem, params, message):
    X, _, u = laplace_problem
    with pytest.raises(ValueError, match=message):
        TCLNonlinearICA(**{**FAST, **params}).fit(X, u)
