"""The benchmark runner: identifiability and speed of every estimator, suite by suite.

Each suite (``--suite``, declared in ``suites.py``) is a grid of settings x data
seeds x methods, with its own data, methods and scores:

- ``depth`` (the default): every estimator on ``make_nonlinear_ica`` data (5
  Gaussian sources whose variances change across segments, u the segment label,
  a random leaky-ReLU MLP mixing): the mixing depths ``--depths`` at
  ``--main-segments`` segments (default 1-4 layers at 40) and the segment sweep
  ``--segments`` at ``--sweep-depth`` layers (default 10 and 40 at 2), data seeds
  1, 2, 3. Methods: ``ivae`` (IVAE + FastICA), ``ivae_n_init3`` (only when named:
  three restarts ranked by the ELBO), ``tcl`` (TCL fit on 80% of the points,
  stratified by segment; FastICA on the features of the other 20% against |s|,
  the statistic TCL recovers), ``flow`` (IdentifiableFlow, its latents
  themselves), ``ivaegan`` (+ FastICA), ``vae`` (``IVAE(prior='isotropic')``
  without u, + FastICA), ``fastica`` (FastICA on X); ``mcc_latent`` scores
  each estimator's own latents, before FastICA. About 75 minutes.
- ``tcl``: TCL on variance-modulated Laplace and Gaussian sources (the TCL
  paper's setting) and on ``easy`` data (one source's mean strongly modulated:
  the segments are easy to classify from it alone, the failure the iVAE paper
  shows), 2 and 3 layers, seeds 0-4, held out as above; also |FastICA(X)| against
  |s| and IVAE + FastICA (held out, against s); ``inverse_r2``: the held-out R^2
  of TCL's ``inverse_transform(transform(X))``.
- ``flow``: the iFlow paper's setting (uncentred means and variances per
  segment, xtanh mixing), 2 and 3 layers, seeds 1-5: IdentifiableFlow and IVAE
  scored by their latents (the sources share the segment's mean, so they are not
  independent and FastICA is no help), FastICA on X.
- ``gan``: IVAE and IVAEGAN + FastICA at 2 layers, seeds 1-3, and
  ``c2st_auc``: the classifier two-sample AUC of ``sample()`` (same u) against
  ``--c2st-samples`` real points (0.5: indistinguishable).
- ``mixture``: ``IVAE(prior='mixture')`` on ``make_mixture_latents`` (2 latents
  from 3 Gaussian clusters, 3-layer mixing, no u), seeds 0-4: ``r2``, the affine
  R^2 of the true latents from the learned ones, and ``ari``, the adjusted Rand
  index of ``predict``; the plain VAE and X itself as baselines.
- ``ima``: a mean-field plain VAE on a Möbius mixing of 3 uniform sources
  (Reizinger et al. 2022), seeds 0 and 1, against the decoder variance and the
  prior: MCC and ``c_ima``, the IMA contrast of the learned decoder
  (``c_ima_true``: that of the true mixing).
- ``noise``: the papers' data (``slope=0.2``) with observation noise of
  standard deviation 0.1 on X, 3 layers, seeds 1-5: every estimator as in
  ``depth``; ``mcc_latent`` scores each estimator's own latents, before
  FastICA (which under noise can lower it). ``ivae_fixed_decoder_var`` (only
  when named): ``decoder_var=1e-3`` instead of the default's learned variance
  after a flow start. About 40 minutes.
- ``wide``: 5 sources observed through 10 and 20 features, 3 layers,
  noiseless and under noise of sd 0.1, 30 segments x 800 points, seeds 1-5:
  every estimator as in ``depth`` with ``n_components=5`` (the flow, which
  has a latent per feature: each source matched to its best latent; FastICA
  on X reduced to 5 components); ``mcc_latent`` as in ``noise``. About 100
  minutes.

Each fit appends one row to the CSV (``--out``, default ``results/<suite>.csv``,
``results/all.csv`` for ``depth``) as soon as it is done: the key (method,
setting, seed and the run's options), the scores, the wall-clock and CPU
seconds of the fit, skorch's median seconds per epoch and the median seconds per
epoch of a plain torch loop training a fresh copy of the same module (for
IVAEGAN: the same alternating VAE and discriminator updates) with the same
optimizer, batches and data, and their ratio. A stopped run resumes where it
stopped: fits already in the CSV are skipped and failed ones run again;
``--fresh`` starts over. At the end it prints markdown tables (the headline
scores as median (min-max) over the seeds per setting and method, every fit,
and per method and setting the medians of the times) and draws a plot next to
the CSV (``.png``). ``--report-only`` does that from the CSV alone.

    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py                 # depth, ~75 min
    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py --quick         # about a minute
    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py --suite tcl --quick
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
    markdown,
    plain_torch_seconds_per_epoch,
    print_row,
    read_csv,
    skorch_seconds_per_epoch,
)
from sklearn.exceptions import ConvergenceWarning
from suites import SUITES, TCL_DATA_KINDS

warnings.filterwarnings("ignore", category=ConvergenceWarning)

RESULTS = Path(__file__).parent / "results"
NAN = float("nan")
TIMING = ["fit_s", "fit_cpu_s", "epoch_s", "torch_epoch_s", "epoch_ratio"]

# The suites' own options: argparse settings and what they mean.
OPTIONS = {
    "depths": {"type": int, "nargs": "+", "help": "mixing layers"},
    "segments": {
        "type": int,
        "nargs": "*",
        "help": "segment counts of the sweep at --sweep-depth (given alone: no sweep)",
    },
    "main_segments": {"type": int, "help": "segments of the depth series"},
    "sweep_depth": {"type": int, "help": "layers of the segment sweep"},
    "samples_per_segment": {"type": int, "help": "points per segment"},
    "kinds": {"nargs": "+", "choices": list(TCL_DATA_KINDS), "help": "kinds of data"},
    "c2st_samples": {"type": int, "help": "real points of the two-sample test"},
    "n_samples": {"type": int, "help": "points per data set"},
    "n_sources": {"type": int, "help": "latent dimensions"},
    "n_clusters": {"type": int, "help": "mixture components (of the data and of the prior)"},
    "decoder_var": {"type": float, "help": "decoder variance of both VAEs"},
    "decoder_vars": {"type": float, "nargs": "+", "help": "decoder variances"},
    "priors": {
        "nargs": "+",
        "choices": ["uniform", "gaussian", "laplace"],
        "help": "source_distribution of the VAE's prior",
    },
    "lr": {"type": float, "help": "learning rate"},
}


# ------------------------------------------------------------------ one fit


def fit_row(suite, method, data, setting, args):
    """Scores and timings of one fit, as the non-key columns of a row."""
    fit = suite.methods[method].run(data, setting, args)
    row = {score: fit.scores.get(score, NAN) for score in suite.scores}
    row.update(fit_s=fit.clock.wall, fit_cpu_s=fit.clock.cpu, epochs=NAN, epoch_s=NAN)
    row.update(torch_epoch_s=NAN, epoch_ratio=NAN, error="")
    if hasattr(fit.model, "net_"):
        row["epochs"] = fit.model.n_iter_
        row["epoch_s"] = skorch_seconds_per_epoch(fit.model)
        if args.timing_epochs > 0:
            row["torch_epoch_s"] = plain_torch_seconds_per_epoch(
                fit.model, fit.X_fit, fit.u_fit, args.timing_epochs
            )
            row["epoch_ratio"] = row["epoch_s"] / row["torch_epoch_s"]
    return row


# ------------------------------------------------------------------ the run


def _run_value(value):
    return f"{value:g}" if isinstance(value, float) else value


def plan(suite, args):
    """Every fit to run, as rows of key columns, data seed outermost.

    With the seed outermost, a run that is cut short has every setting for the first
    seeds rather than every seed for the first settings.
    """
    run = {column: _run_value(getattr(args, column)) for column in suite.run_columns}
    max_epochs = "default" if args.max_epochs is None else str(args.max_epochs)
    return [
        {"method": m, **setting, "seed": seed, **run, "max_epochs": max_epochs}
        for seed in args.seeds
        for setting in suite.settings(args)
        for m in args.methods
    ]


def _key(suite, row):
    return tuple(str(row[k]) for k in suite.key)


def _setting(suite, row):
    return tuple(str(row[k]) for k in suite.setting_columns)


def read_rows(suite, path):
    """The rows of a CSV written by this suite ([] if there is none)."""
    rows = read_csv(path)
    if rows and list(rows[0]) != suite.columns:
        raise SystemExit(
            f"{path} has other columns than the {suite.name} suite's {suite.columns}: "
            "another --suite, --fresh or another --out?"
        )
    return rows


def run(suite, args):
    out = Path(args.out)
    if args.fresh and out.exists():
        out.unlink()
    existing = read_rows(suite, out)
    done = {_key(suite, row) for row in existing if not row["error"]}  # failed: run again
    todo = [fit for fit in plan(suite, args) if _key(suite, fit) not in done]
    print(f"{len(todo)} fits to run ({len(done)} finished fits already in {out})", flush=True)
    data = {}
    for i, fit in enumerate(todo, 1):
        setting = {column: fit[column] for column in suite.setting_columns}
        data_key = (*(fit[column] for column in suite.data_columns), fit["seed"])
        if data_key not in data:  # one data set in memory at a time
            data = {data_key: suite.make_data(setting, fit["seed"], args)}
        try:
            result = fit_row(suite, fit["method"], data[data_key], setting, args)
        except Exception as error:  # record it and go on: a long run is not lost
            traceback.print_exc()
            result = {c: NAN for c in suite.columns[len(suite.key) : -1]}
            result["error"] = f"{type(error).__name__}: {error}"[:300]
        row = {column: {**fit, **result}[column] for column in suite.columns}
        append_csv_row(row, out)
        print(f"[{i}/{len(todo)}]", end=" ")
        print_row(row)


# ------------------------------------------------------------------ reporting


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN


def _finite(values):
    return [v for v in values if not math.isnan(v)]


def _median(values):
    values = _finite(values)
    return float(np.median(values)) if values else NAN


def latest_rows(suite, args):
    """The CSV's rows of the current plan (a retried fit: its last row), in plan order."""
    latest = {_key(suite, row): row for row in read_rows(suite, args.out)}
    planned = [_key(suite, fit) for fit in plan(suite, args)]
    return [latest[key] for key in planned if key in latest]


