"""Schemas of the preset files in ``hardware/`` and ``models/``.

Presets are data with a source for every number: each file has a ``sources`` mapping from a field path
(``architecture.layers``) or a section (``architecture``) to a citation. :func:`unsourced_fields` lists the
numbers no citation covers; a test runs it over every preset and the catalog refuses user presets that fail it.
"""

import math
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, create_model, field_validator, model_serializer, model_validator

from tokcost.records.base import (
    Count,
    Float,
    Fraction,
    NonNegative,
    PosFloat,
    PosInt,
    Range,
    Strict,
)
from tokcost.records.families import FAMILIES, FamilySchema, check_known

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", max_length=64)]
Sources = dict[str, str]

SOURCES = "Citation for each number: a field path (architecture.layers) or a section (architecture) -> source."


# --------------------------------------------------------------------------------------------------- hardware


class DenseRates(Strict):
    """Dense (no 2:4 sparsity) tensor throughput in TFLOP/s (TOPS for int8)."""

    bf16: PosFloat = Field(description="bf16 tensor throughput in TFLOP/s.")
    fp16: PosFloat = Field(description="fp16 tensor throughput in TFLOP/s.")
    fp8: PosFloat | None = Field(default=None, description="fp8 tensor throughput in TFLOP/s (None: no fp8 units).")
    int8: PosFloat | None = Field(default=None, description="int8 tensor throughput in TOPS.")
    fp32: PosFloat = Field(description="fp32 throughput in TFLOP/s.")
    tf32: PosFloat | None = Field(
        default=None,
        description="TF32 tensor throughput in TFLOP/s, where PyTorch uses it by default (cuDNN convolutions in fp32; "
        "None: no TF32 units, or a software stack that does not use them, so fp32 convolutions run at the fp32 rate).",
    )


class HardwareEfficiency(Strict):
    """What well-optimised code reaches on this chip, as fractions of the datasheet figures."""

    matmul: Range[Fraction] = Field(description="Large bf16 GEMM through the vendor BLAS, as a fraction of peak.")
    bandwidth: Range[Fraction] = Field(description="Stream copy / triad, as a fraction of the datasheet bandwidth.")
    decode_gemm: Range[Fraction] | None = Field(
        default=None,
        description="The weights a decode step's skinny GEMMs (a few rows) stream through the vendor BLAS, as a "
        "fraction of the datasheet bandwidth, where measured below the stream rate (None: as bandwidth).",
    )
    training_mfu: Range[Fraction] = Field(description="Model FLOPs utilisation of large training runs.")
    attention: Range[Fraction] | None = Field(
        default=None,
        description="Fused attention kernel (PyTorch SDPA / FlashAttention-2) as a fraction of peak (None: as matmul).",
    )
    attention_fa3: Range[Fraction] | None = Field(
        default=None, description="FlashAttention-3 (Hopper GPUs only) as a fraction of peak (None: not available)."
    )
    attention_cudnn: Range[Fraction] | None = Field(
        default=None,
        description="PyTorch SDPA's cuDNN fused-attention backend as a fraction of peak (None: no measured figure).",
    )


class PcieFabric(Strict):
    """The PCIe fabric of a server whose GPUs' own link joins only some of them (an NVLink bridge joins pairs): a
    replica larger than the link's domain crosses PCIe, whose collectives it is priced at (alpha-beta, as
    :class:`ScaleUp`'s)."""

    gpus: PosInt = Field(description="GPUs one server holds on PCIe: the largest replica priced over it.")
    busbw_gbps: PosFloat = Field(
        description="Bus bandwidth of a large all-reduce over PCIe (nccl-tests busbw, ring), GB/s per GPU."
    )
    latency_us: PosFloat = Field(description="Time of a small-message all-reduce over PCIe, microseconds.")


