"""A plain VAE in the IMA regime: MCC and c_IMA against the decoder variance.

On a Möbius (conformal) mixing of uniform sources (Reizinger et al. 2022), it
fits ``IVAE(prior='isotropic')`` at each decoder variance and prints a markdown
table of the MCC of the posterior location against the sources and of the IMA
contrast of the learned decoder's Jacobians, then writes the table as CSV and a
plot of both curves beside it.

    OMP_NUM_THREADS=1 python benchmarks/bench_ima.py            # the full run
    OMP_NUM_THREADS=1 python benchmarks/bench_ima.py --quick    # a minute or two
"""

import argparse
import time
from pathlib import Path

import torch
from _common import markdown, print_row, write_csv

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_mobius_ica
from sklearn_ivae.metrics import ima_contrast, mean_corr_coef


def run(seeds, decoder_vars, source_distributions, n_samples, max_epochs, lr):
    rows = []
    for seed in seeds:
        X, S, J = make_mobius_ica(n_samples=n_samples, return_jacobians=True, random_state=seed)
        for source_distribution in source_distributions:
            for decoder_var in decoder_vars:
                start = time.perf_counter()
                # The IMA regime is that of the mean-field VAE: a full posterior
                # covariance removes the c_IMA term from the ELBO by design.
                model = IVAE(
                    prior="isotropic",
                    posterior_covariance="diag",
                    source_distribution=source_distribution,
                    decoder_var=decoder_var,
                    max_epochs=max_epochs,
                    lr=lr,
                    random_state=0,
                ).fit(X)
                Z = model.transform(X)
                row = {
                    "seed": seed,
                    "prior": source_distribution,
                    "decoder_var": f"{decoder_var:g}",
                    "mcc": mean_corr_coef(S, Z),
                    "c_ima": ima_contrast(model.decoder_jacobian(Z)),
                    "c_ima_true": ima_contrast(J),
                    "fit_s": time.perf_counter() - start,
                }
                rows.append(row)
                print_row(row)
    return rows


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_mcc, ax_ima) = plt.subplots(1, 2, figsize=(9, 3.5))
    keys = sorted({(r["seed"], r["prior"]) for r in rows})
    for seed, prior in keys:
        sub = [r for r in rows if (r["seed"], r["prior"]) == (seed, prior)]
        var = [float(r["decoder_var"]) for r in sub]
        label = f"{prior}, seed {seed}"
        ax_mcc.plot(var, [r["mcc"] for r in sub], "o-", label=label)
        ax_ima.plot(var, [r["c_ima"] for r in sub], "o-", label=label)
    for ax, name in [(ax_mcc, "MCC"), (ax_ima, "c_IMA of the learned decoder")]:
        ax.set_xscale("log")
        ax.set_xlabel("decoder variance")
        ax.set_title(name)
    ax_mcc.set_ylim(0, 1)
    ax_mcc.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"written: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, three variances")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--decoder-vars",
        type=float,
        nargs="+",
        default=[1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 3.0, 10.0, 100.0],
    )
    parser.add_argument("--priors", nargs="+", default=["uniform", "gaussian"])
    parser.add_argument("--n-samples", type=int, default=10000)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ima.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        rows = run([0], [1e-4, 1e-2, 1.0], ["uniform"], 3000, args.max_epochs or 10, args.lr)
    else:
        rows = run(
            args.seeds,
            args.decoder_vars,
            args.priors,
            args.n_samples,
            args.max_epochs or 30,
            args.lr,
        )
    print()
    print(markdown(rows))
    write_csv(rows, args.out)
    plot(rows, Path(args.out).with_suffix(".png"))


if __name__ == "__main__":
    main()
