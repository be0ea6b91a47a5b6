"""Speed of `tokcost simulate`: a day of each example spec's recommended fleet (target: under 10 s for the
200,000-request storefront spec, issue 30).

Prints, per spec, the requests simulated, the CPU and wall seconds of the whole call (planning the fleet included)
and of the event loop alone, the median of ``--runs`` runs.

    python benchmarks/simulate_speed.py [--runs N] [--json]

Exit code 0 always (a measurement, not a gate): no unit test compares wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
TARGET_S = 10.0


def measure(spec: Path, runs: int) -> dict:
    import numpy as np

    import tokcost
    from tokcost.core import simulate as sim

    loop = {"cpu": 0.0}
    static, continuous = sim.simulate_static, sim.simulate_continuous

    def timed(fn):
        def run(*args, **kwargs):
            start = time.process_time()
            out = fn(*args, **kwargs)
            loop["cpu"] += time.process_time() - start
            return out

        return run

    sim.simulate_static, sim.simulate_continuous = timed(static), timed(continuous)
    try:
        cpu, wall, loops, requests = [], [], [], 0
        for seed in range(runs):
            loop["cpu"] = 0.0
            c0, w0 = time.process_time(), time.perf_counter()
            result = tokcost.simulate(spec, seed=seed)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            loops.append(loop["cpu"])
            requests = result.requests
    finally:
        sim.simulate_static, sim.simulate_continuous = static, continuous
    return {
        "spec": spec.name,
        "requests": requests,
        "batching": result.batching,
        "cpu_s": statistics.median(cpu),
        "wall_s": statistics.median(wall),
        "event_loop_cpu_s": statistics.median(loops),
        "requests_per_cpu_s": float(np.round(requests / max(statistics.median(loops), 1e-9))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(s, args.runs) for s in SPECS]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'spec':<26}{'batching':<12}{'requests':>10}{'cpu s':>8}{'wall s':>8}{'loop cpu s':>12}{'req/cpu s':>12}")
    for r in rows:
        print(
            f"{r['spec']:<26}{r['batching']:<12}{r['requests']:>10,}{r['cpu_s']:>8.2f}{r['wall_s']:>8.2f}"
            f"{r['event_loop_cpu_s']:>12.2f}{r['requests_per_cpu_s']:>12,.0f}"
        )
    print(f"target: a day of storefront-images under {TARGET_S:g} s")


if __name__ == "__main__":
    main()
