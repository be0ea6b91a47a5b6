"""The result of ``tokcost train``: training compute, time and cost of one model on one kind of GPU."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tokcost.records.estimate import LowHigh
from tokcost.records.prices import PriceBasis, PriceQuote, StalePrice, Unpriced

SCHEMA_VERSION = 2  # 2: the price basis, an unpriced chip and old prices as typed facts, not sentences


# defer_build: pydantic builds these records' validators on first use, not when tokcost.api imports this module
# for its annotations (`tokcost analyze` imports it and never uses them: tests/test_startup.py)
class TrainResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: int = SCHEMA_VERSION
    model: str = Field(description="Model preset id.")
    hardware: str = Field(description="Hardware preset id.")
    gpus: int = Field(description="GPUs training together.")
    mfu: float = Field(description="Model FLOPs utilisation used (0-1).")
    flops: float = Field(description="Training compute in FLOPs.")
    gpu_hours: float = Field(description="GPU-hours at that MFU.")
    gpu_hours_band: LowHigh = Field(description="GPU-hours at the high and low ends of the hardware's MFU range.")
    days: float = Field(description="Wall-clock days on `gpus` GPUs.")
    cost_usd: float | None = Field(description="USD at the GPU-hour price (null: not priced).")
    price_usd_per_gpu_hour: float | None = Field(description="USD per GPU-hour used (null: not priced).")
    price: PriceQuote | None = Field(
        default=None,
        description="The GPU-hour price with its provider, commitment, date and source (null: not priced).",
    )
    price_basis: PriceBasis | None = Field(default=None, description="How the price was chosen.")
    unpriced: Unpriced | None = Field(
        default=None, description="The chip has no price under the basis (the fix in words: the table)."
    )
    stale_prices: list[StalePrice] = Field(default=[], description="The price used was read more than 6 months ago.")
    notes: list[str] = Field(
        default=[], description="What the reader should know about the figures (prices: unpriced, stale_prices)."
    )
    tokens: float | None = Field(description="AR: training tokens.")
    context: int | None = Field(
        default=None, description="AR: training context in tokens (attention's FLOPs grow with it)."
    )
    attention_share: float | None = Field(
        default=None, description="AR: the share of the training FLOPs in attention scores at that context (0-1)."
    )
    samples: float | None = Field(description="Diffusion: training samples.")
    samples_basis: Literal["given", "published", "break_even"] | None = Field(
        default=None,
        description="Diffusion: where the sample count comes from: given, the model's published run, or break_even "
        "(the count at which its training compute equals break_even_with's, when it publishes none).",
    )
    break_even_with: str | None = Field(
        default=None, description="Diffusion, break_even: the model whose training compute the samples match."
    )
    sample_width: int | None = Field(default=None, description="Diffusion: the width each sample is priced at.")
    sample_height: int | None = Field(default=None, description="Diffusion: the height each sample is priced at.")


class TrainComparison(BaseModel):
    """``tokcost train`` with several models: each one's training run on the same hardware, priced alike."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: int = SCHEMA_VERSION
    runs: list[TrainResult] = Field(description="One training run per model, in the order given.")
