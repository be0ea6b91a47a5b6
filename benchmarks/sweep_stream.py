"""Does a large `tokcost sweep` stream? Runs a sweep of about 2,000,000 configurations end to end
(``python -m tokcost sweep ... --format csv|jsonl --output FILE`` in a subprocess) and prints rows per second and
the process's peak memory (max RSS), which must stay flat (issue #17: under ~500 MB at any size).

A benchmark, not a test: it asserts nothing and prints its measurements.
Run from the repository root: ``python benchmarks/sweep_stream.py [--formats csv,jsonl] [--steps 240]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["sdxl", "flux1-dev", "sd3-medium"]
HARDWARE = ["h100-sxm", "a100-80gb-sxm", "l40s", "h200-sxm", "b200", "h100-pcie"]
RESOLUTIONS = list(range(256, 2049, 64))  # 29 sizes
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128]


def _run(fmt: str, steps: int, out: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, rows) of one sweep in a fresh process."""
    args = [
        sys.executable, "-m", "tokcost", "sweep",
        "--models", ",".join(MODELS),
        "--hardware", ",".join(HARDWARE),
        "--resolutions", ",".join(map(str, RESOLUTIONS)),
        "--batches", ",".join(map(str, BATCHES)),
        "--steps", ",".join(map(str, range(1, steps + 1))),
        "--format", fmt, "--output", str(out),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, stderr=subprocess.DEVNULL, env={**os.environ, "CI": "1"})
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far (Linux: KB)
    with open(out, "rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    rows = lines - (1 if fmt == "csv" else 0)
    return seconds, max(peak_kb, before) / 1024, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default="csv,jsonl")
    ap.add_argument("--steps", type=int, default=270, help="steps values 1..N (270: 2,047,680 rows)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in a.formats.split(","):
            out = Path(tmp) / f"sweep.{fmt}"
            seconds, peak_mb, rows = _run(fmt, a.steps, out)
            size_mb = out.stat().st_size / 1e6
            print(
                f"{fmt:5s}  {rows:>10,} rows  {seconds:6.1f} s  {rows / seconds:>9,.0f} rows/s  "
                f"peak RSS {peak_mb:6.0f} MB  file {size_mb:,.0f} MB"
            )
            out.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
