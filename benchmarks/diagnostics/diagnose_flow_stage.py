"""IVAE after its flow start, against the flow alone, on the papers' kind of data.

For each setting (mixing layers, observation noise) and data seed:
segment-modulated Gaussian sources (``make_nonlinear_ica``, leaky-ReLU slope
0.2; 5 sources, 30 segments x 800 points unless told), ``IdentifiableFlow()``
and ``IVAE()`` with their defaults (and, as ``ivae_random``,
``IVAE(init='random')``; as ``ivaegan``, ``IVAEGAN`` with IVAE's start and
noise model, ``ivaegan_flow_encoder`` with the flow inside its encoder),
each timed in CPU seconds of one thread. MCC of the
latents and of the latents after FastICA; for the IVAE also the MCC of the
flow it started from (``init_flow_``), to see whether its own training keeps,
improves or loses that start.

Run: ``OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_flow_stage.py
--seeds 1 2 3 --out flow_stage.csv`` (rows are appended; about 2 CPU minutes
per setting and seed).
"""

import argparse
import csv
import time
import warnings
from pathlib import Path

import torch
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

COLUMNS = [
    "n_sources",
    "layers",
    "noise_std",
    "n_rows",
    "seed",
    "method",
    "init",
    "mcc_latent",
    "mcc_fastica",
    "start_mcc_latent",
    "start_mcc_fastica",
    "cpu_s",
]


def mccs(S, Z):
    """MCC of the latents and of the latents unmixed by FastICA."""
    unmixed = FastICA(random_state=0, max_iter=1000).fit_transform(Z)
    return mean_corr_coef(S, Z), mean_corr_coef(S, unmixed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["2:0", "3:0", "4:0", "3:0.1"],
        help="layers:noise_std pairs",
    )
    parser.add_argument("--n-sources", type=int, default=5)
    parser.add_argument("--segments", type=int, default=30)
    parser.add_argument("--samples-per-segment", type=int, default=800)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["flow", "ivae"],
        choices=["flow", "ivae", "ivae_random", "ivaegan", "ivaegan_flow_encoder"],
    )
    parser.add_argument("--out", default="flow_stage.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    out = Path(args.out)
    new_file = not out.exists()
    with out.open("a", newline="") as f:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(COLUMNS)
        for seed in args.seeds:
            for setting in args.settings:
                layers, noise = int(setting.split(":")[0]), float(setting.split(":")[1])
                X, S, u = make_nonlinear_ica(
                    n_sources=args.n_sources,
                    n_segments=args.segments,
                    n_samples_per_segment=args.samples_per_segment,
                    n_layers=layers,
                    slope=0.2,
                    noise_std=noise,
                    random_state=seed,
                )
                for method in args.methods:
                    start = time.process_time()
                    if method == "flow":
                        model = IdentifiableFlow(random_state=0).fit(X, u)
                    elif method.startswith("ivaegan"):
                        init = "flow_encoder" if method.endswith("flow_encoder") else "auto"
                        model = IVAEGAN(init=init, decoder_var="auto", random_state=0).fit(X, u)
                    else:
                        init = "random" if method == "ivae_random" else "auto"
                        model = IVAE(init=init, random_state=0).fit(X, u)
                    cpu = time.process_time() - start
                    latent, fastica = mccs(S, model.transform(X))
                    start_scores = ("", "")
                    if hasattr(model, "init_flow_"):
                        start_scores = mccs(S, model.init_flow_.transform(X))
                    row = [args.n_sources, layers, noise, len(X), seed, method]
                    row.append(getattr(model, "init_", ""))
                    row += [f"{v:.4f}" if v != "" else "" for v in (latent, fastica, *start_scores)]
                    writer.writerow([*row, f"{cpu:.1f}"])
                    f.flush()
                    print(*row, f"{cpu:.1f}", flush=True)


if __name__ == "__main__":
    main()
