"""IVAE on the papers' synthetic data: identifiability and speed.

For each data seed and mixing depth (n = d = 5, 40 segments x 1000 points) it
fits IVAE, a plain VAE (``prior='isotropic'``) and FastICA, and prints a
markdown table of the MCC of each, the fit time, and the ratio of IVAE's time
per epoch to a plain torch loop that runs the same module and loss on the same
tensor-sliced batches.

    OMP_NUM_THREADS=1 python benchmarks/bench_ivae.py            # the full run
    OMP_NUM_THREADS=1 python benchmarks/bench_ivae.py --quick    # a few minutes
"""

import argparse
import time
import warnings
from pathlib import Path

import torch
from _common import epoch_ratio, fastica_mcc, markdown, print_row, write_csv
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def run(seeds, depths, max_epochs, n_samples_per_segment, timing_epochs):
    rows = []
    for n_layers in depths:
        for seed in seeds:
            X, S, u = make_nonlinear_ica(
                n_sources=5,
                n_segments=40,
                n_samples_per_segment=n_samples_per_segment,
                n_layers=n_layers,
                random_state=seed,
            )
            start = time.perf_counter()
            ivae = IVAE(max_epochs=max_epochs, random_state=0).fit(X, u)
            fit_seconds = time.perf_counter() - start
            Z = ivae.transform(X)
            vae = IVAE(prior="isotropic", max_epochs=max_epochs, random_state=0).fit(X)
            row = {
                "layers": n_layers,
                "seed": seed,
                "ivae": mean_corr_coef(S, Z),
                "ivae+fastica": fastica_mcc(S, Z),
                "vae+fastica": fastica_mcc(S, vae.transform(X)),
                "fastica": fastica_mcc(S, X),
                "fit_s": fit_seconds,
                "epoch_ratio": epoch_ratio(ivae, X, u, timing_epochs),
            }
            rows.append(row)
            print_row(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, depth 2, short fits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ivae.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        rows = run([1], [2], args.max_epochs or 10, 250, timing_epochs=2)
    else:
        rows = run(
            args.seeds, args.depths, args.max_epochs or IVAE().max_epochs, 1000, timing_epochs=3
        )
    print()
    print(markdown(rows))
    write_csv(rows, args.out)


if __name__ == "__main__":
    main()