def summarize(suite, args, rows):
    """Per (method, setting) over the seeds: headline median, min, max; time medians."""
    settings = {_setting(suite, s): s for s in suite.settings(args)}  # typed values
    groups = {}
    for row in rows:
        groups.setdefault((row["method"], _setting(suite, row)), []).append(row)
    setting_order = list(settings)
    method_order = {m: i for i, m in enumerate(args.methods)}
    summary = []
    for (method, setting), group in sorted(
        groups.items(), key=lambda item: (setting_order.index(item[0][1]), method_order[item[0][0]])
    ):
        entry = {"method": method, **settings[setting]}
        entry["n"] = len(_finite(_float(r[suite.headlines[0]]) for r in group))
        for score in suite.headlines:
            values = _finite(_float(r[score]) for r in group)
            entry[f"{score}_median"] = float(np.median(values)) if values else NAN
            entry[f"{score}_min"] = min(values, default=NAN)
            entry[f"{score}_max"] = max(values, default=NAN)
        for column in TIMING:
            entry[column] = _median([_float(r[column]) for r in group])
        summary.append(entry)
    return summary


def pivot(suite, summary, methods):
    """Headline median (min-max), one row per setting (and score), one column per method."""
    table = {}
    for s in summary:
        setting = {c: s[c] for c in suite.setting_columns}
        for score in suite.headlines:
            if math.isnan(s[f"{score}_median"]):
                continue
            label = {"score": score} if len(suite.headlines) > 1 else {}
            cell = f"{s[f'{score}_median']:.3f} ({s[f'{score}_min']:.2f}-{s[f'{score}_max']:.2f})"
            key = (tuple(setting.values()), suite.headlines.index(score))
            table.setdefault(key, {**setting, **label})[s["method"]] = cell
    setting_order = list(dict.fromkeys(key[0] for key in table))
    order = sorted(table, key=lambda key: (setting_order.index(key[0]), key[1]))
    labels = [*suite.setting_columns, *(["score"] if len(suite.headlines) > 1 else [])]
    return [
        {**{c: table[key][c] for c in labels}, **{m: table[key].get(m, "") for m in methods}}
        for key in order
    ]