class ScaleUp(Strict):
    """The GPUs one server joins with its scale-up link, and what a collective costs on it (``alpha-beta``: a
    fixed latency per collective plus bytes over the bus bandwidth; docs/methodology.md, "Multi-GPU replicas")."""

    gpus: PosInt = Field(
        description="GPUs one server's scale-up link joins: the largest replica tokcost prices (unless ``pcie`` "
        "joins more)."
    )
    link: Literal["nvlink", "nvlink-bridge", "infinity-fabric", "pcie"] = Field(description="What joins them.")
    busbw_gbps: PosFloat = Field(
        description="Bus bandwidth of a large all-reduce (nccl-tests busbw, ring), GB/s per GPU: the rate "
        "collectives move data at."
    )
    latency_us: PosFloat = Field(description="Time of a small-message collective (all-reduce), microseconds.")
    send_gbps: PosFloat | None = Field(
        default=None,
        description="Bandwidth of one send and receive between two of its GPUs (nccl-tests sendrecv_perf), GB/s: "
        "what ring attention's K and V shards move at (None: the bus bandwidth, an all-reduce's, which a single "
        "send between two GPUs does not reach).",
    )
    pcie: PcieFabric | None = Field(
        default=None,
        description="The server's PCIe fabric, where it holds more GPUs than the link joins (None: the link's "
        "domain is the server's): replicas of more than ``gpus`` GPUs send their collectives over it.",
    )

    @model_validator(mode="after")
    def _pcie_joins_more(self) -> "ScaleUp":
        if self.pcie is not None and (self.link == "pcie" or self.pcie.gpus <= self.gpus):
            raise ValueError(
                f"scale_up.pcie must join more GPUs than the link it extends, which is not PCIe itself: a "
                f"{self.link} link of {self.gpus} GPUs, pcie.gpus {self.pcie.gpus}"
            )
        return self


class L2Cache(Strict):
    """How a streaming element-wise kernel (read one array, write one) runs while its arrays stay in the L2
    cache, from a measurement of many such kernels queued back to back: time = ``kernel_start_us`` + volume /
    ``bandwidth_tbps`` up to ``resident_mb`` (docs/methodology.md, "Element-wise traffic and the L2 cache")."""

    resident_mb: PosFloat = Field(
        description="Largest read + write volume of one kernel still served at the in-cache rate, MB (below the "
        "nominal L2 size: A100 and H100 split their L2 in two halves)."
    )
    bandwidth_tbps: PosFloat = Field(description="The in-cache read + write rate, TB/s.")
    kernel_start_us: PosFloat = Field(description="GPU time one kernel costs whatever its size, microseconds.")


class Host(Strict):
    """The CPU of the server this GPU typically ships in: eager PyTorch and a serving engine's scheduler launch
    every kernel from one of its cores, so the host terms of the engine profiles scale with its single-thread
    speed (docs/methodology.md, "The host")."""

    cpu: str = Field(description="The server and its CPU, as its datasheet names them.")
    single_thread: PosFloat = Field(
        description="Single-thread speed relative to the DGX A100's AMD EPYC 7742, the host the engine profiles' "
        "host terms are fitted on."
    )


class HardwarePreset(Strict):
    # fields earlier versions read, and where they went (the message for a preset that still has one)
    MOVED_FIELDS: ClassVar[dict[str, str]] = {
        "price": "a preset no longer carries a price; prices are in the price catalogue (`tokcost prices`), and "
        "your own is given with --price ID=USD_PER_GPU_HOUR or a spec's pricing.usd_per_gpu_hour"
    }

    id: Id = Field(description="Preset id; must match the file name.")
    name: str = Field(description="Display name.")
    vendor: Literal["nvidia", "amd", "other", "measured"] = Field(
        description="Chip vendor (measured: built from a calibration)."
    )
    dense_tflops: DenseRates = Field(description="Dense tensor throughput per precision.")
    compute_capability: PosFloat | None = Field(
        default=None,
        description="NVIDIA compute capability (8.0 for an A100; None: not an NVIDIA GPU). From 8.0 PyTorch's "
        "scaled_dot_product_attention runs FlashAttention-2, whose kernels come in head dims 32, 64, ..., 256.",
    )
    exp_tops: PosFloat | None = Field(
        default=None,
        description="fp32 exponentials per second on the special-function units, in tera (SMs x clock x 16 on "
        "NVIDIA GPUs); the softmax of a fused attention kernel runs there (None: not known; attention is priced "
        "at its efficiency alone).",
    )
    memory_gb: PosFloat = Field(description="GPU memory in decimal GB, as the datasheet prints it.")
    bandwidth_tbps: PosFloat = Field(description="Memory bandwidth in TB/s.")
    interconnect_gbps: PosFloat | None = Field(
        default=None, description="Scale-up link in GB/s per GPU, both directions added (None: no link)."
    )
    scale_up: ScaleUp | None = Field(
        default=None, description="The scale-up domain of one server (None: one GPU per replica)."
    )
    host: Host | None = Field(
        default=None,
        description="The typical server's CPU (None: not known; priced as the reference host, the EPYC 7742).",
    )
    l2: L2Cache | None = Field(
        default=None,
        description="Element-wise kernels in the L2 cache (None: not measured; their traffic is priced at the "
        "memory bandwidth).",
    )
    tdp_w: PosFloat = Field(description="Board power in watts (the power cost of owned hardware).")
    efficiency: HardwareEfficiency = Field(
        description="Fractions of the datasheet figures well-optimised code reaches."
    )
    sources: Sources = Field(description=SOURCES)
    notes: str = Field(default="", description="Free text.")


