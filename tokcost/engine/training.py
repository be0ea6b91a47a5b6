"""Training compute: AR C = D (6N + 6 L ctx d_attn); diffusion C = 3 x forward FLOPs x samples."""

from __future__ import annotations

import numpy as np

from tokcost.engine import physics
from tokcost.engine.tokens import diffusion_tokens
from tokcost.errors import UsageError
from tokcost.records.presets import Architecture, HardwarePreset, ModelPreset
from tokcost.records.training import TrainResult

# Training MFU against model size: mosaicml/llm-foundry scripts/train/benchmarking/README.md (commit 8c8dd48), bf16,
# 8x A100-80GB, sequence 2048: (parameters in billions, MFU). Small models reach less of the peak (short matmuls,
# more time in element-wise work and communication per FLOP); the curve is used relative to its 7B point.
MFU_BY_SIZE = ((0.125, 0.4479), (0.35, 0.5162), (0.76, 0.5685), (1.0, 0.5986), (3.0, 0.6211), (7.0, 0.6423))
MFU_REFERENCE_B = 7.0


def mfu_size_factor(params_b: float) -> float:
    """The share of a chip's training MFU (its preset's ``training_mfu``, measured on runs of 7B parameters and up)
    that a model of ``params_b`` billion parameters reaches: llm-foundry's MFU at that size over its MFU at 7B,
    interpolated in log size, held at the 125M ratio below it and 1 from 7B up. Above 7B the presets' figures
    already come from large runs, whose MFU depends on their parallel layout more than on size (llm-foundry's own
    13B-70B points fall with its FSDP settings, Megatron-LM holds 51-56% to 1T)."""
    sizes, mfus = zip(*MFU_BY_SIZE, strict=True)
    at = float(np.interp(np.log(params_b), np.log(sizes), mfus))
    return min(1.0, at / dict(MFU_BY_SIZE)[MFU_REFERENCE_B])


def ar_training_flops(model: ModelPreset | Architecture, tokens: float, context: int | None = None) -> float:
    """6 N per token for the matmuls (forward 2 + backward 4) plus 6 L ctx d_attn for attention scores over a
    causal context of ``ctx`` (the average context is ctx/2, times 12 for the same 2+4 split on QK and AV).
    Takes a model preset or a bare decoder architecture (the validation set's text-only reference runs)."""
    matmul, attention = ar_flops_per_token(model, context)
    return tokens * (matmul + attention)


def ar_flops_per_token(model: ModelPreset | Architecture, context: int | None = None) -> tuple[float, float]:
    """Training FLOPs per token: (matmuls 6N, attention scores 6 L ctx d_attn) at ``context`` (default: the
    model's longest)."""
    a = model if isinstance(model, Architecture) else model.architecture
    ctx = context or a.context
    return 6 * a.matmul_params_b * 1e9, 6 * a.layers * ctx * a.heads * a.head_dim


def diffusion_training_flops(model: ModelPreset, samples: float, width=None, height=None, frames=None) -> float:
    """3 x one forward (forward + backward = 3 forwards) per sample, one noise level per sample, no CFG."""
    w, h = sample_size(model, width, height)
    f = frames or (model.native.frames if "video" in model.roles else None)
    tc = diffusion_tokens(model, w, h, f, pad=True)
    return 3 * float(physics.denoiser_flops(model, tc.visual, tc.padded_width, tc.padded_height)) * samples


def sample_size(model: ModelPreset, width=None, height=None) -> tuple[int, int]:
    """The size a diffusion training sample is priced at: the given one, else the model's native."""
    return width or model.native.width, height or model.native.height


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
    notes_: list[str] = []
    basis = "given" if samples is not None else "published"
    if model.family == "ar":
        if tokens is None:
            raise UsageError(f"{model.id} is autoregressive: give the training tokens", param="tokens")
        flops = ar_training_flops(model, tokens, context)
    else:
        published = model.training.samples if model.training is not None else None
        if samples is None and published is None:
            raise UsageError(
                f"{model.id} is a diffusion model and publishes no training sample count (not in its paper or model "
                "card): give the training samples (images or clips seen)",
                param="samples",
            )
        if samples is None:
            samples = published
            notes_.append(
                f"{model.id}'s published training run: {published:,.0f} samples ({model.sources.get('training.samples')})"
                f"; priced at its native size, though early stages may have trained smaller; --samples to change it."
            )
        flops = diffusion_training_flops(model, samples, width, height, frames)
    params_b = model.architecture.params_b if model.family == "ar" else model.denoiser.params_b
    size = mfu_size_factor(params_b)
    if mfu is None and size < 1.0:
        notes_.append(
            f"MFU {hw.efficiency.training_mfu.mid * size:.0%}: {hw.id}'s training MFU ({hw.efficiency.training_mfu.mid:.0%}, "
            f"runs of 7B parameters and up) x {size:.2f} for a {params_b:.3g}B model (llm-foundry's MFU by size, "
            "relative to 7B); --mfu to set it."
        )
    report = compute_report(flops, hw, gpus, mfu, usd_per_gpu_hour, size)
    extra: dict = {"notes": notes_} if notes_ else {}
    if model.family == "diffusion":
        w, h = sample_size(model, width, height)
        extra.update(samples_basis=basis, sample_width=w, sample_height=h)
    if model.family == "ar":
        matmul, attention = ar_flops_per_token(model, context)
        used = context or model.architecture.context
        extra = {"context": used, "attention_share": attention / (matmul + attention), "notes": notes_}
        if context is None:
            notes_.append(
                f"Trained at {model.id}'s longest context, {used:,} tokens, which puts "
                f"{attention / (matmul + attention):.0%} of the FLOPs in attention; pass --context with the sequence "
                "length of your training data (a 720x720 Emu3 image is about 8,000 tokens)."
            )
    return TrainResult(model=model.id, **report, tokens=tokens, samples=samples, **extra)


def compute_report(
    flops: float, hw: HardwarePreset, gpus: int = 1, mfu=None, usd_per_gpu_hour=None, size_factor: float = 1.0
) -> dict:
    """GPU-hours = C / (bf16 peak x MFU) / 3600, days on ``gpus``, cost. MFU: ``mfu``, else the hardware's
    training_mfu x ``size_factor`` (:func:`mfu_size_factor`), whose range gives the band."""
    used_mfu = mfu if mfu is not None else hw.efficiency.training_mfu.mid * size_factor
    peak = hw.dense_tflops.bf16 * 1e12
    gpu_hours = flops / (peak * used_mfu) / 3600.0
    band = {b: flops / (peak * getattr(hw.efficiency.training_mfu, b) * size_factor) / 3600.0 for b in ("low", "high")}
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
