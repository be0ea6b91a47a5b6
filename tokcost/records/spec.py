"""The product spec: what a team wants to build, its demand and its budget (``version: 1``).

Checks that need more than one field or the presets (kind-specific fields, preset ids) are
:func:`tokcost.io.specs.semantic_problems`, run when a spec file is loaded."""

import re
from collections.abc import Sequence
from pathlib import PurePath
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from tokcost.records.base import NOT_BOOL, NOT_TINY, Int, Strict
from tokcost.records.engines import EngineName
from tokcost.records.presets import Architecture
from tokcost.records.prices import MAX_USD_PER_GPU_HOUR, Commitment

SPEC_VERSION = 1
MAX_SIDE_PX = 8192  # larger than any preset serves; per-model limits are checked against the presets
MAX_FRAMES = 10_000  # frames per clip: a 10-minute clip at 16 fps, beyond any preset's
Engine = EngineName  # a name of the engine table, checked against it when a spec is loaded (tokcost.io.specs)
Precision = Literal["bf16", "fp16", "fp8", "int8", "int8-wo", "int4"]
VaePrecision = Literal["fp32", "fp16", "bf16"]
VAE_PRECISION_HELP = (
    "The VAE decoder's type: fp32 | fp16 | bf16. Default: the pipeline's, its 16-bit type (fp16 when --precision "
    "is fp16, else bf16), or fp32 where diffusers upcasts an fp16 VAE (SDXL's, force_upcast); fp16 prices SDXL with "
    "a 16-bit VAE such as madebyollin/sdxl-vae-fp16-fix."
)

Side = Annotated[int, Field(ge=16, le=MAX_SIDE_PX), NOT_BOOL]


class Product(Strict):
    """What is generated, at what size."""

    kind: Literal["image", "video", "perception"] = Field(
        description="What the product makes: an image, a video clip, or an answer about an image (perception)."
    )
    width: Side = Field(description="Width of the image or video frame in pixels.")
    height: Side = Field(description="Height of the image or video frame in pixels.")
    frames: Annotated[int, Field(ge=1, le=MAX_FRAMES), NOT_BOOL] | None = Field(
        default=None, description="Video only: frames per clip (or give seconds with fps)."
    )
    fps: Annotated[float, Field(gt=0, le=240, allow_inf_nan=False), NOT_BOOL] | None = Field(
        default=None, description="Video only: frames per second, with seconds."
    )
    seconds: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False), NOT_BOOL] | None = Field(
        default=None, description="Video only: clip length in seconds, with fps."
    )
    prompt_tokens: Annotated[int, Field(ge=1, le=131_072), NOT_BOOL] | None = Field(
        default=None,
        description="Prompt length in tokens: the caption an AR model is conditioned on, or the "
        "question of a perception product (default: each model's typical prompt).",
    )
    answer_tokens: Annotated[int, Field(ge=1, le=32_768), NOT_BOOL] | None = Field(
        default=None, description="Perception only: answer length in tokens."
    )
    quality_tier: Literal["draft", "standard", "premium"] = Field(
        default="standard",
        description="Lowest acceptable published quality score (docs/methodology.md, "
        '"Quality tiers"); draft accepts any model that serves the kind.',
    )
    steps: Annotated[int, Field(ge=1, le=1000), NOT_BOOL] | None = Field(
        default=None, description="Diffusion sampling steps (default: each model's own)."
    )

    def frame_count(self) -> int | None:
        if self.kind != "video":
            return None
        if self.frames is not None:
            return self.frames
        seconds, fps = self.seconds, self.fps
        if seconds is None or fps is None:  # refused at load (io.specs.semantic_problems)
            raise ValueError("a video product needs frames, or seconds with fps")
        return max(1, round(seconds * fps))


