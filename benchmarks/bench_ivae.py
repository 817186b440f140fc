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
import csv
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def fastica_mcc(S, Z):
    return mean_corr_coef(S, FastICA(random_state=0, max_iter=1000).fit_transform(Z))


def plain_torch_seconds_per_epoch(model, X, u, n_epochs):
    """Seconds per epoch of a bare torch loop on IVAE's own module and batches."""
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
            skorch_epoch = float(np.median(ivae.net_.history[:, "dur"]))
            plain_epoch = plain_torch_seconds_per_epoch(ivae, X, u, timing_epochs)
            row = {
                "layers": n_layers,
                "seed": seed,
                "ivae": mean_corr_coef(S, Z),
                "ivae+fastica": fastica_mcc(S, Z),
                "vae+fastica": fastica_mcc(S, vae.transform(X)),
                "fastica": fastica_mcc(S, X),
                "fit_s": fit_seconds,
                "epoch_ratio": skorch_epoch / plain_epoch,
            }
            rows.append(row)
            print(
                " | ".join(
                    f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                ),
                flush=True,
            )
    return rows


def markdown(rows):
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys
            )
            + " |"
        )
    return "\n".join(lines)


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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
