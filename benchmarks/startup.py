"""Start-up cost of `tokcost analyze` against the floor its dependencies set.

Prints the median wall and CPU time of fresh processes: Python running
``import typer, rich, yaml, numpy; from pydantic import BaseModel`` (the baseline); a do-nothing typer command on the same dependencies; `tokcost --help`; and
`tokcost analyze SPEC --format json` for every example spec in specs/, with each one's ratio to the baseline
(target: at most 2.0 for the storefront spec). The examples differ in how much they price (14 to 650 candidates, each chip x
engine x model the spec allows), so a least-squares line of wall time against candidates splits the time into
start-up (the intercept: imports, parsing, validation) and pricing (the slope, per candidate).

    python benchmarks/startup.py [--runs N] [--json]

Exit code 0 always (a measurement, not a gate): tests/test_startup.py holds the checks that must not regress
(no torch or matplotlib on the path, only the named presets parsed).
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
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
TARGET_RATIO = 2.0

HELLO_CLI = """
import typer, rich, yaml, numpy
from pathlib import Path
from typing import List, Optional
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
    "deps_import": [sys.executable, "-c", "import typer, rich, yaml, numpy; from pydantic import BaseModel"],
    # typer's top module is lazy: a typer CLI loads its runner only when it parses a command line (typer 0.29+
    # then builds a pydantic TypeAdapter per parameter). A do-nothing typer command is reported beside the plain
    # imports as the floor for any CLI on these dependencies.
    "deps_as_used": [sys.executable, "-c", HELLO_CLI],
    "help": [sys.executable, "-m", "tokcost", "--help"],
    "python_bare": [sys.executable, "-c", "pass"],
    **{f"analyze {s.stem}": [sys.executable, "-m", "tokcost", "analyze", str(s), "--format", "json"] for s in SPECS},
}
ANALYZE = [name for name in COMMANDS if name.startswith("analyze ")]


def _candidates(argv: list[str], env: dict) -> int:
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return sum(len(spec["candidates"]) for spec in json.loads(out)["specs"])


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
    result: dict = {
        "runs": runs,
        "wall_s": {},
        "cpu_s": {},
        "ratio_to_deps": {},
        "ratio_to_deps_cpu": {},
        "ratio_to_deps_as_used": {},
    }
    for name, ts in samples.items():
        result["wall_s"][name] = statistics.median(w for w, _ in ts)
        result["cpu_s"][name] = statistics.median(c for _, c in ts)

    def ratio(name: str, base: str, i: int) -> float:
        return statistics.median(a[i] / b[i] for a, b in zip(samples[name], samples[base]))

    for name in ANALYZE:
        result["ratio_to_deps"][name] = ratio(name, "deps_import", 0)
        result["ratio_to_deps_cpu"][name] = ratio(name, "deps_import", 1)
        result["ratio_to_deps_as_used"][name] = ratio(name, "deps_as_used", 0)
    result["worst_ratio_to_deps"] = max(result["ratio_to_deps"].values())
    result["candidates"] = {name: _candidates(COMMANDS[name], env) for name in ANALYZE}
    x = [result["candidates"][n] for n in ANALYZE]
    y = [result["wall_s"][n] for n in ANALYZE]
    slope, intercept = statistics.linear_regression(x, y)
    result["startup_s"], result["per_candidate_s"] = intercept, slope
    result["startup_ratio_to_deps"] = intercept / result["wall_s"]["deps_import"]
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
    labels = {
        "python_bare": "python -c pass",
        "deps_import": "import typer, rich, yaml, numpy; from pydantic import BaseModel",
        "deps_as_used": "a do-nothing typer command on the same deps",
        "help": "tokcost --help",
    }
    print(f"{'':44} {'wall':>8} {'cpu':>8}   {'/deps':>6} {'(cpu)':>6} {'/typer':>7} {'priced':>7}")
    for name in [*labels, *ANALYZE]:
        line = f"{labels.get(name, 'tokcost ' + name):44} {r['wall_s'][name] * 1000:6.0f} ms {r['cpu_s'][name] * 1000:5.0f} ms"
        if name in ANALYZE:
            line += (
                f"   {r['ratio_to_deps'][name]:5.2f}x {r['ratio_to_deps_cpu'][name]:5.2f}x "
                f"{r['ratio_to_deps_as_used'][name]:6.2f}x {r['candidates'][name]:7d}"
            )
        print(line)
    start = r["startup_ratio_to_deps"]
    verdict = "ok" if start <= TARGET_RATIO else f"over the {TARGET_RATIO}x target"
    print(
        f"start-up (the line's intercept at 0 candidates): {r['startup_s'] * 1000:.0f} ms = {start:.2f}x deps "
        f"({verdict}); pricing: {r['per_candidate_s'] * 1e6:.0f} us per candidate"
    )
    print(
        f"examples: {min(r['ratio_to_deps'].values()):.2f}x to {r['worst_ratio_to_deps']:.2f}x deps; medians of "
        f"{r['runs']} interleaved rounds (ratios: median of the per-round ratios)"
    )


if __name__ == "__main__":
    main()
