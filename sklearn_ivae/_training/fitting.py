"""Running a fit: seeding, restarts, warm starts, the validation split, the epochs."""

import math
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from .batches import IndexSplit

__all__ = [
    "auto_max_epochs",
    "check_unchanged",
    "incremental_seed",
    "torch_threads",
    "train",
    "train_best_of",
    "validation_split",
]

# max_epochs='auto' trains each estimator's usual number of epochs up to this
# many training rows (the 40 segments x 1000 points of the papers' benchmark),
# and beyond it the same number of sample visits in fewer epochs, so that the
# cost of a default fit stops growing with n_samples.
AUTO_EPOCHS_REFERENCE_ROWS = 40_000

# Early stopping: epochs without an improvement of the validation score by
# this relative amount before training stops (scikit-learn MLP's defaults).
EARLY_STOPPING_PATIENCE = 10
EARLY_STOPPING_TOL = 1e-4


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch intra-op threads, then restore them.

    None leaves torch's setting as it is.
    """
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def auto_max_epochs(n_train, batch_size, epochs, min_steps=0):
    """What ``max_epochs='auto'`` means for ``n_train`` rows: ``epochs`` up to
    ``AUTO_EPOCHS_REFERENCE_ROWS`` rows, the same sample visits beyond, and
    at least ``min_steps`` steps."""
    visits = epochs * AUTO_EPOCHS_REFERENCE_ROWS
    epochs = min(epochs, max(1, math.ceil(visits / n_train)))
    steps_per_epoch = math.ceil(n_train / batch_size)
    return int(max(epochs, math.ceil(min_steps / steps_per_epoch)))


def incremental_seed(random_state, n_epochs_so_far):
    """The torch seed of a ``partial_fit`` call: from ``random_state`` and the
    epochs trained so far, so that repeated calls do not repeat one shuffle."""
    base_seed = random_state.randint(np.iinfo(np.int32).max)
    return int(np.random.SeedSequence([base_seed, n_epochs_so_far]).generate_state(1)[0])


def validation_split(n_samples, fraction, labels, random_state):
    """The rows held out for early stopping, stratified by categorical u (``labels``)."""
    n_valid = int(np.ceil(fraction * n_samples))
    if n_samples - n_valid < 2:
        raise ValueError(
            f"Early stopping holds out a fraction {fraction} of the {n_samples} samples, which "
            f"leaves {n_samples - n_valid} to train on. Pass more samples, a smaller fraction "
            "as early_stopping, or early_stopping=False."
        )
    stratify = None
    if labels is not None:
        counts = np.bincount(labels)
        counts = counts[counts > 0]
        # Stratify when every segment can be in both parts.
        if counts.min() >= 2 and len(counts) <= min(n_valid, n_samples - n_valid):
            stratify = labels
    train_rows, valid_rows = train_test_split(
        np.arange(n_samples), test_size=n_valid, stratify=stratify, random_state=random_state
    )
    return IndexSplit(np.sort(train_rows), np.sort(valid_rows))


def _same_value(a, b):
    """Equality of parameter values that may be arrays or tuples."""
    try:
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except (TypeError, ValueError):
        return a == b


def check_unchanged(net, module_kwargs, net_params, also_changed=()):
    """A continuation trains the fitted networks as they are: raise if the
    arguments they were built with (of every module, e.g. IVAEGAN's
    discriminator too) differ from ``module_kwargs`` / ``net_params``."""
    changed = list(also_changed)
    for name in net.module_names:
        if name == "module":
            wanted = module_kwargs
        else:
            prefix = name + "__"
            wanted = {k[len(prefix) :]: v for k, v in net_params.items() if k.startswith(prefix)}
        fitted = net.get_params_for(name)
        changed += sorted(
            key
            for key in set(fitted) | set(wanted)
            if not _same_value(fitted.get(key), wanted.get(key))
        )
    if changed:
        raise ValueError(
            "warm_start=True (or partial_fit) continues the fitted network, but these "
            f"settings of it changed since it was fitted: {changed}. Fit with "
            "warm_start=False to start a new one."
        )


def train(net, inputs, seed, device, *, epochs=None, start_from=None, initialize=None):
    """Train ``net`` on a dict of arrays with torch seeded by ``seed``.

    An uninitialized net is initialized first, then started from
    ``start_from`` (a fitted net whose modules' parameters and buffers it
    takes: a continuation) or by ``initialize`` (a function of the new
    module), else from its own random initialization; an initialized net
    continues as it is. ``epochs``: None trains the net's ``max_epochs``.

    Returns the net's training objective over all rows after training (lower
    is better), which ranks restarts. The global torch generator is seeded
    inside ``fork_rng``, so results are reproducible and the caller's own
    torch random state is left untouched.
    """
    cuda_devices = list(range(torch.cuda.device_count())) if "cuda" in str(device) else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        if not net.initialized_:
            net.initialize()
            if start_from is not None:
                for module, fitted in zip(
                    net.trained_modules(), start_from.trained_modules(), strict=True
                ):
                    module.load_state_dict(fitted.state_dict())
            elif initialize is not None:
                initialize(net.module_)
        net.partial_fit(inputs, None, epochs=epochs)
        # One pass of the trained module in eval mode: it ranks restarts
        # (the last epoch's mean loss mixes parameters from across that
        # epoch), and it catches a divergence that no training loss saw,
        # e.g. a last step that left finite but useless parameters.
        loss = -float(net.forward(inputs, training=False).double().mean())
    if not np.isfinite(loss):
        raise FloatingPointError(
            f"The training diverged: the trained model's objective on the training rows "
            f"is {-loss}. Try a smaller `lr`, or check X for extreme values."
        )
    return loss


def train_best_of(make_net, inputs, seeds, device, *, start_from=None, initialize=None, verbose=0):
    """Train a new net from each seed; return the one of lowest final objective.

    Deep latent-variable models have local optima (e.g. two sources merged
    into one latent) from which a training run does not escape; like
    GaussianMixture's ``n_init``, restarts ranked by the objective, which
    does not need the true sources, avoid most of them.
    """
    best_net, best_loss = None, np.inf
    for restart, seed in enumerate(seeds):
        if verbose and len(seeds) > 1:
            print(f"Initialization {restart + 1}/{len(seeds)}", flush=True)
        net = make_net()
        loss = train(net, inputs, seed, device, start_from=start_from, initialize=initialize)
        if best_net is None or loss < best_loss:
            best_net, best_loss = net, loss
    return best_net
