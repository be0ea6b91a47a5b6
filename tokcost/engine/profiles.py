"""The efficiency band an engine profile (:class:`~tokcost.records.engines.EngineProfile`) gives on a piece of
hardware. The profiles are data (``tokcost/data/engines.yaml``): callers load them with
:func:`tokcost.io.engines.load_engines` and pass them in; the engine reads no file."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from tokcost.engine.physics import BENCH_BLOCK_LAUNCHES, REFERENCE_LAUNCHES

if TYPE_CHECKING:
    import numpy as np

    from tokcost.records.calibration import Fit
    from tokcost.records.engines import EngineProfile
    from tokcost.records.presets import HardwarePreset

Band = Literal["low", "central", "high"]  # of latency: "low" is the optimistic end
BANDS: tuple[Band, ...] = ("central", "low", "high")
# A float, or a column of them when chips x bands are stacked (estimate_grid, the benchmark's fit): the formulas
# broadcast either.
Factor: TypeAlias = "float | np.ndarray"


class Calibrated(Protocol):
    """A calibration as the engine uses it (:class:`tokcost.io.calibration.Calibration`)."""

    def fit_for(self, hw_id: str) -> Fit | None: ...


@dataclass(frozen=True)
class Efficiency:
    """One end of the band: effective fractions of the datasheet peak/bandwidth and host overheads."""

    mfu: Factor
    mbu: Factor
    host_per_layer_s: Factor
    fixed_per_step_s: Factor
    attention_mfu: Factor | None = None  # fused attention kernels (score/value matmuls); None: same as mfu
    request_fixed_s: Factor = 0.0  # diffusion: per-request pipeline overhead (set-up, post-processing)
    fused_elementwise: bool | np.ndarray = False  # diffusion: moves a model's fused element-wise passes, not eager ones
    act_scale: Factor = 1.0  # diffusion: measured over counted element-wise time (engines.fitted.yaml)
    vae_efficiency: Factor = 1.0  # diffusion: VAE decoder rate as a fraction of the matmul rate (mfu)
    denoise_step_s: Factor = 0.0  # diffusion: per-step cost outside the denoiser forward (scheduler, CFG mix)
    gpu_per_layer_s: Factor = 0.0  # GPU time per layer that adds to the matmuls (each kernel's ramp-up and tail)
    weight_mbu: Factor | None = None  # decode's skinny GEMMs stream the weights at this rate (None: mbu)
    host_per_collective_s: Factor = 0.0  # host time of each collective a multi-GPU replica calls
    host_per_sequence_s: Factor = 0.0  # AR: host work per running sequence per decode step (serving engines)
    host_per_launch: bool | np.ndarray = False  # host_per_layer_s is charged per counted kernel launch (eager)
    overlapped_step: bool | np.ndarray = False  # AR: the step's host work runs beside the forward (async scheduling)
    window_prefill_skips: bool | np.ndarray = False  # AR: the prefill's attention skips keys outside a sliding window
    # AR under an engine whose CUDA graphs replay decode steps only, up to a context (EngineProfile.decode_graphs):
    # the longest context a replayed step covers (inf: every step replays), and the host's time per layer and per
    # collective in a step that runs eager (the prefill, and the decode steps beyond it)
    graph_max_context: Factor = math.inf
    eager_host_per_layer_s: Factor = 0.0
    eager_host_per_collective_s: Factor = 0.0

    @property
    def weight_rate(self) -> Factor:
        """The fraction of the datasheet bandwidth a decode step's skinny GEMMs stream the weights at."""
        return self.mbu if self.weight_mbu is None else self.weight_mbu


def _pick(r, band: Band, optimistic_is_high: bool) -> float:
    if band == "central":
        return r.mid
    want_high = (band == "low") == optimistic_is_high
    return r.high if want_high else r.low


