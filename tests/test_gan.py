"""IVAEGAN: the adversarial term, its second optimizer, and what it buys."""

import numpy as np
import pytest
from sklearn.decomposition import FastICA
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_ivae import IVAE, IVAEGAN
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.gan import Discriminator
from sklearn_ivae.metrics import classifier_two_sample_score, mean_corr_coef

FAST = {"hidden_layer_sizes": (16,), "max_epochs": 2}


@pytest.fixture(scope="module")
def tiny_problem():
    return make_nonlinear_ica(
        n_sources=2, n_segments=4, n_samples_per_segment=50, n_layers=2, random_state=0
    )


@pytest.fixture(scope="module")
def small_problem():
    return make_nonlinear_ica(
        n_sources=3, n_segments=20, n_samples_per_segment=300, n_layers=2, random_state=3
    )


def sample_quality(model, X, u):
    X_new, _ = model.sample(len(X), y=u, random_state=1)
    return classifier_two_sample_score(X, X_new, random_state=0)


def test_adversarial_term_improves_samples_and_keeps_identifiability(small_problem):
    X, S, u = small_problem
    # The same random start for both: after the default flow start the
    # short stage leaves the samples where the flow start put them.
    ivae = IVAE(init="random", random_state=0).fit(X, u)
    gan = IVAEGAN(init="random", adversarial_weight=100.0, random_state=0).fit(X, u)
    # Out-of-fold AUC of a classifier telling real from sampled data: lower is
    # better. Measured: IVAE 0.665, IVAEGAN 0.604; without the adversarial
    # term (weight 0) the two are the same model.
    assert sample_quality(gan, X, u) <= sample_quality(ivae, X, u) - 0.03
    mcc = mean_corr_coef(S, FastICA(random_state=0, max_iter=1000).fit_transform(gan.transform(X)))
    assert mcc >= 0.9


def test_both_losses_are_logged_per_epoch(tiny_problem):
    X, _, u = tiny_problem
    history = IVAEGAN(random_state=0, **FAST).fit(X, u).net_.history
    for key in ("train_loss", "adversarial_loss", "discriminator_loss"):
        values = history[:, key]
        assert len(values) == 2 and np.isfinite(values).all()


def test_discriminator_has_its_own_module_and_optimizer(tiny_problem):
    X, _, u = tiny_problem
    model = IVAEGAN(discriminator=Discriminator(hidden_layer_sizes=(8,), lr=5e-4), **FAST)
    net = model.fit(X, u).net_
    assert net.discriminator_.net[0].out_features == 8
    assert net.optimizer_discriminator_.param_groups[0]["lr"] == 5e-4
    vae_params = {id(p) for group in net.optimizer_.param_groups for p in group["params"]}
    assert not vae_params & {id(p) for p in net.discriminator_.parameters()}


def test_grid_search_tunes_the_discriminator(tiny_problem):
    X, _, u = tiny_problem
    search = GridSearchCV(
        IVAEGAN(discriminator=Discriminator(), random_state=0, **FAST),
        {"discriminator__lr": [1e-4, 1e-3], "adversarial_weight": [1.0]},
        cv=StratifiedKFold(n_splits=2, shuffle=True, random_state=0),
    )
    search.fit(X, u)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.discriminator.lr in (1e-4, 1e-3)


def test_laplace_prior(tiny_problem):
    X, _, u = tiny_problem
    model = IVAEGAN(source_distribution="laplace", random_state=0, **FAST).fit(X, u)
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"observation": "bernoulli"}, "'observation' parameter of IVAEGAN"),
        ({"prior": "isotropic"}, "'prior' parameter of IVAEGAN"),
        ({"adversarial_weight": -1.0}, "'adversarial_weight' parameter"),
        ({"discriminator": "mlp"}, "'discriminator' parameter"),
        ({"discriminator": Discriminator(lr=0.0)}, "Discriminator lr must be positive"),
        ({"discriminator": Discriminator(activation="swish")}, "Discriminator activation"),
    ],
)
def test_bad_parameters(tiny_problem, params, message):
    X, _, u = tiny_problem
    with pytest.raises(ValueError, match=message):
        IVAEGAN(**{**FAST, **params}).fit(X, u)


def test_two_sample_score_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same number of columns"):
        classifier_two_sample_score(np.zeros((10, 2)), np.zeros((10, 3)))


def test_flow_init_starts_the_vae_and_trains_the_discriminator(tiny_problem):
    X, _, u = tiny_problem
    model = IVAEGAN(init="flow", random_state=0, **FAST).fit(X, u)
    assert model.init_flow_.n_components_ == X.shape[1]
    assert model.net_.lr == pytest.approx(5e-3)  # IVAE's rate after init='flow'
    assert IVAEGAN(random_state=0, **FAST).fit(X, u).net_.lr == pytest.approx(1e-3)
    assert np.isfinite(model.net_.history[-1, "discriminator_loss"])
    assert np.isfinite(model.transform(X)).all()


def test_init_auto_starts_from_a_flow(tiny_problem):
    # IVAE's start and noise model: the flow inside the encoder, a learned
    # decoder variance.
    X, _, u = tiny_problem
    model = IVAEGAN(random_state=0, **FAST).fit(X, u)
    assert model.init_ == "flow_encoder" and model.decoder_var_ == "learn"
    assert model.net_.module_.decoder_log_var.requires_grad
