"""The result of ``tokcost estimate``: one configuration priced. Its JSON keys are a contract."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tokcost.records.prices import PriceBasis, PriceQuote, StalePrice, Unpriced

SCHEMA_VERSION = 2  # 2: the price basis, an unpriced chip and old prices as typed facts, not sentences


class LowHigh(BaseModel):
    """The optimistic (``low``) and pessimistic (``high``) ends of a figure's band."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    high: float


class EstimateResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    model: str = Field(description="Model preset id.")
    family: str = Field(description="The generation family (tokcost.records.families).")
    hardware: str = Field(description="Hardware preset id (of each GPU).")
    gpus: int = Field(default=1, description="GPUs in the replica that serves one batch.")
    parallelism: str = Field(
        default="none", description="How the replica splits each forward: none | tp | sp | cfg | cfg+sp."
    )
    engine: str = Field(description="eager | compiled | vllm | vllm-0.4.")
    attention: str | None = Field(
        default=None, description="Diffusion: the attention kernel priced, sdpa | fa2 | fa3 (null for AR models)."
    )
    kv_dtype: str | None = Field(default=None, description="AR: the KV cache's type, bf16 | fp8 (null for diffusion).")
    host_speed: float = Field(
        default=1.0,
        description="Single-thread speed of the CPU launching the kernels, relative to the DGX A100's EPYC 7742 "
        "(the hardware preset's typical server, or --host).",
    )
    precision: str = Field(description="Weight precision.")
    role: str = Field(description="What the model does here: image | video | perception.")
    width: int = Field(description="Width in pixels.")
    height: int = Field(description="Height in pixels.")
    frames: int | None = Field(description="Video frames (null for an image).")
    batch: int = Field(description="Items generated together by the replica.")
    cfg: str = Field(description="Classifier-free guidance mode: batched | unbatched | off.")
    steps: int | None = Field(description="Diffusion steps (null for AR models).")
    latency_s: float = Field(description="Seconds for one batch, central estimate.")
    latency_s_band: LowHigh = Field(description="Seconds for one batch, optimistic and pessimistic ends.")
    throughput_items_per_s: float = Field(description="Items per second of the replica (all its GPUs).")
    throughput_items_per_s_band: LowHigh
    cost_usd_per_item: float | None = Field(description="USD per item at full utilisation (null: not priced).")
    price: PriceQuote | None = Field(
        default=None,
        description="The GPU-hour price the cost uses: provider, commitment, date, source (null: not priced).",
    )
    price_basis: PriceBasis | None = Field(default=None, description="How the price was chosen.")
    unpriced: Unpriced | None = Field(
        default=None, description="The chip has no price under the basis (the fix in words: the table)."
    )
    stale_prices: list[StalePrice] = Field(default=[], description="The price used was read more than 6 months ago.")
    scope: Literal["single_busy_replica"] = Field(
        default="single_busy_replica",
        description="What the figures cover: one replica busy all the time (no queueing, no idle hours, no peak); "
        "`tokcost analyze` sizes a fleet for a demand and prices its idle time.",
    )
    defaults_applied: dict[str, str | int] = Field(
        default={}, description="The inputs not given and the value used for each (engine, width, height, steps)."
    )
    notes: list[str] = Field(
        default=[], description="What the reader should know about the figures (prices: unpriced, stale_prices)."
    )
    warnings: list[str] = Field(default=[], description="What did not apply as asked: a calibration of other hardware.")
    cost_usd_per_item_band: LowHigh | None
    bound: str = Field(description="What limits the GPU work: compute | memory.")
    overhead_bound: bool = Field(description="Overheads (host launches, kernel gaps, per-step work) dominate the step.")
    floor_s: float = Field(description="Roofline floor in seconds: no latency can be below it.")
    breakdown_s: dict[str, float] = Field(description="Seconds per stage.")
    breakdown_precision: dict[str, str] = Field(
        default={},
        description="The precision each stage of breakdown_s with weights ran its linear and conv layers at: "
        "--precision for the denoiser or the AR decoder, 16-bit for text encoders and the VAE (attention is always "
        "16-bit).",
    )
    communication_s: float = Field(
        default=0.0, description="Seconds of the latency spent in collectives between the replica's GPUs."
    )
    tokens: dict[str, int | float] = Field(description="Token counts of one item.")
    memory_gb: dict[str, float] = Field(description="Memory on each GPU in GB (1e9 bytes) by use.")
    fits_in_memory: bool
    flops: float = Field(description="FLOPs of one batch.")
    calibration: str | None = Field(description="Calibration file used (null: the engine profile's factors).")
    fps: float | None = Field(default=None, description="Frames per second (informational).")
