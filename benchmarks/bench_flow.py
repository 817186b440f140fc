"""IdentifiableFlow on the iFlow paper's synthetic data: identifiability and speed.

For each data seed and mixing depth (n = d = 5, 40 segments x 1000 points,
uncentred means and variances modulated by the segment, xtanh mixing, as in Li,
Hooi & Lee 2020) it fits IdentifiableFlow with its defaults, IVAE with its
defaults, and FastICA, and prints a markdown table of the MCC of each and the
flow's fit time.

    OMP_NUM_THREADS=1 python benchmarks/bench_flow.py            # the full run
    OMP_NUM_THREADS=1 python benchmarks/bench_flow.py --quick    # about a minute
"""

import argparse
import time
import warnings
from pathlib import Path

import torch
from _common import fastica_mcc, markdown, print_row, write_csv
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE, IdentifiableFlow
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def run(seeds, depths, n_samples_per_segment, max_epochs=None, with_ivae=True):
    rows = []
    for n_layers in depths:
        for seed in seeds:
            X, S, u = make_nonlinear_ica(
                n_sources=5,
                n_segments=40,
                n_samples_per_segment=n_samples_per_segment,
                n_layers=n_layers,
                modulation="mean_variance",
                activation="xtanh",
                random_state=seed,
            )
            params = {} if max_epochs is None else {"max_epochs": max_epochs}
            start = time.perf_counter()
            flow = IdentifiableFlow(random_state=0, **params).fit(X, u)
            fit_seconds = time.perf_counter() - start
            Z = flow.transform(X)
            row = {
                "layers": n_layers,
                "seed": seed,
                "flow": mean_corr_coef(S, Z),
                "flow+fastica": fastica_mcc(S, Z),
            }
            if with_ivae:
                Z_ivae = IVAE(random_state=0, **params).fit(X, u).transform(X)
                row["ivae"] = mean_corr_coef(S, Z_ivae)
                row["ivae+fastica"] = fastica_mcc(S, Z_ivae)
            row["fastica"] = fastica_mcc(S, X)
            row["fit_s"] = fit_seconds
            rows.append(row)
            print_row(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, depth 2, short fits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--no-ivae", action="store_true", help="skip the IVAE comparison")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "flow.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        rows = run([1], [2], 250, max_epochs=args.max_epochs or 10, with_ivae=False)
    else:
        rows = run(args.seeds, args.depths, 1000, args.max_epochs, not args.no_ivae)
    print()
    print(markdown(rows))
    write_csv(rows, args.out)


if __name__ == "__main__":
    main()
