"""Masked autoregression with a diffusion head (MAR): per image, ``iterations`` rounds, each

- an encoder forward over the known tokens and the buffer (E_k = buffer + T - m_k tokens, m_k still masked),
- a decoder forward over every position (buffer + T),
- the diffusion head run ``head.steps`` times, one step after another, over the p_k tokens unmasked this round,

then the VAE decode (docs/methodology.md, "Masked autoregression with a diffusion head"). The masking schedule is
MAR's (models/mar.py sample_tokens): m_(k+1) = max(1, min(m_k - 1, floor(T cos(pi/2 (k+1)/K)))), and the last
round predicts every token left. Guidance batches both branches through the transformer and the head.

Every pass is priced from the kernels MAR's code launches (LTH14/mar, under torch.cuda.amp.autocast), each taking
max(the host's launch, its own GPU time): a GEMM max(FLOPs / (P mfu), bytes / (BW mbu)) on the sourced roofline,
an element-wise kernel its bytes at the memory (or measured L2) rate. The launch is the engine profile's fitted
host time per block over the kernels such a block launches (:data:`tokcost.engine.physics.REFERENCE_LAUNCHES`).
The encoder and decoder blocks (timm ``Block``) run tens of thousands of tokens a kernel and are GPU-bound; the
head's steps run a small MLP over a thousand rows, and between its GEMMs dozens of tiny sampler kernels and eleven
host-to-device copies, each of which waits for the GPU (a pageable ``.to(device)``): there the launches bind. The
per-round mask bookkeeping (a few dozen small kernels and syncs) is the per-forward fixed cost.

The kernel counts are eager PyTorch's: a compiled engine is priced with the same kernels at its own launch cost
(no compiled MAR run is published to price its fusion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from tokcost.engine import physics
from tokcost.engine.families import (
    OVERHEAD_BOUND_FACTOR,
    Memory,
    OneGpu,
    Priced,
    TrainingFlops,
    TrainingWork,
    Work,
)
from tokcost.engine.families.diffusion import gemm_note, table_gemms
from tokcost.engine.kernels import TableGemms
from tokcost.engine.tokens import TokenCount, side_tokens
from tokcost.errors import UsageError
from tokcost.records.families import FamilySchema
from tokcost.records.families.hybrid import SCHEMA
from tokcost.records.presets import ModelPreset

if TYPE_CHECKING:
    from tokcost.engine.config import Config

# One timm Block (MAR's encoder and decoder: timm 0.9.12 vision_transformer.Block, fused attention) under
# autocast, kernel by kernel (block_stack below): LayerNorm 1 reads and writes fp32 (8 bytes per element), the cast
# to fp16 (6), the qkv GEMM (bias in its epilogue), flash attention, the head transpose copy (4), proj, the
# residual add fp32 + fp16 -> fp32 (10), LayerNorm 2 (8), the cast (6), fc1, GELU over the r d-wide hidden (4 per
# element), fc2, the residual add (10): 13 kernels.
TIMM_BLOCK_EW = (8, 6, 4, 10, 8, 6, 10)  # bytes per token in multiples of d, besides the GELU
# Attention the block computes itself (``attention: math``: timm's non-fused path, LazyMAR's models/basic.py) adds
# q * scale (a read and a write of q, 4 bytes per element in 16 bits) and the copies torch.matmul makes of the
# permuted views it is given, q and K^T and V cut from the qkv output (4 each; LazyMAR's encoder copies K and V into
# its preallocated cache instead and reads them whole from there: the same 8): 16 bytes per token in multiples of d.
MATH_ATTENTION_EW = (4, 4, 4, 4)

# One step of MAR's head (models/diffloss.py SimpleMLPAdaLN.forward_with_cfg, diffusion/gaussian_diffusion.py
# p_sample via respace.py _WrappedModel), by rows: GEMMs (in, out) in units of the head width w unless named, and
# the element-wise kernels over w-wide rows (bytes per row in multiples of w). What remains of the step's
# launches runs over the 16-channel latents or a timestep vector: launch-bound, priced as launches.
HEAD_BLOCK_GEMMS = ((1, 3), (1, 1), (1, 1))  # adaLN_modulation (w -> 3w), mlp (w -> w, w -> w)
# per ResBlock: SiLU(y) 4, LayerNorm input cast 6, LayerNorm 8, 1 + scale 4, x (1 + scale) 10, + shift 10,
# cast 6, SiLU 4, gate x h 6, residual 6
HEAD_BLOCK_EW = (4, 6, 8, 4, 10, 10, 6, 4, 6, 6)
# FinalLayer: SiLU(c) 4, cast 6, LayerNorm 8, 1 + scale 4, modulate 10 and 10, cast 6 (its GEMMs: w -> 2w, w -> 2C)
HEAD_FINAL_EW = (4, 6, 8, 4, 10, 10, 6)
# the timestep embedder's frequency multiply, cos, sin, cat and cast to fp16 over its 128-256 wide fp32 rows:
# bytes per row
HEAD_EMBED_EW_BYTES = (128 * 4, 128 * 8, 128 * 8, 256 * 8, 256 * 6)
HEAD_EMBED_EW_W = (4, 6)  # SiLU in the time MLP, y = t + c (the condition's cast: 6 bytes per decoder-width value)
HEAD_OTHER_GEMMS = 6  # input, time MLP (2), condition, final adaLN, output
# Every other launch of a step, 95 + 13 per block in all (docs/methodology.md, itemised), less the GEMMs and the
# kernels above: the sampler's arithmetic on (rows x 16) tensors, the 8 _extract_into_tensor look-ups (4 kernels
# each), guidance's cats and mix, and 11 host-to-device copies.
HEAD_SMALL_LAUNCHES = 74


def head_launches(blocks: int) -> int:
    """Kernel launches of one head step of ``blocks`` residual blocks, as :meth:`MaskedAutoregressive.price`
    charges them."""
    per_block = len(HEAD_BLOCK_GEMMS) + len(HEAD_BLOCK_EW)
    once = HEAD_OTHER_GEMMS + len(HEAD_FINAL_EW) + len(HEAD_EMBED_EW_W) + len(HEAD_EMBED_EW_BYTES) + 1
    return blocks * per_block + once + HEAD_SMALL_LAUNCHES


def schedule(tokens: int, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """(tokens still masked at the start of each round, tokens unmasked in it) under MAR's cosine schedule."""
    masked, out_m, out_p = tokens, [], []
    for k in range(iterations):
        if k == iterations - 1:
            nxt = 0
        else:
            nxt = max(1, min(masked - 1, int(np.floor(tokens * np.cos(np.pi / 2 * (k + 1) / iterations)))))
        out_m.append(masked)
        out_p.append(masked - nxt)
        masked = nxt
    return np.array(out_m, dtype=float), np.array(out_p, dtype=float)


