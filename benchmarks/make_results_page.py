"""Write ``benchmarks/README.md``, the results page, from ``benchmarks/recorded/*.csv``.

Every figure on the page comes from a recorded CSV (written by
``run_benchmarks.py``), summarized by the runner's own code: the headline score
as median (min-max) over the data seeds, one row per setting, one column per
method. Each recorded CSV ``<out>_<date>.csv`` belongs to the suite whose
default ``--out`` is ``<out>.csv`` (``all`` is the ``depth`` suite); its plot
``<out>_<date>.png`` sits beside it. The suite's description is the runner's
own (the top of ``run_benchmarks.py``), the methods' names those of
``suites.py``.

    python benchmarks/make_results_page.py           # rewrite benchmarks/README.md
    python benchmarks/make_results_page.py --check   # exit 1 if it is out of date

``tests/test_results_page.py`` checks that the page in the repository is the
one this script writes.
"""

import argparse
import dataclasses
import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmarks  # noqa: E402
from _common import markdown, read_csv  # noqa: E402
from suites import SUITES  # noqa: E402

RECORDED = HERE / "recorded"
PAGE = HERE / "README.md"

# What each recording ran with, where the CSV alone does not say it. Words only:
# the figures come from the CSVs.
RECORDING_NOTES = {
    "all_2026-11-22.csv": (
        "Recorded with sklearn-ivae 0.1.0. Its `ivae` and `ivaegan` rows are those "
        "estimators with 0.1.0's defaults (a random start, the ELBO); the current "
        "defaults differ (see `CHANGELOG.rst`). The run below measures them at 2-4 layers; "
        "this one remains for 1 layer and the segment sweep."
    ),
    "all_2026-12-04.csv": (
        "Recorded with the current defaults (the unreleased changes in `CHANGELOG.rst`) at "
        "2-4 layers on 40 segments, without the segment sweep; data seeds 1, 3, 5 and 2, 4 "
        "ran as two runs side by side on two cores. `mcc_latent`: each method's own latents."
    ),
    "noise_2026-12-04.csv": (
        "Recorded with the current defaults (the unreleased changes in `CHANGELOG.rst`). "
        "`mcc` is each method's headline (+ FastICA where its label says so), `mcc_latent` "
        "its own latents."
    ),
    "wide_2026-12-04.csv": (
        "Recorded on data seeds 1-5 with the current defaults. The `flow`, `tcl`, `vae` and "
        "`fastica` rows of seeds 1-3 come from an earlier run of the same suite whose seeded "
        "fits are the same with the current code (the baselines' run is "
        "`diagnostics/wide_baselines_2026-12-04.csv`); the other fits shared the machine with "
        "other work, so compare their times within a seed. `ivae` and `ivaegan` ran with "
        "`lr='auto'` at 5e-3 after their start from the flow; their rows at 1e-3 are in "
        "`diagnostics/wide_flow_lr_1e-3_2026-12-04.csv`, and IVAEGAN's at "
        "`adversarial_weight` 10 and 100, which fell behind IVAE under noise, in "
        "`diagnostics/wide_ivaegan_weight10_2026-12-04.csv` and "
        "`diagnostics/wide_ivaegan_weight100_2026-12-04.csv`. `mcc_latent`: each method's own "
        "latents."
    ),
}

DIAGNOSTICS_TEXT = """\
## Diagnostics and speed

The scripts in `diagnostics/` explain a result rather than measure one (for example,
whether a model's objective ranks the true sources above its own fit); each states its
question at its top and takes `--help`. `speed.py` times the estimators' fits against a
baseline checkout, restarts, a busy machine and growing data.

On a GPU, `diagnostics/diagnose_device.py` fits the depth suite's defaults with
`device='cuda'` and on one CPU core of the same machine
(`diagnostics/device_2026-12-04.csv`, one NVIDIA H200, 3 layers, data seed 1):
at this size (24,000 rows of 5 features) the GPU fits took longer than one core,
IVAE 217 s against 147 s, the flow 159 s against 120 s (its GPU fit ran beside 15
CPU fits), TCL 22 s against 16 s, with MCC within 0.01 of the CPU fits' (0.889 /
0.898, 0.893 / 0.895, 0.758 / 0.760). The networks and batches are small, so a
step waits on kernel launches, not arithmetic (a step of the flow: 33 ms on the
GPU, 25 ms on the core): at the papers' settings, fit on the CPU.
"""

