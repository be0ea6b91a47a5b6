"""Training compute: AR C = D (6N + 6 L ctx d_attn); diffusion C = 3 x forward FLOPs x samples."""

from __future__ import annotations

import numpy as np

from tokcost.engine.families import TrainingWork, family_of
from tokcost.engine.families.ar import ar_flops_per_token, ar_training_flops
from tokcost.engine.families.diffusion import diffusion_training_flops, sample_size
from tokcost.records.presets import HardwarePreset, ModelPreset
from tokcost.records.training import TrainResult

__all__ = [
    "ar_flops_per_token",
    "ar_training_flops",
    "break_even_samples",
    "compute_report",
    "diffusion_training_flops",
    "mfu_size_factor",
    "sample_size",
    "training_report",
]

# Training MFU against model size: mosaicml/llm-foundry scripts/train/benchmarking/README.md (commit 8c8dd48), bf16,
# 8x A100-80GB, sequence 2048: (parameters in billions, MFU). Small models reach less of the peak (short matmuls,
# more time in element-wise work and communication per FLOP); the curve is used relative to its 7B point.
MFU_BY_SIZE = ((0.125, 0.4479), (0.35, 0.5162), (0.76, 0.5685), (1.0, 0.5986), (3.0, 0.6211), (7.0, 0.6423))
MFU_REFERENCE_B = 7.0

# The share of a training run's GPU-hours spent training: the rest goes to interruptions and restarts (hardware
# faults, job restarts from the last checkpoint, the steps redone), checkpoint writes and evaluation. Llama 3 paper
# (arXiv 2407.21783, section 3.3.4 'Reliability and Operational Challenges'): over a 54-day snapshot of 405B
# pre-training, 466 job interruptions, and 'we achieved higher than 90% effective training time'. GPU-hours are the
# compute time over this share: what a run is billed for, as the published GPU-hours of training runs count them.
TRAINING_GOODPUT = 0.9


def mfu_size_factor(params_b: float) -> float:
    """The share of a chip's training MFU (its preset's ``training_mfu``, measured on runs of 7B parameters and up)
    that a model of ``params_b`` billion parameters reaches: llm-foundry's MFU at that size over its MFU at 7B,
    interpolated in log size, held at the 125M ratio below it and 1 from 7B up. Above 7B the presets' figures
    already come from large runs, whose MFU depends on their parallel layout more than on size (llm-foundry's own
    13B-70B points fall with its FSDP settings, Megatron-LM holds 51-56% to 1T)."""
    sizes, mfus = zip(*MFU_BY_SIZE, strict=True)
    at = float(np.interp(np.log(params_b), np.log(sizes), mfus))
    return min(1.0, at / dict(MFU_BY_SIZE)[MFU_REFERENCE_B])


def break_even_samples(model: ModelPreset, flops: float, width=None, height=None, frames=None) -> float:
    """The training samples at which ``model``'s training compute equals ``flops``: for a diffusion model that
    publishes no sample count, the comparison then holds for any count (fewer costs less, more costs more)."""
    return flops / diffusion_training_flops(model, 1.0, width, height, frames)


def training_report(
    model: ModelPreset,
    hw: HardwarePreset,
    tokens=None,
    samples=None,
    gpus: int = 1,
    mfu=None,
    context=None,
    width=None,
    height=None,
    frames=None,
    usd_per_gpu_hour: float | None = None,
) -> TrainResult:
    """Training compute of ``model`` on ``gpus`` x ``hw``: AR models train on ``tokens``, diffusion on ``samples``."""
    fam = family_of(model)
    work = TrainingWork(tokens=tokens, samples=samples, context=context, width=width, height=height, frames=frames)
    run = fam.training(model, work)
    notes_ = list(run.notes)
    params_b = model.generation.params_b(model)
    size = mfu_size_factor(params_b)
    if mfu is None and size < 1.0:
        notes_.append(
            f"MFU {hw.efficiency.training_mfu.mid * size:.0%}: {hw.id}'s training MFU ({hw.efficiency.training_mfu.mid:.0%}, "
            f"runs of 7B parameters and up) x {size:.2f} for a {params_b:.3g}B model (llm-foundry's MFU by size, "
            "relative to 7B); --mfu to set it."
        )
    notes_ += run.late_notes
    notes_.append(
        f"GPU-hours allow for {1 - TRAINING_GOODPUT:.0%} of a run's time lost to interruptions, restarts and "
        f"checkpoints ({TRAINING_GOODPUT:.0%} effective training time, as the Llama 3 paper reports for its 405B run)"
    )
    report = compute_report(run.flops, hw, gpus, mfu, usd_per_gpu_hour, size)
    samples_priced = run.samples if run.samples is not None else samples
    return TrainResult(model=model.id, **report, tokens=tokens, samples=samples_priced, **run.extra, notes=notes_)


def compute_report(
    flops: float, hw: HardwarePreset, gpus: int = 1, mfu=None, usd_per_gpu_hour=None, size_factor: float = 1.0
) -> dict:
    """GPU-hours = C / (bf16 peak x MFU x :data:`TRAINING_GOODPUT`) / 3600, days on ``gpus``, cost. MFU: ``mfu``,
    else the hardware's training_mfu x ``size_factor`` (:func:`mfu_size_factor`), whose range gives the band."""
    used_mfu = mfu if mfu is not None else hw.efficiency.training_mfu.mid * size_factor
    # FLOP/s a GPU-hour of the run delivers at MFU 1: the bf16 peak over the share of the hours spent training
    per_gpu = hw.dense_tflops.bf16 * 1e12 * TRAINING_GOODPUT
    gpu_hours = flops / (per_gpu * used_mfu) / 3600.0
    band = {
        b: flops / (per_gpu * getattr(hw.efficiency.training_mfu, b) * size_factor) / 3600.0 for b in ("low", "high")
    }
    price = usd_per_gpu_hour
    return {
        "hardware": hw.id,
        "gpus": gpus,
        "mfu": used_mfu,
        "flops": flops,
        "gpu_hours": gpu_hours,
        "gpu_hours_band": {"low": band["high"], "high": band["low"]},
        "days": gpu_hours / gpus / 24.0,
        "cost_usd": gpu_hours * price if price is not None else None,
        "price_usd_per_gpu_hour": price,
    }
