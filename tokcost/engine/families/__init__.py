"""The generation families' physics, one module each, behind one protocol (:class:`Family`).

A family says what an item is made of (tokens or latents, :meth:`Family.tokens`), how many passes make it and
what each pass costs (FLOPs, bytes, KV cache, collectives; :meth:`Family.price`), what it holds in memory, the
guidance modes it runs and how a replica of several GPUs splits it. :mod:`tokcost.engine.estimate` prices any
family through this protocol and never asks which one it has. Each module of this package defines ``FAMILY``;
:data:`FAMILIES` finds them with :mod:`pkgutil` and pairs each with its record schema
(:mod:`tokcost.records.families`), so a new family is a module here and one there, its presets and its tests.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tokcost.engine.tokens import TokenCount
from tokcost.records.families import FAMILIES as SCHEMAS
from tokcost.records.families import FamilySchema
from tokcost.records.presets import HardwarePreset, ModelPreset

if TYPE_CHECKING:
    from tokcost.engine.config import Config
    from tokcost.engine.profiles import Efficiency


# A step is reported overhead-bound when host launches, kernel gaps and fixed costs make it this much slower than
# its FLOPs or bytes (a reporting threshold for the "limited by overheads" remark, not a model parameter).
OVERHEAD_BOUND_FACTOR = 1.5


@dataclass(frozen=True)
class Work:
    """What a family prices: the configuration, the chip (scalars, or columns of a stacked grid) and what the
    engine resolved for it (the role, the guidance mode, the size, the replica's split)."""

    cfg: Config
    model: ModelPreset
    eff: Efficiency
    P: Any  # dense FLOP/s at the precision
    P_attn: Any  # FLOP/s of the fused attention kernels (the pipeline's 16-bit type)
    P_text: Any  # FLOP/s of the text encoders (the pipeline's 16-bit type)
    P_vae: Any  # FLOP/s of the VAE decoder (its own type: fp32 where the pipeline upcasts it)
    score_rate: Any  # scores/s through the attention softmax's own work (inf: not known; physics.softmax_rate)
    head_step: Any  # head-dim step of the chip's attention kernel (physics.flash_head_step)
    BW: Any  # bytes/s
    wbytes: float  # bytes per weight held in memory (the time to read them: physics.weight_read_bytes)
    batch: Any  # items per call
    branches: float  # guidance branches in one batch (2: batched CFG)
    passes: float  # forwards per step (2: unbatched CFG)
    width: Any
    height: Any
    role: str
    cfg_degree: Any  # GPUs groups the guidance branches split over (1 or 2)
    split: Any  # the other parallel degree (tensor- or sequence-parallel) within a group
    ring: Any  # GPUs per ring of ring attention within the sequence split (1: none)
    link: tuple  # (seconds of a small collective, bytes/s of a large one) on the scale-up link
    send: Any  # bytes/s of one send between two GPUs of the link (ring attention's K and V)
    l2: tuple  # (resident bytes, in-cache bytes/s, seconds per kernel) of element-wise kernels
    # which chip prices which rows: (True or a boolean column of a stacked grid, its preset), for the families
    # that look up a chip's measured kernel tables (Config.kernels)
    chips: tuple[tuple[Any, HardwarePreset], ...] = ()


@dataclass(frozen=True)
class Memory:
    """Bytes resident on each GPU of a replica, by part."""

    weights: Any
    kv_cache: Any
    activations: Any
    workspace: Any

    @property
    def total(self) -> Any:
        return self.weights + self.kv_cache + self.activations + self.workspace

    def parts(self) -> dict[str, Any]:
        """Part -> bytes, ``total`` last (the order reports list them in)."""
        return {
            "weights": self.weights,
            "kv_cache": self.kv_cache,
            "activations": self.activations,
            "workspace": self.workspace,
            "total": self.total,
        }


@dataclass(frozen=True)
class Decode:
    """A request of a family that decodes token by token, as continuous batching schedules it: a prefill of
    ``prompt_tokens``, then ``forwards`` decode steps."""

    prefill_s: Any
    decode_s: Any
    prompt_tokens: Any
    forwards: Any


@dataclass(frozen=True)
class Priced:
    """A family's answer for one configuration (arrays over a grid): the latency and its parts, what bound it,
    the work done and the memory held."""

    latency_s: Any
    breakdown_s: Mapping[str, Any]  # the latency's parts, by the family's own names (prefill, denoise, ...)
    breakdown_precision: Mapping[str, str]  # the precision each part runs at
    bound: Any  # "compute" | "memory" per configuration
    overhead_bound: Any  # host launches and fixed costs dominate the passes
    communication_s: Any  # seconds in collectives (multi-GPU replicas)
    tokens: Mapping[str, Any]  # what an item is made of, by the family's own names
    flops: Any  # the whole replica's FLOPs per call
    bytes: Any  # the whole replica's bytes moved per call
    memory: Memory
    padded_width: Any  # the size priced, each side rounded up to whole tokens or latents
    padded_height: Any
    steps: Any = None  # sampling steps (None: the family takes none)
    decode: Decode | None = None  # set by the families a continuous-batching engine schedules step by step


class Family(Protocol):
    """The protocol every generation family implements."""

    schema: FamilySchema
    # how a replica's split is labelled, by (guidance branches split?, split further?)
    parallelism_labels: np.ndarray
    parallelisms: tuple[str, ...]  # the --parallelism values it takes
    # True: every engine runs the model's own sampling loop (compiling the network, not the loop), so guidance the
    # loop runs as two calls stays two calls; False: an optimised engine batches the two branches
    loop_keeps_cfg: bool
    # the estimate options of decoding a token sequence step by step that its pricing reads (an estimate that sets
    # one the family does not read is refused, not priced as if it had not been given)
    decode_options: frozenset[str]
    # the estimate options of how a pipeline ran (not of a decode) that its pricing reads, refused likewise: autocast
    pipeline_options: frozenset[str]

    def cfg_mode(self, model: ModelPreset) -> str:
        """The model's own guidance mode: batched, unbatched or off."""
        ...

    def replica_problem(
        self, model: ModelPreset, gpus: int, parallelism: str | None, cfg_mode: str, ring: int | None = None
    ) -> str | None:
        """Why the model cannot run as one replica of ``gpus`` GPUs split by ``parallelism`` (None: the family's
        default) with ``ring`` GPUs in each ring of ring attention (None: the family's choice), beyond the chip's
        own limits, or None."""
        ...

    def split(
        self, model: ModelPreset, gpus: np.ndarray, parallelism: str | None, mode: str, ring: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(guidance degree, the other degree, GPUs per ring of ring attention within it: 1 without rings) per
        replica size (sizes already checked)."""
        ...

    def price(self, w: Work) -> Priced:
        """Latency, work and memory of one call."""
        ...

    def tokens(
        self, model: ModelPreset, width: int, height: int, frames: int | None, prompt_tokens: int | None, pad: bool
    ) -> TokenCount:
        """Exact token counts of one item."""
        ...

    def context_excess(self, model: ModelPreset, tokens: Mapping[str, float]) -> tuple[float, int] | None:
        """(tokens in the sequence, trained context) when longer than the model was trained at, else None."""
        ...

    def precision_note(self, model: ModelPreset, precision: str, vae_precision: str | None = None) -> str:
        """What a weight precision other than 16-bit applies to (``vae_precision``: the VAE's type, when chosen)."""
        ...

    def pricing_note(self, cfg: Config) -> str:
        """Which path priced ``cfg``'s operators (one chip): a measured kernel table (whose) or the sourced
        roofline (peak x efficiency), and why."""
        ...

    def training(self, model: ModelPreset, work: TrainingWork) -> TrainingFlops:
        """Training FLOPs of the run ``work`` describes (or a UsageError naming what is missing)."""
        ...


@dataclass(frozen=True)
class TrainingWork:
    """What ``tokcost train`` was asked for; each family reads what it trains on."""

    tokens: float | None = None
    samples: float | None = None
    context: int | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None


@dataclass(frozen=True)
class TrainingFlops:
    flops: float
    notes: list[str] = field(default_factory=list)  # before the MFU note
    late_notes: list[str] = field(default_factory=list)  # after it
    extra: dict = field(default_factory=dict)  # the TrainResult fields of the family (context, samples_basis, ...)
    samples: float | None = None  # the samples priced (a published count when none was given)


class OneGpu:
    """What the families whose published code runs a replica on one GPU share (masked decoding, next-scale,
    masked autoregression): no split of a replica, guidance batched or off as the model's section says.
    ``one_gpu_work`` words what the replica does (``"{model} <one_gpu_work> on one GPU"``)."""

    schema: FamilySchema
    one_gpu_work: str
    parallelism_labels = np.array([["none", "none"], ["none", "none"]])
    parallelisms: tuple[str, ...] = ()
    loop_keeps_cfg = False  # its guidance is batched or off, never two calls
    decode_options: frozenset[str] = frozenset()
    pipeline_options: frozenset[str] = frozenset()
    guidance_modes = {"batched": "batched", "none": "off"}  # the section's ``cfg`` as a mode

    def cfg_mode(self, model: ModelPreset) -> str:
        return self.guidance_modes[self.schema.section_of(model).cfg]

    def replica_problem(
        self, model: ModelPreset, gpus: int, parallelism: str | None, cfg_mode: str, ring: int | None = None
    ) -> str | None:
        return f"{model.id} {self.one_gpu_work} on one GPU: no multi-GPU implementation of its family is published"

    def split(
        self, model: ModelPreset, gpus: np.ndarray, parallelism: str | None, mode: str, ring: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.ones_like(gpus), gpus, np.ones_like(gpus)


def roofline_note(who: str) -> str:
    """The pricing note of a family whose operators the kernel tables never price."""
    return f"operators priced on the sourced roofline (peak x efficiency); {who} does not use the kernel tables"


def _discover() -> dict[str, Family]:
    found: dict[str, Family] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        family: Family = importlib.import_module(f"{__name__}.{info.name}").FAMILY
        found[family.schema.name] = family
    missing = sorted(set(SCHEMAS) ^ set(found))
    if missing:
        raise ValueError(f"a family needs both a record schema and its physics: {', '.join(missing)}")
    return found


FAMILIES: dict[str, Family] = _discover()


def family_of(model: ModelPreset) -> Family:
    """The physics of ``model``'s family."""
    return FAMILIES[model.family]


def model_tokens(
    model: ModelPreset,
    width: int,
    height: int,
    frames: int | None = None,
    prompt_tokens: int | None = None,
    pad: bool = False,
) -> TokenCount:
    """Exact token counts of one item under ``model``'s own tokenizer or VAE (its family's arithmetic)."""
    return family_of(model).tokens(model, width, height, frames, prompt_tokens, pad)


def context_excess(model, tokens) -> tuple[float, int] | None:
    """(tokens in the sequence, trained context) when the sequence of an item (``tokens``: its counts, as
    :func:`model_tokens` or an estimate gives them) is longer than the context the model was trained at (its
    position embeddings and attention were never trained beyond it); None when it fits or the family has none."""
    return family_of(model).context_excess(model, tokens)


def context_problem(model, tokens) -> str | None:
    """:func:`context_excess` in words (for the commands that refuse such a sequence)."""
    excess = context_excess(model, tokens)
    if excess is None:
        return None
    (total, limit), prompt, generated = excess, float(tokens["prompt"]), float(tokens["generated"])
    return (
        f"the sequence is {total:,.0f} tokens ({prompt:,.0f} prompt + {generated:,.0f} generated), beyond "
        f"{model.id}'s trained context of {limit:,} tokens"
    )
