"""Chart data: the numbers behind the HTML report's charts, computed by the core and stored in the result
(:class:`~tokcost.records.results.ChartData`), so that the renderer only draws and a saved result re-renders the
same without presets or calibration. Pure numpy, no plotting.

The analysis result holds one operating point per candidate; the charts need curves around it.
:func:`analysis_charts` (called by :func:`~tokcost.core.plan.analyze_spec`) re-prices the top candidates over a
grid (sizes or frames, batch sizes) with one vectorised :func:`~tokcost.engine.estimate.estimate_arrays` call per
band, from the spec's product and the candidates' own settings (engine, precision, batch, steps), so a chart
always agrees with the table beside it. :func:`sweep_charts` picks a sweep's lines from its own columns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tokcost.core.families import representative
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.profiles import BANDS
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.records.results import CandidateResult, ChartData, ChartSeries, SpecResult

BATCH_GRID = 2.0 ** np.arange(0, 11)  # 1 .. 1,024
SIZE_POINTS = 25
TOP_LINES = 4  # candidates drawn as curves (latency, throughput)
TOP_BARS = 12  # candidates drawn as bars (cost)


def _distinct(a: np.ndarray) -> np.ndarray:
    """``np.unique`` of an already sorted grid, without it: ``np.unique`` imports ``numpy.ma`` (about 10 ms of
    every ``tokcost analyze`` run)."""
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


def _points(values, shape, ok=None) -> list[float | None]:
    """An array as a list of floats for a record: ``None`` where ``ok`` is False or the number is not finite."""
    a = np.broadcast_to(np.asarray(values, dtype=float), shape).tolist()
    keep = [True] * len(a) if ok is None else np.broadcast_to(ok, shape).tolist()
    return [v if k and math.isfinite(v) else None for v, k in zip(a, keep)]


# ------------------------------------------------------------------------------------------- analysis


def analysis_charts(spec: SpecResult, catalog, calibration=None) -> list[ChartData]:
    """The analysis report's charts for one spec, in the order they are drawn: latency, cost, throughput (none
    without candidates). ``catalog`` and ``calibration`` are the ones the analysis priced the candidates with."""
    if not spec.candidates:
        return []
    picked = [(c, catalog.model(c.model), catalog.hardware(c.hardware)) for c in chart_candidates(spec, TOP_LINES)]
    return [latency_chart(spec, picked, calibration), cost_chart(spec), throughput_chart(spec, picked, calibration)]


def chart_candidates(spec: SpecResult, top: int = TOP_LINES) -> list[CandidateResult]:
    """The best ``top`` candidates in rank order, with each other family's representative (the candidate the
    report's sentences name) swapped in for the last ones so that the charts always compare the families."""
    ranked = list(spec.candidates)
    picked = ranked[:top]
    for fam in sorted({c.family for c in ranked}):
        if not any(c.family == fam for c in picked):
            best = representative(ranked, fam)
            if best is not None:
                picked = picked[:-1] + [best] if len(picked) >= top else picked + [best]
    return picked


def _label(c: CandidateResult) -> str:
    return f"{c.model} / {c.replica} / {c.engine}"


def _config(c: CandidateResult, spec: SpecResult, model, hw, calibration, **grid) -> Config:
    p = spec.product
    # Config's sizing fields (a scalar or an array each), overridden by ``grid`` (the chart's axis)
    base: dict[str, Any] = dict(
        width=c.width,
        height=c.height,
        frames=c.frames,
        batch=c.batch,
        steps=c.steps if model.generation.steps else None,
    )
    base.update(grid)
    return Config(
        model=model,
        hardware=hw,
        profiles=load_engines(),
        engine=c.engine,
        precision=c.precision,
        role=p["kind"],
        prompt_tokens=p.get("prompt_tokens"),
        answer_tokens=p.get("answer_tokens"),
        calibration=calibration,
        gpus=c.gpus_per_replica,  # split as the planner split it (the default layout)
        kernels=hardware_kernels,
        **base,
    )