def per_fit(suite, rows, methods):
    """Every fit's headline scores: one row per (setting, seed), a column per method."""

    def name(method, score):
        return method if len(suite.headlines) == 1 else f"{method} {score}"

    fixed = [*suite.setting_columns, "seed"]
    table = {}
    for row in rows:
        entry = table.setdefault((*_setting(suite, row), row["seed"]), {c: row[c] for c in fixed})
        for score in suite.headlines:
            value = _float(row[score])
            if row["error"]:
                entry[name(row["method"], score)] = "error"
            elif not math.isnan(value):
                entry[name(row["method"], score)] = value
    settings = list(dict.fromkeys(_setting(suite, row) for row in rows))
    table = dict(sorted(table.items(), key=lambda kv: (settings.index(kv[0][:-1]), int(kv[0][-1]))))
    columns = [name(m, score) for score in suite.headlines for m in methods]
    columns = [c for c in columns if any(c in entry for entry in table.values())]
    return [
        {**{c: e[c] for c in fixed}, **{c: e.get(c, "") for c in columns}} for e in table.values()
    ]


def report(suite, args):
    rows = latest_rows(suite, args)
    summary = summarize(suite, args, rows)
    if not summary:
        print("no results")
        return
    headlines = ", ".join(suite.headlines).replace("mcc", "MCC")
    print(f"\n## {headlines}: median (min-max) over data seeds\n")
    print(markdown(pivot(suite, summary, args.methods)))
    print("\n## Every fit\n")
    print(markdown(per_fit(suite, rows, args.methods)))
    print(f"\n## Per method and setting ({suite.headlines[0]} over seeds; times are medians)\n")
    print(markdown(summary))
    for row in rows:
        if row["error"]:
            print(f"\nfailed: {_key(suite, row)}: {row['error']}")
    png = Path(args.out).with_suffix(".png")
    drawn = suite.plot(summary, rows, suite, args, png)
    print(f"\nrows: {args.out}\nplot: {png if drawn else 'none (nothing to compare)'}")


