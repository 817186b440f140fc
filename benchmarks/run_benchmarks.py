"""Every estimator on the papers' synthetic data: identifiability and speed in one run.

Data: ``make_nonlinear_ica(n_sources=5, n_segments=K, n_samples_per_segment=1000,
n_layers=L, random_state=seed)``: Gaussian sources whose variances change across K
segments (u is the segment label), mixed by a random leaky-ReLU MLP of L layers (the
iVAE and TCL papers' setting). Settings: the mixing depths ``--depths`` at
``--main-segments`` segments (default 1, 2, 3, 4 layers at 40 segments) and the segment
sweep ``--segments`` at ``--sweep-depth`` layers (default 10 and 40 segments at 2
layers), each for every data seed in ``--seeds`` (default 1, 2, 3): 5 settings, 15 data
sets. The sweep leaves out 20 segments to keep the default run near 75 minutes; add it
with ``--segments 10 20 40`` (about 8 more minutes).

Methods (``--methods``), each with its default settings and ``random_state=0``:

- ``ivae``: ``IVAE()``, scored by the MCC of FastICA on its posterior means;
- ``ivae_n_init3`` (only when named in ``--methods``: 3 fits' cost): ``IVAE(n_init=3)``,
  the best of three restarts by the ELBO, + FastICA;
- ``tcl``: ``TCLNonlinearICA()``, fit on 80% of the points (stratified by segment) and
  scored on the other 20% by the MCC of FastICA on its features against |s| (it
  learns the sufficient statistics |s|, not s; see ``bench_tcl.py``);
- ``flow``: ``IdentifiableFlow()``, scored by the MCC of its latents themselves,
  without FastICA, as in ``bench_flow.py``;
- ``ivaegan``: ``IVAEGAN()``, + FastICA as for IVAE;
- ``vae``: a plain VAE, ``IVAE(prior='isotropic')`` fit without u, + FastICA;
- ``fastica``: FastICA on X alone.

Each fit appends one row to the CSV (``--out``, default ``results/all.csv``) as soon as
it is done: the MCC, the MCC of the latents with and without FastICA, the wall-clock
and CPU seconds of the fit, skorch's median seconds per epoch, and the median seconds
per epoch of a plain torch loop training a fresh copy of the same module (for IVAEGAN:
the same alternating VAE and discriminator updates) with the same optimizer, batches
and data. A stopped run resumes where it stopped: fits already in the CSV (same
method, setting, seed, points per segment and epochs) are skipped and failed ones run
again; ``--fresh`` starts over. At the end it prints a markdown summary per (method,
setting) over the seeds (MCC median and min-max, median fit seconds, seconds per epoch
and the ratio to the plain loop) and plots the MCC against the mixing depth and the
segment count into a PNG next to the CSV (``results/all.png``).

Cost, measured on one core of the shared 2-core VM at 40 segments x 1000 points (CPU
seconds of the fit, 2 and 3 layers): IVAE 59-62, VAE 54-56, IVAEGAN 123-126,
IdentifiableFlow 69-70, TCL 11, FastICA 1; with scoring and the plain-loop timing about
5.6 CPU minutes per data set at 40 segments, and a quarter of that at 10. The default
run is 12.75 such data sets: about 72 minutes on a free core, 80-90 beside other jobs.

    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py            # the full run
    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py --quick    # about a minute
    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py --methods ivae flow --depths 2 3
"""

import argparse
import math
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import (
    Stopwatch,
    append_csv_row,
    fastica_mcc,
    holdout_split,
    markdown,
    plain_torch_seconds_per_epoch,
    print_row,
    read_csv,
    skorch_seconds_per_epoch,
    tcl_mcc,
)
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)

RESULTS = Path(__file__).parent / "results"
N_SOURCES = 5
NAN = float("nan")

# Plot labels, saying how each method is scored.
METHODS = {
    "ivae": "IVAE + FastICA",
    "ivae_n_init3": "IVAE(n_init=3) + FastICA",
    "tcl": "TCL + FastICA (vs |s|, held out)",
    "flow": "IdentifiableFlow (latents)",
    "ivaegan": "IVAEGAN + FastICA",
    "vae": "VAE + FastICA",
    "fastica": "FastICA on X",
}
KEY = ["method", "layers", "segments", "seed", "samples_per_segment", "max_epochs"]
COLUMNS = [
    *KEY,
    "mcc",
    "mcc_latent",
    "mcc_fastica",
    "fit_s",
    "fit_cpu_s",
    "epochs",
    "epoch_s",
    "torch_epoch_s",
    "epoch_ratio",
    "error",
]


