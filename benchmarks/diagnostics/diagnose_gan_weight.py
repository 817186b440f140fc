"""IVAEGAN's adversarial weight and noise model after the default flow start.

For each setting (features, noise sd, data seed) of the papers' kind of data
(``make_nonlinear_ica``: 5 sources, 30 segments x 800 points, 3 leaky-ReLU
layers of slope 0.2) it fits ``IVAEGAN(n_components=5, adversarial_weight=w,
decoder_var=v)`` and records the MCC, the best of the latents and the latents
after FastICA, and the CPU seconds of the fit (one thread). Compare with
IVAE's rows of the ``wide`` suite and of ``diagnose_flow_stage.py``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_gan_weight.py
--settings 10:0.1:1 10:0.1:3 10:0:3 5:0.1:1 --weights 10 --out gan_weight.csv``
(about 2 CPU minutes a fit).
"""

import argparse
import time

import torch
from _shared import append_csv_row, fastica_mcc

from sklearn_ivae import IVAEGAN
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

COLUMNS = [
    "features",
    "noise_std",
    "seed",
    "adversarial_weight",
    "decoder_var",
    "mcc_best",
    "cpu_s",
]


def best_mcc(S, Z):
    return max(mean_corr_coef(S, Z), fastica_mcc(S, Z))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=["10:0.1:1"], help="features:noise:seed")
    parser.add_argument("--weights", type=float, nargs="+", default=[10.0])
    parser.add_argument("--decoder-var", default="auto", help="'auto', 'learn' or a float")
    parser.add_argument("--out", default="gan_weight.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    decoder_var = args.decoder_var
    if decoder_var not in ("auto", "learn"):
        decoder_var = float(decoder_var)
    for setting in args.settings:
        features, noise, seed = setting.split(":")
        X, S, u = make_nonlinear_ica(
            n_sources=5,
            n_features=int(features),
            n_segments=30,
            n_samples_per_segment=800,
            n_layers=3,
            slope=0.2,
            noise_std=float(noise),
            random_state=int(seed),
        )
        for weight in args.weights:
            start = time.process_time()
            model = IVAEGAN(
                n_components=5, adversarial_weight=weight, decoder_var=decoder_var, random_state=0
            ).fit(X, u)
            cpu = time.process_time() - start
            values = [features, noise, seed, weight, args.decoder_var]
            values += [f"{best_mcc(S, model.transform(X)):.4f}", f"{cpu:.1f}"]
            append_csv_row(dict(zip(COLUMNS, values, strict=True)), args.out)
            print(*values, flush=True)


if __name__ == "__main__":
    main()
