"""What a stranger's input and machine get: Ctrl-C, divergence, odd u, huge X, devices."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, EarlyStopping

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae._training import LatentVariableNet

from .conftest import CONTRACT_ESTIMATORS, FAST


class InterruptAt(Callback):
    """Raises KeyboardInterrupt at the given training batch, as Ctrl-C would."""

    def __init__(self, batch=2):
        self.batch = batch

    def initialize(self):
        self.seen_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.seen_ += training
        if self.seen_ == self.batch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("estimator", CONTRACT_ESTIMATORS)
def test_ctrl_c_reaches_the_caller_and_leaves_no_fitted_model(estimator, tiny_problem):
    X, _, u = tiny_problem
    model = clone(estimator).set_params(callbacks=[InterruptAt()])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, u)
    assert not hasattr(model, "net_")


@pytest.mark.parametrize("init", ["flow", "flow_encoder"])
def test_ctrl_c_in_every_stage_of_a_flow_start(init, tiny_problem, monkeypatch):
    X, _, u = tiny_problem
    # The main stage: the IVAE's own training (user callbacks go there).
    model = IVAE(init=init, callbacks=[InterruptAt()], **FAST)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, u)
    assert not hasattr(model, "net_")

    # The first stage: the flow that the IVAE starts from.
    def interrupted(self, batch, **fit_params):
        raise KeyboardInterrupt

    monkeypatch.setattr(LatentVariableNet, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        IVAE(init=init, **FAST).fit(X, u)


def test_early_stopping_callbacks_still_end_a_fit_normally(tiny_problem):
    # skorch's EarlyStopping stops training by raising KeyboardInterrupt.
    X, _, u = tiny_problem
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=1e6)
    model = IVAE(hidden_layer_sizes=(16,), max_epochs=10, callbacks=[stopper]).fit(X, u)
    assert model.n_iter_ == 2


def test_ctrl_c_stops_partial_fit(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(callbacks=[InterruptAt()], **FAST)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, u)


@pytest.mark.parametrize(
    "estimator",
    [
        IdentifiableFlow(lr=1e6, max_epochs=3, hidden_layer_sizes=(16,)),
        IdentifiableFlow(lr=1e6, max_epochs=1, hidden_layer_sizes=(16,)),
        IVAE(lr=1e6, max_epochs=1, hidden_layer_sizes=(16,)),
        TCLNonlinearICA(lr=1e8, max_epochs=2, hidden_layer_sizes=(16,)),
    ],
    ids=["flow-3-epochs", "flow-1-epoch", "ivae-1-epoch", "tcl-2-epochs"],
)
def test_divergence_raises_whatever_max_epochs(estimator, tiny_problem):
    X, _, u = tiny_problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the restarts' warnings
        with pytest.raises(FloatingPointError, match="diverged|non-finite"):
            estimator.set_params(random_state=0).fit(X, u)
    assert not hasattr(estimator, "net_")


def test_time_index_as_u_warns_and_aux_type_reads_it(tiny_problem):
    X, _, _ = tiny_problem
    time = np.arange(len(X), dtype=float)
    with pytest.warns(UserWarning, match="aux_type='continuous'"):
        model = IVAE(**FAST).fit(X, time)
    assert model.aux_kind_ == "categorical" and len(model.classes_) == len(X)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = IVAE(aux_type="continuous", **FAST).fit(X, time)
    assert model.aux_kind_ == "continuous" and not hasattr(model, "classes_")
    assert model.transform(X).shape == (len(X), X.shape[1])


def test_aux_type_categorical_reads_float_labels(tiny_problem):
    X, _, u = tiny_problem
    model = IdentifiableFlow(aux_type="categorical", n_transforms=1, **FAST)
    model.fit(X, u.astype(float) / 2)
    assert model.aux_kind_ == "categorical"
    np.testing.assert_array_equal(model.classes_, np.unique(u) / 2)
    with pytest.raises(ValueError, match="1-D labels"):
        IVAE(aux_type="categorical", **FAST).fit(X, np.c_[u, u])


@pytest.mark.parametrize(
    "estimator",
    [IVAE(**FAST), IVAEGAN(**FAST), IdentifiableFlow(**FAST), TCLNonlinearICA(**FAST)],
    ids=["IVAE", "IVAEGAN", "Flow", "TCL"],
)
@pytest.mark.parametrize("kind", ["label", "continuous"])
def test_a_single_segment_raises(estimator, kind, tiny_problem):
    X, _, _ = tiny_problem
    u = np.zeros(len(X), dtype=int) if kind == "label" else np.full((len(X), 2), 0.5)
    with pytest.raises(ValueError, match="single value"):
        estimator.fit(X, u)


def test_models_without_u_accept_constant_y(tiny_problem):
    X, _, _ = tiny_problem
    IVAE(prior="isotropic", **FAST).fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("factor", [1e300, 1e-300])
def test_extreme_units_of_x_are_standardized(factor, tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(random_state=0, **FAST).fit(X * factor, u)
    assert np.isfinite(model.x_scale_).all() and np.isfinite(model.x_mean_).all()
    # The same standardized data as in units near 1, so the same model.
    reference = IVAE(random_state=0, **FAST).fit(X, u)
    np.testing.assert_allclose(model.x_scale_ / factor, reference.x_scale_, rtol=1e-12)
    Z = model.transform(X * factor)
    np.testing.assert_allclose(Z, reference.transform(X), atol=1e-4)
    np.testing.assert_allclose(
        model.inverse_transform(Z) / factor, reference.inverse_transform(Z), atol=1e-4
    )


def test_x_that_cannot_be_standardized_raises(tiny_problem):
    X, _, u = tiny_problem
    model = IVAE(random_state=0, **FAST).fit(X, u)
    # Data on a scale 1e300 times the first fit's: a continuation standardizes
    # it as the first fit did, beyond float32's range.
    with pytest.raises(ValueError, match="Rescale X"):
        model.set_params(warm_start=True).fit(X * 1e300, u)


@pytest.mark.parametrize(
    "device, message",
    [
        ("bogus", "not a device name"),
        ("cuda:64", "CUDA"),
        ("mps", "MPS"),
        ("meta", "not on 'meta'"),
    ],
)
def test_device_is_checked_against_this_machine(device, message, tiny_problem):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    X, _, u = tiny_problem
    with pytest.raises(ValueError, match=message):
        IVAE(device=device, **FAST).fit(X, u)


def test_verbose_shows_every_stage_of_a_flow_start(tiny_problem, capsys):
    X, _, u = tiny_problem
    IVAE(init="flow", verbose=1, **FAST).fit(X, u)
    out = capsys.readouterr().out
    first, second = out.index("1 of 2"), out.index("2 of 2")
    # The flow's epochs are logged between the two stages' headers, then the
    # IVAE's own.
    assert first < out.index("train_loss", first) < second
    assert "train_loss" in out[second:]


def test_verbose_explains_the_decoder_variance_warm_up(tiny_problem, capsys):
    X, _, u = tiny_problem
    model = IVAE(init="random", verbose=1, hidden_layer_sizes=(16,), max_epochs=4)
    model.fit(X, u)
    out = capsys.readouterr().out
    assert "Warm-up: the decoder variance shrinks" in out and "decoder_var" in out
    logged = model.net_.history[:, "decoder_var"]
    assert logged[0] > logged[-1] == pytest.approx(1e-3)