# --------------------------------------------------------------------------------------------------- models

Role = Literal["image", "video", "perception"]
CfgAR = Literal["batched", "unbatched", "off"]
CfgDiffusion = Literal["batched", "unbatched", "distilled", "none"]


class Architecture(Strict):
    """A decoder-only transformer (the AR backbone)."""

    layers: PosInt = Field(description="Transformer blocks.")
    hidden: PosInt = Field(description="Model width (hidden size).")
    heads: PosInt = Field(description="Attention (query) heads.")
    kv_heads: PosInt = Field(description="Key/value heads (grouped-query attention); divides heads.")
    head_dim: PosInt = Field(description="Width of one attention head.")
    ffn: PosInt = Field(description="Feed-forward inner width.")
    vocab: PosInt = Field(description="Vocabulary size in tokens (text and visual).")
    context: PosInt = Field(description="Longest sequence in tokens.")
    params_b: PosFloat = Field(description="Every parameter, embeddings included, in billions (memory).")
    matmul_params_b: PosFloat = Field(
        description="N: parameters a token meets in matmuls (blocks + output head, not the input lookup), in billions."
    )
    sliding_window: PosInt | None = Field(
        default=None,
        description="Tokens a sliding-window layer attends over (Mistral, Gemma 2/3); None: every layer attends "
        "over the whole context. Past it, those layers' decode steps read and keep the window's keys only; a "
        "prefill skips the keys outside it under an engine whose kernel takes the window (window_prefill).",
    )
    sliding_layers: PosInt | None = Field(
        default=None,
        description="Layers that attend over the sliding window only; the others attend over the whole context.",
    )

    @model_validator(mode="after")
    def _gqa(self):
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if self.matmul_params_b > self.params_b * 1.0001:
            raise ValueError("matmul_params_b cannot exceed params_b")
        if (self.sliding_window is None) != (self.sliding_layers is None) or (self.sliding_layers or 0) > self.layers:
            raise ValueError("sliding_window and sliding_layers (1 to layers) are given together or not at all")
        return self


class Tokenizer(Strict):
    """Discrete visual tokenizer and how its tokens are laid out in the sequence."""

    kind: Literal["vq2d", "vq3d"] = Field(description="Image (vq2d) or video (vq3d) tokenizer.")
    spatial_factor: PosInt = Field(description="Pixels per token along each side.")
    temporal_factor: PosInt = Field(default=1, description="Frames per latent frame (video).")
    temporal_rule: Literal["none", "chunked", "causal"] = Field(
        default="none",
        description="How frames map to latent frames: chunked: groups of temporal_factor frames; "
        "causal: the first frame alone, then groups.",
    )
    layout: Literal["plain", "emu3", "lumina"] = Field(
        default="plain",
        description="Sequence layout of the visual tokens: plain: width x height tokens; emu3: an "
        "end token per row and per frame; lumina: a newline per row and 2 size tokens.",
    )
    codebook: PosInt = Field(description="Codebook entries.")
    native_width: PosInt = Field(description="Default width in pixels.")
    native_height: PosInt = Field(description="Default height in pixels.")
    min_side_px: PosInt = Field(description="Smallest side in pixels the model serves.")
    max_side_px: PosInt = Field(description="Largest side in pixels the model serves.")


