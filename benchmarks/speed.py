"""Speed benchmarks: against a baseline version, restarts, a busy machine, scaling.

Each check prints a markdown table (and appends CSV rows under ``benchmarks/results/``)::

    # Default fits of this checkout against a baseline version's checkout, same data and
    # seeds (each fit in its own process, one torch thread):
    git worktree add /tmp/baseline <tag or commit>
    python benchmarks/speed.py release --baseline /tmp/baseline

    python benchmarks/speed.py restarts      # n_init=8 against n_init=1
    python benchmarks/speed.py stacked       # R restarts as one vmapped model, per step
    python benchmarks/speed.py busy          # a default fit beside a CPU-bound process
    python benchmarks/speed.py scaling       # time and peak memory against n_samples, n_features

``--quick`` runs each on less data. The data is ``make_nonlinear_ica`` (5 sources, 2 layers,
40 segments x 1000 points unless said); MCC is after FastICA for IVAE, IVAEGAN and TCL
(TCL's against |s|), direct for the flow.
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# One fit in a fresh process: prints a JSON line. Runs against whichever sklearn_ivae
# is first on PYTHONPATH (this checkout or the baseline).
FIT_SCRIPT = r"""
import json, os, resource, sys, time
sys.path.insert(0, {benchmarks!r})
import numpy as np, torch
torch.set_num_threads(1)
from _common import fastica_mcc, tcl_mcc
import sklearn_ivae
from sklearn_ivae import IVAE, IVAEGAN, IdentifiableFlow, TCLNonlinearICA
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef
spec = json.loads({spec!r})
X, S, u = make_nonlinear_ica(
    n_sources=spec["n_sources"], n_features=spec.get("n_features"),
    n_segments=spec["n_segments"], n_samples_per_segment=spec["n_per_segment"],
    n_layers=2, random_state=spec["data_seed"])
cls = {{"ivae": IVAE, "ivaegan": IVAEGAN, "flow": IdentifiableFlow,
        "tcl": TCLNonlinearICA}}[spec["estimator"]]
model = cls(random_state=spec["seed"], **spec.get("params", {{}}))
wall, cpu = time.perf_counter(), time.process_time()
model.fit(X, u)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
Z = model.transform(X)
if spec["estimator"] == "tcl":
    mcc = tcl_mcc(S, Z)
elif spec["estimator"] == "flow":
    mcc = mean_corr_coef(S, Z)
else:
    mcc = fastica_mcc(S, Z)
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"cpu_s": cpu, "wall_s": wall, "mcc": float(mcc), "epochs": model.n_iter_,
                  "peak_mib": peak_mib, "package": os.path.dirname(sklearn_ivae.__file__)}}))