def _per_round(x) -> np.ndarray:
    """``x`` (a figure of the grid) with a trailing axis for the rounds of MAR's schedule."""
    return np.asarray(x, dtype=float)[..., None]


class _Kernels:
    """Seconds and work of a sequence of kernels, each max(one launch, its GPU time), as ``w``'s chip prices them:
    arrays over the grid and, on a trailing axis, the rounds of the schedule (priced at once, summed by
    :meth:`total`)."""

    def __init__(self, w: Work, launch_s, gemms: TableGemms | None, unfused: bool):
        self.launch = _per_round(launch_s)
        self.P, self.BW = _per_round(w.P * w.eff.mfu), _per_round(w.BW * w.eff.mbu)
        attn_mfu = w.eff.attention_mfu if w.eff.attention_mfu is not None else w.eff.mfu
        self.attn_mfu, self.P_attn = _per_round(attn_mfu), _per_round(w.P_attn)
        self.score_rate, self.head_step = _per_round(w.score_rate), _per_round(w.head_step)
        self.P_bmm = _per_round(w.P_attn * w.eff.mfu)  # unfused attention's 16-bit batched matmuls
        self.gemms, self.unfused = gemms, unfused
        self.l2 = tuple(_per_round(v) for v in w.l2)
        self.wread = physics.weight_read_bytes(w.cfg.precision)
        # seconds, GPU seconds, FLOPs, and the GPU seconds of arithmetic (FLOPs at the rate, element-wise traffic)
        # and of weight reads, as the diffusion family splits a step into compute and memory
        self.seconds = self.gpu = self.flops = self.compute_s = self.weight_s = 0.0

    def total(self, figure: str) -> np.ndarray:
        """``figure`` (seconds, gpu, flops, compute_s, weight_s) summed over the rounds."""
        return np.sum(getattr(self, figure), axis=-1)

    def _add(self, gpu_s, count=1.0):
        self.seconds = self.seconds + count * np.maximum(self.launch, gpu_s)
        self.gpu = self.gpu + count * gpu_s

    def gemm(self, rows, n_in, n_out, count=1.0):
        flops = 2.0 * rows * n_in * n_out
        weights = n_in * n_out * self.wread / self.BW + 0.0 * rows  # read again in every round
        gpu_s = np.maximum(flops / self.P, weights + rows * (n_in + n_out) * 2.0 / self.BW)
        if self.gemms is not None:  # the chip's measured kernel, where its table has the shape
            measured = self.gemms(np.maximum(rows, 1.0), n_out, n_in)
            gpu_s = np.where(np.isfinite(measured), measured, gpu_s)
            arithmetic = np.where(np.isfinite(measured), measured, flops / self.P)
        else:
            arithmetic = flops / self.P
        self._add(gpu_s, count)
        self.flops, self.weight_s = self.flops + count * flops, self.weight_s + count * weights
        self.compute_s = self.compute_s + count * arithmetic

    def attention(self, seqs, tokens, width, heads, count=1.0):
        """Attention over ``seqs`` sequences of ``tokens``, priced at its head dim as the diffusion family's: fused
        (:func:`~tokcost.engine.physics.attention_equivalent_flops`: the kernel's head-dim padding and the
        softmax's exponentials), or unfused under autocast (:func:`~tokcost.engine.physics.unfused_attention_s`)."""
        flops = 4.0 * seqs * tokens * tokens * width
        parts = [(flops, width / heads)]
        if self.unfused:
            gpu_s = physics.unfused_attention_s(parts, self.P_bmm, self.BW, physics.UNFUSED_BYTES_PER_SCORE["autocast"])
        else:
            equivalent = physics.attention_equivalent_flops(
                parts, self.P_attn, self.attn_mfu, self.score_rate, self.head_step
            )
            gpu_s = equivalent / (self.P_attn * self.attn_mfu)
        self._add(gpu_s, count)
        self.flops = self.flops + count * flops
        self.compute_s = self.compute_s + count * gpu_s

    def elementwise(self, bytes_, count=1.0):
        traffic = physics.elementwise_s(bytes_, 0.0, (bytes_,), self.BW, *self.l2)
        self._add(traffic + self.l2[2], count)  # and the kernel's start (elementwise_s of one kernel)
        # its traffic is the arithmetic side's; the kernel's start is neither arithmetic nor a weight read
        self.compute_s = self.compute_s + count * traffic

    def launches(self, rows, count):
        """Kernels too small to take longer than starting (the chip's measured start, where it has one), over
        ``rows`` (it carries the round axis, as every other kernel's, so that each round is charged them)."""
        self._add(self.l2[2] + 0.0 * rows, count)


