"""Schemas of the preset files in ``hardware/`` and ``models/``.

Presets are data with a source for every number: each file has a ``sources`` mapping from a field path
(``architecture.layers``) or a section (``architecture``) to a citation. :func:`unsourced_fields` lists the
numbers no citation covers; a test runs it over every preset and the catalog refuses user presets that fail it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from tokcost.records.schema import Field, Record, field_validator, model_validator

# Upper bounds far above any real chip or model (the largest preset number is under 300,000): they keep absurd
# user values (10**30) from overflowing the engine's float arithmetic into inf/NaN.
MAX_PRESET_INT = 10**12
MAX_PRESET_FLOAT = 1e12


PosFloat = Annotated[float, Field(gt=0, le=MAX_PRESET_FLOAT, allow_inf_nan=False)]
PosInt = Annotated[int, Field(gt=0, le=MAX_PRESET_INT)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", max_length=64)]


class Strict(Record):
    model_config = {"extra": "forbid", "frozen": True}


class Range(Strict):
    """A low-high range of an efficiency factor; ``central`` defaults to the midpoint."""

    low: Fraction
    high: Fraction
    central: Fraction | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.central is not None and not self.low <= self.central <= self.high:
            raise ValueError("central must lie between low and high")
        return self

    @property
    def mid(self) -> float:
        return self.central if self.central is not None else (self.low + self.high) / 2


# --------------------------------------------------------------------------------------------------- hardware


class DenseRates(Strict):
    """Dense (no 2:4 sparsity) tensor throughput in TFLOP/s (TOPS for int8)."""

    bf16: PosFloat
    fp16: PosFloat
    fp8: PosFloat | None = None
    int8: PosFloat | None = None
    fp32: PosFloat


class Price(Strict):
    usd_per_gpu_hour: PosFloat
    provider: str = Field(min_length=3)
    date: str = Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")


class HardwareEfficiency(Strict):
    """What well-optimised code reaches on this chip, as fractions of the datasheet figures."""

    matmul: Range  # large bf16 GEMM through the vendor BLAS
    bandwidth: Range  # stream copy / triad
    training_mfu: Range  # model FLOPs utilisation of large training runs
    attention: Range | None = None  # fused attention kernel (SDPA/flash) as a fraction of peak; None: as matmul


class HardwarePreset(Strict):
    id: Id
    name: str
    vendor: Literal["nvidia", "amd", "other", "measured"]
    dense_tflops: DenseRates
    memory_gb: PosFloat  # decimal GB as the datasheet prints it
    bandwidth_tbps: PosFloat
    interconnect_gbps: PosFloat | None = None  # per GPU, both directions added
    tdp_w: PosFloat
    price: Price | None = None
    efficiency: HardwareEfficiency
    sources: dict[str, str]
    notes: str = ""


# --------------------------------------------------------------------------------------------------- models

Role = Literal["image", "video", "perception"]
CfgAR = Literal["batched", "unbatched", "off"]
CfgDiffusion = Literal["batched", "distilled", "none"]


class Architecture(Strict):
    """A decoder-only transformer (the AR backbone)."""

    layers: PosInt
    hidden: PosInt
    heads: PosInt
    kv_heads: PosInt
    head_dim: PosInt
    ffn: PosInt
    vocab: PosInt
    context: PosInt
    params_b: PosFloat  # every parameter, embeddings included (memory)
    matmul_params_b: PosFloat  # N: parameters a token meets in matmuls (blocks + output head, not the input lookup)

    @model_validator(mode="after")
    def _gqa(self):
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if self.matmul_params_b > self.params_b * 1.0001:
            raise ValueError("matmul_params_b cannot exceed params_b")
        return self


class Tokenizer(Strict):
    """Discrete visual tokenizer and how its tokens are laid out in the sequence."""

    kind: Literal["vq2d", "vq3d"]
    spatial_factor: PosInt
    temporal_factor: PosInt = 1
    temporal_rule: Literal["none", "chunked", "causal"] = "none"
    layout: Literal["plain", "emu3", "lumina"] = "plain"
    codebook: PosInt
    native_width: PosInt
    native_height: PosInt
    min_side_px: PosInt
    max_side_px: PosInt


class ARSampling(Strict):
    cfg: CfgAR
    cfg_scale: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    top_k: PosInt | None = None
    temperature: PosFloat | None = None
    prompt_tokens: PosInt  # a typical conditioning prompt (caption or class token) in tokens

    @field_validator("cfg", mode="before")
    @classmethod
    def _yaml_off(cls, v):
        return "off" if v is False else v  # YAML 1.1 reads a bare `off` as false


class AttentionLevel(Strict):
    """UNet self-attention at one resolution: tokens = pixels / downsample^2, ``count`` layers of width ``dim``."""

    downsample: PosInt
    dim: PosInt
    count: PosInt


class Denoiser(Strict):
    kind: Literal["unet", "dit", "mmdit", "linear-dit"]
    params_b: PosFloat  # weights in memory
    # Transformers (dit, mmdit, linear-dit): per-token matmul params and attention geometry
    linear_params_b: PosFloat | None = None
    attention_layers: PosInt | None = None
    attention_dim: PosInt | None = None  # heads x head_dim
    joint_text_tokens: int | None = Field(default=None, ge=0)  # MMDiT: text tokens inside self-attention
    cross_attention_text_tokens: int | None = Field(default=None, ge=0)
    # UNets: linear/conv FLOPs of one forward at a reference resolution, scaled by pixels; attention separately
    ref_forward_tflops: PosFloat | None = None
    ref_width: PosInt | None = None
    ref_height: PosInt | None = None
    attention_levels: list[AttentionLevel] = []
    resnet_blocks: PosInt | None = None  # UNets: residual conv blocks per forward (host launch overhead)

    @model_validator(mode="after")
    def _complete(self):
        if self.kind == "unet":
            missing = [f for f in ("ref_forward_tflops", "ref_width", "ref_height") if getattr(self, f) is None]
        else:
            missing = [f for f in ("linear_params_b", "attention_layers", "attention_dim") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} denoiser needs {', '.join(missing)}")
        return self


class Vae(Strict):
    spatial_factor: PosInt
    temporal_factor: PosInt = 1
    temporal_rule: Literal["none", "causal"] = "none"
    channels: PosInt
    patch: PosInt = 1  # spatial patch of the denoiser over the latent
    patch_t: PosInt = 1
    params_b: PosFloat
    decode_tflops_per_mpixel: PosFloat  # decoder FLOPs per output megapixel (per frame for video)


class TextEncoder(Strict):
    name: str
    params_b: PosFloat
    tokens: PosInt


class DiffusionSampling(Strict):
    steps: PosInt
    cfg: CfgDiffusion
    cfg_scale: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class Native(Strict):
    width: PosInt
    height: PosInt
    frames: PosInt | None = None
    fps: PosFloat | None = None
    min_side_px: PosInt
    max_side_px: PosInt
    max_frames: PosInt | None = None


class ModelPreset(Strict):
    id: Id
    name: str
    family: Literal["ar", "diffusion"]
    roles: list[Role] = Field(min_length=1)
    conditioning: Literal["text", "class", "image+text"] = "text"
    released: bool = True
    repository: str
    license: str = ""
    # AR
    architecture: Architecture | None = None
    tokenizer: Tokenizer | None = None
    sampling: ARSampling | None = None
    # diffusion
    denoiser: Denoiser | None = None
    vae: Vae | None = None
    text_encoders: list[TextEncoder] = []
    diffusion: DiffusionSampling | None = None
    native: Native | None = None
    quality: dict[str, float] = {}
    sources: dict[str, str]
    notes: str = ""

    def side_limits(self) -> tuple[int, int]:
        """The smallest and largest side in pixels this model serves (its tokenizer's, or its native range)."""
        src = self.tokenizer if self.family == "ar" else self.native
        return src.min_side_px, src.max_side_px

    @model_validator(mode="after")
    def _family_sections(self):
        need = ("architecture", "tokenizer", "sampling") if self.family == "ar" else ("denoiser", "vae", "diffusion", "native")
        missing = [s for s in need if getattr(self, s) is None]
        if missing:
            noun = "an AR" if self.family == "ar" else "a diffusion"
            raise ValueError(f"{noun} model needs the section(s): {', '.join(missing)}")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles are listed twice")
        if "perception" in self.roles and self.family != "ar":
            raise ValueError("only AR models serve the perception role")
        return self

    @field_validator("quality")
    @classmethod
    def _finite(cls, v: dict[str, float]):
        for k, x in v.items():
            if not math.isfinite(x):
                raise ValueError(f"quality.{k} must be finite")
        return v


# --------------------------------------------------------------------------------------------------- sources


def numeric_paths(obj: Record, prefix: str = "") -> list[str]:
    """Dotted paths of every number in a preset (list items by index), excluding ``sources`` itself."""
    out: list[str] = []
    for name in type(obj).model_fields:
        if name in ("sources",):
            continue
        value = getattr(obj, name)
        out += _numeric(value, f"{prefix}{name}")
    return out


def _numeric(value, path: str) -> list[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [path]
    if isinstance(value, Record):
        return numeric_paths(value, path + ".")
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _numeric(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _numeric(v, f"{path}.{i}")]
    return []


def unsourced_fields(preset: HardwarePreset | ModelPreset) -> list[str]:
    """Numbers whose path (or a parent section) has no non-empty citation in ``sources``."""
    cited = {k for k, v in preset.sources.items() if v and v.strip()}

    def covered(path: str) -> bool:
        parts = path.split(".")
        return any(".".join(parts[:i]) in cited for i in range(1, len(parts) + 1))

    return [p for p in numeric_paths(preset) if not covered(p)]


