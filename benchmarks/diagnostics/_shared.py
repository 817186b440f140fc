"""What the diagnostics share: one plain training loop, the starts, the objective.

Every start (the estimator's own fit, or a start at the true latents) is
trained by the same loop: Adam, constant lr 1e-3, batch 64, the module's own
bound (``-module(x, u).mean()``: the ELBO, or the importance-weighted bound
with ``n_importance_samples > 1``), so that the objectives at the end compare.
The data are scaled and u encoded by the fitted estimator itself
(``est._scale``, ``est.aux_encoder_``).
"""

import ast
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

# The benchmark helpers one folder up (these scripts run as files, not a package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import append_csv_row, fastica_mcc, markdown, print_row  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # FastICA on poor latents

__all__ = [
    "add_estimator_options",
    "append_csv_row",
    "distil",
    "estimator_params",
    "fastica_mcc",
    "latents",
    "markdown",
    "module_inputs",
    "objective",
    "objectives",
    "print_row",
    "train",
]

BATCH_SIZE = 64
LR = 1e-3
# Rows per forward pass when the objective is evaluated on all the data.
EVAL_BATCH_SIZE = 8192


def add_estimator_options(parser):
    """``--n-importance-samples K`` and ``--param NAME=VALUE``: parameters of the estimator."""
    parser.add_argument(
        "--n-importance-samples",
        type=int,
        metavar="K",
        help="IVAE's n_importance_samples: 1 the ELBO (default), K > 1 the "
        "importance-weighted bound, trained by the fit and by the loop",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other IVAE parameter (repeatable), e.g. --param decoder_var=1e-4 "
        "--param 'hidden_layer_sizes=(64, 64, 64)'",
    )


def estimator_params(args):
    """The estimator parameters given on the command line, as a dict."""
    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--param {item!r}: expected NAME=VALUE")
        try:
            params[name.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name.strip()] = value  # a string option, e.g. prior=mixture
    if args.n_importance_samples is not None:
        params["n_importance_samples"] = args.n_importance_samples
    return params


def module_inputs(estimator, X, u=None):
    """The fitted estimator's module (float32) and the tensors it trained on.

    X is standardized and u encoded by the estimator itself, as in its fit.
    """
    module = estimator.net_.module_.float()
    x = torch.as_tensor(estimator._scale(X), dtype=torch.float32)
    if u is not None:
        u = torch.as_tensor(estimator.aux_encoder_.transform(u), dtype=torch.float32)
    return module, x, u


def distil(module, x, target, steps=6000):
    """Regress the encoder's means onto ``target`` and the decoder back onto x."""
    params = list(module.encoder.parameters()) + list(module.decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-3)
    for _ in range(steps):
        batch = torch.randint(len(x), (256,))
        loc = module.posterior(x[batch]).location
        loss = ((loc - target[batch]) ** 2).mean()
        loss = loss + ((module.decoder(target[batch]) - x[batch]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def train(module, x, epochs, u=None):
    """The plain loop every start gets: Adam, constant lr 1e-3, batch 64, the module's bound."""
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            inputs = (x[batch],) if u is None else (x[batch], u[batch])
            loss = -module(*inputs).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


@torch.no_grad()
def latents(module, x):
    """The posterior means (what ``transform`` returns), float64 numpy."""
    return module.posterior(x).location.double().numpy()


@torch.no_grad()
def objective(module, x, u=None, repeats=3, n_importance_samples=None):
    """The module's bound in nats per sample (of standardized X), averaged over a
    few evaluations (its Monte Carlo terms are noisy); with
    ``n_importance_samples``, the bound with that K instead of the module's own."""
    trained_k = module.n_importance_samples
    if n_importance_samples is not None:
        module.n_importance_samples = n_importance_samples
    try:
        values = []
        for _ in range(repeats):
            total = 0.0
            for start in range(0, len(x), EVAL_BATCH_SIZE):
                rows = slice(start, start + EVAL_BATCH_SIZE)
                inputs = (x[rows],) if u is None else (x[rows], u[rows])
                total += float(module(*inputs).double().sum())
            values.append(total / len(x))
    finally:
        module.n_importance_samples = trained_k
    return float(np.mean(values))


def objectives(module, x, u=None, repeats=3):
    """The trained bound, named by its K, and the ELBO beside it when K > 1."""
    k = module.n_importance_samples
    if k == 1:
        return {"elbo": objective(module, x, u, repeats)}
    return {
        f"iwae_{k}": objective(module, x, u, repeats),
        "elbo": objective(module, x, u, repeats, n_importance_samples=1),
    }
