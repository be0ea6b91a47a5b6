"""Every speed figure of issue #29 against its yardstick, in one run (a measurement, not a gate: exit code 0).

1. ``tokcost analyze SPEC --format json`` (storefront-images, thumbnails-512-fast): whole-process CPU time
   (user + system) against the import floor (``python -c "import typer, rich, yaml, numpy; from pydantic import
   BaseModel"``) and against one llm-analysis evaluation (``python -m llm_analysis.analysis infer``, a
   Llama-3.1-8B-like model on an H100) when llm-analysis is installed. Fresh processes, run in interleaved rounds
   (each round runs every command once, so a busy spell of a shared machine hits all of them alike); figures are
   medians, ratios the median of the per-round ratios. CPU time, not wall time: on a busy machine wall time
   measures the neighbours.
2. ``tokcost sweep --format csv|jsonl`` on a 2,047,680-row grid: rows per second (by wall and by CPU time, medians
   of ``--sweep-runs`` interleaved rounds) and the largest peak RSS of a process.
3. with ``--suite``: the CPU time of ``python -m pytest`` (long: minutes).
4. with ``--profile``: where one ``analyze`` of each spec spends its time, by cProfile: the share of the process
   spent importing, and tokcost's functions by their own time (the profiler inflates many small calls; the
   order, not the seconds, is the figure).

    python benchmarks/run_all.py [--runs 7] [--sweep-runs 3] [--llm-analysis PYTHON] [--checkout DIR] [--skip-sweep]
                                 [--suite] [--profile]

llm-analysis pins transformers < 5 and huggingface-hub < 0.15, so it lives best in a virtual environment of its
own (``python -m venv /tmp/llm && /tmp/llm/bin/pip install llm-analysis``); pass that interpreter with
``--llm-analysis``. Without it, the current interpreter is used if it imports llm_analysis, else the comparison is
skipped. ``--checkout DIR`` measures another copy of tokcost (e.g. ``git worktree add /tmp/base main``) with the
same yardsticks, for before/after figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANALYZED = ("storefront-images", "thumbnails-512-fast")
FLOOR = "import typer, rich, yaml, numpy; from pydantic import BaseModel"
# llm-analysis ships no Llama-3.1 config and requires ffn_embed_dim to be a multiple of hidden_dim: Llama-3.1-8B's
# shape (32 layers, 32 heads, 8 KV heads, 4,096 wide, 128,256 vocabulary) with a 4x MLP (16,384, not 14,336).
# One evaluation's cost does not depend on these numbers.
LLAMA_31_8B_ISH = {
    "name": "llama-3.1-8b-ish",
    "num_layers": 32,
    "n_head": 32,
    "hidden_dim": 4096,
    "vocab_size": 128256,
    "max_seq_len": 131072,
    "num_key_value_heads": 8,
    "ffn_embed_dim": 16384,
    "model_type": "llama",
}
TARGETS = {  # issue #29's "done when"
    ("storefront-images", "floor"): 2.0,
    ("storefront-images", "llm-analysis"): 0.8,
    ("thumbnails-512-fast", "llm-analysis"): 1.0,
}
SWEEP_ROWS_PER_S, SWEEP_PEAK_MB = 1_000_000, 300
# the streaming grid: 3 models x 6 chips x 29 sizes x 8 batches x 270 steps (less the sizes a model cannot take)
SWEEP_ARGS = [
    "--models", "sdxl,flux1-dev,sd3-medium",
    "--hardware", "h100-sxm,a100-80gb-sxm,l40s,h200-sxm,b200,h100-pcie",
    "--resolutions", ",".join(map(str, range(256, 2049, 64))),
    "--batches", "1,2,4,8,16,32,64,128",
    "--steps", ",".join(map(str, range(1, 271))),
]  # fmt: skip


def _env(checkout: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "NO_COLOR": "1", "CI": "1"}
    env.pop("TOKCOST_PRESETS", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package ships its bytecode: do not compile every run
    return env


def _run(argv: list[str], env: dict, cwd: Path, check: bool = True) -> tuple[float, float, float]:
    """(wall s, CPU s = user + system, peak RSS MB) of one fresh process, from its own resource usage (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _llm_python(arg: str | None) -> str | None:
    candidates = [arg] if arg else [sys.executable]
    for python in candidates:
        probe = subprocess.run([python, "-c", "import llm_analysis.analysis"], capture_output=True)
        if probe.returncode == 0:
            return python
        if arg:
            raise SystemExit(f"{arg} cannot import llm_analysis")
    return None


def analyze_figures(runs: int, checkout: Path, llm_python: str | None, workdir: Path) -> dict:
    env = _env(checkout)
    commands = {"floor": [sys.executable, "-c", FLOOR]}
    for spec in ANALYZED:
        spec_file = str(ROOT / "specs" / f"{spec}.yaml")
        commands[spec] = [sys.executable, "-m", "tokcost", "analyze", spec_file, "--format", "json"]
    if llm_python:
        model = workdir / "llama-3.1-8b-ish.json"
        model.write_text(json.dumps(LLAMA_31_8B_ISH))
        commands["llm-analysis"] = [
            *(llm_python, "-m", "llm_analysis.analysis", "infer"),
            *("--model_name", str(model), "--gpu_name", "h100-sxm-80gb", "--log_level", "ERROR"),
        ]
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):  # round 0 warms the file cache and writes the bytecode: dropped
        for name, argv in commands.items():
            _, seconds, _ = _run(argv, env, workdir)
            if round_:
                cpu[name].append(seconds)
    out: dict = {"runs": runs, "cpu_s": {k: statistics.median(v) for k, v in cpu.items()}, "ratios": {}}
    for spec in ANALYZED:
        for base in ("floor", "llm-analysis"):
            if base in cpu:
                per_round = [a / b for a, b in zip(cpu[spec], cpu[base], strict=True)]
                out["ratios"][f"{spec}/{base}"] = statistics.median(per_round)
    return out


