"""Token-by-token autoregressive generation: a prefill of the prompt, then one decoder forward per visual token
(or per ``tokens_per_forward`` with speculative / parallel decoding), each reading every weight and the KV cache
of the sequence so far (docs/methodology.md, "AR decode")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tokcost.engine import physics
from tokcost.engine.collectives import collectives_note, replica_collectives
from tokcost.engine.families import (
    OVERHEAD_BOUND_FACTOR,
    Decode,
    Memory,
    Priced,
    TrainingFlops,
    TrainingWork,
    Work,
)
from tokcost.engine.kernels import ar_attention, decode_table, engine_table, within_grid
from tokcost.engine.tokens import (
    TokenCount,
    ar_layout_tokens,
    ar_tokens,
    emu3_prompt_overhead,
    latent_frames,
    side_tokens,
)
from tokcost.errors import UsageError
from tokcost.records.engines import EngineProfile
from tokcost.records.families.ar import SCHEMA
from tokcost.records.presets import Architecture, KVCacheReads, ModelPreset

if TYPE_CHECKING:
    from tokcost.engine.config import Config

# Perception answers when the spec gives no answer_tokens: a few sentences (an assumption, docs/methodology.md).
DEFAULT_ANSWER_TOKENS = 128


class Autoregressive:
    schema = SCHEMA
    # a decoder's replicas split by tensor parallelism only
    parallelism_labels = np.array([["none", "tp"], ["none", "tp"]])
    parallelisms = ("tp",)
    loop_keeps_cfg = False  # a serving or compiled decoder batches the two branches of the reference loop
    decode_options = frozenset({"tokens_per_forward", "draft_tokens", "kv_dtype", "answer_tokens"})
    pipeline_options: frozenset[str] = frozenset()

    def cfg_mode(self, model: ModelPreset) -> str:
        return model.sampling.cfg

    def replica_problem(
        self, model: ModelPreset, gpus: int, parallelism: str | None, cfg_mode: str, ring: int | None = None
    ) -> str | None:
        if parallelism not in (None, "tp"):
            return f"{model.id} is autoregressive: its replicas split by tensor parallelism (tp), not {parallelism}"
        if ring is not None and ring > 1:
            return f"{model.id} is autoregressive: ring attention splits a diffusion model's sequence, not its layers"
        return physics.tensor_parallel_problem(model.id, decoder(model), gpus)

    def split(
        self, model: ModelPreset, gpus: np.ndarray, parallelism: str | None, mode: str, ring: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.ones_like(gpus), gpus, np.ones_like(gpus)

    def price(self, w: Work) -> Priced:
        cfg, m, eff = w.cfg, w.model, w.eff
        arch, tok = decoder(m), m.tokenizer
        gw = side_tokens(w.width, tok.spatial_factor, "width", True)
        gh = side_tokens(w.height, tok.spatial_factor, "height", True)
        if cfg.frames is not None and w.role == "video":
            t = latent_frames(cfg.frames, tok.temporal_factor, tok.temporal_rule, True)
        else:
            t = np.ones_like(np.asarray(gw))
        image_positions = ar_layout_tokens(gw, gh, t, tok.layout)
        visual = t * gw * gh
        layout_prompt = emu3_prompt_overhead(gw, gh) if tok.layout == "emu3" else 0
        prompt = np.asarray(
            cfg.prompt_tokens if cfg.prompt_tokens is not None else m.sampling.prompt_tokens, dtype=float
        )
        if w.role == "perception":
            prefill_tokens = image_positions + prompt + layout_prompt
            generated = np.asarray(
                cfg.answer_tokens if cfg.answer_tokens is not None else DEFAULT_ANSWER_TOKENS, dtype=float
            )
        else:
            prefill_tokens = prompt + layout_prompt
            generated = np.asarray(image_positions, dtype=float)
        k = float(cfg.tokens_per_forward)
        if k < 1:
            raise UsageError("tokens_per_forward must be at least 1")
        verify = float(cfg.verify_tokens or k)
        if verify < k:  # a forward accepts at most the positions it computes (its draft and the token after it)
            raise UsageError(
                f"{verify:g} positions computed per forward cannot accept {k:g} tokens: give at least as many draft "
                "tokens as tokens per forward",
                param="draft_tokens",
            )
        n_forwards = np.ceil((generated - 1) / k)  # decode forwards: the prefill's makes the first token
        n_seq = w.batch * w.branches
        wread = physics.decode_weight_bytes(cfg.precision, eff)
        kv = physics.KV_DTYPE_BYTES[cfg.kv_dtype]
        tp, passes = w.split, w.passes
        profile = cfg.profiles[cfg.engine]
        comm = replica_collectives(cfg.kernels, w.chips, w.link, tp, profile.all_reduce)
        host = physics.host_scale(m, eff)
        kv_passes, kv_static = eager_cache_reads(m.eager_kv_cache, eff, prefill_tokens + generated)
        attn_s_per_token = eager_attention_s_per_token(m.eager_kv_cache, arch, eff, w.P_attn, n_seq, tp)
        kv_rate, attn = ar_attention(
            cfg.kernels,
            w.chips,
            profile.attention_kernels,
            arch,
            n_seq,
            prefill_tokens,
            generated,
            tp,
            kv,
            w.BW * eff.mbu,
        )
        act_s = physics.decoder_elementwise_s(
            arch, m.decoder_passes, eff, n_seq * prefill_tokens, tp, w.BW, w.l2, profile.decoder_passes
        )
        prefill_s, prefill_flops, prefill_comm = physics.ar_prefill_time(
            arch, w.P, w.BW, eff, wread, n_seq, prefill_tokens, passes, tp, comm, kv, host, attn_s=attn, act_s=act_s
        )
        decode_s, compute_s, memory_s, decode_comm = physics.ar_decode_time(
            arch,
            w.P,
            w.BW,
            eff,
            wread,
            n_seq,
            prefill_tokens,
            n_forwards,
            k,
            verify,
            passes,
            tp,
            comm,
            kv,
            host,
            kv_passes=kv_passes,
            kv_static=kv_static,
            kv_rate=kv_rate,
            attn_s_per_token=attn_s_per_token,
        )
        mem = physics.ar_memory(m, w.wbytes, n_seq, prefill_tokens + generated, tp, kv)
        # the whole replica's work: compute_s and memory_s are one GPU's share of it; the floor counts the packed
        # weight bytes each forward reads, not their slower-kernel equivalent. memory_s read the weights at the
        # skinny GEMMs' rate (Efficiency.weight_rate) and the KV cache at kv_rate
        flops = prefill_flops + compute_s * w.P * eff.mfu * tp
        weights = passes * n_forwards * arch.matmul_params_b * 1e9  # parameters read over the decode
        cache_s = memory_s - weights * wread / tp / (w.BW * eff.weight_rate)
        bytes_ = cache_s * kv_rate * tp + weights * w.wbytes
        return Priced(
            latency_s=prefill_s + decode_s,
            breakdown_s={"prefill": prefill_s, "decode": decode_s},
            breakdown_precision={"prefill": cfg.precision, "decode": cfg.precision},
            bound=np.where(compute_s >= memory_s, "compute", "memory"),
            # compute_s and memory_s already count both passes of unbatched CFG
            overhead_bound=decode_s - decode_comm > np.maximum(compute_s, memory_s) * OVERHEAD_BOUND_FACTOR,
            communication_s=prefill_comm + decode_comm,
            tokens={
                "visual": visual,
                "generated": generated,
                "prompt": prefill_tokens,
                "sequences_per_forward": n_seq,
                "forwards": n_forwards * passes,
                "grid_width": gw,
                "grid_height": gh,
                "latent_frames": t,
                "padded_width": gw * tok.spatial_factor,
                "padded_height": gh * tok.spatial_factor,
            },
            flops=flops,
            bytes=bytes_,
            memory=Memory(**mem),
            padded_width=gw * tok.spatial_factor,
            padded_height=gh * tok.spatial_factor,
            decode=Decode(
                prefill_s=prefill_s, decode_s=decode_s, prompt_tokens=prefill_tokens, forwards=n_forwards * passes
            ),
        )

    def tokens(
        self, model: ModelPreset, width: int, height: int, frames: int | None, prompt_tokens: int | None, pad: bool
    ) -> TokenCount:
        return ar_tokens(model, width, height, frames, prompt_tokens, pad)

    def context_excess(self, model: ModelPreset, tokens: Mapping[str, float]) -> tuple[float, int] | None:
        total = float(tokens["prompt"]) + float(tokens["generated"])
        return None if total <= model.architecture.context else (total, model.architecture.context)

    def precision_note(self, model: ModelPreset, precision: str, vae_precision: str | None = None) -> str:
        return (
            f"{precision} applies to the decoder's linear layers only; attention runs 16-bit and the KV cache keeps "
            "its own type (kv_dtype)"
        )

    def pricing_note(self, cfg: Config) -> str:
        # the roofline prices the GEMMs (their tables made AR decode worse: docs/methodology.md); the measured
        # tables price collectives and a serving engine's flash attention (prefill, and decode's KV-cache reads)
        note = "operators priced on the sourced roofline (peak x efficiency); AR's GEMMs do not use the kernel tables"
        skinny = cfg.hardware.efficiency.decode_gemm
        if skinny is not None:
            note += (
                f"; decode streams the weights at {skinny.low:.0%}-{skinny.high:.0%} of {cfg.hardware.id}'s "
                "datasheet bandwidth, what its BLAS's skinny GEMMs are measured at (below its stream rate)"
            )
        attention = attention_note(cfg)
        if attention:
            note += "; " + attention
        if dequant := physics.dequant_note(cfg.precision, cfg.profiles[cfg.engine]):
            note += "; " + dequant
        if prefill := physics.decoder_elementwise_note(cfg.model, cfg.profiles[cfg.engine]):
            note += "; " + prefill
        cache = cfg.model.eager_kv_cache
        if cache is not None and cache.kernel == "fa2" and cfg.profiles[cfg.engine].host_per_launch:
            note += (
                f"; decode attention runs {cfg.model.id}'s reference flash_attn_func, whose tile of query rows costs "
                f"{physics.FA2_DECODE_ROW_COST:g}x a decode row's attention FLOPs at the 16-bit peak per query head "
                "and token of context (physics.FA2_DECODE_ROW_COST)"
            )
        if window := sliding_window_note(decoder(cfg.model), cfg.profiles, [cfg.engine]):
            note += "; " + window
        graphs = cfg.profiles[cfg.engine].decode_graphs
        if graphs is not None:
            note += (
                f"; {cfg.engine} replays CUDA graphs of decode steps only, up to {graphs.max_context} tokens of context: "
                f"its prefill and longer decode steps run eager ({graphs.eager_ops_per_layer} operator calls a layer "
                "from the host)"
            )
        if np.any(np.asarray(cfg.gpus) > 1):
            note += "; " + collectives_note(
                cfg.kernels,
                cfg.hardware,
                "tensor parallelism's all-reduces",
                cfg.profiles[cfg.engine].all_reduce,
                gpus=cfg.gpus,
            )
        return note

    def training(self, model: ModelPreset, work: TrainingWork) -> TrainingFlops:
        if work.tokens is None:
            raise UsageError(f"{model.id} is autoregressive: give the training tokens", param="tokens")
        matmul, attention = ar_flops_per_token(model, work.context)
        used = work.context or model.architecture.context
        notes = []
        if work.context is None:
            notes.append(
                f"Trained at {model.id}'s longest context, {used:,} tokens, which puts "
                f"{attention / (matmul + attention):.0%} of the FLOPs in attention; pass --context with the sequence "
                "length of your training data (a 720x720 Emu3 image is about 8,000 tokens)."
            )
        return TrainingFlops(
            flops=ar_training_flops(model, work.tokens, work.context),
            late_notes=notes,
            extra={"context": used, "attention_share": attention / (matmul + attention)},
        )


def cache_reads(cache: KVCacheReads | None, final_length):
    """(reads of the KV cache per decode step, length of the preallocated cache read at every step, None: the
    tokens so far) of a decode loop whose code handles its cache as ``cache`` says (None: one read of the tokens so
    far); ``final_length``: prompt plus generated tokens, which a preallocated cache holds, rounded up."""
    if cache is None:
        return 1.0, None
    if cache.static_multiple is None:
        return cache.passes, None
    m = cache.static_multiple
    return cache.passes, np.ceil(np.asarray(final_length, dtype=float) / m) * m


def eager_cache_reads(cache: KVCacheReads | None, eff, final_length):
    """:func:`cache_reads` of a model's reference code (``cache``: its preset's ``eager_kv_cache``) under ``eff``'s
    engine: that code's under eager, which launches it op by op; one read of the tokens so far (length NaN) under an
    engine that runs its own kernels (CUDA graphs, vLLM)."""
    passes, static = cache_reads(cache, final_length)
    if cache is None:
        return passes, None
    # np.where: stacked chips x bands make each Efficiency field a column (estimate_stack)
    passes = np.where(eff.host_per_launch, passes, 1.0)
    if static is None:
        return passes, None
    # NaN: an engine that does not run the reference code reads the context so far
    return passes, np.where(eff.host_per_launch, static, np.nan)


def attention_s_per_token(cache: KVCacheReads | None, arch: Architecture, P16, n_seq, tp):
    """GPU seconds per decode forward per token of context that the attention kernel of a decode loop's code
    (``cache``) costs beyond its reads of the cache (:func:`~tokcost.engine.physics.fa2_decode_s_per_token`, for
    ``kernel`` fa2); 0 for a kernel that costs its reads alone. ``P16``: the chip's dense 16-bit FLOP/s."""
    if cache is None or cache.kernel != "fa2":
        return 0.0
    return physics.fa2_decode_s_per_token(arch, P16, n_seq, tp)


