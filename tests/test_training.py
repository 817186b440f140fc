"""The skorch side: callbacks follow scikit-learn's conventions, nets notify them."""

import inspect

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, GradientNormClipping

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae._training import (
    DecoderVarianceAnnealing,
    MixturePriorInit,
    NonFiniteLossGuard,
    ValidationEarlyStopping,
    one_cycle_schedule,
    start_from_latents,
)
from sklearn_ivae.gan import Discriminator
from sklearn_ivae.nn.ivae import IVAEModule

from .conftest import FAST

CALLBACKS = [
    NonFiniteLossGuard(max_restarts=2),
    ValidationEarlyStopping(patience=3, threshold=0.1, start_epoch=2),
    DecoderVarianceAnnealing(0.1, 1e-3, n_steps=10),
    MixturePriorInit(start_epoch=1, covariance="full"),
    one_cycle_schedule(1e-2, total_steps=100),
]


@pytest.mark.parametrize("callback", CALLBACKS, ids=lambda c: type(c).__name__)
def test_callbacks_show_only_their_parameters_and_clone(callback):
    callback.initialize()  # run-time state must not leak into get_params
    params = callback.get_params()
    signature = inspect.signature(type(callback).__init__).parameters
    named = {name for name, p in signature.items() if p.kind is p.POSITIONAL_OR_KEYWORD}
    extra = set(params) - (named - {"self"})
    # LRScheduler keeps its scheduler's keyword arguments as parameters.
    assert not extra or type(callback).__name__ == "LRScheduler", extra
    cloned = clone(callback)
    assert cloned.get_params() == params


class CountGradients(Callback):
    def initialize(self):
        self.calls_ = 0
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.calls_ += 1
        assert all(p.grad is not None for _, p in named_parameters)


@pytest.mark.parametrize("estimator", [IVAE(**FAST), IVAEGAN(**FAST)], ids=["IVAE", "IVAEGAN"])
def test_gradient_callbacks_are_notified(estimator, tiny_problem):
    X, _, u = tiny_problem
    counter = CountGradients()
    model = clone(estimator).set_params(
        random_state=0, callbacks=[counter, GradientNormClipping(gradient_clip_value=1e-3)]
    )
    model.fit(X, u)
    steps = FAST["max_epochs"] * int(np.ceil(len(X) / model.batch_size))
    calls = dict(model.net_.callbacks_)["CountGradients"].calls_
    # The VAE-GAN notifies after each of its two backward passes.
    assert calls == steps * (2 if isinstance(model, IVAEGAN) else 1)


def test_gradient_clipping_changes_the_vae_gan(tiny_problem):
    X, _, u = tiny_problem
    plain = IVAEGAN(random_state=0, **FAST).fit(X, u)
    clipped = IVAEGAN(
        random_state=0, callbacks=[GradientNormClipping(gradient_clip_value=1e-6)], **FAST
    ).fit(X, u)
    assert not np.allclose(plain.transform(X), clipped.transform(X))


# -- training length and the training step ---------------------------------------


@pytest.mark.parametrize(
    ("n_train", "epochs"),
    [(200, 50), (40_000, 50), (40_001, 50), (80_000, 25), (1_000_000, 2), (10**8, 1)],
)
def test_auto_epochs_cap_the_sample_visits(n_train, epochs):
    def resolved(n_components=None, **params):
        model = IVAE(n_components=n_components, **params)
        model._resolve_options(n_train, 5, incremental=False, continuing=False)
        return model.max_epochs_

    assert resolved(init="random") == epochs
    # After a flow start, a fifth (flow inside the encoder) or two fifths
    # ('flow', taken with fewer components than features).
    assert resolved() == max(1, round(epochs / 5))
    assert resolved(n_components=3) == max(1, round(2 * epochs / 5))
    assert resolved(max_epochs=7) == 7


