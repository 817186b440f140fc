"""Helpers shared by the benchmark runner and the diagnostics: scoring, timing, tables."""

import csv
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import FastICA
from sklearn.model_selection import train_test_split

from sklearn_ivae.metrics import mean_corr_coef


def fastica_mcc(S, Z):
    """MCC of the sources against FastICA's unmixing of Z."""
    return mean_corr_coef(S, FastICA(random_state=0, max_iter=1000).fit_transform(Z))


def holdout_split(X, S, u, test_size=0.2):
    """80/20 split stratified by segment: TCL is fit on the first part, scored on the other.

    Returns ``X_fit, X_test, S_fit, S_test, u_fit, u_test``.
    """
    return train_test_split(X, S, u, test_size=test_size, stratify=u, random_state=0)


def tcl_mcc(S, H):
    """MCC of TCL features against |s|, after FastICA.

    TCL recovers the sufficient statistics of the sources, not the sources: with the
    |.| feature layer, |s| (the Laplace statistic; for Gaussian sources |s| and s^2
    rank alike) up to a linear map, which FastICA undoes.
    """
    return fastica_mcc(np.abs(S), H)


class Stopwatch:
    """Wall-clock and CPU seconds (of this process) of a ``with`` block.

    With one torch thread the CPU seconds are about what the block takes on a core of
    its own: on a shared machine they are the steadier figure.
    """

    def __enter__(self):
        self._start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info):
        self.wall = time.perf_counter() - self._start[0]
        self.cpu = time.process_time() - self._start[1]


def skorch_seconds_per_epoch(model):
    """Median seconds per epoch of a fitted estimator's skorch history."""
    return float(np.median(model.net_.history[:, "dur"]))


def _training_tensors(model, X, u):
    """The scaled float32 x and encoded u (None when unused) that fit trained on."""
    inputs = {"x": torch.as_tensor(model._scale(X), dtype=torch.float32)}
    if model._requires_aux():
        inputs["u"] = torch.as_tensor(model.aux_encoder_.transform(u))
    return inputs


def _fresh(net, name, optimizer_name):
    """A freshly initialized copy of one of a fitted net's modules, and its optimizer.

    Both are built from the net's own settings, as skorch builds them (so e.g. TCL's
    per-group weight decay and the discriminator's Adam betas are the same).
    """
    module = type(getattr(net, name + "_"))(**net.get_params_for(name))
    args, kwargs = net.get_params_for_optimizer(optimizer_name, module.named_parameters())
    return module, getattr(net, optimizer_name)(*args, **kwargs)


def _adversarial_step(module, discriminator, optimizer, optimizer_d, weight, batch):
    """One VAE step then one discriminator step: ``AdversarialNet.train_step`` in plain torch."""
    x, u = batch["x"], batch.get("u")
    optimizer.zero_grad()
    bound = module(**batch)
    reconstruction = module.decode_mean(module.posterior(x).rsample().z[0])
    generated = module.decode_mean(module.prior.sample(len(x), u))
    adversarial = 0.5 * (
        F.softplus(-discriminator(reconstruction)).mean()
        + F.softplus(-discriminator(generated)).mean()
    )
    (-bound.mean() + weight * adversarial).backward()
    optimizer.step()

    optimizer_d.zero_grad()
    discriminator_loss = F.softplus(-discriminator(x)).mean() + 0.5 * (
        F.softplus(discriminator(reconstruction.detach())).mean()
        + F.softplus(discriminator(generated.detach())).mean()
    )
    discriminator_loss.backward()
    optimizer_d.step()


def plain_torch_seconds_per_epoch(model, X, u, n_epochs):
    """Median seconds per epoch of a bare torch loop on a fitted model's module and batches.

    A fresh copy of the estimator's torch module, with an optimizer built from the same
    settings, is trained on the same scaled tensors with the same batch size and
    shuffling, with no skorch around it: each step is ``-module(x=..., u=...).mean()``
    (``u`` left out when the model does not use it, as for a plain VAE). For a model
    trained with a discriminator (IVAEGAN), each step is the same two updates as
    ``AdversarialNet.train_step``: the VAE on ``-bound + adversarial_weight * G``, then the
    discriminator. The loop has no learning-rate schedule, decoder-variance annealing
    or non-finite guard: the ratio to it includes what those callbacks cost.
    """
    net = model.net_
    module, optimizer = _fresh(net, "module", "optimizer")
    adversarial = hasattr(net, "discriminator_")
    if adversarial:
        discriminator, optimizer_d = _fresh(net, "discriminator", "optimizer_discriminator")
    inputs = _training_tensors(model, X, u)
    n_samples, batch_size = len(inputs["x"]), model.batch_size
    durations = []
    for _ in range(n_epochs):
        start = time.perf_counter()
        order = torch.randperm(n_samples)
        shuffled = {key: value[order] for key, value in inputs.items()}
        for i in range(0, n_samples, batch_size):
            batch = {key: value[i : i + batch_size] for key, value in shuffled.items()}
            if adversarial:
                _adversarial_step(
                    module, discriminator, optimizer, optimizer_d, net.adversarial_weight, batch
                )
            else:
                loss = -module(**batch).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        durations.append(time.perf_counter() - start)
    return float(np.median(durations))


def _cell(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def print_row(row):
    print(" | ".join(f"{k}={_cell(v)}" for k, v in row.items()), flush=True)


def markdown(rows):
    """Rows (dicts with the same keys) as a markdown table."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[k]) for k in keys) + " |")
    return "\n".join(lines)


def append_csv_row(row, path):
    """Append one row to a CSV file (with a header if the file is new), flushed to disk.

    The columns must be those of the file's header: a long run writes each result as
    it completes, so nothing is lost if it is stopped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = list(read_csv(path, header_only=True))
    if header and sorted(header) != sorted(row):
        raise ValueError(f"{path} has the columns {header}, the row has {list(row)}.")
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header or list(row))
        if not header:
            writer.writeheader()
        writer.writerow(row)
        f.flush()


def read_csv(path, header_only=False):
    """Rows of a CSV file as dicts of strings ([] if there is no file), or its header."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return (reader.fieldnames or []) if header_only else list(reader)
