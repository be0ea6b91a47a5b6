"""Latency from a measured kernel table (:class:`~tokcost.records.kernels.KernelTable`): multilinear interpolation
of log latency over log shape, vectorised over any number of shapes (numpy broadcasting).

Between grid points a kernel's latency is taken as a power law of each dimension (linear in log-log), which
reproduces every measured point exactly and keeps the interpolant monotone along an axis wherever the
measurements on the neighbouring grid lines are. Beyond the grid's largest value of an axis the latency grows in
proportion to it (the work of a GEMM, the bytes of a collective, are linear in each dimension); below its smallest
value it stays at the smallest's (a kernel does not get faster than its smallest measured launch). A shape whose
neighbouring grid points include an unmeasured one (NaN) gets NaN: the caller prices it some other way."""

from __future__ import annotations

import numpy as np

from tokcost.records.kernels import KernelTable


def latency_s(table: KernelTable, **shape) -> np.ndarray:
    """Seconds of ``table``'s kernel at ``shape`` (one keyword per axis, arrays that broadcast together)."""
    missing = [a for a in table.axes if a not in shape]
    extra = [a for a in shape if a not in table.axes]
    if missing or extra:
        raise ValueError(f"{table.name} takes {', '.join(table.axes)}; got {', '.join(shape) or 'nothing'}")
    points = np.broadcast_arrays(*(np.asarray(shape[a], dtype=float) for a in table.axes))
    log_values = np.log(table.latency_s.astype(float))
    lows, weights, scale = [], [], np.ones(points[0].shape)
    for axis, x in zip(table.grid, points):
        lo, w, beyond = _bracket(axis, x)
        lows.append(lo)
        weights.append(w)
        scale = scale * beyond
    out = np.zeros(points[0].shape)
    for corner in np.ndindex(*(2,) * len(table.axes)):  # 2^d corners of the enclosing cell
        index = tuple(np.minimum(lo + c, n - 1) for lo, c, n in zip(lows, corner, table.latency_s.shape))
        w = np.prod([wt if c else 1.0 - wt for wt, c in zip(weights, corner)], axis=0)
        value = log_values[index]
        # a corner of zero weight contributes nothing, even when it was not measured
        out = out + np.where(w > 0, w * np.where(np.isfinite(value), value, np.nan), 0.0)
    return np.exp(out) * scale


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
