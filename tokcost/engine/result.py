"""What the engine hands the core: :class:`EngineResult`, every figure of an estimate as arrays over the grid
priced (batches, sizes, chips x bands), and :class:`EngineRow`, one configuration of it as Python numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from tokcost.engine.families import Decode, Memory

Array: TypeAlias = np.ndarray
# the parts of a call outside its generation loop: encoding the prompt, decoding the latents, the pipeline's set-up
OUTSIDE_LOOP = ("text_encoders", "vae_decode", "pipeline")


@dataclass(frozen=True)
class MemoryRow:
    """Bytes resident on each GPU of a replica, by part, for one configuration."""

    weights: float
    kv_cache: float
    activations: float
    workspace: float
    total: float

    def parts(self) -> dict[str, float]:
        """Part -> bytes, ``total`` last (the order reports list them in)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DecodeRow:
    """A token-by-token decoder's request for one configuration (:class:`~tokcost.engine.families.Decode`)."""

    prefill_s: float
    decode_s: float
    prompt_tokens: float
    forwards: float


@dataclass(frozen=True)
class EngineRow:
    """One configuration of an :class:`EngineResult`: seconds, bytes, items per second, USD."""

    latency_s: float
    breakdown_s: dict[str, float]
    breakdown_precision: dict[str, str]
    bound: str
    overhead_bound: bool
    communication_s: float
    tokens: dict[str, float]
    flops: float
    bytes: float
    memory: MemoryRow
    fits_in_memory: bool
    throughput_items_per_s: float
    cost_usd_per_item: float
    floor_s: float
    padded_width: float
    padded_height: float
    steps: float | None
    decode: DecodeRow | None
    cfg_mode: str
    role: str
    peak_flops: float
    bandwidth: float
    gpus: float
    parallelism: str