class TraceSummary(BaseModel):
    """What tokcost derived from ``demand.trace`` (docs/methodology.md, "Recorded traffic")."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="The trace as the spec names it.")
    requests: int = Field(description="Requests in the trace.")
    hours_observed: int = Field(description="Clock hours from the first request's to the last's.")
    requests_per_day: float = Field(description="Derived: the sum of the hourly curve (requests per day).")
    hourly: list[float] = Field(description="Derived: mean requests in each hour of the day (24 values).")
    peak_per_s: float = Field(description="Derived: the busiest hour of the day's mean rate (requests/s).")
    burstiness: float | None = Field(
        description="Derived: squared coefficient of variation of the times between requests within an hour, "
        "normalised by the hour's rate (None: fewer than 100 such gaps; Poisson is assumed)."
    )
    unobserved_hours: list[int] = Field(description="Hours of the day the trace never covers (given the mean).")
    sizes: dict[str, list[float]] = Field(description="Per-request size columns: [mean, 95th percentile].")


class Demand(Strict):
    """How many requests arrive."""

    _trace: TraceSummary | None = PrivateAttr(default=None)  # filled by the loader from demand.trace
    _trace_path: str | None = PrivateAttr(default=None)  # the trace file, resolved against the spec's folder

    requests_per_day: Annotated[float, Field(gt=0, le=1e11, allow_inf_nan=False), NOT_BOOL, NOT_TINY] | None = Field(
        default=None, description="Mean demand in requests per day (required unless trace gives it)."
    )
    peak_to_mean: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False), NOT_BOOL] = Field(
        default=1.0,
        description="Peak request rate over the mean rate (a ratio); without hourly, the day follows the default "
        'shape with this peak (docs/methodology.md, "Demand over the day").',
    )
    hourly: list[Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False), NOT_BOOL]] | None = Field(
        default=None,
        min_length=24,
        max_length=24,
        description="Relative demand in each hour of the day, 24 non-negative weights with a positive sum (scaled "
        "to requests_per_day; the busiest hour is the peak, so peak_to_mean is not used).",
    )
    min_replicas: Annotated[int, Field(ge=0, le=1_000_000), NOT_BOOL] = Field(
        default=1, description="The fewest replicas an autoscaled fleet keeps running (0: it may scale to zero)."
    )
    arrivals: Literal["poisson", "bursty"] = Field(
        default="poisson",
        description="How requests arrive within an hour: poisson (independent arrivals) or bursty (a renewal "
        'process with the squared coefficient of variation burstiness; docs/methodology.md, "Bursty arrivals").',
    )
    burstiness: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False), NOT_BOOL, NOT_TINY] | None = Field(
        default=None,
        description="With arrivals: bursty, the squared coefficient of variation of the times between requests "
        "(a ratio, variance over squared mean; 1 is Poisson, 4 much burstier, below 1 smoother).",
    )
    trace: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        default=None,
        description="A CSV of recorded requests, relative to the spec's folder: a timestamp column (seconds, or ISO "
        "8601 times) and optional per-request prompt_tokens, answer_tokens, frames; requests_per_day, hourly and "
        'burstiness are derived from it (docs/methodology.md, "Recorded traffic").',
    )
    scaling: Literal["fixed", "autoscaled"] = Field(
        default="fixed",
        description="Which fleet ranks the candidates: fixed (sized for the peak, all day) or autoscaled (follows "
        "the hourly demand); reports show both.",
    )

    @property
    def per_day(self) -> float:
        """Requests per day, given or derived from the trace (the loader refuses a spec with neither)."""
        if self.requests_per_day is None:
            raise ValueError("demand needs requests_per_day or trace")
        return self.requests_per_day

    @property
    def scv(self) -> float:
        """The squared coefficient of variation of the inter-arrival times the queue is sized for."""
        return self.burstiness if self.arrivals == "bursty" and self.burstiness is not None else 1.0

    @property
    def trace_summary(self) -> TraceSummary | None:
        return self._trace

    @property
    def trace_path(self) -> str | None:
        return self._trace_path


class Budget(Strict):
    """The limits a recommendation must meet."""

    latency_s: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False), NOT_BOOL, NOT_TINY] = Field(
        description="Latency budget per request in seconds, end to end at peak load (queueing and waiting for a "
        "batch to form included), met at latency_percentile."
    )
    latency_percentile: Annotated[float, Field(ge=50, le=99.9, allow_inf_nan=False), NOT_BOOL] = Field(
        default=95, description="The percentile of requests that must meet latency_s (50-99.9)."
    )
    cost_per_item_usd: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False), NOT_BOOL, NOT_TINY] | None = Field(
        default=None, description="Cost budget in USD per generated item, the fleet's cost spread over the demand."
    )
    monthly_usd: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False), NOT_BOOL, NOT_TINY] | None = Field(
        default=None, description="Cost budget in USD per month for the whole fleet."
    )
    redundancy: Literal["none", "n+1"] = Field(
        default="none",
        description="none: the fewest replicas that meet the percentile; n+1: one replica more, so that the "
        "percentile holds with one replica down.",
    )


LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$"  # no '/': simulate --candidate reads MODEL/HARDWARE/ENGINE


class ArchitectureCandidate(Strict):
    """A decoder that has no preset, read from its Hugging Face ``config.json`` (:mod:`tokcost.io.architecture`),
    priced with an AR preset's visual tokenizer, sampling and roles (what ``estimate --architecture`` prices)."""

    _decoder: Architecture | None = PrivateAttr(default=None)  # filled by the loader from config

    config: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="A Llama-style decoder's Hugging Face config.json, relative to the spec's folder (layers, hidden "
        "size, heads, KV heads, intermediate size, vocabulary, context)."
    )
    model: str = Field(
        description="The AR model preset whose visual tokenizer, sampling and roles the decoder is priced with."
    )
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=LABEL_PATTERN)] | None = Field(
        default=None,
        description="The candidate's name in reports (default: MODEL@FOLDER for a file named config.json, else "
        "MODEL@FILE without .json).",
    )

    @property
    def label(self) -> str:
        """The name the candidate goes by: ``name``, else the model and the config's folder (or file) name."""
        if self.name is not None:
            return self.name
        path = PurePath(self.config)
        stem = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
        return f"{self.model}@{re.sub(r'[^A-Za-z0-9._+-]', '-', stem) or 'config'}"

    @property
    def decoder(self) -> Architecture | None:
        """The decoder read from ``config`` (None until the spec's loader read it)."""
        return self._decoder


