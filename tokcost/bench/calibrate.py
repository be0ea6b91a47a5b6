"""Fit the cost model's efficiencies to benchmark points, and score the fit on points it did not see.

What is fitted: ``mfu`` and ``mbu`` (effective fractions of the reference peak FLOP/s ``P`` and bandwidth ``BW``),
``host_per_layer_s`` and ``fixed_per_step_s`` -- the four numbers of
:class:`tokcost.engine.profiles.Efficiency`. Predictions come from the engine's own formulas
(:func:`tokcost.engine.physics.ar_decode_time` and :func:`~tokcost.engine.physics.ar_prefill_time`), so the fitted
numbers mean in ``tokcost estimate`` exactly what they meant here.

Targets (seconds), three per (batch, context) cell and CFG mode:

- ``run``: a measured decode step of the decoder as built (``--layers N``): layers + head + sampling;
- ``full``: the same step extrapolated to the model's full depth, ``L_full x (layers_s / N) + head_s + sample_s``
  (only when N < L_full); the two depths are what separate the per-layer host cost from the fixed per-step cost;
- ``prefill``: the layer stack over the prompt (no head, no sampling: ``fixed = 0`` there), which is compute-bound
  and so pins ``mfu`` that memory-bound decode steps leave free. Its element-wise kernels are priced as
  ``tokcost estimate`` prices an eager prefill's (:func:`~tokcost.engine.physics.decoder_elementwise_s`, with the
  counted Llama layer's passes that the caller passes in), so ``mfu`` is the GEMMs' and attention's alone.

Method (least squares on relative error, no scipy): minimise ``sum_i ((pred_i - y_i) / y_i)^2`` over the fit
split. For given (mfu, mbu, host) the prediction is ``A_i + c_i f`` with ``c_i`` = passes per step (0 for a
prefill), so the optimal ``f = fixed_per_step_s`` has the closed form ``sum c_i (y_i - A_i) / y_i^2 / sum
c_i^2 / y_i^2`` (clipped to >= 0). (mfu, mbu, host) are searched on a log grid (30 x 30 x 16, every candidate
priced in one vectorised call of the physics functions), then refined three times on finer grids around the best.
Where the data do not constrain a factor (e.g. no compute-bound point), the smallest value reaching the minimum is
kept: a conservative bound, never an extrapolation.

The split is deterministic: cell (i_batch, i_context) is a fit cell when ``(i_batch + i_context)`` is even, else a
held-out cell (a checkerboard, so neither batch nor context is extrapolated from one side). ``holdout_error`` is the
mean absolute relative error of the fitted model over every target of the held-out cells.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tokcost.engine import physics
from tokcost.engine.profiles import Efficiency
from tokcost.records.presets import DecoderPasses

FIXED_MAX_S = 10.0


@dataclass(frozen=True)
class Arch:
    """The shape fields the physics functions read (a duck-typed :class:`tokcost.records.presets.Architecture`)."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    matmul_params_b: float
    hidden: int = 0  # with ffn, the widths of the prefill's element-wise work (0: none priced)
    ffn: int = 0
    sliding_window: None = None  # the benchmark's decoder attends over its whole context in every layer
    sliding_layers: None = None


@dataclass(frozen=True)
class Targets:
    which: np.ndarray  # "run" | "full" | "prefill"
    n_seq: np.ndarray
    context: np.ndarray
    passes: np.ndarray
    y: np.ndarray
    fit: np.ndarray  # bool: in the fit split
    point: np.ndarray  # index of the grid point it came from


@dataclass(frozen=True)
class FitResult:
    efficiency: Efficiency
    fit_error: float
    holdout_error: float | None
    fit_targets: int
    holdout_targets: int


def split_of(cell) -> str:
    return "fit" if (cell[0] + cell[1]) % 2 == 0 else "holdout"


def build_targets(points: list[dict], layers_run: int, layers_full: int) -> Targets:
    rows = []
    for i, p in enumerate(points):
        if p.get("skipped"):
            continue
        fit = split_of(p["cell"]) == "fit"
        if p["kind"] == "prefill":
            rows.append(("prefill", p["n_seq"], p["context"], 1, p["layers_s"], fit, i))
            continue
        rows.append(("run", p["n_seq"], p["context"], p["passes"], p["step_s"], fit, i))
        if layers_full > layers_run:
            rows.append(("full", p["n_seq"], p["context"], p["passes"], p["full_step_s"], fit, i))
    cols = list(zip(*rows)) if rows else [()] * 7
    return Targets(*(np.asarray(c) for c in cols))


