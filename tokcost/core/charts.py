"""Chart data: the numbers behind the HTML report's charts, computed at render time. Pure numpy, no plotting.

The analysis result holds one operating point per candidate; the charts need curves around it. Each function
re-prices the top candidates over a grid (sizes or frames, batch sizes) with one vectorised
:func:`~tokcost.engine.estimate.estimate_arrays` call per band, from the spec's product and the candidates'
own settings (engine, precision, batch, steps), so a chart always agrees with the table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.profiles import BANDS
from tokcost.records.results import CandidateResult, SpecResult

BATCH_GRID = 2.0 ** np.arange(0, 11)  # 1 .. 1,024
SIZE_POINTS = 25


@dataclass
class Series:
    label: str
    x: np.ndarray
    y: np.ndarray  # central
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    fits: np.ndarray | None = None  # bool per point: the batch fits in memory
    limit: float | None = None  # largest x that fits in memory (throughput chart)
    group: str = ""  # hardware (bar colour)


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    budget: float | None = None  # horizontal (line charts) or vertical (bars) budget line
    marker: float | None = None  # the spec's own x (its size or frame count)
    log_y: bool = False
    notes: list[str] = field(default_factory=list)


def chart_candidates(spec: SpecResult, top: int = 4) -> list[CandidateResult]:
    """The best ``top`` candidates in rank order, with the best of each other family swapped in for the last
    ones so that the charts always compare the families."""
    ranked = list(spec.candidates)
    picked = ranked[:top]
    for fam in sorted({c.family for c in ranked}):
        if not any(c.family == fam for c in picked):
            best = next(c for c in ranked if c.family == fam)
            picked = picked[:-1] + [best] if len(picked) >= top else picked + [best]
    return picked


def _label(c: CandidateResult) -> str:
    return f"{c.model} / {c.hardware} / {c.engine}"


def _config(c: CandidateResult, spec: SpecResult, model, hw, calibration, **grid) -> Config:
    p = spec.product
    base = dict(width=c.width, height=c.height, frames=c.frames, batch=c.batch,
                steps=c.steps if model.family == "diffusion" else None)
    base.update(grid)
    return Config(model=model, hardware=hw, engine=c.engine, precision=c.precision, role=p["kind"],
                  prompt_tokens=p.get("prompt_tokens"), answer_tokens=p.get("answer_tokens"),
                  calibration=calibration, **base)


def _bands(cfg: Config) -> dict:
    return {b: estimate_arrays(cfg, b) for b in BANDS}


def latency_chart(spec: SpecResult, catalog, calibration=None, top: int = 4) -> Chart:
    """Latency per item against the long side in pixels (images) or the frame count (video), per candidate,
    with the low-high band and the latency budget. Points a model cannot serve are left out (NaN)."""
    p = spec.product
    video = p["kind"] == "video"
    w0, h0 = float(p["width"]), float(p["height"])
    series, notes = [], []
    if video:
        f0 = float(spec.candidates[0].frames or 1) if spec.candidates else 1.0
        x = np.unique(np.round(np.linspace(1, max(2 * f0, 17), SIZE_POINTS)))
    else:
        long0 = max(w0, h0)
        x = np.unique(np.round(np.geomspace(max(64.0, long0 / 4), long0 * 2, SIZE_POINTS) / 16) * 16)
    for c in chart_candidates(spec, top):
        model, hw = _presets(catalog, c, notes)
        if model is None:
            continue
        lo, hi = model.side_limits()
        max_frames = model.native.max_frames if model.family == "diffusion" else None
        if video:
            ok = x <= (max_frames or np.inf)
            cfg = _config(c, spec, model, hw, calibration, frames=x)
        else:
            w, h = x * w0 / max(w0, h0), x * h0 / max(w0, h0)
            w, h = np.round(w / 16) * 16, np.round(h / 16) * 16
            ok = (np.minimum(w, h) >= lo) & (np.maximum(w, h) <= hi)
            cfg = _config(c, spec, model, hw, calibration, width=w, height=h)
        res = _bands(cfg)
        mask = lambda a: np.where(ok, np.broadcast_to(a, x.shape), np.nan)  # noqa: E731
        series.append(Series(_label(c), x, mask(res["central"]["latency_s"]), mask(res["low"]["latency_s"]),
                             mask(res["high"]["latency_s"]), group=c.hardware))
    notes.insert(0, "each candidate at its chosen batch; queueing wait not included")
    return Chart(title="Latency per " + ("clip vs frames" if video else "item vs resolution"),
                 x_label="frames" if video else "long side (px)", y_label="latency (s)", series=series,
                 budget=float(spec.budget["latency_s"]), marker=float(spec.candidates[0].frames or 1)
                 if video and spec.candidates else max(w0, h0), log_y=True, notes=notes)


def throughput_chart(spec: SpecResult, catalog, calibration=None, top: int = 4) -> Chart:
    """Items per second per GPU against batch size, per candidate; ``limit`` is the largest batch that fits."""
    series, notes = [], []
    for c in chart_candidates(spec, top):
        model, hw = _presets(catalog, c, notes)
        if model is None:
            continue
        out = estimate_arrays(_config(c, spec, model, hw, calibration, batch=BATCH_GRID), "central")
        fits = np.broadcast_to(out["fits_in_memory"], BATCH_GRID.shape).astype(bool)
        limit = float(BATCH_GRID[fits].max()) if fits.any() else None
        series.append(Series(_label(c), BATCH_GRID, np.broadcast_to(out["throughput_items_per_s"], BATCH_GRID.shape),
                             fits=fits, limit=limit, group=c.hardware))
    return Chart(title="Throughput per GPU vs batch (memory limit marked)", x_label="batch (items per GPU)",
                 y_label="items / s / GPU", series=series, log_y=True, notes=notes)


def cost_chart(spec: SpecResult, top: int = 12) -> Chart:
    """Cost per item of each candidate (the fleet sized for peak demand), bars grouped by hardware, with the
    single-GPU full-utilisation band as whiskers. From the result alone: nothing is re-priced."""
    rows = [c for c in spec.candidates if c.fleet_cost_usd_per_item is not None][:top]
    series = []
    for c in rows:
        band = c.cost_usd_per_item
        series.append(Series(f"{c.model} / {c.engine}" + ("" if c.feasible else " (infeasible)"),
                             np.array([0.0]), np.array([c.fleet_cost_usd_per_item]),
                             None if band is None else np.array([band.low]),
                             None if band is None else np.array([band.high]), group=c.hardware))
    return Chart(title="Cost per item by candidate and hardware", x_label="$ per item (fleet at your demand)",
                 y_label="", series=series, budget=spec.budget.get("cost_per_item_usd"), log_y=True)


def _presets(catalog, c: CandidateResult, notes: list[str]):
    if not (catalog.has("models", c.model) and catalog.has("hardware", c.hardware)):
        notes.append(f"{_label(c)}: preset not found (pass the same --presets as the analysis), not charted")
        return None, None
    return catalog.model(c.model), catalog.hardware(c.hardware)


# ------------------------------------------------------------------------------------------- sweeps


def sweep_charts(columns: dict, max_lines: int = 12) -> list[Chart]:
    """Latency and cost against resolution, one line per model / hardware / engine, at the sweep's first batch,
    steps and frames value (the other axes are in the CSV/JSON output)."""
    if not len(columns["model"]):
        return []
    keep = np.ones(len(columns["model"]), dtype=bool)
    fixed = []
    for name in ("batch", "steps", "frames"):
        a = np.asarray(columns[name], dtype=float)
        vals = np.unique(a[~np.isnan(a)])
        if vals.size > 1:
            keep &= np.isnan(a) | (a == vals[0])
            fixed.append(f"{name} {vals[0]:g}")
    key = np.char.add(np.char.add(np.asarray(columns["model"], dtype=str), " / "),
                      np.char.add(np.char.add(np.asarray(columns["hardware"], dtype=str), " / "),
                                  np.asarray(columns["engine"], dtype=str)))
    labels, first = np.unique(key[keep], return_index=True)
    labels = labels[np.argsort(first)]
    notes = [f"at {', '.join(fixed)}"] if fixed else []
    if len(labels) > max_lines:
        notes.append(f"first {max_lines} of {len(labels)} model / hardware / engine lines")
        labels = labels[:max_lines]
    side = np.maximum(np.asarray(columns["width"], dtype=float), np.asarray(columns["height"], dtype=float))
    lat, cost = [], []
    for lab in labels:
        m = keep & (key == lab)
        order = np.argsort(side[m], kind="stable")
        x = side[m][order]
        lat.append(Series(str(lab), x, np.asarray(columns["latency_s"], dtype=float)[m][order]))
        cost.append(Series(str(lab), x, np.asarray(columns["cost_usd_per_item"], dtype=float)[m][order]))
    return [Chart("Latency vs resolution", "long side (px)", "latency (s)", lat, log_y=True, notes=notes),
            Chart("Cost per item vs resolution", "long side (px)", "$ per item (one GPU, full use)", cost,
                  log_y=True, notes=list(notes))]
