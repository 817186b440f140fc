"""The package's skorch callbacks: guards, early stopping, schedules, initializers.

Every callback here keeps its run-time state in attributes ending in ``_``,
so that ``get_params`` shows only its constructor's parameters and
``sklearn.base.clone`` works on it.
"""

import copy
import math
import warnings

import torch
from sklearn.mixture import GaussianMixture
from skorch.callbacks import Callback, EarlyStopping, LRScheduler

__all__ = [
    "DecoderVarianceAnnealing",
    "MixturePriorInit",
    "NonFiniteLossGuard",
    "ValidationEarlyStopping",
    "one_cycle_schedule",
    "start_mixture_from_latents",
]

# Keys of an optimizer's param group that hold a learning rate: the current
# one, and those that torch's OneCycleLR computes it from at every step.
_LR_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")


def one_cycle_schedule(max_lr, total_steps, pct_start=0.3):
    """The one-cycle learning-rate policy, stepped once per training batch.

    skorch's :class:`~skorch.callbacks.LRScheduler` with torch's
    :class:`~torch.optim.lr_scheduler.OneCycleLR`: the learning rate warms up
    from ``max_lr / 25`` to ``max_lr`` over the first ``pct_start`` of the
    ``total_steps`` steps, then anneals to about zero (with Adam's momentum
    cycled).
    """
    return LRScheduler(
        torch.optim.lr_scheduler.OneCycleLR,
        step_every="batch",
        event_name=None,
        max_lr=max_lr,
        total_steps=total_steps,
        pct_start=pct_start,
    )


