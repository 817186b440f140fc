"""Why does the mixture-prior flow stop short of the latents? Truth against fit, one likelihood.

On ``make_mixture_latents`` draws that are far from affine (2 latents, 3
clusters, ``--n-layers`` leaky-ReLU layers of slope ``--slope``; the raw X
has a low affine R^2 to the latents), ``IdentifiableFlow(prior='mixture',
flow='piecewise_affine')`` contains the true model exactly: its LU-linear
maps, shifts and leaky ReLUs can be set to the true inverse mixing, and its
prior to the true mixture. For each data seed and mixture covariance this
prints, on the training rows, the exact log-likelihood (nats per sample, in
the units of X) and the affine R^2 of the true latents on fresh rows, for:

- ``truth``: the flow set to the true inverse and the prior to the true
  mixture (``'full'``), or to the best diagonal mixture at the true latents
  (``'diag'``, a GaussianMixture on them), before any training;
- ``truth_trained``: that start after ``--epochs`` epochs of the plain loop
  (Adam at ``--truth-lr``, batch 256, the exact likelihood; the estimator's
  own lr, 3e-3, shakes even the truth's likelihood: the density of these
  data is very peaked);
- ``default``: the estimator's own fit with ``n_mixture_components`` equal to
  the number of clusters;
- ``spline``: the same with the default spline flow (``'full'`` and
  ``'diag'``), which does not contain the truth exactly;
- ``ivae_mixture`` and ``vae``: ``IVAE(prior='mixture')`` with its defaults
  (a leaky-ReLU decoder: Kivva et al.'s model, by a variational bound) and
  the plain VAE, ``IVAE(prior='isotropic')``. Their ``loglik`` is a bound.

At the truth it also compares the slope of the likelihood along its
gradient (``slope_autograd``, the gradient's norm) with the slope measured by
a small step along it (``slope_measured``). On a finite sample the measured
slope is dominated by the few rows a small step moves across a kink; that
the hard log-determinant's gradient misses those crossings in expectation
is what ``truth_trained`` shows (the leaky ReLU's boundary term keeps the
truth; without it the likelihood falls).

Reading it: if ``truth`` scores above ``default`` and keeps its R^2 when
trained, the likelihood prefers the truth and the fit stops short by
optimization; if ``truth_trained`` climbs above ``truth`` while its R^2
falls, the likelihood itself prefers another solution (e.g. a diagonal
mixture, which cannot hold the clusters' rotated covariances with one
linear map, bends each cluster on its own). The true log-density
(``truth_density``, from the generator) checks the truth start.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_deep.py [--seeds 0 1 2 3 4]
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_deep.py --quick
"""

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
from _shared import markdown, print_row
from sklearn.mixture import GaussianMixture

from sklearn_ivae import IVAE, IdentifiableFlow
from sklearn_ivae.datasets import _draw_mixture_latents
from sklearn_ivae.metrics import affine_r2_score
from sklearn_ivae.nn.flow import load_piecewise_affine_flow

N_CLUSTERS = 3
RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "diagnostics"


def _lu_without_pivoting(W):
    """L (lower) and U (unit upper) with W = L U, packed as zuko's LULinearTransform reads them."""
    n = len(W)
    L, U = np.zeros((n, n)), np.eye(n)
    for j in range(n):
        for i in range(j, n):
            L[i, j] = W[i, j] - L[i, :j] @ U[:j, j]
        for k in range(j + 1, n):
            U[j, k] = (W[j, k] - L[j, :j] @ U[:j, k]) / L[j, j]
    return np.tril(L) + np.triu(U, 1)


@torch.no_grad()
def set_true_inverse(estimator, model):
    """Set a piecewise-affine flow to the true inverse mixing of ``model``.

    The flow reads standardized x: its first linear map undoes the
    standardization and the last mixing matrix, each leaky ReLU of slope
    1 / slope undoes one of the mixing's, and the shifts carry the kinks (and
    the mean of X) between layers. Unused layers are the identity.
    """
    flow = estimator.net_.module_.flow
    matrices, kinks = model["matrices"], model["kinks"]
    n_hidden = len(kinks)
    n_transforms = (len(flow.transforms) - 2) // 3
    if n_transforms < n_hidden:
        raise ValueError(f"{n_transforms} flow layers cannot hold {n_hidden} leaky ReLUs")
    n = len(estimator.x_scale_)

    A_inv = np.linalg.inv(matrices[-1])
    W = A_inv @ np.diag(estimator.x_scale_)
    offset = A_inv @ estimator.x_mean_
    layers = []
    for t in range(n_transforms):
        layer = {"shift": offset, "log_slope": np.zeros(n), "linear": np.eye(n)}
        offset = np.zeros(n)
        if t < n_hidden:
            hidden = n_hidden - 1 - t
            A_inv = np.linalg.inv(matrices[hidden])
            layer["log_slope"] = np.full(n, -np.log(model["slope"]))
            layer["linear"] = _lu_without_pivoting(A_inv)
            offset = A_inv @ kinks[hidden]
        layers.append(layer)
    params = {"first": _lu_without_pivoting(W), "layers": layers, "last_shift": offset}
    load_piecewise_affine_flow(flow, params)


