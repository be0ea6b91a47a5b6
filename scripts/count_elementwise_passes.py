"""Count the element-wise traffic of each diffusion denoiser, eager and compiled, and the kernels an eager layer
launches, from the model code itself.

Writes tokcost/data/generated/elementwise_passes.yaml (do not edit; rerun this script). Dev-only: needs torch
and diffusers (``pip install torch==2.13.0 -e '.[counts]'``), and a C++ compiler for inductor; the planner only
reads the YAML. ``--only NAME ...`` prints the counts of some proxies and writes nothing.

What is counted. Every denoiser preset that diffusers implements is built as a *proxy*: the preset's own block
structure (block kinds and their order, norms, modulation, RoPE, qk-norm, MLP ratio, double/single-stream mix,
UNet levels) at a small width and token count, random weights (nothing is downloaded). One forward runs in
bf16 on the CPU:

- eager: under a TorchDispatchMode every aten op that PyTorch eager would launch as its own kernel is logged;
  GEMMs, convolutions and attention (the kernel tables price those) and views (no kernel) are left out; each
  remaining op moves the bytes of its tensor inputs and outputs (an in-place op writes the input it read).
- compiled: torch.compile (inductor, default mode, caches off) compiles the same module; every kernel its
  scheduler emits that is not an extern call (cuBLAS/oneDNN GEMM, convolution, attention) moves the bytes of
  the buffers it reads and writes (inductor's own ``get_read_write_buffers_sizes``, the figure it logs as
  ``num_bytes_accessed``). Fused chains read their inputs and write their outputs once.

- per_kernel: the passes one of those eager kernels makes (its reads plus writes over one block's activations), at
  the midpoints of five equal shares of the bytes (the kernels sorted by their volume, the volume at 10, 30, 50, 70
  and 90% of the bytes): the volumes element-wise kernels stream, each of which tokcost.engine.physics compares with
  the chip's L2 (tokcost.engine.physics.elementwise_s), a fifth of the bytes at each.

- launches: in the same eager forward, every aten op that launches a kernel, GEMMs, convolutions and attention
  included, per denoiser layer (tokcost.engine.physics.denoiser_layers of the preset): the eager host's work, which
  tokcost prices per launch. The AR decoders that run through transformers are counted the same way on one decode
  step of a Llama decoder (transformers' LlamaForCausalLM, a KV cache of 64 tokens): per layer, from two depths.
  decoders.by_model_type: the same count for the causal LM of each transformers model type a bare decoder's run
  can name (OPT's layer launches 15 kernels, Qwen3's 63), with SDPA and with transformers' own attention.

- decoders.prefill: the element-wise passes of that Llama decoder's layer in a 64-token prefill, eager and compiled
  as above, over 2 bytes x tokens x hidden, at two depths and three layer shapes (two FFN widths, two KV widths),
  solved for a part at the hidden width and parts per unit of FFN / hidden and KV width / hidden: every AR decoder's
  prefill (tokcost.engine.physics.decoder_elementwise_s).

Both byte counts are divided by 2 bytes x one block's activation elements (tokcost's unit,
:func:`tokcost.engine.physics.denoiser_activation_elems`, for the proxy's geometry): passes, which
tokcost.engine.physics prices at the chip's bandwidth (or L2). A transformer proxy is counted at two depths: the
difference is what each block moves (``per_block``), the rest what a forward moves once (``per_forward``:
embeddings, RoPE tables, the final norm), and a preset's passes per block are per_block + per_forward / its own
blocks. A UNet or U-ViT proxy keeps the real model's blocks (only narrower), so its total is already per block.

Limits, stated in the file: inductor's CPU backend decides the fusions here, not its Triton (CUDA) backend;
both fuse pointwise chains and reductions with their pointwise neighbours by the same scheduler rules, but the
figures are the CPU backend's. Eager op counts are those of the aten ops dispatched on the CPU, the same
composite decompositions as on CUDA (attention excepted, which is not counted).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tokcost" / "data" / "generated" / "elementwise_passes.yaml"

METHOD = (
    "Each preset's denoiser is built from its diffusers class at its own block structure but a small width "
    "(fewer heads of the real head dim) and random weights, and runs one bf16 forward on the CPU. eager: every "
    "aten op PyTorch dispatches, less GEMMs, convolutions, attention and views, moves the bytes of its tensor "
    "inputs and outputs. fused: torch.compile (inductor, default mode, no layout conversion) compiles the same "
    "module; every kernel it emits that is not an extern call moves the bytes of the buffers it reads and "
    "writes (inductor's get_read_write_buffers_sizes). Bytes over 2 x one block's activation elements "
    "(tokcost.engine.physics.denoiser_activation_elems for the proxy's geometry) are passes. A transformer proxy "
    "is counted at two depths: the difference is per_block, the rest per_forward (embeddings, RoPE tables, the "
    "final norm), and a preset's passes per block are per_block + per_forward / its blocks. A UNet or U-ViT proxy "
    "keeps the real model's blocks: its total is already per block. The fusions are inductor's CPU backend's, "
    "which follows the same scheduler rules as its CUDA backend. launches: every aten op of the eager forward that "
    "launches a kernel (GEMMs, convolutions and attention included) per denoiser layer of the preset; the "
    "transformers decoders' from one decode step of transformers' LlamaForCausalLM at two depths (by_model_type: "
    "of the causal LM of each model type, with SDPA and with transformers' own attention); decoders.prefill: "
    "that decoder's layer in a 64-token prefill at three layer shapes, passes over 2 x tokens x hidden solved for a "
    "part at the hidden width and parts per unit of FFN / hidden and KV width / hidden. per_kernel: the "
    "passes one eager element-wise kernel makes (its reads plus writes, over 2 x one block's activation elements) at "
    "the midpoints of five equal shares of the bytes (the kernels sorted by volume, the volume at 10, 30, 50, 70 and "
    "90% of their bytes; a transformer's from its blocks' kernels, those the deeper proxy adds; a UNet's or U-ViT's "
    "over its whole forward and its average block): the volumes kernels stream, each of whose share in L2 the "
    "physics prices for a fifth of the bytes."
)
# per_kernel's points: the midpoints of five equal shares of the element-wise bytes (volume_quintiles)
QUINTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
# aten ops that are not element-wise kernels: matmuls, convolutions and attention (priced by the kernel tables)
EXTERN = {
    "mm", "addmm", "bmm", "baddbmm", "convolution", "_convolution", "mkldnn_convolution",
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
}  # fmt: skip
NO_KERNEL = {"empty", "empty_strided", "empty_like", "_local_scalar_dense", "detach", "lift_fresh", "alias"}


def _count_eager(module, kwargs):
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.bytes = 0
            self.moved = []  # each element-wise kernel's bytes (its volume)
            self.launches = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = func._schema.name.split("::")[1]
            rets = func._schema.returns
            alias = rets[0].alias_info if rets else None
            if name in NO_KERNEL or (alias is not None and not alias.is_write):
                return out  # a view or an allocation: no kernel
            self.launches += 1
            if name in EXTERN:
                return out  # a GEMM, convolution or attention kernel: the kernel tables price it
            ins = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor) and a.dim() > 0]
            outs = [a for a in tree_flatten(out)[0] if isinstance(a, torch.Tensor) and a.dim() > 0]
            # reads every tensor input, writes every output (an in-place op writes the input it also read)
            moved = sum(t.numel() * t.element_size() for t in ins + outs)
            self.bytes += moved
            self.moved.append(moved)
            return out

    counter = Count()
    with torch.no_grad(), counter:
        module(**kwargs)
    return counter.bytes, counter.launches, counter.moved


def _count_compiled(module, kwargs):
    import torch
    from torch._inductor import graph as inductor_graph
    from torch._inductor import scheduler as inductor_scheduler

    # inductor has no public per-kernel byte count: wrap the method that computes its num_bytes_accessed metric
    seen = []
    original = inductor_graph.GraphLowering.count_bytes

    def count_bytes(self):
        for node in self.scheduler.nodes:
            if isinstance(
                node, (inductor_scheduler.ExternKernelSchedulerNode, inductor_scheduler.NopKernelSchedulerNode)
            ):
                continue
            seen.append(node.get_read_write_buffers_sizes())
        return original(self)

    torch._dynamo.reset()
    torch._inductor.config.fx_graph_cache = False
    # On the CPU inductor converts every convolution's operands to channels-last and back (oneDNN), copies a CUDA
    # build does not make (there a conv net runs channels-last throughout, converted once): count without them.
    torch._inductor.config.layout_optimization = False
    torch._logging.set_logs(inductor_metrics=True)  # count_bytes runs only when this log is on
    inductor_graph.GraphLowering.count_bytes = count_bytes
    try:
        with torch.no_grad():
            torch.compile(module)(**kwargs)
    finally:
        inductor_graph.GraphLowering.count_bytes = original
        torch._logging.set_logs()
    return sum(seen)


# ------------------------------------------------------------------------------------------------- proxies
# Each proxy (PROXIES): the presets it stands for, the diffusers class, a builder. A builder returns (module,
# forward kwargs, tokcost's unit: activation elements one forward's blocks produce, per denoiser_activation_elems
# for the proxy's geometry); a transformer's builder takes ``depth``, which multiplies its blocks. Widths shrink by
# using fewer heads of the real head dim; ratios (MLP, double/single blocks, levels) are the real model's (its
# diffusers config / model card).


def _t(*shape, dtype=None):
    import torch

    return torch.randn(*shape, dtype=dtype or torch.bfloat16)


def _flux(depth=1):
    from diffusers import FluxTransformer2DModel

    # FLUX.1: 19 double-stream + 38 single-stream blocks, 24 heads x 128, MLP 4 (black-forest-labs/FLUX.1-dev config)
    heads, hd, T, X = 2, 128, 1024, 128
    m = FluxTransformer2DModel(
        patch_size=1,
        in_channels=64,
        num_layers=depth,
        num_single_layers=2 * depth,
        attention_head_dim=hd,
        num_attention_heads=heads,
        joint_attention_dim=256,
        pooled_projection_dim=128,
        guidance_embeds=True,
        axes_dims_rope=(16, 56, 56),
    )
    kw = dict(
        hidden_states=_t(1, T, 64),
        encoder_hidden_states=_t(1, X, 256),
        pooled_projections=_t(1, 128),
        timestep=_t(1),
        guidance=_t(1),
        img_ids=_t(T, 3),
        txt_ids=_t(X, 3),
        return_dict=False,
    )
    return m, kw, 3 * depth * (T + X) * heads * hd


def _sd3(layers, qk_norm):
    def build(depth=1):
        from diffusers import SD3Transformer2DModel

        # SD3 medium: 24 joint blocks of 24 x 64 (the last context_pre_only); SD3.5 large: 38 of 38 x 64, qk RMSNorm
        heads, hd, side, X = 4, 64, 64, 128
        m = SD3Transformer2DModel(
            sample_size=side,
            patch_size=2,
            in_channels=16,
            num_layers=layers * depth,
            attention_head_dim=hd,
            num_attention_heads=heads,
            joint_attention_dim=256,
            caption_projection_dim=heads * hd,
            pooled_projection_dim=128,
            out_channels=16,
            pos_embed_max_size=side,
            qk_norm=qk_norm,
        )
        kw = dict(
            hidden_states=_t(1, 16, side, side),
            encoder_hidden_states=_t(1, X, 256),
            pooled_projections=_t(1, 128),
            timestep=_t(1),
            return_dict=False,
        )
        T = (side // 2) ** 2
        return m, kw, layers * depth * (T + X) * heads * hd

    return build


def _pixart(depth=1):
    from diffusers import PixArtTransformer2DModel

    # PixArt-Sigma: 28 blocks of 16 x 72, cross-attention, adaLN-single, GELU-tanh MLP 4
    heads, hd, side = 2, 72, 64
    m = PixArtTransformer2DModel(
        num_attention_heads=heads,
        attention_head_dim=hd,
        in_channels=4,
        out_channels=8,
        num_layers=2 * depth,
        cross_attention_dim=heads * hd,
        sample_size=side,
        patch_size=2,
        caption_channels=256,
        use_additional_conditions=False,
        interpolation_scale=2,
    )
    kw = dict(
        hidden_states=_t(1, 4, side, side),
        encoder_hidden_states=_t(1, 120, 256),
        timestep=_t(1),
        added_cond_kwargs={"resolution": None, "aspect_ratio": None},
        return_dict=False,
    )
    return m, kw, 2 * depth * (side // 2) ** 2 * heads * hd


def _sana(depth=1):
    from diffusers import SanaTransformer2DModel

    # Sana 0.6B / 1.6B: linear-attention blocks of heads x 32, cross-attention, Mix-FFN ratio 2.5
    heads, hd, side = 8, 32, 32
    m = SanaTransformer2DModel(
        in_channels=32,
        out_channels=32,
        num_attention_heads=heads,
        attention_head_dim=hd,
        num_layers=2 * depth,
        num_cross_attention_heads=2,
        cross_attention_head_dim=128,
        cross_attention_dim=heads * hd,
        caption_channels=256,
        sample_size=side,
        patch_size=1,
    )
    kw = dict(
        hidden_states=_t(1, 32, side, side), encoder_hidden_states=_t(1, 120, 256), timestep=_t(1), return_dict=False
    )
    return m, kw, 2 * depth * side * side * heads * hd


def _cogvideox(rotary):
    def build(depth=1):
        from diffusers import CogVideoXTransformer3DModel

        # CogVideoX-2b: 30 blocks of 30 x 64, sin-cos positions; 5b: 42 of 48 x 64, 3-D RoPE; 226 text tokens
        heads, hd, F, H, W, X = 4, 64, 4, 32, 32, 226
        m = CogVideoXTransformer3DModel(
            num_attention_heads=heads,
            attention_head_dim=hd,
            in_channels=16,
            out_channels=16,
            time_embed_dim=128,
            text_embed_dim=256,
            num_layers=2 * depth,
            sample_width=W,
            sample_height=H,
            sample_frames=(F - 1) * 4 + 1,
            max_text_seq_length=X,
            use_rotary_positional_embeddings=rotary,
        )
        kw = dict(
            hidden_states=_t(1, F, 16, H, W), encoder_hidden_states=_t(1, X, 256), timestep=_t(1), return_dict=False
        )
        if rotary:
            from diffusers.models.embeddings import get_3d_rotary_pos_embed

            cos, sin = get_3d_rotary_pos_embed(hd, ((0, 0), (H // 2, W // 2)), (H // 2, W // 2), F)
            kw["image_rotary_emb"] = (cos, sin)
        T = F * (H // 2) * (W // 2)
        return m, kw, 2 * depth * (T + X) * heads * hd

    return build


def _wan(ffn_ratio, channels=16, per_token_timestep=False):
    def build(depth=1):
        from diffusers import WanTransformer3DModel

        # Wan2.1: 1.3B 30 blocks of 12 x 128, FFN 8960; 14B 40 of 40 x 128, FFN 13824; qk RMSNorm, 3-D RoPE.
        # Wan2.2 TI2V-5B: 30 of 24 x 128, FFN 14336, 48 latent channels, and a timestep per token (diffusers'
        # WanPipeline expand_timesteps, set in Wan-AI/Wan2.2-TI2V-5B-Diffusers model_index.json): the modulation
        # is built per token rather than per sample.
        heads, hd, F, H, W = 2, 128, 3, 32, 32
        dim = heads * hd
        m = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=heads,
            attention_head_dim=hd,
            in_channels=channels,
            out_channels=channels,
            text_dim=256,
            freq_dim=256,
            ffn_dim=int(round(ffn_ratio * dim)),
            num_layers=2 * depth,
        )
        tokens = F * (H // 2) * (W // 2)
        kw = dict(
            hidden_states=_t(1, channels, F, H, W),
            encoder_hidden_states=_t(1, 128, 256),
            timestep=_t(1, tokens) if per_token_timestep else _t(1),
            return_dict=False,
        )
        return m, kw, 2 * depth * tokens * dim

    return build


def _qwen_image(depth=1):
    from diffusers import QwenImageTransformer2DModel

    # Qwen-Image: 60 dual-stream blocks of 24 x 128 (separate image and text weights, joint attention), MLP 4,
    # qk RMSNorm, a modulation per stream per block (Qwen/Qwen-Image transformer/config.json)
    heads, hd, h, w, X = 2, 128, 32, 32, 128
    m = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=64,
        out_channels=16,
        num_layers=2 * depth,
        attention_head_dim=hd,
        num_attention_heads=heads,
        joint_attention_dim=256,
        axes_dims_rope=(16, 56, 56),
    )
    kw = dict(
        hidden_states=_t(1, h * w, 64),
        encoder_hidden_states=_t(1, X, 256),
        encoder_hidden_states_mask=_t(1, X).gt(-10),
        timestep=_t(1),
        img_shapes=[(1, h, w)],
        return_dict=False,
    )
    return m, kw, 2 * depth * (h * w + X) * heads * hd


def _hunyuan(depth=1):
    from diffusers import HunyuanVideoTransformer3DModel

    # HunyuanVideo: 20 double-stream + 40 single-stream blocks of 24 x 128, MLP 4, qk RMSNorm, 256 text tokens
    heads, hd, F, H, W, X = 2, 128, 3, 32, 32, 64
    m = HunyuanVideoTransformer3DModel(
        in_channels=16,
        out_channels=16,
        num_attention_heads=heads,
        attention_head_dim=hd,
        num_layers=depth,
        num_single_layers=2 * depth,
        num_refiner_layers=1,
        text_embed_dim=256,
        pooled_projection_dim=128,
    )
    kw = dict(
        hidden_states=_t(1, 16, F, H, W),
        timestep=_t(1),
        encoder_hidden_states=_t(1, X, 256),
        encoder_attention_mask=_t(1, X).gt(-10),
        pooled_projections=_t(1, 128),
        guidance=_t(1),
        return_dict=False,
    )
    T = F * (H // 2) * (W // 2)
    return m, kw, 3 * depth * (T + X) * heads * hd


def _ltx(depth=1):
    from diffusers import LTXVideoTransformer3DModel

    # LTX-Video: 28 blocks of 32 x 64, cross-attention, qk RMSNorm across heads, GELU-tanh MLP 4
    heads, hd, F, H, W = 4, 64, 3, 16, 16
    m = LTXVideoTransformer3DModel(
        in_channels=128,
        out_channels=128,
        num_attention_heads=heads,
        attention_head_dim=hd,
        cross_attention_dim=heads * hd,
        num_layers=2 * depth,
        caption_channels=256,
    )
    T = F * H * W
    kw = dict(
        hidden_states=_t(1, T, 128),
        encoder_hidden_states=_t(1, 128, 256),
        timestep=_t(1, 1),
        encoder_attention_mask=_t(1, 128).gt(-10),
        num_frames=F,
        height=H,
        width=W,
        return_dict=False,
    )
    return m, kw, 2 * depth * T * heads * hd


def _unet(sdxl):
    def build():
        from diffusers import UNet2DConditionModel

        # SD 1.5: levels 320/640/1280/1280, one transformer per attention block, 8 heads; SDXL: 320/640/1280,
        # 1/2/10 transformers per block, heads of 64, text-time conditioning (the presets' unet_config).
        # Widths / 5; the unit is tokcost's: sum over attention levels of blocks x width x latent pixels.
        s, side = 5, 32
        if sdxl:
            ch = (320 // s, 640 // s, 1280 // s)
            m = UNet2DConditionModel(
                sample_size=side,
                in_channels=4,
                out_channels=4,
                block_out_channels=ch,
                layers_per_block=2,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                transformer_layers_per_block=(1, 2, 10),
                attention_head_dim=(1, 2, 4),
                cross_attention_dim=256,
                use_linear_projection=True,
                addition_embed_type="text_time",
                addition_time_embed_dim=32,
                projection_class_embeddings_input_dim=128 + 6 * 32,
                norm_num_groups=32,
            )
            extra = {"added_cond_kwargs": {"text_embeds": _t(1, 128), "time_ids": _t(1, 6)}}
            levels = [(2, ch[1], 10), (4, ch[2], 60)]  # (latent downsample, width, transformer blocks)
        else:
            ch = (320 // s, 640 // s, 1280 // s, 1280 // s)
            m = UNet2DConditionModel(
                sample_size=side,
                in_channels=4,
                out_channels=4,
                block_out_channels=ch,
                layers_per_block=2,
                attention_head_dim=8,
                cross_attention_dim=256,
                norm_num_groups=32,
            )
            extra = {}
            levels = [(1, ch[0], 5), (2, ch[1], 5), (4, ch[2], 5), (8, ch[3], 1)]
        kw = dict(
            sample=_t(1, 4, side, side),
            timestep=_t(1),
            encoder_hidden_states=_t(1, 77, 256),
            return_dict=False,
            **extra,
        )
        return m, kw, sum(n * w * (side // d) ** 2 for d, w, n in levels)

    return build


def _uvit():
    from diffusers import UVit2DModel

    # aMUSEd-256 (amused/amused-256 transformer config): 22 transformer layers of 16 x 64 (hidden 1024, MLP 2816)
    # at 16 x 16 tokens, 3 conv res blocks of 768 channels on each side; here hidden 256 (4 heads of 64)
    layers, side = 22, 16
    m = UVit2DModel(
        hidden_size=256,
        use_bias=False,
        cond_embed_dim=192,
        micro_cond_encode_dim=64,
        micro_cond_embed_dim=5 * 64,
        encoder_hidden_size=192,
        vocab_size=8256,
        codebook_size=8192,
        in_channels=192,
        block_out_channels=192,
        num_res_blocks=3,
        block_num_heads=3,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=704,
        sample_size=side,
    )
    kw = dict(
        input_ids=torch_randint(8192, (1, side, side)),
        encoder_hidden_states=_t(1, 77, 192),
        pooled_text_emb=_t(1, 192),
        micro_conds=_t(1, 5),
    )
    return m, kw, layers * side * side * 256


def torch_randint(high, shape):
    import torch

    return torch.randint(0, high, shape)


PROXIES = {  # name -> (the presets it stands for, the diffusers class, its builder)
    "flux": (("flux1-dev", "flux1-schnell"), "FluxTransformer2DModel", _flux),
    "sd3-medium": (("sd3-medium",), "SD3Transformer2DModel", _sd3(6, None)),
    "sd35-large": (("sd35-large",), "SD3Transformer2DModel, qk_norm rms_norm", _sd3(6, "rms_norm")),
    "pixart-sigma": (("pixart-sigma",), "PixArtTransformer2DModel", _pixart),
    "sana": (("sana-0.6b", "sana-1.6b"), "SanaTransformer2DModel", _sana),
    "cogvideox-2b": (("cogvideox-2b",), "CogVideoXTransformer3DModel", _cogvideox(False)),
    "cogvideox-5b": (("cogvideox-5b",), "CogVideoXTransformer3DModel, rotary", _cogvideox(True)),
    "wan21-1.3b": (("wan21-1.3b",), "WanTransformer3DModel, FFN 5.83 x width", _wan(8960 / 1536)),
    "wan21-14b": (("wan21-14b", "wan22-t2v-a14b"), "WanTransformer3DModel, FFN 2.7 x width", _wan(13824 / 5120)),
    "wan22-ti2v-5b": (
        ("wan22-ti2v-5b",),
        "WanTransformer3DModel, FFN 4.67 x width, a timestep per token",
        _wan(14336 / 3072, channels=48, per_token_timestep=True),
    ),
    "qwen-image": (("qwen-image",), "QwenImageTransformer2DModel", _qwen_image),
    "hunyuanvideo": (("hunyuanvideo",), "HunyuanVideoTransformer3DModel", _hunyuan),
    "ltx-video": (("ltx-video",), "LTXVideoTransformer3DModel", _ltx),
    "sd15": (("sd15",), "UNet2DConditionModel (SD 1.5 layout)", _unet(False)),
    "sdxl": (("sdxl", "sdxl-turbo"), "UNet2DConditionModel (SDXL layout)", _unet(True)),
    "amused-256": (("amused-256",), "UVit2DModel", _uvit),
}


def _one(build, depth):
    """(eager bytes, fused bytes, tokcost's unit, transformer blocks, eager launches, each eager element-wise
    kernel's bytes) of one forward of the proxy ``build`` at ``depth``."""
    import torch

    torch.manual_seed(0)
    module, kwargs, unit = build(depth) if depth else build()
    module = module.to(torch.bfloat16).eval()
    blocks = sum(len(getattr(module, a, ())) for a in ("transformer_blocks", "single_transformer_blocks", "blocks"))
    eager, launches, moved = _count_eager(module, kwargs)
    return eager, _count_compiled(module, kwargs), unit, blocks, launches, moved


def count(name: str) -> dict:
    """Passes per block (``per_block``) and once per forward (``per_forward``, over one block's activations), eager
    and fused. A transformer proxy is counted at two depths: the difference is the blocks' own traffic, the rest
    the forward's (embeddings, RoPE tables, the final norm), which a real model spreads over its own depth. A UNet
    or U-ViT proxy keeps the real model's blocks, so its total over tokcost's unit is already per block.

    ``per_kernel``: the passes one eager element-wise kernel makes (its reads plus writes over one block's
    activations) at the midpoints of five equal shares of the bytes (:func:`volume_quintiles`): the volumes
    element-wise kernels stream, which the physics compares with the chip's L2 (a transformer's block kernels, those
    the deeper proxy adds; a UNet's or U-ViT's whole forward, over its average block:
    tokcost.engine.physics.activation_blocks)."""
    import inspect

    build = PROXIES[name][2]
    if "depth" not in inspect.signature(build).parameters:
        eager, fused, unit, _, launches, moved = _one(build, None)
        block = unit / _activation_blocks(name)
        return {
            "per_block": (eager / (2 * unit), fused / (2 * unit)),
            "per_forward": (0.0, 0.0),
            "per_kernel": volume_quintiles(moved, 2 * block),
            "launches": {"per_block": 0.0, "per_forward": float(launches)},  # the whole net: a preset's layers share it
        }
    one, two = _one(build, 1), _one(build, 2)
    if two[3] != 2 * one[3] or two[2] != 2 * one[2]:
        raise RuntimeError(f"{name}: depth 2 must double the blocks and the unit")
    block = one[2] / one[3]  # one block's activation elements
    per_block = tuple((two[k] - one[k]) / (2 * block * one[3]) for k in (0, 1))
    per_forward = tuple((one[k] - per_block[k] * 2 * one[2]) / (2 * block) for k in (0, 1))
    # a forward's own traffic cannot be negative: where it comes out so, inductor fused the two depths' blocks
    # differently (Qwen-Image's fused count, by half a pass); the deeper proxy's whole traffic over its blocks
    # is then the per-block figure
    per_block = tuple(b if f >= 0 else two[k] / (2 * two[2]) for k, (b, f) in enumerate(zip(per_block, per_forward)))
    per_forward = tuple(max(f, 0.0) for f in per_forward)
    per_kernel = volume_quintiles(list((Counter(two[5]) - Counter(one[5])).elements()), 2 * block)
    launches_per_block = (two[4] - one[4]) / one[3]
    launches = {"per_block": launches_per_block, "per_forward": one[4] - launches_per_block * one[3]}
    return {"per_block": per_block, "per_forward": per_forward, "per_kernel": per_kernel, "launches": launches}


def volume_quintiles(moved: list[int], unit: float) -> tuple[float, ...]:
    """The volumes (bytes over ``unit``) of the kernels that move ``moved`` bytes each, at the midpoints of five
    equal shares of their bytes: the kernels sorted by volume, the volume of the kernel within which 10, 30, 50, 70
    and 90% of the bytes are reached. Each stands for a fifth of the bytes when the physics asks which stay in L2."""
    ordered = sorted(moved)
    total, running, out = sum(ordered), 0, []
    points = iter(QUINTILES)
    point = next(points)
    for volume in ordered:
        running += volume
        while point is not None and running >= point * total:
            out.append(volume / unit)
            point = next(points, None)
    return tuple(out)


def _activation_blocks(name: str) -> int:
    """The blocks tokcost's unit spreads over (tokcost.engine.physics.activation_blocks) for a proxy that keeps the
    real model's blocks: its presets' (they share the structure)."""
    from tokcost.engine.physics import activation_blocks

    return activation_blocks(_preset_as_written(PROXIES[name][0][0]))


def _preset_as_written(preset: str):
    """A model preset as its file writes it (the catalog would lay the file this script rewrites over it)."""
    from tokcost.io.parse import load_model
    from tokcost.io.paths import PRESETS_DIR
    from tokcost.records.presets import ModelPreset

    return load_model(ModelPreset, PRESETS_DIR / "models" / f"{preset}.yaml")[0]


def preset_passes(name: str, counted: dict) -> dict:
    """Each preset's (eager passes, fused passes, eager launches per layer): passes per block are the blocks' own
    plus the forward's spread over the preset's blocks; launches per layer (tokcost's denoiser_layers) likewise.
    A UNet or U-ViT proxy's launches are its whole forward's, over the preset's layers."""
    from tokcost.engine.physics import denoiser_layers

    out = {}
    launches = counted["launches"]
    for preset in PROXIES[name][0]:
        model = _preset_as_written(preset)
        denoiser = model.denoiser
        blocks = denoiser.transformer_geometry()[1] if denoiser.kind != "unet" else 1
        layers = denoiser_layers(model)
        per_layer = launches["per_forward"] / layers
        if launches["per_block"]:  # a transformer: its blocks' own, and the forward's spread over its layers
            per_layer = launches["per_block"] * denoiser.transformer_geometry()[1] / layers + per_layer
        out[preset] = (*(counted["per_block"][k] + counted["per_forward"][k] / blocks for k in (0, 1)), per_layer)
    return out


# The AR presets whose eager decoder layer is Llama's (RMSNorm, rotary, SwiGLU, SDPA) as transformers runs it: Emu3's
# modeling_emu3.py is a copy of transformers' Llama decoder, Janus-Pro's language model is transformers'
# LlamaForCausalLM. LlamaGen runs its own code, counted by hand in its presets (models/llamagen-*.yaml). Chameleon-
# style decoders (Chameleon, Lumina-mGPT) add a per-head qk LayerNorm and Emu3.5 runs its own code: not counted
# (the engine prices them at the reference layer's launches).
TRANSFORMERS_DECODERS = ("emu3-chat", "emu3-gen", "janus-pro-7b")
DECODER_PROXY = "transformers LlamaForCausalLM, one decode step (64 cached tokens)"


def _decoder(layers: int, ffn: int = 688, kv_heads: int = 2):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=256,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=kv_heads,
        head_dim=128,
        vocab_size=1024,
        max_position_embeddings=512,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(cfg).to(torch.bfloat16).eval()


def _decode_step_launches(model) -> int:
    """Eager launches of one decode step of a transformers causal LM (a KV cache of 64 tokens)."""
    import torch
    from transformers.cache_utils import DynamicCache

    ids = torch.randint(0, 1024, (1, 64))
    with torch.no_grad():
        cache = model(ids, cache=DynamicCache(config=model.config), use_cache=True).cache
    step = {"input_ids": ids[:, :1], "cache": cache, "use_cache": True}
    return _count_eager(model, step)[1]


def count_decoder() -> float:
    """Eager launches of one Llama decoder layer at one decode step (a KV cache of 64 tokens), from two depths."""
    return float(_decode_step_launches(_decoder(2)) - _decode_step_launches(_decoder(1)))


# The transformers model types (config.json model_type) whose decoder layer's eager launches are counted for bare
# decoders (tokcost validate's text-decode entries name theirs: model_type), each with both attention paths:
# attn_implementation "sdpa" (one SDPA kernel; flash_attention_2 calls one flash kernel in its place, so FA2 and FA3
# runs take this count) and "eager" (transformers' own matmul-softmax-matmul: tokcost's attention "math").
DECODER_MODEL_TYPES = (
    "llama", "mistral", "qwen2", "qwen3", "gemma", "glm4", "phi3", "opt", "gpt2", "gpt_neox", "falcon",
    "phi", "stablelm",
)  # fmt: skip
DECODER_ATTENTION = {"sdpa": "sdpa", "math": "eager"}  # tokcost's attention -> attn_implementation
DECODER_TYPES_PROXY = (
    "transformers' causal LM of each model type, one decode step (64 cached tokens), hidden 256 in 2 query heads "
    "with a KV head each, the type's default config otherwise, at two depths"
)


def _typed_decoder(model_type: str, layers: int, attn: str):
    """A small causal LM of transformers' ``model_type`` (random weights, nothing downloaded): its default config
    at hidden 256, 2 heads (head dim 128 where the config has one) with a KV head each, ``layers`` layers."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    cfg = AutoConfig.for_model(model_type)
    # the generic names; attribute_map forwards them to a config's own (GPT-2's n_embd, n_layer, n_head, ...)
    size = {"hidden_size": 256, "num_hidden_layers": layers, "num_attention_heads": 2, "vocab_size": 1024}
    size |= {"max_position_embeddings": 512, "pad_token_id": None}
    for name, v in size.items():
        setattr(cfg, name, v)
    for name, v in {"num_key_value_heads": 2, "head_dim": 128, "intermediate_size": 688, "ffn_dim": 688}.items():
        if name in cfg.to_dict():  # a field of the config, not a property derived from others (Falcon's head_dim)
            setattr(cfg, name, v)
    if model_type == "opt":
        cfg.word_embed_proj_dim = 256  # no projection around the blocks (once per forward either way)
    if model_type == "gpt2":
        cfg.n_inner = 688
    return AutoModelForCausalLM.from_config(cfg, attn_implementation=attn).to(torch.bfloat16).eval()


def count_decoder_types() -> dict[str, dict[str, float]]:
    """Per model type and tokcost attention: eager launches of one decoder layer at one decode step."""
    out = {}
    for model_type in DECODER_MODEL_TYPES:
        out[model_type] = {
            ours: float(
                _decode_step_launches(_typed_decoder(model_type, 2, attn))
                - _decode_step_launches(_typed_decoder(model_type, 1, attn))
            )
            for ours, attn in DECODER_ATTENTION.items()
        }
    return out


# A prefill forward of the Llama proxy (hidden 256: two query heads of 128): its tokens, and the layer widths it is
# counted at, as (FFN width, KV heads): Llama-2-7B's FFN ratio (11008 / 4096) and twice it, each KV head of its own
# query head (MHA), and the first again with one KV head for both (GQA 2:1)
PREFILL_TOKENS = 64
PREFILL_WIDTHS = ((688, 2), (1376, 2), (688, 1))
PREFILL_PROXY = (
    f"transformers LlamaForCausalLM, a prefill of {PREFILL_TOKENS} tokens (no cache): hidden 256 (2 query heads of "
    "128), FFN 688 and 1376, 2 and 1 KV heads"
)


def count_decoder_prefill() -> dict:
    """Element-wise passes per Llama decoder layer of a prefill (over 2 bytes x tokens x hidden: tokcost's unit for
    an AR decoder's activations), eager and fused, from two depths at each of :data:`PREFILL_WIDTHS`, solved for a
    part over the hidden width, one per unit of FFN / hidden and one per unit of KV width / hidden (the widths of
    the SwiGLU's and of the keys' element-wise work: norms, residual adds and the queries' rotary embedding run at
    the hidden width, which the proxy's query width equals); and the eager kernels' volumes (``per_kernel``) at the
    first width, those the deeper proxy adds."""
    import torch

    unit = 2 * PREFILL_TOKENS * 256
    per_layer, moved = [], None
    for ffn, kv_heads in PREFILL_WIDTHS:
        counts = []
        for layers in (1, 2):
            model = _decoder(layers, ffn, kv_heads)
            kwargs = {"input_ids": torch.randint(0, 1024, (1, PREFILL_TOKENS)), "use_cache": False}
            eager, _, kernels = _count_eager(model, kwargs)
            counts.append((eager, _count_compiled(model, kwargs), kernels))
        per_layer.append(tuple((counts[1][k] - counts[0][k]) / unit for k in (0, 1)))
        if moved is None:
            moved = list((Counter(counts[1][2]) - Counter(counts[0][2])).elements())
    (e1, f1), (e2, f2), (e3, f3) = per_layer
    # each shape's FFN / hidden and KV width / hidden: the first and second differ in the FFN, the first and third
    # in the KV heads, so the differences give the parts per unit of each, and the first the part left at the width
    (r1, k1), (r2, _), (_, k3) = ((ffn / 256, kv_heads * 128 / 256) for ffn, kv_heads in PREFILL_WIDTHS)

    def split(first, wider_ffn, fewer_kv):
        ffn, kv = (wider_ffn - first) / (r2 - r1), (first - fewer_kv) / (k1 - k3)
        return {"width": first - ffn * r1 - kv * k1, "ffn": ffn, "kv": kv}

    return {
        "eager": split(e1, e2, e3),
        "fused": split(f1, f2, f3),
        "per_kernel": volume_quintiles(moved or [], unit),
    }


def write(results: dict, decoder: float, prefill: dict, typed: dict) -> None:
    import statistics

    import diffusers
    import torch
    import transformers
    import yaml

    from tokcost.io.atomic import write_atomic

    def fig(x: float) -> float:
        return float(f"{x:.3g}")

    def pair(p) -> dict:
        return {"eager": fig(p[0]), "fused": fig(p[1])}

    counts = {
        name: {
            "proxy": PROXIES[name][1],
            "per_block": pair(r["per_block"]),
            "per_forward": pair(r["per_forward"]),
            "per_kernel": [fig(v) for v in r["per_kernel"]],
            "launches": {k: fig(v) for k, v in r["launches"].items()},
            "presets": {p: pair(v) | {"launches": fig(v[2])} for p, v in preset_passes(name, r).items()},
        }
        for name, r in results.items()
    }
    every = [p for c in counts.values() for p in c["presets"].values()]
    doc = {
        "generated_by": "python scripts/count_elementwise_passes.py",
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__.split("+")[0],
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "method": METHOD,
        "counts": counts,
        "decoders": {
            "proxy": DECODER_PROXY,
            "launches": fig(decoder),
            "presets": list(TRANSFORMERS_DECODERS),
            "by_model_type": {
                "proxy": DECODER_TYPES_PROXY,
                "launches": {t: {k: fig(v) for k, v in by.items()} for t, by in typed.items()},
            },
            "prefill": {
                "proxy": PREFILL_PROXY,
                "eager": {k: fig(v) for k, v in prefill["eager"].items()},
                "fused": {k: fig(v) for k, v in prefill["fused"].items()},
                "per_kernel": [fig(v) for v in prefill["per_kernel"]],
            },
        },
        "stand_in": {
            "eager": fig(statistics.median(p["eager"] for p in every)),
            "fused": fig(statistics.median(p["fused"] for p in every)),
            # a preset's kernel volumes are its proxy's; the median of each point
            "per_kernel": [
                fig(statistics.median(c["per_kernel"][i] for c in counts.values() for _ in c["presets"]))
                for i in range(len(QUINTILES))
            ],
            "launches": fig(statistics.median(p["launches"] for p in every)),
            "counted": "no count for this model: the median of the counted denoisers",
        },
    }
    header = (
        "# Generated by `python scripts/count_elementwise_passes.py`: do not edit. Element-wise passes per block of\n"
        "# each denoiser, eager and fused (torch.compile), and the kernels an eager layer launches, counted from its\n"
        "# diffusers (or transformers) code (method below).\n"
    )
    write_atomic(OUT, header + yaml.safe_dump(doc, sort_keys=False, width=120))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="proxies to count (default all); prints, writes nothing")
    args = ap.parse_args(argv)
    names = args.only or list(PROXIES)
    results = {}
    for n in names:
        r = results[n] = count(n)
        (be, bf), (fe, ff) = r["per_block"], r["per_forward"]
        print(
            f"{n:14s} per block: eager {be:6.1f} fused {bf:5.1f} (fused / eager {bf / be:.3f}); "
            f"per forward: eager {fe:6.1f} fused {ff:5.1f}; per kernel {' '.join(f'{v:.2f}' for v in r['per_kernel'])}; "
            f"launches {r['launches']}",
            flush=True,
        )
    decoder = count_decoder()
    print(f"decoder layer: {decoder:.0f} eager launches", flush=True)
    typed = count_decoder_types()
    print(f"decoder layer by model type (sdpa, math): {typed}", flush=True)
    prefill = count_decoder_prefill()
    print(f"decoder layer, prefill: {prefill}", flush=True)
    if not args.only:
        write(results, decoder, prefill, typed)
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
