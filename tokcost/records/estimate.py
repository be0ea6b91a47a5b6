"""``tokcost estimate``: what it is asked to price (:class:`EstimateRequest`, the one home of its parameters) and
the configuration priced (:class:`EstimateResult`, whose JSON keys are a contract)."""

import os
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tokcost.records.base import AttentionKernel
from tokcost.records.prices import PriceBasis, PriceQuote, StalePrice, Unpriced
from tokcost.records.spec import MAX_FRAMES, MAX_SIDE_PX, VAE_PRECISION_HELP, Precision, VaePrecision

SCHEMA_VERSION = 2  # 2: the price basis, an unpriced chip and old prices as typed facts, not sentences


# The ranges of the estimate's numbers, shared by the sweep's axes (a sweep prices many estimates).
Side = Annotated[int, Field(ge=16, le=MAX_SIDE_PX)]
Frames = Annotated[int, Field(ge=1, le=MAX_FRAMES)]
Steps = Annotated[int, Field(ge=1, le=1000)]
Batch = Annotated[int, Field(ge=1, le=65_536)]
Gpus = Annotated[int, Field(ge=1, le=1024)]
# a token count: bounded far above any real one, so that no argument overflows a float later
TokenCount = Annotated[int, Field(ge=1, le=1_000_000_000)]
# tokens accepted (or verified) per forward: at most a long generation's worth (more is meaningless and overflows)
PerForward = Annotated[float, Field(ge=1.0, le=65_536, allow_inf_nan=False)]
PRECISION_HELP = "Weight precision: bf16 | fp16 | fp8 | int8 (W8A8) | int8-wo | int4 (weight-only)."
AUTOCAST_HELP = (
    "Diffusion: the 16-bit pipeline runs under torch.autocast, as 2022 diffusers scripts wrapped pipe() in "
    "torch.autocast('cuda'): the math attention kernel's softmax then runs in fp32, 16 bytes of scores through "
    "memory per query-key pair and head instead of 8 (the norms' fp32 casts are not priced). Default: off."
)