class ARSampling(Strict):
    cfg: CfgAR = Field(description="Classifier-free guidance: both branches in one batch, two passes, or off.")
    cfg_scale: NonNegative | None = Field(default=None, description="Guidance scale.")
    top_k: PosInt | None = Field(default=None, description="Top-k sampling (None: the whole vocabulary).")
    temperature: PosFloat | None = Field(default=None, description="Sampling temperature.")
    prompt_tokens: PosInt = Field(description="A typical conditioning prompt (caption or class token) in tokens.")

    @field_validator("cfg", mode="before")
    @classmethod
    def _yaml_off(cls, v):
        return "off" if v is False else v  # YAML 1.1 reads a bare `off` as false


class AttentionLevel(Strict):
    """UNet self-attention at one resolution: tokens = pixels / downsample^2, ``count`` layers of width ``dim``."""

    downsample: PosInt = Field(description="Pixels per token along each side at this level.")
    dim: PosInt = Field(description="Attention width (heads x head_dim).")
    count: PosInt = Field(description="Self-attention layers at this level.")
    heads: PosInt | None = Field(
        default=None, description="Attention heads at this level (None: not stated; priced as head dim 128)."
    )


class UnetConfig(Strict):
    """The fields of a diffusers UNet2DConditionModel config.json that fix its convolution and linear shapes
    (:func:`~tokcost.engine.physics.unet_gemm_shapes`), named as diffusers names them."""

    block_out_channels: list[PosInt] = Field(description="Channels of each resolution level.")
    layers_per_block: PosInt = Field(description="Residual blocks per down block (up blocks have one more).")
    cross_attn_down_blocks: list[bool] = Field(
        description="Per down block: CrossAttnDownBlock2D (true) or DownBlock2D (false); up blocks mirror them."
    )
    transformer_layers_per_block: list[PosInt] = Field(description="Transformer blocks per attention, per level.")
    cross_attention_dim: PosInt = Field(description="Width of the text embeddings cross-attention reads.")
    in_channels: PosInt = Field(description="Latent channels in and out.")
    projection_class_embeddings_input_dim: PosInt | None = Field(
        default=None, description="SDXL's text-time embedding input (None: no added embedding)."
    )

    @model_validator(mode="after")
    def _levels(self):
        n = len(self.block_out_channels)
        if len(self.cross_attn_down_blocks) != n or len(self.transformer_layers_per_block) != n:
            raise ValueError("cross_attn_down_blocks and transformer_layers_per_block need one entry per level")
        return self


class Denoiser(Strict):
    kind: Literal["unet", "dit", "mmdit", "linear-dit"] = Field(description="Denoiser architecture.")
    params_b: PosFloat = Field(description="Weights in memory, in billions of parameters.")
    experts: PosInt | None = Field(
        default=None,
        description="Networks of equal size that share params_b and split the sampling steps, one running each step "
        "(Wan2.2's A14B: a high-noise and a low-noise expert); None: one network.",
    )

    @property
    def active_params_b(self) -> float:
        """Weights one step's forward reads: one expert's share of params_b."""
        return self.params_b / (self.experts or 1)

    # Transformers (dit, mmdit, linear-dit): per-token matmul params and attention geometry
    linear_params_b: PosFloat | None = Field(
        default=None, description="Transformers: parameters a latent token meets in matmuls, in billions."
    )
    attention_layers: PosInt | None = Field(default=None, description="Transformers: self-attention layers.")
    attention_dim: PosInt | None = Field(default=None, description="Transformers: attention width (heads x head_dim).")
    attention_heads: PosInt | None = Field(
        default=None, description="Transformers: attention heads (sequence parallelism splits them; None: unchecked)."
    )
    joint_text_tokens: Count | None = Field(default=None, description="MMDiT: text tokens inside self-attention.")
    cross_attention_text_tokens: Count | None = Field(
        default=None, description="Text tokens the latent tokens cross-attend to."
    )
    # UNets: linear/conv FLOPs of one forward at a reference resolution, scaled by pixels; attention separately
    ref_forward_tflops: PosFloat | None = Field(
        default=None,
        description="UNets: linear and conv TFLOPs of one forward at the reference size (scaled by pixels).",
    )
    ref_width: PosInt | None = Field(default=None, description="UNets: reference width in pixels.")
    ref_height: PosInt | None = Field(default=None, description="UNets: reference height in pixels.")
    attention_levels: list[AttentionLevel] = Field(default=[], description="UNets: self-attention per resolution.")
    resnet_blocks: PosInt | None = Field(
        default=None,
        description="Blocks per forward outside the attention layers counted above (a UNet's residual conv blocks, "
        "a U-ViT's conv-stage blocks): host launch overhead.",
    )
    unet_config: UnetConfig | None = Field(
        default=None, description="UNets: the config.json fields that give each convolution's GEMM shape."
    )

    def transformer_geometry(self) -> tuple[float, int, int]:
        """(linear_params_b, attention_layers, attention_dim) of a transformer denoiser (dit, mmdit, linear-dit),
        which :meth:`_complete` requires of those kinds."""
        if self.linear_params_b is None or self.attention_layers is None or self.attention_dim is None:
            raise ValueError(f"a {self.kind} denoiser has no transformer geometry")
        return self.linear_params_b, self.attention_layers, self.attention_dim

    def unet_reference(self) -> tuple[float, int, int]:
        """(ref_forward_tflops, ref_width, ref_height) of a UNet, which :meth:`_complete` requires of it."""
        if self.ref_forward_tflops is None or self.ref_width is None or self.ref_height is None:
            raise ValueError(f"a {self.kind} denoiser has no UNet reference forward")
        return self.ref_forward_tflops, self.ref_width, self.ref_height

    @model_validator(mode="after")
    def _complete(self):
        if self.kind == "unet":
            missing = [f for f in ("ref_forward_tflops", "ref_width", "ref_height") if getattr(self, f) is None]
        else:
            missing = [f for f in ("linear_params_b", "attention_layers", "attention_dim") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} denoiser needs {', '.join(missing)}")
        return self