def profile_figures(checkout: Path, workdir: Path, top: int = 12) -> dict:
    """Per analyzed spec: profiled seconds in all, in imports, and the ``top`` tokcost functions by own time."""
    import pstats

    out = {}
    for spec in ANALYZED:
        target = workdir / f"{spec}.prof"
        spec_file = str(ROOT / "specs" / f"{spec}.yaml")
        argv = [sys.executable, "-m", "cProfile", "-o", str(target), "-m", "tokcost", "analyze", spec_file]
        _run([*argv, "--format", "json"], _env(checkout), workdir)
        stats = pstats.Stats(str(target)).stats  # type: ignore[attr-defined]
        total = max(cumulative for _, _, _, cumulative, _ in stats.values())
        # an import inside an import is within the outer one's cumulative time (cProfile counts recursion once)
        imports = sum(
            cumulative for (_, _, name), (_, _, _, cumulative, _) in stats.items() if name == "_find_and_load"
        )
        own = sorted(
            (
                (own_s, calls, f"{Path(file).relative_to(checkout)}:{name}")
                for (file, _, name), (_, calls, own_s, _, _) in stats.items()
                if Path(file).is_relative_to(checkout / "tokcost")
            ),
            reverse=True,
        )
        out[spec] = {"total_s": total, "imports_s": imports, "top": own[:top]}
    return out


def sweep_figures(checkout: Path, workdir: Path, runs: int = 3) -> dict:
    """Each format's median wall and CPU time and largest peak RSS over ``runs`` interleaved rounds (a round runs
    every format once), one fresh process each."""
    samples: dict[str, list[tuple[float, float, float]]] = {"csv": [], "jsonl": []}
    out = {}
    for _ in range(runs):
        for fmt in samples:
            target = workdir / f"sweep.{fmt}"
            argv = [sys.executable, "-m", "tokcost", "sweep", *SWEEP_ARGS, "--format", fmt, "--output", str(target)]
            samples[fmt].append(_run(argv, _env(checkout), workdir))
            with open(target, "rb") as fh:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            out[fmt] = {"rows": lines - (1 if fmt == "csv" else 0), "mb": target.stat().st_size / 1e6}
            target.unlink()
    for fmt, runs_ in samples.items():
        walls, cpus, peaks = zip(*runs_)
        out[fmt].update(wall_s=statistics.median(walls), cpu_s=statistics.median(cpus), peak_rss_mb=max(peaks))
    return out


