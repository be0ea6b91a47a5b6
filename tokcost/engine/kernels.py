"""Latency from a measured kernel table (:class:`~tokcost.records.kernels.KernelTable`): multilinear interpolation
of log latency over log shape, vectorised over any number of shapes (numpy broadcasting).

Between grid points a kernel's latency is taken as a power law of each dimension (linear in log-log), which
reproduces every measured point exactly and keeps the interpolant monotone along an axis wherever the
measurements on the neighbouring grid lines are. Beyond the grid's largest value of an axis the latency grows in
proportion to it (the work of a GEMM, the bytes of a collective, are linear in each dimension); below its smallest
value it stays at the smallest's (a kernel does not get faster than its smallest measured launch). A shape whose
neighbouring grid points include an unmeasured one (NaN) gets NaN: the caller prices it some other way."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from tokcost.engine.physics import attended_context, kv_heads_per_gpu
from tokcost.records.kernels import KernelTable


def latency_s(table: KernelTable, **shape) -> np.ndarray:
    """Seconds of ``table``'s kernel at ``shape`` (one keyword per axis, arrays that broadcast together)."""
    missing = [a for a in table.axes if a not in shape]
    extra = [a for a in shape if a not in table.axes]
    if missing or extra:
        raise ValueError(f"{table.name} takes {', '.join(table.axes)}; got {', '.join(shape) or 'nothing'}")
    points = np.broadcast_arrays(*(np.asarray(shape[a], dtype=float) for a in table.axes))
    log_values = _log_latency(table)
    lows, weights, scale = [], [], np.ones(points[0].shape)
    for axis, x in zip(table.grid, points):
        lo, w, beyond = _bracket(axis, x)
        lows.append(lo)
        weights.append(w)
        scale = scale * beyond
    out = np.zeros(points[0].shape)
    # the 2^d corners of the enclosing cell, less the sides no point weighs (a shape on a grid line, or beyond the
    # grid, has weight 0 or 1 there: a corner of zero weight contributes nothing)
    sides = [(1,) if np.all(w == 1.0) else (0,) if np.all(w == 0.0) else (0, 1) for w in weights]
    for corner in itertools.product(*sides):
        index = tuple(np.minimum(lo + c, n - 1) for lo, c, n in zip(lows, corner, table.latency_s.shape))
        w = np.prod([wt if c else 1.0 - wt for wt, c in zip(weights, corner)], axis=0)
        value = log_values[index]
        # a corner of zero weight contributes nothing, even when it was not measured
        out = out + np.where(w > 0, w * np.where(np.isfinite(value), value, np.nan), 0.0)
    return np.exp(out) * scale


def per_table(cache: dict, key: tuple, table: KernelTable, make: Callable[[], Any]) -> Any:
    """``make()``, computed once per ``key`` (which starts with ``id(table)``) and kept in ``cache`` beside the
    table: holding the table keeps its id from being reused while the entry stands. Tables are immutable and
    interpolated many times (every GEMM shape, every collective size), so what is derived from one is kept."""
    hit = cache.get(key)
    if hit is None or hit[0] is not table:
        hit = cache[key] = (table, make())
    return hit[1]


_LOG_LATENCY: dict[tuple, tuple[KernelTable, np.ndarray]] = {}  # (id(table),) -> (table, ln latency)


def _log_latency(table: KernelTable) -> np.ndarray:
    return per_table(_LOG_LATENCY, (id(table),), table, lambda: np.log(table.latency_s.astype(float)))