class VaeTiling(Strict):
    """How the model's own pipeline decodes a large latent: in overlapping tiles, each decoded whole, so the
    overlaps are decoded twice or more (the work :func:`~tokcost.engine.physics.vae_tiling_factor` counts). Read
    from the pipeline's VAE code and config, with a source."""

    tile_px: PosInt = Field(
        description="Side of a spatial tile in output pixels (the config's sample_size); the decode tiles both "
        "sides once either side's latent exceeds tile_px / spatial_factor."
    )
    tile_frames: PosInt | None = Field(
        default=None,
        description="Output frames of a temporal tile (the config's sample_tsize): tiles of tile_frames / "
        "temporal_factor latent frames plus the causal frame before them, once the clip has more latent frames "
        "than that (None: no temporal tiling).",
    )
    overlap: float = Field(
        ge=0.0,
        lt=1.0,
        description="Share of a tile the next one overlaps (tile_overlap_factor): tiles start every "
        "int(tile x (1 - overlap)) latents.",
    )


class Vae(Strict):
    spatial_factor: PosInt = Field(description="Pixels per latent along each side.")
    temporal_factor: PosInt = Field(default=1, description="Frames per latent frame (video).")
    temporal_rule: Literal["none", "causal"] = Field(
        default="none",
        description="How frames map to latent frames: causal: the first frame alone, then groups "
        "of temporal_factor frames.",
    )
    channels: PosInt = Field(description="Latent channels.")
    patch: PosInt = Field(default=1, description="Spatial patch of the denoiser over the latent.")
    patch_t: PosInt = Field(default=1, description="Temporal patch of the denoiser over the latent.")
    params_b: PosFloat = Field(description="VAE weights in billions of parameters.")
    decode_tflops_per_mpixel: PosFloat = Field(description="Decoder TFLOPs per output megapixel (per frame for video).")
    fp32_under_fp16: bool = Field(
        default=False,
        description="The pipeline decodes in fp32 when it runs fp16 (diffusers' force_upcast, set where the VAE's "
        "activations overflow fp16: SDXL's).",
    )
    dtype: Literal["fp32", "fp16", "bf16"] | None = Field(
        default=None,
        description="The type the model's own pipelines load the VAE in, whatever the run's precision (Wan's: "
        "fp32); unset: the pipeline's 16-bit type.",
    )
    tiling: VaeTiling | None = Field(
        default=None,
        description="The tiled decode the model's own pipeline runs by default (None: one whole decode; "
        "decode_tflops_per_mpixel is the untiled decoder's).",
    )

    def tile_strides(self) -> tuple[int, int, int | None, int | None]:
        """(latents in a spatial tile, latents from one tile's start to the next, latent frames in a temporal tile,
        latent frames from one to the next; None: no temporal tiling), as the tiled decode's code derives them:
        a tile over the compression factor, a stride of int(tile (1 - overlap))."""
        t = self.tiling
        if t is None:
            raise ValueError("this VAE decodes whole")
        tile = t.tile_px // self.spatial_factor
        span = t.tile_frames // self.temporal_factor if t.tile_frames is not None else None
        return tile, int(tile * (1 - t.overlap)), span, None if span is None else int(span * (1 - t.overlap))

    @model_validator(mode="after")
    def _tiles_advance(self):
        # a tile must start at least one latent after the one before it
        t = self.tiling
        if t is not None:
            _, stride, _, step = self.tile_strides()
            if stride < 1:
                raise ValueError(
                    f"tiling.tile_px {t.tile_px} at overlap {t.overlap:g} leaves tiles less than one latent apart "
                    f"(spatial_factor {self.spatial_factor})"
                )
            if step is not None and step < 1:
                raise ValueError(
                    f"tiling.tile_frames {t.tile_frames} at overlap {t.overlap:g} leaves tiles less than one latent "
                    f"frame apart (temporal_factor {self.temporal_factor})"
                )
        return self


