"""Engine profiles (``tokcost/data/engines.yaml``) and the efficiency band they give on a piece of hardware."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from tokcost.parse import load_model
from tokcost.presets import HardwarePreset, Range, Strict

ENGINES_FILE = Path(__file__).resolve().parent.parent / "data" / "engines.yaml"
Band = Literal["low", "central", "high"]  # of latency: "low" is the optimistic end
BANDS: tuple[Band, ...] = ("central", "low", "high")


class Seconds(Strict):
    low: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    high: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    central: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None

    @property
    def mid(self) -> float:
        return self.central if self.central is not None else (self.low + self.high) / 2


class EngineProfile(Strict):
    description: str
    serves: list[Literal["ar", "diffusion"]]
    mfu: Range
    mbu: Range
    host_per_layer_s: Seconds
    fixed_per_step_s: Seconds
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


ENGINE_IDS = ("eager", "compiled", "vllm")


@dataclass(frozen=True)
class Efficiency:
    """One end of the band: effective fractions of the datasheet peak/bandwidth and host overheads."""

    mfu: float
    mbu: float
    host_per_layer_s: float
    fixed_per_step_s: float


def _pick(r, band: Band, optimistic_is_high: bool) -> float:
    if band == "central":
        return r.mid
    want_high = (band == "low") == optimistic_is_high
    return r.high if want_high else r.low


def efficiency(engine: EngineProfile, hw: HardwarePreset, band: Band = "central",
               calibration=None) -> Efficiency:
    """Efficiencies for the ``band`` end of the latency range (``low`` latency = optimistic factors).

    A calibration measured on this hardware replaces the assumed factors with fitted ones."""
    if calibration is not None:
        fitted = calibration.efficiency_for(hw.id, band)
        if fitted is not None:
            return fitted
    return Efficiency(
        mfu=_pick(hw.efficiency.matmul, band, True) * _pick(engine.mfu, band, True),
        mbu=_pick(hw.efficiency.bandwidth, band, True) * _pick(engine.mbu, band, True),
        host_per_layer_s=_pick(engine.host_per_layer_s, band, False),
        fixed_per_step_s=_pick(engine.fixed_per_step_s, band, False),
    )
