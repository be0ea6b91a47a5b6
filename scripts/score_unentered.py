"""Score the model on the runs it was never fitted to: every round in tokcost/data/validation/unentered/, priced
with the committed engine parameters, as a reviewer scores it on runs of their own.

    python scripts/score_unentered.py [--json]

Per round, over all of them and over all but the training runs: the runs scored, the median and mean
|predicted/measured - 1|, the worst factor, the median of ln(measured / predicted latency) and the share of runs
slower than priced (the bias: a model fitted without bias on the set can still price new sources' runs fast), and how
many runs' ln(measured / predicted latency) fall inside their family's calibrated band
(tokcost/data/generated/error_bands.yaml, :func:`tokcost.io.engines.error_band`), with that band's median width
(high/low). An estimate's band is never narrower than that family band (it also spans the
parameter band), so the coverage printed is a lower bound on what ``tokcost estimate``'s low-high holds. Training runs
(GPU-hours) have no band and count in the errors only. A round's runs were scored unseen once; scored again after a
change made with them in view, they measure that change less strictly (tokcost/data/validation/unentered/README.md).
Rounds 15-18 entered 82 of their 311 runs, those that fitted (round 15: 19 of 55), and kept the rest here, so their
figures are worse than those rounds' first scores over all their runs (docs/validation.md gives each round's).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace


def round_files() -> list[Path]:
    from tokcost.io.paths import DATA_DIR

    return sorted((DATA_DIR / "validation" / "unentered").glob("round*.yaml"), key=lambda p: int(p.stem[5:]))


def summarise(rows: list[dict], band_of) -> dict:
    """The figures of scored validate rows (``tokcost validate --format json`` entries); ``band_of(family)``: the
    family's calibrated band (an object with ``low`` and ``high``) or None."""
    from tokcost.core.validate import latency_log_error

    scored = [r for r in rows if r.get("ratio") is not None]
    if not scored:
        return {"n": 0}
    rel = [r["rel_err"] for r in scored]
    factors = [max(r["ratio"], 1.0 / r["ratio"]) for r in scored]
    inside, widths, logs = [], [], []
    for r in scored:
        band = band_of(r["family"]) if r["family"] != "training" else None
        if band is None:
            continue
        x = latency_log_error(SimpleNamespace(metric=r["metric"], ratio=r["ratio"]))  # the validate Row's sign
        logs.append(x)
        inside.append(band.low <= x <= band.high)
        widths.append(math.exp(band.high - band.low))
    return {
        "n": len(scored),
        "median_rel_err": statistics.median(rel),
        "mean_rel_err": statistics.fmean(rel),
        "worst_factor": max(factors),
        "worst_id": scored[factors.index(max(factors))]["id"],
        "banded": len(inside),
        # over the banded (inference) runs: a training run's GPU-hours have no latency sign
        "median_log_err": statistics.median(logs) if logs else None,
        "share_slower": statistics.fmean(x > 0 for x in logs) if logs else None,
        "band_coverage": statistics.fmean(inside) if inside else None,
        "median_band_width": statistics.median(widths) if widths else None,
    }


def score() -> dict[str, dict]:
    """{round file stem: summary, ..., "all": over every round's runs, "inference": over all but the training runs
    (GPU-hours of pre-training, which no product estimate prices)}."""
    from tokcost import api
    from tokcost.io.engines import error_band

    out, every = {}, []
    for path in round_files():
        rows = api.validate(measurements=path, in_sample_only=True, cache=False).model_dump()["entries"]
        out[path.stem] = summarise(rows, error_band)
        every += rows
    out["all"] = summarise(every, error_band)
    out["inference"] = summarise([r for r in every if r["family"] != "training"], error_band)
    return out


def markdown(result: dict[str, dict]) -> str:
    lines = [
        "| Round | Runs | Median error | Mean error | Worst | Median ln(measured/predicted) | Slower than priced "
        "| Band coverage | Median band width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in result.items():
        if not s["n"]:
            continue
        bias = "-" if s["median_log_err"] is None else f"{s['median_log_err']:+.3f}"
        slower = "-" if s["share_slower"] is None else f"{100 * s['share_slower']:.0f}%"
        cov = "-" if s["band_coverage"] is None else f"{100 * s['band_coverage']:.0f}%"
        width = "-" if s["median_band_width"] is None else f"{s['median_band_width']:.2f}"
        lines.append(
            f"| {name} | {s['n']} | {100 * s['median_rel_err']:.1f}% | {100 * s['mean_rel_err']:.1f}% "
            f"| {s['worst_factor']:.2f}x | {bias} | {slower} | {cov} | {width} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    result = score()
    print(json.dumps(result, indent=2) if "--json" in argv else markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