NO_L2 = (0.0, np.inf, 0.0)  # no cache measured: element-wise bytes at the memory's rate


def predict(
    t: Targets,
    archs: dict[str, Arch],
    P: float,
    BW: float,
    wbytes: float,
    eff: Efficiency,
    passes: DecoderPasses | None = None,
    l2: tuple = NO_L2,
) -> np.ndarray:
    """Seconds for every target under ``eff`` (whose fields may be arrays of shape (G, 1): G candidates); a
    prefill pays ``passes``, a decoder layer's counted element-wise passes, at the chip's ``l2`` (as
    :func:`~tokcost.engine.physics.elementwise_s` takes it)."""
    shape = np.broadcast_shapes(
        np.shape(eff.mfu),
        np.shape(eff.mbu),
        np.shape(eff.host_per_layer_s),
        np.shape(eff.fixed_per_step_s),
        (len(t.y),),
    )
    out = np.zeros(shape)
    for which, arch in archs.items():
        sel = t.which == which
        if not sel.any():
            continue
        if which == "prefill":
            no_fixed = replace(eff, fixed_per_step_s=0.0)
            n, ctx = t.n_seq[sel], t.context[sel]
            act_s = physics.decoder_elementwise_s(arch, passes if arch.hidden else None, eff, n * ctx, 1, BW, l2)
            val, _, _ = physics.ar_prefill_time(arch, P, BW, no_fixed, wbytes, n, ctx, act_s=act_s)
        else:
            val, _, _, _ = physics.ar_decode_time(
                arch, P, BW, eff, wbytes, t.n_seq[sel], t.context[sel], 1, passes=t.passes[sel]
            )
        out[..., sel] = val
    return out


def _fixed_weights(t: Targets) -> np.ndarray:
    return np.where(t.which == "prefill", 0.0, t.passes.astype(float))


def _evaluate(t, archs, P, BW, wbytes, mfu, mbu, host, passes, l2):
    """Loss over the fit split and the optimal fixed cost for each candidate (mfu, mbu, host) (1-D arrays)."""
    eff = Efficiency(mfu[:, None], mbu[:, None], host[:, None], 0.0)
    A = predict(t, archs, P, BW, wbytes, eff, passes, l2)
    c = _fixed_weights(t)[None, :]
    y = t.y.astype(float)[None, :]
    w = t.fit[None, :].astype(float)
    num = (w * c * (y - A) / y**2).sum(axis=1)
    den = (w * c**2 / y**2).sum(axis=1)
    f = np.clip(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), 0.0, FIXED_MAX_S)
    r = (A + c * f[:, None] - y) / y
    return (w * r**2).sum(axis=1), f


def _mesh(*axes):
    grids = np.meshgrid(*axes, indexing="ij")
    return [g.ravel() for g in grids]


def fit_efficiency(
    t: Targets,
    archs: dict[str, Arch],
    P: float,
    BW: float,
    wbytes: float,
    passes: DecoderPasses | None = None,
    l2: tuple = NO_L2,
) -> FitResult:
    if not t.fit.any():
        raise ValueError("no measured points in the fit split")
    frac = np.geomspace(0.005, 1.5, 30)
    hosts = np.concatenate([[0.0], np.geomspace(1e-6, 2e-2, 15)])
    best = None
    span = float(frac[1] / frac[0])
    axes = (frac, frac, hosts)
    for _ in range(4):
        mfu, mbu, host = _mesh(*axes)
        loss, f = _evaluate(t, archs, P, BW, wbytes, mfu, mbu, host, passes, l2)
        k = int(np.argmin(loss))  # the first minimum: the smallest factors that reach it
        best = (mfu[k], mbu[k], host[k], f[k])
        steps = span ** np.linspace(-1, 1, 9)
        h = host[k]
        axes = (
            np.clip(best[0] * steps, 1e-4, 2.0),
            np.clip(best[1] * steps, 1e-4, 2.0),
            h * steps if h > 0 else np.concatenate([[0.0], np.geomspace(1e-8, 1e-6, 4)]),
        )
        span = span**0.25
    eff = Efficiency(float(best[0]), float(best[1]), float(best[2]), float(best[3]))
    err = np.abs(predict(t, archs, P, BW, wbytes, eff, passes, l2) - t.y) / t.y
    hold = ~t.fit
    return FitResult(
        eff,
        float(err[t.fit].mean()),
        float(err[hold].mean()) if hold.any() else None,
        int(t.fit.sum()),
        int(hold.sum()),
    )
