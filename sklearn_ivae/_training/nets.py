"""The skorch nets that train every model."""

import torch
import torch.nn.functional as F
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PassthroughScoring
from skorch.utils import TeeGenerator

from .batches import TensorBatchIterator, dataset_tensors

__all__ = ["AdversarialNet", "LatentVariableNet", "ObjectiveLoss"]


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

    # The modules and optimizers this net registers, by the names of their
    # parameters (``module`` -> ``module_``): a subclass with more lists them.
    module_names = ("module",)
    optimizer_names = ("optimizer",)

    def __init__(self, module, *args, criterion=ObjectiveLoss, valid_batch_size=4096, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.valid_batch_size = valid_batch_size

    def trained_modules(self):
        """The initialized modules of the net (e.g. a GAN's discriminator too)."""
        return [getattr(self, name + "_") for name in self.module_names]

    def optimizers(self):
        """The initialized optimizers of the net."""
        return [getattr(self, name + "_") for name in self.optimizer_names]

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch ends training quietly on Ctrl-C and returns the net as if
        # it had finished; note it, so that partial_fit can pass it on.
        # skorch's EarlyStopping stops training by the same exception: that
        # one is a normal end.
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = not self._stopped_early()
            raise

    def _stopped_early(self):
        return any(
            isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
            for _, callback in self.callbacks_
        )

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, except that Ctrl-C reaches the caller.

        skorch runs ``on_train_end`` and returns normally; here the
        ``KeyboardInterrupt`` is raised again after it, so a search or a loop
        of fits stops, and no half-trained model passes for a fitted one.
        """
        self.interrupted_ = False
        super().partial_fit(X, y, classes=classes, **fit_params)
        if self.interrupted_:
            raise KeyboardInterrupt
        return self

    def get_iterator(self, dataset, training=False):
        batch_size = self.batch_size if training else max(self.batch_size, self.valid_batch_size)
        return TensorBatchIterator(
            dataset_tensors(dataset), batch_size, shuffle=training, device=self.device
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred)

    def _train_mode(self, training=True):
        # skorch sets the mode of every submodule at every step; for networks
        # this small, walking the module tree costs a tenth of a step. Switch
        # only when a module's own mode differs (skorch's evaluation puts
        # them in eval mode; a callback that puts only a submodule in eval
        # mode must also put it back).
        for module in self.trained_modules():
            if module.training != training:
                module.train(training)

    def _notify_grad_computed(self, module, batch):
        """``on_grad_computed`` when the net or a callback defines it (e.g.
        gradient clipping); otherwise no call, and no parameter list is built."""
        listeners = [self] + [callback for _, callback in self.callbacks_]
        defaults = (Callback.on_grad_computed, NeuralNet.on_grad_computed)
        if any(
            "on_grad_computed" in vars(listener) or type(listener).on_grad_computed not in defaults
            for listener in listeners
        ):
            # Trainable parameters only: a frozen part (the flow inside an
            # encoder) has no gradient.
            trainable = ((name, p) for name, p in module.named_parameters() if p.requires_grad)
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(trainable),
                batch=batch,
                training=True,
            )

    def train_step(self, batch, **fit_params):
        """One optimizer step on a batch: skorch's step without its closure.

        The modules' objectives are plain functions of tensor batches, and the
        optimizer is Adam, which needs no closure; skipping skorch's generic
        plumbing (closure, step accumulator, input conversion) saves a sizable
        share of a small network's step. Callbacks see the same events.
        """
        self._train_mode(True)
        inputs, _ = batch
        self.optimizer_.zero_grad()
        objective = self.module_(**inputs, **fit_params)
        loss = self.get_loss(objective, None, X=inputs, training=True)
        loss.backward()
        self._notify_grad_computed(self.module_, batch)
        self.optimizer_.step()
        return {"loss": loss, "y_pred": objective}


class AdversarialNet(LatentVariableNet):
    """A LatentVariableNet with a discriminator, trained as a VAE-GAN.

    The discriminator is a second registered module (``discriminator_``, set
    through ``discriminator__*``) with its own optimizer
    (``optimizer_discriminator_``, set through ``optimizer_discriminator__*``).
    Each training step alternates:

    1. the VAE (``module_``) step on ``-bound + adversarial_weight * G``, where
       G is the non-saturating generator loss ``-log D(x~)`` averaged over
       reconstructions x~ = f(z), z ~ q(z|x), and samples x~ = f(z),
       z ~ p(z|u);
    2. the discriminator step on ``-log D(x) - log(1 - D(x~))``, the two kinds
       of fakes weighted equally.

    Callbacks see ``on_grad_computed`` after each backward pass (the VAE's,
    then the discriminator's), so gradient clipping works on both. The batch
    means of both losses are logged in the history as ``adversarial_loss``
    and ``discriminator_loss``.

    The module must provide ``posterior(x)``, ``prior`` and ``decode_mean``,
    as :class:`~sklearn_ivae.nn.IVAEModule` does.
    """

    module_names = ("module", "discriminator")
    optimizer_names = ("optimizer", "optimizer_discriminator")

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
        z_q = module.posterior(x).rsample().z[0]
        z_p = module.prior.sample(len(x), u)
        return module.decode_mean(z_q), module.decode_mean(z_p)

    def train_step(self, batch, **fit_params):
        self._train_mode(True)
        inputs, _ = batch
        x, u = inputs["x"], inputs.get("u")
        discriminator = self.discriminator_

        self.optimizer_.zero_grad()
        bound = self.module_(**inputs)
        reconstruction, generated = self._fakes(x, u)
        # -log sigmoid(d) = softplus(-d): the non-saturating generator loss.
        adversarial = 0.5 * (
            F.softplus(-discriminator(reconstruction)).mean()
            + F.softplus(-discriminator(generated)).mean()
        )
        loss = self.get_loss(bound, None, X=inputs, training=True)
        (loss + self.adversarial_weight * adversarial).backward()
        self._notify_grad_computed(self.module_, batch)
        self.optimizer_.step()

        self.optimizer_discriminator_.zero_grad()
        discriminator_loss = F.softplus(-discriminator(x)).mean() + 0.5 * (
            F.softplus(discriminator(reconstruction.detach())).mean()
            + F.softplus(discriminator(generated.detach())).mean()
        )
        discriminator_loss.backward()
        self._notify_grad_computed(discriminator, batch)
        self.optimizer_discriminator_.step()

        self.history.record_batch("adversarial_loss", adversarial.item())
        self.history.record_batch("discriminator_loss", discriminator_loss.item())
        return {"loss": loss, "y_pred": bound}