def efficiency(
    engine: EngineProfile,
    hw: HardwarePreset,
    band: Band = "central",
    calibration: Calibrated | None = None,
    eager: EngineProfile | None = None,
    attention: str | None = None,
    host_speed: float = 1.0,
) -> Efficiency:
    """Efficiencies for the ``band`` end of the latency range (``low`` latency = optimistic factors).

    effective mfu = hardware efficiency.matmul x engine mfu; effective attention mfu = what the attention kernel
    (``attention``, default the engine's: sdpa and fa2 at the hardware's efficiency.attention, FlashAttention-2's
    rate; fa3 and cudnn at their own figure, :func:`own_attention_figure`; no figure: the matmul one) reaches on
    this chip x engine mfu; effective mbu = hardware efficiency.bandwidth x engine mbu, and a decode step's weights stream at the hardware's
    efficiency.decode_gemm x engine mbu where the preset measures one. The host terms (per layer, per step, per denoising
    step, per request, per collective) are the profile's divided by ``host_speed``, the launching CPU's single-thread speed
    relative to the host they were fitted on.

    A calibration measured on this hardware (``tokcost bench``: an eager decoder) replaces what it measured: the
    device's effective MFU and MBU under eager code (its kernel gaps included), and eager's host overheads (its
    host time per layer is per block of the benchmark's decoder, :data:`~tokcost.engine.physics.BENCH_BLOCK_LAUNCHES`
    launches, converted to the reference layer's when the engine is priced per launch). Other
    engines keep their profile's ratio to ``eager`` (the eager profile, needed with a calibration: a compiled engine stays that much
    faster than the measured eager code), and the diffusion-only terms stay as fitted on the validation set. A
    calibration's host overheads were measured on its own host: ``host_speed`` does not scale them."""
    assumed = _on_host(_assumed(engine, hw, band, attention or engine.attention), host_speed)
    fit = calibration.fit_for(hw.id) if calibration is not None else None
    if fit is None:
        return assumed
    if eager is None:
        raise ValueError("a calibration scales the engines by their ratio to eager: pass the eager profile")
    fitted = fitted_efficiency(fit, band)
    eager_eff = _assumed(eager, hw, band, eager.attention)
    mfu_scale = fitted.mfu / eager_eff.mfu
    changes: dict[str, Any] = {"mfu": assumed.mfu * mfu_scale, "mbu": assumed.mbu * fitted.mbu / eager_eff.mbu}
    # the benchmark's decode streams its weights through the chip's skinny GEMMs: its fitted mbu is their rate
    changes["weight_mbu"] = assumed.weight_rate * fitted.mbu / eager_eff.weight_rate
    # _assumed always sets attention_mfu; None would mean "as mfu" (the field's default)
    attention_mfu = assumed.mfu if assumed.attention_mfu is None else assumed.attention_mfu
    changes["attention_mfu"] = attention_mfu * mfu_scale
    if engine is eager:
        # the benchmark's fit has no gap term: the measured steps' kernel gaps are inside its mbu and mfu. Its host
        # time per layer is its own block's; priced per launch, a layer of the reference's launches costs more
        per_layer = REFERENCE_LAUNCHES / BENCH_BLOCK_LAUNCHES if engine.host_per_launch else 1.0
        changes.update(
            host_per_layer_s=fitted.host_per_layer_s * per_layer,
            fixed_per_step_s=fitted.fixed_per_step_s,
            gpu_per_layer_s=fitted.gpu_per_layer_s,
        )
    return replace(assumed, **changes)


def _on_host(eff: Efficiency, speed: float) -> Efficiency:
    """``eff`` with its host-side terms run on a CPU ``speed`` times as fast as the reference host's."""
    if speed == 1.0:
        return eff
    return replace(
        eff,
        host_per_layer_s=eff.host_per_layer_s / speed,
        fixed_per_step_s=eff.fixed_per_step_s / speed,
        request_fixed_s=eff.request_fixed_s / speed,
        denoise_step_s=eff.denoise_step_s / speed,
        host_per_collective_s=eff.host_per_collective_s / speed,
        host_per_sequence_s=eff.host_per_sequence_s / speed,
        eager_host_per_layer_s=eff.eager_host_per_layer_s / speed,
        eager_host_per_collective_s=eff.eager_host_per_collective_s / speed,
    )


def fitted_efficiency(fit: Fit, band: Band = "central") -> Efficiency:
    """The fitted factors of a calibration at one end of the band. The band widens the central fit by the
    held-out error e: ``low`` (optimistic) multiplies the fractions by 1 + e and divides the overheads by it;
    ``high`` does the opposite."""
    k = 1.0 + min(fit.holdout_error if fit.holdout_error is not None else fit.fit_error, 1.0)
    if band == "central":
        k = 1.0
    elif band == "high":
        k = 1.0 / k
    return Efficiency(
        mfu=fit.mfu * k,
        mbu=fit.mbu * k,
        host_per_layer_s=fit.host_per_layer_s / k,
        fixed_per_step_s=fit.fixed_per_step_s / k,
    )


