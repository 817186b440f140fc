"""Starts for IVAE with fewer components than features: MCC and CPU time per start.

On the papers' data with more features than sources (5 Gaussian sources whose
variances change across 30 segments x 800 points, ``--features`` observed
features, a random 3-layer leaky-ReLU mixing of slope 0.2, observation noise of
sd ``--noise-std``), for each data seed it fits these candidates, each with
``random_state=0``, one torch thread, and records the MCC of the latents (best
matching of the sources among them) and after FastICA, and the CPU seconds of
the fit (``time.process_time``):

- ``ivae_default``: ``IVAE(n_components=5)`` as it is (``init_`` says the start
  that ``init='auto'`` took);
- ``ivae_random``: ``IVAE(n_components=5, init='random')``, no flow start;
- ``flow``: ``IdentifiableFlow()``: its 5 latents whose prior variance varies
  most with u (``mcc_latent``; FastICA on them: ``mcc_fastica``) and all its
  latents (``mcc_latent_all``); the reference of the CPU ratios;
- ``ivae_flow``: IVAE started from that flow as ``init='flow'`` starts it (the
  encoder regressed onto the 5 most modulated latents, standardized; decoder
  back; prior fitted; posterior spread), then trained on its own bound with
  ``init='flow'``'s settings (learned decoder variance, lr 1e-3). Its CPU time
  is the flow's plus the IVAE's own;
- ``pca_flow``: a principal-subspace flow: X standardized, projected on its 5
  principal components (whitened), ``IdentifiableFlow()`` fitted on that 5-D
  projection; its 5 latents;
- ``ivae_pca_flow``: IVAE started from the principal-subspace flow's latents
  as ``ivae_flow`` is;
- ``ivae_pca_flow_encoder``: the same, with the flow kept inside the encoder:
  the posterior's location is flow(PCA(x)) (frozen, standardized) plus the
  encoder's own output, which starts at zero (as ``init='flow_encoder'`` does
  with as many components as features);
- ``ivae_flow_short``, ``ivae_pca_flow_short``, ``ivae_pca_flow_encoder_short``:
  the same starts with ``--short-epochs`` (20) IVAE epochs after the start
  instead of the default 50 (a cheaper fit).

The started IVAEs are ``IVAE(init='flow')`` whose ``_initializer`` is replaced
in this script (the package is not changed); a candidate's flow is fitted once
and its CPU time counted in every candidate started from it. Each row is
appended to ``--out`` when it is done; a rerun skips the rows already there, and
the CPU ratios to the flow on the same data are filled in at the end.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_wide.py --seeds 1 2 3 \\
        --out benchmarks/recorded/diagnostics/wide_diagnosis.csv
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_wide.py --seeds 1 \\
        --samples-per-segment 100 --max-epochs 2 --out /tmp/smoke.csv   # a smoke test
"""

import argparse
import csv
import math
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _shared import fastica_mcc, markdown, print_row
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sklearn_ivae import IVAE, IdentifiableFlow
from sklearn_ivae._training import start_from_latents
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef
from sklearn_ivae.nn.flow import FlowLatents

N_SOURCES = 5
CANDIDATES = [
    "ivae_default",
    "ivae_random",
    "flow",
    "ivae_flow",
    "pca_flow",
    "ivae_pca_flow",
    "ivae_pca_flow_encoder",
    "ivae_flow_short",
    "ivae_pca_flow_short",
    "ivae_pca_flow_encoder_short",
]
COLUMNS = [
    "features",
    "noise_std",
    "seed",
    "candidate",
    "init",
    "mcc_fastica",
    "mcc_latent",
    "mcc_latent_all",
    "start_mcc_fastica",
    "cpu_s",
    "start_cpu_s",
    "cpu_ratio_to_flow",
    "epochs",
]


def most_modulated(flow, n_components):
    """Indices of a fitted flow's latents that u modulates most (the sources)."""
    return np.sort(flow._latents_by_modulation()[0][:n_components])


class ProjectedFlowLatents(nn.Module):
    """z = FlowLatents(x @ W + c): a fitted flow on an affine projection of x, frozen."""

    def __init__(self, W, c, flow_latents):
        super().__init__()
        self.register_buffer("W", torch.as_tensor(W, dtype=torch.float32))
        self.register_buffer("c", torch.as_tensor(c, dtype=torch.float32))
        self.flow_latents = flow_latents
        self.requires_grad_(False)

    def forward(self, x):
        return self.flow_latents(x @ self.W + self.c)