class TextEncoder(Strict):
    name: str = Field(description="Encoder name.")
    params_b: PosFloat = Field(description="Weights in billions of parameters.")
    tokens: PosInt = Field(description="Prompt length it encodes, in tokens.")


class DiffusionSampling(Strict):
    steps: PosInt = Field(description="Default sampling steps.")
    cfg: CfgDiffusion = Field(
        description="Classifier-free guidance: both branches in one batch, two forwards per step (unbatched: the "
        "pipeline calls the denoiser once per branch), distilled in, or none."
    )
    cfg_scale: NonNegative | None = Field(default=None, description="Guidance scale.")


class Native(Strict):
    width: PosInt = Field(description="Default width in pixels.")
    height: PosInt = Field(description="Default height in pixels.")
    frames: PosInt | None = Field(default=None, description="Default frames per clip (video).")
    fps: PosFloat | None = Field(default=None, description="Default frames per second (video).")
    min_side_px: PosInt = Field(description="Smallest side in pixels the model serves.")
    max_side_px: PosInt = Field(description="Largest side in pixels the model serves.")
    max_frames: PosInt | None = Field(default=None, description="Most frames it generates in one clip.")


class Training(Strict):
    """What the model's own training run used, as published: the default of `tokcost train`."""

    samples: PosFloat = Field(description="Diffusion: images or clips seen over every published training stage.")


# The section each family owns (tokcost.records.families), found with the families: a new family adds its own
# section without an edit here.
_FamilySections = create_model(  # type: ignore[call-overload]
    "_FamilySections",
    __base__=Strict,
    **{
        s.section: (
            s.section_model | None,
            Field(
                default=None, description=f"{s.label.capitalize()} models: {(s.section_model.__doc__ or '').strip()}"
            ),
        )
        for s in FAMILIES.values()
        if s.section is not None and s.section_model is not None
    },
)
FAMILY_SECTIONS = tuple(s.section for s in FAMILIES.values() if s.section is not None)


class Passes(Strict):
    """Element-wise passes over one block's activations (16-bit tensors of tokens x width read or written)."""

    eager: NonNegative = Field(description="Every element-wise op its own kernel (PyTorch eager).")
    fused: NonNegative = Field(description="Chains between GEMMs, convolutions and attention fused (torch.compile).")


class ElementwisePasses(Passes):
    """Element-wise traffic of a transformer generator's blocks (diffusion denoisers, next-scale transformers):
    passes per block, by how its stack launches kernels. Built-in presets get theirs from
    tokcost/data/generated/elementwise_passes.yaml (counted from the model's code by
    scripts/count_elementwise_passes.py); a preset may set its own, with a source."""

    per_kernel: tuple[PosFloat, ...] | None = Field(
        default=None,
        min_length=1,
        description="Passes one eager element-wise kernel makes (its reads plus writes over a block's activations): "
        "one number for every kernel, or the volumes at the midpoints of equal shares of the bytes (the counted "
        "presets: five, at 10, 30, 50, 70 and 90% of the bytes, the kernels sorted by volume); each point's share of "
        "the bytes that stays in L2 is priced at the L2 rate (None: the stand-in's, the median of the counted "
        "denoisers).",
    )

    @field_validator("per_kernel", mode="before")
    @classmethod
    def _one_volume_for_every_kernel(cls, v):
        return (v,) if isinstance(v, int | float) and not isinstance(v, bool) else v

    counted: str = Field(
        default="", description="How the figures were obtained (the counting proxy, or a stand-in's name)."
    )