def suite_figure(checkout: Path) -> dict:
    """The test suite's CPU time (its own result is not this script's business: a failing suite still has a time)."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    _, cpu, _ = _run(argv, _env(checkout), checkout, check=False)
    return {"cpu_s": cpu}


def _verdict(value: float, limit: float, more_is_better: bool = False) -> str:
    ok = value >= limit if more_is_better else value <= limit
    return "ok" if ok else "MISSED"


def report(r: dict) -> str:
    lines = [f"{'figure':58} {'value':>12} {'target':>10}  verdict"]
    a = r.get("analyze")
    if a:
        lines.append(f"analyze: median CPU of {a['runs']} interleaved rounds of fresh processes")
        for name, seconds in a["cpu_s"].items():
            lines.append(f"  {name + ' CPU':56} {seconds:10.3f} s")
        for key, ratio in a["ratios"].items():
            spec, base = key.split("/")
            limit = TARGETS.get((spec, base))
            target = f"<= {limit:.1f}x" if limit else ""
            verdict = _verdict(ratio, limit) if limit else ""
            lines.append(f"  {spec + ' / ' + base:56} {ratio:11.2f}x {target:>10}  {verdict}")
        if "llm-analysis" not in a["cpu_s"]:
            lines.append("  llm-analysis not installed: --llm-analysis PYTHON compares with it")
    for spec, p in r.get("profile", {}).items():
        lines.append(f"profile of one analyze {spec}: {p['total_s']:.2f} s profiled, {p['imports_s']:.2f} s importing")
        lines += [f"  {where:56} {own_s:10.3f} s  {calls:>7,} calls" for own_s, calls, where in p["top"]]
    s = r.get("sweep")
    if s:
        rows, runs = next(iter(s.values()))["rows"], r.get("sweep_runs", 1)
        lines.append(f"sweep: {rows:,}-row grid streamed to a file, medians of {runs} interleaved rounds")
        for fmt, f in s.items():
            by_wall, by_cpu = f["rows"] / f["wall_s"], f["rows"] / f["cpu_s"]
            lines += [
                f"  {fmt + ' rows/s by CPU time':56} {by_cpu:12,.0f} {SWEEP_ROWS_PER_S:>10,}  "
                + _verdict(by_cpu, SWEEP_ROWS_PER_S, True),
                f"  {fmt + ' rows/s by wall time':56} {by_wall:12,.0f}",
                f"  {fmt + ' peak RSS (MB)':56} {f['peak_rss_mb']:12.0f} {SWEEP_PEAK_MB:>10}  "
                + _verdict(f["peak_rss_mb"], SWEEP_PEAK_MB),
            ]
    t = r.get("suite")
    if t:
        lines.append(f"  {'python -m pytest CPU (s)':56} {t['cpu_s']:12.0f} {240:>10}  " + _verdict(t["cpu_s"], 240))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds of the analyze figures")
    parser.add_argument("--sweep-runs", type=int, default=3, help="interleaved rounds of the sweep figures")
    parser.add_argument("--llm-analysis", metavar="PYTHON", help="an interpreter that imports llm_analysis")
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the tokcost copy to measure (default: this)")
    parser.add_argument("--skip-analyze", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--suite", action="store_true", help="also the test suite's CPU time (minutes)")
    parser.add_argument("--profile", action="store_true", help="also where one analyze of each spec spends its time")
    parser.add_argument("--sweep-args", help=argparse.SUPPRESS)  # a smaller grid, for the smoke test
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.sweep_args:
        SWEEP_ARGS[:] = args.sweep_args.split()
    checkout = args.checkout.resolve()
    result: dict = {"checkout": str(checkout)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_analyze:
            result["analyze"] = analyze_figures(args.runs, checkout, _llm_python(args.llm_analysis), work)
        if args.profile:
            result["profile"] = profile_figures(checkout, work)
        if not args.skip_sweep:
            result["sweep"] = sweep_figures(checkout, work, args.sweep_runs)
            result["sweep_runs"] = args.sweep_runs
    if args.suite:
        result["suite"] = suite_figure(checkout)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
