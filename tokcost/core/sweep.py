"""Sweeps: price every combination of models x hardware x engines x resolutions x frames x batches x steps.

Pure and vectorised: for each (model, hardware, engine) group the numeric axes (sizes, frames, batches, replica
sizes, steps) are broadcast against each other and :func:`~tokcost.engine.estimate.estimate_arrays` prices a block
of that grid in one call (a chunk of at most CHUNK_ROWS rows). The result is a
:class:`~tokcost.records.sweep.SweepResult`: equal-length column arrays (one row per configuration) plus the
combinations that were skipped because a model cannot serve them (:class:`~tokcost.records.sweep.SweepSkip`), all
worded and formatted by :mod:`tokcost.render.sweep`.
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

MAX_CONFIGS = 20_000_000  # a guard against a typo: at ~1,000,000 rows a second this is 20 s of text
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
    vae_precision: str | None = None  # the VAE's type (None: the pipeline's; models without a VAE ignore it)
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
        default_steps = m.generation.default_steps(m)
        steps = np.asarray(req.steps or [default_steps], dtype=float) if m.generation.steps else np.array([np.nan])
        names = req.engines or offered(profiles, m.family)
        for e in names:
            if not profiles[e].runs(m.family):
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
        return np.array([float(m.generation.native_frames(m))])
    arr = np.asarray(frames, dtype=float)
    limit = m.generation.max_frames(m)
    if limit:
        if (arr > limit).any():
            notes.append(SweepSkip("frames", m.id, values=tuple(str(int(f)) for f in arr[arr > limit]), limit=limit))
        arr = arr[arr <= limit]
    if not arr.size:
        return None
    return arr


# ------------------------------------------------------------------------------------------- pricing


def price_group(
    g: Group,
    batches: np.ndarray,
    precision: str,
    calibration=None,
    prices=None,
    rows: slice | None = None,
    vae_precision: str | None = None,
) -> dict:
    """One vectorised estimate over the group's grid (sizes x frames x batches x gpus x steps, steps fastest), as
    flat columns; ``rows`` prices only that slice of the flattened grid (a chunk).

    The estimate runs on the grid's axes, broadcast against each other (sizes along the first axis, steps along
    the last...), not on one value per row: what does not depend on the steps (tokens, the time of one step,
    memory) is worked out once per size, batch and replica size, and only the few results that do are as large as
    the rows. Each row's numbers are the same as a row-by-row estimate's (the same operations on the same values).
    """
    axes = [g.sizes, g.frames, batches, g.gpus, g.steps]
    shape = tuple(len(a) for a in axes)
    n_all = int(np.prod(shape))
    start, stop, _ = (rows or slice(None)).indices(n_all)
    stop = max(start, stop)
    box = _box(shape, start, stop)  # the smallest block of the grid, an index range per axis, that holds the rows
    picked = [a[b] for a, b in zip(axes, box)]
    box_shape = tuple(len(p) for p in picked)
    first = int(np.ravel_multi_index([b.start for b in box], shape)) if stop > start else start
    part = slice(start - first, stop - first)  # the rows within the box, flattened

    def along(values: np.ndarray, axis: int) -> np.ndarray:  # an axis's values, shaped to broadcast along the grid
        return values.reshape([-1 if k == axis else 1 for k in range(len(shape))])

    sizes, fr, ba, gp, st = picked
    width, height = along(sizes[:, 0], 0), along(sizes[:, 1], 0)
    cfg = Config(
        model=g.model,
        hardware=g.hardware,
        profiles=load_engines(),
        engine=g.engine,
        precision=precision,
        vae_precision=vae_precision,
        width=width,
        height=height,
        frames=None if g.role == "image" else along(fr, 1),
        batch=along(ba, 2),
        steps=along(st, 4) if g.model.generation.steps else None,
        role=g.role,
        gpus=along(gp, 3),
        calibration=calibration,
        prices=prices or {},
        kernels=hardware_kernels,
    )
    out = estimate_arrays(cfg, "central")

    def flat(values, dtype=float) -> np.ndarray:  # the rows' values, one per row: the broadcast written out once
        full = np.empty(box_shape, dtype=dtype)
        full[...] = values
        return full.reshape(-1)[part]

    labels = np.array([f"{int(w)}x{int(h)}" for w, h in sizes], dtype=object)  # "WxH", formatted once per size
    return {
        "resolution": flat(along(labels, 0), object),
        "width": flat(width, np.int64),
        "height": flat(height, np.int64),
        "padded_width": flat(out.padded_width, np.int64),
        "padded_height": flat(out.padded_height, np.int64),
        "frames": flat(along(fr, 1)),
        "batch": flat(along(ba, 2)),
        "gpus": flat(along(gp, 3), np.int64),
        "parallelism": flat(np.asarray(out.parallelism, dtype=object), object),  # a label object per replica size
        "steps": flat(along(st, 4)),
        "latency_s": flat(out.latency_s),
        "throughput_items_per_s": flat(out.throughput_items_per_s),
        "cost_usd_per_item": flat(out.cost_usd_per_item),
        "memory_gb": flat(out.memory.total / 1e9),
        "fits_in_memory": flat(out.fits_in_memory, bool),
    }


def _box(shape: tuple[int, ...], start: int, stop: int) -> list[slice]:
    """Per axis, the index range of the smallest block of the grid that holds rows start..stop-1 (row-major): the
    axes before the first one on which the two rows differ are fixed, the axes after it whole. The block's rows are
    consecutive rows of the grid."""
    if stop <= start:
        return [slice(0, 0) for _ in shape]
    low, high = np.array(np.unravel_index([start, stop - 1], shape)).T.tolist()
    d = next((k for k, (a, b) in enumerate(zip(low, high)) if a != b), len(shape))
    return [
        slice(low[k], low[k] + 1) if k < d else slice(low[k], high[k] + 1) if k == d else slice(0, shape[k])
        for k in range(len(shape))
    ]


def chunk_slices(shape: tuple[int, ...], limit: int) -> Iterator[slice]:
    """The flattened grid of ``shape`` in consecutive slices of at most ``limit`` rows, each a whole block of the
    grid (a range along one axis, every index of the axes after it): :func:`price_group` then prices exactly its
    rows."""
    n = int(np.prod(shape))
    inner, k = 1, len(shape)
    while k > 0 and inner * shape[k - 1] <= limit:  # the trailing axes that fit in a chunk whole
        inner *= shape[k - 1]
        k -= 1
    if k == 0:
        if n:
            yield slice(0, n)
        return
    step = max(1, limit // inner) * inner
    span = shape[k - 1] * inner  # rows per index of the axes before axis k - 1
    for outer in range(0, n, span):
        for s in range(0, span, step):
            yield slice(outer + s, outer + min(span, s + step))


@dataclass
class SweepStream:
    """A planned sweep whose rows are priced as they are read: :meth:`chunks` yields column dicts of at most
    ``chunk_rows`` rows each (a block of one group's grid: sometimes fewer), in the order :func:`run_sweep` returns
    them. A chunk's model, hardware and engine columns are one label broadcast to every row (read-only)."""

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
            shape = (len(g.sizes), len(g.frames), len(batches), len(g.gpus), len(g.steps))
            for rows in chunk_slices(shape, self.chunk_rows):
                part = price_group(g, batches, r.precision, r.calibration, r.prices, rows, r.vae_precision)
                n = len(part["width"])
                labels = {"model": g.model.id, "hardware": g.hardware.id, "engine": g.engine}
                # the group's labels, the same on every row: one object, broadcast (read-only), not n references
                yield {c: _same(labels[c], n) if c in labels else part[c] for c in COLUMNS}
                if on_group is not None:
                    on_group(n)


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
        return SweepResult(_empty_columns(), stream.skipped, stream.prices)
    return SweepResult({c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}, stream.skipped, stream.prices)


def with_charts(result: SweepResult) -> SweepResult:
    """The result with the HTML page's chart data (:func:`tokcost.core.charts.sweep_charts`: the lines picked from
    its own columns), for the renderer to draw. Only the HTML format needs it: the others skip the work."""
    import dataclasses

    from tokcost.core.charts import sweep_charts

    return dataclasses.replace(result, charts=sweep_charts(result.columns))


def _same(label: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.array(label, dtype=object), (n,))


def _empty_columns() -> dict[str, np.ndarray]:
    text = ("model", "hardware", "engine", "resolution", "parallelism")
    return {c: np.array([], dtype=object if c in text else float) for c in COLUMNS}
