"""Measure, on one GPU, the operators behind tokcost's open accuracy leads, each next to the time tokcost prices for it.

1. ``conv``: every distinct 3x3 convolution of SD 1.5's UNet at 512 px and SDXL's at 1024 px, at the CFG batches 2
   and 16, run by cuDNN in NCHW (diffusers' default) and channels_last, against ``torch.mm`` of the implicit GEMM
   cuDNN runs (m = batch x positions, n = output channels, k = input channels x 9) and against what tokcost prices
   for that GEMM (the device's measured kernel table, else its roofline). The lead: GPU-bound UNets on A100 and H100
   run 1.15-1.55x slower than priced where the table prices their convolutions as GEMMs (docs/validation.md).
2. ``vae``: the SD / SDXL VAE decoder (diffusers' ``AutoencoderKL``, random weights) at 512 and 1024 px in fp16, bf16
   and fp32 (cuDNN's TF32 on, PyTorch's default, and off), against ``physics.vae_decode_time``. The lead: one fitted
   ``vae_efficiency`` prices every chip and type, and published VAE-only timings disagree with it by chip.
3. ``attention``: SDPA at a DiT's sequence (4,096 tokens, batch 2, about 1,536 channels) for head dims 64-128,
   against the attention tokcost prices (``physics.attention_equivalent_flops`` at the preset's efficiency). The
   lead: narrow-head DiTs (SD3.5-Large's 64) on H100 and B200 priced fast.

4. ``decode``: transformers' ``generate`` of a decoder with Qwen2-7B's block (4 of its 28 layers, random weights) at
   batch 1 from 1k to 30k tokens of context, with each attention implementation transformers offers (``sdpa``,
   ``eager`` up to 8k tokens, whose prefill materialises the scores, and ``flash_attention_2`` where flash-attn is
   installed), against ``text_decode_s`` for the same decoder; at the longest context a profile of the decode names
   the kernels that take its time. The lead: the Qwen2 (A100) and Qwen3 (H20) speed benchmarks' transformers runs
   step about 1.4 ns slower per context token, query head and layer than tokcost prices (docs/validation.md, rounds
   18 and 24), and the kernel that does it is not identified.
5. ``dit``: one denoiser step of SD3.5-Large (38 joint blocks of 38 x 64, CFG batch 2, 333 text tokens) and
   FLUX.1-dev (19 + 38 blocks of 24 x 128, batch 1, 512 text tokens) at 1024 px, diffusers' transformers built from
   their config.json with random bf16 weights, eager and with each repeated block compiled (``torch.compile``),
   against tokcost's ``denoise`` for one step of the same model, engine and chip; a profile of each step splits the
   GPU's time into GEMMs, attention and the rest (element-wise, norms, copies, Inductor's fused kernels) and names
   the GPU's idle time (host-bound gaps). The lead: SD3-family eager steps are priced fast on every chip while their
   compiled twins and FLUX.1 fit; ONNX Runtime PR 22986 measures SD3.5-Large's eager step 83 ms above its compiled
   one on an H100, where tokcost prices 47 (docs/validation.md).
6. ``sustained``: one of FLUX.1's GEMMs (its MLP's up-projection at 1024 px: m 4,608, n 12,288, k 3,072, bf16)
   back to back for ``--sustain-s`` seconds (default 30), its throughput per window beside the SM clock, power and
   temperature ``nvidia-smi`` reports, against the rate tokcost prices for it. The lead: the kernel tables time each
   GEMM for milliseconds, at boost clock; a diffusion pipeline holds the chip at its power limit for seconds
   (docs/validation.md, "Sustained clocks").

Usage: ``python scripts/gpu_probes.py [--hardware ID] [--output FILE]``; the preset is recognised from the device name
(``tokcost.records.calibration.KNOWN_GPUS``) unless given. ``--device cpu --quick`` runs tiny shapes in seconds: the
test suite's smoke test, not a measurement. Needs torch (``.[bench]``); the VAE and DiT probes also need diffusers
(``.[counts]``) and the decode probe transformers (``.[hf]``); each is skipped, saying so, without it. Prints one table per probe and writes every row as JSON.
The two leads' probes alone (``--probes dit,sustained``) take about four minutes on an H100, most of it compiling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from tokcost.bench.timing import sync, time_call
from tokcost.engine import physics
from tokcost.engine.kernels import GEMM_TABLES, gemm_latency_s
from tokcost.engine.profiles import attention_problem, efficiency
from tokcost.io.atomic import write_atomic
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.records.calibration import KNOWN_GPUS

# (model, latent side, channels) of each UNet level's 3x3 convolutions: SD 1.5 at 512 px (latent 64), block_out_channels
# 320, 640, 1280, 1280; SDXL at 1024 px (latent 128), 320, 640, 1280 (their unet/config.json)
UNET_LEVELS = [("sd15", 64, 320), ("sd15", 32, 640), ("sd15", 16, 1280), ("sd15", 8, 1280)]
UNET_LEVELS += [("sdxl", 128, 320), ("sdxl", 64, 640), ("sdxl", 32, 1280)]
CFG_BATCHES = (2, 16)  # one image and eight, each with its unconditional branch
VAE_SIDES = (512, 1024)
VAE_TYPES = ("fp16", "bf16", "fp32", "fp32-no-tf32")
# head dims of the preset DiTs: SD3.5-Large and FLUX's 64 and 128 (SD3 MMDiT, FLUX), PixArt-Sigma's 72, Sana's 80
ATTN_HEAD_DIMS = (64, 72, 80, 96, 128)
ATTN_TOKENS, ATTN_WIDTH, ATTN_BATCH = 4096, 1536, 2
DTYPE = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
# Qwen2-7B's block (Qwen/Qwen2-7B-Instruct config.json: hidden 3584, 28 heads over 4 KV heads of 128, intermediate
# 18944, vocab 152064), 4 of its 28 layers: the context's cost per layer is what the probe measures
DECODE_LAYERS, DECODE_CONTEXTS, DECODE_NEW_TOKENS = 4, (1024, 8192, 16384, 30720), 16
DECODE_IMPLS = ("sdpa", "eager", "flash_attention_2")
EAGER_MAX_CONTEXT = 8192  # eager attention's prefill writes heads x context^2 fp32 scores: 106 GB at 30k tokens
DIT_MODELS = ("sd35-large", "flux1-dev")
# FLUX.1's MLP up-projection at 1024 px (4,096 image + 512 text tokens, width 3,072, MLP ratio 4): (m, n, k)
SUSTAIN_GEMM = (4608, 12288, 3072)


class Pricing:
    """What tokcost charges for an operator on ``hw`` (a hardware preset, or None: nothing to compare with)."""

    def __init__(self, hw):
        self.hw = hw
        self.eff = efficiency(load_engines()["eager"], hw) if hw is not None else None
        chip = hardware_kernels(hw.id) if hw is not None else None
        self.table = chip.tables.get(GEMM_TABLES["bf16"]) if chip is not None else None

    def gemm_s(self, m: int, n: int, k: int) -> tuple[float, str]:
        if self.hw is None:
            return math.nan, "no preset"
        if self.table is not None:
            t = float(gemm_latency_s(self.table, np.array([float(m)]), n, k)[0])
            if math.isfinite(t):
                return t, "table"
        return 2.0 * m * n * k / (physics.peak_flops(self.hw, "fp16") * self.eff.mfu), "roofline"

    def attention_s(self, flops: float, head_dim: int, kernel: str) -> float:
        """The attention ``kernel`` (tokcost's --attention: fa2, cudnn) at ``head_dim``, or NaN where the preset
        cannot price it (cuDNN's figure is measured on some chips only)."""
        if self.hw is None or attention_problem(self.hw, kernel) is not None:
            return math.nan
        e = efficiency(load_engines()["eager"], self.hw, attention=kernel)
        mfu = e.attention_mfu if e.attention_mfu is not None else e.mfu
        P = physics.peak_flops(self.hw, "bf16")
        score_rate = physics.softmax_rate(self.hw.exp_tops, self.hw.dense_tflops.fp32, kernel)
        equivalent = physics.attention_equivalent_flops(
            [(flops, head_dim)], P, mfu, score_rate, physics.flash_head_step(self.hw)
        )
        return float(equivalent) / (P * mfu)

    def vae_s(self, model, side: int, dtype: str) -> float:
        if self.hw is None or dtype == "fp32-no-tf32":  # tokcost prices fp32 convolutions as TF32 where it exists
            return math.nan
        P = physics.vae_peak_flops(self.hw, model.vae, "fp16", dtype)
        return float(physics.vae_decode_time(model, P, self.eff, 1, side, side, 1)[0])


def probe_conv(dev: torch.device, price: Pricing, quick: bool, repeats: int) -> list[dict]:
    levels = [("tiny", 8, 16), ("tiny", 4, 32)] if quick else UNET_LEVELS
    rows = []
    for model, side, c in levels:
        for b in (2,) if quick else CFG_BATCHES:
            x = torch.randn(b, c, side, side, device=dev, dtype=torch.float16)
            w = torch.randn(c, c, 3, 3, device=dev, dtype=torch.float16) * 0.02
            m, n, k = b * side * side, c, c * 9
            a, bt = (
                torch.randn(m, k, device=dev, dtype=torch.float16),
                torch.randn(k, n, device=dev, dtype=torch.float16),
            )
            xl, wl = x.to(memory_format=torch.channels_last), w.to(memory_format=torch.channels_last)
            nchw = time_call(partial(F.conv2d, x, w, padding=1), dev, repeats, warmup=2)
            cl = time_call(partial(F.conv2d, xl, wl, padding=1), dev, repeats, warmup=2)
            mm = time_call(partial(torch.mm, a, bt), dev, repeats, warmup=2)
            priced, path = price.gemm_s(m, n, k)
            tflop = 2.0 * m * n * k / 1e12
            rows.append(
                {
                    "probe": "conv",
                    "model": model,
                    "latent_side": side,
                    "channels": c,
                    "batch": b,
                    "gemm_mnk": [m, n, k],
                    "nchw_s": nchw,
                    "channels_last_s": cl,
                    "mm_s": mm,
                    "priced_s": priced,
                    "priced_by": path,
                    "nchw_tflops": tflop / nchw,
                    "mm_tflops": tflop / mm,
                }
            )
    return rows


def _sd_vae():
    from diffusers import AutoencoderKL  # the [counts] extra; the caller skips this probe without it
    from diffusers.utils import logging

    logging.set_verbosity_error()  # its advice on casting a pretrained model's dtype does not apply to random weights

    # the SD 1.x / SDXL VAE (stabilityai/sdxl-vae config.json): 4 levels of 128-512 channels, 2 resnets a level
    return AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=32,
    ).eval()


def probe_vae(dev: torch.device, price: Pricing, quick: bool, repeats: int, catalog: Catalog) -> list[dict]:
    try:
        vae = _sd_vae()
    except ImportError as e:
        print(f"vae: skipped ({e}; install the [counts] extra or carry a diffusers wheel)", file=sys.stderr)
        return []
    model = catalog.model("sdxl")
    rows = []
    for side in (64,) if quick else VAE_SIDES:
        for dtype in ("bf16", "fp32") if quick else VAE_TYPES:
            torch.backends.cudnn.allow_tf32 = dtype != "fp32-no-tf32"
            kind = DTYPE[dtype.split("-")[0]]
            vae.to(device=dev, dtype=kind)
            z = torch.randn(1, 4, side // 8, side // 8, device=dev, dtype=kind)
            with torch.no_grad():
                seconds = time_call(partial(vae.decode, z), dev, repeats, warmup=1)
            flops = model.vae.decode_tflops_per_mpixel * side * side / 1e6
            rows.append(
                {
                    "probe": "vae",
                    "side": side,
                    "dtype": dtype,
                    "measured_s": seconds,
                    "priced_s": price.vae_s(model, side, dtype),
                    "tflops": flops / seconds,
                }
            )
    torch.backends.cudnn.allow_tf32 = True
    return rows


def probe_attention(dev: torch.device, price: Pricing, quick: bool, repeats: int) -> list[dict]:
    """SDPA pinned to one backend at a time, so that each is compared with the kernel tokcost prices for it:
    PyTorch's flash backend (FlashAttention-2, tokcost's fa2 and, before PyTorch 2.11, sdpa) and cuDNN's fused
    attention (tokcost's cudnn). On the CPU (--quick) SDPA's own choice runs, and nothing is priced."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    tokens, width = (64, 128) if quick else (ATTN_TOKENS, ATTN_WIDTH)
    backends = [("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    rows = []
    for d in (32, 64) if quick else ATTN_HEAD_DIMS:
        heads = max(1, round(width / d))
        q, k, v = (torch.randn(ATTN_BATCH, heads, tokens, d, device=dev, dtype=torch.bfloat16) for _ in range(3))
        flops = 4.0 * ATTN_BATCH * heads * tokens * tokens * d
        for kernel, backend in backends if dev.type == "cuda" else [("cpu", None)]:
            row = {"probe": "attention", "kernel": kernel, "head_dim": d, "heads": heads, "tokens": tokens}
            try:
                with sdpa_kernel(backend) if backend is not None else contextlib.nullcontext():
                    seconds = time_call(partial(F.scaled_dot_product_attention, q, k, v), dev, repeats, warmup=2)
            except RuntimeError as e:  # the backend does not take this head dim, or is not built for the chip
                rows.append(row | {"skipped": str(e).splitlines()[0]})
                continue
            priced = price.attention_s(flops, d, kernel) if backend is not None else math.nan
            rows.append(row | {"measured_s": seconds, "priced_s": priced, "tflops": flops / 1e12 / seconds})
    return rows


def _set_attention(model, impl: str) -> None:
    """Switch the model's attention implementation (transformers checks that the kernel is installed)."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(impl)
    else:  # older transformers read it from the config at every forward
        model.config._attn_implementation = impl


def _kernel_events(prof) -> list:
    """The GPU kernels of a finished ``torch.profiler`` profile, one entry per kernel name (the averages whose own
    device time is positive: the CPU-side operators that launched them carry none)."""
    return [e for e in prof.key_averages() if getattr(e, "self_device_time_total", 0) > 0]


def _top_kernels(model, ctx: int, dev: torch.device, n: int = 6) -> list[list]:
    """The ``n`` GPU kernels that take the most time in a decode of a few tokens after a ``ctx``-token prompt:
    [name, milliseconds per decode step]."""
    from torch.profiler import ProfilerActivity, profile

    from tokcost.bench.hf import generate_s

    ids = torch.randint(3, model.config.vocab_size, (1, ctx), device=dev)
    with torch.inference_mode():
        generate_s(model, ids, ids, 1, 1.0, 0, 0.0)  # warm-up
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            generate_s(model, ids, ids, 1 + DECODE_NEW_TOKENS, 1.0, 0, 0.0)
    events = _kernel_events(prof)
    events.sort(key=lambda e: -e.self_device_time_total)
    return [[e.key[:90], e.self_device_time_total / 1e3 / DECODE_NEW_TOKENS] for e in events[:n]]


def probe_decode(dev: torch.device, price: Pricing, quick: bool, repeats: int) -> list[dict]:
    """Seconds per decoded token of transformers' generate (batch 1, greedy) by attention implementation and
    context, against what tokcost prices for the same decoder under its eager engine (the DynamicCache's reads; the
    eager implementation's repeat_kv copies too)."""
    try:
        import transformers  # noqa: F401  (the [hf] extra)
    except ImportError as e:
        print(f"decode: skipped ({e}; install the [hf] extra)", file=sys.stderr)
        return []
    from tokcost.bench.decoder import Shape
    from tokcost.bench.hf import build_model, time_per_token
    from tokcost.core.validate import bare_decoder_cache
    from tokcost.engine.estimate import text_decode_s

    shape = Shape(2, 64, 4, 2, 16, 128, 256) if quick else Shape(DECODE_LAYERS, 3584, 28, 4, 128, 18944, 152064)
    contexts = (16, 64) if quick else DECODE_CONTEXTS
    model = build_model(shape, dev, "bf16", max(contexts) + 2 * DECODE_NEW_TOKENS)
    block = shape.layer_params
    arch = physics.Architecture(
        layers=shape.layers, hidden=shape.hidden, heads=shape.heads, kv_heads=shape.kv_heads,
        head_dim=shape.head_dim, ffn=shape.ffn, vocab=shape.vocab, context=max(contexts) + 2 * DECODE_NEW_TOKENS,
        # build_model ties the output head to the embedding: the weights in memory are the ones the matmuls read
        params_b=(shape.layers * block + shape.head_params) / 1e9,
        matmul_params_b=(shape.layers * block + shape.head_params) / 1e9,
    )  # fmt: skip
    rows = []
    for impl in DECODE_IMPLS:
        try:
            _set_attention(model, impl)
        except (ImportError, ValueError, RuntimeError, OSError) as e:  # flash-attn not installed, or not for this chip
            rows.append({"probe": "decode", "attention": impl, "skipped": str(e).splitlines()[0][:120]})
            continue
        for ctx in contexts:
            if impl == "eager" and ctx > EAGER_MAX_CONTEXT:
                continue
            step = time_per_token(model, 1, ctx, 2 if quick else DECODE_NEW_TOKENS, 1.0, 0, 0.0, repeats=repeats)
            priced = math.nan
            if price.hw is not None:
                cache = bare_decoder_cache("eager", arch, "math" if impl == "eager" else None)
                new = 2 if quick else DECODE_NEW_TOKENS
                _, decode = text_decode_s(arch, price.hw, load_engines(), "eager", "bf16", ctx, new, kv_cache=cache)
                priced = float(decode) / new
            rows.append(
                {"probe": "decode", "attention": impl, "context": ctx, "layers": shape.layers, "heads": shape.heads,
                 "measured_s": step, "priced_s": priced}
            )  # fmt: skip
        if dev.type == "cuda":
            rows.append({"probe": "decode-kernels", "attention": impl, "context": max(contexts),
                         "top": _top_kernels(model, max(contexts) if impl != "eager" else EAGER_MAX_CONTEXT, dev)})  # fmt: skip
    return rows


def _dit(name: str, quick: bool, dev: torch.device):
    """(model, the inputs of one denoiser step at 1024 px, the lists of its repeated blocks) for a preset DiT, built
    from its config.json with random weights in bf16; ``quick``: the same class at a few channels and one block."""
    from diffusers import FluxTransformer2DModel, SD3Transformer2DModel

    def rand(*shape):
        return torch.randn(*shape, device=dev, dtype=torch.bfloat16)

    def full(batch, value):
        return torch.full((batch,), value, device=dev, dtype=torch.bfloat16)

    with torch.device(dev):  # initialised on the GPU: FLUX.1's 12B parameters take minutes on the CPU
        if name == "sd35-large":
            # stabilityai/stable-diffusion-3.5-large transformer/config.json; guidance batched (2 x 1 image), 77 CLIP
            # + 256 T5 tokens (StableDiffusion3Pipeline), joint_attention_dim 4096, pooled_projection_dim 2048
            heads, hd, layers, side, text, joint, pooled = (
                (2, 32, 1, 16, 8, 64, 32) if quick else (38, 64, 38, 128, 333, 4096, 2048)
            )
            model = SD3Transformer2DModel(
                sample_size=side, patch_size=2, in_channels=16, num_layers=layers, attention_head_dim=hd,
                num_attention_heads=heads, joint_attention_dim=joint, caption_projection_dim=heads * hd,
                pooled_projection_dim=pooled, out_channels=16, pos_embed_max_size=side if quick else 192,
                qk_norm="rms_norm",
            )  # fmt: skip
            inputs = dict(
                hidden_states=rand(2, 16, side, side), encoder_hidden_states=rand(2, text, joint),
                pooled_projections=rand(2, pooled), timestep=full(2, 500.0),
            )  # fmt: skip
            blocks = [model.transformer_blocks]
        else:
            # black-forest-labs/FLUX.1-dev transformer/config.json; guidance-distilled (batch 1), 512 T5 tokens
            heads, hd, double, single, tokens, text, joint, pooled, rope = (
                (2, 32, 1, 2, 64, 8, 64, 32, (8, 12, 12))
                if quick
                else (24, 128, 19, 38, 4096, 512, 4096, 768, (16, 56, 56))
            )
            model = FluxTransformer2DModel(
                patch_size=1, in_channels=64, num_layers=double, num_single_layers=single, attention_head_dim=hd,
                num_attention_heads=heads, joint_attention_dim=joint, pooled_projection_dim=pooled,
                guidance_embeds=True, axes_dims_rope=rope,
            )  # fmt: skip
            inputs = dict(
                hidden_states=rand(1, tokens, 64), encoder_hidden_states=rand(1, text, joint),
                pooled_projections=rand(1, pooled), timestep=full(1, 0.5), guidance=full(1, 3.5),
                img_ids=torch.zeros(tokens, 3, device=dev), txt_ids=torch.zeros(text, 3, device=dev),
            )  # fmt: skip
            blocks = [model.transformer_blocks, model.single_transformer_blocks]
    return model.to(torch.bfloat16).eval(), inputs | {"return_dict": False}, blocks


def _kernel_kind(name: str) -> str:
    n = name.lower()
    if any(s in n for s in ("flash", "fmha", "attention", "attn")):
        return "attention"
    if any(s in n for s in ("gemm", "cutlass", "xmma", "nvjet", "cublas")):
        return "gemm"
    return "other"  # element-wise, reductions and norms, copies, Inductor's fused (triton_*) kernels


def _kernel_split(fn) -> dict:
    """GPU seconds of one call of ``fn`` by kind of kernel (:func:`_kernel_kind`), and the kernels launched."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    split = {"gemm_s": 0.0, "attention_s": 0.0, "other_s": 0.0, "kernels": 0}
    for e in _kernel_events(prof):
        split[f"{_kernel_kind(e.key)}_s"] += e.self_device_time_total / 1e6
        split["kernels"] += e.count
    return split


def probe_dit(dev: torch.device, price: Pricing, quick: bool, repeats: int) -> list[dict]:
    """Seconds of one denoiser step of each of :data:`DIT_MODELS`, eager and with its repeated blocks compiled,
    against tokcost's ``denoise`` for one step at 1024 px (nothing is priced at --quick's shapes); on a GPU, the
    step's kernel time by kind and the GPU's idle time (the step's wall time less its kernels'). The priced step
    also holds the engine's fitted time per step outside the denoiser (the scheduler's), a few milliseconds that
    the probe, which runs the transformer alone, does not spend."""
    try:
        import diffusers  # noqa: F401  (the [counts] extra)
    except ImportError as e:
        print(f"dit: skipped ({e}; install the [counts] extra)", file=sys.stderr)
        return []
    from tokcost import api

    rows = []
    for name in DIT_MODELS:
        model, inputs, blocks = _dit(name, quick, dev)
        for engine in ("eager", "compiled"):
            if engine == "compiled":
                # each block compiled in place; identical blocks share one graph (diffusers' regional compilation).
                # --quick traces them with dynamo alone: Inductor's code generation takes minutes on a CPU
                for stack in blocks:
                    for block in stack:
                        block.compile(backend="eager" if quick else "inductor")
            with torch.inference_mode():
                step = time_call(partial(model, **inputs), dev, repeats, warmup=2)
                split = _kernel_split(partial(model, **inputs)) if dev.type == "cuda" else {}
            priced = math.nan
            if price.hw is not None and not quick:
                r = api.estimate(model=name, hardware=price.hw.id, engine=engine, steps=1, width=1024, height=1024)
                priced = r.breakdown_s["denoise"]
            row = {"probe": "dit", "model": name, "engine": engine, "measured_s": step, "priced_s": priced}
            if split:
                busy = split["gemm_s"] + split["attention_s"] + split["other_s"]
                row |= split | {"idle_s": max(step - busy, 0.0)}
            rows.append(row)
        del model, inputs, blocks
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return rows


class _SmiLog:
    """``nvidia-smi``'s SM clock (MHz), power (W) and temperature (C) of one GPU every 250 ms, with the monotonic
    time each sample was read."""

    def __init__(self, dev: torch.device):
        uuid = getattr(torch.cuda.get_device_properties(dev), "uuid", None)
        query = ["nvidia-smi", "--query-gpu=clocks.sm,power.draw,temperature.gpu", "--format=csv,noheader,nounits"]
        self.proc = subprocess.Popen(
            query + ["-lms", "250"] + ([f"--id=GPU-{uuid}"] if uuid else []),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.samples: list[tuple[float, float, float, float]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                mhz, watts, temp = (float(x) for x in line.split(","))
            except ValueError:  # "[N/A]" on a part that does not report it
                continue
            self.samples.append((time.monotonic(), mhz, watts, temp))

    def stop(self) -> list[tuple[float, float, float, float]]:
        self.proc.terminate()
        self.thread.join(timeout=5)
        return self.samples


def probe_sustained(dev: torch.device, price: Pricing, quick: bool, seconds: float) -> list[dict]:
    """:data:`SUSTAIN_GEMM` back to back for ``seconds``: bf16 TFLOP/s per window of about 0.1 s, with the SM clock,
    power and temperature over it where ``nvidia-smi`` reports them, against tokcost's rate for that GEMM."""
    m, n, k = (64, 128, 64) if quick else SUSTAIN_GEMM
    a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
    b = torch.randn(k, n, device=dev, dtype=torch.bfloat16)
    out = torch.empty(m, n, device=dev, dtype=torch.bfloat16)
    flop, chunk = 2.0 * m * n * k, 20 if quick else 200  # 200 x ~0.5 ms on an H100
    for _ in range(3):  # warm-up: cuBLAS's heuristics, the allocator
        torch.mm(a, b, out=out)
    sync(dev)
    smi = _SmiLog(dev) if dev.type == "cuda" and shutil.which("nvidia-smi") else None
    windows, t0 = [], time.monotonic()
    while time.monotonic() - t0 < seconds:
        start = time.monotonic()
        for _ in range(chunk):
            torch.mm(a, b, out=out)
        sync(dev)
        stop = time.monotonic()
        windows.append((start, stop, chunk * flop / (stop - start) / 1e12))
    samples = smi.stop() if smi is not None else []

    def during(lo: float, hi: float, i: int) -> float:
        xs = [s[i] for s in samples if lo <= s[0] <= hi]
        return float(np.median(xs)) if xs else math.nan

    def rate(lo: float, hi: float) -> float:  # the windows that start in [lo, hi), or the last one that starts before
        xs = [w[2] for w in windows if lo <= w[0] < hi] or [w[2] for w in windows if w[0] < hi][-1:]
        return float(np.median(xs)) if xs else math.nan

    end = windows[-1][1]
    first, last = (t0, t0 + min(1.0, seconds / 4)), (max(t0, end - min(5.0, seconds / 4)), end)
    priced, by = price.gemm_s(m, n, k)
    return [
        {
            "probe": "sustained", "gemm_mnk": [m, n, k], "seconds": end - t0, "windows": len(windows),
            "first_tflops": rate(*first), "last_tflops": rate(*last), "priced_tflops": flop / priced / 1e12,
            "priced_by": by,
            "first_sm_mhz": during(*first, 1), "last_sm_mhz": during(*last, 1),
            "first_watts": during(*first, 2), "last_watts": during(*last, 2), "last_temp_c": during(*last, 3),
            # one row per second: [seconds from the start, TFLOP/s, SM MHz, W]
            "trace": [
                [round(s, 2), rate(t0 + s, t0 + s + 1.0), during(t0 + s, t0 + s + 1.0, 1), during(t0 + s, t0 + s + 1.0, 2)]
                for s in np.arange(0.0, end - t0, 1.0)
            ],
        }
    ]  # fmt: skip


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if math.isfinite(a) and math.isfinite(b) and b > 0 else "-"


