"""Sweeps: price every combination of models x hardware x engines x resolutions x frames x batches x steps.

Pure and vectorised: for each (model, hardware, engine) group the numeric axes become one numpy meshgrid and
:func:`~tokcost.engine.estimate.estimate_arrays` prices the whole group in one call. The result is a dict of
equal-length column arrays (one row per configuration) plus the combinations that were skipped because a model
cannot serve them (:class:`~tokcost.records.sweep.SweepSkip`, worded by :mod:`tokcost.render.sweep`). Formatting lives in :mod:`tokcost.render.sweep`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from tokcost.engine.estimate import Config, engine_cfg_mode, estimate_arrays, replica_problem
from tokcost.errors import UsageError
from tokcost.io.engines import load_engines, offered
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.records.presets import HardwarePreset, ModelPreset
from tokcost.records.sweep import COLUMNS, SweepPrices, SweepResult, SweepSkip

MAX_CONFIGS = 20_000_000  # a guard against a typo: at ~300,000 rows a second this is about a minute of pricing
# Rows priced and written at a time when a sweep streams (CSV, JSON Lines): ~16 columns x 8 bytes x 250,000 is
# 32 MB of arrays, so memory stays flat whatever the sweep's size.
CHUNK_ROWS = 250_000
# The formats that hold every row at once (table, JSON, HTML) stop here: ~1 KB a row in memory while formatting.
MAX_IN_MEMORY_ROWS = 2_000_000


@dataclass(frozen=True)
class SweepRequest:
    models: list  # ModelPreset
    hardware: list  # HardwarePreset
    resolutions: list[tuple[int, int]]  # (width, height) in pixels
    frames: list[int] | None = None  # None: images (video-only models use their native clip length)
    batches: list[int] = field(default_factory=lambda: [1])
    steps: list[int] | None = None  # diffusion steps; None: each model's own default
    engines: list[str] | None = None  # None: every engine that serves the model's family
    precision: str = "bf16"
    gpus: list[int] = field(default_factory=lambda: [1])  # replica sizes (GPUs splitting each forward)
    calibration: object = None
    # USD per GPU-hour by hardware id (tokcost.core.pricing.PriceBook.usd_per_gpu_hour); absent: cost is NaN
    prices: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    model: ModelPreset
    hardware: HardwarePreset
    engine: str
    role: str
    sizes: np.ndarray  # (k, 2) resolutions this model serves
    frames: np.ndarray  # frames axis (NaN: an image)
    steps: np.ndarray  # steps axis (NaN: not a diffusion model)
    gpus: np.ndarray  # replica sizes this model and chip take

    @property
    def n(self) -> int:
        return len(self.sizes) * len(self.frames) * len(self.gpus) * len(self.steps)


# ------------------------------------------------------------------------------------------- planning


def _role(model, frames) -> str | None:
    if frames is not None:
        return "video" if "video" in model.roles else None
    if "image" in model.roles:
        return "image"
    return "video" if "video" in model.roles else None


def plan_groups(req: SweepRequest) -> tuple[list[Group], list[SweepSkip]]:
    """The (model, hardware, engine) groups to price, and what was skipped, and why."""
    profiles = load_engines()
    unknown = [e for e in req.engines or [] if e not in profiles]
    if unknown:
        raise UsageError(f"unknown engine {unknown[0]!r}; choose from {', '.join(profiles)}")
    groups: list[Group] = []
    notes: list[SweepSkip] = []
    sizes_all = np.asarray(req.resolutions, dtype=float).reshape(-1, 2)
    for m in req.models:
        role = _role(m, req.frames)
        if role is None:
            notes.append(SweepSkip("role", m.id, serves=tuple(m.roles), video_asked=req.frames is not None))
            continue
        lo, hi = m.side_limits()
        ok = (sizes_all >= lo).all(axis=1) & (sizes_all <= hi).all(axis=1)
        if not ok.all():
            bad = tuple(f"{int(w)}x{int(h)}" for w, h in sizes_all[~ok])
            notes.append(SweepSkip("sizes", m.id, values=bad, low=lo, high=hi))
        if not ok.any():
            continue
        frames = _frames_axis(m, role, req.frames, notes)
        if frames is None:
            continue
        steps = (
            np.asarray(req.steps or [m.diffusion.steps], dtype=float) if m.family == "diffusion" else np.array([np.nan])
        )
        names = req.engines or offered(profiles, m.family)
        for e in names:
            if m.family not in profiles[e].serves:
                notes.append(SweepSkip("engine", m.id, engine=e, serves=tuple(profiles[e].serves)))
                continue
            # the replica sizes under this engine's guidance mode (a batched-CFG UNet splits 2 GPUs by cfg)
            replicas = {hw.id: _gpus_axis(m, hw, req.gpus, notes, engine_cfg_mode(m, e)) for hw in req.hardware}
            for hw in req.hardware:
                if replicas[hw.id].size:
                    groups.append(Group(m, hw, e, role, sizes_all[ok], frames, steps, replicas[hw.id]))
    total = sum(g.n for g in groups) * len(req.batches)
    if total > MAX_CONFIGS:
        raise UsageError(f"the sweep has {total:,} configurations; the limit is {MAX_CONFIGS:,}")
    return groups, notes


def _gpus_axis(m, hw, gpus: list[int], notes: list[SweepSkip], cfg_mode: str) -> np.ndarray:
    """The replica sizes ``m`` can take on ``hw`` (:func:`~tokcost.engine.estimate.replica_problem`), with a note
    for each size skipped."""
    keep = []
    for G in gpus:
        problem = replica_problem(m, hw, G, cfg_mode=cfg_mode)
        if not problem:
            keep.append(G)
        else:
            note = SweepSkip("gpus", m.id, values=(str(G),), hardware=hw.id, problem=problem)
            if note not in notes:  # once, not per engine
                notes.append(note)
    return np.asarray(keep, dtype=float)


def _frames_axis(m, role: str, frames: list[int] | None, notes: list[SweepSkip]):
    if role == "image":
        return np.array([np.nan])
    if frames is None:
        return np.array([float(m.native.frames if m.family == "diffusion" else 1)])
    arr = np.asarray(frames, dtype=float)
    limit = m.native.max_frames if m.family == "diffusion" else None
    if limit:
        if (arr > limit).any():
            notes.append(SweepSkip("frames", m.id, values=tuple(str(int(f)) for f in arr[arr > limit]), limit=limit))
        arr = arr[arr <= limit]
    if not arr.size:
        return None
    return arr


# ------------------------------------------------------------------------------------------- pricing


def price_group(
    g: Group, batches: np.ndarray, precision: str, calibration=None, prices=None, rows: slice | None = None
) -> dict:
    """One vectorised estimate over the group's grid (sizes x frames x batches x gpus x steps, steps fastest), as
    flat columns; ``rows`` prices only that slice of the flattened grid (a chunk)."""
    shape = (len(g.sizes), len(g.frames), len(batches), len(g.gpus), len(g.steps))
    n_all = int(np.prod(shape))
    flat = np.arange(n_all)[rows] if rows is not None else np.arange(n_all)
    si, fi, bi, gi, sti = np.unravel_index(flat, shape)
    fr, ba, gp, st = g.frames[fi], batches[bi], g.gpus[gi], g.steps[sti]
    width, height = g.sizes[si, 0], g.sizes[si, 1]
    cfg = Config(
        model=g.model,
        hardware=g.hardware,
        profiles=load_engines(),
        engine=g.engine,
        precision=precision,
        width=width,
        height=height,
        frames=None if g.role == "image" else fr,
        batch=ba,
        steps=st if g.model.family == "diffusion" else None,
        role=g.role,
        gpus=gp,
        calibration=calibration,
        prices=prices or {},
        kernels=hardware_kernels,
    )
    out = estimate_arrays(cfg, "central")
    n = si.size
    labels = np.array([f"{int(w)}x{int(h)}" for w, h in g.sizes], dtype=object)
    return {
        "resolution": labels[si],  # "WxH", formatted once per size and gathered (no per-row formatting)
        "width": width,
        "height": height,
        "padded_width": np.broadcast_to(out["tokens"]["padded_width"], (n,)),
        "padded_height": np.broadcast_to(out["tokens"]["padded_height"], (n,)),
        "frames": fr,
        "batch": ba,
        "gpus": gp,
        "parallelism": _label_runs(np.broadcast_to(out["parallelism"], (n,))),
        "steps": st,
        "latency_s": np.broadcast_to(out["latency_s"], (n,)),
        "throughput_items_per_s": np.broadcast_to(out["throughput_items_per_s"], (n,)),
        "cost_usd_per_item": np.broadcast_to(out["cost_usd_per_item"], (n,)),
        "memory_gb": np.broadcast_to(out["memory_bytes"]["total"], (n,)) / 1e9,
        "fits_in_memory": np.broadcast_to(out["fits_in_memory"], (n,)),
    }


def _label_runs(a: np.ndarray) -> np.ndarray:
    """A label column as Python strings, one string object per run of equal labels (a replica size's labels come
    in long runs): not a new object per row, as ``astype(object)`` would make."""
    if a.dtype == object or not len(a):
        return np.asarray(a, dtype=object)
    starts = np.flatnonzero(np.concatenate([[True], a[1:] != a[:-1]]))
    return np.repeat(a[starts].astype(object), np.diff(np.append(starts, len(a))))


@dataclass
class SweepStream:
    """A planned sweep whose rows are priced as they are read: :meth:`chunks` yields column dicts of at most
    ``chunk_rows`` rows each, in the order :func:`run_sweep` returns them."""

    req: SweepRequest
    groups: list[Group]
    skipped: list[SweepSkip]
    chunk_rows: int = CHUNK_ROWS
    prices: SweepPrices | None = None  # the prices used (tokcost.api adds them)

    @property
    def rows(self) -> int:
        return sum(g.n for g in self.groups) * len(self.req.batches)

    def chunks(self, on_group=None) -> Iterator[dict[str, np.ndarray]]:
        batches = np.asarray(self.req.batches, dtype=float)
        r = self.req
        for g in self.groups:
            n = g.n * len(batches)
            for start in range(0, n, self.chunk_rows):
                part = price_group(
                    g, batches, r.precision, r.calibration, r.prices, slice(start, min(n, start + self.chunk_rows))
                )
                yield _assemble([g], [part])
                if on_group is not None:
                    on_group(len(part["width"]))


def plan_sweep(req: SweepRequest, chunk_rows: int = CHUNK_ROWS) -> SweepStream:
    """The sweep planned (groups, skips, row count) and nothing priced yet."""
    groups, skipped = plan_groups(req)
    return SweepStream(req, groups, skipped, chunk_rows)


def run_sweep(req: SweepRequest, on_group=None, on_start=None) -> SweepResult:
    """Price every combination, every row in memory (up to MAX_IN_MEMORY_ROWS; larger sweeps stream: CSV and JSON
    Lines). For progress: ``on_start(total_rows)`` is called once the sweep is planned, ``on_group(rows_done)``
    after each chunk."""
    stream = plan_sweep(req)
    if stream.rows > MAX_IN_MEMORY_ROWS:
        raise UsageError(
            f"the sweep has {stream.rows:,} rows; the table, JSON and HTML formats hold at most "
            f"{MAX_IN_MEMORY_ROWS:,}: use --format csv or jsonl, which stream any size up to {MAX_CONFIGS:,}"
        )
    if on_start is not None:
        on_start(stream.rows)
    parts = list(stream.chunks(on_group))
    if not parts:
        return SweepResult(_assemble([], []), stream.skipped, stream.prices)
    return SweepResult({c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}, stream.skipped, stream.prices)


def with_charts(result: SweepResult) -> SweepResult:
    """The result with the HTML page's chart data (:func:`tokcost.core.charts.sweep_charts`: the lines picked from
    its own columns), for the renderer to draw. Only the HTML format needs it: the others skip the work."""
    import dataclasses

    from tokcost.core.charts import sweep_charts

    return dataclasses.replace(result, charts=sweep_charts(result.columns))


def _assemble(groups: list[Group], parts: list[dict]) -> dict[str, np.ndarray]:
    if not parts:
        return {
            c: np.array(
                [], dtype=object if c in ("model", "hardware", "engine", "resolution", "parallelism") else float
            )
            for c in COLUMNS
        }
    sizes = np.array([len(p["width"]) for p in parts])
    gi = np.repeat(np.arange(len(groups)), sizes)
    cols = {}
    for key, attr in (
        ("model", lambda g: g.model.id),
        ("hardware", lambda g: g.hardware.id),
        ("engine", lambda g: g.engine),
    ):
        cols[key] = np.array([attr(g) for g in groups], dtype=object)[gi]

    def cat(k: str, dtype=None) -> np.ndarray:  # one copy, cast on the way
        return np.concatenate([p[k] for p in parts], dtype=dtype, casting="unsafe")

    cols["resolution"] = cat("resolution")
    for k in ("width", "height", "padded_width", "padded_height", "gpus"):
        cols[k] = cat(k, np.int64)
    cols["parallelism"] = cat("parallelism", object)
    for k in ("frames", "batch", "steps", "latency_s", "throughput_items_per_s", "cost_usd_per_item", "memory_gb"):
        cols[k] = cat(k, float)
    cols["fits_in_memory"] = cat("fits_in_memory", bool)
    return {c: cols[c] for c in COLUMNS}
