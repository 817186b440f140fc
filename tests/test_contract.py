"""The estimator contract of DESIGN.md, checked on every estimator.

Model-specific behaviour (identifiability, scores, sampling) lives in the
per-estimator test modules; this one checks what every estimator promises a
scikit-learn user: u as y, pipelines, search, pickling, reproducibility,
units, callbacks, the divergence guard and the errors on bad input.
"""

import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.decomposition import FastICA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags
from skorch.callbacks import Callback

from sklearn_ivae import IVAE, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae import _base as base
from sklearn_ivae._training import fitting
from sklearn_ivae.nn.flow import IdentifiableFlowModule

from .conftest import CONFIGURATIONS, FAST
from .conftest import CONTRACT_ESTIMATORS as ESTIMATORS


def needs_u(estimator):
    return get_tags(estimator).target_tags.required


def skip_unless_needs_u(estimator):
    """Checks of how u is read and validated apply only to models that use it."""
    if not needs_u(estimator):
        pytest.skip(f"{estimator!r} ignores y (does not need u)")


def fitted(estimator, X, u, **params):
    return clone(estimator).set_params(**{"random_state": 0, **params}).fit(X, u)


# -------------------------------------------------------- sklearn workflow
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_pipeline_with_fastica_passes_u_as_y(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = make_pipeline(clone(estimator).set_params(random_state=0), FastICA(random_state=0))
    S_hat = model.fit_transform(X, u)
    assert S_hat.shape == (200, 2) and np.isfinite(S_hat).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_grid_search_with_default_score(estimator, tiny_problem):
    X, _, u = tiny_problem
    # Folds must share segments: a segment never seen in fit cannot be scored.
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(clone(estimator).set_params(random_state=0), {"lr": [1e-3, 1e-2]}, cv=cv)
    search.fit(X, u)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["lr"] in (1e-3, 1e-2)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_pickle_round_trip(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = fitted(estimator, X, u)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(model.transform(X), loaded.transform(X))
    assert model.score(X, u) == loaded.score(X, u)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_random_state_makes_fits_bit_identical(estimator, tiny_problem):
    X, _, u = tiny_problem
    a = fitted(estimator, X, u, random_state=7).transform(X)
    b = fitted(estimator, X, u, random_state=7).transform(X)
    c = fitted(estimator, X, u, random_state=8).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_fit_leaves_global_torch_rng_alone(estimator, tiny_problem):
    X, _, u = tiny_problem
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fitted(estimator, X, u)
    np.testing.assert_array_equal(torch.rand(3), expected)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "u",
    [
        pytest.param(lambda u: np.array([f"seg{k}" for k in u]), id="string-labels"),
        pytest.param(lambda u: np.c_[np.sin(u), np.cos(u)].astype(float), id="continuous-2d"),
        pytest.param(lambda u: u / 3.7, id="continuous-1d"),
    ],
)
def test_kinds_of_auxiliary_variable(estimator, tiny_problem, u):
    X, _, labels = tiny_problem
    aux = u(labels)
    model = fitted(estimator, X, aux)
    assert np.isfinite(model.transform(X)).all()
    assert np.isfinite(model.score(X, aux))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_categorical_u_records_classes(estimator, tiny_problem):
    skip_unless_needs_u(estimator)
    X, _, u = tiny_problem
    model = fitted(estimator, X, u)
    assert model.aux_kind_ == "categorical"
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3])


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_standardization_makes_units_irrelevant(estimator, tiny_problem):
    X, _, u = tiny_problem
    a = fitted(estimator, X, u)
    b = fitted(estimator, 1000 * X + 5, u)
    np.testing.assert_allclose(a.transform(X), b.transform(1000 * X + 5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        1000 * a.inverse_transform(a.transform(X)) + 5,
        b.inverse_transform(b.transform(1000 * X + 5)),
        rtol=1e-4,
    )


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_verbose_prints_epochs_and_a_progress_bar(estimator, tiny_problem, capsys):
    X, _, u = tiny_problem
    model = fitted(estimator, X, u, verbose=1)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out
    # One log per stage: a flow start's flow has its own.
    stages = 1 + hasattr(model, "init_flow_")
    assert len(re.findall(r"^\s+2\s", captured.out, flags=re.M)) == stages
    assert "it/s" in captured.err or "|" in captured.err  # tqdm's bar
    fitted(estimator, X, u, verbose=0)
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------- restarts
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_n_init_keeps_the_restart_with_the_lowest_final_loss(estimator, tiny_problem, monkeypatch):
    X, _, u = tiny_problem
    trained, ranks = [], iter([3.0, 1.0, 2.0])
    train = fitting.train

    def train_and_rank(net, *args, **kwargs):
        loss = train(net, *args, **kwargs)
        assert np.isfinite(loss)  # the objective of the trained module
        if isinstance(net.module_, IdentifiableFlowModule) and not isinstance(
            estimator, IdentifiableFlow
        ):
            return loss  # a flow that the restarts start from
        trained.append(net)
        return next(ranks)

    monkeypatch.setattr(fitting, "train", train_and_rank)
    model = fitted(estimator, X, u, n_init=3)
    assert len(trained) == 3 and model.net_ is trained[1]
    first, second = (next(net.module_.parameters()).detach() for net in trained[:2])
    assert not torch.equal(first, second)  # restarts start from different seeds


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_n_init_is_reproducible_and_reports_each_restart(estimator, tiny_problem, capsys):
    X, _, u = tiny_problem
    a = fitted(estimator, X, u, n_init=2, verbose=1)
    assert "Initialization 2/2" in capsys.readouterr().out
    b = fitted(estimator, X, u, n_init=2)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


# --------------------------------------------------------- early stopping
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_early_stopping_stops_after_patience(estimator, tiny_problem, monkeypatch):
    X, _, u = tiny_problem
    # No epoch can improve the validation loss by 1e6 nats: training stops
    # the patience's 2 epochs after the first watched one.
    monkeypatch.setattr(base, "EARLY_STOPPING_TOL", 1e6)
    monkeypatch.setattr(base, "EARLY_STOPPING_PATIENCE", 2)
    model = fitted(estimator, X, u, max_epochs=20, early_stopping=True)
    assert model.n_iter_ == model._warmup_epochs + 3
    assert np.isfinite(model.net_.history[:, "valid_loss"]).all()
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_early_stopping_holds_out_a_seeded_split(estimator, tiny_problem):
    X, _, u = tiny_problem
    params = {"early_stopping": 0.2, "max_epochs": 1}
    a, b = fitted(estimator, X, u, **params), fitted(estimator, X, u, **params)
    valid = a.net_.train_split.valid_indices
    train = a.net_.train_split.train_indices
    assert len(valid) == 40 and len(train) == 160
    assert np.array_equal(np.sort(np.concatenate([train, valid])), np.arange(200))
    np.testing.assert_array_equal(valid, b.net_.train_split.valid_indices)
    if needs_u(estimator):  # stratified by segment: 10 rows of each of the 4
        assert np.array_equal(np.bincount(u[valid]), [10, 10, 10, 10])
    other = fitted(estimator, X, u, **params, random_state=1)
    assert not np.array_equal(valid, other.net_.train_split.valid_indices)


def test_early_stopping_ignores_the_decoder_variance_annealing(tiny_problem, monkeypatch):
    X, _, u = tiny_problem
    # The annealing is that of a random start; a patience of one epoch would
    # stop it at once if its rising loss were watched.
    monkeypatch.setattr(base, "EARLY_STOPPING_PATIENCE", 1)
    model = fitted(IVAE(init="random", **FAST), X, u, max_epochs=10, early_stopping=True)
    assert model._warmup_epochs == 5
    assert model.n_iter_ >= 7
    no_annealing = fitted(clone(model), X, u, decoder_var="learn")
    assert no_annealing._warmup_epochs == 0


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_early_stopping_needs_rows_to_train_on(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = clone(estimator).set_params(early_stopping=0.9)
    rows = [0, 50, 100]  # three segments: a single one is refused first
    with pytest.raises(ValueError, match="fraction 0.9 of the 3 samples"):
        model.fit(X[rows], u[rows])


class CountEpochs(Callback):
    def initialize(self):
        self.n_epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.n_epochs_ += 1


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_callbacks_pass_through_and_are_not_mutated(estimator, tiny_problem):
    X, _, u = tiny_problem
    counter = CountEpochs()
    model = fitted(estimator, X, u, callbacks=[("count", counter)])
    assert dict(model.net_.callbacks_)["count"].n_epochs_ == 2
    assert not hasattr(counter, "n_epochs_")


# --------------------------------------------------------- divergence guard
class PoisonParameters(Callback):
    """Make the module's first weight matrix NaN at the start of the given epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) in self.epochs:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_nan_loss_recovers_from_last_good_epoch(estimator, tiny_problem):
    X, _, u = tiny_problem
    with pytest.warns(RuntimeWarning, match="restarting from the last good parameters"):
        model = fitted(estimator, X, u, callbacks=[PoisonParameters({2})], max_epochs=3)
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_persistent_nan_loss_raises_instead_of_returning_nan(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = clone(estimator).set_params(
        callbacks=[PoisonParameters(set(range(1, 100)))], random_state=0, max_epochs=10
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="stayed non-finite after 3 restarts"):
            model.fit(X, u)
    assert not hasattr(model, "net_")


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("estimator", ESTIMATORS)
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
def test_bad_fit_input(estimator, tiny_problem, make_args, message):
    if message.startswith(("requires y", "inconsistent", "y contains")):
        skip_unless_needs_u(estimator)
    X, _, u = tiny_problem
    with pytest.raises(ValueError, match=message):
        clone(estimator).fit(*make_args(X, u))


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_components": 3}, "n_components=3 must be at most n_features=2"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"lr": -1.0}, "'lr' parameter"),
        ({"n_init": 0}, "'n_init' parameter"),
        ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes must be a tuple of positive"),
    ],
)
def test_bad_parameters(estimator, tiny_problem, params, message):
    X, _, u = tiny_problem
    if not all(key in estimator.get_params() for key in params):
        pytest.skip(f"{type(estimator).__name__} has no {list(params)} parameter")
    with pytest.raises(ValueError, match=message):
        clone(estimator).set_params(**params).fit(X, u)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_bad_input_after_fit(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = fitted(estimator, X, u)
    name = type(model).__name__
    with pytest.raises(ValueError, match=f"X has 3 features, but {name} is expecting 2"):
        model.transform(np.c_[X, X[:, 0]])
    with pytest.raises(ValueError, match=f"Z has 3 columns, but {name} has n_components_=2"):
        model.inverse_transform(np.zeros((4, 3)))
    if isinstance(model, TCLNonlinearICA):  # its score is about u itself
        with pytest.raises(ValueError, match="labels not seen during fit: \\[9\\]"):
            model.score(X, np.full(len(X), 9))
        with pytest.raises(ValueError, match="folds that share segments"):
            model.score(X, np.full(len(X), 9))
        with pytest.raises(ValueError, match="score needs the auxiliary variable"):
            model.score(X)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_score_without_u_is_the_marginal_over_the_u_seen_in_fit(estimator, tiny_problem):
    X, _, u = tiny_problem
    if not needs_u(estimator) or isinstance(estimator, TCLNonlinearICA):
        pytest.skip("only density models that need u marginalize over it")
    u = np.where(u == 3, 2, u)  # unequal segment frequencies: 50, 50, 100
    model = fitted(estimator, X, u)
    given = np.array([model.score_samples(X, np.full(len(X), k)) for k in (0, 1, 2)])
    expected = logsumexp(given, axis=0, b=np.array([[0.25], [0.25], [0.5]]))
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-10)
    assert model.score(X) == pytest.approx(expected.mean())
    # A segment never seen in fit is scored by the same marginal; seen ones by
    # their own prior, in the same call.
    mixed = np.where(np.arange(len(X)) % 2 == 0, 9, u)
    scores = model.score_samples(X, mixed)
    np.testing.assert_allclose(scores[::2], expected[::2], rtol=1e-10)
    np.testing.assert_allclose(scores[1::2], model.score_samples(X, u)[1::2], rtol=1e-10)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_grid_search_over_contiguous_segments_gives_finite_scores(estimator, tiny_problem):
    """``GridSearchCV(est, grid, cv=3)`` on data sorted by segment: every test
    fold holds segments never seen in fit, scored by the marginal over the
    training segments."""
    X, _, u = tiny_problem
    if not needs_u(estimator) or isinstance(estimator, TCLNonlinearICA):
        pytest.skip("only density models that need u score unseen segments")
    assert np.all(np.diff(u) >= 0)  # sorted by segment
    search = GridSearchCV(clone(estimator).set_params(random_state=0), {"lr": [1e-3, 1e-2]}, cv=3)
    search.fit(X, u)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_models_without_u_ignore_y(estimator, tiny_problem):
    if needs_u(estimator):
        pytest.skip(f"{estimator!r} needs u")
    X, _, u = tiny_problem
    np.testing.assert_array_equal(
        fitted(estimator, X, None).transform(X), fitted(estimator, X, u).transform(X)
    )
    assert np.isfinite(fitted(estimator, X, None).score(X))


# ------------------------------------------------------------------ devices
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_model_marked_cuda_runs_inference_on_cpu_and_refit_says_what_to_do(estimator, tiny_problem):
    # What a model fitted on a GPU looks like once loaded on a CPU-only machine.
    X, _, u = tiny_problem
    model = fitted(estimator, X, u)
    Z = model.transform(X)
    model.set_params(device="cuda")
    np.testing.assert_array_equal(model.transform(X), Z)
    with pytest.raises(ValueError, match=r"CUDA is not available.*device='cpu'"):
        clone(model).fit(X, u)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    "estimator", [pytest.param(estimator, id=name) for name, estimator, _ in CONFIGURATIONS]
)
def test_fit_on_cuda_and_use_the_model_on_cpu(estimator, tiny_problem):
    X, _, u = tiny_problem
    u = u if needs_u(estimator) else None
    model = fitted(estimator, X, u, device="cuda")
    assert next(model.net_.module_.parameters()).is_cuda
    Z = model.transform(X)
    assert isinstance(Z, np.ndarray) and np.isfinite(Z).all()
    assert np.isfinite(model.score(X, u))
    # The same model moved to the CPU, as a user without a GPU loads it.
    loaded = pickle.loads(pickle.dumps(model)).set_params(device="cpu")
    np.testing.assert_allclose(loaded.transform(X), Z, rtol=1e-4, atol=1e-4)
    # A GPU fit learns what a CPU fit learns: the seed gives both the same
    # initial weights; they part only by the devices' rounding and random draws.
    on_cpu = fitted(estimator, X, u, device="cpu")
    assert np.corrcoef(on_cpu.transform(X).ravel(), Z.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_n_threads_holds_during_fit_and_is_restored(estimator, tiny_problem):
    X, _, u = tiny_problem

    class RecordThreads(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self.threads_ = torch.get_num_threads()

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model = fitted(estimator, X, u, n_threads=1, callbacks=[RecordThreads()])
        assert dict(model.net_.callbacks_)["RecordThreads"].threads_ == 1
        assert torch.get_num_threads() == 2
        model.transform(X)
        assert torch.get_num_threads() == 2
        model.set_params(n_threads=None).fit(X, u)
        assert dict(model.net_.callbacks_)["RecordThreads"].threads_ == 2
    finally:
        torch.set_num_threads(previous)


def test_refit_with_other_options_leaves_no_stale_attribute(tiny_problem):
    X, _, u = tiny_problem
    model = fitted(IVAE(prior="mixture", n_mixture_components=2, **FAST), X, u)
    assert hasattr(model, "mixture_means_") and not hasattr(model, "classes_")
    model.set_params(prior="conditional").fit(X, u)
    assert hasattr(model, "classes_") and not hasattr(model, "mixture_means_")
    model.set_params(prior="isotropic").fit(X, u)
    assert not any(hasattr(model, name) for name in ("classes_", "aux_kind_", "aux_encoder_"))
    model.set_params(observation="bernoulli").fit((X > 0).astype(float))
    assert not hasattr(model, "x_mean_") and not hasattr(model, "x_scale_")


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_loss_curve_and_validation_scores(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = fitted(estimator, X, u, max_epochs=3)
    assert len(model.loss_curve_) == model.n_iter_ == 3
    assert np.isfinite(model.loss_curve_).all() and not hasattr(model, "validation_scores_")
    model = fitted(estimator, X, u, max_epochs=3, early_stopping=True)
    assert len(model.validation_scores_) == len(model.loss_curve_) == model.n_iter_
    np.testing.assert_allclose(
        model.validation_scores_, -np.array(model.net_.history[:, "valid_loss"])
    )
