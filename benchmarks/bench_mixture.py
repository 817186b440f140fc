"""The mixture-prior VAE (Kivva et al. 2022) on Gaussian-mixture latents.

For each data seed (latents from a Gaussian mixture, not independent, mixed by
a 3-layer leaky-ReLU MLP) it fits ``IVAE(prior='mixture')`` and a plain VAE
(``prior='isotropic'``) with no auxiliary variable, and prints a markdown table
of the affine R^2 of the true latents from the learned ones, from the plain
VAE's, and from the raw data; the adjusted Rand index of ``predict`` against
the true components; and the fit time.

    OMP_NUM_THREADS=1 python benchmarks/bench_mixture.py            # the full run
    OMP_NUM_THREADS=1 python benchmarks/bench_mixture.py --quick    # a minute
"""

import argparse
import time
from pathlib import Path

import torch
from _common import markdown, print_row, write_csv
from sklearn.metrics import adjusted_rand_score

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_mixture_latents
from sklearn_ivae.metrics import affine_r2_score


def run(seeds, n_sources, n_clusters, n_samples, max_epochs, decoder_var):
    rows = []
    for seed in seeds:
        X, Z, labels = make_mixture_latents(
            n_samples=n_samples, n_sources=n_sources, n_clusters=n_clusters, random_state=seed
        )
        params = {"max_epochs": max_epochs, "decoder_var": decoder_var, "random_state": 0}
        start = time.perf_counter()
        mixture = IVAE(prior="mixture", n_mixture_components=n_clusters, **params).fit(X)
        fit_seconds = time.perf_counter() - start
        vae = IVAE(prior="isotropic", **params).fit(X)
        row = {
            "seed": seed,
            "r2_mixture": affine_r2_score(Z, mixture.transform(X)),
            "r2_vae": affine_r2_score(Z, vae.transform(X)),
            "r2_raw_X": affine_r2_score(Z, X),
            "ari_predict": adjusted_rand_score(labels, mixture.predict(X)),
            "fit_s": fit_seconds,
        }
        rows.append(row)
        print_row(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two seeds, short fits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-sources", type=int, default=2)
    parser.add_argument("--n-clusters", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--decoder-var", type=float, default=1e-3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mixture.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        rows = run([0, 1], args.n_sources, args.n_clusters, 2000, args.max_epochs or 10, 1e-3)
    else:
        rows = run(
            args.seeds,
            args.n_sources,
            args.n_clusters,
            args.n_samples,
            args.max_epochs or IVAE().max_epochs,
            args.decoder_var,
        )
    print()
    print(markdown(rows))
    write_csv(rows, args.out)


if __name__ == "__main__":
    main()