class FlowStart:
    """A fitted flow on ``project(X)`` (the identity or a principal subspace), and the
    indices of its latents that start the IVAE."""

    def __init__(self, flow, project, index, cpu_s):
        self.flow, self.project, self.index, self.cpu_s = flow, project, index, cpu_s

    def latents(self, X):
        return self.flow.transform(self.project(X))[:, self.index]


class StartedIVAE(IVAE):
    """``IVAE(init='flow')`` started from a given :class:`FlowStart` (``_flow_start``),
    with the flow inside the encoder when ``_inside`` (location = flow latents +
    the encoder's correction, which starts at zero)."""

    def _initializer(self, X, y, inputs, train_split, random_state):
        start, inside = self._flow_start, self._inside
        all_latents = start.latents(X)
        mean, std = all_latents.mean(axis=0), all_latents.std(axis=0)
        all_latents = ((all_latents - mean) / std).astype(np.float32)
        k = all_latents.shape[1]
        base = None
        if inside:
            inputs["location_offset"] = all_latents
            # The affine map from this estimator's standardized x to the flow's
            # standardized input, read off at 0 and the unit vectors.
            d = X.shape[1]

            def affine(x_std):
                raw = x_std * self.x_scale_ + self.x_mean_
                return start.flow._scale(start.project(raw))

            c = affine(np.zeros((1, d)))[0]
            W = affine(np.eye(d)) - c
            inner = FlowLatents(k, k, start.flow.hidden_layer_sizes, start.flow.activation)
            inner.load(
                flow_module=start.flow.net_.module_,
                index=start.index,
                input_scale=np.ones(k),
                input_shift=np.zeros(k),
                mean=mean,
                std=std,
            )
            base = ProjectedFlowLatents(W, c, inner)
        n_steps = min(4000, 25 * math.ceil(len(X) / 256))
        start_fn = partial(
            start_from_latents,
            x=inputs["x"],
            u=inputs["u"],
            latents=all_latents,
            n_steps=n_steps,
            location_offset=all_latents if inside else None,
        )

        def initialize(module):
            if base is not None:
                module.location_base = base
                with torch.no_grad():
                    module.encoder[-1].weight[:k].zero_()
                    module.encoder[-1].bias[:k].zero_()
            return start_fn(module)

        return initialize


def principal_subspace(X, n_components):
    """X standardized, then projected on its first principal components, whitened."""
    return make_pipeline(StandardScaler(), PCA(n_components, whiten=True)).fit(X)


def fit_flow_start(X, u, epochs, pca):
    """The flow start (on X, or on its principal subspace) and its CPU seconds."""
    t0 = time.process_time()
    project = (lambda X: X) if pca is None else pca.transform
    flow = IdentifiableFlow(random_state=0, **epochs).fit(project(X), u)
    index = np.arange(N_SOURCES) if pca is not None else most_modulated(flow, N_SOURCES)
    return FlowStart(flow, project, index, time.process_time() - t0)


def scores(S, Z):
    return {"mcc_fastica": fastica_mcc(S, Z), "mcc_latent": mean_corr_coef(S, Z)}


def read_csv(path):
    """The rows of a CSV as dicts of strings ([] if there is no file)."""
    if not Path(path).exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_csv_row(row, path):
    """Append one row (the ``COLUMNS``) to a CSV, with the header if the file is new."""
    path = Path(path)
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def key(row):
    return tuple(str(row[c]) for c in ("features", "noise_std", "seed", "candidate"))


