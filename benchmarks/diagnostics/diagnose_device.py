"""The depth suite's default fits on a GPU against the CPU: seconds and MCC.

For each (mixing layers, data seed) of the ``depth`` suite (``make_nonlinear_ica``
data, 5 sources, 40 segments) and each ``--methods`` estimator with its defaults
and ``random_state=0``, it fits once with ``device='cpu'`` (one torch thread, in
``--cpu-workers`` processes side by side) and once with ``device='cuda'`` (one
after another in this process, while the CPU fits run), and appends a row per
fit to ``--out``: the suite's scores, the wall and CPU seconds of the fit, its
epochs, and ``cpu_workers``: how many CPU fits ran beside it (a GPU fit's Python
loop needs a core of its own; 0 when no CPU fits ran). Fits still running at
``--deadline`` seconds are dropped, so that a run on a lent machine ends inside
its lease with every finished row written.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_device.py \\
        --depths 2 3 4 --seeds 1 --out benchmarks/recorded/diagnostics/device.csv
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_device.py --devices cpu \\
        --depths 2 --samples-per-segment 50 --max-epochs 2 --out /tmp/smoke.csv  # a smoke test
"""

import argparse
import dataclasses
import multiprocessing
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import append_csv_row, print_row  # noqa: E402
from run_benchmarks import fit_row  # noqa: E402
from run_benchmarks import parse_args as suite_args  # noqa: E402
from suites import SUITES  # noqa: E402


def on_device(suite, device, verbose=0):
    """The suite with every estimator of its methods set to ``device``."""

    def placed(make):
        return lambda setting, args: make(setting, args).set_params(device=device, verbose=verbose)

    methods = {
        name: dataclasses.replace(m, estimator=placed(m.estimator)) if m.estimator else m
        for name, m in suite.methods.items()
    }
    return dataclasses.replace(suite, methods=methods)


def one_fit(job):
    """A row of one fit (run in this process or in a worker)."""
    device, method, setting, seed, args, verbose, cpu_workers = job
    torch.set_num_threads(1)
    suite = on_device(SUITES["depth"], device, verbose)
    data = suite.make_data(setting, seed, args)
    if device.startswith("cuda"):
        torch.cuda.synchronize()  # CUDA's start-up is not part of the fit's time
    row = {"method": method, **setting, "seed": seed, "device": device, "cpu_workers": cpu_workers}
    row["gpu"] = torch.cuda.get_device_name(0) if device.startswith("cuda") else ""
    return {**row, **fit_row(suite, method, data, setting, args)}


RECORDING = threading.Lock()  # CPU rows arrive on the pool's thread, GPU rows on this one


def record(row, path):
    with RECORDING:
        append_csv_row(row, path)
        print_row(row)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["ivae", "flow", "tcl"])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--gpu-methods", nargs="+", help="default: --methods")
    parser.add_argument("--gpu-depths", type=int, nargs="+", help="default: --depths")
    parser.add_argument(
        "--verbose", action="store_true", help="GPU fits print their epochs (seconds each)"
    )
    parser.add_argument("--samples-per-segment", type=int)
    parser.add_argument("--max-epochs", type=int)
    parser.add_argument("--cpu-workers", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=float("inf"), help="seconds")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    args.gpu_methods = args.gpu_methods or args.methods
    args.gpu_depths = args.gpu_depths or args.depths
    forwarded = ["--suite", "depth", "--timing-epochs", "0", "--segments"]
    forwarded += ["--depths", *map(str, sorted({*args.depths, *args.gpu_depths}))]
    forwarded += ["--methods", *dict.fromkeys([*args.methods, *args.gpu_methods])]
    if args.samples_per_segment:
        forwarded += ["--samples-per-segment", str(args.samples_per_segment)]
    if args.max_epochs:
        forwarded += ["--max-epochs", str(args.max_epochs)]
    _, fit_args = suite_args(forwarded)
    return args, fit_args


def main(argv=None):
    args, fit_args = parse_args(argv)
    start = time.perf_counter()

    cpu_jobs_here = "cpu" in args.devices
    workers = args.cpu_workers if cpu_jobs_here else 0

    def jobs(device, depths, methods, verbose=0):
        return [
            (
                device,
                m,
                {"layers": d, "segments": fit_args.main_segments},
                seed,
                fit_args,
                verbose,
                workers,
            )
            for d in depths
            for seed in args.seeds
            for m in methods
        ]

    cpu_jobs = jobs("cpu", args.depths, args.methods) if cpu_jobs_here else []
    gpu_jobs = [
        job
        for device in args.devices
        if device != "cpu"
        for job in jobs(device, args.gpu_depths, args.gpu_methods, int(args.verbose))
    ]
    # Spawned workers: a forked child of a process that holds CUDA cannot use it.
    pool = multiprocessing.get_context("spawn").Pool(args.cpu_workers)
    try:
        pending = [
            pool.apply_async(one_fit, (job,), callback=lambda row: record(row, args.out))
            for job in cpu_jobs
        ]
        for job in gpu_jobs:
            if time.perf_counter() - start > args.deadline:
                print("deadline: the remaining GPU fits are skipped", flush=True)
                break
            record(one_fit(job), args.out)
        for result in pending:
            left = args.deadline - (time.perf_counter() - start)
            result.wait(None if left == float("inf") else max(left, 0.0))
            if not result.ready():
                print("deadline: the remaining CPU fits are dropped", flush=True)
                break
            result.get()  # raises a worker's error here
    finally:
        pool.terminate()
    print(f"total: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