class Candidates(Strict):
    """What to consider (default: everything that can serve the product)."""

    models: list[str] | None = Field(
        default=None,
        description="Model preset ids (default: every model that serves the product's kind; [] for none, to price "
        "only the architectures).",
    )
    architectures: list[ArchitectureCandidate] = Field(
        default=[],
        description="Decoders with no preset, each from its Hugging Face config.json and priced with an AR preset's "
        "visual tokenizer and sampling, besides the models.",
    )
    hardware: list[str] | None = Field(
        default=None, min_length=1, description="Hardware preset ids, one GPU each (default: every priced preset)."
    )
    gpus_per_replica: list[Annotated[int, Field(ge=1, le=1024), NOT_BOOL]] = Field(
        default=[1, 2, 4, 8],
        min_length=1,
        description="Replica sizes to consider: GPUs splitting each forward (tensor parallelism for AR models, CFG "
        "and sequence parallelism for diffusion), within one server's scale-up domain; [1] for one GPU per replica.",
    )
    engines: list[Engine] | None = Field(
        default=None,
        min_length=1,
        description="Serving engines (default: every current engine that serves the model's family; a dated profile "
        "such as vllm-0.11 only when listed).",
    )
    precision: Precision = Field(default="bf16", description="Weight precision of every candidate.")
    vae_precision: VaePrecision | None = Field(default=None, description=VAE_PRECISION_HELP)


UsdPerGpuHour = Annotated[float, Field(gt=0, le=MAX_USD_PER_GPU_HOUR, allow_inf_nan=False), NOT_BOOL]


class Owned(Strict):
    """Hardware you own instead of renting: its cost per GPU-hour is capex / (years x 8,760 h) + TDP x PUE x power
    price + hosting (docs/methodology.md, "Price basis")."""

    capex_usd_per_gpu: Annotated[float, Field(gt=0, le=1e7, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Purchase price per GPU in USD, its share of the server and network included."
    )
    amortization_years: Annotated[float, Field(ge=0.25, le=20, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Years over which the purchase is spread (straight line, no residual value)."
    )
    power_usd_per_kwh: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False), NOT_BOOL] = Field(
        description="Electricity price in USD per kWh."
    )
    pue: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False), NOT_BOOL] = Field(
        default=1.0, description="Power usage effectiveness of the datacentre: facility power over IT power."
    )
    hosting_usd_per_gpu_hour: Annotated[float, Field(ge=0, le=MAX_USD_PER_GPU_HOUR, allow_inf_nan=False), NOT_BOOL] = (
        Field(default=0.0, description="Colocation, staff and other running costs per GPU-hour in USD.")
    )
    hardware: list[str] | None = Field(
        default=None,
        min_length=1,
        description="The hardware ids you own (default: every candidate); the others are rented under the basis.",
    )


class Pricing(Strict):
    """Which price each GPU-hour is costed at (default: on-demand, the lowest among the catalogue's GPU clouds
    and hyperscalers that rent the GPU)."""

    provider: str | None = Field(
        default=None,
        description="Price every GPU at this provider of the catalogue (`tokcost prices`); default: the lowest "
        "among the hyperscalers and GPU clouds that rent it (marketplaces left out).",
    )
    commitment: Commitment = Field(
        default="on_demand", description="on_demand, 1yr or 3yr (reserved or committed use), or spot."
    )
    usd_per_gpu_hour: dict[str, UsdPerGpuHour] = Field(
        default_factory=dict,
        description="Your own price per hardware id in USD per GPU-hour (a contract); wins over the catalogue and "
        "owned; --price on the command line wins over it.",
    )
    owned: Owned | None = Field(default=None, description="Hardware you own instead of renting.")


def _printable(text: str) -> str:
    """A name every report prints as it is: no newline, tab, escape or other control character."""
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u2028\u2029" for ch in text):
        raise ValueError("control characters (newline, tab, escape, NUL) are not allowed in a name")
    return text


class Spec(Strict):
    version: Int = Field(description="Spec format version; this tokcost reads version 1.")
    name: Annotated[str, AfterValidator(_printable)] = Field(
        min_length=1, max_length=200, description="Product name, shown in reports (no control characters)."
    )
    description: str = Field(default="", description="Free text about the product.")
    product: Product = Field(description="What is generated, at what size.")
    demand: Demand = Field(description="How many requests arrive.")
    budget: Budget = Field(description="The limits a recommendation must meet.")
    candidates: Candidates = Field(default=Candidates(), description="What to consider.")
    pricing: Pricing = Field(default=Pricing(), description="Which price each GPU-hour is costed at.")


def spec_json_schema(engines: Sequence[str] = ()) -> dict:
    """The spec's JSON Schema; ``engines`` (the loaded engine table's names) become the choices of
    ``candidates.engines``, which the record leaves to the table."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Spec.model_json_schema(),
        "title": f"tokcost product spec (version {SPEC_VERSION})",
    }
    if engines:
        schema["$defs"]["Candidates"]["properties"]["engines"]["anyOf"][0]["items"]["enum"] = list(engines)
    return schema
