"""Does the exact likelihood rank the true mixture model above the fitted flows?

``IdentifiableFlow(prior='mixture')`` is fitted by exact likelihood, and on
``make_mixture_latents`` data (2 latents, 3 clusters, 3-layer leaky-ReLU
mixing, no u) the true model's own log-density of every row is known
(``return_log_density=True``). For each data seed this fits the flows on the
first ``--n-samples`` rows and compares, in nats per sample in the units of X,
on those rows (``train``) and on as many fresh rows of the same draw
(``test``):

- ``truth``: the true model's mean log-density;
- each flow's mean ``score_samples`` (its exact log-likelihood), with the
  affine R^2 of the true latents from its latents on the fresh rows (and that
  of X itself, ``raw_r2``).

If the truth scores higher than a fit on the training rows, the likelihood
prefers the true model, and the fit stopped short of it: the limit is the
optimization (or the flow's capacity), not the objective. The piecewise-affine
flow contains the true inverse mixing (LU-linear maps and leaky ReLUs), so for
it only the optimization remains.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_flow.py [--seeds 0 1 2 3 4]
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_flow.py --quick
"""

import argparse
import time

import torch
from _shared import markdown, print_row

from sklearn_ivae import IdentifiableFlow
from sklearn_ivae.datasets import make_mixture_latents
from sklearn_ivae.metrics import affine_r2_score

N_CLUSTERS = 3
FLOWS = {
    "spline": {},
    "piecewise_affine": {"flow": "piecewise_affine"},
    "piecewise_affine_long": {"flow": "piecewise_affine", "lr": 3e-2, "max_epochs": 200},
}


def run_seed(seed, args):
    X, Z, _, log_density = make_mixture_latents(
        n_samples=2 * args.n_samples, random_state=seed, return_log_density=True
    )
    train, test = slice(0, args.n_samples), slice(args.n_samples, None)
    rows = []
    for name in args.flows:
        params = dict(FLOWS[name])
        if args.max_epochs is not None:
            params["max_epochs"] = args.max_epochs
        start = time.process_time()
        flow = IdentifiableFlow(
            prior="mixture", n_mixture_components=N_CLUSTERS, random_state=0, **params
        ).fit(X[train])
        row = {
            "seed": seed,
            "flow": name,
            "truth_train": log_density[train].mean(),
            "fit_train": flow.score(X[train]),
            "truth_test": log_density[test].mean(),
            "fit_test": flow.score(X[test]),
            "r2": affine_r2_score(Z[test], flow.transform(X[test])),
            "raw_r2": affine_r2_score(Z[test], X[test]),
            "cpu_s": time.process_time() - start,
        }
        print_row(row)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="data seeds (default: 0 1 2 3 4)")
    parser.add_argument("--n-samples", type=int, help="training rows (default: 5000)")
    parser.add_argument("--flows", nargs="+", choices=list(FLOWS), default=list(FLOWS))
    parser.add_argument("--max-epochs", type=int, help="overrides every flow's epochs")
    parser.add_argument("--quick", action="store_true", help="seed 0, 1000 rows, 5 epochs")
    args = parser.parse_args()
    defaults = {"seeds": [0, 1, 2, 3, 4], "n_samples": 5000}
    if args.quick:
        defaults = {"seeds": [0], "n_samples": 1000}
        args.max_epochs = args.max_epochs or 5
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    torch.set_num_threads(1)
    rows = [row for seed in args.seeds for row in run_seed(seed, args)]
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