class LayerPasses(Strict):
    """Element-wise passes per decoder layer over its tokens x hidden width (16-bit), in parts that follow the
    layer's widths."""

    width: NonNegative = Field(description="Passes at the hidden width (norms, residual adds, the queries' rotary).")
    ffn: NonNegative = Field(description="Passes per unit of FFN width / hidden (the SwiGLU's gate and product).")
    kv: NonNegative = Field(
        description="Passes per unit of KV width (KV heads x head dim) / hidden (the keys' rotary)."
    )

    def of(self, arch: Architecture, tp=1):
        """Passes per layer of ``arch`` on one of ``tp`` tensor-parallel GPUs: the hidden-width part runs whole on
        every GPU (norms, residual adds), the FFN's and the keys' parts divide."""
        split = self.ffn * arch.ffn / arch.hidden + self.kv * arch.kv_heads * arch.head_dim / arch.hidden
        return self.width + split / tp


class DecoderPasses(Strict):
    """Element-wise traffic of an AR decoder's layers over the tokens one forward computes (a prefill's prompt):
    passes per layer, by how its stack launches kernels, over tokens x hidden. Built-in presets get theirs from
    tokcost/data/generated/elementwise_passes.yaml (transformers' Llama decoder layer, counted by
    scripts/count_elementwise_passes.py); a preset may set its own, with a source."""

    eager: LayerPasses = Field(description="Every element-wise op its own kernel (PyTorch eager).")
    fused: LayerPasses = Field(description="Chains between the GEMMs and attention fused (torch.compile, vLLM).")
    per_kernel: tuple[PosFloat, ...] = Field(
        min_length=1,
        description="Passes one eager element-wise kernel makes (its reads plus writes over a layer's tokens x "
        "hidden) at the midpoints of equal shares of the bytes, as ElementwisePasses.per_kernel.",
    )
    counted: str = Field(default="", description="How the figures were obtained (the counting proxy).")


class LaunchCount(Strict):
    """Kernels one layer launches under an eager stack (every op its own kernel, GEMMs, convolutions and attention
    included): the eager host's work per layer, which the engine prices per launch. Built-in presets get theirs from
    tokcost/data/generated/elementwise_passes.yaml (counted from the model's code by
    scripts/count_elementwise_passes.py) or count them in their own file, with a source."""

    eager: PosFloat = Field(description="Kernel launches per layer (tokcost's layers of the model) under eager code.")
    counted: str = Field(default="", description="How the figure was obtained (the counting proxy, or a stand-in).")


class KVCacheReads(Strict):
    """How a decode loop's code reads its KV cache at a step, where it reads more than the tokens so far once (AR):
    a preset's reference code (``eager_kv_cache``), or the code a published run used. Counted from the code, with a
    source."""

    passes: PosFloat = Field(
        description="Reads of the whole K and V per decode step; a copy counts as a read and a write (1: attention "
        "reads them once)."
    )
    static_multiple: PosInt | None = Field(
        default=None,
        description="The cache is preallocated for the whole generation, prompt plus generated tokens rounded up to "
        "this multiple, and read whole at every step (None: only the tokens so far are read).",
    )
    kernel: Literal["fa2"] | None = Field(
        default=None,
        description="The attention kernel that reads it, where it costs more than the reads: fa2 = FlashAttention-2's "
        "forward kernel (the flash-attn package's flash_attn_func, or PyTorch SDPA's flash backend), whose decode "
        "step pays a whole tile of query rows for its one (tokcost.engine.physics.FA2_DECODE_ROW_COST); None: the "
        "reads alone.",
    )


