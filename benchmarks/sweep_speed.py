"""How fast is `tokcost sweep`? Prices a 50,000+ configuration sweep two ways and prints configurations/second:

1. in-process: :func:`tokcost.core.sweep.run_sweep` plus each formatter (the vectorised core and formatting);
2. end to end: ``python -m tokcost sweep ... --format csv`` in a subprocess, so the wall time includes
   interpreter start-up, imports and preset loading.

A benchmark, not a test: it asserts nothing and prints its measurements.
Run from the repository root: ``python benchmarks/sweep_speed.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["sdxl", "flux1-dev", "sd3-medium", "pixart-sigma", "emu3-gen", "llamagen-xl", "janus-pro-7b"]
HARDWARE = ["h100-sxm", "a100-80gb-sxm", "l40s", "h200-sxm", "b200", "h100-pcie"]
RESOLUTIONS = list(range(256, 2049, 64))  # 29 sizes, some padded for some models
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128]
STEPS = [4, 8, 12, 20, 30, 50]


def _args() -> list[str]:
    j = lambda xs: ",".join(map(str, xs))  # noqa: E731
    return [
        "--models",
        j(MODELS),
        "--hardware",
        j(HARDWARE),
        "--resolutions",
        j(RESOLUTIONS),
        "--batches",
        j(BATCHES),
        "--steps",
        j(STEPS),
    ]


def in_process(repeat: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tokcost.core.sweep import SweepRequest, run_sweep
    from tokcost.io.catalog import Catalog
    from tokcost.render.sweep import format_csv, format_json, format_table

    cat = Catalog.default()
    req = SweepRequest(
        models=[cat.model(m) for m in MODELS],
        hardware=[cat.hardware(h) for h in HARDWARE],
        resolutions=[(r, r) for r in RESOLUTIONS],
        batches=BATCHES,
        steps=STEPS,
    )
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        result = run_sweep(req)
        best = min(best, time.perf_counter() - t)
    n = result.rows
    print(f"configurations: {n:,}")
    print(f"core (run_sweep): {best * 1e3:.0f} ms = {n / best:,.0f} configurations/s")
    for name, fn in (("csv", format_csv), ("json", format_json), ("table", format_table)):
        t = time.perf_counter()
        text = fn(result)
        dt = time.perf_counter() - t
        print(f"format {name:5s}: {dt * 1e3:.0f} ms ({len(text) / 1e6:.1f} MB)")


def end_to_end(repeat: int) -> None:
    cmd = [sys.executable, "-m", "tokcost", "sweep", *_args(), "--format", "csv"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    best, rows = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"sweep failed with exit code {proc.returncode}")
        best, rows = min(best, dt), proc.stdout.count("\n") - 1
    print(
        f"end to end (python -m tokcost sweep --format csv, incl. start-up): {best:.2f} s wall for "
        f"{rows:,} rows = {rows / best:,.0f} configurations/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is reported")
    args = parser.parse_args()
    in_process(args.repeat)
    end_to_end(args.repeat)


if __name__ == "__main__":
    main()