# attention kernels priced at a figure of their own in the hardware preset's efficiency section (the others, sdpa
# and fa2, at efficiency.attention: FlashAttention-2's rate)
OWN_ATTENTION_FIGURE = {"fa3": "attention_fa3", "cudnn": "attention_cudnn"}


def own_attention_figure(hw: HardwarePreset, kernel: str):
    """``hw``'s own figure for ``kernel`` (:data:`OWN_ATTENTION_FIGURE`); None: the preset has none, or the kernel
    runs at efficiency.attention."""
    field = OWN_ATTENTION_FIGURE.get(kernel)
    return getattr(hw.efficiency, field) if field is not None else None


def attention_problem(hw: HardwarePreset, kernel: str) -> str | None:
    """Why ``kernel`` cannot be priced on ``hw`` (FlashAttention-3 needs Hopper; cuDNN's fused attention needs a
    measured figure), or None."""
    if kernel not in OWN_ATTENTION_FIGURE or own_attention_figure(hw, kernel) is not None:
        return None
    if kernel == "fa3":
        return (
            f"FlashAttention-3 runs on Hopper GPUs (H100, H200, H800, H20); {hw.id} has no FA3 figure in its preset: "
            "use --attention fa2 or sdpa"
        )
    return (
        f"{hw.id} has no measured figure for cuDNN's fused attention in its preset (tokcost has them for Hopper "
        "and Blackwell parts, where PyTorch 2.11 and later pick it first): use --attention sdpa or fa2"
    )


def _assumed(engine: EngineProfile, hw: HardwarePreset, band: Band, kernel: str) -> Efficiency:
    engine_mfu = _pick(engine.mfu, band, True)
    # the kernel's own figure, else FlashAttention-2's; no attention figure at all: the matmul one
    attention = own_attention_figure(hw, kernel) or hw.efficiency.attention or hw.efficiency.matmul
    return Efficiency(
        mfu=_pick(hw.efficiency.matmul, band, True) * engine_mfu,
        mbu=_pick(hw.efficiency.bandwidth, band, True) * _pick(engine.mbu, band, True),
        host_per_layer_s=_pick(engine.host_per_layer_s, band, False),
        fixed_per_step_s=_pick(engine.fixed_per_step_s, band, False),
        attention_mfu=_pick(attention, band, True) * engine_mfu,
        request_fixed_s=0.0 if engine.request_fixed_s is None else _pick(engine.request_fixed_s, band, False),
        fused_elementwise=engine.elementwise == "fused",
        host_per_launch=engine.host_per_launch,
        overlapped_step=engine.overlapped_step,
        window_prefill_skips=engine.window_prefill == "skips",
        **_eager_steps(engine, band),
        act_scale=1.0 if engine.act_scale is None else _pick(engine.act_scale, band, False),
        vae_efficiency=1.0 if engine.vae_efficiency is None else _pick(engine.vae_efficiency, band, True),
        denoise_step_s=0.0 if engine.denoise_step_s is None else _pick(engine.denoise_step_s, band, False),
        gpu_per_layer_s=0.0 if engine.gpu_per_layer_s is None else _pick(engine.gpu_per_layer_s, band, False),
        host_per_collective_s=(
            0.0 if engine.host_per_collective_s is None else _pick(engine.host_per_collective_s, band, False)
        ),
        host_per_sequence_s=(
            0.0 if engine.host_per_sequence_s is None else _pick(engine.host_per_sequence_s, band, False)
        ),
        # always set (None would read as NaN in a stacked estimate): the stream rate where no skinny GEMM is measured
        weight_mbu=_pick(hw.efficiency.decode_gemm or hw.efficiency.bandwidth, band, True)
        * _pick(engine.mbu, band, True),
    )


def _eager_steps(engine: EngineProfile, band: Band) -> dict:
    """The :class:`Efficiency` fields of the steps an engine's CUDA graphs leave eager (``decode_graphs``); none: its
    graphs, or its host's launches, cover every step."""
    graphs = engine.decode_graphs
    if graphs is None or engine.eager_host_per_layer_s is None:
        return {}
    per_layer = _pick(engine.eager_host_per_layer_s, band, False)
    return {
        "graph_max_context": float(graphs.max_context),
        "eager_host_per_layer_s": per_layer,
        # an all-reduce's operator calls cost the host what a layer's do, call for call
        "eager_host_per_collective_s": per_layer * graphs.eager_ops_per_collective / graphs.eager_ops_per_layer,
    }