def eager_attention_s_per_token(cache: KVCacheReads | None, arch: Architecture, eff, P16, n_seq, tp):
    """:func:`attention_s_per_token` of a model's reference code (``cache``: its preset's ``eager_kv_cache``) under
    an engine that runs that code (eager); 0 under one that runs its own kernels."""
    # np.where: stacked chips x bands make each Efficiency field a column (estimate_stack)
    return np.where(eff.host_per_launch, attention_s_per_token(cache, arch, P16, n_seq, tp), 0.0)


def ar_training_flops(model: ModelPreset | Architecture, tokens: float, context: int | None = None) -> float:
    """6 N per token for the matmuls (forward 2 + backward 4) plus 6 L ctx d_attn for attention scores over a
    causal context of ``ctx`` (the average context is ctx/2, times 12 for the same 2+4 split on QK and AV).
    Takes a model preset or a bare decoder architecture (the validation set's text-only reference runs)."""
    matmul, attention = ar_flops_per_token(model, context)
    return tokens * (matmul + attention)


def ar_flops_per_token(model: ModelPreset | Architecture, context: int | None = None) -> tuple[float, float]:
    """Training FLOPs per token: (matmuls 6N, attention scores 6 L ctx d_attn) at ``context`` (default: the
    model's longest)."""
    a = model if isinstance(model, Architecture) else model.architecture
    ctx = context or a.context
    return 6 * a.matmul_params_b * 1e9, 6 * a.layers * ctx * a.heads * a.head_dim


