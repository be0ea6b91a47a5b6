"""Calibration files written by ``tokcost bench`` and read by ``estimate``/``analyze``/``check --calibration``.

A calibration records the measured device (name, memory, the copy and matmul ceilings it reached, and the
hardware preset it is when it is a known GPU), the software versions, the fitted efficiency factors and every raw
benchmark point. Loading validates it like any other input: an unknown key or an out-of-range number is reported
as ``file:line:col: field: message`` (exit code 2).

The fitted ``mfu``/``mbu`` are fractions of the *reference* rates named in ``fit.reference``: the datasheet peak
and bandwidth of ``device.preset`` for a known GPU, or the measured ceilings otherwise (a CPU, an unknown GPU).
So :func:`tokcost.engine.profiles.efficiency` can return them unchanged for the hardware preset the estimate uses:
the known preset, or the measured device that :meth:`Calibration.hardware_preset` builds from the ceilings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from tokcost.engine.profiles import Efficiency
from tokcost.io.parse import load_model
from tokcost.records.presets import DenseRates, HardwareEfficiency, HardwarePreset, Id, Range, Strict
from tokcost.records.schema import Field

Seconds = Annotated[float, Field(ge=0, le=1.0e5, allow_inf_nan=False)]
Rel = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Factor = Annotated[float, Field(gt=0, le=2, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
PosCount = Annotated[int, Field(ge=1, le=10_000_000)]
Text = Annotated[str, Field(min_length=1, max_length=400)]

# torch.cuda.get_device_name() -> hardware preset id. Exact names only: an H200 NVL or an H100 PCIe is not an SXM part.
KNOWN_GPUS = {
    "NVIDIA H200": "h200-sxm",
    "NVIDIA H100 80GB HBM3": "h100-sxm",
    "NVIDIA H100 PCIe": "h100-pcie",
    "NVIDIA H100 NVL": "h100-nvl",
    "NVIDIA A100-SXM4-80GB": "a100-80gb-sxm",
    "NVIDIA A100-SXM4-40GB": "a100-40gb-sxm",
    "NVIDIA A100 80GB PCIe": "a100-80gb-pcie",
    "NVIDIA B200": "b200",
    "NVIDIA L40S": "l40s",
    "NVIDIA L4": "l4",
    "NVIDIA A10G": "a10g",
    "NVIDIA GeForce RTX 4090": "rtx-4090",
    "AMD Instinct MI300X": "mi300x",
    "AMD Instinct MI325X": "mi325x",
}


class Device(Strict):
    kind: Literal["cpu", "cuda"]
    name: Text
    id: Id  # the id the measured device has as a hardware preset
    preset: Id | None = None  # the known hardware preset it is, when it is one
    memory_gb: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)]
    copy_gbps: Annotated[float, Field(gt=0, le=1.0e6, allow_inf_nan=False)]  # bytes read + written / s / 1e9
    matmul_tflops: Annotated[float, Field(gt=0, le=1.0e5, allow_inf_nan=False)]
    dtype: Literal["bf16", "fp16", "fp32"]
    threads: PosCount | None = None


class Software(Strict):
    tokcost: Text
    python: Text
    torch: Text
    cuda: Text | None = None
    transformers: Text | None = None


class Benchmark(Strict):
    model: Id
    layers_run: PosCount
    layers_full: PosCount
    batches: list[PosCount] = Field(min_length=1)
    contexts: list[PosCount] = Field(min_length=1)
    repeats: PosCount
    cfg_scale: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]
    top_k: PosCount
    temperature: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class Fit(Strict):
    reference: Literal["datasheet", "measured"]
    peak_tflops: Annotated[float, Field(gt=0, le=1.0e5, allow_inf_nan=False)]
    bandwidth_gbps: Annotated[float, Field(gt=0, le=1.0e6, allow_inf_nan=False)]
    mfu: Factor
    mbu: Factor
    host_per_layer_s: Annotated[float, Field(ge=0, le=1.0, allow_inf_nan=False)]
    fixed_per_step_s: Annotated[float, Field(ge=0, le=10.0, allow_inf_nan=False)]
    fit_error: Rel
    holdout_error: Rel | None = None
    fit_targets: PosCount
    holdout_targets: Count
    method: Text


class Point(Strict):
    kind: Literal["prefill", "decode"]
    cfg: Literal["batched", "unbatched"]
    batch: PosCount
    context: PosCount
    n_seq: PosCount
    passes: Annotated[int, Field(ge=1, le=2)]
    split: Literal["fit", "holdout"]
    skipped: Text | None = None
    layers_s: Seconds | None = None
    head_s: Seconds | None = None
    sample_s: Seconds | None = None
    step_s: Seconds | None = None
    full_step_s: Seconds | None = None
    flops: Annotated[float, Field(ge=0, le=1.0e21, allow_inf_nan=False)] | None = None
    bytes: Annotated[float, Field(ge=0, le=1.0e18, allow_inf_nan=False)] | None = None
    achieved_gbps: Annotated[float, Field(ge=0, le=1.0e6, allow_inf_nan=False)] | None = None
    achieved_tflops: Annotated[float, Field(ge=0, le=1.0e5, allow_inf_nan=False)] | None = None
    predicted_s: Seconds | None = None
    predicted_full_s: Seconds | None = None


class CalibrationFile(Strict):
    version: Literal[1]
    created: Text
    device: Device
    software: Software
    benchmark: Benchmark
    fit: Fit
    points: list[Point]


@dataclass(frozen=True)
class Calibration:
    """A loaded calibration: the fitted efficiencies for the device it measured, and that device as hardware."""

    data: CalibrationFile
    path: str

    def _matches(self, hw_id: str) -> bool:
        d = self.data.device
        return hw_id == d.id or (d.preset is not None and hw_id == d.preset)

    def efficiency_for(self, hw_id: str, band: str = "central") -> Efficiency | None:
        """The fitted factors for the calibrated device (its preset id or its measured id), else ``None``.

        The band widens the central fit by the held-out error e: ``low`` (optimistic) multiplies the fractions
        by 1 + e and divides the overheads by it; ``high`` does the opposite."""
        if not self._matches(hw_id):
            return None
        f = self.data.fit
        k = 1.0 + min(f.holdout_error if f.holdout_error is not None else f.fit_error, 1.0)
        if band == "central":
            k = 1.0
        elif band == "high":
            k = 1.0 / k
        return Efficiency(mfu=f.mfu * k, mbu=f.mbu * k, host_per_layer_s=f.host_per_layer_s / k,
                          fixed_per_step_s=f.fixed_per_step_s / k)

    def hardware_preset(self, catalog) -> HardwarePreset:
        """The measured device as hardware: the known preset when ``device.preset`` is set, else a preset of
        vendor ``measured`` whose rates are the measured ceilings."""
        d = self.data.device
        if d.preset is not None:
            return catalog.hardware(d.preset)
        return measured_preset(d, self.path)


def measured_preset(d: Device, path: str) -> HardwarePreset:
    tf = d.matmul_tflops
    one = Range(low=1.0, high=1.0)
    cite = f"measured by tokcost bench, calibration file {path}"
    return HardwarePreset(
        id=d.id, name=f"{d.name} (measured)", vendor="measured",
        dense_tflops=DenseRates(bf16=tf, fp16=tf, fp32=tf),
        memory_gb=d.memory_gb, bandwidth_tbps=d.copy_gbps / 1000.0, tdp_w=1.0,
        efficiency=HardwareEfficiency(matmul=one, bandwidth=one, training_mfu=Range(low=0.3, high=0.5)),
        sources={"dense_tflops": f"{cite}: {d.dtype} square matmul ceiling (used for every precision)",
                 "memory_gb": cite, "bandwidth_tbps": f"{cite}: device copy ceiling (bytes read + written)",
                 "tdp_w": "not measured: placeholder (tokcost uses tdp_w for display only)",
                 "efficiency": "the rates are measured ceilings, so the hardware fractions are 1; the fitted "
                               "factors of the calibration replace the engine's",
                 "efficiency.training_mfu": "assumption: typical planning range 0.30-0.50 (facts/hardware.md)"},
        notes="built from a tokcost bench calibration")


def load_calibration(path: str | Path) -> Calibration:
    """Load and validate a calibration YAML; raises InputError with file:line:col for every problem."""
    data, _ = load_model(CalibrationFile, path)
    return Calibration(data=data, path=str(path))


def dump_calibration(data: CalibrationFile) -> str:
    import yaml

    header = ("# tokcost calibration, written by `tokcost bench`. Fitted factors are fractions of the reference\n"
              "# rates in fit (datasheet of device.preset, or the measured ceilings). Use: tokcost estimate\n"
              "# --calibration FILE (without --hardware it prices the measured device).\n")
    body = yaml.safe_dump(data.model_dump(mode="json"), sort_keys=False, width=120, allow_unicode=True)
    return header + body