# ------------------------------------------------------------------ methods
# Each takes the data and the epoch override and returns the scores, the Stopwatch
# of the fit, the fitted model (None for FastICA) and the (X, u) it was fit on, for
# the plain torch loop.


def _epochs(max_epochs):
    return {} if max_epochs is None else {"max_epochs": max_epochs}


def _latent_model(estimator, X, S, u, headline, uses_u=True):
    """Fit a model of X (and u) and score its latents on the training data."""
    with Stopwatch() as clock:
        estimator.fit(X, u if uses_u else None)
    Z = estimator.transform(X)
    scores = {"mcc_latent": mean_corr_coef(S, Z), "mcc_fastica": fastica_mcc(S, Z)}
    scores["mcc"] = scores[f"mcc_{headline}"]
    return scores, clock, estimator, X, u


def run_ivae(X, S, u, max_epochs):
    return _latent_model(IVAE(random_state=0, **_epochs(max_epochs)), X, S, u, "fastica")


def run_ivae_n_init3(X, S, u, max_epochs):
    ivae = IVAE(n_init=3, random_state=0, **_epochs(max_epochs))
    return _latent_model(ivae, X, S, u, "fastica")


def run_vae(X, S, u, max_epochs):
    vae = IVAE(prior="isotropic", random_state=0, **_epochs(max_epochs))
    return _latent_model(vae, X, S, u, "fastica", uses_u=False)


def run_ivaegan(X, S, u, max_epochs):
    return _latent_model(IVAEGAN(random_state=0, **_epochs(max_epochs)), X, S, u, "fastica")


def run_flow(X, S, u, max_epochs):
    flow = IdentifiableFlow(random_state=0, **_epochs(max_epochs))
    return _latent_model(flow, X, S, u, "latent")


def run_tcl(X, S, u, max_epochs):
    X_fit, X_test, _, S_test, u_fit, _ = holdout_split(X, S, u)
    tcl = TCLNonlinearICA(random_state=0, **_epochs(max_epochs))
    with Stopwatch() as clock:
        tcl.fit(X_fit, u_fit)
    H_test = tcl.transform(X_test)
    mcc = tcl_mcc(S_test, H_test)
    scores = {"mcc": mcc, "mcc_latent": mean_corr_coef(np.abs(S_test), H_test), "mcc_fastica": mcc}
    return scores, clock, tcl, X_fit, u_fit


def run_fastica(X, S, u, max_epochs):
    with Stopwatch() as clock:
        Z = FastICA(random_state=0, max_iter=1000).fit_transform(X)
    mcc = mean_corr_coef(S, Z)
    return {"mcc": mcc, "mcc_latent": NAN, "mcc_fastica": mcc}, clock, None, X, u


RUNNERS = {
    "ivae": run_ivae,
    "ivae_n_init3": run_ivae_n_init3,
    "tcl": run_tcl,
    "flow": run_flow,
    "ivaegan": run_ivaegan,
    "vae": run_vae,
    "fastica": run_fastica,
}


def fit_row(method, X, S, u, max_epochs, timing_epochs):
    """Scores and timings of one fit, as the non-key columns of a row."""
    scores, clock, model, X_fit, u_fit = RUNNERS[method](X, S, u, max_epochs)
    row = {**scores, "fit_s": clock.wall, "fit_cpu_s": clock.cpu, "epochs": NAN, "epoch_s": NAN}
    row.update(torch_epoch_s=NAN, epoch_ratio=NAN, error="")
    if model is not None:
        row["epochs"] = model.n_iter_
        row["epoch_s"] = skorch_seconds_per_epoch(model)
        if timing_epochs > 0:
            row["torch_epoch_s"] = plain_torch_seconds_per_epoch(model, X_fit, u_fit, timing_epochs)
            row["epoch_ratio"] = row["epoch_s"] / row["torch_epoch_s"]
    return row


# ------------------------------------------------------------------ the run


def settings(depths, main_segments, segments, sweep_depth):
    """(layers, segments) pairs: the depth series, then the segment sweep, no repeats."""
    pairs = [(depth, main_segments) for depth in depths]
    pairs += [(sweep_depth, k) for k in segments]
    return list(dict.fromkeys(pairs))