def test_auto_epochs_are_the_fitted_epochs(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(init="random", hidden_layer_sizes=(8,), random_state=0).fit(X, u)
    assert model.max_epochs_ == 50 == model.n_iter_
    # The one-cycle schedule spans the resolved number of epochs.
    schedule = dict(model.net_.callbacks_)["one_cycle"]
    assert schedule.lr_scheduler_.total_steps == 50 * 4


def test_lean_training_step_notifies_only_callbacks_that_listen(tiny_problem):
    X, _, u = tiny_problem

    class CountGradients(Callback):
        def initialize(self):
            self.calls_ = 0
            return self

        def on_grad_computed(self, net, named_parameters, **kwargs):
            assert all(p.grad is not None for _, p in named_parameters)
            self.calls_ += 1

    counter = CountGradients()
    model = IVAE(**FAST, callbacks=[counter], random_state=0).fit(X, u)
    assert dict(model.net_.callbacks_)["CountGradients"].calls_ == 2 * 4
    # Same numbers as a fit without the listener: it only watched.
    plain = IVAE(**FAST, random_state=0).fit(X, u)
    np.testing.assert_array_equal(model.transform(X), plain.transform(X))


# -- warm_start -------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [IVAE(**FAST), IVAEGAN(**FAST)], ids=["IVAE", "IVAEGAN"])
def test_warm_start_continues_the_fitted_network(estimator, tiny_problem):
    X, _, u = tiny_problem
    # From a flow start (the default), with no annealing, so that the losses
    # of all epochs are of the same objective.
    model = clone(estimator).set_params(warm_start=True, random_state=0).fit(X, u)
    first_curve, first_score = list(model.loss_curve_), model.score(X, u)
    model.fit(X, u)
    assert model.n_iter_ == 4 and model.loss_curve_[:2] == first_curve
    # It starts where the first fit ended, not from scratch: its first epoch is
    # already better than the first fit's first epoch, and it ends better.
    assert model.loss_curve_[2] < first_curve[0]
    assert model.score(X, u) > first_score
    # Without warm_start a refit starts over.
    model.set_params(warm_start=False).fit(X, u)
    assert model.n_iter_ == 2 and model.loss_curve_ == first_curve


def test_warm_start_keeps_the_first_fits_scaling_and_checks_what_changed(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(**FAST, warm_start=True, random_state=0).fit(X, u)
    mean = model.x_mean_.copy()
    model.fit(X + 10.0, u)
    np.testing.assert_array_equal(model.x_mean_, mean)
    with pytest.raises(ValueError, match=r"changed since it was fitted: \['hidden_layer_sizes'\]"):
        model.set_params(hidden_layer_sizes=(8,)).fit(X, u)
    model.set_params(hidden_layer_sizes=FAST["hidden_layer_sizes"])
    with pytest.raises(ValueError, match="labels not seen during fit"):
        model.fit(X, np.full(len(X), 99))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.fit(np.c_[X, X[:, 0]], u)
    assert clone(model).set_params(warm_start=False).fit(X, u).n_iter_ == 2
    with pytest.raises(ValueError, match=r"\['early_stopping'\]"):
        model.set_params(early_stopping=True).fit(X, u)
    gan = IVAEGAN(**FAST, warm_start=True, random_state=0).fit(X, u)
    with pytest.raises(ValueError, match=r"\['hidden_layer_sizes'\]"):
        gan.set_params(discriminator=Discriminator(hidden_layer_sizes=(4,))).fit(X, u)


# -- partial_fit ------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        # A learned variance: no annealing, one objective throughout.
        IVAE(**FAST, decoder_var="learn"),
        IVAEGAN(**FAST, decoder_var="learn"),
        IdentifiableFlow(**FAST),
        TCLNonlinearICA(**FAST),
    ],
    ids=["IVAE", "IVAEGAN", "IdentifiableFlow", "TCL"],
)
def test_partial_fit_trains_one_epoch_per_call_and_continues(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = clone(estimator).set_params(random_state=0, lr=1e-2)
    for _ in range(4):
        model.partial_fit(X, u)
    assert model.n_iter_ == 4 and len(model.loss_curve_) == 4
    # One network throughout: a call that started over would begin where
    # the first did.
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    # Reproducible: the same calls, the same model.
    again = clone(estimator).set_params(random_state=0, lr=1e-2)
    for _ in range(4):
        again.partial_fit(X, u)
    np.testing.assert_array_equal(model.transform(X), again.transform(X))


def test_partial_fit_after_fit_continues_the_fitted_network(tiny_problem):
    X, _, u = tiny_problem
    # From a random start, so that the first epochs still improve.
    model = IVAE(**FAST, init="random", decoder_var="learn", random_state=0).fit(X, u)
    fit_curve = list(model.loss_curve_)
    model.partial_fit(X, u)
    assert model.n_iter_ == 3 and model.loss_curve_[:2] == fit_curve
    assert model.loss_curve_[2] < fit_curve[0]
    # fit starts over.
    assert model.fit(X, u).loss_curve_ == fit_curve
    # Each call trains at the estimator's current lr.
    model.set_params(lr=1e-4).partial_fit(X, u)
    assert model.net_.optimizer_.param_groups[0]["lr"] == 1e-4


def test_partial_fit_runs_the_warm_up_over_the_first_calls(tiny_problem):
    X, _, u = tiny_problem
    # max_epochs=4: the decoder variance anneals, and a mixture prior
    # pretrains, over the first 2 epochs of training, here 2 calls.
    model = IVAE(**{**FAST, "max_epochs": 4}, random_state=0).partial_fit(X, u)
    annealing = dict(model.net_.callbacks_)["decoder_var_annealing"]
    steps_per_epoch = int(np.ceil(len(X) / model.batch_size))
    assert annealing.step_ == steps_per_epoch
    # Between calls the model has its target variance (decoder_var='auto' is
    # 1e-3 from partial_fit's random start).
    np.testing.assert_allclose(model.net_.module_.decoder_log_var.exp(), 1e-3, rtol=1e-6)
    model.partial_fit(X, u)
    assert annealing.step_ == 2 * steps_per_epoch

    mixture = IVAE(**{**FAST, "max_epochs": 4}, prior="mixture", n_mixture_components=2)
    mixture.set_params(random_state=0).partial_fit(X)
    assert bool(mixture.net_.module_.prior.pretraining)
    mixture.partial_fit(X)
    assert not bool(mixture.net_.module_.prior.pretraining)
    assert mixture.predict(X).shape == (len(X),)


def test_partial_fit_on_chunks_needs_every_label_first(tiny_problem):
    X, _, u = tiny_problem
    first, later = u < 2, u >= 2
    model = IVAE(**FAST, random_state=0).partial_fit(X[first], u[first], classes=np.unique(u))
    model.partial_fit(X[later], u[later])
    np.testing.assert_array_equal(model.aux_encoder_.counts_, np.bincount(u))
    assert np.isfinite(model.score(X)) and np.isfinite(model.score(X, u))
    # The first chunk fixes the standardization of X.
    np.testing.assert_allclose(model.x_mean_, X[first].mean(axis=0))

    fresh = IVAE(**FAST, random_state=0).partial_fit(X[first], u[first])
    with pytest.raises(ValueError, match="as classes in the first call to partial_fit"):
        fresh.partial_fit(X[later], u[later])
    with pytest.raises(ValueError, match="not in classes"):
        IVAE(**FAST).partial_fit(X, u, classes=[0, 1])
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(np.c_[X, X[:, 0]], u)
    with pytest.raises(ValueError, match=r"changed since it was fitted: \['hidden_layer_sizes'\]"):
        model.set_params(hidden_layer_sizes=(8,)).partial_fit(X, u)


# ------------------------------------------------------ start from latents
def _linear_gaussian_latents():
    """Segment-modulated latents seen through a linear mixing plus noise of variance 0.01."""
    rng = np.random.default_rng(0)
    n_segments, n_per, d = 4, 500, 3
    segment = np.repeat(np.arange(n_segments), n_per)
    means = rng.normal(size=(n_segments, d))
    scales = rng.uniform(0.5, 2.0, size=(n_segments, d))
    z = (means[segment] + scales[segment] * rng.normal(size=(len(segment), d))).astype(np.float32)
    mixing = rng.normal(size=(d, d)) + 2 * np.eye(d)
    x = (z @ mixing.T + 0.1 * rng.normal(size=z.shape)).astype(np.float32)
    u = np.eye(n_segments, dtype=np.float32)[segment]
    return x, z, u, segment, mixing


def _started_module(x, z, u, **module_params):
    with torch.random.fork_rng():  # seeded, without touching other tests' state
        torch.manual_seed(0)
        n_aux = u.shape[1]
        module = IVAEModule(3, 3, n_aux=n_aux, aux_kind="categorical", **module_params)
        start_from_latents(module, x, u, z, n_steps=1500)
    return module


def test_start_from_latents_moves_the_module_to_them():
    # After the start, the encoder returns the latents, the decoder maps them
    # back, the prior table holds each segment's means and log-variances, and
    # the learned noise variance is the decoder's residual variance (the
    # noise's variance is 0.01).
    x, z, u, segment, _ = _linear_gaussian_latents()
    n_segments = u.shape[1]
    module = _started_module(x, z, u, decoder_var="learn")
    with torch.no_grad():
        location = module.latents(torch.as_tensor(x)).numpy()
        decoded = module.decode(torch.as_tensor(z)).numpy()
        loc, log_var = module.prior.params(torch.eye(n_segments))
    assert np.mean((location - z) ** 2) < 0.05 * z.var()
    assert np.mean((decoded - x) ** 2) < 0.02
    # The maximum-likelihood prior: each segment's sample means and variances.
    sample_means = np.stack([z[segment == k].mean(0) for k in range(n_segments)])
    sample_vars = np.stack([z[segment == k].var(0) for k in range(n_segments)])
    np.testing.assert_allclose(loc.numpy(), sample_means, atol=0.1)
    np.testing.assert_allclose(log_var.numpy(), np.log(sample_vars), atol=0.1)
    noise_var = torch.exp(module.decoder_log_var).detach().numpy()
    np.testing.assert_allclose(noise_var, np.mean((decoded - x) ** 2, axis=0), rtol=1e-4)
    assert (noise_var < 0.02).all()


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_start_from_latents_gives_the_posterior_the_models_spread(covariance):
    # For a linear mixing A with noise variance s2 the model's posterior is
    # Gaussian with precision A^T A / s2 + the prior's precision: about 0.03
    # in standard deviation here, where a random encoder starts near 1. The
    # mean-field posterior's variances are 1 / the precision's diagonal.
    x, z, u, _, mixing = _linear_gaussian_latents()
    module = _started_module(x, z, u, decoder_var=0.01, posterior_covariance=covariance)
    with torch.no_grad():
        _, log_var = module.prior.params(torch.as_tensor(u))
        posterior = module.posterior(torch.as_tensor(x))
    prior_precision = np.exp(-log_var.numpy())[:, :, None] * np.eye(3)
    precision = mixing.T @ mixing / 0.01 + prior_precision
    if covariance == "full":
        scale = posterior.scale_tril.numpy()
        fitted = np.median(scale @ scale.transpose(0, 2, 1), axis=0)
        exact = np.median(np.linalg.inv(precision), axis=0)
        assert np.linalg.norm(fitted - exact) < 0.15 * np.linalg.norm(exact)
    else:
        fitted = np.median(np.exp(posterior.log_var.numpy()), axis=0)
        exact = np.median(1 / np.diagonal(precision, axis1=1, axis2=2), axis=0)
        np.testing.assert_allclose(fitted, exact, rtol=0.15)
