"""Does the kink search's score rise along the true inverse, layer by layer?

``IdentifiableFlow(init='kink_search')`` peels a piecewise-affine mixing one
kink at a time and keeps the kink that most raises a score: the
log-likelihood of a Gaussian mixture (3 full-covariance components, as many
as the clusters) fitted to the kinked rows, plus the kinks' log-determinant.
A greedy search can find the true chain only if that score rises along it.
On ``make_mixture_latents`` draws (2 latents, 3 clusters, ``--n-layers``
leaky-ReLU layers of slope ``--slope``), this script scores the true inverse
mixing itself:

- ``depth`` d = 0 .. n_layers - 1: X (standardized) with its last d hidden
  layers undone exactly (their linear maps and leaky ReLUs), so d =
  n_layers - 1 is an affine map of the latents;
- ``kink``: a single kink of the last hidden layer undone alone, with its
  true displacement (``true_v``) or displaced along its own normal
  (``normal_v``), as the search's candidates are (the search writes
  ``x + (a - 1) min(w.x - c, 0) w``; the true kink moves x along the column
  of the last mixing matrix, at ``beta`` = the tangent of its angle to w);

each scored as the search scores (the mixture fitted once, ``n_init=1``) and
with the best of 8 initializations of EM (``n_init=8``), on the search's
2,000 rows and on all 5,000 training rows; with the affine R^2 of those rows
to the latents. If the score falls along the truth, or if the single-start
EM ranks the true kink below others by more than a restart recovers, a
greedy search by this score cannot be trusted to find the mixing.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_path.py --seeds 0 1 2 3 4 \\
        --out benchmarks/recorded/diagnostics/mixture_path.csv
"""

import argparse

import numpy as np
from _shared import append_csv_row, print_row
from sklearn.mixture import GaussianMixture

from sklearn_ivae._kinks import SEARCH_ROWS
from sklearn_ivae.datasets import _draw_mixture_latents
from sklearn_ivae.metrics import affine_r2_score

N_CLUSTERS, N_ROWS = 3, 5000


def score(x, log_det, n_init):
    """The search's score of rows x: a fitted mixture's log-likelihood plus the log-determinant."""
    mixture = GaussianMixture(N_CLUSTERS, covariance_type="full", n_init=n_init, random_state=0)
    return mixture.fit(x).score(x) + log_det.mean()


def true_path(x, mean, scale, model):
    """X standardized with 0, 1, ... of its last hidden layers undone, and each one's log-det."""
    inverse_slope = 1 / model["slope"]
    h = x * scale + mean  # back to X's units
    log_det = np.full(len(x), np.log(scale).sum())
    path = [(x, np.zeros(len(x)))]
    for A, kinks in zip(model["matrices"][:0:-1], model["kinks"][::-1], strict=True):
        g = h @ np.linalg.inv(A).T
        log_det = log_det - np.linalg.slogdet(A)[1] + np.log(inverse_slope) * (g < 0).sum(axis=1)
        h = np.where(g < 0, g * inverse_slope, g) + kinks
        path.append((h, log_det.copy()))
    return path


def last_layer_kinks(x, mean, scale, model):
    """The last hidden layer's kinks as (w, v, c, a): x + (a - 1) min(w.x - c, 0) v."""
    A = model["matrices"][-1]
    rows = np.linalg.inv(A)
    kinks = []
    for unit in range(A.shape[1]):
        normal = rows[unit] * scale
        norm = np.linalg.norm(normal)
        w = normal / norm
        v = norm * A[:, unit] / scale  # w.v = 1
        kinks.append((w, v, -rows[unit] @ mean / norm, 1 / model["slope"]))
    return kinks


def apply(x, w, v, c, a):
    t = x @ w - c
    return x + (a - 1) * np.minimum(t, 0)[:, None] * v, np.where(t < 0, np.log(a), 0.0)


def run_seed(seed, args):
    # The draw of diagnose_mixture_greedy.py, whose first 5,000 rows train.
    X, Z, _, log_density, model = _draw_mixture_latents(
        2 * N_ROWS, 2, 2, N_CLUSTERS, args.n_layers, 3.0, args.slope, seed, True
    )
    X, Z, log_density = X[:N_ROWS], Z[:N_ROWS], log_density[:N_ROWS]
    mean, scale = X.mean(0), X.std(0)
    x = (X - mean) / scale
    search_rows = np.random.RandomState(0).choice(N_ROWS, SEARCH_ROWS, replace=False)
    candidates = [
        (f"depth {d}", np.nan, h, log_det)
        for d, (h, log_det) in enumerate(true_path(x, mean, scale, model))
    ]
    for unit, (w, v, c, a) in enumerate(last_layer_kinks(x, mean, scale, model)):
        beta = float(v @ np.array([-w[1], w[0]]))
        for name, displacement in [("true_v", v), ("normal_v", w)]:
            y, log_det = apply(x, w, displacement, c, a)
            candidates.append((f"kink {unit} {name}", beta, y, log_det))
    for stage, beta, y, log_det in candidates:
        row = {"seed": seed, "n_layers": args.n_layers, "slope": args.slope, "stage": stage}
        row["beta"] = beta
        row["r2"] = affine_r2_score(Z, y)
        for rows_name, rows in [("search", search_rows), ("all", slice(None))]:
            for n_init in (1, 8):
                row[f"score_{rows_name}_init{n_init}"] = score(y[rows], log_det[rows], n_init)
        row["truth_loglik"] = log_density.mean() + np.log(scale).sum()
        if args.out:
            append_csv_row(row, args.out)
        print_row(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-layers", type=int, default=4, help="mixing layers (default: 4)")
    parser.add_argument("--slope", type=float, default=0.1, help="leaky-ReLU slope (0.1)")
    parser.add_argument("--out", help="CSV file to write (default: none)")
    args = parser.parse_args()
    for seed in args.seeds:
        run_seed(seed, args)


if __name__ == "__main__":
    main()
