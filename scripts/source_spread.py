"""How far apart published sources are on the same run: the floor under any model's error against a new source.

    python scripts/source_spread.py [--json]

Reads the validation set and every unentered round (tokcost/data/validation/), groups the runs whose every stated
field is the same (model, hardware, engine, metric, conditions and, for a bare decoder, its architecture) and keeps
the groups that two or more sources measured. A source is its citation's first two words (a repository and its
file, or a paper's name and year); several runs of one source in a group count once, at their geometric mean.
Per group: |ln(a / b)| between each pair of sources. If each source's figure is the truth times exp(e), with e
normal of spread sigma and independent between sources, |ln(a / b)| is half-normal with spread sigma sqrt(2), so
sigma = median |ln(a / b)| / (0.6745 sqrt(2)), and a model that predicted every run's truth exactly would still
be a median exp(0.6745 sigma) - 1 away from a new source's figure. Printed per group and per pair (a group of n
sources gives n (n - 1) / 2 pairs, so the popular configurations weigh more per pair).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import sys
from collections import defaultdict

HALF_NORMAL_MEDIAN = 0.6745  # the median of |z| for a standard normal z


def source_of(citation: str) -> str:
    """A run's source: its citation's first two words ('huggingface/diffusers docs/...' -> both words)."""
    return " ".join(word.rstrip(",;:") for word in citation.split()[:2])


def spread_groups(entries) -> list[dict]:
    """The groups of runs with identical stated fields measured by two sources or more: per group its key fields,
    the sources' geometric-mean figures and the |ln ratio| of each pair of them. ``entries``: validation entries
    (tokcost.records.measurements.Entry); training runs (GPU-hours of a whole pre-training) are left out."""
    groups: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        if e.hardware is None or e.metric == "gpu_hours":
            continue
        arch = e.architecture.model_dump_json() if e.architecture is not None else None
        key = (e.model, e.hardware, e.engine, e.metric, e.conditions.model_dump_json(), arch)
        groups[key][source_of(e.source)].append(e.measured)
    out = []
    for key, by_source in groups.items():
        if len(by_source) < 2:
            continue
        figures = {s: math.exp(statistics.fmean(math.log(v) for v in vs)) for s, vs in by_source.items()}
        pairs = [abs(math.log(a / b)) for a, b in itertools.combinations(figures.values(), 2)]
        model, hardware, engine, metric = key[:4]
        out.append(
            {
                "model": model,
                "hardware": hardware,
                "engine": engine,
                "metric": metric,
                "figures": figures,
                "pairs": pairs,
            }
        )
    return out


def floor(median_abs_log_ratio: float) -> tuple[float, float]:
    """(sigma, the median relative error of a model at the truth) from the median |ln(a / b)| between sources."""
    sigma = median_abs_log_ratio / (HALF_NORMAL_MEDIAN * math.sqrt(2.0))
    return sigma, math.exp(HALF_NORMAL_MEDIAN * sigma) - 1.0


def summary(groups: list[dict]) -> dict:
    per_group = statistics.median(statistics.median(g["pairs"]) for g in groups)
    pairs = [p for g in groups for p in g["pairs"]]
    per_pair = statistics.median(pairs)
    return {
        "groups": len(groups),
        "pairs": len(pairs),
        "median_abs_log_ratio_per_group": per_group,
        "median_abs_log_ratio_per_pair": per_pair,
        "widest_factor": math.exp(max(pairs)),
        "floor_per_group": floor(per_group)[1],
        "floor_per_pair": floor(per_pair)[1],
    }


def main(argv: list[str]) -> int:
    from tokcost.io.measurements import load_entries
    from tokcost.io.paths import DATA_DIR, MEASUREMENTS_FILE

    entries = list(load_entries(MEASUREMENTS_FILE))
    for path in sorted((DATA_DIR / "validation" / "unentered").glob("round*.yaml")):
        entries += load_entries(path)
    groups = spread_groups(entries)
    result = summary(groups)
    if "--json" in argv:
        print(json.dumps({"summary": result, "groups": groups}, indent=2))
        return 0
    for g in sorted(groups, key=lambda g: -max(g["pairs"])):
        figures = ", ".join(f"{s}: {v:.4g}" for s, v in g["figures"].items())
        print(f"{math.exp(max(g['pairs'])):.2f}x  {g['model']} {g['hardware']} {g['engine']} {g['metric']}  {figures}")
    print(
        f"\n{result['groups']} configurations measured by two sources or more ({result['pairs']} pairs of sources): "
        f"median |ln ratio| {result['median_abs_log_ratio_per_group']:.3f} per configuration, "
        f"{result['median_abs_log_ratio_per_pair']:.3f} per pair, widest {result['widest_factor']:.2f}x; a model at "
        f"the truth would be a median {100 * result['floor_per_group']:.1f}% ({100 * result['floor_per_pair']:.1f}% "
        "by pairs) from a new source's figure"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
