"""IVAE: identifiability on known sources, the sklearn workflow, and errors."""

import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import FastICA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

FAST = {"hidden_layer_sizes": (16,), "max_epochs": 2}


@pytest.fixture(scope="module")
def small_problem():
    """Three sources, 2-layer leaky-ReLU mixing: nonlinear enough that FastICA fails."""
    return make_nonlinear_ica(
        n_sources=3, n_segments=20, n_samples_per_segment=300, n_layers=2, random_state=3
    )


@pytest.fixture(scope="module")
def tiny_problem():
    return make_nonlinear_ica(
        n_sources=2, n_segments=4, n_samples_per_segment=50, n_layers=2, random_state=0
    )


# ----------------------------------------------------------------- science
@pytest.fixture(scope="module")
def fitted_on_small(small_problem):
    X, S, u = small_problem
    return IVAE(random_state=0).fit(X, u)


def fastica_mcc(S, Z):
    return mean_corr_coef(S, FastICA(random_state=0, max_iter=1000).fit_transform(Z))


def test_recovers_sources_better_than_linear_ica(small_problem, fitted_on_small):
    X, S, u = small_problem
    mcc_ivae = fastica_mcc(S, fitted_on_small.transform(X))
    assert mcc_ivae >= 0.9
    assert mcc_ivae >= fastica_mcc(S, X) + 0.1


def test_plain_vae_baseline_does_worse(small_problem, fitted_on_small):
    X, S, u = small_problem
    vae = IVAE(prior="isotropic", random_state=0).fit(X)
    mcc_ivae = fastica_mcc(S, fitted_on_small.transform(X))
    assert mcc_ivae >= fastica_mcc(S, vae.transform(X)) + 0.1


def test_latents_carry_the_sources(small_problem, fitted_on_small):
    """A floor that catches a broken model: the latents, unmixed linearly, match
    the sources at least as well as linear ICA on the raw data."""
    X, S, u = small_problem
    assert fastica_mcc(S, fitted_on_small.transform(X)) >= fastica_mcc(S, X) - 0.02


def test_learned_prior_tracks_true_segment_variances():
    X, S, u = make_nonlinear_ica(
        n_sources=3, n_segments=20, n_samples_per_segment=300, n_layers=1, random_state=0
    )
    model = IVAE(prior_mean=False, random_state=0).fit(X, u)
    learned = model.net_.module_.prior_net.net.weight.detach().numpy().T
    true = np.log([S[u == k].var(axis=0) for k in range(20)])
    # An unidentified (rotated) prior would score about 0.3-0.5 here.
    assert mean_corr_coef(true, learned) >= 0.6


def test_full_covariance_kl_matches_torch():
    from sklearn_ivae.nn.distributions import gaussian_kl_tril

    gen = torch.Generator().manual_seed(0)
    loc_q = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    raw = torch.randn(6, 3, 3, generator=gen, dtype=torch.float64)
    scale_tril = raw.tril(-1) + torch.diag_embed(torch.exp(torch.diagonal(raw, dim1=-2, dim2=-1)))
    loc_p = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    log_var_p = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    q = torch.distributions.MultivariateNormal(loc_q, scale_tril=scale_tril)
    p = torch.distributions.MultivariateNormal(loc_p, torch.diag_embed(torch.exp(log_var_p)))
    expected = torch.distributions.kl_divergence(q, p)
    torch.testing.assert_close(gaussian_kl_tril(loc_q, scale_tril, loc_p, log_var_p), expected)


