"""The skorch side: the net that trains every model, its batches, its guards."""

import copy
import math
import warnings

import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PassthroughScoring

from .nn.distributions import laplace_sample

__all__ = [
    "AdversarialNet",
    "DecoderVarianceAnnealing",
    "IndexSplit",
    "LatentVariableNet",
    "NonFiniteLossGuard",
    "ObjectiveLoss",
    "OneCycleSchedule",
    "TensorBatchIterator",
    "ValidationEarlyStopping",
]

# Keys of an optimizer's param group that hold a learning rate: the current
# one, and those that torch's OneCycleLR computes it from at every step.
_LR_KEYS = ("lr", "initial_lr", "max_lr", "min_lr")


class TensorBatchIterator:
    """Mini-batches sliced from whole tensors.

    skorch's default DataLoader collates every batch sample by sample, which
    about doubles the cost of a step for the small networks used here. Slicing
    tensors costs one gather per epoch (for the shuffle) and a view per batch.

    Yields ``(X_batch, None)`` pairs, with ``X_batch`` a dict of tensors that
    skorch passes to the module as keyword arguments.
    """

    def __init__(self, tensors, batch_size, shuffle=False, device="cpu"):
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        self.n_samples = len(next(iter(tensors.values())))

    def __len__(self):
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        tensors = {key: value.to(self.device) for key, value in self.tensors.items()}
        if self.shuffle:
            # The global torch generator is seeded by the estimator's
            # random_state, so shuffles are reproducible.
            order = torch.randperm(self.n_samples).to(self.device)
            tensors = {key: value[order] for key, value in tensors.items()}
        for start in range(0, self.n_samples, self.batch_size):
            yield (
                {key: value[start : start + self.batch_size] for key, value in tensors.items()},
                None,
            )


def _dataset_tensors(dataset):
    """Dict of tensors behind a skorch Dataset, or a Subset of one (valid split)."""
    indices = None
    if isinstance(dataset, torch.utils.data.Subset):
        indices = torch.as_tensor(dataset.indices)
        dataset = dataset.dataset
    tensors = {key: torch.as_tensor(value) for key, value in dataset.X.items()}
    if indices is not None:
        tensors = {key: value[indices] for key, value in tensors.items()}
    return tensors


class IndexSplit:
    """A skorch ``train_split`` that holds out fixed rows for validation.

    The rows are chosen by the estimator (seeded, stratified by segment when u
    is categorical), so the split is reproducible and known before training
    starts, e.g. to size the learning-rate schedule.

    Parameters
    ----------
    train_indices, valid_indices : array-like of int
        Rows used for training and for validation.
    """

    def __init__(self, train_indices, valid_indices):
        self.train_indices = train_indices
        self.valid_indices = valid_indices

    @property
    def n_train(self):
        return len(self.train_indices)

    def __call__(self, dataset, y=None, **kwargs):
        return (
            torch.utils.data.Subset(dataset, list(self.train_indices)),
            torch.utils.data.Subset(dataset, list(self.valid_indices)),
        )