def _held(c: CandidateResult, *names: str) -> dict[str, float]:
    """The candidate's settings named, those it has (an AR model has no steps, an image no frames)."""
    return {n: float(getattr(c, n)) for n in names if getattr(c, n) is not None}


def latency_chart(spec: SpecResult, picked: list, calibration=None) -> ChartData:
    """Latency per item against the long side in pixels (images) or the frame count (video), per candidate
    (``picked``: (candidate, model preset, hardware preset)), with the low-high band and the latency budget.
    Points a model cannot serve are left out (None)."""
    p = spec.product
    video = p["kind"] == "video"
    w0, h0 = float(p["width"]), float(p["height"])
    if video:
        f0 = float(spec.candidates[0].frames or 1) if spec.candidates else 1.0
        x = _distinct(np.round(np.linspace(1, max(2 * f0, 17), SIZE_POINTS)))
    else:
        long0 = max(w0, h0)
        x = _distinct(np.round(np.geomspace(max(64.0, long0 / 4), long0 * 2, SIZE_POINTS) / 16) * 16)
    series = []
    for c, model, hw in picked:
        lo, hi = model.side_limits()
        max_frames = model.generation.max_frames(model)
        if video:
            ok = x <= (max_frames or np.inf)
            cfg = _config(c, spec, model, hw, calibration, frames=x)
            held = _held(c, "batch", "width", "height", "steps")
        else:
            w, h = x * w0 / max(w0, h0), x * h0 / max(w0, h0)
            w, h = np.round(w / 16) * 16, np.round(h / 16) * 16
            ok = (np.minimum(w, h) >= lo) & (np.maximum(w, h) <= hi)
            cfg = _config(c, spec, model, hw, calibration, width=w, height=h)
            held = _held(c, "batch", "frames", "steps")
        res = {b: estimate_arrays(cfg, b) for b in BANDS}
        series.append(
            ChartSeries(
                label=_label(c),
                group=c.hardware,
                fixed=held,
                x=x.tolist(),
                y=_points(res["central"].latency_s, x.shape, ok),
                low=_points(res["low"].latency_s, x.shape, ok),
                high=_points(res["high"].latency_s, x.shape, ok),
            )
        )
    marker = float(spec.candidates[0].frames or 1) if video and spec.candidates else max(w0, h0)
    return ChartData(
        id="latency",
        kind="line",
        x_unit="frames" if video else "px",
        y_unit="s",
        log_y=True,
        budget=float(spec.budget["latency_s"]),
        marker=marker,
        series=series,
    )


def throughput_chart(spec: SpecResult, picked: list, calibration=None) -> ChartData:
    """Items per second per GPU against batch size, per candidate; ``limit`` is the largest batch that fits."""
    series = []
    for c, model, hw in picked:
        out = estimate_arrays(_config(c, spec, model, hw, calibration, batch=BATCH_GRID), "central")
        fits = np.broadcast_to(out.fits_in_memory, BATCH_GRID.shape).astype(bool)
        limit = float(BATCH_GRID[fits].max()) if fits.any() else None
        series.append(
            ChartSeries(
                label=_label(c),
                group=c.hardware,
                fixed=_held(c, "width", "height", "frames", "steps"),
                x=BATCH_GRID.tolist(),
                # per GPU: the replica's items per second over its GPUs
                y=_points(np.asarray(out.throughput_items_per_s) / c.gpus_per_replica, BATCH_GRID.shape),
                fits=fits.tolist(),
                limit=limit,
            )
        )
    return ChartData(
        id="throughput",
        kind="fit_line",
        x_unit="items/replica",
        y_unit="items/s/GPU",
        log_y=True,
        series=series,
    )