def _bracket(axis: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of the grid point at or below x, weight of the one above in log space, factor beyond the grid's
    top) for each x on one axis; x is clamped into the grid, and the factor x / top carries the rest."""
    if np.any(x <= 0):
        raise ValueError("kernel table shapes are positive")
    lx, la = np.log(x), np.log(axis)
    clamped = np.clip(lx, la[0], la[-1])
    if len(axis) == 1:
        return np.zeros(x.shape, dtype=int), np.zeros(x.shape), np.where(lx > la[-1], x / axis[-1], 1.0)
    lo = np.clip(np.searchsorted(la, clamped, side="right") - 1, 0, len(axis) - 2)
    w = (clamped - la[lo]) / (la[lo + 1] - la[lo])
    return lo, w, np.exp(lx - clamped).clip(min=1.0)


def fastest_at_or_above(latency: np.ndarray, axis: int = -1) -> np.ndarray:
    """``latency`` lowered, along ``axis``, to the fastest measured at the same or a larger size: a smaller GEMM or
    message can run zero-padded to a larger one, so it takes at most that long (this also smooths the
    measurements' noise). NaN stays NaN only where nothing above it is measured."""
    return np.flip(np.fmin.accumulate(np.flip(latency, axis), axis=axis), axis)


# (id(table), n, k) -> (table, (ln m grid, ln latency along m)); a model has a few dozen distinct (n, k)
_M_CURVES: dict[tuple, tuple[KernelTable, tuple[np.ndarray, np.ndarray]]] = {}


def _m_curve(table: KernelTable, n: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """ln m and ln latency of ``table``'s GEMM along its m grid at fixed ``n``, ``k`` (interpolated over n and k
    once), each point lowered to the fastest at the same or a larger m (:func:`fastest_at_or_above`)."""

    def curve() -> tuple[np.ndarray, np.ndarray]:
        m = table.grid[table.axes.index("m")]
        lat = fastest_at_or_above(latency_s(table, **{"m": m, "n": np.full(m.shape, n), "k": np.full(m.shape, k)}))
        return np.log(m), np.log(lat)

    return per_table(_M_CURVES, (id(table), float(n), float(k)), table, curve)


def gemm_latency_s(table: KernelTable, m, n: float, k: float) -> np.ndarray:
    """Seconds of an ``m`` x ``k`` by ``k`` x ``n`` GEMM in a (m, n, k) table, vectorised over ``m`` (n and k are
    one layer's); :func:`latency_s`'s rules (log-log between grid points, proportional beyond the largest m, the
    smallest m's time below it), NaN where the table has no measurement."""
    m = np.asarray(m, dtype=float)
    return _from_log_m(table, np.log(m), m, n, k)


def _from_log_m(table: KernelTable, log_m: np.ndarray, m: np.ndarray, n: float, k: float) -> np.ndarray:
    grid, log_lat = _m_curve(table, n, k)
    if np.isnan(log_lat).any():
        return np.full(np.shape(m), np.nan)
    beyond = np.maximum(m * np.exp(-grid[-1]), 1.0)
    return np.exp(np.interp(log_m, grid, log_lat)) * beyond


# Whose GEMMs a measured table prices (docs/methodology.md, "What the tables price"): diffusion denoisers, masked
# decoding's token transformer (which runs the same step) and MAR's encoder, decoder and diffusion head, under every
# engine that serves them (PyTorch eager and compiled today), whose linear layers call cuBLAS through
# torch.nn.functional.linear (the kernel the tables measured in vLLM's harness) and whose convolutions run cuDNN's
# implicit GEMMs of the same shapes; their GEMMs are large (m = thousands of positions). AR models keep
# the roofline: their small-m GEMMs measured alone are slower than the same kernels replayed in a CUDA graph
# (issue 27's first attempt, branch optables27, made held-out AR error worse: 7.5% -> 12.3%).
# --precision -> the GEMM table that prices it. fp8 and int8 (W8A8) take the roofline of their peak on a chip with
# their units, as diffusion stacks run them (torchao's compiled fp8 FLUX.1-dev on an H100 is 1.30x faster than bf16
# end to end; the tables' fp8 linears, vLLM's CUTLASS scaled-mm with its activation quantisation, give 1.09x:
# docs/methodology.md, "fp8 at its roofline"); a format a chip computes in 16 bits (fp8 without fp8 units, the
# weight-only formats) takes the 16-bit table.
GEMM_TABLES = {"bf16": "gemm.bfloat16", "fp16": "gemm.bfloat16"}


class TableGemms:
    """GEMM seconds from the measured tables of the chips being priced: ``parts`` pairs each chip's GEMM table
    with the rows it prices (a boolean column when chips are stacked, True for one chip). Called as
    ``gemms(m, n, k)``: seconds, NaN on the rows no table prices (the caller keeps the roofline there)."""

    def __init__(self, parts: list[tuple[Any, KernelTable]]):
        self.parts = parts

    def __call__(self, m, n: int, k: int) -> np.ndarray:
        return self.sum_s([(m, [(n, k, 1)])])

    def sum_s(self, groups: list[tuple[Any, list[tuple[int, int, int]]]]) -> np.ndarray:
        """Seconds of every GEMM in ``groups``: (m, [(n, k, count), ...]), the layers that share one m; each chip's
        rows are taken out and each m's logarithm computed once (a sweep prices dozens of layers on its rows)."""
        ms = [np.asarray(m, dtype=float) for m, _ in groups]
        full = np.broadcast_shapes(*(m.shape for m in ms), *(np.shape(mask) for mask, _ in self.parts))
        one = len(self.parts) == 1 and self.parts[0][0] is True
        out = np.zeros(full) if one else np.full(full, np.nan)
        for mask, table in self.parts:
            rows = None if one else np.broadcast_to(mask, full)
            total: Any = 0.0
            for m, (_, layers) in zip(ms, groups):
                m_rows = np.broadcast_to(m, full) if one else np.broadcast_to(m, full)[rows]
                log_m = np.log(m_rows)
                for n, k, count in layers:
                    total = total + count * _from_log_m(table, log_m, m_rows, n, k)
            if one:
                out = out + total
            else:
                out[rows] = total
        return out


def engine_table(kernels, hardware_id: str, name: str, kernel_sources) -> KernelTable | None:
    """The chip's table ``name`` (attention.context, attention.generation) where ``kernels`` (hardware id ->
    :class:`~tokcost.records.kernels.ChipKernels` or None) has it and it timed one of ``kernel_sources`` (an
    engine's ``attention_kernels``), else None."""
    chip = kernels(hardware_id) if kernels is not None and kernel_sources else None
    table = chip.tables.get(name) if chip is not None else None
    return table if table is not None and table.provenance.get("kernel_source") in kernel_sources else None


def decode_table(kernels, hardware_id: str, kernel_sources, kv_bytes: float) -> KernelTable | None:
    """The generation-attention table a decode's KV-cache reads are priced from on the chip (:func:`engine_table`),
    or None: none timed one of ``kernel_sources``, or the cache is not 16-bit (``kv_bytes``), which the tables
    time."""
    if kv_bytes != 2.0:
        return None
    return engine_table(kernels, hardware_id, "attention.generation", kernel_sources)


def within_grid(table: KernelTable, **values) -> np.ndarray:
    """Whether each shape's ``values`` (one keyword per axis) lie within the range its axes measured."""
    inside = np.asarray(True)
    for name, value in values.items():
        axis = table.grid[table.axes.index(name)]
        value = np.asarray(value, dtype=float)
        inside = inside & (value >= axis[0]) & (value <= axis[-1])
    return inside


def decode_kv_rate(kernels, chips, kernel_sources, arch, n_seq, context, gpus, kv_bytes, cap) -> np.ndarray:
    """Bytes per second at which a decode step of ``n_seq`` sequences at ``context`` tokens reads its KV cache on
    each of ``chips`` ((rows, hardware preset), as :class:`~tokcost.engine.families.Work` has them), ``gpus``-way
    tensor parallel: from the chip's measured generation-attention table where ``kernels`` (hardware id ->
    :class:`~tokcost.records.kernels.ChipKernels` or None) has one that timed a kernel of ``kernel_sources`` (the
    engine's ``attention_kernels``) on a 16-bit cache (:func:`decode_attention_rate`), else ``cap``, the stream
    rate."""
    rate = np.asarray(cap, dtype=float)
    G = np.asarray(gpus, dtype=float)
    kv_heads = kv_heads_per_gpu(arch, G)
    for mask, hw in chips:
        table = decode_table(kernels, hw.id, kernel_sources, kv_bytes)
        if table is None:
            continue
        measured = decode_attention_rate(table, n_seq, context, arch.heads / G, kv_heads, arch.head_dim, kv_bytes, cap)
        rate = np.where(mask, measured, rate)
    return rate


def ar_attention(kernels, chips, kernel_sources, arch, n_seq, prompt, generated, gpus, kv_bytes, stream_rate):
    """How an AR forward's attention is priced on each of ``chips`` (as :func:`decode_kv_rate`): (the rate its
    decode reads the KV cache at, :func:`decode_kv_rate` at the decode's mean context, the prompt plus half the
    ``generated`` tokens, as its layers attend over it (:func:`~tokcost.engine.physics.attended_context`: a
    sliding window caps it); one GPU's seconds of the prefill's attention, :func:`prefill_attention_s`, NaN where
    the roofline prices it). ``stream_rate``: the KV cache's read rate without a measured kernel."""
    context = attended_context(arch, prompt + generated / 2.0)
    kv_rate = decode_kv_rate(kernels, chips, kernel_sources, arch, n_seq, context, gpus, kv_bytes, stream_rate)
    return kv_rate, prefill_attention_s(kernels, chips, kernel_sources, arch, n_seq, prompt, gpus)


def decode_attention_rate(table: KernelTable, batch, context, heads, kv_heads, head_dim, kv_bytes, cap) -> np.ndarray:
    """Bytes per second at which one layer's decode attention reads its KV cache, from a measured
    generation-attention ``table`` (axes batch, step, heads, kv_heads, head_dim; one GPU): the K and V bytes of
    ``batch`` sequences at ``context`` tokens over the kernel's time beyond its launch floor (the table at one
    sequence and one token, which the kernel-gap term ``gpu_per_layer_s`` already charges), never above ``cap``
    (the stream rate: no decode faster than its roofline). ``cap`` where the table does not cover the shape (a KV
    head count or head dim off its grid, an unmeasured cell)."""
    shape = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (batch, context, heads, kv_heads, head_dim)))
    batch, context, heads, kv_heads, head_dim = shape
    one = np.ones_like(batch)
    # the shape and its floor in one lookup (the interpolation's cost is mostly per call)
    both = latency_s(
        table,
        batch=np.stack([batch, one]),
        step=np.stack([context, one]),
        heads=np.stack([heads, heads]),
        kv_heads=np.stack([kv_heads, kv_heads]),
        head_dim=np.stack([head_dim, head_dim]),
    )
    on_grid = within_grid(table, kv_heads=kv_heads, head_dim=head_dim)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = 2.0 * batch * context * kv_heads * head_dim * kv_bytes / (both[0] - both[1])
    return np.where(on_grid & np.isfinite(rate) & (rate > 0), np.minimum(rate, cap), cap)