def gradient_check(module, x, step=1e-4):
    """The likelihood's slope along its autograd gradient: predicted and measured.

    At a smooth point the two agree for a small step. The log-determinant of
    a piecewise-affine flow is piecewise constant in its parameters: rows
    that cross a kink change it, and autograd does not see them. A measured
    slope far below the predicted one means the gradient the optimizer
    follows is not the likelihood's.
    """
    module = module.double()
    x = x.double()
    params = list(module.parameters())
    loglik = module(x).mean()
    grads = torch.autograd.grad(loglik, params)
    norm = float(torch.sqrt(sum((g**2).sum() for g in grads)))
    loglik = float(loglik)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.add_(step * g / norm)
        moved = float(module(x).mean())
        for p, g in zip(params, grads, strict=True):
            p.sub_(step * g / norm)
    return {"slope_autograd": norm, "slope_measured": (moved - loglik) / step}


def train(module, x, epochs, lr=3e-4, batch_size=256):
    """The plain loop: Adam at a constant lr, the exact likelihood."""
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            loss = -module(x[order[start : start + batch_size]]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def run_seed(seed, args):
    X, Z, _, log_density, model = _draw_mixture_latents(
        2 * args.n_samples, 2, 2, N_CLUSTERS, args.n_layers, 3.0, args.slope, seed, True
    )
    train_rows, test_rows = slice(0, args.n_samples), slice(args.n_samples, None)
    common = {
        "seed": seed,
        "truth_density": log_density[train_rows].mean(),
        "raw_r2": affine_r2_score(Z[test_rows], X[test_rows]),
    }
    rows = []

    def record(covariance, start, estimator, cpu_s, **extra):
        row = {
            **common,
            "covariance": covariance,
            "start": start,
            "loglik": estimator.score(X[train_rows]),
            "r2": affine_r2_score(Z[test_rows], estimator.transform(X[test_rows])),
            "cpu_s": cpu_s,
            "slope_autograd": np.nan,
            "slope_measured": np.nan,
            **extra,
        }
        print_row(row)
        rows.append(row)

    for covariance in args.covariances:
        params = {
            "prior": "mixture",
            "n_mixture_components": N_CLUSTERS,
            "mixture_covariance": covariance,
            "random_state": 0,
        }
        start = time.process_time()
        estimator = IdentifiableFlow(flow="piecewise_affine", max_epochs=1, **params)
        estimator.fit(X[train_rows])
        set_true_inverse(estimator, model)
        prior = estimator.net_.module_.prior
        if covariance == "full":
            prior.set_mixture(model["weights"], model["means"], model["covariances"])
        else:
            gmm = GaussianMixture(N_CLUSTERS, covariance_type="diag", random_state=0)
            gmm.fit(Z[train_rows])
            prior.set_mixture(gmm.weights_, gmm.means_, gmm.covariances_)
        module = estimator.net_.module_
        x = torch.as_tensor(estimator._scale(X[train_rows]))
        record(covariance, "truth", estimator, 0.0, **gradient_check(module, x))
        x = x.to(next(module.parameters()).dtype)
        torch.manual_seed(seed)
        train(module, x, args.epochs, lr=args.truth_lr)
        record(covariance, "truth_trained", estimator, time.process_time() - start)
        for name, flow in [("default", "piecewise_affine"), ("spline", "spline")]:
            start = time.process_time()
            estimator = IdentifiableFlow(flow=flow, **params).fit(X[train_rows])
            record(covariance, name, estimator, time.process_time() - start)
    for name, estimator in [
        ("ivae_mixture", IVAE(prior="mixture", n_mixture_components=N_CLUSTERS, random_state=0)),
        ("vae", IVAE(prior="isotropic", random_state=0)),
    ]:
        start = time.process_time()
        estimator.fit(X[train_rows])
        record("", name, estimator, time.process_time() - start)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="data seeds (default: 0 1 2 3 4)")
    parser.add_argument("--n-samples", type=int, help="training rows (default: 5000)")
    parser.add_argument("--n-layers", type=int, default=4, help="mixing layers (default: 4)")
    parser.add_argument("--slope", type=float, default=0.1, help="leaky-ReLU slope (0.1)")
    parser.add_argument("--epochs", type=int, help="epochs from the truth (default: 100)")
    parser.add_argument("--truth-lr", type=float, default=3e-4, help="lr from the truth (3e-4)")
    parser.add_argument(
        "--covariances", nargs="+", choices=["full", "diag"], default=["full", "diag"]
    )
    parser.add_argument("--out", help="CSV file to write (default: none)")
    parser.add_argument("--quick", action="store_true", help="seed 0, 1000 rows, 10 epochs")
    args = parser.parse_args()
    defaults = {"seeds": [0, 1, 2, 3, 4], "n_samples": 5000, "epochs": 100}
    if args.quick:
        defaults = {"seeds": [0], "n_samples": 1000, "epochs": 10}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    torch.set_num_threads(1)
    rows = [row for seed in args.seeds for row in run_seed(seed, args)]
    print()
    print(markdown(rows))
    if args.out:
        path = Path(args.out)
        if not path.is_absolute() and path.parent == Path("."):
            path = RECORDED / path
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()}
                )


if __name__ == "__main__":
    main()
