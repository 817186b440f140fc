"""Do restarts explore? Restart agreement on structureless and identifiable data, and depth MCC.

Two parts, each appending rows to one CSV:

- ``restarts``: fits with ``random_state`` 0, 1, ... of ``IdentifiableFlow()`` and
  ``IVAE()`` (defaults), each followed by ``FastICA(random_state=<same seed>)``
  as ``fit_consistency`` reseeds a pipeline, on (a) identifiable data,
  ``make_nonlinear_ica(n_sources=5, n_layers=2)`` (40 segments x 1000), and
  (b) structureless data of the same shape: isotropic Gaussian X with the
  segment labels shuffled. Every pair of restarts is scored with
  ``consistency_score`` (permutation), on the latents and after FastICA; the
  random-rotation reference is two random rotations of the structureless X.
- ``depth``: MCC of ``IdentifiableFlow(random_state=0)`` (latents, and after
  FastICA) on the papers' slope-0.2 data of 5 sources, 30 segments x 800, at
  2, 3 and 4 mixing layers (as benchmarks/suites.py and diagnose_flow_stage.py
  build it).

``--variant`` labels the rows (e.g. the flow's start in the code measured).

Run: ``OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_restarts.py
--variant orthogonal --out restart_exploration.csv`` (about 25 CPU minutes
with both parts and both methods).
"""

import argparse
import csv
import itertools
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE, IdentifiableFlow
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import consistency_score, mean_corr_coef

COLUMNS = [
    "variant",
    "part",
    "data",
    "layers",
    "data_seed",
    "method",
    "seed_a",
    "seed_b",
    "consistency_latent",
    "consistency_fastica",
    "mcc_latent",
    "mcc_fastica",
    "cpu_s",
]

ESTIMATORS = {"flow": IdentifiableFlow, "ivae": IVAE}


def restart_data(kind, data_seed):
    X, S, u = make_nonlinear_ica(n_sources=5, n_layers=2, random_state=data_seed)
    if kind == "identifiable":
        return X, S, u
    rng = np.random.RandomState(data_seed)
    return rng.standard_normal(X.shape), None, u[rng.permutation(len(u))]


def random_rotation_scores(X, n_pairs, seed=0):
    rng = np.random.RandomState(seed)
    scores = []
    for _ in range(n_pairs):
        Q1, _ = np.linalg.qr(rng.standard_normal((X.shape[1],) * 2))
        Q2, _ = np.linalg.qr(rng.standard_normal((X.shape[1],) * 2))
        scores.append(consistency_score(X @ Q1, X @ Q2))
    return np.array(scores)


def fit_latents(method, X, u, seed):
    start = time.process_time()
    model = ESTIMATORS[method](random_state=seed).fit(X, u)
    Z = model.transform(X)
    unmixed = FastICA(random_state=seed).fit_transform(Z)
    return Z, unmixed, time.process_time() - start


def fmt(value):
    return "" if value is None else f"{value:.4f}"


def run_restarts(args, writer, f):
    for kind in args.data:
        X, S, u = restart_data(kind, args.data_seed)
        if kind == "structureless":
            rot = random_rotation_scores(X, 200)
            lo, hi = np.percentile(rot, [5, 95])
            row = [args.variant, "restarts", kind, 2, args.data_seed, "random_rotation"]
            row += ["", "", fmt(rot.mean()), fmt(rot.mean()), fmt(lo), fmt(hi), ""]
            writer.writerow(row)
            print(*row, "(mcc columns: 5th and 95th percentiles)", flush=True)
        for method in args.methods:
            fits = {}
            for seed in args.restart_seeds:
                fits[seed] = fit_latents(method, X, u, seed)
                Z, unmixed, cpu = fits[seed]
                mcc = (
                    (None, None)
                    if S is None
                    else (mean_corr_coef(S, Z), mean_corr_coef(S, unmixed))
                )
                row = [args.variant, "restarts", kind, 2, args.data_seed, method, seed, ""]
                row += ["", "", fmt(mcc[0]), fmt(mcc[1]), f"{cpu:.1f}"]
                writer.writerow(row)
                print(*row, flush=True)
            for a, b in itertools.combinations(args.restart_seeds, 2):
                latent = consistency_score(fits[a][0], fits[b][0])
                fastica = consistency_score(fits[a][1], fits[b][1])
                row = [args.variant, "restarts", kind, 2, args.data_seed, method, a, b]
                row += [fmt(latent), fmt(fastica), "", "", ""]
                writer.writerow(row)
                print(*row, flush=True)
            f.flush()


def run_depth(args, writer, f):
    for seed in args.depth_seeds:
        for layers in args.layers:
            X, S, u = make_nonlinear_ica(
                n_sources=5,
                n_segments=30,
                n_samples_per_segment=800,
                n_layers=layers,
                slope=0.2,
                random_state=seed,
            )
            start = time.process_time()
            Z = IdentifiableFlow(random_state=0).fit(X, u).transform(X)
            cpu = time.process_time() - start
            unmixed = FastICA(random_state=0, max_iter=1000).fit_transform(Z)
            row = [args.variant, "depth", "slope_0.2", layers, seed, "flow", 0, ""]
            row += ["", "", fmt(mean_corr_coef(S, Z)), fmt(mean_corr_coef(S, unmixed))]
            writer.writerow([*row, f"{cpu:.1f}"])
            f.flush()
            print(*row, f"{cpu:.1f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", required=True)
    parser.add_argument("--parts", nargs="+", default=["restarts", "depth"])
    parser.add_argument("--methods", nargs="+", default=["flow", "ivae"], choices=list(ESTIMATORS))
    parser.add_argument(
        "--data", nargs="+", default=["structureless", "identifiable"], help="restart data kinds"
    )
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--restart-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--depth-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--out", default="restart_exploration.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    out = Path(args.out)
    new_file = not out.exists()
    with out.open("a", newline="") as f:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(COLUMNS)
        if "restarts" in args.parts:
            run_restarts(args, writer, f)
        if "depth" in args.parts:
            run_depth(args, writer, f)


if __name__ == "__main__":
    main()