def prefill_attention_s(kernels, chips, kernel_sources, arch, n_seq, prompt, gpus) -> np.ndarray:
    """Seconds of a prefill's attention on one GPU, every layer, for ``n_seq`` sequences of ``prompt`` tokens,
    ``gpus``-way tensor parallel, on each of ``chips`` (as :func:`decode_kv_rate`): from the chip's measured
    context-attention table where it timed a kernel of ``kernel_sources`` (:func:`context_attention_s`); NaN
    elsewhere, for the caller to price on the roofline."""
    G = np.asarray(gpus, dtype=float)
    shape = np.broadcast(np.asarray(n_seq, dtype=float), np.asarray(prompt, dtype=float), G).shape
    seconds = np.full(shape, np.nan)
    for mask, hw in chips:
        table = engine_table(kernels, hw.id, "attention.context", kernel_sources)
        if table is None:
            continue
        layer = context_attention_s(table, n_seq, np.maximum(prompt, 1.0), arch.heads / G, arch.head_dim)
        seconds = np.where(mask, arch.layers * layer, seconds)
    return seconds


def context_attention_s(table: KernelTable, batch, isl, heads, head_dim) -> np.ndarray:
    """Seconds of one layer's causal prefill attention over ``batch`` sequences of ``isl`` tokens, from a measured
    context-attention ``table`` (axes batch, isl, heads, head_dim; one GPU), beyond the kernel's launch floor (its
    time at one sequence of one token, which the kernel-gap term ``gpu_per_layer_s`` already charges). Beyond the
    table's longest sequence the time grows with its square, as causal attention's work does (the interpolation
    alone would grow it linearly). NaN off the table's head dims or where it is unmeasured."""
    batch, isl, heads, head_dim = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (batch, isl, heads, head_dim))
    )
    one = np.ones_like(batch)
    both = latency_s(  # the shape and its floor in one lookup
        table,
        batch=np.stack([batch, one]),
        isl=np.stack([isl, one]),
        heads=np.stack([heads, heads]),
        head_dim=np.stack([head_dim, head_dim]),
    )
    longest = table.grid[table.axes.index("isl")][-1]
    seconds = both[0] * np.maximum(isl / longest, 1.0) - both[1]
    return np.where(within_grid(table, head_dim=head_dim), np.maximum(seconds, 0.0), np.nan)