"""


def fit_in_subprocess(spec, package_root, extra_env=None):
    """Run one fit in a fresh interpreter with ``package_root`` first on the path."""
    env = {
        **os.environ,
        "PYTHONPATH": str(package_root),
        "OMP_NUM_THREADS": "1",
        **(extra_env or {}),
    }
    code = FIT_SCRIPT.format(benchmarks=str(HERE), spec=json.dumps(spec))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"fit failed for {spec}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def problem(quick, **overrides):
    spec = {"n_sources": 5, "n_segments": 40, "n_per_segment": 250 if quick else 1000}
    return {**spec, **overrides}


def table(rows):
    sys.path.insert(0, str(HERE))
    from _common import markdown

    print(markdown(rows), flush=True)


def save(name, rows):
    sys.path.insert(0, str(HERE))
    from _common import append_csv_row

    for row in rows:
        append_csv_row(row, RESULTS / f"speed_{name}.csv")


def check_release(args):
    """Default fits here and in the baseline checkout: CPU seconds, MCC, ratio."""
    rows = []
    checkout = HERE.parent
    for estimator in args.estimators:
        for data_seed in args.data_seeds:
            spec = {
                **problem(args.quick),
                "estimator": estimator,
                "data_seed": data_seed,
                "seed": 0,
            }
            base = fit_in_subprocess(spec, args.baseline)
            new = fit_in_subprocess(spec, checkout)
            rows.append(
                {
                    "estimator": estimator,
                    "data seed": data_seed,
                    "baseline CPU s": round(base["cpu_s"], 1),
                    "now CPU s": round(new["cpu_s"], 1),
                    "speed-up": round(base["cpu_s"] / new["cpu_s"], 2),
                    "baseline MCC": round(base["mcc"], 4),
                    "now MCC": round(new["mcc"], 4),
                    "epochs (base/now)": f"{base['epochs']}/{new['epochs']}",
                }
            )
            print(rows[-1], flush=True)
    table(rows)
    save("release", rows)


def check_restarts(args):
    """CPU time of n_init=8 against n_init=1 on the same data."""
    rows = []
    for estimator in args.estimators:
        spec = {**problem(args.quick), "estimator": estimator, "data_seed": 0, "seed": 0}
        one = fit_in_subprocess(spec, HERE.parent)
        eight = fit_in_subprocess({**spec, "params": {"n_init": 8}}, HERE.parent)
        rows.append(
            {
                "estimator": estimator,
                "n_init=1 CPU s": round(one["cpu_s"], 1),
                "n_init=8 CPU s": round(eight["cpu_s"], 1),
                "ratio": round(eight["cpu_s"] / one["cpu_s"], 2),
                "MCC 1 / 8": f"{one['mcc']:.3f} / {eight['mcc']:.3f}",
            }
        )
        print(rows[-1], flush=True)
    table(rows)
    save("restarts", rows)


def check_stacked(args):
    """Seconds per training step of R restarts stacked into one vectorized model.

    The default IVAE module (5 sources, 40 segments, K = 4, batch 64) with
    R copies' parameters stacked (``torch.func.stack_module_state``) and the
    bound vmapped over them, one Adam over the stacks, against one module's
    step. What vectorizing ``n_init`` would save: R x (one step) for R
    sequential restarts, against the stacked step.
    """
    import copy
    import time

    import torch
    from torch.func import functional_call, stack_module_state, vmap

    from sklearn_ivae.nn import IVAEModule

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n_segments, batch, steps = 40, 64, 100 if args.quick else 300
    x = torch.randn(4096, 5)
    u = torch.nn.functional.one_hot(torch.randint(n_segments, (4096,)), n_segments).float()
    kwargs = dict(
        n_features=5,
        n_components=5,
        n_aux=n_segments,
        aux_kind="categorical",
        n_importance_samples=4,
    )

    def seconds_per_step(loss_fn, parameters):
        optimizer = torch.optim.Adam(parameters, 1e-3, foreach=True)
        for _phase in ("warm-up", "timed"):
            start = time.perf_counter()
            for step in range(steps):
                rows = slice(step * batch % 4000, step * batch % 4000 + batch)
                optimizer.zero_grad()
                loss_fn(x[rows], u[rows]).backward()
                optimizer.step()
        return (time.perf_counter() - start) / steps

    one = IVAEModule(**kwargs)
    single = seconds_per_step(lambda xb, ub: -one(xb, ub).mean(), one.parameters())
    rows = []
    for n_restarts in (1, 4, 8):
        modules = [IVAEModule(**kwargs) for _ in range(n_restarts)]
        params, buffers = stack_module_state(modules)
        skeleton = copy.deepcopy(modules[0]).to("meta")

        def bound(p, b, xb, ub, skeleton=skeleton):
            return functional_call(skeleton, (p, b), (xb, ub))

        stacked = vmap(bound, in_dims=(0, 0, None, None), randomness="different")

        def loss(xb, ub, stacked=stacked, params=params, buffers=buffers):
            # The sum of the restarts' mean losses: each gets its own gradient.
            return -stacked(params, buffers, xb, ub).mean(1).sum()

        per_step = seconds_per_step(loss, list(params.values()))
        rows.append(
            {
                "restarts R": n_restarts,
                "one module ms/step": round(1e3 * single, 2),
                "stacked ms/step": round(1e3 * per_step, 2),
                "stacked / one": round(per_step / single, 2),
                "sequential / stacked": round(n_restarts * single / per_step, 2),
            }
        )
        print(rows[-1], flush=True)
    table(rows)
    save("stacked", rows)


def _burn(stop):
    """A CPU-bound process: spin until told to stop."""
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def check_busy(args):
    """Wall time of a default fit beside CPU-bound processes, against an idle one-thread fit.

    The machine's cores minus one are kept busy (one on a 2-core machine). "idle" is a
    fit with ``n_threads=1`` and nothing else running; "busy, default" the estimator's
    defaults beside the busy processes; "busy, torch's threads" with ``n_threads=None``
    (torch's default: one thread per core), as before the parameter existed.
    """
    spec = {**problem(args.quick), "estimator": "ivae", "data_seed": 0, "seed": 0}
    env = {"OMP_NUM_THREADS": ""}  # let torch choose its default thread count
    idle = fit_in_subprocess({**spec, "params": {"n_threads": 1}}, HERE.parent, env)
    stop = multiprocessing.Event()
    burners = [
        multiprocessing.Process(target=_burn, args=(stop,))
        for _ in range(max(1, (os.cpu_count() or 2) - 1))
    ]
    for burner in burners:
        burner.start()
    try:
        busy = fit_in_subprocess(spec, HERE.parent, env)
        busy_torch = fit_in_subprocess({**spec, "params": {"n_threads": None}}, HERE.parent, env)
    finally:
        stop.set()
        for burner in burners:
            burner.join()
    rows = [
        {
            "setting": name,
            "wall s": round(result["wall_s"], 1),
            "ratio to idle": round(result["wall_s"] / idle["wall_s"], 2),
        }
        for name, result in [
            ("idle, n_threads=1", idle),
            ("busy, default (n_threads=1)", busy),
            ("busy, n_threads=None (torch's default)", busy_torch),
        ]
    ]
    table(rows)
    save("busy", rows)


def check_scaling(args):
    """Default IVAE fits: CPU seconds and peak memory against n_samples and n_features."""
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    features = [5, 20] if args.quick else [5, 20, 100]
    rows = []
    for n_samples in sizes:
        for n_features in features:
            spec = {
                "n_sources": 5,
                "n_features": n_features,
                "n_segments": 40,
                "n_per_segment": n_samples // 40,
                "estimator": "ivae",
                "data_seed": 0,
                "seed": 0,
                "params": {"n_components": 5},
            }
            result = fit_in_subprocess(spec, HERE.parent)
            rows.append(
                {
                    "n_samples": n_samples,
                    "n_features": n_features,
                    "epochs": result["epochs"],
                    "CPU s": round(result["cpu_s"], 1),
                    "peak MiB": round(result["peak_mib"]),
                    "MCC": round(result["mcc"], 3),
                }
            )
            print(rows[-1], flush=True)
    table(rows)
    save("scaling", rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=["release", "restarts", "stacked", "busy", "scaling"])
    parser.add_argument("--baseline", type=Path, help="checkout of the baseline version")
    parser.add_argument("--estimators", nargs="+", default=["ivae", "flow", "tcl", "ivaegan"])
    parser.add_argument("--data-seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.check == "release" and args.baseline is None:
        parser.error("release needs --baseline PATH (a checkout of the baseline version)")
    {
        "release": check_release,
        "restarts": check_restarts,
        "stacked": check_stacked,
        "busy": check_busy,
        "scaling": check_scaling,
    }[args.check](args)


if __name__ == "__main__":
    main()