def run_seed(args, seed, done):
    X, S, u = make_nonlinear_ica(
        n_sources=N_SOURCES,
        n_features=args.features,
        n_segments=args.segments,
        n_samples_per_segment=args.samples_per_segment,
        n_layers=args.layers,
        slope=args.slope,
        noise_std=args.noise_std,
        random_state=seed,
    )
    base = {"features": args.features, "noise_std": f"{args.noise_std:g}", "seed": seed}
    ivae_epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    starts = {}

    def start(name):
        if name not in starts:
            pca = principal_subspace(X, N_SOURCES) if name == "pca" else None
            starts[name] = fit_flow_start(X, u, ivae_epochs, pca)
        return starts[name]

    def started(name, inside=False, epochs=None):
        flow_start = start(name)
        t0 = time.process_time()
        epochs = ivae_epochs if epochs is None else {"max_epochs": epochs}
        est = StartedIVAE(n_components=N_SOURCES, init="flow", random_state=0, **epochs)
        est._flow_start, est._inside = flow_start, inside
        est.fit(X, u)
        ivae_cpu = time.process_time() - t0
        Z0 = flow_start.latents(X)
        row = {"init": "flow" + ("_encoder" if inside else ""), **scores(S, est.transform(X))}
        row.update(start_mcc_fastica=fastica_mcc(S, Z0))
        row.update(cpu_s=flow_start.cpu_s + ivae_cpu, start_cpu_s=flow_start.cpu_s)
        row.update(epochs=est.n_iter_)
        return row

    short = args.short_epochs
    for candidate in args.candidates:
        if key({**base, "candidate": candidate}) in done:
            continue
        if candidate == "ivae_default":
            t0 = time.process_time()
            est = IVAE(n_components=N_SOURCES, random_state=0, **ivae_epochs).fit(X, u)
            row = {"init": est.init_, **scores(S, est.transform(X))}
            row.update(cpu_s=time.process_time() - t0, epochs=est.n_iter_)
        elif candidate == "ivae_random":
            t0 = time.process_time()
            est = IVAE(n_components=N_SOURCES, init="random", random_state=0, **ivae_epochs)
            est.fit(X, u)
            row = {"init": est.init_, **scores(S, est.transform(X))}
            row.update(cpu_s=time.process_time() - t0, epochs=est.n_iter_)
        elif candidate in ("flow", "pca_flow"):
            flow_start = start("flow" if candidate == "flow" else "pca")
            Z = flow_start.latents(X)
            row = {"init": "", **scores(S, Z), "cpu_s": flow_start.cpu_s}
            row.update(epochs=flow_start.flow.n_iter_)
            if candidate == "flow":
                row["mcc_latent_all"] = mean_corr_coef(S, flow_start.flow.transform(X))
        elif candidate == "ivae_flow":
            row = started("flow")
        elif candidate == "ivae_pca_flow":
            row = started("pca")
        elif candidate == "ivae_pca_flow_encoder":
            row = started("pca", inside=True)
        elif candidate == "ivae_flow_short":
            row = started("flow", epochs=short)
        elif candidate == "ivae_pca_flow_short":
            row = started("pca", epochs=short)
        elif candidate == "ivae_pca_flow_encoder_short":
            row = started("pca", inside=True, epochs=short)
        row = {
            column: {**base, "candidate": candidate, **row}.get(column, "") for column in COLUMNS
        }
        print_row(row)
        append_csv_row(
            {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in row.items()}, args.out
        )
        done.add(key(row))


def fill_ratios(path):
    """Each row's CPU seconds over those of the flow fitted on the same data."""
    rows = read_csv(path)
    flow = {key(r)[:3]: float(r["cpu_s"]) for r in rows if r["candidate"] == "flow"}
    for row in rows:
        reference = flow.get(key(row)[:3])
        row["cpu_ratio_to_flow"] = f"{float(row['cpu_s']) / reference:.3f}" if reference else ""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="data seeds")
    parser.add_argument("--features", type=int, default=10, help="observed features (default 10)")
    parser.add_argument("--noise-std", type=float, default=0.0, help="observation noise sd")
    parser.add_argument("--layers", type=int, default=3, help="mixing layers (default 3)")
    parser.add_argument("--slope", type=float, default=0.2, help="leaky-ReLU slope (default 0.2)")
    parser.add_argument("--segments", type=int, default=30, help="segments (default 30)")
    parser.add_argument(
        "--samples-per-segment", type=int, default=800, help="points per segment (default 800)"
    )
    parser.add_argument("--max-epochs", type=int, help="epochs of every fit (default: their own)")
    parser.add_argument(
        "--short-epochs",
        type=int,
        default=20,
        help="IVAE epochs after the start of the *_short candidates (default 20)",
    )
    parser.add_argument(
        "--candidates", nargs="+", choices=CANDIDATES, default=CANDIDATES, help="starts to fit"
    )
    parser.add_argument(
        "--out", required=True, help="CSV of one row per seed and candidate (resumed if it exists)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    done = {key(row) for row in read_csv(args.out)}
    for seed in args.seeds:
        run_seed(args, seed, done)
    rows = fill_ratios(args.out)
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
