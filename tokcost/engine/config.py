"""What one estimate prices: a :class:`Config` (a model, a chip, an engine, and the sizes, scalars or arrays)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tokcost.engine.profiles import Calibrated
from tokcost.records.engines import EngineProfile
from tokcost.records.kernels import ChipKernels
from tokcost.records.presets import HardwarePreset, ModelPreset


@dataclass(frozen=True, kw_only=True)
class Config:
    """What to price. ``None`` means the model's own default (steps, CFG mode) or its native size.

    ``profiles`` is the engine table to price with (:func:`tokcost.io.engines.load_engines`, or profiles changed
    for a what-if study or a fit): ``engine`` names the one used, and ``eager`` is the reference a calibration
    scales the others by."""

    model: ModelPreset
    hardware: HardwarePreset
    profiles: Mapping[str, EngineProfile]
    engine: str = "eager"
    precision: str = "bf16"
    vae_precision: str | None = None  # fp32 | fp16 | bf16 (None: the pipeline's, physics.vae_dtype)
    width: object = None
    height: object = None
    frames: object = None  # video frames; None for images
    batch: object = 1
    steps: object = None
    cfg: str | None = None  # batched | unbatched | off
    tokens_per_forward: float = 1.0  # accepted tokens per forward (speculative / parallel decoding)
    verify_tokens: float | None = None  # positions computed per forward (defaults to tokens_per_forward)
    prompt_tokens: object = None  # AR conditioning prompt; perception: the question
    answer_tokens: object = None  # perception only
    role: str | None = None  # image | video | perception (default: the model's first role)
    calibration: Calibrated | None = None
    gpus: object = 1  # GPUs in one replica, splitting each forward (replica_layout)
    parallelism: str | None = None  # how they split it: tp (AR) | sp | cfg | cfg+sp (diffusion); None: the default
    # diffusion sequence parallelism: GPUs per ring of ring attention, the rest Ulysses (None: the fewest that let
    # the heads divide over the rest, families.diffusion.ring_degree)
    ring: int | None = None
    # diffusion and MAR attention kernel: sdpa | fa2 | fa3 | cudnn | math (None: the engine profile's)
    attention: str | None = None
    # a 16-bit diffusion pipeline run under torch.autocast: unfused attention's softmax in fp32
    autocast: bool = False
    kv_dtype: str = "bf16"  # AR KV cache: bf16 | fp8 (physics.KV_DTYPE_BYTES)
    host_speed: float | None = None  # the server CPU's single-thread speed vs the EPYC 7742 (None: the preset's)
    # USD per GPU-hour by hardware id (tokcost.core.pricing.PriceBook); a chip not in it is not priced (cost NaN)
    prices: Mapping[str, float] = field(default_factory=dict)
    # hardware id -> its measured kernel tables or None (tokcost.io.kernel_tables.hardware_kernels, called only for
    # the chips priced); None: every chip on the roofline
    kernels: Callable[[str], ChipKernels | None] | None = None

    @property
    def attention_kernel(self) -> str:
        """The attention kernel priced: ``attention`` where given, else the engine profile's."""
        return self.attention or self.profiles[self.engine].attention