def plan(args):
    """Every fit to run, as rows of key columns, data seed outermost.

    With the seed outermost, a run that is cut short has every setting for the first
    seeds rather than every seed for the first settings.
    """
    max_epochs = "default" if args.max_epochs is None else str(args.max_epochs)
    return [
        dict(zip(KEY, (m, layers, k, seed, args.samples_per_segment, max_epochs), strict=True))
        for seed in args.seeds
        for layers, k in settings(args.depths, args.main_segments, args.segments, args.sweep_depth)
        for m in args.methods
    ]


def _key(row):
    return tuple(str(row[k]) for k in KEY)


def run(args):
    out = Path(args.out)
    if args.fresh and out.exists():
        out.unlink()
    existing = read_csv(out)
    if existing and list(existing[0]) != COLUMNS:
        raise SystemExit(f"{out} has other columns than {COLUMNS}: use --fresh or another --out.")
    done = {_key(row) for row in existing if not row["error"]}  # failed fits run again
    todo = [fit for fit in plan(args) if _key(fit) not in done]
    print(f"{len(todo)} fits to run ({len(done)} finished fits already in {out})", flush=True)
    data = {}
    for i, fit in enumerate(todo, 1):
        data_key = (fit["layers"], fit["segments"], fit["seed"])
        if data_key not in data:
            data = {  # one data set in memory at a time
                data_key: make_nonlinear_ica(
                    n_sources=N_SOURCES,
                    n_segments=fit["segments"],
                    n_samples_per_segment=fit["samples_per_segment"],
                    n_layers=fit["layers"],
                    random_state=fit["seed"],
                )
            }
        X, S, u = data[data_key]
        try:
            result = fit_row(fit["method"], X, S, u, args.max_epochs, args.timing_epochs)
        except Exception as error:  # record it and go on: a long run is not lost
            traceback.print_exc()
            result = {c: NAN for c in COLUMNS[len(KEY) : -1]}
            result["error"] = f"{type(error).__name__}: {error}"[:300]
        row = {column: {**fit, **result}[column] for column in COLUMNS}
        append_csv_row(row, out)
        print(f"[{i}/{len(todo)}]", end=" ")
        print_row(row)


# ------------------------------------------------------------------ reporting


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN


def _median(values):
    values = [v for v in values if not math.isnan(v)]
    return float(np.median(values)) if values else NAN


def summarize(args):
    """Per (method, setting) over the seeds, for the fits of the current plan."""
    planned = {_key(fit) for fit in plan(args)}
    latest = {_key(row): row for row in read_csv(args.out)}  # a retried fit: its last row
    rows = [row for key, row in latest.items() if key in planned]
    groups = {}
    for row in rows:
        groups.setdefault((row["method"], int(row["layers"]), int(row["segments"])), []).append(row)
    # The depth series, then the segment sweep; methods in the order asked for.
    setting_order = settings(args.depths, args.main_segments, args.segments, args.sweep_depth)
    method_order = {m: i for i, m in enumerate(args.methods)}
    summary = []
    for (method, layers, segments), group in sorted(
        groups.items(),
        key=lambda item: (setting_order.index(item[0][1:]), method_order[item[0][0]]),
    ):
        mcc = [v for v in (_float(r["mcc"]) for r in group) if not math.isnan(v)]

        def med(column, group=group):
            return _median([_float(r[column]) for r in group])

        summary.append(
            {
                "method": method,
                "layers": layers,
                "segments": segments,
                "n": len(mcc),
                "mcc_median": float(np.median(mcc)) if mcc else NAN,
                "mcc_min": min(mcc, default=NAN),
                "mcc_max": max(mcc, default=NAN),
                "fit_s": med("fit_s"),
                "fit_cpu_s": med("fit_cpu_s"),
                "epoch_s": med("epoch_s"),
                "torch_epoch_s": med("torch_epoch_s"),
                "epoch_ratio": med("epoch_ratio"),
            }
        )
    errors = [row for row in rows if row["error"]]
    return summary, errors


def pivot(summary, methods):
    """MCC median (min-max) with one row per setting and one column per method."""
    table = {}
    for s in summary:
        cell = f"{s['mcc_median']:.3f} ({s['mcc_min']:.2f}-{s['mcc_max']:.2f})"
        table.setdefault((s["layers"], s["segments"]), {})[s["method"]] = cell
    return [
        {"layers": layers, "segments": segments, **{m: cells.get(m, "") for m in methods}}
        for (layers, segments), cells in table.items()
    ]


