"""Engine profiles (``tokcost/data/engines.yaml``) and the efficiency band they give on a piece of hardware."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal


from tokcost.io.paths import ENGINES_FILE
from tokcost.io.parse import load_model
from tokcost.records.presets import HardwarePreset, Range, Strict
from tokcost.records.schema import Field, model_validator

Band = Literal["low", "central", "high"]  # of latency: "low" is the optimistic end
BANDS: tuple[Band, ...] = ("central", "low", "high")


class Span(Strict):
    """A low-high range of a non-negative quantity that is not a fraction (seconds, element-wise passes)."""

    low: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    high: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    central: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.low > self.high or (self.central is not None and not self.low <= self.central <= self.high):
            raise ValueError("need low <= central <= high")
        return self

    @property
    def mid(self) -> float:
        return self.central if self.central is not None else (self.low + self.high) / 2


class EngineProfile(Strict):
    description: str
    serves: list[Literal["ar", "diffusion"]]
    mfu: Range
    mbu: Range
    host_per_layer_s: Span
    fixed_per_step_s: Span
    request_fixed_s: Span | None = None  # diffusion: per-request pipeline overhead outside the denoiser loop
    act_passes: Span | None = None  # diffusion: element-wise activation passes per block (16-bit d-wide tensors)
    vae_efficiency: Range | None = None  # diffusion: VAE decoder rate as a fraction of the engine's matmul rate
    denoise_step_s: Span | None = None  # diffusion: per-step work outside the denoiser (scheduler, CFG mix)
    usable_memory_fraction: Annotated[float, Field(gt=0, le=1)]
    sources: dict[str, str]


class EngineFile(Strict):
    eager: EngineProfile
    compiled: EngineProfile
    vllm: EngineProfile


@lru_cache(maxsize=1)
def engines() -> dict[str, EngineProfile]:
    data, _ = load_model(EngineFile, ENGINES_FILE)
    return {"eager": data.eager, "compiled": data.compiled, "vllm": data.vllm}


@dataclass(frozen=True)
class Efficiency:
    """One end of the band: effective fractions of the datasheet peak/bandwidth and host overheads."""

    mfu: float
    mbu: float
    host_per_layer_s: float
    fixed_per_step_s: float
    attention_mfu: float | None = None  # fused attention kernels (score/value matmuls); None: same as mfu
    request_fixed_s: float = 0.0  # diffusion: per-request pipeline overhead (set-up, post-processing)
    act_passes: float = 0.0  # diffusion: element-wise activation traffic, in d-wide 16-bit tensors per block
    vae_efficiency: float = 1.0  # diffusion: VAE decoder rate as a fraction of the matmul rate (mfu)
    denoise_step_s: float = 0.0  # diffusion: per-step cost outside the denoiser forward (scheduler, CFG mix)


def _pick(r, band: Band, optimistic_is_high: bool) -> float:
    if band == "central":
        return r.mid
    want_high = (band == "low") == optimistic_is_high
    return r.high if want_high else r.low


def efficiency(engine: EngineProfile, hw: HardwarePreset, band: Band = "central",
               calibration=None) -> Efficiency:
    """Efficiencies for the ``band`` end of the latency range (``low`` latency = optimistic factors).

    effective mfu = hardware efficiency.matmul x engine mfu; effective attention mfu = hardware
    efficiency.attention (what the fused attention kernel reaches on this chip; default: the matmul figure) x
    engine mfu; effective mbu = hardware efficiency.bandwidth x engine mbu.

    A calibration measured on this hardware (``tokcost bench``: an eager decoder) replaces what it measured: the
    device's effective MFU and MBU under eager code, and eager's host overheads. Other engines keep their
    profile's ratio to eager (a compiled engine stays that much faster than the measured eager code), and the
    diffusion-only terms stay as fitted on the validation set."""
    assumed = _assumed(engine, hw, band)
    fitted = calibration.efficiency_for(hw.id, band) if calibration is not None else None
    if fitted is None:
        return assumed
    eager = _assumed(engines()["eager"], hw, band)
    mfu_scale = fitted.mfu / eager.mfu
    changes = {"mfu": assumed.mfu * mfu_scale, "mbu": assumed.mbu * fitted.mbu / eager.mbu}
    changes["attention_mfu"] = assumed.attention_mfu * mfu_scale
    if engine is engines()["eager"]:
        changes.update(host_per_layer_s=fitted.host_per_layer_s, fixed_per_step_s=fitted.fixed_per_step_s)
    return replace(assumed, **changes)


def _assumed(engine: EngineProfile, hw: HardwarePreset, band: Band) -> Efficiency:
    engine_mfu = _pick(engine.mfu, band, True)
    attention = hw.efficiency.attention or hw.efficiency.matmul  # no attention figure: the matmul one
    return Efficiency(
        mfu=_pick(hw.efficiency.matmul, band, True) * engine_mfu,
        mbu=_pick(hw.efficiency.bandwidth, band, True) * _pick(engine.mbu, band, True),
        host_per_layer_s=_pick(engine.host_per_layer_s, band, False),
        fixed_per_step_s=_pick(engine.fixed_per_step_s, band, False),
        attention_mfu=_pick(attention, band, True) * engine_mfu,
        request_fixed_s=0.0 if engine.request_fixed_s is None else _pick(engine.request_fixed_s, band, False),
        act_passes=0.0 if engine.act_passes is None else _pick(engine.act_passes, band, False),
        vae_efficiency=1.0 if engine.vae_efficiency is None else _pick(engine.vae_efficiency, band, True),
        denoise_step_s=0.0 if engine.denoise_step_s is None else _pick(engine.denoise_step_s, band, False),
    )
