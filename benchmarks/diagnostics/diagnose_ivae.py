"""Does the iVAE's bound prefer the true sources? The default fit against a start at the truth.

On the papers' data (5 sources, 40 segments x 1000 points, ``--layers`` mixing
layers of leaky-ReLU slope ``--slope``, observation noise of sd ``--noise-std``,
data seed ``--seed``) it trains the same ``IVAE`` module from two
starting points and prints the MCC (of the latents, and after FastICA) and the
objective (nats per sample, on standardized X) before and after the same plain
torch loop (Adam, constant lr 1e-3, batch 64, ``--epochs`` epochs, the module's
own bound):

- ``default``: the estimator's own fit (``--fit-epochs``, default its own;
  on these data ``init='auto'`` starts it from a flow, ``--param init=random``
  gives the random start);
- ``truth``: the library's start (``init='flow'``'s) at the standardized true
  sources: encoder means and decoder regressed onto them (and back), the prior
  fitted to them, the posterior given the started model's spread. Pass
  ``--param decoder_var=learn`` to compare with a default fit that learned its
  noise variance (a flow start).

If the start from the truth ends with the lower objective, the objective itself
prefers the wrong solution on that data and no optimizer fixes it. The
objective is the ELBO; ``--n-importance-samples K`` (K > 1) makes it the
importance-weighted bound for the fit and the loop alike (the ELBO is then
printed beside it), and ``--param NAME=VALUE`` passes any other IVAE
parameter, so that objectives can be compared on the same data.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_ivae.py --seed 3 --layers 2
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_ivae.py --n-importance-samples 8
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_ivae.py --seed 2 --layers 3 \
        --slope 0.2 --noise-std 0.1 --param decoder_var=learn
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_ivae.py --quick   # a minute
"""

import argparse

import numpy as np
import torch
from _shared import (
    add_estimator_options,
    estimator_params,
    fastica_mcc,
    latents,
    markdown,
    module_inputs,
    objectives,
    print_row,
    train,
)

from sklearn_ivae import IVAE
from sklearn_ivae._training import start_from_latents
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef


def report(module, x, u, S, label, when):
    Z = latents(module, x)
    row = {**label, "when": when, "mcc": mean_corr_coef(S, Z), "mcc_fastica": fastica_mcc(S, Z)}
    row.update(objectives(module, x, u, repeats=3))
    print_row(row)
    return row


def start_at_truth(module, x, u, S, distil_steps):
    """The library's own start (the one ``init='flow'`` uses), at the standardized sources:
    encoder means and decoder regressed onto them and back, the prior fitted to them, the
    posterior given the started model's spread."""
    sources = (S - S.mean(0)) / S.std(0)
    start_from_latents(module, x, u, sources.astype(np.float32), n_steps=distil_steps)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=3, help="data seed (default: 3)")
    parser.add_argument("--layers", type=int, default=2, help="mixing layers (default: 2)")
    parser.add_argument(
        "--slope", type=float, default=0.1, help="leaky-ReLU slope of the mixing (default: 0.1)"
    )
    parser.add_argument(
        "--noise-std", type=float, default=0.0, help="observation noise sd on X (default: 0)"
    )
    parser.add_argument("--epochs", type=int, help="epochs of the plain loop (default: 30)")
    parser.add_argument(
        "--fit-epochs", type=int, help="max_epochs of the default start's fit (default: its own)"
    )
    parser.add_argument(
        "--starts", nargs="+", choices=["default", "truth"], default=["default", "truth"]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="250 points per segment, a 10-epoch fit, 5 epochs of the loop, a shorter "
        "distillation (options given explicitly still apply)",
    )
    add_estimator_options(parser)
    args = parser.parse_args()
    params = estimator_params(args)
    n_per_segment, distil_steps = (250, 2000) if args.quick else (1000, 8000)
    epochs = args.epochs if args.epochs is not None else (5 if args.quick else 30)
    fit_epochs = args.fit_epochs if args.fit_epochs is not None else (10 if args.quick else None)
    torch.set_num_threads(1)
    X, S, labels = make_nonlinear_ica(
        n_sources=5,
        n_segments=40,
        n_samples_per_segment=n_per_segment,
        n_layers=args.layers,
        slope=args.slope,
        noise_std=args.noise_std,
        random_state=args.seed,
    )
    print(f"IVAE parameters: {params or 'defaults'}", flush=True)
    rows = []
    for start in args.starts:
        torch.manual_seed(args.seed)
        if start == "default":
            fit = {} if fit_epochs is None else {"max_epochs": fit_epochs}
        else:
            # Only to build the module and read X and u: no flow start.
            fit = {"max_epochs": 1, "init": "random"}
        estimator = IVAE(random_state=0, **{**params, **fit}).fit(X, labels)
        module, x, u = module_inputs(estimator, X, labels)
        if start == "truth":
            start_at_truth(module, x, u, S, distil_steps)
        label = {"seed": args.seed, "layers": args.layers, "start": start}
        rows.append(report(module, x, u, S, label, "start"))
        train(module, x, epochs, u)
        rows.append(report(module, x, u, S, label, f"after {epochs} epochs"))
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
