"""What IVAE's posterior mean adds to its encoder's output, with and without u.

``IVAE.transform`` returns the encoder's location; ``IVAE.posterior_mean``
computes the fitted model's own posterior mean by importance sampling (the
encoder's posterior as the proposal), without u (the marginal over the
training segments, as for new data) or with each row's u. On the suites'
data (5 sources, 40 segments x 1,000 points unless ``--segments`` /
``--samples-per-segment`` say otherwise, 3 leaky-ReLU layers of slope 0.2),
``--features`` observed features and noise of sd ``--noise-std``, for each
data seed it fits ``IVAE(n_components=5)`` with its defaults (``random_state=0``, one
thread) and records the MCC of:

- ``flow``: the flow the IVAE started from (``init_flow_``);
- ``transform``: the IVAE's ``transform``;
- ``posterior_mean``: ``posterior_mean(X)`` (``--n-draws`` pairs of draws);
- ``posterior_mean_u``: ``posterior_mean(X, u)``;

each as the benchmarks score (``mcc``: the better of the latents themselves
and FastICA on them; both also recorded), with the CPU seconds of the fit
and of each posterior mean.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_posterior_mean.py --seeds 1 2 3 4 5 \\
        --noise-std 0.1 --out posterior_mean.csv
"""

import argparse
import time

import torch
from _shared import append_csv_row, fastica_mcc, print_row

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef


def scores(S, Z):
    latent, fastica = mean_corr_coef(S, Z), fastica_mcc(S, Z)
    return {"mcc": max(latent, fastica), "mcc_latent": latent, "mcc_fastica": fastica}


def run_seed(seed, args):
    X, S, u = make_nonlinear_ica(
        n_sources=5,
        n_features=args.features,
        n_segments=args.segments,
        n_samples_per_segment=args.samples_per_segment,
        n_layers=args.layers,
        slope=0.2,
        noise_std=args.noise_std,
        random_state=seed,
    )
    start = time.process_time()
    model = IVAE(n_components=5, random_state=0).fit(X, u)
    fit_cpu_s = time.process_time() - start
    outputs = {
        "flow": lambda: model.init_flow_.transform(X),
        "transform": lambda: model.transform(X),
        "posterior_mean": lambda: model.posterior_mean(X, n_draws=args.n_draws),
        "posterior_mean_u": lambda: model.posterior_mean(X, u, n_draws=args.n_draws),
    }
    for output, compute in outputs.items():
        start = time.process_time()
        Z = compute()
        row = {
            "features": args.features,
            "noise_std": args.noise_std,
            "layers": args.layers,
            "seed": seed,
            "output": output,
            **scores(S, Z),
            "cpu_s": time.process_time() - start,
            "fit_cpu_s": fit_cpu_s,
            "n_draws": args.n_draws,
        }
        print_row(row)
        if args.out:
            append_csv_row(row, args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--noise-std", type=float, default=0.1)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--segments", type=int, default=40)
    parser.add_argument("--samples-per-segment", type=int, default=1000)
    parser.add_argument("--n-draws", type=int, default=256)
    parser.add_argument("--out", help="CSV file to append to (default: none)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        run_seed(seed, args)


if __name__ == "__main__":
    main()
