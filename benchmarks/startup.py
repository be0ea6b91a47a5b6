"""Start-up cost of `tokcost analyze` against the floor its dependencies set.

Prints the median wall time of (a) a fresh Python importing typer, rich, pydantic, yaml and numpy, (b) a fresh
`python -m tokcost analyze specs/storefront-images.yaml --format json`, (c) a fresh `python -m tokcost --help`,
and the ratio analyze / deps (target: at most about 1.5).

    python benchmarks/startup.py [--runs N] [--json]

Exit code 0 always (a measurement, not a gate): tests/test_startup.py holds the checks that must not regress
(no torch, matplotlib or pydantic model machinery on the path, only the named presets parsed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "storefront-images.yaml"
TARGET_RATIO = 1.5

HELLO_CLI = """
import typer, rich, yaml, numpy
from pathlib import Path
from typing import List, Optional
from pydantic import BaseModel
app = typer.Typer()
@app.command()
def analyze(spec: List[str], output: Optional[Path] = typer.Option(None, "--output")):
    pass
@app.command()
def other():
    pass
app(["analyze", "x.yaml"], standalone_mode=False)
"""

COMMANDS = {
    "deps_import": [sys.executable, "-c", "import typer, rich, pydantic, yaml, numpy"],
    # typer's top module is lazy: a typer CLI loads its runner only when it parses a command line (and typer
    # 0.29+ then builds a pydantic TypeAdapter per parameter, which is why tokcost pins typer < 0.29). The floor
    # for any CLI on these dependencies is a do-nothing typer command, reported beside the plain imports.
    "deps_as_used": [sys.executable, "-c", HELLO_CLI],
    "analyze": [sys.executable, "-m", "tokcost", "analyze", str(SPEC), "--format", "json"],
    "help": [sys.executable, "-m", "tokcost", "--help"],
    "python_bare": [sys.executable, "-c", "pass"],
}


def _time_once(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def measure(runs: int) -> dict:
    """``runs`` rounds; each round runs every command once, in turn, so that a slow spell of a shared machine
    hits all of them alike. Medians per command, and the ratios as the median of the per-round ratios. A
    warm-up round is dropped: it fills the file cache and writes the bytecode cache (an installed package ships
    its .pyc files; PYTHONDONTWRITEBYTECODE would charge every run for compiling)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("TOKCOST_PRESETS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples: dict = {name: [] for name in COMMANDS}
    for round_ in range(runs + 1):
        for name, argv in COMMANDS.items():
            t = _time_once(argv, env)
            if round_:
                samples[name].append(t)
    result: dict = {"runs": runs}
    for name, ts in samples.items():
        result[name] = statistics.median(w for w, _ in ts)
        result[name + "_cpu"] = statistics.median(c for _, c in ts)

    def ratio(base: str, i: int) -> float:
        return statistics.median(a[i] / b[i] for a, b in zip(samples["analyze"], samples[base]))

    result["ratio_analyze_to_deps"], result["ratio_analyze_to_deps_cpu"] = ratio("deps_import", 0), ratio("deps_import", 1)
    result["ratio_analyze_to_deps_as_used"] = ratio("deps_as_used", 0)
    result["ratio_analyze_to_deps_as_used_cpu"] = ratio("deps_as_used", 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="fresh processes per command (median reported)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    r = measure(args.runs)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    rows = [("python -c pass", "python_bare"), ("import typer, rich, pydantic, yaml, numpy", "deps_import"),
            ("a do-nothing typer command on the same deps", "deps_as_used"),
            ("tokcost --help", "help"), ("tokcost analyze storefront-images --format json", "analyze")]
    print(f"{'':48} {'wall':>8} {'cpu':>8}")
    for label, key in rows:
        print(f"{label:48} {r[key] * 1000:6.0f} ms {r[key + '_cpu'] * 1000:5.0f} ms")
    verdict = "ok" if r["ratio_analyze_to_deps"] <= TARGET_RATIO else f"over the {TARGET_RATIO}x target"
    print(f"{'ratio analyze / deps':48} {r['ratio_analyze_to_deps']:7.2f}x {r['ratio_analyze_to_deps_cpu']:7.2f}x"
          f"  ({verdict})")
    print(f"{'ratio analyze / deps as used':48} {r['ratio_analyze_to_deps_as_used']:7.2f}x "
          f"{r['ratio_analyze_to_deps_as_used_cpu']:7.2f}x")
    print(f"medians of {r['runs']} interleaved rounds (ratios: median of the per-round ratios)")


if __name__ == "__main__":
    main()
