"""What IVAE's stage after the flow start adds under observation noise, by variant.

On the papers' kind of data with noise (``make_nonlinear_ica``: 5 sources,
30 segments x 800 points, 3 leaky-ReLU layers of slope 0.2, noise sd 0.1),
the default ``IVAE()`` against variants of its stage after the flow start:

- ``k16``: the importance-weighted bound over 16 posterior draws instead of 4
  (a tighter bound on log p(x|u));
- ``stage30``: 30 epochs with the flow inside the encoder instead of 10;
- ``flowpost``: ``posterior='flow'`` (a posterior that can be skewed);
- ``lr3``: ``lr=3e-3`` instead of ``'auto'``'s 1e-3 after a flow start;
- ``known_var``: ``decoder_var`` fixed at the true noise variance (on the
  standardized features, averaged over them) instead of learned: what IVAE
  reaches where the noise level is known.

Each row: MCC after FastICA and of the latents themselves, of the IVAE and
of the flow it started from (``init_flow_``, the same for every variant of a
seed), CPU seconds of the
whole fit (one thread) and the learned noise variance per feature on the
standardized data. Compare with the noise ceiling of
``diagnose_noise_ceiling.py`` (the true model's posterior mean).

Run: ``OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_noise_stage.py
--seeds 1 2 --out noise_stage.csv`` (about 6 CPU minutes per seed); the
noise suite's data: ``--segments 40 --samples-per-segment 1000``.
"""

import argparse
import time

import numpy as np
import torch
from _shared import append_csv_row, fastica_mcc

import sklearn_ivae.ivae as ivae_module
from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

VARIANTS = {
    "default": {},
    "k16": {"n_importance_samples": 16},
    "stage30": {},
    "flowpost": {"posterior": "flow"},
    "lr3": {"lr": 3e-3},
    "known_var": {},
}
NOISE_STD = 0.1


def fit(variant, X, u):
    fractions = dict(ivae_module._FLOW_STAGE_FRACTION)
    if variant == "stage30":  # 30 of the 50 epochs of a random start
        ivae_module._FLOW_STAGE_FRACTION["flow_encoder"] = 30 / 50
    params = dict(VARIANTS[variant])
    if variant == "known_var":
        params["decoder_var"] = float(np.mean(NOISE_STD**2 / X.var(axis=0)))
    try:
        return IVAE(random_state=0, **params).fit(X, u)
    finally:
        ivae_module._FLOW_STAGE_FRACTION.update(fractions)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--segments", type=int, default=30)
    parser.add_argument("--samples-per-segment", type=int, default=800)
    parser.add_argument("--out", default="noise_stage.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for seed in args.seeds:
        X, S, u = make_nonlinear_ica(
            n_sources=5,
            n_segments=args.segments,
            n_samples_per_segment=args.samples_per_segment,
            n_layers=3,
            slope=0.2,
            noise_std=NOISE_STD,
            random_state=seed,
        )
        for variant in args.variants:
            start = time.process_time()
            model = fit(variant, X, u)
            cpu = time.process_time() - start
            variance = model.noise_variance_ / model.x_scale_**2
            row = {
                "seed": seed,
                "variant": variant,
                "mcc_fastica": f"{fastica_mcc(S, model.transform(X)):.4f}",
                "start_mcc_fastica": f"{fastica_mcc(S, model.init_flow_.transform(X)):.4f}",
                "mcc_latent": f"{mean_corr_coef(S, model.transform(X)):.4f}",
                "start_mcc_latent": f"{mean_corr_coef(S, model.init_flow_.transform(X)):.4f}",
                "cpu_s": f"{cpu:.1f}",
                "noise_variance": " ".join(f"{v:.4f}" for v in np.ravel(variance)),
            }
            append_csv_row(row, args.out)
            print(*row.values(), flush=True)


if __name__ == "__main__":
    main()