def test_decoder_variance_is_annealed_to_decoder_var(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(decoder_var=1e-3, decoder_var_init=0.5, random_state=0, **FAST).fit(X, u)
    log_var = model.net_.module_.decoder_log_var.detach().numpy()
    np.testing.assert_allclose(log_var, np.log(1e-3), rtol=1e-6)


@pytest.mark.parametrize("lr_schedule", ["one_cycle", "constant"])
def test_mean_field_posterior_and_constant_lr(tiny_problem, lr_schedule):
    X, _, u = tiny_problem
    model = IVAE(
        posterior_covariance="diag", lr_schedule=lr_schedule, decoder_var_init=None, **FAST
    )
    model.fit(X, u)
    assert np.isfinite(model.transform(X)).all() and np.isfinite(model.score(X, u))


def test_inverse_transform_reconstructs(small_problem, fitted_on_small):
    X, _, _ = small_problem
    X_rec = fitted_on_small.inverse_transform(fitted_on_small.transform(X))
    r2 = 1 - ((X - X_rec) ** 2).sum() / ((X - X.mean(0)) ** 2).sum()
    assert r2 > 0.95


def test_sample_follows_the_conditional_prior(small_problem, fitted_on_small):
    X, _, u = small_problem
    X_new, Z_new = fitted_on_small.sample(2000, y=5, random_state=0)
    assert X_new.shape == (2000, X.shape[1]) and Z_new.shape == (2000, 3)
    # Samples from one segment match that segment's spread better than another's.
    spread = X_new.std(axis=0)
    own = np.abs(np.log(spread / X[u == 5].std(axis=0))).mean()
    others = [np.abs(np.log(spread / X[u == k].std(axis=0))).mean() for k in range(20)]
    assert own <= np.percentile(others, 25)


def test_score_prefers_the_right_segment(small_problem, fitted_on_small):
    X, _, u = small_problem
    right = fitted_on_small.score(X, u)
    wrong = fitted_on_small.score(X, np.roll(u, 1000))
    assert np.isfinite(right) and right > wrong


# -------------------------------------------------------- sklearn workflow
def test_pipeline_with_fastica_passes_u_as_y(tiny_problem):
    X, S, u = tiny_problem
    model = make_pipeline(IVAE(random_state=0, **FAST), FastICA(random_state=0))
    S_hat = model.fit_transform(X, u)
    assert S_hat.shape == (200, 2) and np.isfinite(S_hat).all()


def test_grid_search_with_default_score(tiny_problem):
    X, _, u = tiny_problem
    # Folds must share segments: the ELBO of a segment never seen in fit is undefined.
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(IVAE(random_state=0, **FAST), {"decoder_var": [1e-3, 1e-1]}, cv=cv)
    search.fit(X, u)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["decoder_var"] in (1e-3, 1e-1)


def test_pickle_round_trip(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(random_state=0, **FAST).fit(X, u)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.transform(X), loaded.transform(X))
    assert model.score(X, u) == loaded.score(X, u)


def test_random_state_makes_fits_bit_identical(tiny_problem):
    X, _, u = tiny_problem
    a = IVAE(random_state=7, **FAST).fit(X, u).transform(X)
    b = IVAE(random_state=7, **FAST).fit(X, u).transform(X)
    c = IVAE(random_state=8, **FAST).fit(X, u).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_torch_rng_alone(tiny_problem):
    X, _, u = tiny_problem
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    IVAE(random_state=0, **FAST).fit(X, u)
    np.testing.assert_array_equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "u",
    [
        pytest.param(lambda u: np.array([f"seg{k}" for k in u]), id="string-labels"),
        pytest.param(lambda u: np.c_[np.sin(u), np.cos(u)].astype(float), id="continuous-2d"),
        pytest.param(lambda u: u / 3.7, id="continuous-1d"),
    ],
)
def test_kinds_of_auxiliary_variable(tiny_problem, u):
    X, _, labels = tiny_problem
    aux = u(labels)
    model = IVAE(random_state=0, **FAST).fit(X, aux)
    assert np.isfinite(model.transform(X)).all()
    assert np.isfinite(model.score(X, aux))
    assert model.sample(4, y=aux[:4], random_state=0)[0].shape == (4, 2)


def test_categorical_u_records_classes(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(random_state=0, **FAST).fit(X, u)
    assert model.aux_kind_ == "categorical"
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3])


def test_isotropic_prior_ignores_y(tiny_problem):
    X, _, u = tiny_problem
    a = IVAE(prior="isotropic", random_state=0, **FAST).fit(X).transform(X)
    b = IVAE(prior="isotropic", random_state=0, **FAST).fit(X, u).transform(X)
    np.testing.assert_array_equal(a, b)


