"""The plots of the benchmark suites: each ``plot(summary, rows, suite, args, path) -> bool``.

``summary`` has one dict per (method, setting) over the data seeds (the setting
columns, ``n`` and ``<headline>_median``/``_min``/``_max``); ``rows`` are the
per-fit rows of the CSV (strings). They return False when there is nothing to draw.
"""

import math

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _errorbar(ax, x, points, label, shift, log_x=False, linestyle="-"):
    """Median with min-max bars, shifted a little so that methods do not overlap."""
    x = np.asarray(x, dtype=float)
    median, low, high = (np.array(v, dtype=float) for v in zip(*points, strict=True))
    x_plot = x * (1 + shift) if log_x else x + shift
    ax.errorbar(
        x_plot,
        median,
        yerr=[median - low, high - median],
        marker="o",
        capsize=3,
        label=label,
        linestyle=linestyle,
    )


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return True


def plot_depth(summary, rows, suite, args, path):
    """MCC against mixing depth and, with 2+ segment counts, against the segment count."""
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
    plt = _pyplot()
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
            x = [p[0] for p in points]
            shift = (j - (len(args.methods) - 1) / 2) * 0.04
            label = suite.methods[method].label
            _errorbar(ax, x, [p[1:] for p in points], label, shift, x_name == "segments")
        if x_name == "segments":
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(x_label)
        ax.set_ylabel("MCC (median; bars: min-max over seeds)")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"5 sources, {title}, {args.samples_per_segment} points/segment")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def plot_settings(summary, rows, suite, args, path):
    """Each headline score (median, min-max bars) per setting, one series per method."""
    if not summary:
        return False
    settings = list(dict.fromkeys(tuple(s[c] for c in suite.setting_columns) for s in summary))
    labels = [
        "\n".join(f"{c}={v}" for c, v in zip(suite.setting_columns, setting, strict=True)) or "all"
        for setting in settings
    ]
    plt = _pyplot()
    n_panels = len(suite.headlines)
    width = max(5.0, 1.4 * len(settings) + 2)
    fig, axes = plt.subplots(1, n_panels, figsize=(width * n_panels, 4.5), squeeze=False)
    for ax, score in zip(axes[0], suite.headlines, strict=True):
        for j, method in enumerate(args.methods):
            points = [
                (
                    settings.index(tuple(s[c] for c in suite.setting_columns)),
                    s[f"{score}_median"],
                    s[f"{score}_min"],
                    s[f"{score}_max"],
                )
                for s in summary
                if s["method"] == method and s["n"] > 0
            ]
            points = [p for p in points if not math.isnan(p[1])]
            if not points:
                continue
            shift = (j - (len(args.methods) - 1) / 2) * 0.08
            label = suite.methods[method].label
            x = [p[0] for p in points]
            _errorbar(ax, x, [p[1:] for p in points], label, shift, linestyle="none")
        ax.set_xticks(range(len(settings)), labels)
        ax.set_xlim(-0.5, len(settings) - 0.5)
        ax.set_ylabel(f"{score} (median; bars: min-max over seeds)")
        ax.set_title(f"{suite.name}: {score}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_ima(summary, rows, suite, args, path):
    """MCC and c_IMA of the learned decoder against the decoder variance, per seed and prior."""
    rows = [r for r in rows if not r["error"]]
    if not rows:
        return False
    plt = _pyplot()
    fig, (ax_mcc, ax_ima) = plt.subplots(1, 2, figsize=(9, 3.5))
    for seed, prior in sorted({(int(r["seed"]), r["prior"]) for r in rows}):
        sub = sorted(
            (float(r["decoder_var"]), float(r["mcc"]), float(r["c_ima"]))
            for r in rows
            if (int(r["seed"]), r["prior"]) == (seed, prior)
        )
        var, mcc, contrast = zip(*sub, strict=True)
        label = f"{prior}, seed {seed}"
        ax_mcc.plot(var, mcc, "o-", label=label)
        ax_ima.plot(var, contrast, "o-", label=label)
    for ax, name in [(ax_mcc, "MCC"), (ax_ima, "c_IMA of the learned decoder")]:
        ax.set_xscale("log")
        ax.set_xlabel("decoder variance")
        ax.set_title(name)
    ax_mcc.set_ylim(0, 1)
    ax_mcc.legend(fontsize=7)
    return _save(fig, path)