def plot(summary, args, path):
    """MCC against mixing depth and, with 2+ segment counts, against the segment count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # (x column, the other column, its fixed value, x label, title part)
    main, sweep = args.main_segments, args.sweep_depth
    panels = [
        ("layers", "segments", main, "mixing layers", f"{main} segments"),
        ("segments", "layers", sweep, "segments (log scale)", f"{sweep} layers"),
    ]
    panels = [
        (panel, xs)
        for panel in panels
        if len(xs := sorted({s[panel[0]] for s in summary if s[panel[1]] == panel[2]})) > 1
    ]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for ax, ((x_name, fixed_name, fixed, x_label, title), xs) in zip(axes[0], panels, strict=True):
        for j, method in enumerate(args.methods):
            points = sorted(
                (s[x_name], s["mcc_median"], s["mcc_min"], s["mcc_max"])
                for s in summary
                if s["method"] == method and s[fixed_name] == fixed and s["n"] > 0
            )
            if not points:
                continue
            x, median, low, high = (np.array(v, dtype=float) for v in zip(*points, strict=True))
            # Small offsets so that the error bars of the methods do not overlap.
            shift = (j - (len(args.methods) - 1) / 2) * 0.04
            x_plot = x * (1 + shift) if x_name == "segments" else x + shift
            ax.errorbar(
                x_plot,
                median,
                yerr=[median - low, high - median],
                marker="o",
                capsize=3,
                label=METHODS[method],
            )
        if x_name == "segments":
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(x_label)
        ax.set_ylabel("MCC (median; bars: min-max over seeds)")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{N_SOURCES} sources, {title}, {args.samples_per_segment} points/segment")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def report(args):
    summary, errors = summarize(args)
    if not summary:
        print("no results")
        return
    print("\n## MCC: median (min-max) over data seeds\n")
    print(markdown(pivot(summary, args.methods)))
    print("\n## Per method and setting (MCC over seeds; times are medians)\n")
    print(markdown(summary))
    for row in errors:
        print(f"\nfailed: {_key(row)}: {row['error']}")
    png = Path(args.out).with_suffix(".png")
    drawn = plot(summary, args, png)
    print(f"\nrows: {args.out}\nplot: {png if drawn else 'none (a single setting)'}")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 seed, depths 1-2, segments 10 and 40, 250 points per segment, 10 epochs, "
        "written to results/quick.csv (any option given explicitly still applies)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="data seeds (default: 1 2 3)")
    parser.add_argument("--depths", type=int, nargs="+", help="mixing layers (default: 1 2 3 4)")
    parser.add_argument(
        "--segments",
        type=int,
        nargs="*",
        help="segment counts of the sweep at --sweep-depth (default: 10 40; none: no sweep)",
    )
    parser.add_argument("--main-segments", type=int, default=40, help="segments of the depths")
    parser.add_argument("--sweep-depth", type=int, default=2, help="layers of the segment sweep")
    parser.add_argument("--samples-per-segment", type=int, help="default: 1000")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=[m for m in METHODS if m != "ivae_n_init3"],
        metavar="METHOD",
    )
    parser.add_argument("--max-epochs", type=int, help="default: each estimator's own")
    parser.add_argument(
        "--timing-epochs", type=int, default=2, help="epochs of the plain torch loop (0: skip)"
    )
    parser.add_argument("--out", help="CSV of per-fit rows (default: results/all.csv)")
    parser.add_argument("--fresh", action="store_true", help="delete --out first, do not resume")
    parser.add_argument(
        "--report-only", action="store_true", help="summarize the rows in --out, fit nothing"
    )
    args = parser.parse_args()
    quick = {
        "seeds": [1],
        "depths": [1, 2],
        "segments": [10, 40],
        "samples_per_segment": 250,
        "max_epochs": 10,
        "out": str(RESULTS / "quick.csv"),
    }
    full = {
        "seeds": [1, 2, 3],
        "depths": [1, 2, 3, 4],
        "segments": [10, 40],
        "samples_per_segment": 1000,
        "max_epochs": None,
        "out": str(RESULTS / "all.csv"),
    }
    for name, default in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    torch.set_num_threads(1)
    with Stopwatch() as clock:
        if not args.report_only:
            run(args)
        report(args)
    print(f"total: {clock.wall / 60:.1f} min ({clock.cpu / 60:.1f} min of CPU)")


if __name__ == "__main__":
    main()