def cost_chart(spec: SpecResult, top: int = TOP_BARS) -> ChartData:
    """Cost per item of each candidate (the fleet sized for peak demand), bars grouped by hardware, with the
    single-GPU full-utilisation band. From the result alone: nothing is re-priced."""
    priced = [c for c in spec.candidates if c.fleet_cost_usd_per_item is not None]
    rows = priced[:top]
    series = []
    for c in rows:
        band = c.cost_usd_per_item
        series.append(
            ChartSeries(
                label=f"{c.model} / {c.replica} / {c.engine}" + ("" if c.feasible else " (infeasible)"),
                group=c.hardware,
                fixed=_held(c, "batch"),
                y=[c.fleet_cost_usd_per_item],
                low=None if band is None else [band.low],
                high=None if band is None else [band.high],
            )
        )
    return ChartData(
        id="cost",
        kind="bar",
        y_unit="USD/item",
        log_y=False,  # a linear axis: a 1.4x gap in cost looks 1.4x long
        budget=spec.budget.get("cost_per_item_usd"),
        series=series,
        total_series=len(priced),
    )


# ------------------------------------------------------------------------------------------- sweeps


def sweep_charts(columns: dict) -> list[ChartData]:
    """Latency and cost against resolution, one line per model / hardware / engine, at the sweep's first batch,
    replica size, steps and frames value (the other axes are in the CSV/JSON output)."""
    if not len(columns["model"]):
        return []
    keep = np.ones(len(columns["model"]), dtype=bool)
    held = {}
    models = np.asarray(columns["model"], dtype=str)
    for name in ("batch", "gpus", "frames"):
        a = np.asarray(columns[name], dtype=float)
        vals = np.unique(a[~np.isnan(a)])
        if vals.size > 1:
            keep &= np.isnan(a) | (a == vals[0])
            held[name] = float(vals[0])
    # steps: each model at its own first value (models default to different step counts: SDXL 50, SD3 28)
    steps = np.asarray(columns["steps"], dtype=float)
    per_model = {}
    for m in dict.fromkeys(models.tolist()):
        vals = np.unique(steps[(models == m) & ~np.isnan(steps)])
        if vals.size:
            per_model[m] = float(vals[0])
            if vals.size > 1:
                keep &= (models != m) | (steps == vals[0])
    steps_held = (
        per_model
        if len(set(per_model.values())) > 1
        or any(np.unique(steps[(models == m) & ~np.isnan(steps)]).size > 1 for m in per_model)
        else {}
    )
    key = np.char.add(
        np.char.add(np.asarray(columns["model"], dtype=str), " / "),
        np.char.add(
            np.char.add(np.asarray(columns["hardware"], dtype=str), " / "), np.asarray(columns["engine"], dtype=str)
        ),
    )
    labels, first = np.unique(key[keep], return_index=True)
    labels = labels[np.argsort(first)]
    side = np.maximum(np.asarray(columns["width"], dtype=float), np.asarray(columns["height"], dtype=float))
    lat, cost = [], []
    for lab in labels:
        m = keep & (key == lab)
        order = np.argsort(side[m], kind="stable")
        x = side[m][order]
        lat.append(
            ChartSeries(
                label=str(lab),
                x=x.tolist(),
                y=_points(np.asarray(columns["latency_s"], dtype=float)[m][order], x.shape),
            )
        )
        cost.append(
            ChartSeries(
                label=str(lab),
                x=x.tolist(),
                y=_points(np.asarray(columns["cost_usd_per_item"], dtype=float)[m][order], x.shape),
            )
        )
    return [
        ChartData(
            id="latency",
            scope="sweep",
            kind="line",
            x_unit="px",
            y_unit="s",
            log_y=True,
            fixed=held,
            fixed_steps=steps_held,
            series=lat,
        ),
        ChartData(
            id="cost",
            scope="sweep",
            kind="line",
            x_unit="px",
            y_unit="USD/item",
            log_y=True,
            fixed=dict(held),
            fixed_steps=dict(steps_held),
            series=cost,
        ),
    ]
