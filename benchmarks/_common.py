"""Helpers shared by the benchmark scripts: scoring, timing, tables."""

import csv
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import FastICA

from sklearn_ivae.metrics import mean_corr_coef


def fastica_mcc(S, Z):
    """MCC of the sources against FastICA's unmixing of Z."""
    return mean_corr_coef(S, FastICA(random_state=0, max_iter=1000).fit_transform(Z))


def plain_torch_seconds_per_epoch(model, X, u, n_epochs):
    """Seconds per epoch of a bare torch loop on a fitted model's module and batches.

    A fresh copy of the estimator's torch module is trained on the same scaled
    tensors with the same batch size and Adam, with no skorch around it.
    """
    net = model.net_
    module = type(net.module_)(**net.get_params_for("module"))
    optimizer = torch.optim.Adam(module.parameters(), lr=model.lr)
    x = torch.as_tensor(model._scale(X), dtype=torch.float32)
    aux = torch.as_tensor(model._encode_aux(u))
    start = time.perf_counter()
    for _ in range(n_epochs):
        order = torch.randperm(len(x))
        xs, us = x[order], aux[order]
        for i in range(0, len(xs), model.batch_size):
            loss = -module(xs[i : i + model.batch_size], us[i : i + model.batch_size]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / n_epochs


def epoch_ratio(model, X, u, n_epochs):
    """Median skorch epoch time of a fitted model over the plain torch loop's."""
    skorch_epoch = float(np.median(model.net_.history[:, "dur"]))
    return skorch_epoch / plain_torch_seconds_per_epoch(model, X, u, n_epochs)


def print_row(row):
    print(
        " | ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
        flush=True,
    )


def markdown(rows):
    """Rows (dicts with the same keys) as a markdown table."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(rows, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwritten: {path}")