class ValidationEarlyStopping(EarlyStopping):
    """Stop when the validation loss has not improved for a while; keep the best.

    skorch's :class:`~skorch.callbacks.EarlyStopping` on ``valid_loss`` with an
    absolute threshold (the objectives here are log-densities, whose sign is
    arbitrary, so a relative threshold would be meaningless), restoring the
    module of the best epoch at the end. Epochs before ``start_epoch`` are not
    watched: while a schedule still changes the objective itself (e.g. an
    annealed decoder variance), losses of different epochs are not comparable.

    Parameters
    ----------
    patience : int
        Epochs without an improvement of at least ``tol`` before stopping.
    tol : float
        Smallest decrease of the validation loss that counts as improvement.
    start_epoch : int, default=0
        Number of epochs to train before watching the validation loss.
    """

    def __init__(self, patience, tol, start_epoch=0):
        super().__init__(
            monitor="valid_loss",
            patience=patience,
            threshold=tol,
            threshold_mode="abs",
            load_best=True,
        )
        self.start_epoch = start_epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) > self.start_epoch:
            super().on_epoch_end(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self.best_model_weights_ = None  # keep fitted estimators small to pickle


class ObjectiveLoss(torch.nn.Module):
    """Criterion for modules whose forward returns a per-sample objective.

    The models here return what they maximize (an ELBO, a log-likelihood, a
    log-probability of the right class); the loss is its negative mean.
    """

    def forward(self, objective, target=None):
        return -objective.mean()


class LatentVariableNet(NeuralNet):
    """A skorch NeuralNet for unsupervised modules that return their objective.

    X is a dict of arrays (``{'x': X, 'u': U}``) passed to the module as
    keyword arguments; there is no target. Batches are tensor slices.
    """

    def __init__(self, module, *args, criterion=ObjectiveLoss, valid_batch_size=4096, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.valid_batch_size = valid_batch_size

    def get_iterator(self, dataset, training=False):
        batch_size = self.batch_size if training else max(self.batch_size, self.valid_batch_size)
        return TensorBatchIterator(
            _dataset_tensors(dataset), batch_size, shuffle=training, device=self.device
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred)


class NonFiniteLossGuard(Callback):
    """Recover from a diverging loss; fail loudly if recovery does not work.

    A snapshot of the module and optimizer is kept at the end of every epoch
    whose losses were all finite. When a batch loss becomes NaN or infinite,
    the snapshot is restored and the learning rate is multiplied by
    ``lr_factor``; after ``max_restarts`` such restarts a ``FloatingPointError``
    is raised, so a fit never ends with NaN parameters.

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
        self._snapshot = None
        self._epoch_ok = True
        return self

    @staticmethod
    def _parts(net):
        """Every module and optimizer of the net (e.g. a GAN's discriminator too)."""
        return [getattr(net, name + "_") for name in net._modules + net._optimizers]

    def _take_snapshot(self, net):
        self._snapshot = [copy.deepcopy(part.state_dict()) for part in self._parts(net)]

    def _optimizers(self, net):
        return [getattr(net, name + "_") for name in net._optimizers]

    def on_train_begin(self, net, **kwargs):
        self._base_lrs = None

    def on_epoch_begin(self, net, **kwargs):
        self._epoch_ok = True

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self._base_lrs is None:
            # The first snapshot and the base learning rates are taken at the
            # first step, once any LR schedule has added its own keys to the
            # optimizer, so that a restart restores and scales the schedule too.
            self._base_lrs = [
                {key: group[key] for key in _LR_KEYS if key in group}
                for optimizer in self._optimizers(net)
                for group in optimizer.param_groups
            ]
            self._take_snapshot(net)

    def on_batch_end(self, net, training=False, loss=None, **kwargs):
        if not training or bool(torch.isfinite(loss)):
            return
        self._epoch_ok = False
        epoch = len(net.history)
        if self.n_restarts_ >= self.max_restarts:
            raise FloatingPointError(
                f"The training loss became {loss.item()} in epoch {epoch} and stayed "
                f"non-finite after {self.n_restarts_} restarts from the last good "
                "parameters with a smaller learning rate. Try a smaller `lr`, a larger "
                "`decoder_var`, or check X for extreme values."
            )
        for part, state in zip(self._parts(net), self._snapshot, strict=True):
            part.load_state_dict(state)
        self.n_restarts_ += 1
        groups = [group for optimizer in self._optimizers(net) for group in optimizer.param_groups]
        for group, base_lrs in zip(groups, self._base_lrs, strict=True):
            for key, base_lr in base_lrs.items():
                group[key] = base_lr * self.lr_factor**self.n_restarts_
        warnings.warn(
            f"The training loss became {loss.item()} in epoch {epoch}; restarting "
            "from the last good parameters with the learning rate multiplied by "
            f"{self.lr_factor**self.n_restarts_:g}.",
            RuntimeWarning,
            stacklevel=2,
        )

    def on_epoch_end(self, net, **kwargs):
        if self._epoch_ok:
            self._take_snapshot(net)

    def on_train_end(self, net, **kwargs):
        self._snapshot = None  # keep fitted estimators small to pickle
        for name, param in net.get_all_learnable_params():
            if not torch.isfinite(param).all():
                raise FloatingPointError(
                    f"Parameter {name!r} is not finite after training. Try a smaller `lr`."
                )


class AdversarialNet(LatentVariableNet):
    """A LatentVariableNet with a discriminator, trained as a VAE-GAN.

    The discriminator is a second registered module (``discriminator_``, set
    through ``discriminator__*``) with its own optimizer
    (``optimizer_discriminator_``, set through ``optimizer_discriminator__*``).
    Each training step alternates:

    1. the VAE (``module_``) step on ``-ELBO + adversarial_weight * G``, where
       G is the non-saturating generator loss ``-log D(x~)`` averaged over
       reconstructions x~ = f(z), z ~ q(z|x), and samples x~ = f(z),
       z ~ p(z|u);
    2. the discriminator step on ``-log D(x) - log(1 - D(x~))``, the two kinds
       of fakes weighted equally.

    The batch means of both losses are logged in the history as
    ``adversarial_loss`` and ``discriminator_loss``.

    The module must provide ``rsample_posterior``, ``decode_mean``,
    ``prior_params`` and ``source_distribution``, as
    :class:`~sklearn_ivae.nn.IVAEModule` does.
    """

    def __init__(
        self,
        module,
        *args,
        discriminator,
        optimizer_discriminator=torch.optim.Adam,
        adversarial_weight=1.0,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.discriminator = discriminator
        self.optimizer_discriminator = optimizer_discriminator
        self.adversarial_weight = adversarial_weight

    def get_default_callbacks(self):
        return [
            *super().get_default_callbacks(),
            ("adversarial_loss", PassthroughScoring(name="adversarial_loss", on_train=True)),
            ("discriminator_loss", PassthroughScoring(name="discriminator_loss", on_train=True)),
        ]

    def initialize_module(self):
        super().initialize_module()
        params = self.get_params_for("discriminator")
        self.discriminator_ = self.initialized_instance(self.discriminator, params)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        # The VAE's optimizer must not also step the discriminator.
        args, kwargs = self.get_params_for_optimizer("optimizer", self.module_.named_parameters())
        self.optimizer_ = self.optimizer(*args, **kwargs)
        args, kwargs = self.get_params_for_optimizer(
            "optimizer_discriminator", self.discriminator_.named_parameters()
        )
        self.optimizer_discriminator_ = self.optimizer_discriminator(*args, **kwargs)
        return self

    def _fakes(self, x, u):
        module = self.module_
        z_q = module.rsample_posterior(x)
        loc_p, log_var_p = module.prior_params(u, len(x))
        if module.source_distribution == "laplace":
            z_p = laplace_sample(loc_p, log_var_p)
        else:
            z_p = loc_p + torch.exp(0.5 * log_var_p) * torch.randn_like(loc_p)
        return module.decode_mean(z_q), module.decode_mean(z_p)

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        inputs, _ = batch
        x, u = inputs["x"], inputs.get("u")
        discriminator = self.discriminator_

        self.optimizer_.zero_grad()
        elbo = self.module_(**inputs)
        reconstruction, generated = self._fakes(x, u)
        # -log sigmoid(d) = softplus(-d): the non-saturating generator loss.
        adversarial = 0.5 * (
            F.softplus(-discriminator(reconstruction)).mean()
            + F.softplus(-discriminator(generated)).mean()
        )
        loss = self.get_loss(elbo, None, X=inputs, training=True)
        (loss + self.adversarial_weight * adversarial).backward()
        self.optimizer_.step()

        self.optimizer_discriminator_.zero_grad()
        discriminator_loss = F.softplus(-discriminator(x)).mean() + 0.5 * (
            F.softplus(discriminator(reconstruction.detach())).mean()
            + F.softplus(discriminator(generated.detach())).mean()
        )
        discriminator_loss.backward()
        self.optimizer_discriminator_.step()

        self.history.record_batch("adversarial_loss", adversarial.item())
        self.history.record_batch("discriminator_loss", discriminator_loss.item())
        return {"loss": loss, "y_pred": elbo}


def _n_training_steps(net, X):
    """Number of optimizer steps of a whole fit on the dict of arrays X."""
    # With a validation split only the training rows are batched.
    n_samples = getattr(net.train_split, "n_train", None) or len(next(iter(X.values())))
    return net.max_epochs * math.ceil(n_samples / net.batch_size)


class OneCycleSchedule(Callback):
    """The one-cycle learning-rate policy, stepped once per training batch.

    The learning rate warms up from ``lr / 25`` to the net's ``lr`` over the
    first ``pct_start`` of the steps, then anneals to about zero (torch's
    :class:`~torch.optim.lr_scheduler.OneCycleLR`, with its momentum cycle).

    Parameters
    ----------
    pct_start : float, default=0.3
        Fraction of the steps spent warming up.
    """

    def __init__(self, pct_start=0.3):
        self.pct_start = pct_start

    def on_train_begin(self, net, X=None, **kwargs):
        self.total_steps_ = _n_training_steps(net, X)
        self.scheduler_ = torch.optim.lr_scheduler.OneCycleLR(
            net.optimizer_,
            max_lr=[group["lr"] for group in net.optimizer_.param_groups],
            total_steps=self.total_steps_,
            pct_start=self.pct_start,
        )

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.scheduler_.last_epoch < self.total_steps_:
            self.scheduler_.step()

    def on_train_end(self, net, **kwargs):
        self.scheduler_ = None  # holds the optimizer; keep pickles small


class DecoderVarianceAnnealing(Callback):
    """Shrink a fixed decoder variance geometrically during the first steps.

    The module's ``decoder_log_var`` buffer goes from ``log(start)`` to
    ``log(end)`` linearly over the first ``fraction`` of the training steps and
    stays at ``log(end)`` afterwards. A broad decoder early on smooths the
    objective while the networks find the rough shape of the mixing; the
    near-deterministic decoder at the end makes the ELBO a tight bound.

    Parameters
    ----------
    start, end : float
        Initial and final decoder variances.
    fraction : float, default=0.5
        Fraction of the training steps over which the variance shrinks.
    """

    def __init__(self, start, end, fraction=0.5):
        self.start = start
        self.end = end
        self.fraction = fraction

    def _set(self, net, log_var):
        with torch.no_grad():
            net.module_.decoder_log_var.fill_(log_var)

    def on_train_begin(self, net, X=None, **kwargs):
        self.n_annealing_steps_ = max(1, round(self.fraction * _n_training_steps(net, X)))
        self.step_ = 0

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        progress = min(1.0, self.step_ / self.n_annealing_steps_)
        log_start, log_end = math.log(self.start), math.log(self.end)
        self._set(net, log_start + progress * (log_end - log_start))
        self.step_ += 1

    def on_train_end(self, net, **kwargs):
        self._set(net, math.log(self.end))