# ------------------------------------------------------------------ command line


def _defaults_text(name):
    """Each suite's default of an option, for --help."""
    parts = []
    for suite in SUITES.values():
        if name not in suite.full:
            continue
        quick = {**suite.full, **suite.quick}
        full_value, quick_value = suite.full[name], quick[name]
        text = _show(full_value)
        if quick_value != full_value:
            text += f"; quick: {_show(quick_value)}"
        parts.append(f"{suite.name}: {text}")
    return " [" + " | ".join(parts) + "]" if parts else ""


def _show(value):
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "the estimator's own" if value is None else str(value)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="suites:\n"
        + "\n".join(f"  {s.name:8} {s.description}" for s in SUITES.values())
        + "\n\nDefaults are per suite, in brackets; see the top of run_benchmarks.py.",
    )
    parser.add_argument("--suite", choices=list(SUITES), default="depth", help="default: depth")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run of the suite (fewer seeds and settings, smaller data, 10 epochs), "
        "written to results/quick.csv (depth) or results/<suite>_quick.csv; any option "
        "given explicitly still applies",
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="data seeds" + _defaults_text("seeds"))
    parser.add_argument(
        "--methods",
        nargs="+",
        metavar="METHOD",
        help="methods of the suite" + _defaults_text("methods"),
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        help="epochs of every trained model" + _defaults_text("max_epochs"),
    )
    parser.add_argument(
        "--timing-epochs", type=int, default=2, help="epochs of the plain torch loop (0: skip)"
    )
    for name, options in OPTIONS.items():
        options = {**options, "help": options["help"] + _defaults_text(name)}
        parser.add_argument("--" + name.replace("_", "-"), **options)
    parser.add_argument("--out", help="CSV of per-fit rows" + _defaults_text("out"))
    parser.add_argument("--fresh", action="store_true", help="delete --out first, do not resume")
    parser.add_argument(
        "--report-only", action="store_true", help="summarize the rows in --out, fit nothing"
    )
    args = parser.parse_args(argv)
    suite = SUITES[args.suite]
    for name in OPTIONS:
        if name not in suite.options and getattr(args, name) is not None:
            flag = "--" + name.replace("_", "-")
            takes = " ".join("--" + o.replace("_", "-") for o in suite.options)
            parser.error(f"{flag} does not apply to --suite {suite.name} (it takes {takes})")
    defaults = {**suite.full, **suite.quick} if args.quick else suite.full
    defaults["out"] = str(RESULTS / defaults["out"])
    for name, default in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    unknown = [m for m in args.methods if m not in suite.methods]
    if unknown:
        parser.error(
            f"--suite {suite.name} has no method {unknown}; its methods: {list(suite.methods)}"
        )
    return suite, args


def main(argv=None):
    suite, args = parse_args(argv)
    torch.set_num_threads(1)
    with Stopwatch() as clock:
        if not args.report_only:
            run(suite, args)
        report(suite, args)
    print(f"total: {clock.wall / 60:.1f} min ({clock.cpu / 60:.1f} min of CPU)")


if __name__ == "__main__":
    main()