def print_tables(rows: list[dict]) -> None:
    conv = [r for r in rows if r["probe"] == "conv"]
    if conv:
        print(
            f"{'conv':<6}{'side':>5}{'ch':>6}{'b':>4}{'nchw ms':>9}{'cl ms':>8}{'mm ms':>8}{'priced':>8}"
            f"{'nchw/priced':>12}{'nchw/mm':>9}  by"
        )
        for r in conv:
            print(
                f"{r['model']:<6}{r['latent_side']:>5}{r['channels']:>6}{r['batch']:>4}{r['nchw_s'] * 1e3:>9.3f}"
                f"{r['channels_last_s'] * 1e3:>8.3f}{r['mm_s'] * 1e3:>8.3f}{r['priced_s'] * 1e3:>8.3f}"
                f"{_ratio(r['nchw_s'], r['priced_s']):>12}{_ratio(r['nchw_s'], r['mm_s']):>9}  {r['priced_by']}"
            )
    for r in (r for r in rows if r["probe"] == "vae"):
        print(
            f"vae {r['side']:>5} px {r['dtype']:<13} {r['measured_s'] * 1e3:9.2f} ms  priced "
            f"{r['priced_s'] * 1e3:9.2f} ms  measured/priced {_ratio(r['measured_s'], r['priced_s'])}  "
            f"{r['tflops']:.1f} TFLOP/s"
        )
    for r in (r for r in rows if r["probe"] == "decode"):
        if "skipped" in r:
            print(f"decode {r['attention']:<18} skipped: {r['skipped']}")
            continue
        print(
            f"decode {r['attention']:<18} {r['context']:>6} tokens {r['measured_s'] * 1e3:8.3f} ms/step  priced "
            f"{r['priced_s'] * 1e3:8.3f}  measured/priced {_ratio(r['measured_s'], r['priced_s'])}"
        )
    for r in (r for r in rows if r["probe"] == "decode-kernels"):
        print(f"decode {r['attention']} at {r['context']} tokens, top kernels (ms per step):")
        for name, ms in r["top"]:
            print(f"    {ms:8.3f}  {name}")
    for r in (r for r in rows if r["probe"] == "dit"):
        split = ""
        if "kernels" in r:
            split = (
                f" | GEMM {r['gemm_s'] * 1e3:.1f} attention {r['attention_s'] * 1e3:.1f} other {r['other_s'] * 1e3:.1f}"
                f" idle {r['idle_s'] * 1e3:.1f} ms, {r['kernels']} kernels"
            )
        print(
            f"dit {r['model']:<11} {r['engine']:<9} {r['measured_s'] * 1e3:9.2f} ms/step  priced "
            f"{r['priced_s'] * 1e3:9.2f}  measured/priced {_ratio(r['measured_s'], r['priced_s'])}{split}"
        )
    for r in (r for r in rows if r["probe"] == "sustained"):
        print(
            f"sustained mm {'x'.join(map(str, r['gemm_mnk']))} over {r['seconds']:.0f} s: {r['first_tflops']:.0f} -> "
            f"{r['last_tflops']:.0f} TFLOP/s ({_ratio(r['last_tflops'], r['first_tflops'])}), SM "
            f"{r['first_sm_mhz']:.0f} -> {r['last_sm_mhz']:.0f} MHz, {r['first_watts']:.0f} -> {r['last_watts']:.0f} W; "
            f"priced {r['priced_tflops']:.0f} ({r['priced_by']}), last/priced {_ratio(r['last_tflops'], r['priced_tflops'])}"
        )
    for r in (r for r in rows if r["probe"] == "attention"):
        if "skipped" in r:
            print(f"attention {r['kernel']:<6} d={r['head_dim']:<4} skipped: {r['skipped']}")
            continue
        print(
            f"attention {r['kernel']:<6} d={r['head_dim']:<4} heads {r['heads']:>3} {r['measured_s'] * 1e3:8.3f} ms  priced "
            f"{r['priced_s'] * 1e3:8.3f} ms  measured/priced {_ratio(r['measured_s'], r['priced_s'])}  "
            f"{r['tflops']:.0f} TFLOP/s"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--hardware", default=None, help="hardware preset to price against (default: from the device name)")
    ap.add_argument("--quick", action="store_true", help="tiny shapes: a smoke test, not a measurement")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--probes", default="conv,vae,attention,decode,dit,sustained")
    ap.add_argument("--sustain-s", type=float, default=30.0, help="seconds the sustained probe runs (default 30)")
    ap.add_argument("--output", default=None, help="write every row as JSON here")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_probes: torch sees no CUDA device (use --device cpu --quick for a smoke test)", file=sys.stderr)
        return 2
    dev = torch.device(args.device)
    catalog = Catalog.default()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    preset = args.hardware or KNOWN_GPUS.get(name)
    price = Pricing(catalog.hardware(preset) if preset else None)
    wanted = set(args.probes.split(","))
    rows: list[dict] = []
    if "conv" in wanted:
        rows += probe_conv(dev, price, args.quick, args.repeats)
    if "vae" in wanted:
        rows += probe_vae(dev, price, args.quick, max(1, args.repeats // 3), catalog)
    if "attention" in wanted:
        rows += probe_attention(dev, price, args.quick, args.repeats)
    if "decode" in wanted:
        rows += probe_decode(dev, price, args.quick, max(1, args.repeats // 3))
    if "dit" in wanted:
        rows += probe_dit(dev, price, args.quick, max(1, args.repeats // 2))
    if "sustained" in wanted:
        rows += probe_sustained(dev, price, args.quick, 0.2 if args.quick else args.sustain_s)
    print(f"device {name}, priced against {preset or 'no preset'}, torch {torch.__version__}")
    print_tables(rows)
    if args.output:
        out = {"device": name, "preset": preset, "torch": torch.__version__, "quick": args.quick, "rows": rows}
        write_atomic(args.output, json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