# Reference figures from the papers: literature, not measured here.
LITERATURE = """\
## Reference figures from the papers

These are published figures (MCC, higher is better), not measurements of this
package; the data and training differ from the suites above.

- iFlow (Li, Hooi & Lee 2020), uncentred means, xtanh 3-layer mixing, 100 data
  seeds: iFlow 0.718 +- 0.067, iVAE 0.483 +- 0.059 (a reproduction; the paper
  reports 0.496 for iVAE).
- ICE-BeeM (Khemakhem et al. 2020), 5 dimensions, 20 segments: iVAE about 0.9
  at 2 mixing layers and 0.55-0.73 at 4; TCL 0.81-0.90 at 2 and 0.59-0.83 at 4.
- IMA (Reizinger et al. 2022), Möbius mixing of 3 uniform sources: MCC 0.96 at
  decoder precision 1e4-1e5, 0.15 at 1e1-1e2.
"""

INTRO = """\
# Benchmarks

<!-- Generated by benchmarks/make_results_page.py from benchmarks/recorded/*.csv:
     edit that script, not this file. -->

The recorded runs of `run_benchmarks.py`, one section per CSV in `recorded/`. MCC is the
mean absolute correlation of matched sources (`sklearn_ivae.metrics.mean_corr_coef`),
1 being perfect. Each table gives, per setting and method, the median over the data
seeds and, in brackets, the range (min-max). The runs used one torch thread per fit on
a shared CPU machine, so the times are indicative only.

Rerun a suite, or redraw its tables and plot from a CSV without fitting:

    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py --suite SUITE
    python benchmarks/run_benchmarks.py --suite SUITE --report-only --out CSV
    OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py --help   # suites, options, defaults

`--quick` runs any suite in a few minutes on smaller data. After recording a new run in
`recorded/`, regenerate this page with `python benchmarks/make_results_page.py`.
"""


# ------------------------------------------------------------------ the suites


def suite_of(csv_path):
    """The suite that wrote a recorded CSV, from its name ``<out>_<date>.csv``."""
    stem = re.sub(r"_\d{4}-\d{2}-\d{2}$", "", csv_path.stem)
    for suite in SUITES.values():
        if Path(suite.full["out"]).stem == stem:
            return suite
    raise ValueError(f"{csv_path.name}: no suite writes {stem}.csv")


def suite_text(suite):
    """The suite's paragraph at the top of ``run_benchmarks.py`` (its one-line
    description if there is none), as markdown."""
    doc = run_benchmarks.__doc__
    match = re.search(rf"^- ``{re.escape(suite.name)}``(.*?)(?=^- ``|^\s*$)", doc, re.M | re.S)
    if match is None:
        return suite.description[0].upper() + suite.description[1:] + "."
    text = " ".join(line.strip() for line in match.group(1).splitlines())
    text = re.sub(r"^\s*(\(the default\))?:\s*", "", text)
    text = re.sub(r"\s*About \d+ minutes\.", "", text)
    return text[0].upper() + text[1:]


# ------------------------------------------------------------------ one CSV


def _in_order(values, order):
    """Distinct values, those of ``order`` first in its order, then the others."""
    values = list(dict.fromkeys(values))
    return [v for v in order if v in values] + [v for v in values if v not in order]


def recorded_rows(suite, csv_path):
    """The CSV's rows (a fit recorded twice: its last row)."""
    rows = run_benchmarks.read_rows(suite, csv_path)
    latest = {run_benchmarks._key(suite, row): row for row in rows}
    return list(latest.values())


def summary_of(suite, rows):
    """``run_benchmarks.summarize`` over the recorded rows: their own settings and methods."""
    settings = {}
    for row in rows:
        settings.setdefault(
            run_benchmarks._setting(suite, row), {c: row[c] for c in suite.setting_columns}
        )
    methods = _in_order([row["method"] for row in rows], suite.full["methods"])
    recorded = dataclasses.replace(suite, settings=lambda args: list(settings.values()))
    args = SimpleNamespace(methods=methods)
    return recorded, methods, run_benchmarks.summarize(recorded, args, rows)