class ModelPreset(_FamilySections):
    id: Id = Field(description="Preset id; must match the file name.")
    name: str = Field(description="Display name.")
    family: str = Field(description=f"The generation family: {', '.join(FAMILIES)}.")
    roles: list[Role] = Field(min_length=1, description="What it generates (the first is its default).")
    conditioning: Literal["text", "class", "image+text"] = Field(
        default="text", description="What it is prompted with."
    )
    released: bool = Field(default=True, description="Weights are public.")
    unreleased_roles: list[Role] = Field(
        default=[],
        description="Roles the architecture is reported for but no public checkpoint serves (priced as the "
        "architecture; reports say so); cite where the released checkpoints are listed.",
    )
    repository: str = Field(description="Where the weights or code are.")
    license: str = Field(default="", description="Licence of the weights.")
    # components, each required by the families that have it (tokcost.records.families)
    architecture: Architecture | None = Field(default=None, description="The transformer decoder (AR).")
    tokenizer: Tokenizer | None = Field(default=None, description="The discrete visual tokenizer (AR).")
    sampling: ARSampling | None = Field(default=None, description="Token sampling settings (AR).")
    denoiser: Denoiser | None = Field(default=None, description="The denoiser (diffusion).")
    vae: Vae | None = Field(default=None, description="The VAE (diffusion).")
    text_encoders: list[TextEncoder] = Field(default=[], description="The text encoders (diffusion).")
    diffusion: DiffusionSampling | None = Field(default=None, description="Diffusion sampling settings.")
    native: Native | None = Field(default=None, description="Default size and the sizes it serves (diffusion).")
    quality: dict[str, Float] = Field(default={}, description="Published scores by benchmark (geneval, vbench, mmmu).")
    elementwise_passes: ElementwisePasses | None = Field(
        default=None,
        description="Element-wise passes per block, eager and fused (diffusion, next-scale; built-in presets: generated).",
    )
    decoder_passes: DecoderPasses | None = Field(
        default=None,
        description="Element-wise passes per decoder layer of a prefill (AR; built-in presets: generated).",
    )
    launches_per_layer: LaunchCount | None = Field(
        default=None,
        description="Kernel launches per layer under eager code (built-in presets: generated or counted in the file).",
    )
    eager_kv_cache: KVCacheReads | None = Field(
        default=None,
        description="How its reference code reads the KV cache at a decode step, under eager (AR; None: the tokens "
        "so far, once).",
    )
    training: Training | None = Field(
        default=None, description="Its published training run (the default of `tokcost train`), where published."
    )
    sources: Sources = Field(description=SOURCES)
    notes: str = Field(default="", description="Free text.")

    @property
    def generation(self) -> FamilySchema:
        """The model's generation family (:mod:`tokcost.records.families`)."""
        return FAMILIES[self.family]

    def side_limits(self) -> tuple[int, int]:
        """The smallest and largest side in pixels this model serves (its tokenizer's, or its native range)."""
        return self.generation.side_limits(self)

    @field_validator("family")
    @classmethod
    def _known_family(cls, v: str) -> str:
        check_known([v], FAMILIES)
        return v

    @model_validator(mode="after")
    def _family_sections(self):
        fam = FAMILIES[self.family]
        need = fam.requires + ((fam.section,) if fam.section is not None else ())
        missing = [s for s in need if getattr(self, s) is None]
        if missing:
            raise ValueError(f"{fam.noun} needs the section(s): {', '.join(missing)}")
        foreign = [s for s in FAMILY_SECTIONS if s != fam.section and getattr(self, s) is not None]
        if foreign:
            raise ValueError(f"{fam.noun} has no section {foreign[0]} (another family's)")
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles are listed twice")
        if not set(self.unreleased_roles) <= set(self.roles):
            raise ValueError("unreleased_roles must be among the roles")
        if "perception" in self.roles and not fam.perception:
            raise ValueError(f"{fam.noun} does not serve the perception role")
        return self

    @model_serializer(mode="wrap")
    def _without_other_sections(self, handler):
        """Other families' sections (always empty) are left out of a dump."""
        data = handler(self)
        for s in FAMILY_SECTIONS:
            if data.get(s) is None:
                data.pop(s, None)
        return data

    @field_validator("quality")
    @classmethod
    def _finite(cls, v: dict[str, float]):
        for k, x in v.items():
            if not math.isfinite(x):
                raise ValueError(f"quality.{k} must be finite")
        return v


# --------------------------------------------------------------------------------------------------- sources


def numeric_paths(obj: BaseModel, prefix: str = "") -> list[str]:
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
    if isinstance(value, BaseModel):
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