def test_laplace_prior_and_learned_decoder_variance(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(source_distribution="laplace", decoder_var="learn", random_state=0, **FAST)
    model.fit(X, u)
    assert np.isfinite(model.score(X, u))
    assert model.net_.module_.decoder_log_var.requires_grad


def test_bernoulli_observations():
    X, S, u = make_nonlinear_ica(
        n_sources=2,
        n_features=10,
        n_segments=4,
        n_samples_per_segment=50,
        observation="bernoulli",
        random_state=0,
    )
    model = IVAE(observation="bernoulli", n_components=2, random_state=0, **FAST).fit(X, u)
    probabilities = model.inverse_transform(model.transform(X))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    X_new, _ = model.sample(5, y=0, random_state=0)
    assert set(np.unique(X_new)) <= {0.0, 1.0}


def test_standardization_makes_units_irrelevant(tiny_problem):
    X, _, u = tiny_problem
    a = IVAE(random_state=0, **FAST).fit(X, u)
    b = IVAE(random_state=0, **FAST).fit(1000 * X + 5, u)
    np.testing.assert_allclose(a.transform(X), b.transform(1000 * X + 5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        1000 * a.inverse_transform(a.transform(X)) + 5,
        b.inverse_transform(b.transform(1000 * X + 5)),
        rtol=1e-4,
    )


def test_verbose_prints_epochs(tiny_problem, capsys):
    X, _, u = tiny_problem
    IVAE(verbose=1, random_state=0, **FAST).fit(X, u)
    out = capsys.readouterr().out
    assert "train_loss" in out and len(re.findall(r"^\s+2\s", out, flags=re.M)) == 1


def test_callbacks_pass_through_and_are_not_mutated(tiny_problem):
    X, _, u = tiny_problem

    class CountEpochs(Callback):
        def initialize(self):
            self.n_epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.n_epochs_ += 1

    counter = CountEpochs()
    model = IVAE(callbacks=[("count", counter)], random_state=0, **FAST).fit(X, u)
    assert dict(model.net_.callbacks_)["count"].n_epochs_ == 2
    assert not hasattr(counter, "n_epochs_")


# --------------------------------------------------------- divergence guard
class PoisonParameters(Callback):
    """Make the decoder's weights NaN at the start of the given epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) in self.epochs:
            with torch.no_grad():
                net.module_.decoder[0].weight.fill_(float("nan"))


def test_nan_loss_recovers_from_last_good_epoch(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(
        callbacks=[PoisonParameters({2})], random_state=0, hidden_layer_sizes=(16,), max_epochs=3
    )
    with pytest.warns(RuntimeWarning, match="restarting from the last good parameters"):
        model.fit(X, u)
    assert np.isfinite(model.transform(X)).all()


def test_persistent_nan_loss_raises_instead_of_returning_nan(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(
        callbacks=[PoisonParameters(set(range(1, 100)))],
        random_state=0,
        hidden_layer_sizes=(16,),
        max_epochs=10,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="stayed non-finite after 3 restarts"):
            model.fit(X, u)
    assert not hasattr(model, "net_")


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda X, u: (X, None), "requires y to be passed.*call fit\\(X, u\\)"),
        (lambda X, u: (np.where(np.eye(*X.shape) > 0, np.nan, X), u), "Input X contains NaN"),
        (lambda X, u: (np.where(np.eye(*X.shape) > 0, np.inf, X), u), "Input X contains inf"),
        (lambda X, u: (X[:1], u[:1]), "1 sample"),
        (lambda X, u: (X[:, 0], u), "Expected 2D array"),
        (lambda X, u: (X, u[:-1]), "inconsistent numbers of samples"),
        (lambda X, u: (X, np.where(np.arange(len(u)) == 3, np.nan, u / 3.7)), "y contains NaN"),
    ],
    ids=["missing-u", "nan", "inf", "one-sample", "1d-X", "u-length", "nan-u"],
)
def test_bad_fit_input(tiny_problem, make_args, message):
    X, _, u = tiny_problem
    with pytest.raises(ValueError, match=message):
        IVAE(**FAST).fit(*make_args(X, u))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_components": 3}, "n_components=3 must be at most n_features=2"),
        ({"prior": "gaussian"}, "'prior' parameter of IVAE must be a str among"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"decoder_var": -1.0}, "'decoder_var' parameter"),
        ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes must be a tuple of positive"),
        ({"observation": "bernoulli"}, "needs X with values in \\[0, 1\\]"),
    ],
)
def test_bad_parameters(tiny_problem, params, message):
    X, _, u = tiny_problem
    with pytest.raises(ValueError, match=message):
        IVAE(**{**FAST, **params}).fit(X, u)


def test_bad_input_after_fit(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(random_state=0, **FAST).fit(X, u)
    with pytest.raises(ValueError, match="X has 3 features, but IVAE is expecting 2"):
        model.transform(np.c_[X, X[:, 0]])
    with pytest.raises(ValueError, match="Z has 3 columns, but IVAE has n_components_=2"):
        model.inverse_transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="labels not seen during fit: \\[9\\]"):
        model.score(X, np.full(len(X), 9))
    with pytest.raises(ValueError, match="score needs the auxiliary variable"):
        model.score(X)
    with pytest.raises(ValueError, match="sample needs the auxiliary variable"):
        model.sample(3)
    with pytest.raises(ValueError, match="y has 2 rows, but n_samples=3"):
        model.sample(3, y=[0, 1])