def rerun_command(suite, rows, methods):
    """The command line that reruns the recorded fits."""
    defaults = run_benchmarks.parse_args(["--suite", suite.name])[1]
    parts = ["OMP_NUM_THREADS=1 python benchmarks/run_benchmarks.py", f"--suite {suite.name}"]
    seeds = sorted({int(row["seed"]) for row in rows})
    if seeds != list(defaults.seeds):
        parts.append("--seeds " + " ".join(map(str, seeds)))
    if methods != list(defaults.methods):
        parts.append("--methods " + " ".join(methods))
    for column in suite.run_columns:
        value = rows[0][column]
        if str(value) != str(run_benchmarks._run_value(getattr(defaults, column))):
            parts.append(f"--{column.replace('_', '-')} {value}")
    max_epochs = rows[0]["max_epochs"]
    if max_epochs != "default":
        parts.append(f"--max-epochs {max_epochs}")
    default_settings = [
        run_benchmarks._setting(suite, {k: v for k, v in s.items()})
        for s in suite.settings(defaults)
    ]
    recorded_settings = list(dict.fromkeys(run_benchmarks._setting(suite, r) for r in rows))
    note = ""
    if recorded_settings != default_settings:
        note = " (with the suite's options for the settings in the table; see `--help`)"
    return " ".join(parts), note


def _median(values):
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return math.nan
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _cell(text):
    """Text safe in a markdown table cell."""
    return text.replace("|", "\\|")


def _number(value, digits):
    return "" if math.isnan(value) else f"{value:.{digits}f}"


def methods_table(suite, rows, methods):
    """Per method: what it is, its fits, and the medians of its times over every fit."""
    table = []
    for method in methods:
        fits = [row for row in rows if row["method"] == method]
        cpu = [run_benchmarks._float(row["fit_cpu_s"]) for row in fits]
        ratio = [run_benchmarks._float(row["epoch_ratio"]) for row in fits]
        table.append(
            {
                "method": f"`{method}`",
                "what": _cell(suite.methods[method].label if method in suite.methods else ""),
                "fits": str(len(fits)),
                "failed": str(sum(bool(row["error"]) for row in fits)),
                "fit CPU s (median)": _number(_median(cpu), 1),
                "epoch / plain torch epoch (median)": _number(_median(ratio), 2),
            }
        )
    return table


def section(csv_path):
    """The page's section of one recorded CSV."""
    suite = suite_of(csv_path)
    rows = recorded_rows(suite, csv_path)
    recorded, methods, summary = summary_of(suite, rows)
    seeds = sorted({int(row["seed"]) for row in rows})
    date = csv_path.stem.rsplit("_", 1)[-1]
    headlines = ", ".join(f"`{h}`" for h in suite.headlines)
    command, note = rerun_command(suite, rows, methods)
    png = csv_path.with_suffix(".png")
    lines = [
        f"## `{suite.name}`: {suite.description} ({date})",
        "",
        suite_text(suite),
        "",
        f"Recorded in `recorded/{csv_path.name}`: {len(rows)} fits, data seeds "
        f"{', '.join(map(str, seeds))}.",
    ]
    if csv_path.name in RECORDING_NOTES:
        lines += ["", RECORDING_NOTES[csv_path.name]]
    lines += [
        "",
        f"{headlines}: median (min-max) over the data seeds:",
        "",
        markdown(run_benchmarks.pivot(recorded, summary, methods)),
        "",
    ]
    if png.exists():
        lines += [f"![{suite.name}: {suite.description}](recorded/{png.name})", ""]
    lines += [
        "The methods, their fits and their times (one torch thread; the epoch ratio is "
        "skorch's seconds per epoch over a plain torch loop's on the same module and "
        "batches):",
        "",
        markdown(methods_table(suite, rows, methods)),
        "",
        f"Rerun{note}:",
        "",
        f"    {command}",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ the page


def render():
    """The results page, as text."""
    parts = [INTRO]
    for csv_path in sorted(RECORDED.glob("*.csv")):
        if read_csv(csv_path):
            parts.append(section(csv_path))
    parts += [DIAGNOSTICS_TEXT, LITERATURE]
    return "\n".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if README.md is not what this writes"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is out of date: run python benchmarks/make_results_page.py")
            return 1
        print(f"{PAGE} is up to date")
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