def decoder(model: ModelPreset) -> Architecture:
    """The model's decoder, which its family's schema requires."""
    if model.architecture is None:  # not reached: ModelPreset's validator requires it
        raise ValueError(f"{model.id} has no architecture")
    return model.architecture


def sliding_window_note(arch: Architecture, profiles: Mapping[str, EngineProfile], names: Sequence[str]) -> str | None:
    """How a decoder whose config sets a sliding attention window is priced under the engines ``names`` of
    ``profiles`` (None: it sets none)."""
    if arch.sliding_window is None:
        return None
    W = f"{arch.sliding_window:,}"
    skips = [n for n in names if profiles[n].window_prefill == "skips"]
    masks = [n for n in names if profiles[n].window_prefill == "masks"]
    prefill = []
    if skips:
        prefill.append(f"skips the keys outside it under {' and '.join(skips)} (its flash kernel takes the window)")
    if masks:
        prefill.append(
            f"computes the whole causal square under {' and '.join(masks)} (SDPA takes the window as a mask)"
        )
    return (
        f"the decoder's config sets a {W}-token sliding attention window in {arch.sliding_layers} of its "
        f"{arch.layers} layers: once the context passes {W} tokens those layers' decode steps read and keep the "
        f"window's keys only, and a prefill longer than the window {' and '.join(prefill)}"
    )