class ValidationEarlyStopping(EarlyStopping):
    """skorch's EarlyStopping that starts watching after ``start_epoch`` epochs.

    The defaults suit the objectives here: they are log-densities, whose sign
    is arbitrary, so the threshold is absolute (a relative one would flip for
    negative losses), and the module of the best epoch is restored at the end.
    Epochs before ``start_epoch`` are not watched: while a schedule still
    changes the objective itself (e.g. an annealed decoder variance), losses
    of different epochs are not comparable.

    Parameters
    ----------
    monitor, patience, threshold, threshold_mode, lower_is_better, sink, load_best
        As in :class:`skorch.callbacks.EarlyStopping`.
    start_epoch : int, default=0
        Number of epochs to train before watching the monitored value.
    """

    def __init__(
        self,
        monitor="valid_loss",
        patience=5,
        threshold=1e-4,
        threshold_mode="abs",
        lower_is_better=True,
        sink=print,
        load_best=True,
        start_epoch=0,
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=lower_is_better,
            sink=sink,
            load_best=load_best,
        )
        self.start_epoch = start_epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) > self.start_epoch:
            super().on_epoch_end(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self.best_model_weights_ = None  # keep fitted estimators small to pickle


class NonFiniteLossGuard(Callback):
    """Recover from a diverging loss; fail loudly if recovery does not work.

    A snapshot of the modules and optimizers is kept at the end of every epoch
    whose losses were all finite. When a batch loss becomes NaN or infinite,
    the snapshot is restored and the learning rates (with those a schedule
    computes them from) are multiplied by ``lr_factor``; after
    ``max_restarts`` such restarts a ``FloatingPointError`` is raised, so a
    fit never ends with NaN parameters. A fit that ends before training a
    whole epoch's worth of finite steps after its last restart raises too:
    it never recovered, and its parameters are an early snapshot, not a
    trained model.

    Parameters
    ----------
    max_restarts : int, default=3
        Number of restarts before giving up.
    lr_factor : float, default=0.5
        Learning-rate multiplier applied at each restart.
    """

    def __init__(self, max_restarts=3, lr_factor=0.5):
        self.max_restarts = max_restarts
        self.lr_factor = lr_factor

    def initialize(self):
        self.n_restarts_ = 0
        self.snapshot_ = None
        self.epoch_ok_ = True
        self.base_lrs_ = None
        self.steps_since_restart_ = 0
        self.steps_in_epoch_ = 0
        self.steps_per_epoch_ = 0
        return self

    @staticmethod
    def _parts(net):
        """Every module and optimizer of the net (e.g. a GAN's discriminator too)."""
        return [*net.trained_modules(), *net.optimizers()]

    @staticmethod
    def _param_groups(net):
        return [group for optimizer in net.optimizers() for group in optimizer.param_groups]

    def _take_snapshot(self, net):
        self.snapshot_ = [copy.deepcopy(part.state_dict()) for part in self._parts(net)]

    def on_train_begin(self, net, **kwargs):
        self.base_lrs_ = None

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ok_ = True
        self.steps_in_epoch_ = 0

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.base_lrs_ is None:
            # The first snapshot and the base learning rates are taken at the
            # first step, once any LR schedule has added its own keys to the
            # optimizer, so that a restart restores and scales the schedule too.
            self.base_lrs_ = [
                {key: group[key] for key in _LR_KEYS if key in group}
                for group in self._param_groups(net)
            ]
            self._take_snapshot(net)

    def on_batch_end(self, net, training=False, loss=None, **kwargs):
        if not training:
            return
        self.steps_in_epoch_ += 1
        self.steps_per_epoch_ = max(self.steps_per_epoch_, self.steps_in_epoch_)
        if bool(torch.isfinite(loss)):
            self.steps_since_restart_ += 1
            return
        self.epoch_ok_ = False
        self.steps_since_restart_ = 0
        epoch = len(net.history)
        if self.n_restarts_ >= self.max_restarts:
            raise FloatingPointError(
                f"The training loss became {loss.item()} in epoch {epoch} and stayed "
                f"non-finite after {self.n_restarts_} restarts from the last good "
                "parameters with a smaller learning rate. Try a smaller `lr`, a larger "
                "`decoder_var`, or check X for extreme values."
            )
        for part, state in zip(self._parts(net), self.snapshot_, strict=True):
            part.load_state_dict(state)
        self.n_restarts_ += 1
        factor = self.lr_factor**self.n_restarts_
        for group, base_lrs in zip(self._param_groups(net), self.base_lrs_, strict=True):
            for key, base_lr in base_lrs.items():
                group[key] = base_lr * factor
        warnings.warn(
            f"The training loss became {loss.item()} in epoch {epoch}; restarting "
            "from the last good parameters with the learning rate multiplied by "
            f"{factor:g}.",
            RuntimeWarning,
            stacklevel=2,
        )

    def on_epoch_end(self, net, **kwargs):
        if self.epoch_ok_:
            self._take_snapshot(net)

    def on_train_end(self, net, **kwargs):
        self.snapshot_ = None  # keep fitted estimators small to pickle
        if self.n_restarts_ and self.steps_since_restart_ < self.steps_per_epoch_:
            raise FloatingPointError(
                f"The training diverged: the loss became non-finite {self.n_restarts_} "
                "time(s) and the fit ended before an epoch of finite steps after the last "
                "restart, so the parameters are not a trained model. Try a smaller `lr`, "
                "more `max_epochs`, a larger `decoder_var`, or check X for extreme values."
            )
        for name, param in net.get_all_learnable_params():
            if not torch.isfinite(param).all():
                raise FloatingPointError(
                    f"Parameter {name!r} is not finite after training. Try a smaller `lr`."
                )


class DecoderVarianceAnnealing(Callback):
    """Shrink a fixed decoder variance geometrically during the first steps.

    The module's ``decoder_log_var`` buffer goes from ``log(start)`` to
    ``log(end)`` linearly over the first ``n_steps`` training steps and stays
    at ``log(end)`` afterwards. A broad decoder early on smooths the objective
    while the networks find the rough shape of the mixing; the
    near-deterministic decoder at the end makes the bound tight.

    Parameters
    ----------
    start, end : float
        Initial and final decoder variances.
    n_steps : int
        Number of training steps over which the variance shrinks, counted
        from the net's initialization (across ``partial_fit`` calls).
        Between calls, and at the end, the variance is ``end``.
    """

    def __init__(self, start, end, n_steps):
        self.start = start
        self.end = end
        self.n_steps = n_steps

    def _set(self, net, log_var):
        with torch.no_grad():
            net.module_.decoder_log_var.fill_(log_var)

    def initialize(self):
        # Counted from the net's initialization, not from each call to fit:
        # the schedule carries on across partial_fit calls.
        self.step_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        if net.verbose and self.step_ < self.n_steps:
            print(
                f"Warm-up: the decoder variance shrinks from {self.start:g} to {self.end:g} "
                f"over the first {self.n_steps} steps (column decoder_var); the loss rises "
                "as it does, which is not divergence.",
                flush=True,
            )

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        progress = min(1.0, self.step_ / max(1, self.n_steps))
        log_start, log_end = math.log(self.start), math.log(self.end)
        self._set(net, log_start + progress * (log_end - log_start))
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        # Logged beside the loss, whose rise during the warm-up it explains.
        net.history.record("decoder_var", float(net.module_.decoder_log_var.exp().mean()))

    def on_train_end(self, net, **kwargs):
        self._set(net, math.log(self.end))


class MixturePriorInit(Callback):
    """Pretrain with a standard normal prior, then start the mixture from the latents.

    As in VaDE: for the first ``start_epoch`` epochs the module's
    :class:`~sklearn_ivae.nn.priors.MixturePrior` is a standard normal (a
    plain VAE learns the shape of the data); then a
    :class:`~sklearn.mixture.GaussianMixture` is fitted to the encoder's means
    of (up to ``max_samples``) training points, and its weights, means and
    covariances become the prior's. A mixture started at random, or from the
    latents of an untrained encoder, tends to put its components where the
    clusters are not and to collapse onto one of them.

    Parameters
    ----------
    start_epoch : int
        Epochs of pretraining; 0 starts the mixture before the first step.
    covariance : {'diag', 'full'}, default='diag'
        Covariance type of the mixture (that of the module's prior).
    max_samples : int, default=10000
        Points the GaussianMixture is fitted to, drawn from the training rows.
    finish_at_train_end : bool, default=True
        Whether a training that ends before ``start_epoch`` epochs starts
        the mixture then (a fit stopped early). False for training in calls
        of one epoch (``partial_fit``): the pretraining goes on in the next
        call, and the mixture starts at the end of epoch ``start_epoch``.
    """

    def __init__(self, start_epoch, covariance="diag", max_samples=10000, finish_at_train_end=True):
        self.start_epoch = start_epoch
        self.covariance = covariance
        self.max_samples = max_samples
        self.finish_at_train_end = finish_at_train_end

    def initialize(self):
        self.started_ = False
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.x_ = torch.as_tensor(X["x"])
        if not self.started_:
            net.module_.prior.pretraining.fill_(self.start_epoch > 0)
            if self.start_epoch == 0:
                self._start_mixture(net)

    def on_epoch_end(self, net, **kwargs):
        if not self.started_ and len(net.history) >= self.start_epoch:
            self._start_mixture(net)

    def on_train_end(self, net, **kwargs):
        if not self.started_ and self.finish_at_train_end:  # stopped before the start
            self._start_mixture(net)
        self.x_ = None  # keep fitted estimators small to pickle

    def _start_mixture(self, net):
        self.started_ = True
        net.module_.prior.pretraining.fill_(False)
        # Seeds drawn from the torch generator the estimator seeded.
        seed = int(torch.randint(2**31 - 1, (1,)))
        x = self.x_
        if len(x) > self.max_samples:
            x = x[torch.randperm(len(x))[: self.max_samples]]
        start_mixture_from_latents(net.module_, x, self.covariance, seed)


def start_mixture_from_latents(module, x, covariance, seed):
    """Fit a GaussianMixture to the latents of ``x`` (``module.latents``); make it the prior.

    With fewer points than mixture components the prior is left as it is.
    Shared by :class:`MixturePriorInit` and the benchmark diagnostics.
    """
    prior = module.prior
    with torch.no_grad():
        param = next(module.parameters())
        z = module.latents(x.to(device=param.device, dtype=param.dtype))
        z = z.cpu().double().numpy()
    n_mix = len(prior.logits)
    if len(z) < n_mix:
        return
    gmm = GaussianMixture(n_mix, covariance_type=covariance, reg_covar=1e-4, random_state=seed)
    gmm.fit(z)
    prior.set_mixture(gmm.weights_, gmm.means_, gmm.covariances_)