class MaskedAutoregressive(OneGpu):
    schema: FamilySchema = SCHEMA
    one_gpu_work = "samples"

    def price(self, w: Work) -> Priced:
        cfg, m, eff = w.cfg, w.model, w.eff
        h = SCHEMA.section_of(m)
        f = m.vae.spatial_factor * m.vae.patch
        gw = side_tokens(w.width, f, "width", True)
        gh = side_tokens(w.height, f, "height", True)
        T = np.asarray(gw * gh, dtype=float)
        K = np.asarray(cfg.steps if cfg.steps is not None else h.iterations, dtype=float)
        n = np.asarray(w.batch * w.branches, dtype=float)  # sequences: items x guidance branches
        launch = eff.host_per_layer_s / physics.REFERENCE_LAUNCHES
        enc, dec, head, C = h.encoder, h.decoder, h.head, m.vae.channels

        rounds_n = _per_round(n)
        # the chips' row masks take the trailing rounds axis that every GEMM's rows carry here
        gemms = table_gemms(cfg, [(mask if mask is True else np.asarray(mask)[..., None], hw) for mask, hw in w.chips])
        unfused = cfg.attention_kernel == "math"

        def block_stack(k: _Kernels, stack, tokens):
            d, r, rows, L = stack.width, h.mlp_ratio, rounds_n * tokens, stack.layers
            for n_in, n_out in ((d, 3 * d), (d, d), (d, r * d), (r * d, d)):  # qkv, proj, fc1, fc2
                k.gemm(rows, n_in, n_out, L)
            k.attention(rounds_n, tokens, d, stack.heads, L)
            for b in (*TIMM_BLOCK_EW, 4 * r, *(MATH_ATTENTION_EW if unfused else ())):
                k.elementwise(rows * b * d, L)

        def head_step(k: _Kernels, rows, times):
            wd, B = head.width, head.blocks
            others = ((C, wd), (256, wd), (wd, wd), (dec.width, wd), (wd, 2 * wd), (wd, 2 * C))
            for n_in, n_out in others:  # HEAD_OTHER_GEMMS: input, time MLP (2), condition, final adaLN, output
                k.gemm(rows, n_in, n_out, times)
            for n_in, n_out in HEAD_BLOCK_GEMMS:
                k.gemm(rows, n_in * wd, n_out * wd, B * times)
            for b in HEAD_BLOCK_EW:
                k.elementwise(rows * b * wd, B * times)
            for b in (*HEAD_FINAL_EW, *HEAD_EMBED_EW_W):
                k.elementwise(rows * b * wd, times)
            for b in (*HEAD_EMBED_EW_BYTES, dec.width * 6):  # ..., the condition's cast to fp16
                k.elementwise(rows * b, times)
            k.launches(rows, HEAD_SMALL_LAUNCHES * times)

        transformer_s = head_s = gpu_sum = compute_sum = weight_sum = flops = 0.0 * n * K * T
        # the schedule is a sequence of rounds per (tokens, iterations): priced once for each pair in the grid
        T_grid, K_grid = np.broadcast_arrays(T, K)
        for t_n, k_n in sorted(set(zip(T_grid.ravel().astype(int).tolist(), K_grid.ravel().astype(int).tolist()))):
            masked, predicted = schedule(t_n, k_n)
            this = (T == t_n) & (K == k_n)
            tr, hd = _Kernels(w, launch, gemms, unfused), _Kernels(w, launch, gemms, unfused)
            known = h.buffer_tokens + t_n - masked  # every round at once, on the trailing axis
            block_stack(tr, enc, known)
            tr.gemm(rounds_n * known, enc.width, dec.width)  # decoder_embed
            block_stack(tr, dec, np.full_like(masked, h.buffer_tokens + t_n))
            head_step(hd, rounds_n * predicted, head.steps)  # the steps run one after another
            t_s = tr.total("seconds") + k_n * eff.fixed_per_step_s
            transformer_s = np.where(this, t_s, transformer_s)
            head_s = np.where(this, hd.total("seconds"), head_s)
            gpu_sum = np.where(this, tr.total("gpu") + hd.total("gpu"), gpu_sum)
            compute_sum = np.where(this, tr.total("compute_s") + hd.total("compute_s"), compute_sum)
            weight_sum = np.where(this, tr.total("weight_s") + hd.total("weight_s"), weight_sum)
            flops = np.where(this, tr.total("flops") + hd.total("flops"), flops)
        pw, ph = gw * f, gh * f
        vae_s, vae_flops = physics.vae_decode_time(m, w.P_vae, eff, w.batch, pw, ph, 1)
        vae_type = physics.vae_dtype(m.vae, cfg.precision, cfg.vae_precision)
        weights_b = h.params_b * 1e9 * w.wbytes + m.vae.params_b * 1e9 * physics.DTYPE_BYTES[vae_type]
        acts = n * (h.buffer_tokens + T) * max(enc.width, dec.width) * 2.0 * physics.BLOCK_LIVE_TENSORS
        latency = transformer_s + head_s + vae_s
        return Priced(
            latency_s=latency,
            breakdown_s={"transformer": transformer_s, "diffusion_head": head_s, "vae_decode": vae_s + 0 * latency},
            breakdown_precision={
                "transformer": cfg.precision,
                "diffusion_head": cfg.precision,
                "vae_decode": vae_type,
            },
            # as the diffusion family's step: arithmetic against weight reads (a small batch's head steps reread
            # the head's weights 6,400 times for a few rows each)
            bound=np.where(compute_sum >= weight_sum, "compute", "memory"),
            overhead_bound=latency - vae_s > gpu_sum * OVERHEAD_BOUND_FACTOR,
            communication_s=0 * latency,
            tokens={
                "latent": T + 0 * latency,
                "iterations": K + 0 * latency,
                "head_steps_per_token": head.steps + 0 * latency,
                "items_per_forward": n + 0 * latency,
                "grid_width": gw + 0 * latency,
                "grid_height": gh + 0 * latency,
                "padded_width": pw + 0 * latency,
                "padded_height": ph + 0 * latency,
            },
            flops=flops + vae_flops,
            bytes=weight_sum * w.BW * eff.mbu,
            memory=Memory(
                weights=weights_b + 0 * latency,
                kv_cache=0 * latency,
                activations=acts
                + physics.vae_decode_buffer_bytes(w.batch, pw, ph, physics.DTYPE_BYTES[vae_type])
                + 0 * latency,
                workspace=physics.WORKSPACE_BYTES + 0 * latency,
            ),
            padded_width=pw + 0 * latency,
            padded_height=ph + 0 * latency,
            steps=K + 0 * latency,
        )

    def tokens(
        self, model: ModelPreset, width: int, height: int, frames: int | None, prompt_tokens: int | None, pad: bool
    ) -> TokenCount:
        f = model.vae.spatial_factor * model.vae.patch
        gw, gh = side_tokens(width, f, "width", pad), side_tokens(height, f, "height", pad)
        return TokenCount(int(gw), int(gh), 1, int(gw * gh), int(gw * gh), 0, int(gw * f), int(gh * f), 1)

    def context_excess(self, model: ModelPreset, tokens: Mapping[str, float]) -> tuple[float, int] | None:
        return None  # a fixed grid: the size limits refuse larger images

    def precision_note(self, model: ModelPreset, precision: str, vae_precision: str | None = None) -> str:
        vae = physics.vae_dtype(model.vae, precision, vae_precision)
        return f"{precision} applies to the transformer's and the diffusion head's linear layers; the VAE runs {vae}"

    def pricing_note(self, cfg: Config) -> str:
        h = SCHEMA.section_of(cfg.model)
        head_dims = [s.width / s.heads for s in (h.encoder, h.decoder)]
        if cfg.attention_kernel == "math":
            attention = physics.unfused_attention_note(cfg.model.id, head_dims, "autocast")
        else:
            dims = ", ".join(f"{d:.3g}" for d in sorted(set(head_dims)))
            attention = f"attention fused at head dim {dims}, as the diffusion family prices it"
        return f"{gemm_note(cfg, 'transformer and diffusion-head')}; {attention}"

    def training(self, model: ModelPreset, work: TrainingWork) -> TrainingFlops:
        raise UsageError(f"tokcost has no training formula for {model.generation.label} models such as {model.id}")


FAMILY = MaskedAutoregressive()
