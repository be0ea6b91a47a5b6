"""The validation set (``tokcost/data/validation/measurements.yaml``) and the gate of ``tokcost validate``
(``tokcost/data/validation_thresholds.yaml``), loaded by :mod:`tokcost.io.measurements`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from tokcost.records import estimate as request
from tokcost.records.base import NOT_BOOL, NOT_TINY, AttentionKernel, Finite, Strict
from tokcost.records.families import VALIDATION_FAMILIES, check_known
from tokcost.records.presets import Architecture
from tokcost.records.spec import Engine, VaePrecision

# the summaries: each generation family's own (its single-GPU images), video, training and multi-GPU runs
FAMILIES: tuple[str, ...] = VALIDATION_FAMILIES
# A run's conditions within what an estimate takes (its ranges, tokcost.records.estimate; a YAML boolean refused),
# so that a typo (a width of 10**9) is refused at its line rather than priced; GPUs and training sizes up to the
# largest published runs' scale and beyond (16,384 GPUs and 15 trillion tokens in the set).
Side = Annotated[request.Side, NOT_BOOL]
Frames = Annotated[request.Frames, NOT_BOOL]
Batch = Annotated[request.Batch, NOT_BOOL]
Steps = Annotated[request.Steps, NOT_BOOL]
TokenCount = Annotated[request.TokenCount, NOT_BOOL]
Gpus = Annotated[int, Field(ge=1, le=1_000_000), NOT_BOOL]
TrainingSize = Annotated[float, Field(gt=0, le=1e18, allow_inf_nan=False), NOT_BOOL, NOT_TINY]
# A measured figure in any metric's unit (seconds, items or tokens a second, GPU-hours): far from the smallest and
# largest doubles, so that a ratio to it stays finite and prints as a number.
Measured = Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False), NOT_BOOL, NOT_TINY]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False), NOT_BOOL]


class Conditions(Strict):
    """What the source states (or the entry assumes, see ``open``) about the run. ``None`` = not stated."""

    width: Side | None = Field(default=None, description="Width in pixels.")
    height: Side | None = Field(default=None, description="Height in pixels.")
    frames: Frames | None = Field(default=None, description="Video frames per clip.")
    batch: Batch | None = Field(default=None, description="Items per call.")
    steps: Steps | None = Field(default=None, description="Diffusion sampling steps.")
    cfg: Literal["batched", "unbatched", "off", "distilled", "none"] | None = Field(
        default=None, description="Guidance: AR batched | unbatched | off; diffusion batched | distilled | none."
    )
    cfg_scale: Finite | None = Field(default=None, description="Guidance scale.")
    precision: Literal["bf16", "fp16", "fp8", "int8", "int8-wo", "int4"] | None = Field(
        default=None, description="Weight precision."
    )
    gpus: Gpus | None = Field(default=None, description="GPUs serving one request (or training).")
    parallelism: Literal["tp", "sp", "cfg", "cfg+sp"] | None = Field(
        default=None, description="How the GPUs split each forward (None: tokcost's default for the model)."
    )
    ring_degree: Gpus | None = Field(
        default=None,
        description="Diffusion sequence parallelism: GPUs in each ring of ring attention (None: 1, Ulysses alone).",
    )
    attention: AttentionKernel | None = Field(
        default=None, description="Diffusion and MAR: the attention kernel the run used (None: the engine profile's)."
    )
    autocast: bool | None = Field(
        default=None,
        description="Diffusion: the 16-bit pipeline ran under torch.autocast (None: not stated, priced as off).",
    )
    prompt_tokens: TokenCount | None = Field(default=None, description="Text decode: prompt tokens prefilled.")
    generated_tokens: TokenCount | None = Field(default=None, description="Text decode: tokens generated.")
    vae_precision: VaePrecision | None = Field(
        default=None, description="The VAE's type where the source states one (None: the pipeline's default)."
    )
    kv_dtype: Literal["bf16", "fp8"] | None = Field(
        default=None, description="Text decode: the KV cache's type (None: bf16, the engines' default)."
    )
    enforce_eager: bool | None = Field(
        default=None,
        description="Text decode under a V0 vLLM engine (vllm-0.4, vllm-0.7): every step ran eager, with no CUDA "
        "graphs (vLLM's enforce_eager=True, or a release before graphs, 0.2.5 and older). None: the engine's graphs.",
    )
    tokens: TrainingSize | None = Field(default=None, description="Training: tokens seen (AR).")
    samples: TrainingSize | None = Field(default=None, description="Training: samples seen (diffusion).")
    context: TokenCount | None = Field(
        default=None, description="Training: sequence length in tokens (AR; default: the model's)."
    )


class Entry(Strict):
    """One published measurement. ``hardware``/``model`` null = documentation only (not scored)."""

    id: str = Field(description="Unique id.")
    family: str = Field(description=f"Which summary the entry counts in: {', '.join(FAMILIES)}.")
    metric: Literal[
        "latency_s", "throughput_items_per_s", "gpu_hours", "tokens_per_s", "itl_s", "steps_per_s", "loop_s"
    ] = Field(
        description="What was measured: seconds per call, items per second, GPU-hours of a training run, the "
        "tokens per second of a text decoder's generation (generated tokens / the whole call, prefill included), "
        "its inter-token latency (seconds per generated token after the first: decode only, prefill excluded), a "
        "diffusion pipeline's denoising iterations per second as its progress bar prints them (it/s: sampling steps / "
        "the denoising loop's time; text encoders, VAE decode and pipeline set-up excluded), or the seconds of a "
        "call's generation loop alone (a diffusion model's denoising steps, a next-scale model's scales: text "
        "encoders, VAE decode and pipeline set-up excluded)."
    )
    measured: Measured = Field(description="The published figure, in the metric's unit.")
    model: str | None = Field(description="Model preset id (null: no preset, documentation only).")
    hardware: str | None = Field(description="Hardware preset id (null: GPU unknown, documentation only).")
    engine: Engine = Field(description="The engine profile that prices it.")
    conditions: Conditions = Field(description="What the source states about the run.")
    open: list[str] = Field(default=[], description="Conditions the source leaves open, and what the entry assumes.")
    source: str = Field(description="Where the figure is published.")
    quote: str = Field(default="", description="The figure as the source prints it.")
    notes: str = Field(default="", description="Free text.")
    exclude_reason: str | None = Field(
        default=None,
        description="Keeps the entry as documentation; must be about the source or an unmodelled "
        "condition, never the fit.",
    )
    architecture: Architecture | None = Field(
        default=None,
        description="A text-only decoder with no model preset (a training run, priced by the same 6ND formula, "
        "or a tokens_per_s / itl_s decode figure, priced by the AR formulas): its published architecture.",
    )
    architecture_source: str | None = Field(default=None, description="Where the architecture is published.")
    model_type: str | None = Field(
        default=None,
        description="A bare decoder run through transformers: the model_type of its config.json (llama, qwen2, opt, "
        "...), whose decoder layer's eager kernel launches price its host time (counted per type: "
        "tokcost/data/generated/elementwise_passes.yaml decoders.by_model_type). None: not stated, the presets' "
        "reference layer (transformers' Llama with SDPA), whatever the attention.",
    )

    @field_validator("family")
    @classmethod
    def _known_family(cls, v: str) -> str:
        check_known([v], FAMILIES)
        return v


class FamilyThresholds(Strict):
    """A family's own limits, where they are tighter than the whole set's."""

    median_rel_err: PosFloat | None = Field(default=None, description="Largest median relative error.")
    worst_factor: Annotated[float, Field(gt=1), NOT_BOOL] | None = Field(
        default=None, description="Largest worst-case factor."
    )


class Thresholds(Strict):
    """The gate of ``tokcost validate``: exit 1 when a scored family breaches it."""

    median_rel_err: PosFloat = Field(description="Largest median relative error |pred - meas| / meas.")
    worst_factor: Annotated[float, Field(gt=1), NOT_BOOL] = Field(
        description="Largest worst-case factor max(r, 1/r), r = pred / meas."
    )
    apply_to: list[str] = Field(description="The summaries gated: all entries together, and each family.")
    families: dict[str, FamilyThresholds] = Field(
        default={}, description="Tighter limits for a family (e.g. the multi-GPU family's worst case)."
    )
    held_out: bool = Field(default=True, description="Gate the leave-one-source-out errors too.")
    note: str = Field(default="", description="Free text.")

    @field_validator("apply_to")
    @classmethod
    def _known_summaries(cls, v: list[str]) -> list[str]:
        check_known(v, FAMILIES, wildcard="all")
        return v