FAMILY = Autoregressive()


def attention_note(cfg: Config) -> str | None:
    """Which of the prefill's attention and the decode's KV-cache reads a measured attention table priced
    (:func:`~tokcost.engine.kernels.prefill_attention_s`, :func:`~tokcost.engine.kernels.decode_kv_rate`), or
    None (the roofline)."""
    chip = cfg.kernels(cfg.hardware.id) if cfg.kernels is not None else None
    if chip is None:
        return None
    sources, arch = cfg.profiles[cfg.engine].attention_kernels, decoder(cfg.model)
    priced = []
    prefill = engine_table(cfg.kernels, cfg.hardware.id, "attention.context", sources)
    if prefill is not None and within_grid(prefill, head_dim=arch.head_dim):
        priced.append(("the prefill's attention", prefill))
    decode = decode_table(cfg.kernels, cfg.hardware.id, sources, physics.KV_DTYPE_BYTES[cfg.kv_dtype])
    kv_heads = physics.kv_heads_per_gpu(arch, cfg.gpus)
    if decode is not None and np.any(within_grid(decode, kv_heads=kv_heads, head_dim=arch.head_dim)):
        priced.append(("decode's KV-cache reads (never faster than the stream rate)", decode))
    if not priced:
        return None
    info = priced[0][1].provenance
    what = " and ".join(f"{part} from its {table.name.split('.')[1]}-attention table" for part, table in priced)
    return (
        f"{what}, measured kernels ({info['package']} {info['package_version']}, {info['framework']} "
        f"{info['framework_version']}'s {info['kernel_source']} on {chip.device})"
    )
