"""IdentifiableFlow: exactness, identifiability, the sklearn workflow, and errors."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import FastICA
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_ivae import IdentifiableFlow
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

FAST = {"hidden_layer_sizes": (16,), "n_transforms": 2, "max_epochs": 2, "batch_size": 64}


def make_problem(**kwargs):
    return make_nonlinear_ica(modulation="mean_variance", activation="xtanh", **kwargs)


@pytest.fixture(scope="module")
def tiny_problem():
    return make_problem(
        n_sources=2, n_segments=4, n_samples_per_segment=50, n_layers=2, random_state=0
    )


@pytest.fixture(scope="module")
def fitted_tiny(tiny_problem):
    X, _, u = tiny_problem
    return IdentifiableFlow(random_state=0, **FAST).fit(X, u)


def fastica_mcc(S, Z):
    return mean_corr_coef(S, FastICA(random_state=0, max_iter=1000).fit_transform(Z))


# ----------------------------------------------------------------- science
def test_recovers_sources_better_than_linear_ica():
    """The iFlow setting (uncentred means, xtanh mixing), small: three sources,
    two mixing layers. Measured: flow 0.95, FastICA 0.72; an unconditional
    prior or a broken flow stays near FastICA."""
    X, S, u = make_problem(
        n_sources=3, n_segments=20, n_samples_per_segment=300, n_layers=2, random_state=0
    )
    model = IdentifiableFlow(
        n_transforms=2, hidden_layer_sizes=(32, 32), max_epochs=20, batch_size=128, random_state=0
    ).fit(X, u)
    mcc = mean_corr_coef(S, model.transform(X))
    assert mcc >= 0.9
    assert mcc >= fastica_mcc(S, X) + 0.15


# ------------------------------------------------------------- exactness
def test_round_trip_is_exact(tiny_problem, fitted_tiny):
    X, _, _ = tiny_problem
    Z = fitted_tiny.transform(X)
    np.testing.assert_allclose(fitted_tiny.inverse_transform(Z), X, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        fitted_tiny.transform(fitted_tiny.inverse_transform(Z)), Z, atol=1e-9
    )


def test_round_trip_far_outside_the_spline_interval(tiny_problem, fitted_tiny):
    X, _, _ = tiny_problem
    far = 50 * X.std(axis=0) * np.array([[1.0, -1.0], [-3.0, 2.0]]) + X.mean(axis=0)
    Z = fitted_tiny.transform(far)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(fitted_tiny.inverse_transform(Z), far, rtol=1e-9, atol=1e-9)


def _numeric_log_abs_det(model, X, eps=1e-6):
    """log |det dz/dx| by central finite differences, in the units of X."""
    out = []
    for x in X:
        J = np.empty((len(x), len(x)))
        for j in range(len(x)):
            step = np.zeros_like(x)
            step[j] = eps * max(1.0, abs(x[j]))
            hi, lo = model.transform(np.array([x + step, x - step]))
            J[:, j] = (hi - lo) / (2 * step[j])
        out.append(np.linalg.slogdet(J)[1])
    return np.array(out)


def test_log_likelihood_is_the_change_of_variables(tiny_problem, fitted_tiny):
    X, _, u = tiny_problem
    X, u = X[::20], u[::20]
    Z = fitted_tiny.transform(X)
    module = fitted_tiny._inference_module()
    U = torch.as_tensor(fitted_tiny.aux_encoder_.transform(u), dtype=torch.float64)
    with torch.no_grad():
        loc, log_var = (t.numpy() for t in module.prior.params(U))
    log_prior = (-0.5 * (np.log(2 * np.pi) + log_var + (Z - loc) ** 2 / np.exp(log_var))).sum(1)
    expected = log_prior + _numeric_log_abs_det(fitted_tiny, X)
    np.testing.assert_allclose(fitted_tiny.score_samples(X, u), expected, atol=1e-5)
    assert fitted_tiny.score(X, u) == pytest.approx(expected.mean(), abs=1e-5)


def test_score_in_units_of_X(tiny_problem):
    X, _, u = tiny_problem
    a = IdentifiableFlow(random_state=0, **FAST).fit(X, u)
    b = IdentifiableFlow(random_state=0, **FAST).fit(1000 * X + 5, u)
    # Same fit on standardized data; densities differ by the Jacobian 1000^-d.
    assert b.score(1000 * X + 5, u) == pytest.approx(a.score(X, u) - 2 * np.log(1000), abs=1e-4)
    np.testing.assert_allclose(a.transform(X), b.transform(1000 * X + 5), rtol=1e-4, atol=1e-4)


def test_natural_parameters_keep_the_density_proper_with_free_means(fitted_tiny):
    module = fitted_tiny.net_.module_
    eta1, eta2 = module.natural_parameters(torch.eye(4))
    assert (eta2 < 0).all()
    loc, log_var = module.prior.params(torch.eye(4))
    torch.testing.assert_close(-eta1 / (2 * eta2), loc)
    torch.testing.assert_close(-1 / (2 * eta2), torch.exp(log_var))


def test_prior_means_take_both_signs():
    X, S, u = make_problem(
        n_sources=2, n_segments=8, n_samples_per_segment=100, n_layers=1, random_state=1
    )
    model = IdentifiableFlow(random_state=0, **{**FAST, "max_epochs": 10}).fit(X, u)
    loc, _ = model.net_.module_.prior.params(torch.eye(8))
    assert (loc < 0).any() and (loc > 0).any()


def test_partial_last_batch_and_batch_invariance(tiny_problem):
    X, _, u = tiny_problem
    # 200 samples, batch 64: the last batch has 8 rows (a fixed-size mask would crash).
    model = IdentifiableFlow(random_state=0, **{**FAST, "batch_size": 64}).fit(X, u)
    np.testing.assert_allclose(model.transform(X[:7]), model.transform(X)[:7], atol=1e-12)
    assert np.isfinite(model.score(X[:3], u[:3]))


def test_sample_follows_the_conditional_prior(fitted_tiny, tiny_problem):
    X, _, _ = tiny_problem
    X_new, Z_new = fitted_tiny.sample(50, y=2, random_state=0)
    assert X_new.shape == (50, 2) and Z_new.shape == (50, 2)
    np.testing.assert_allclose(fitted_tiny.transform(X_new), Z_new, atol=1e-9)
    again, _ = fitted_tiny.sample(50, y=2, random_state=0)
    np.testing.assert_array_equal(X_new, again)


# --------------------------------------------------- flow-specific options
# (the contract shared by every estimator is in test_contract.py)
def test_grid_search_over_spline_bins(tiny_problem):
    X, _, u = tiny_problem
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(IdentifiableFlow(random_state=0, **FAST), {"n_bins": [4, 8]}, cv=cv)
    search.fit(X, u)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_sample_with_continuous_auxiliary_variable(tiny_problem):
    X, _, labels = tiny_problem
    aux = np.c_[np.sin(labels), np.cos(labels)].astype(float)
    model = IdentifiableFlow(random_state=0, prior_mean=False, **FAST).fit(X, aux)
    assert model.sample(4, y=aux[:4], random_state=0)[0].shape == (4, 2)


def test_one_feature_and_no_linear_layers(tiny_problem):
    X, _, u = tiny_problem
    model = IdentifiableFlow(random_state=0, linear=False, **FAST).fit(X[:, :1], u)
    Z = model.transform(X[:, :1])
    np.testing.assert_allclose(model.inverse_transform(Z), X[:, :1], atol=1e-9)


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_bins": 1}, "'n_bins' parameter"),
        ({"bound": 0.0}, "'bound' parameter"),
        ({"n_transforms": 0}, "'n_transforms' parameter"),
    ],
)
def test_bad_parameters(tiny_problem, params, message):
    X, _, u = tiny_problem
    with pytest.raises(ValueError, match=message):
        IdentifiableFlow(**{**FAST, **params}).fit(X, u)


def test_flow_n_components_keeps_the_modulated_latents(tiny_problem):
    X, _, u = tiny_problem
    # Two extra features, noise that does not change with u.
    rng = np.random.default_rng(0)
    X4 = np.c_[X, rng.normal(size=(len(X), 2))]
    flow = IdentifiableFlow(n_components=2, random_state=0, **FAST).fit(X4, u)
    Z = flow.transform(X4)
    assert Z.shape == (len(X), 2) and flow.n_components_ == 2
    assert len(flow.latent_index_) == 2 and flow.get_feature_names_out().shape == (2,)
    # The kept latents are those whose prior log-variance spreads most over u.
    order = flow._latents_by_modulation()[0]
    np.testing.assert_array_equal(flow.latent_index_, np.sort(order[:2]))
    assert flow.inverse_transform(Z).shape == X4.shape
    assert flow.sample(5, np.zeros(5, dtype=int), random_state=0)[1].shape == (5, 2)
    # A mixture keeps the latents whose components differ most.
    mixture = IdentifiableFlow(n_components=2, prior="mixture", n_mixture_components=2, **FAST)
    assert mixture.fit(X4).transform(X4).shape == (len(X), 2)
    with pytest.raises(ValueError, match="at most n_features"):
        IdentifiableFlow(n_components=5, **FAST).fit(X4, u)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flow_n_components_keeps_the_sources(seed):
    # 2 sources in 4 features: the 2 kept latents match the sources better
    # than the 2 dropped ones (seeds 0-2: by 0.44-0.67 of MCC after 30
    # epochs; from the seeded random rotation 10 epochs are too few).
    X, S, u = make_nonlinear_ica(
        n_sources=2,
        n_features=4,
        n_segments=10,
        n_samples_per_segment=200,
        n_layers=2,
        random_state=seed,
    )
    flow = IdentifiableFlow(n_components=2, random_state=0, **{**FAST, "max_epochs": 30})
    kept = flow.fit(X, u).transform(X)
    every = flow._run_batched(
        lambda module, x: module.transform(x), flow._scale(X), out_dtype=float
    )
    dropped = np.setdiff1d(np.arange(4), flow.latent_index_)
    np.testing.assert_allclose(every[:, flow.latent_index_], kept)
    assert mean_corr_coef(S, kept) >= mean_corr_coef(S, every[:, dropped]) + 0.1


@pytest.mark.parametrize(
    "n_rows, epochs", [(200, 2000), (4000, 125), (24000, 30), (40000, 30), (1_000_000, 2)]
)
def test_auto_epochs_train_enough_steps_on_small_data(n_rows, epochs):
    # 30 epochs, at least 2,000 steps of 256 rows, at most 30 x 40,000 visits.
    model = IdentifiableFlow()
    model._resolve_options(n_rows, 5, incremental=False, continuing=False)
    assert model.max_epochs_ == epochs


def test_bad_input_after_fit(tiny_problem, fitted_tiny):
    X, _, u = tiny_problem
    name = "IdentifiableFlow"
    with pytest.raises(ValueError, match=f"X has 3 features, but {name} is expecting 2"):
        fitted_tiny.transform(np.c_[X, X[:, 0]])
    with pytest.raises(ValueError, match=f"Z has 3 columns, but {name} has n_components_=2"):
        fitted_tiny.inverse_transform(np.zeros((4, 3)))
    assert np.isfinite(fitted_tiny.score(X, np.full(len(X), 9)))  # an unseen segment
    with pytest.raises(ValueError, match="sample needs the auxiliary variable"):
        fitted_tiny.sample(3)
    with pytest.raises(ValueError, match="y has 2 rows, but n_samples=3"):
        fitted_tiny.sample(3, y=[0, 1])


# --------------------------------------------------- no u: a mixture prior
@pytest.fixture(scope="module")
def mixture_problem():
    from sklearn_ivae.datasets import make_mixture_latents

    return make_mixture_latents(n_samples=600, random_state=0)


@pytest.mark.parametrize("flow", ["spline", "piecewise_affine"])
def test_mixture_flow_score_is_the_mixture_density_by_change_of_variables(mixture_problem, flow):
    from scipy.stats import multivariate_normal

    X, _, _ = mixture_problem
    model = IdentifiableFlow(
        prior="mixture", n_mixture_components=3, flow=flow, random_state=0, **FAST
    ).fit(X)
    X = X[::30]
    Z = model.transform(X)
    density = sum(
        w * multivariate_normal(m, c).pdf(Z)
        for w, m, c in zip(
            model.mixture_weights_, model.mixture_means_, model.mixture_covariances_, strict=True
        )
    )
    expected = np.log(density) + _numeric_log_abs_det(model, X)
    np.testing.assert_allclose(model.score_samples(X), expected, atol=1e-5)
    np.testing.assert_allclose(model.inverse_transform(Z), X, atol=1e-8)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(1))


def test_mixture_flow_needs_no_u(mixture_problem):
    X, _, _ = mixture_problem
    model = IdentifiableFlow(prior="mixture", n_mixture_components=3, random_state=0, **FAST)
    assert not hasattr(IdentifiableFlow(), "predict")
    a = model.fit(X).transform(X)
    b = model.fit(X, np.arange(len(X)) % 4).transform(X)  # y is ignored
    np.testing.assert_array_equal(a, b)
    assert not hasattr(model, "classes_")
    X_new, Z_new = model.sample(5, random_state=0)
    assert X_new.shape == (5, 2) and Z_new.shape == (5, 2)


def test_piecewise_affine_flow_is_an_exact_bijection():
    from sklearn_ivae.nn.flow import make_piecewise_affine_flow

    torch.manual_seed(0)
    flow = make_piecewise_affine_flow(3, n_transforms=2).double()
    with torch.no_grad():  # move every parameter off the identity
        for parameter in flow.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    x = torch.randn(50, 3, dtype=torch.float64)
    z, ladj = flow().call_and_ladj(x)
    torch.testing.assert_close(flow().inv(z), x)
    jacobians = torch.func.vmap(torch.func.jacrev(lambda row: flow()(row)))(x)
    torch.testing.assert_close(ladj, torch.linalg.slogdet(jacobians)[1])
