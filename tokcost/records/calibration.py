"""Calibration files written by ``tokcost bench`` and read by ``estimate``/``analyze``/``check --calibration``.

A calibration records the measured device (name, memory, the copy and matmul ceilings it reached, and the
hardware preset it is when it is a known GPU), the software versions, the fitted efficiency factors and every raw
benchmark point. Loading (:func:`tokcost.io.calibration.load_calibration`) validates it like any other input: an
unknown key or an out-of-range number is reported as ``file:line:col: field: message`` (exit code 2).

The fitted ``mfu``/``mbu`` are fractions of the *reference* rates named in ``fit.reference``: the datasheet peak
and bandwidth of ``device.preset`` for a known GPU, or the measured ceilings otherwise (a CPU, an unknown GPU).
So :func:`tokcost.engine.profiles.efficiency` can use them unchanged for the hardware preset the estimate uses:
the known preset, or the measured device as a preset (:func:`tokcost.io.calibration.measured_preset`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tokcost.records.base import NOT_BOOL, NOT_TINY, Strict
from tokcost.records.presets import Id

Seconds = Annotated[float, Field(ge=0, le=1.0e5, allow_inf_nan=False), NOT_BOOL]
Rel = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False), NOT_BOOL]
Factor = Annotated[float, Field(gt=0, le=2, allow_inf_nan=False), NOT_BOOL, NOT_TINY]
Count = Annotated[int, Field(ge=0, le=10_000_000), NOT_BOOL]
PosCount = Annotated[int, Field(ge=1, le=10_000_000), NOT_BOOL]
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
    """The measured device."""

    kind: Literal["cpu", "cuda"] = Field(description="CPU or CUDA device.")
    name: Text = Field(description="Device name as torch reports it.")
    id: Id = Field(description="The id the measured device has as a hardware preset.")
    preset: Id | None = Field(default=None, description="The known hardware preset it is, when it is one.")
    memory_gb: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False), NOT_BOOL, NOT_TINY] = Field(
        description="Device memory in GB."
    )
    copy_gbps: Annotated[float, Field(gt=0, le=1.0e6, allow_inf_nan=False), NOT_BOOL, NOT_TINY] = Field(
        description="Measured copy ceiling in GB/s (bytes read + written per second / 1e9)."
    )
    matmul_tflops: Annotated[float, Field(gt=0, le=1.0e5, allow_inf_nan=False), NOT_BOOL, NOT_TINY] = Field(
        description="Measured square-matmul ceiling in TFLOP/s at dtype."
    )
    dtype: Literal["bf16", "fp16", "fp32"] = Field(description="Precision of the measurements.")
    threads: PosCount | None = Field(default=None, description="CPU threads used (CPU runs).")


class Software(Strict):
    """Versions the measurements were taken with."""

    tokcost: Text = Field(description="tokcost version.")
    python: Text = Field(description="Python version.")
    torch: Text = Field(description="torch version.")
    cuda: Text | None = Field(default=None, description="CUDA version (None: a CPU run).")
    transformers: Text | None = Field(default=None, description="transformers version, when it was benchmarked.")


class Benchmark(Strict):
    """What was run: a model's decoder, possibly with fewer layers, over a grid of batches and contexts."""

    model: Id = Field(description="Model preset id.")
    layers_run: PosCount = Field(description="Decoder layers run.")
    layers_full: PosCount = Field(description="Decoder layers of the full model (the rest is extrapolated).")
    batches: list[PosCount] = Field(min_length=1, description="Batch sizes measured.")
    contexts: list[PosCount] = Field(min_length=1, description="Context lengths measured, in tokens.")
    repeats: PosCount = Field(description="Timed repeats per point.")
    cfg_scale: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Guidance scale of the sampling step."
    )
    top_k: PosCount = Field(description="Top-k of the sampling step.")
    temperature: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Temperature of the sampling step."
    )