@dataclass(frozen=True)
class EngineResult:
    """An estimate over a grid of configurations: every number an array (the grid's shape, or one that
    broadcasts to it), the guidance mode and role one string for the whole grid. ``memory`` and ``decode`` hold
    their parts; ``decode`` is set for the families continuous batching schedules step by step."""

    latency_s: Array  # seconds per call (a batch of ``batch`` items)
    breakdown_s: Mapping[str, Array]  # the latency's parts, by the family's names
    breakdown_precision: Mapping[str, str]
    bound: Array  # "compute" | "memory"
    overhead_bound: Array
    communication_s: Array
    tokens: Mapping[str, Array]  # what an item is made of, by the family's names
    flops: Array  # the whole replica's, per call
    bytes: Array
    memory: Memory  # bytes on each GPU, by part
    fits_in_memory: Array
    throughput_items_per_s: Array  # of the whole replica
    cost_usd_per_item: Array  # NaN: no price for the chip
    floor_s: Array  # the replica's FLOPs and bytes at its GPUs' peak
    padded_width: Array
    padded_height: Array
    steps: Array | None  # sampling steps (None: the family takes none)
    decode: Decode | None
    cfg_mode: str
    role: str
    peak_flops: Array
    bandwidth: Array
    gpus: Array
    parallelism: Array  # the replica's split: none, tp, sp, cfg, cfg+sp

    def gives(self, metric: str) -> bool:
        """Whether :meth:`measure` can state ``metric``: a steps_per_s figure needs a denoising loop, a loop_s
        figure a loop whose output a VAE decodes (a token-by-token decoder's call has no such split)."""
        if metric == "steps_per_s":
            return self.steps is not None and "denoise" in self.breakdown_s
        if metric == "loop_s":
            return "vae_decode" in self.breakdown_s
        return metric in ("latency_s", "throughput_items_per_s")

    def measure(self, metric: str) -> Array:
        """The figure a published measurement states: seconds per call, items per second, a diffusion loop's
        iterations per second as its progress bar prints them (sampling steps / the denoising time), or the
        seconds of the generation loop alone (the call less its text encoders, VAE decode and set-up)."""
        if not self.gives(metric):
            raise ValueError(f"an estimate gives no {metric}")
        if metric == "latency_s":
            return self.latency_s
        if metric == "throughput_items_per_s":
            return self.throughput_items_per_s
        if metric == "loop_s":
            return self.latency_s - sum(self.breakdown_s[k] for k in OUTSIDE_LOOP if k in self.breakdown_s)
        return self.steps / self.breakdown_s["denoise"]

    def row(self, i: int) -> EngineRow:
        """Configuration ``i`` (in C order over the grid) as Python numbers."""

        def at(x) -> Any:
            a = np.asarray(x)
            return a.item() if a.ndim == 0 else a.item(i)  # item(i): the i-th element in C order

        def each(m: Mapping[str, Any]) -> dict[str, Any]:
            return {k: at(v) for k, v in m.items()}

        mem = self.memory
        return EngineRow(
            latency_s=at(self.latency_s),
            breakdown_s=each(self.breakdown_s),
            breakdown_precision=dict(self.breakdown_precision),
            bound=str(at(self.bound)),
            overhead_bound=bool(at(self.overhead_bound)),
            communication_s=at(self.communication_s),
            tokens=each(self.tokens),
            flops=at(self.flops),
            bytes=at(self.bytes),
            memory=MemoryRow(
                weights=at(mem.weights),
                kv_cache=at(mem.kv_cache),
                activations=at(mem.activations),
                workspace=at(mem.workspace),
                total=at(mem.total),
            ),
            fits_in_memory=bool(at(self.fits_in_memory)),
            throughput_items_per_s=at(self.throughput_items_per_s),
            cost_usd_per_item=at(self.cost_usd_per_item),
            floor_s=at(self.floor_s),
            padded_width=at(self.padded_width),
            padded_height=at(self.padded_height),
            steps=None if self.steps is None else at(self.steps),
            decode=None if self.decode is None else DecodeRow(**each(_fields(self.decode))),
            cfg_mode=self.cfg_mode,
            role=self.role,
            peak_flops=at(self.peak_flops),
            bandwidth=at(self.bandwidth),
            gpus=at(self.gpus),
            parallelism=str(at(self.parallelism)),
        )

    def take(self, k: int) -> EngineResult:
        """Entry ``k`` along the leading axis of a stacked grid (one chip, band and replica size of
        :func:`~tokcost.engine.estimate.estimate_grid`), each field sliced when first read."""
        return _Taken(self, k)

    def map_arrays(self, fn: Callable[[Array], Array]) -> EngineResult:
        """The result with ``fn`` applied to every array (the strings and the absent parts kept)."""

        def one(v):
            if type(v) is np.ndarray:  # most fields: checked first
                return fn(v)
            if isinstance(v, Memory):
                return Memory(*(fn(np.asarray(x)) for x in (v.weights, v.kv_cache, v.activations, v.workspace)))
            if isinstance(v, Decode):
                return Decode(**{k: fn(np.asarray(x)) for k, x in _fields(v).items()})
            if isinstance(v, Mapping):
                return {k: one(x) for k, x in v.items()}
            if v is None or isinstance(v, str):
                return v
            return fn(np.asarray(v))

        return EngineResult(**{k: one(v) for k, v in _fields(self).items()})


class _Taken(EngineResult):
    """Entry ``k`` of a stacked :class:`EngineResult`, sliced field by field as they are read: a planner reads a
    few of the ~25 fields of each of its hundreds of entries."""

    def __init__(self, full: EngineResult, k: int):  # the fields stay unset until read (__getattr__)
        object.__setattr__(self, "_full", full)
        object.__setattr__(self, "_k", k)

    def __getattr__(self, name: str) -> Any:
        if name not in _FIELD_NAMES:  # _full and _k are set; anything else is not a field
            raise AttributeError(name)
        value = _entry(getattr(self._full, name), self._k)
        object.__setattr__(self, name, value)  # read once
        return value


def _entry(value, k: int):
    """Entry ``k`` along the leading axis of one field (its parts for memory, decode and the mappings)."""
    if type(value) is np.ndarray:  # most fields: checked first
        return value[k]
    if isinstance(value, Memory):
        return Memory(value.weights[k], value.kv_cache[k], value.activations[k], value.workspace[k])
    if isinstance(value, Decode):
        return Decode(value.prefill_s[k], value.decode_s[k], value.prompt_tokens[k], value.forwards[k])
    if isinstance(value, Mapping):
        return {name: _entry(v, k) for name, v in value.items()}
    if value is None or isinstance(value, str):
        return value
    return value[k]


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(EngineResult))
_NAMES = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (EngineResult, Decode)}


def _fields(obj) -> dict[str, Any]:
    """A dataclass's fields by name, not copied (:func:`dataclasses.asdict` deep-copies every array)."""
    return {name: getattr(obj, name) for name in _NAMES[Decode if isinstance(obj, Decode) else EngineResult]}