def _path_text(value: object) -> object:
    """A file name given as an ``os.PathLike`` (a ``Path``) kept as the text it spells."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


# defer_build: pydantic builds these records' validators on first use, not when tokcost.api imports this module
# for its annotations (`tokcost analyze` imports it and never uses them: tests/test_startup.py)
class EstimateRequest(BaseModel):
    """One configuration to price: what ``tokcost estimate``'s flags and :func:`tokcost.estimate`'s keyword
    arguments say (``--tokens-per-forward`` is ``tokens_per_forward``). Each field carries its type, its range and
    its help: the command line's options are generated from these fields (``tokcost/cli/request_options.py``, by
    scripts/generate_request_options.py). ``None`` means the default the description names. ``engine`` is a name
    from the engine table (``tokcost/data/engines.yaml``), checked against it when the request is priced."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    model: str = Field(description="Model preset id.")
    hardware: str | None = Field(
        default=None, description="Hardware preset id (default: the calibration's measured device)."
    )
    width: Side | None = Field(default=None, description="Width in pixels (default: the model's native).")
    height: Side | None = Field(default=None, description="Height in pixels (default: native).")
    frames: Frames | None = Field(default=None, description="Video frames.")
    fps: Annotated[float, Field(ge=0.001, allow_inf_nan=False)] | None = Field(
        default=None, description="Frames per second (informational)."
    )
    steps: Steps | None = Field(default=None, description="Diffusion steps (default: the model's).")
    batch: Batch = Field(default=1, description="Items generated together (by the replica).")
    cfg: Literal["batched", "unbatched", "off"] | None = Field(
        default=None, description="batched | unbatched | off (default: the model's own mode)."
    )
    engine: str | None = Field(
        default=None,
        description="A serving engine from the engine table, tokcost/data/engines.yaml (such as eager, compiled, "
        "vllm; each entry names the model families it serves, and an unknown name is answered with the list of "
        "engines). Default: eager, and the result says so (analyze prices every engine).",
    )
    precision: Precision = Field(default="bf16", description=PRECISION_HELP)
    vae_precision: VaePrecision | None = Field(default=None, description=VAE_PRECISION_HELP)
    tokens_per_forward: PerForward = Field(
        default=1.0, description="AR: tokens accepted per forward (speculative/parallel decoding)."
    )
    draft_tokens: PerForward | None = Field(
        default=None,
        description="AR: positions each forward computes to verify a draft (its cost; default: --tokens-per-forward).",
    )
    prompt_tokens: TokenCount | None = Field(default=None, description="AR prompt tokens (perception: the question).")
    answer_tokens: TokenCount | None = Field(
        default=None, description="Perception: tokens in the answer (default 128)."
    )
    gpus: Gpus = Field(
        default=1,
        description="GPUs in one replica, within one server's scale-up domain (the hardware preset's scale_up.gpus).",
    )
    parallelism: Literal["tp", "sp", "cfg", "cfg+sp"] | None = Field(
        default=None,
        description="How the replica splits a forward: tp (AR) | sp | cfg | cfg+sp (diffusion). Default: tp for "
        "AR; for diffusion cfg first when guidance is batched and --gpus is even, the rest sp.",
    )
    ring_degree: Gpus | None = Field(
        default=None,
        description="Diffusion sequence parallelism: GPUs in each ring of ring attention (xDiT's --ring_degree, the "
        "ring dimension of USP and ParaAttention); the sequence-parallel GPUs split the heads Ulysses-style by the "
        "rest. Default: Ulysses alone where the heads divide by the GPUs, else the fewest per ring that let them "
        "divide over the rest.",
    )
    attention: AttentionKernel | None = Field(
        default=None,
        description="Diffusion and MAR attention kernel: sdpa (PyTorch's, FlashAttention-2 inside, as PyTorch "
        "2.0-2.10 ran it) | fa2 | fa3 (Hopper GPUs) | cudnn (SDPA's cuDNN backend, PyTorch 2.11+ on Hopper and "
        "Blackwell) | math (unfused: matmul, softmax, matmul, the scores through memory). Default: the engine's, sdpa.",
    )
    autocast: bool = Field(default=False, description=AUTOCAST_HELP)
    kv_dtype: Literal["bf16", "fp8"] = Field(
        default="bf16",
        description="AR KV cache: bf16 | fp8 (vLLM's kv_cache_dtype fp8: half the cache and its reads).",
    )
    host: Annotated[float, Field(ge=0.1, le=10.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Single-thread speed of the server's CPU relative to the DGX A100's EPYC 7742 (the DGX H100's "
        "Xeon 8480C: 1.23): eager kernel launches, the serving engine's per-step work and the diffusion loop run on "
        "it. Default: the hardware preset's typical server, else 1.",
    )
    architecture: Annotated[str, BeforeValidator(_path_text)] | None = Field(
        default=None,
        description="A Llama-style decoder's Hugging Face config.json: replaces --model's decoder (--model gives the "
        "visual tokenizer and sampling); refused when it does not fit the replica's memory.",
    )


class LowHigh(BaseModel):
    """The optimistic (``low``) and pessimistic (``high``) ends of a figure's band."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    low: float
    high: float


class EstimateResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: int = SCHEMA_VERSION
    model: str = Field(description="Model preset id.")
    family: str = Field(description="The generation family (tokcost.records.families).")
    hardware: str = Field(description="Hardware preset id (of each GPU).")
    gpus: int = Field(default=1, description="GPUs in the replica that serves one batch.")
    parallelism: str = Field(
        default="none",
        description="How the replica splits each forward: none | tp | sp | cfg | cfg+sp, a sequence split in "
        "rings followed by (ring R).",
    )
    engine: str = Field(description="The engine profile priced (its name in the engine table).")
    attention: str | None = Field(
        default=None,
        description="Diffusion and MAR: the attention kernel priced, sdpa | fa2 | fa3 | cudnn | math (null for AR "
        "models).",
    )
    kv_dtype: str | None = Field(default=None, description="AR: the KV cache's type, bf16 | fp8 (null for diffusion).")
    autocast: bool = Field(
        default=False,
        description="Whether the pipeline is priced as run under torch.autocast (--autocast; a diffusion pipeline's "
        "alone).",
    )
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
