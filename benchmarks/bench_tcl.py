"""TCLNonlinearICA on the TCL paper's kind of data, and on data that is too easy.

For each data kind and seed (5 sources, 40 segments x 1000 points), TCL is fit
on 80% of the points (stratified by segment) and scored on the other 20%:

- ``tcl+fastica``: MCC of FastICA on the TCL features against |s| (the
  Laplace sufficient statistic; for Gaussian sources |s| and s^2 rank alike);
- ``fastica``: MCC of |FastICA(X)| against |s|, linear ICA given every chance;
- ``ivae+fastica``: MCC of IVAE followed by FastICA against s (``--ivae``);
- ``inverse_r2``: held-out R^2 of ``inverse_transform(transform(X))``;
- ``fit_s`` and ``epoch_ratio`` (skorch epoch over a plain torch loop).

Data kinds: ``laplace`` and ``gaussian`` (variance-modulated, the TCL paper's
setting) at 2 and 3 mixing layers, and ``easy``: Gaussian sources where one
source's mean also changes strongly across segments, so that the segments are
easy to classify from it alone (the failure of TCL that the iVAE paper shows).

    OMP_NUM_THREADS=1 python benchmarks/bench_tcl.py --ivae      # the full run
    OMP_NUM_THREADS=1 python benchmarks/bench_tcl.py --quick     # about a minute
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import (
    epoch_ratio,
    fastica_mcc,
    holdout_split,
    markdown,
    print_row,
    tcl_mcc,
    write_csv,
)
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE, TCLNonlinearICA
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)

DATA_KINDS = {
    "laplace": {"source_distribution": "laplace"},
    "gaussian": {"source_distribution": "gaussian"},
    "easy": {
        "source_distribution": "gaussian",
        "modulation": "mean_variance",
        "mean_modulated_sources": [0],
    },
}


def r2(X, X_hat):
    return 1 - ((X - X_hat) ** 2).sum() / ((X - X.mean(axis=0)) ** 2).sum()


def run(kinds, depths, seeds, n_samples_per_segment, with_ivae, max_epochs, timing_epochs):
    rows = []
    for kind in kinds:
        for n_layers in depths:
            for seed in seeds:
                X, S, u = make_nonlinear_ica(
                    n_sources=5,
                    n_segments=40,
                    n_samples_per_segment=n_samples_per_segment,
                    n_layers=n_layers,
                    random_state=seed,
                    **DATA_KINDS[kind],
                )
                X_fit, X_test, S_fit, S_test, u_fit, u_test = holdout_split(X, S, u)
                start = time.perf_counter()
                tcl = TCLNonlinearICA(random_state=0, **max_epochs).fit(X_fit, u_fit)
                fit_seconds = time.perf_counter() - start
                H_test = tcl.transform(X_test)
                linear = np.abs(FastICA(random_state=0, max_iter=1000).fit_transform(X_test))
                row = {
                    "data": kind,
                    "layers": n_layers,
                    "seed": seed,
                    "tcl+fastica": tcl_mcc(S_test, H_test),
                    "fastica": mean_corr_coef(np.abs(S_test), linear),
                    "ivae+fastica": float("nan"),
                    "inverse_r2": r2(X_test, tcl.inverse_transform(H_test)),
                    "fit_s": fit_seconds,
                    "epoch_ratio": epoch_ratio(tcl, X_fit, u_fit, timing_epochs),
                }
                if with_ivae:
                    ivae = IVAE(random_state=0, **max_epochs).fit(X_fit, u_fit)
                    row["ivae+fastica"] = fastica_mcc(S_test, ivae.transform(X_test))
                rows.append(row)
                print_row(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, short fits")
    parser.add_argument("--ivae", action="store_true", help="also fit IVAE on each data set")
    parser.add_argument("--kinds", nargs="+", default=list(DATA_KINDS), choices=list(DATA_KINDS))
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "tcl.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        rows = run(args.kinds, [2], [0], 250, args.ivae, {"max_epochs": 10}, timing_epochs=2)
    else:
        rows = run(args.kinds, args.depths, args.seeds, 1000, args.ivae, {}, timing_epochs=2)
    print()
    print(markdown(rows))
    write_csv(rows, args.out)


if __name__ == "__main__":
    main()
