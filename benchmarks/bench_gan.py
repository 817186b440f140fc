"""IVAEGAN against IVAE: identifiability kept, samples improved?

For each data seed (5 sources, 40 segments x 1000 points, 2-layer mixing) it
fits IVAE and IVAEGAN with their defaults and prints the MCC of each followed
by FastICA, the classifier two-sample AUC of ``sample()`` against the real
data (on a random subset of ``--c2st-samples`` points, sampled with the same
u; 0.5 is indistinguishable, lower is better), and fit seconds.

    OMP_NUM_THREADS=1 python benchmarks/bench_gan.py            # the full run
    OMP_NUM_THREADS=1 python benchmarks/bench_gan.py --quick    # a few minutes
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import fastica_mcc, markdown, print_row, write_csv
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE, IVAEGAN
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import classifier_two_sample_score

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def run(seeds, n_layers, n_samples_per_segment, max_epochs, c2st_samples):
    rows = []
    for seed in seeds:
        X, S, u = make_nonlinear_ica(
            n_sources=5,
            n_segments=40,
            n_samples_per_segment=n_samples_per_segment,
            n_layers=n_layers,
            random_state=seed,
        )
        subset = np.random.RandomState(0).choice(len(X), min(c2st_samples, len(X)), replace=False)
        row = {"layers": n_layers, "seed": seed}
        for name, model in [("ivae", IVAE), ("ivaegan", IVAEGAN)]:
            start = time.perf_counter()
            fitted = model(random_state=0, **max_epochs).fit(X, u)
            row[f"{name}_fit_s"] = time.perf_counter() - start
            row[f"{name}+fastica"] = fastica_mcc(S, fitted.transform(X))
            X_new, _ = fitted.sample(len(subset), y=u[subset], random_state=1)
            row[f"{name}_c2st_auc"] = classifier_two_sample_score(X[subset], X_new, random_state=0)
        rows.append(row)
        print_row(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, short fits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--c2st-samples", type=int, default=5000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gan.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        rows = run([1], args.layers, 250, {"max_epochs": 10}, 2000)
    else:
        rows = run(args.seeds, args.layers, 1000, {}, args.c2st_samples)
    print()
    print(markdown(rows))
    write_csv(rows, args.out)


if __name__ == "__main__":
    main()