class Fit(Strict):
    """The fitted efficiency factors, as fractions of the reference rates."""

    reference: Literal["datasheet", "measured"] = Field(
        description="What mfu and mbu are fractions of: the datasheet of device.preset, or the measured ceilings."
    )
    peak_tflops: Annotated[float, Field(gt=0, le=1.0e5, allow_inf_nan=False), NOT_BOOL, NOT_TINY] = Field(
        description="Reference peak in TFLOP/s."
    )
    bandwidth_gbps: Annotated[float, Field(gt=0, le=1.0e6, allow_inf_nan=False), NOT_BOOL, NOT_TINY] = Field(
        description="Reference bandwidth in GB/s."
    )
    mfu: Factor = Field(description="Fitted fraction of the reference peak.")
    mbu: Factor = Field(description="Fitted fraction of the reference bandwidth.")
    host_per_layer_s: Annotated[float, Field(ge=0, le=1.0, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Fitted host launch overhead per layer and step, in seconds."
    )
    fixed_per_step_s: Annotated[float, Field(ge=0, le=10.0, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Fitted fixed overhead per decode step, in seconds."
    )
    fit_error: Rel = Field(description="Relative error over the fitting points.")
    holdout_error: Rel | None = Field(default=None, description="Relative error over the held-out points.")
    fit_targets: PosCount = Field(description="Points fitted.")
    holdout_targets: Count = Field(description="Points held out.")
    method: Text = Field(description="How the factors were fitted.")


class Point(Strict):
    """One benchmark point: a prefill or decode step at one batch and context."""

    kind: Literal["prefill", "decode"] = Field(description="Prefill or decode step.")
    cfg: Literal["batched", "unbatched"] = Field(description="How the two guidance branches ran.")
    batch: PosCount = Field(description="Items in the batch.")
    context: PosCount = Field(description="Context length in tokens.")
    n_seq: PosCount = Field(description="Sequences per forward (batch x guidance branches).")
    passes: Annotated[int, Field(ge=1, le=2), NOT_BOOL] = Field(
        description="Forward passes per step (2: unbatched guidance)."
    )
    split: Literal["fit", "holdout"] = Field(description="Whether the point was fitted or held out.")
    skipped: Text | None = Field(default=None, description="Why the point was not measured (out of memory).")
    layers_s: Seconds | None = Field(default=None, description="Seconds in the decoder layers.")
    head_s: Seconds | None = Field(default=None, description="Seconds in the output head.")
    sample_s: Seconds | None = Field(default=None, description="Seconds in sampling.")
    step_s: Seconds | None = Field(default=None, description="Seconds per step of the layers run.")
    full_step_s: Seconds | None = Field(default=None, description="Seconds per step extrapolated to the full depth.")
    flops: Annotated[float, Field(ge=0, le=1.0e21, allow_inf_nan=False), NOT_BOOL] | None = Field(
        default=None, description="FLOPs per step."
    )
    bytes: Annotated[float, Field(ge=0, le=1.0e18, allow_inf_nan=False), NOT_BOOL] | None = Field(
        default=None, description="Bytes moved per step."
    )
    achieved_gbps: Annotated[float, Field(ge=0, le=1.0e6, allow_inf_nan=False), NOT_BOOL] | None = Field(
        default=None, description="Achieved bandwidth in GB/s."
    )
    achieved_tflops: Annotated[float, Field(ge=0, le=1.0e5, allow_inf_nan=False), NOT_BOOL] | None = Field(
        default=None, description="Achieved TFLOP/s."
    )
    predicted_s: Seconds | None = Field(default=None, description="Seconds per step the fit predicts.")
    predicted_full_s: Seconds | None = Field(default=None, description="Seconds per full-depth step the fit predicts.")


class CalibrationFile(Strict):
    version: Literal[1] = Field(description="Calibration format version.")
    created: Text = Field(description="When the benchmark ran (ISO 8601).")
    device: Device
    software: Software
    benchmark: Benchmark
    fit: Fit
    points: list[Point] = Field(description="Every benchmark point.")

    def fit_for(self, hw_id: str) -> Fit | None:
        """The fitted factors when ``hw_id`` is the calibrated device (its preset id or its measured id)."""
        d = self.device
        return self.fit if hw_id == d.id or (d.preset is not None and hw_id == d.preset) else None
