"""The cost model's formulas (docs/methodology.md states each one). Every function takes numpy arrays that
broadcast together, so one call prices a whole sweep; scalars work too.

Units: FLOP, bytes, seconds. ``P`` = datasheet peak FLOP/s at the precision, ``BW`` = datasheet bytes/s,
``eff`` = :class:`~tokcost.engine.profiles.Efficiency` (effective fractions and host overheads).
"""

from __future__ import annotations

import numpy as np

from tokcost.engine.tokens import latent_frames, text_tokens
from tokcost.records.presets import (
    Architecture,
    DecoderPasses,
    Denoiser,
    HardwarePreset,
    LayerPasses,
    ModelPreset,
    Vae,
)

# Bytes per weight. int8 and fp8 are W8A8 (8-bit weights and activations, on chips with those units); int8-wo and
# int4 are weight-only (8- or 4-bit weights dequantised to bf16 inside the matmul kernel; int4 with a 16-bit scale
# and zero point per group of 128 weights, the default group of AWQ, GPTQ and torchao's int4_weight_only).
WEIGHT_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int8-wo": 1.0, "int4": 0.5 + 4.0 / 128}
# Weight-only kernels read their packed weights at a lower share of the memory bandwidth than bf16 kernels (the
# dequantisation work per byte): effective bandwidth relative to bf16 on the same GPU, from Llama-2-7B batch-1
# decode on A100-80GB once each step's kernel gaps (32 layers x the compiled profile's gpu_per_layer_s, ~37 us:
# 1.19 ms) are taken out of the step time t, i.e. GB/s x t / (t - gaps) relative to bf16's:
# pytorch-labs/gpt-fast README, bf16 1,397 GB/s at 9.53 ms, int8 1,069 at 6.43 ms (0.82), int4 group 32 863 at
# 5.08 ms (0.70); pytorch/ao torchao/quantization/README.md (commit 317392d0), 107.38 / 170.83 / 201.14 tok/s for
# bf16 / int8wo / int4wo-64 (0.87 and 0.60 from the model's bytes per format). int8-wo: gpt-fast's; int4: the
# midpoint of the two sources. (Within 0.01 for any gap from 30 to 40 us.) int8 (W8A8) on A100s: vLLM's per-token
# activation quantisation and CUTLASS int8 GEMMs (vLLM 0.7.2) speed decoding up less than the halved bytes do; the
# efficiency at which tokcost's own decode step reproduces each published bf16 / W8A8 pair's measured speed-up, one
# source, one A100, 256 prompt and 1,024 output tokens (Red Hat's DeepSeek-R1-Distill model cards on Hugging Face:
# Qwen-7B 89.0 / 119.1, Qwen-14B 49.2 / 69.2 tokens/s; Llama-70B on two A100s 20.3 / 31.6): 0.745, 0.765, 0.84,
# the median taken. fp8 on H100s shows the same in its cards' pairs (0.78-0.88) but is not given a figure: the one
# chip with a measured skinny-GEMM rate (the MI300X's efficiency.decode_gemm) measured it on fp8 GEMMs already.
WEIGHT_READ_EFFICIENCY = {"int8-wo": 0.82, "int4": 0.65, "int8": 0.765}
# Weight-only int8 in code that runs each op as written (an engine whose host launches every op: eager) does not
# dequantise inside the matmul: torchao's int8 weight-only linear (pytorch/ao torchao/dtypes/uintx/plain_layout.py,
# _linear_fp_act_int8_weight_impl: torch.mm(x, w_int8.t().to(x.dtype)) * scale) and gpt-fast's (pytorch-labs/gpt-fast
# quantize.py, WeightOnlyInt8Linear: F.linear(input, self.weight.to(dtype=input.dtype)) * self.scales) convert the
# whole weight to the activations' 16-bit type in a kernel of their own on every call, multiply in 16 bits, and scale
# the output in another. torch.compile fuses both into the matmul, as serving engines' kernels do (the gpt-fast and
# torchao figures behind WEIGHT_READ_EFFICIENCY are compiled).
UNFUSED_DEQUANT = "int8-wo"
DEQUANT_COPY_BYTES = 3.0  # per weight: the conversion reads the int8 weight and writes it in 16 bits
DEQUANT_MATMUL_BYTES = 2.0  # per weight: the 16-bit matmul reads the copy
SCALE_BYTES_PER_OUTPUT = 4.0  # per output element: the scale's multiply reads and writes it in 16 bits
# --kv-dtype: the KV cache's bytes per element. fp8 (vLLM's kv_cache_dtype fp8, TensorRT-LLM's FP8 KV cache) halves
# the cache and its reads; its dequantisation inside the attention kernel is not charged (an assumption).
KV_DTYPE_BYTES = {"bf16": 2.0, "fp8": 1.0}
# the default: bf16 whatever the weight precision (the common default of reference code and vLLM)
KV_BYTES = KV_DTYPE_BYTES["bf16"]
# Bytes per element of the components --precision does not apply to (pipeline_dtype, vae_dtype).
DTYPE_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp32": 4.0}
WORKSPACE_BYTES = 1.0e9  # CUDA context + cuBLAS workspace + allocator slack (assumption, docs/methodology.md)
# Kernel launches of the layer the eager profile's host_per_layer_s is priced per (engines.yaml: the LlamaGen
# reference table's step time grows ~0.9 ms per layer): one decode step of FoundationVision/LlamaGen
# autoregressive/models/gpt.py TransformerBlock (bf16 weights, SDPA math path as generate.py selects): two RMSNorms
# of 8 kernels (float, square, mean, add, rsqrt, mul, type_as, weight), the qkv GEMM, RoPE on q and k of 9 each
# (float, 4 muls, sub, add, stack, type_as), the two KV-cache writes, repeat_interleave of keys and values (4
# each: fill, cumsum, expand, index_select), attention on the math path (9: mask logical_not, scalar, where, q and
# k scaled, bmm, mask add, softmax, bmm), the output copy and GEMM, the FFN (w1, silu, w3, mul, w2) and the two
# residual adds: 8 + 1 + 18 + 2 + 8 + 9 + 2 + 1 + 8 + 5 + 1 = 63 (docs/methodology.md). Views are left out here,
# in MAR's counts and in the generated launch counts alike. One launch = host_per_layer_s / 63.
REFERENCE_LAUNCHES = 63
# Kernel launches of one layer of tokcost bench's decoder (tokcost/bench/decoder.py Block) at one decode step, counted
# with the element-wise script's eager counter (tests/test_bench.py counts it again): a calibration's host time per
# layer is per such a block, so it is converted to host_per_layer_s's unit (a layer of REFERENCE_LAUNCHES).
BENCH_BLOCK_LAUNCHES = 43


def host_scale(model: ModelPreset, eff):
    """Host time of one of ``model``'s layers over ``host_per_layer_s``: under an engine whose host launches every op
    itself (``host_per_launch``: eager), the model's counted eager launches per layer over :data:`REFERENCE_LAUNCHES`;
    1 under other engines (CUDA graphs) or for a model without a count."""
    counted = model.launches_per_layer
    return 1.0 if counted is None else launch_scale(counted.eager, eff)


def launch_scale(launches: float, eff):
    """:func:`host_scale` of a layer that launches ``launches`` kernels."""
    # np.where: stacked chips x bands make each Efficiency field a column (estimate_stack)
    return np.where(eff.host_per_launch, launches / REFERENCE_LAUNCHES, 1.0)


def peak_flops(hw: HardwarePreset, precision: str) -> float:
    """Dense FLOP/s for matmuls at ``precision``. Weight-only formats (int8-wo, int4, or fp8/int8 on chips without
    those units) dequantise to bf16 and compute at the bf16 rate. ``fp32`` is for the benchmark's fp32 runs only."""
    r = hw.dense_tflops
    rate = {
        "bf16": r.bf16,
        "fp16": r.fp16,
        "fp8": r.fp8 or r.bf16,
        "int8": r.int8 or r.bf16,
        "int8-wo": r.bf16,
        "int4": r.bf16,
        "fp32": r.fp32,
    }[precision]
    return rate * 1e12


def pipeline_dtype(precision: str) -> str:
    """The 16-bit type of the components ``precision`` does not apply to (text encoders, the VAE): an fp16 run
    loads its pipeline in fp16 (``torch_dtype=torch.float16``); every other precision keeps them in bf16."""
    return "fp16" if precision == "fp16" else "bf16"


def vae_dtype(vae: Vae | None, precision: str, chosen: str | None = None) -> str:
    """What the VAE decodes in: ``chosen`` (``--vae-precision``) when given, else the type the model's pipelines
    load it in (``vae.dtype``: Wan's fp32), else the pipeline's 16-bit type, or fp32 where the pipeline upcasts an
    fp16 VAE (diffusers' SDXL pipelines: ``needs_upcasting = vae.dtype == float16 and vae.config.force_upcast``)."""
    if chosen is not None:
        return chosen
    if vae is not None and vae.dtype is not None:
        return vae.dtype
    dtype = pipeline_dtype(precision)
    return "fp32" if dtype == "fp16" and vae is not None and vae.fp32_under_fp16 else dtype


def vae_peak_flops(hw: HardwarePreset, vae: Vae | None, precision: str, chosen: str | None = None) -> float:
    """Dense FLOP/s of the VAE's convolutions in :func:`vae_dtype`: in fp32, cuDNN runs them as TF32 where the chip
    has TF32 units (PyTorch's default, ``torch.backends.cudnn.allow_tf32 = True``), else at the fp32 rate."""
    dtype = vae_dtype(vae, precision, chosen)
    if dtype == "fp32":
        r = hw.dense_tflops
        return (r.tf32 or r.fp32) * 1e12
    return peak_flops(hw, dtype)


def weight_read_bytes(precision: str, eff=None):
    """Bytes per weight as the time to read them sees it: the packed bytes over the format's kernel efficiency
    (:data:`WEIGHT_READ_EFFICIENCY`; 1 for bf16, fp16 and fp8); under ``eff``'s engine, where it
    dequantises op by op (:func:`unfused_dequant`), the 16-bit copy the matmul reads."""
    packed = WEIGHT_BYTES[precision] / WEIGHT_READ_EFFICIENCY.get(precision, 1.0)
    if eff is None:
        return packed
    return np.where(unfused_dequant(precision, eff), DEQUANT_MATMUL_BYTES, packed)


def unfused_dequant(precision: str, eff):
    """Whether ``precision``'s weights are converted to 16 bits in kernels of their own under ``eff``'s engine
    (:data:`UNFUSED_DEQUANT`; an array where ``eff`` stacks chips and bands)."""
    return np.logical_and(precision == UNFUSED_DEQUANT, eff.host_per_launch)


def decode_weight_bytes(precision: str, eff):
    """Bytes per weight a decode step's matmuls take the time of: :func:`weight_read_bytes`, plus an op-by-op
    dequantisation's conversion (:data:`DEQUANT_COPY_BYTES`), which is memory-bound like the step's matmuls and
    so is priced at their rate."""
    return weight_read_bytes(precision, eff) + np.where(unfused_dequant(precision, eff), DEQUANT_COPY_BYTES, 0.0)


def dequant_note(precision: str, profile) -> str:
    """How ``precision`` is dequantised under ``profile`` (an engine profile), where it is op by op; else empty."""
    if precision != UNFUSED_DEQUANT or not profile.host_per_launch:
        return ""
    return (
        f"{precision} under an engine that runs each op as written: every linear converts its whole weight to 16 bits "
        f"in a kernel of its own and scales its output in another ({DEQUANT_COPY_BYTES:g} bytes a weight and "
        f"{SCALE_BYTES_PER_OUTPUT:g} an output element, serial with the 16-bit matmul, which reads the copy), as "
        "torchao's and gpt-fast's int8 weight-only linears do; compiled fuses both into the matmul"
    )


def dequant_s(precision: str, eff, weights, outputs, BW):
    """Seconds of :data:`UNFUSED_DEQUANT`'s conversion of ``weights`` weights and scaling of ``outputs`` output
    elements at the stream rate, where ``eff``'s engine runs them op by op (:func:`unfused_dequant`); else 0."""
    s = (np.asarray(weights, dtype=float) * DEQUANT_COPY_BYTES + outputs * SCALE_BYTES_PER_OUTPUT) / (BW * eff.mbu)
    return np.where(unfused_dequant(precision, eff), s, 0.0)


def kv_bytes_per_token(arch: Architecture, kv_bytes: float = KV_BYTES) -> float:
    """K and V for every layer: 2 x L x n_kv x head_dim x bytes (GQA shrinks it by heads / kv_heads)."""
    return 2.0 * arch.layers * arch.kv_heads * arch.head_dim * kv_bytes


def windowed_share(arch: Architecture) -> float:
    """The share of the decoder's layers that attend over a sliding window only (0 without one)."""
    return 0.0 if arch.sliding_layers is None else arch.sliding_layers / arch.layers


def attended_context(arch: Architecture, context):
    """Tokens a decode step at ``context`` attends over, averaged over the layers: the whole context in a layer
    without a window, at most ``sliding_window`` in one with it (vLLM's paged cache and transformers' sliding-window
    cache layers keep and read the window's keys only). Sets the step's attention FLOPs, KV-cache reads and the
    cache held."""
    context = np.asarray(context, dtype=float)
    if arch.sliding_window is None:
        return context
    share = windowed_share(arch)
    return (1.0 - share) * context + share * np.minimum(context, arch.sliding_window)


def prefill_attention_share(arch: Architecture, prompt):
    """The share of a causal prefill's attention work (query-key pairs, p^2 / 2 over ``prompt`` = p tokens) that is
    left when the kernel skips the keys outside a sliding window of W tokens: past W a windowed layer's pairs are
    W p - W^2 / 2 (the first W queries see every key before them, the rest W each). 1 without a window."""
    p = np.maximum(np.asarray(prompt, dtype=float), 1.0)
    if arch.sliding_window is None:
        return np.ones_like(p)
    W = float(arch.sliding_window)
    windowed = np.where(p <= W, 1.0, (2.0 * W * p - W * W) / (p * p))
    share = windowed_share(arch)
    return (1.0 - share) + share * windowed


# ------------------------------------------------------------------------------------------- closed-form sums


def sum_max_lines(lines: list[tuple], n) -> np.ndarray:
    """Sum over j = 0..n-1 of max_i (a_i + b_i j), for arrays a_i, b_i, n that broadcast.

    The max of lines is convex and piecewise linear; between consecutive crossing points one line wins, and a
    line's sum over a run of integers is an arithmetic series. Exact, O(lines^2) per configuration, and every
    segment of every configuration is evaluated in one array operation."""
    n = np.asarray(n, dtype=float)
    if len(lines) == 1:  # one line: a plain arithmetic series
        a, b = (np.asarray(x, dtype=float) for x in lines[0])
        return n * a + b * n * (n - 1) / 2
    shape = np.broadcast_shapes(n.shape, *(np.shape(x) for line in lines for x in line))
    A = np.stack([np.broadcast_to(np.asarray(line[0], dtype=float), shape) for line in lines])
    B = np.stack([np.broadcast_to(np.asarray(line[1], dtype=float), shape) for line in lines])
    cuts = [np.zeros(shape), np.broadcast_to(n, shape)]
    for i in range(len(lines)):
        for k in range(i + 1, len(lines)):
            db = B[i] - B[k]
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(db != 0, (A[k] - A[i]) / np.where(db != 0, db, 1.0), -1.0)
            cuts.append(np.clip(x, 0, n))
    edges = np.sort(np.stack(np.broadcast_arrays(*cuts), axis=-1), axis=-1)
    lo, hi = edges[..., :-1], edges[..., 1:]
    first, stop = np.ceil(lo), np.ceil(hi)  # the integers j with lo <= j < hi
    count = np.maximum(stop - first, 0)
    win = np.argmax(A[..., None] + B[..., None] * ((lo + hi) / 2), axis=0)[None]
    aa = np.take_along_axis(np.broadcast_to(A[..., None], (len(lines),) + lo.shape), win, axis=0)[0]
    bb = np.take_along_axis(np.broadcast_to(B[..., None], (len(lines),) + lo.shape), win, axis=0)[0]
    return np.sum(count * aa + bb * count * (first + stop - 1) / 2, axis=-1)


# ------------------------------------------------------------------------------------------- autoregressive

# A decode step through the flash-attn package's flash_attn_func (transformers' attn_implementation
# "flash_attention_2", Emu3's reference code) computes one query row per sequence and head, but the kernel's tensor-core
# tiles hold 64-128 query rows (Dao-AILab/flash-attention csrc/flash_attn/src/flash_fwd_launch_template.h, kBlockM):
# it does a whole tile's work for its one row. Published long-context decodes under transformers with FA2 show the
# cost, beyond reading the cache: proportional to the context, the layers and the query heads (not the KV heads), and
# to the chip's dense 16-bit rate inversely (QwenLM's Qwen3 speed page, H20: 1.29-1.41 ns per context token x layer x
# query head at 14-30k tokens for Qwen3-4B to 32B, 32 to 64 query heads over 8 KV heads; the Qwen1.5 page, A100:
# 0.6-0.9 ns for 7B-14B, where the A100's 16-bit rate is 2.1x the H20's). FA2_DECODE_ROW_COST: the kernel's work for
# one decode row in multiples of that row's own attention FLOPs (4 x head dim per context token and head), at the
# chip's dense 16-bit peak: the tile's rows over the rate the kernel reaches (64 rows at 0.14 of the peak, or 128 at
# 0.28). Derived from one source, the Qwen1.5 transformers speed page (QwenLM/Qwen2.5
# docs/source/benchmark/hf_infer.rst at 95f532c: A100 80GB, flash-attention 2, batch 1, 2,048 tokens generated
# after 1 to 30,720 of input): the median over its rows at 14,336 and 30,720 input tokens of the figure that makes
# tokcost's decode reproduce each, the rest of the model as it stands (tests/test_eager_kv_cache.py re-derives it).
# The Qwen2 page (A100) and the Qwen3 page (H20), not used for it, test it.
FA2_DECODE_ROW_COST = 456.0


def fa2_decode_s_per_token(arch: Architecture, P16, n_seq, tp=1):
    """GPU seconds a decode forward of ``n_seq`` sequences spends per token of context in flash-attn 2's kernel beyond
    reading the cache (:data:`FA2_DECODE_ROW_COST`): FA2_DECODE_ROW_COST x 4 L H d n / (G P16), ``P16`` the chip's
    dense 16-bit FLOP/s, each GPU of a tensor-parallel ``tp`` = G holding 1/G of the query heads. One tile per
    sequence and head: a forward verifying a draft fills more of its rows at the same cost."""
    work = FA2_DECODE_ROW_COST * 4.0 * arch.layers * arch.heads * arch.head_dim * np.asarray(n_seq, dtype=float)
    return work / (np.asarray(tp, dtype=float) * np.asarray(P16, dtype=float))


def ar_decode_time(
    arch: Architecture,
    P: float,
    BW: float,
    eff,
    wbytes: float,
    n_seq,
    t0,
    n_forwards,
    advance=1,
    verify=1,
    passes=1,
    tp=1,
    comm=None,
    kv_bytes=KV_BYTES,
    host_factor=1.0,
    kv_passes=1.0,
    kv_static=None,
    kv_rate=None,
    attn_s_per_token=0.0,
):
    """Seconds to decode: ``n_forwards`` forwards of ``n_seq`` sequences starting at context ``t0``.

    Each forward computes ``verify`` new positions per sequence (1 for plain decoding, the draft length for
    speculative/parallel decoding) and the context then advances by ``advance`` accepted tokens. Per forward:
    FLOPs = 2 N n verify + 4 L d_attn n verify t;  bytes = N x wbytes + n t kv;  time =
    max(max(FLOPs / (P mfu), bytes / (BW mbu)) + L x gap, L x host) + fixed + n x per_seq + comm (the weights at
    ``eff.weight_rate``, below mbu where the hardware measures its skinny GEMMs below its stream rate;
    ``per_seq``: ``host_per_sequence_s``, a serving engine's CPU work per running sequence), where gap
    (``gpu_per_layer_s``) is GPU time serial with the layer's matmuls and host overlaps them. Under an engine that
    schedules a step while the GPU computes the one before (``eff.overlapped_step``: vLLM's async scheduling) the
    step's host work fixed + n x per_seq is one more term of the max instead of an addend. ``passes`` = 2 for
    unbatched CFG (two forwards per step, each reading the weights).

    ``tp`` = G splits every layer Megatron-style over G GPUs (:func:`tensor_parallel_comm_s`, priced by ``comm``): the
    FLOPs and the weights divide by G, the KV cache by G (a KV head is replicated when there are fewer than G), each
    GPU still launches every layer, and the two all-reduces per layer are serialised with the compute; each also
    costs the host ``host_per_collective_s`` (an eager stack calls them one by one). Under an engine whose CUDA
    graphs cover contexts up to ``eff.graph_max_context`` only (vLLM V0), the forwards past it run eager, their host
    time :func:`ar_eager_host_s`. A decoder with a sliding window: once the context reaches it, each forward's
    attention FLOPs, cache reads and ``attn_s_per_token`` grow with :func:`attended_context`, the window's layers
    no longer with the context (every engine's decode keeps and reads the window's keys only).
    ``host_factor``: a layer's host time over ``host_per_layer_s`` (:func:`host_scale`). ``kv_passes``: reads of
    the cache per forward (copies count a read and a write); ``kv_static``: the length of a preallocated cache read
    whole at every forward (None or NaN: the context so far) (:class:`~tokcost.records.presets.KVCacheReads`);
    ``kv_rate``: bytes per second of those reads (None: the stream rate, BW mbu; a measured decode kernel's,
    :func:`~tokcost.engine.kernels.decode_kv_rate`). ``attn_s_per_token``: GPU seconds per forward per token of
    context in an attention kernel that costs more than its reads (:func:`fa2_decode_s_per_token`), serial with the
    matmuls and the reads. Returns
    (total seconds, sum of the compute terms, sum of the memory terms, seconds in collectives), the middle two in
    seconds on one GPU."""
    N = arch.matmul_params_b * 1e9
    G = np.asarray(tp, dtype=float)
    kv = kv_bytes_per_token(arch, kv_bytes) * kv_share(arch, G)
    n_seq = np.asarray(n_seq, dtype=float)
    t0 = np.asarray(t0, dtype=float)
    adv = np.asarray(advance, dtype=float)
    ver = np.asarray(verify, dtype=float)
    attn = 4 * arch.layers * arch.heads * arch.head_dim
    # a preallocated cache read whole at every forward (constant); its sliding-window layers hold the window only
    static = attended_context(arch, np.asarray(np.nan if kv_static is None else kv_static, dtype=float))
    kv_rate = BW * eff.mbu if kv_rate is None else kv_rate
    gaps = arch.layers * eff.gpu_per_layer_s  # serial with whichever of compute and memory binds
    # the step's host work: once per step, and per running sequence (a serving engine's bookkeeping); serial with
    # the GPU, or, under async scheduling (overlapped_step), beside it: then a step takes the longer of the two
    step_host = eff.fixed_per_step_s + n_seq * eff.host_per_sequence_s
    share = windowed_share(arch)
    window = arch.sliding_window or 0

    def run(start, count, host, past_window):
        """(seconds, compute seconds, memory seconds) of ``count`` forwards from context ``start``, the host
        spending ``host`` on each one's layers; ``past_window``: the context has reached the sliding window, so
        the tokens each forward attends over (:func:`attended_context`) grow only in the layers without one."""
        # the tokens attended at forward j, a line in j: a + b j
        slope = np.where(past_window, 1.0 - share, 1.0)
        ctx_a = slope * start + np.where(past_window, share * window, 0.0)
        ctx_b = slope * adv
        comp_a = (2 * N * n_seq * ver + attn * n_seq * ver * ctx_a) / (P * eff.mfu * G)
        comp_b = attn * n_seq * ver * ctx_b / (P * eff.mfu * G)
        # the cache read at forward j: the context so far (a line in j), or the whole preallocated cache (constant)
        read_a = np.where(np.isnan(static), ctx_a, static)
        read_b = np.where(np.isnan(static), ctx_b, 0.0)
        mem_a = N * wbytes / G / (BW * eff.weight_rate) + kv_passes * n_seq * read_a * kv / kv_rate
        mem_b = kv_passes * n_seq * read_b * kv / kv_rate
        # a kernel of its own between the layer's matmuls: serial with whichever of compute and memory binds
        attn_a, attn_b = attn_s_per_token * ctx_a, attn_s_per_token * ctx_b
        lines = [(comp_a + gaps + attn_a, comp_b + attn_b), (mem_a + gaps + attn_a, mem_b + attn_b), (host, 0.0)]
        serial = sum_max_lines(lines, count) + count * step_host
        overlapped = sum_max_lines([*lines, (step_host, 0.0)], count)
        return (
            np.where(eff.overlapped_step, overlapped, serial),
            sum_max_lines([(comp_a, comp_b)], count),
            sum_max_lines([(mem_a, mem_b)], count),
        )

    forwards = np.asarray(n_forwards, dtype=float)
    comm_s = passes * forwards * tensor_parallel_comm_s(arch, n_seq * ver, G, comm)
    # the forwards a CUDA graph replays: those whose context (the positions they write included) is within the
    # engine's graphs (eff.graph_max_context, inf: all); the rest run eager (ar_eager_host_s)
    replayed = np.clip(np.floor((eff.graph_max_context - t0 - ver) / adv) + 1, 0, forwards)
    # the forwards before the context reaches a sliding window (all of them without one)
    within = forwards if arch.sliding_window is None else np.clip(np.ceil((window - t0) / adv), 0, forwards)
    graph_host, eager_host = ar_host_s(arch, eff, host_factor, G), ar_eager_host_s(arch, eff, G)
    # up to three runs, split where the graphs stop and where the window is reached, whichever comes first
    first, second = np.minimum(replayed, within), np.maximum(replayed, within)
    total, compute_sum, memory_sum = run(t0, first, graph_host, False)
    for begin, end, host, past in (
        (first, second, np.where(replayed > within, graph_host, eager_host), replayed > within),
        (second, forwards, eager_host, True),
    ):
        if np.any(end > begin):
            rest = run(t0 + adv * begin, np.maximum(end - begin, 0.0), host, past)
            total, compute_sum, memory_sum = total + rest[0], compute_sum + rest[1], memory_sum + rest[2]
    return passes * total + comm_s, passes * compute_sum, passes * memory_sum, comm_s


def ar_prefill_time(
    arch: Architecture,
    P: float,
    BW: float,
    eff,
    wbytes: float,
    n_seq,
    p,
    passes=1,
    tp=1,
    comm=None,
    kv_bytes=KV_BYTES,
    host_factor=1.0,
    attn_s=None,
    act_s=0.0,
):
    """Prefill of ``p`` prompt tokens for ``n_seq`` sequences: FLOPs = 2 N n p + 2 L d_attn n p^2 (causal), split
    over ``tp`` GPUs as in :func:`ar_decode_time`. ``attn_s``: one GPU's seconds of the attention where a measured
    kernel table prices it (:func:`~tokcost.engine.kernels.prefill_attention_s`; NaN: its FLOPs at the roofline).
    ``act_s``: one GPU's seconds of the element-wise kernels between them (:func:`decoder_elementwise_s`), serial
    with the matmuls as a denoiser's are. A decoder with a sliding window: under an engine whose kernel takes the
    window (``eff.window_prefill_skips``) its layers' attention is :func:`prefill_attention_share` of the causal
    square's; under one that masks it, the whole square. Returns (seconds, FLOPs of the whole group, seconds in
    collectives)."""
    N = arch.matmul_params_b * 1e9
    G = np.asarray(tp, dtype=float)
    n_seq = np.asarray(n_seq, dtype=float)
    p = np.asarray(p, dtype=float)
    linear = 2 * N * n_seq * p
    # a sliding window's keys outside it: skipped by a kernel that takes the window, computed under a mask
    window = np.where(eff.window_prefill_skips, prefill_attention_share(arch, p), 1.0)
    flops = linear + 2 * arch.layers * arch.heads * arch.head_dim * n_seq * p * p * window
    compute = flops / (P * eff.mfu * G)
    if attn_s is not None:
        compute = np.where(np.isfinite(attn_s), linear / (P * eff.mfu * G) + attn_s * window, compute)
    compute = compute + act_s
    bytes_ = N * wbytes / G + n_seq * p * kv_bytes_per_token(arch, kv_bytes) * kv_share(arch, G)
    gpu = np.maximum(compute, bytes_ / (BW * eff.mbu)) + arch.layers * eff.gpu_per_layer_s
    # an engine whose graphs replay decode steps only (eff.graph_max_context finite) runs its prefill eager
    host = np.where(
        np.isfinite(eff.graph_max_context), ar_eager_host_s(arch, eff, G), ar_host_s(arch, eff, host_factor, G)
    )
    comm_s = passes * tensor_parallel_comm_s(arch, n_seq * p, G, comm)
    return (
        passes * (np.maximum(gpu, host) + eff.fixed_per_step_s) + comm_s,
        passes * flops,
        comm_s,
    )


def decoder_elementwise_s(
    arch: Architecture, passes: DecoderPasses | None, eff, tokens, tp, BW, l2, own: LayerPasses | None = None
):
    """One GPU's seconds of a decoder forward's element-wise kernels over ``tokens`` (sequences x positions): the
    layer's counted passes (:class:`~tokcost.records.presets.DecoderPasses`, eager or fused as the engine runs
    them, or ``own``, the engine's own kernels' count; times its ``act_scale``) over 16-bit tokens x
    hidden, priced by :func:`elementwise_s` with ``l2`` (as a denoiser's, at the counted kernels' volumes). Under
    tensor parallelism the norms and residual adds run on every GPU at the full width, the SwiGLU's and the keys'
    share divides. 0 without a count (None)."""
    T = np.asarray(tokens, dtype=float)
    if passes is None:
        return 0.0 * T
    G = np.asarray(tp, dtype=float)
    if own is not None:
        per_layer = own.of(arch, G) * eff.act_scale
    else:
        per_layer = np.where(eff.fused_elementwise, passes.fused.of(arch, G), passes.eager.of(arch, G)) * eff.act_scale
    acts = arch.layers * arch.hidden * T * 2.0  # bytes of one pass over every layer
    return stack_elementwise_s(per_layer, acts, arch.layers, passes.per_kernel, BW * eff.mbu, l2)


def kv_heads_per_gpu(arch: Architecture, tp) -> np.ndarray:
    """KV heads one of ``tp`` GPUs holds: kv_heads / G, at least one whole head (vLLM and Megatron replicate a KV
    head over the GPUs that share it when kv_heads < G)."""
    return np.maximum(arch.kv_heads / np.asarray(tp, dtype=float), 1.0)


def kv_share(arch: Architecture, tp) -> np.ndarray:
    """Fraction of the KV cache one of ``tp`` GPUs holds (:func:`kv_heads_per_gpu` of its kv_heads)."""
    return kv_heads_per_gpu(arch, tp) / arch.kv_heads


def tensor_parallel_problem(name: str, arch: Architecture, gpus: int) -> str | None:
    """Why ``arch`` cannot be split ``gpus`` ways by Megatron tensor parallelism (heads per GPU), or None."""
    if arch.heads % gpus:
        return f"{gpus}-way tensor parallelism needs {name}'s {arch.heads} attention heads to divide by {gpus}"
    if arch.kv_heads % gpus and gpus % arch.kv_heads:
        return f"{gpus}-way tensor parallelism cannot share {name}'s {arch.kv_heads} KV heads over {gpus} GPUs"
    return None


# ------------------------------------------------------------------------------------------- collectives


def allreduce_s(bytes_, gpus, link):
    """One all-reduce of ``bytes_`` over ``gpus`` GPUs: latency + 2 (G-1)/G x bytes / busbw (the ring algorithm's
    traffic, at the bus bandwidth nccl-tests reports; ``link`` = (latency s, busbw bytes/s)). 0 on one GPU."""
    G = np.asarray(gpus, dtype=float)
    latency, busbw = link
    return np.where(G > 1, latency + 2.0 * (G - 1) / G * np.asarray(bytes_, dtype=float) / busbw, 0.0)


def allgather_s(held, gpus, link):
    """One all-gather in which each of ``gpus`` GPUs contributes ``held`` bytes and receives the other G-1 parts:
    latency + (G-1)/G x G held / busbw (nccl-tests' bus bandwidth of the gathered G x held bytes). 0 on one GPU."""
    G = np.asarray(gpus, dtype=float)
    latency, busbw = link
    return np.where(G > 1, latency + (G - 1) * np.asarray(held, dtype=float) / busbw, 0.0)


def alltoall_s(bytes_, gpus, link):
    """One all-to-all in which each of ``gpus`` GPUs holds ``bytes_`` and sends (G-1)/G of it: latency +
    (G-1)/G x bytes / busbw. 0 on one GPU."""
    G = np.asarray(gpus, dtype=float)
    latency, busbw = link
    return np.where(G > 1, latency + (G - 1) / G * np.asarray(bytes_, dtype=float) / busbw, 0.0)


def sendrecv_s(bytes_, gpus, link):
    """One send of ``bytes_`` to the next of ``gpus`` GPUs in a ring while the previous one's arrive: latency +
    bytes / the send's bandwidth (``link`` = (latency s, bytes/s): nccl-tests' sendrecv_perf bandwidth where the
    preset has one, else the all-reduce's bus bandwidth, :meth:`~tokcost.engine.collectives.Collectives.send_recv_s`).
    0 on one GPU."""
    G = np.asarray(gpus, dtype=float)
    latency, bandwidth = link
    return np.where(G > 1, latency + np.asarray(bytes_, dtype=float) / bandwidth, 0.0)


def ar_host_s(arch: Architecture, eff, host_factor, tp):
    """The host's seconds per AR forward: each layer's launches (``host_factor``: a layer's over
    ``host_per_layer_s``) and the call of each of tensor parallelism's collectives."""
    return (
        arch.layers * eff.host_per_layer_s * host_factor
        + tensor_parallel_collectives(arch, tp) * eff.host_per_collective_s
    )


def ar_eager_host_s(arch: Architecture, eff, tp):
    """:func:`ar_host_s` of a forward that an engine's CUDA graphs leave eager
    (:class:`~tokcost.records.engines.DecodeGraphs`): each layer's operator calls and each collective's, at the
    engine's own eager cost (``eager_host_per_layer_s``, ``eager_host_per_collective_s``)."""
    return (
        arch.layers * eff.eager_host_per_layer_s
        + tensor_parallel_collectives(arch, tp) * eff.eager_host_per_collective_s
    )


def tensor_parallel_collectives(arch: Architecture, tp):
    """Collectives per forward of Megatron tensor parallelism over ``tp`` GPUs: two all-reduces per layer (after the
    attention output projection and after the MLP); none on one GPU. The vocabulary-parallel output head's gather
    is one more, small, and not counted."""
    return np.where(np.asarray(tp, dtype=float) > 1, 2.0 * arch.layers, 0.0)


def tensor_parallel_comm_s(arch: Architecture, positions, tp, comm):
    """Seconds per forward in Megatron tensor parallelism's collectives (:func:`tensor_parallel_collectives`), each
    of the activations of the ``positions`` in flight, positions x hidden x 2 bytes (16-bit), priced by ``comm``
    (:class:`~tokcost.engine.collectives.Collectives`). No ``comm`` (one GPU): 0."""
    positions = np.asarray(positions, dtype=float)
    if comm is None:
        return 0.0 * positions
    return tensor_parallel_collectives(arch, tp) * comm.all_reduce_s(positions * arch.hidden * 2.0, tp)


def ar_memory(model: ModelPreset, wbytes: float, n_seq, context, tp=1, kv_bytes=KV_BYTES):
    """Bytes resident on each GPU: weights / G + its share of the KV cache of every sequence at its final length
    (a sliding-window layer's at most the window, :func:`attended_context`) + logits + workspace (``tp`` = G,
    :func:`ar_decode_time`)."""
    arch = model.architecture
    if arch is None:  # not reached: ModelPreset's validator requires it of an AR model
        raise ValueError(f"{model.id} has no architecture: not an AR model")
    G = np.asarray(tp, dtype=float)
    weights = arch.params_b * 1e9 * wbytes / G
    per_token = kv_bytes_per_token(arch, kv_bytes) * kv_share(arch, G)
    kv = np.asarray(n_seq, dtype=float) * attended_context(arch, context) * per_token
    logits = np.asarray(n_seq, dtype=float) * arch.vocab * 4.0 * 2  # fp32 logits and one sampling copy, gathered
    return {
        "weights": weights + 0 * kv,
        "kv_cache": kv,
        "activations": logits + 0 * kv,
        "workspace": WORKSPACE_BYTES + 0 * kv,
    }


# ------------------------------------------------------------------------------------------- diffusion


def _denoiser(model: ModelPreset) -> Denoiser:
    """The model's denoiser, which ModelPreset's validator requires of a diffusion model."""
    if model.denoiser is None:
        raise ValueError(f"{model.id} has no denoiser: not a diffusion model")
    return model.denoiser


def _vae(model: ModelPreset) -> Vae:
    """The model's VAE, which ModelPreset's validator requires of the families that decode one."""
    if model.vae is None:
        raise ValueError(f"{model.id} has no VAE")
    return model.vae


def denoiser_flops_split(model: ModelPreset, latent_tokens, width, height):
    """(linear FLOPs, attention FLOPs) of one denoiser forward for one item (one CFG branch).

    ``linear`` is every weight matmul/convolution (2 x params x tokens); ``attention`` is the score and value
    matmuls (Q K^T and A V, 4 x d x T_q x T_k per layer), which run in a fused attention kernel whose speed
    differs from a GEMM's (see :func:`diffusion_step_time`).

    DiT: linear 2 N_linear T; attention 4 L d T^2 + 4 L d T X for cross-attention to X text tokens.
    MMDiT: the same over the joint sequence S = T + X (linear 2 N S, attention 4 L d S^2).
    Linear-attention DiT (Sana): linear 2 N_linear T; attention only the softmax cross-attention 4 L d T X
    (its ReLU linear self-attention is a pair of d x d products per token, counted with the linear part).
    UNet: conv/linear FLOPs at a reference resolution scaled by pixels; attention 4 x count x dim x
    (T_l^2 + T_l X) at each attention level (T_l = pixels / downsample^2, X = :func:`~tokcost.engine.tokens.text_tokens`)."""
    d = _denoiser(model)
    if d.kind == "unet":
        ref_tflops, ref_width, ref_height = d.unet_reference()
        pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
        linear = ref_tflops * 1e12 * pixels / (ref_width * ref_height)
    else:
        linear_b, _, _ = d.transformer_geometry()
        T = np.asarray(latent_tokens, dtype=float)
        linear = 2 * linear_b * 1e9 * (T + float(d.joint_text_tokens or 0) if d.kind == "mmdit" else T)
    attn = 0.0 * linear
    for flops, _ in attention_parts(model, latent_tokens, width, height):
        attn = attn + flops
    return linear, attn


def attention_head_dims(model: ModelPreset) -> list[float | None]:
    """The head dim of each part :func:`attention_parts` returns, in its order (None where the preset gives no head
    count): one for a transformer, one per attention level for a UNet."""
    d = _denoiser(model)
    if d.kind == "unet":
        return [lvl.dim / lvl.heads if lvl.heads is not None else None for lvl in d.attention_levels]
    _, _, D = d.transformer_geometry()
    return [D / d.attention_heads if d.attention_heads is not None else None]


def attention_parts(model: ModelPreset, latent_tokens, width, height) -> list[tuple[np.ndarray, float | None]]:
    """The attention FLOPs of one denoiser forward for one item (:func:`denoiser_flops_split`), by the head dim
    they run at: ``[(flops, head_dim or None), ...]`` (:func:`attention_head_dims`)."""
    d = _denoiser(model)
    if d.kind == "unet":
        pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
        X = float(text_tokens(model))
        flops = []
        for lvl in d.attention_levels:
            Tl = pixels / (lvl.downsample**2)  # tokens at this level
            flops.append(4.0 * lvl.count * lvl.dim * (Tl * Tl + Tl * X))
    else:
        _, L, D = d.transformer_geometry()
        T = np.asarray(latent_tokens, dtype=float)
        if d.kind == "mmdit":
            S = T + float(d.joint_text_tokens or 0)
            flops = [4 * L * D * S * S]
        else:
            X = float(d.cross_attention_text_tokens or 0)
            self_attn = 0.0 * T if d.kind == "linear-dit" else 4 * L * D * T * T
            flops = [self_attn + 4 * L * D * T * X]
    return list(zip(flops, attention_head_dims(model), strict=True))


# The head dim at which a chip's attention efficiency (efficiency.attention) is read: the FlashAttention-2 and -3
# papers' headline benchmarks (and their 50-73% / 35% / 75% figures) are at head dim 128.
REFERENCE_HEAD_DIM = 128


# From compute capability 8.0 PyTorch's SDPA runs FlashAttention-2 (PyTorch SDPA docs: the flash backend needs sm80
# or newer), whose kernels come in head dims that are multiples of this. Volta and Turing (7.0, 7.5) run the
# memory-efficient kernel (xFormers' CUTLASS kernel, which PyTorch ships as aten/src/ATen/native/transformers/cuda/
# mem_eff_attention): its tensor-core GEMMs take the head dim in steps of ThreadK = 32 (gemm_kernel_utils.h,
# DefaultGemmType for Sm70 f16 and Sm75+), so a 40-wide head is multiplied 64 wide there too. Its variant for
# heads above 128 keeps the output in global memory rather than rounding to 256; no preset has a head in 193-255,
# where the two would differ. Older chips, and chips without a stated compute capability: no padding.
FLASH_HEAD_DIM_STEP = 32
FLASH_MIN_COMPUTE_CAPABILITY = 8.0
MEM_EFFICIENT_MIN_COMPUTE_CAPABILITY = 7.0


def flash_head_step(hw: HardwarePreset) -> float:
    """The head-dim step of the attention kernel SDPA runs on ``hw``: :data:`FLASH_HEAD_DIM_STEP` where it runs
    FlashAttention-2 or the memory-efficient kernel's tensor-core path (compute capability 7.0 and up), 1 (no
    padding) elsewhere."""
    cc = hw.compute_capability
    return float(FLASH_HEAD_DIM_STEP) if cc is not None and cc >= MEM_EFFICIENT_MIN_COMPUTE_CAPABILITY else 1.0


def flash_head_dim(head_dim, step=FLASH_HEAD_DIM_STEP):
    """The head dim the attention kernel computes at: FlashAttention-2, and PyTorch SDPA's flash backend built
    from it, instantiate kernels for head dims 32, 64, ..., 192 and 256 and run a head in the next one up
    (Dao-AILab/flash-attention csrc/flash_attn/flash_api.cpp: ``head_size_rounded = head_size <= 192 ?
    round_multiple(head_size, 32) : 256``); the padding columns are multiplied like the rest. ``step`` 1: no
    padding (:func:`flash_head_step`)."""
    d = np.asarray(head_dim, dtype=float)
    step = np.asarray(step, dtype=float)
    return np.where((d <= 192) | (step == 1), np.ceil(d / step) * step, 256.0)


# The softmax's work per score beside the two matmuls, counted from FlashAttention-2's forward kernel
# (Dao-AILab/flash-attention csrc/flash_attn/src/softmax.h and flash_fwd_kernel.h): reduce_max (one max),
# scale_apply_exp2 (one fused multiply-add, exp2f(s * scale - max * scale), and one exponential), reduce_sum (one
# add), then convert_type of P to 16 bits for the P V matmul (one packed conversion per two scores). The
# exponential and the conversion issue on the units that compute 16 results a clock per SM (CUDA C++ Programming
# Guide, 'Arithmetic Instructions' throughput table: exp2 and 'all other type conversions', compute capability
# 7.0-10.0), so they run at the preset's exp_tops; the max, the multiply-add and the add on the FP32 lanes, at
# half the fp32 FLOP rate (an FMA is two FLOPs). The rescaling of the output once per key block is left out.
SOFTMAX_SPECIAL_PER_SCORE = 1.5  # one exp2 + half a packed fp32 -> 16-bit conversion
SOFTMAX_FP32_OPS_PER_SCORE = 3.0  # max, scale-and-subtract FMA, row-sum add


# Kernels that run the softmax of one tile while the tensor cores multiply another (FlashAttention-3's ping-pong
# of two warpgroups and its intra-warpgroup pipelining, FlashAttention-3 paper section 3.1-3.2; cuDNN's fused
# attention on Hopper and Blackwell, whose measured rates at head dim 128 leave no room for FlashAttention-2's
# serial softmax): only the exponential's unit is charged beside the matmuls, as the FlashAttention-3 paper frames it.
OVERLAPPED_SOFTMAX_KERNELS = ("fa3", "cudnn")


def softmax_rate(exp_tops: float | None, fp32_tflops: float, kernel: str = "fa2") -> float:
    """Scores per second through the softmax's own work in the attention ``kernel``: FlashAttention-2's (sdpa,
    fa2) runs :data:`SOFTMAX_SPECIAL_PER_SCORE` results on the special-function units at ``exp_tops`` and
    :data:`SOFTMAX_FP32_OPS_PER_SCORE` on the FP32 lanes at half of ``fp32_tflops``, one after the other as a warp
    issues them between its matmuls; a kernel of :data:`OVERLAPPED_SOFTMAX_KERNELS` is charged its exponentials
    alone. inf where the chip's exponential rate is not known (no softmax term)."""
    if exp_tops is None:
        return np.inf
    if kernel in OVERLAPPED_SOFTMAX_KERNELS:
        return exp_tops * 1e12
    seconds = SOFTMAX_SPECIAL_PER_SCORE / (exp_tops * 1e12) + SOFTMAX_FP32_OPS_PER_SCORE / (fp32_tflops * 1e12 / 2)
    return 1.0 / seconds


def attention_equivalent_flops(parts, P_attn, attn_eff, score_rate, head_step=FLASH_HEAD_DIM_STEP):
    """The FLOPs that take, at ``P_attn`` x ``attn_eff`` (the chip's attention efficiency, read at head dim 128),
    as long as the attention ``parts`` (:func:`attention_parts`) take at their own head dims.

    Per score (one query-key pair of one head) a flash kernel runs 4 d_k FLOPs of matmul (Q K^T and P V at the
    kernel's head dim d_k = :func:`flash_head_dim`) and the softmax's own work (an exponential, a conversion, a max,
    a multiply-add and an add), which the chip does for ``score_rate`` scores per second (:func:`softmax_rate`):
    the softmax does not shrink with the head dim, so narrow heads spend more of their time in it (the
    FlashAttention-3 paper's point: an H100 has 989 TFLOPS of matmul but 3.9 TFLOPS of exponentials). The
    measured efficiency at head dim 128 is the sum of both, 1/eff = 1/e + q with q = P / (4 x 128 x score_rate)
    the softmax's time per matmul FLOP, which gives the matmul part's own e; at head dim d the time per FLOP is
    (d_k / d) / e + q x 128 / d. A part without a head dim, and a chip without a softmax rate (score_rate = inf:
    q = 0), keep 1/eff. ``head_step``: the kernel's head-dim step on the chip (:func:`flash_head_step`)."""
    attn_eff = np.asarray(attn_eff, dtype=float)
    q = np.asarray(P_attn, dtype=float) / (4 * REFERENCE_HEAD_DIM * np.asarray(score_rate, dtype=float))
    inv_e = 1.0 / attn_eff - q
    # an exponential rate that would leave the matmul no time at head dim 128 is not physical: no split then
    q = np.where(inv_e > 0, q, 0.0)
    inv_e = np.where(inv_e > 0, inv_e, 1.0 / attn_eff)
    total = 0.0
    for flops, head_dim in parts:
        if head_dim is None:
            total = total + flops
            continue
        per_flop = flash_head_dim(head_dim, head_step) / head_dim * inv_e + q * REFERENCE_HEAD_DIM / head_dim
        total = total + flops * per_flop * attn_eff
    return total


# Unfused attention (the "math" kernel: code that computes softmax(Q K^T) V itself instead of calling SDPA, as
# diffusers' AttnProcessor before PyTorch 2 and LazyMAR's blocks do): Q K^T and P V run as batched matmuls at the
# GEMM rate, and the scores (one per query-key pair and head) go through memory between them. Bytes each kernel
# moves per score, by how the code runs: a 16-bit pipeline writes them (2), the softmax reads and writes them
# (2 + 2), P V reads them (2); under torch.autocast the softmax runs in fp32 (softmax is on the CUDA "ops that can
# autocast to float32" list of PyTorch's Automatic Mixed Precision page, so it writes 4) and P V's input is cast
# back to 16 bits (4 read, 2 written). MAR samples under autocast; a diffusion pipeline does where its run says so
# (``autocast``, as 2022 diffusers scripts wrapped pipe() in torch.autocast("cuda")).
UNFUSED_BYTES_PER_SCORE = {"16-bit": 8.0, "autocast": 16.0}


def unfused_attention_s(parts, P_mm, BW, bytes_per_score):
    """Seconds of the attention ``parts`` (:func:`attention_parts`: FLOPs by head dim) run unfused, at the GEMM rate
    ``P_mm`` and memory rate ``BW``: each matmul takes max(its FLOPs, the scores it writes or reads, 2 bytes
    each), the softmax between them the rest of ``bytes_per_score`` (:data:`UNFUSED_BYTES_PER_SCORE`). A part
    without a head dim has no score count: its FLOPs at the GEMM rate alone."""
    total = 0.0
    for flops, head_dim in parts:
        if head_dim is None:
            total = total + flops / P_mm
            continue
        scores = flops / (4.0 * head_dim)  # 4 d FLOPs per score: Q K^T and P V, 2 d each
        matmuls = 2.0 * np.maximum(2.0 * head_dim * scores / P_mm, 2.0 * scores / BW)
        total = total + matmuls + (bytes_per_score - 4.0) * scores / BW
    return total


def unfused_attention_note(model_id: str, head_dims, regime: str) -> str:
    """How the math kernel prices attention at ``head_dims`` under ``regime`` (:data:`UNFUSED_BYTES_PER_SCORE`)."""
    dims = ", ".join(f"{d:.3g}" for d in sorted({d for d in head_dims if d}))
    if not dims:
        return (
            f"attention unfused (math): {model_id} states no head count, so its scores' traffic is not priced, only "
            "its matmuls at the GEMM rate"
        )
    where = "in 16 bits" if regime == "16-bit" else f"under {regime}"
    return (
        f"attention unfused (math) {where} at head dim {dims}: its matmuls at the GEMM rate, "
        f"{UNFUSED_BYTES_PER_SCORE[regime]:.0f} bytes of scores through memory per query-key pair and head"
    )


# One GEMM of a denoiser forward, per item: m = per_pixel x pixels + per_token x sequence tokens + fixed rows;
# an n x k weight; ``count`` of them per forward.
GemmShape = tuple[float, float, float, int, int, int]  # (per_pixel, per_token, fixed, n, k, count)


def unet_gemm_shapes(model: ModelPreset) -> list[GemmShape]:
    """Every convolution and linear layer of one UNet2DConditionModel forward as the GEMM it runs: a k x k
    convolution from c_in to c_out channels is cuDNN's implicit GEMM with m = the output feature map's positions,
    n = c_out, k = c_in x k x k; a linear layer on a feature map has m = its positions, on the text tokens m = the
    prompt's tokens, on the time embedding m = 1. Walks diffusers' block order (docs/_vae_flops.py unet_macs
    counts the same layers: its sum is the preset's ref_forward_tflops). Norms, activations and attention's
    score/value products are not GEMMs with weights and are priced elsewhere."""
    d = _denoiser(model)
    c = d.unet_config
    if c is None:
        raise ValueError(f"{model.id}'s UNet has no unet_config: its GEMM shapes are unknown")
    bo, lpb, depth = c.block_out_channels, c.layers_per_block, c.transformer_layers_per_block
    nb, temb, text = len(bo), 4 * c.block_out_channels[0], float(text_tokens(model))
    shapes: dict[tuple[float, float, int, int], int] = {}

    def add(per_pixel: float, fixed: float, n: int, k: int, count: int = 1) -> None:
        shapes[(per_pixel, fixed, n, k)] = shapes.get((per_pixel, fixed, n, k), 0) + count

    def level(i: int) -> float:  # output positions per image pixel at resolution level i
        return 1.0 / (model.vae.spatial_factor * 2**i) ** 2

    def conv(size: int, cin: int, cout: int, i: int) -> None:
        add(level(i), 0.0, cout, cin * size * size)

    def resnet(cin: int, cout: int, i: int) -> None:
        conv(3, cin, cout, i)
        conv(3, cout, cout, i)
        if cin != cout:
            conv(1, cin, cout, i)  # shortcut
        add(0.0, 1.0, cout, temb)  # the time embedding's projection

    def transformer(ch: int, blocks: int, i: int) -> None:
        add(level(i), 0.0, ch, ch, 2 + 6 * blocks)  # proj_in/out; attn1 q, k, v, out; attn2 q, out
        add(0.0, text, ch, c.cross_attention_dim, 2 * blocks)  # attn2 k, v over the text tokens
        add(level(i), 0.0, 8 * ch, ch, blocks)  # GEGLU in: ch -> 2 x 4ch
        add(level(i), 0.0, ch, 4 * ch, blocks)  # feed-forward out

    add(0.0, 1.0, temb, bo[0])  # time embedding MLP
    add(0.0, 1.0, temb, temb)
    if c.projection_class_embeddings_input_dim:  # SDXL's text-time embedding
        add(0.0, 1.0, temb, c.projection_class_embeddings_input_dim)
        add(0.0, 1.0, temb, temb)
    conv(3, c.in_channels, bo[0], 0)  # conv_in
    skips, prev = [bo[0]], bo[0]
    for i, ch in enumerate(bo):
        for _ in range(lpb):
            resnet(prev, ch, i)
            prev = ch
            if c.cross_attn_down_blocks[i]:
                transformer(ch, depth[i], i)
            skips.append(ch)
        if i < nb - 1:
            conv(3, ch, ch, i + 1)  # Downsample2D: stride-2 3x3 conv, output at the next level
            skips.append(ch)
    resnet(bo[-1], bo[-1], nb - 1)  # mid block: resnet, transformer, resnet
    transformer(bo[-1], depth[-1], nb - 1)
    resnet(bo[-1], bo[-1], nb - 1)
    prev = bo[-1]
    for j, ch in enumerate(reversed(bo)):
        i = nb - 1 - j
        for r in range(lpb + 1):
            resnet((prev if r == 0 else ch) + skips.pop(), ch, i)
            if c.cross_attn_down_blocks[i]:
                transformer(ch, depth[i], i)
        prev = ch
        if i > 0:
            conv(3, ch, ch, i - 1)  # Upsample2D: nearest x2, then a 3x3 conv at the level above
    conv(3, bo[0], c.in_channels, 0)  # conv_out
    return [(pp, 0.0, fixed, n, k, count) for (pp, fixed, n, k), count in shapes.items()]


def transformer_gemm_shapes(model: ModelPreset) -> list[GemmShape]:
    """A transformer denoiser's linear layers as four GEMMs per block over its sequence (m = tokens): qkv
    (d -> 3d), the attention output (d -> d) and an MLP (d -> r d -> d) whose width r d holds the rest of the
    block's linear weights (r = (N_linear / (L d^2) - 4) / 2, at least 1), so the shapes' FLOPs are the preset's
    2 N_linear T. The presets give a block's width and weights, not each layer's split: this is the standard
    block's, an assumption (docs/methodology.md)."""
    linear_b, L, D = _denoiser(model).transformer_geometry()
    ratio = max((linear_b * 1e9 / (L * D * D) - 4.0) / 2.0, 1.0)
    hidden = max(int(round(ratio * D)), 1)
    return [
        (0.0, 1.0, 0.0, 3 * D, D, L),
        (0.0, 1.0, 0.0, D, D, L),
        (0.0, 1.0, 0.0, hidden, D, L),
        (0.0, 1.0, 0.0, D, hidden, L),
    ]


_SHAPES: dict[int, tuple[ModelPreset, list[GemmShape]]] = {}  # id(model) -> its shapes (presets are immutable)


def denoiser_gemm_shapes(model: ModelPreset) -> list[GemmShape]:
    """:func:`unet_gemm_shapes` or :func:`transformer_gemm_shapes`, by the denoiser's kind (once per preset)."""
    hit = _SHAPES.get(id(model))
    if hit is None or hit[0] is not model:
        shapes = unet_gemm_shapes(model) if _denoiser(model).kind == "unet" else transformer_gemm_shapes(model)
        hit = _SHAPES[id(model)] = (model, shapes)
    return hit[1]


def denoiser_gemm_s(model: ModelPreset, gemm, items, seq_tokens, width, height):
    """Seconds of one forward's GEMMs for ``items`` items on one GPU, each priced by ``gemm(m, n, k)`` (a
    measured kernel table, :class:`~tokcost.engine.kernels.TableGemms`; NaN where it has no measurement) at
    m = items x the shape's rows per item (:data:`GemmShape`; ``seq_tokens`` = the denoiser's sequence)."""
    pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
    items = np.asarray(items, dtype=float)
    seq = np.asarray(seq_tokens, dtype=float)
    groups: dict[tuple[float, float, float], list[tuple[int, int, int]]] = {}
    for per_pixel, per_token, fixed, n, k, count in denoiser_gemm_shapes(model):
        groups.setdefault((per_pixel, per_token, fixed), []).append((n, k, count))
    rows = [(np.maximum(items * (pp * pixels + pt * seq + f), 1.0), layers) for (pp, pt, f), layers in groups.items()]
    return gemm.sum_s(rows)


def gemm_output_elems(model: ModelPreset, seq_tokens, width, height):
    """Output elements of one item's pass through the denoiser's GEMMs (:func:`denoiser_gemm_shapes`): m x n each."""
    pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
    seq = np.asarray(seq_tokens, dtype=float)
    return sum(c * n * (pp * pixels + pt * seq + f) for pp, pt, f, n, _, c in denoiser_gemm_shapes(model))


def gemm_shapes_flops(shapes: list[GemmShape], seq_tokens, width, height):
    """FLOPs (2 m n k) of one item's pass through ``shapes``."""
    pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
    return sum(
        2.0 * c * n * k * (pp * pixels + pt * np.asarray(seq_tokens, dtype=float) + f) for pp, pt, f, n, k, c in shapes
    )


def denoiser_flops(model: ModelPreset, latent_tokens, width, height):
    """FLOPs of one denoiser forward for one item (one CFG branch): linear + attention of
    :func:`denoiser_flops_split`."""
    linear, attn = denoiser_flops_split(model, latent_tokens, width, height)
    return linear + attn


def denoiser_layers(model: ModelPreset) -> int:
    """Blocks a forward launches (host overhead scales with it): transformer blocks plus the conv (and other)
    blocks outside them, ``resnet_blocks`` (a UNet's residual blocks; a U-ViT's conv-stage blocks)."""
    d = _denoiser(model)
    if d.kind == "unet":
        return (sum(level.count for level in d.attention_levels) + (d.resnet_blocks or 0)) or 1
    return d.transformer_geometry()[1] + (d.resnet_blocks or 0)


def denoiser_activation_elems(model: ModelPreset, latent_tokens, width, height):
    """Activation elements one forward's blocks produce for one item: sum over transformer blocks of
    tokens x width. DiT/linear-DiT: L x T x d; MMDiT: L x (T + X) x d; UNet: sum over attention levels of
    count x T_l x dim (its conv blocks are not counted). Times ``act_passes`` x 2 bytes this is the element-wise
    traffic (norms, modulation, activation functions, residual adds, rotary embeddings, casts) that an eager
    stack moves between its matmuls, through HBM or L2 (see :func:`diffusion_step_time`)."""
    d = _denoiser(model)
    T = np.asarray(latent_tokens, dtype=float)
    if d.kind == "unet":
        pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
        return sum(lvl.count * lvl.dim * pixels / (lvl.downsample**2) for lvl in d.attention_levels) + 0 * pixels
    S = T + float(d.joint_text_tokens or 0) if d.kind == "mmdit" else T
    _, L, D = d.transformer_geometry()
    return L * D * S


def activation_blocks(model: ModelPreset) -> int:
    """Blocks :func:`denoiser_activation_elems` counts: transformer blocks (UNet: those of its attention levels)."""
    d = _denoiser(model)
    if d.kind == "unet":
        return sum(level.count for level in d.attention_levels) or 1
    return d.transformer_geometry()[1]


def act_passes(model: ModelPreset, eff):
    """Element-wise passes per block over :func:`denoiser_activation_elems` (16-bit tensors of one block's
    activations read or written): the model's own count (``elementwise_passes``, counted from its code by
    scripts/count_elementwise_passes.py) for how the engine runs its element-wise ops (eager: each op its own
    kernel; fused: torch.compile's fused chains), times the engine's fitted ``act_scale`` (the element-wise time
    measured runs show over the time the counted bytes take at the chip's rate)."""
    counted = model.elementwise_passes
    if counted is None:  # not reached: the catalog gives every preset of a family that prices them its count
        raise ValueError(f"{model.id} has no elementwise_passes")
    # np.where: stacked chips x bands make each Efficiency field a column (estimate_stack)
    return np.where(eff.fused_elementwise, counted.fused, counted.eager) * eff.act_scale


def kernel_passes(model: ModelPreset) -> tuple[float, ...]:
    """Passes one eager element-wise kernel makes (its reads plus writes over one block's activations) at the
    midpoints of equal shares of the bytes (the kernels sorted by volume), counted from the model code with its
    passes (``elementwise_passes.per_kernel``, scripts/count_elementwise_passes.py). Times one block's activation
    bytes each is the volume a kernel streams, which :func:`elementwise_s` compares with the chip's L2 for its share
    of the bytes: kernels of a tokens x width tensor stay in the cache at a larger shard of the sequence than the
    GELU of a 4x-wide MLP hidden, so the share in L2 falls in steps as the activations grow. The eager count serves
    a compiled denoiser too: a fused kernel moves a subset of the bytes of the eager kernels it replaces, each
    written and read where the eager ones wrote and read it, so each byte stays in L2 as it did (and fused is never
    slower than eager: fewer of the same bytes)."""
    counted = model.elementwise_passes
    if counted is None or counted.per_kernel is None:  # not reached: the catalog completes every preset's count
        raise ValueError(f"{model.id} has no elementwise_passes.per_kernel")
    return counted.per_kernel


def host_note(model: ModelPreset, profile) -> str:
    """What one of ``model``'s layers costs the host under ``profile`` (an engine profile) when its host launches
    every op (``host_per_launch``), and where the count is from; for a serving engine that works per running
    sequence (``host_per_sequence_s``), what a decode step costs its host; empty otherwise."""
    if profile.host_per_sequence_s is not None and model.architecture is not None:
        timing = (
            "beside the GPU's forward (async scheduling: a step takes the longer of the two)"
            if profile.overlapped_step
            else "serial with the GPU's forward"
        )
        return (
            f"host: {profile.fixed_per_step_s.mid * 1e3:.2g} ms per decode step and "
            f"{profile.host_per_sequence_s.mid * 1e3:.2g} ms per running sequence on the reference host "
            f"(the engine's scheduling, input preparation and output processing; fixed_per_step_s, "
            f"host_per_sequence_s), {timing}"
        )
    counted = model.launches_per_layer
    if not profile.host_per_launch or counted is None or profile.host_per_layer_s is None:
        return ""
    per_launch = profile.host_per_layer_s.mid / REFERENCE_LAUNCHES
    return (
        f"host: {counted.eager:.3g} kernel launches per layer x {per_launch * 1e6:.3g} us each on the reference host "
        f"(host_per_layer_s / the {REFERENCE_LAUNCHES} of LlamaGen's decoder layer; {counted.counted})"
    )


def elementwise_note(model: ModelPreset, profile) -> str:
    """Which count of the model's element-wise passes ``profile`` (an engine profile) moves, and where it is from."""
    counted = model.elementwise_passes
    if counted is None:
        return ""
    fused = profile.elementwise == "fused"
    scale = 1.0 if profile.act_scale is None else profile.act_scale.mid
    return (
        f"element-wise work: {counted.fused if fused else counted.eager:.3g} {'fused' if fused else 'eager'} passes "
        f"per block over the activations x act_scale {scale:.3g} ({counted.counted})"
    )


def decoder_elementwise_note(model: ModelPreset, profile) -> str:
    """Which count of an AR decoder layer's prefill element-wise passes ``profile`` (an engine profile) moves, and
    where it is from (:func:`decoder_elementwise_s`)."""
    counted, arch = model.decoder_passes, model.architecture
    if counted is None or arch is None:
        return ""
    scale = 1.0 if profile.act_scale is None else profile.act_scale.mid
    if profile.decoder_passes is not None:
        passes = f"{profile.decoder_passes.of(arch):.3g} passes per layer of the engine's own fused kernels"
        source = "counted from its code: engines.yaml decoder_passes"
    else:
        fused = profile.elementwise == "fused"
        layer = counted.fused if fused else counted.eager
        passes, source = f"{layer.of(arch):.3g} {'fused' if fused else 'eager'} passes per layer", counted.counted
    return (
        f"prefill element-wise work: {passes} over the prompt's activations x act_scale {scale:.3g} ({source}); "
        "decode steps' are not priced"
    )


def sequence_parallel_comm_s(model: ModelPreset, items_per_gpu, seq_tokens, sp, comm, ring=1):
    """Seconds per denoiser forward in Ulysses sequence parallelism's all-to-alls (xDiT USP, DeepSpeed-Ulysses,
    Wan2.1's and HunyuanVideo's ``--ulysses-degree``) over ``sp`` GPUs, of which ``ring`` form each ring of ring
    attention (:func:`ring_send_s`): the all-to-alls run among the sp / ring GPUs of a ring position.

    Each of the L attention layers re-shards q, k, v (before attention: sequence-split to head-split) and the
    output (after): 4 all-to-alls, in each of which a GPU holds its 1/sp of the sequence,
    items x (S / sp) x d x 2 bytes (``comm``'s all-to-all, :class:`~tokcost.engine.collectives.Collectives`),
    serialised with the compute.
    sp / ring = 1 (or no ``comm``) gives 0. UNets are not sequence-parallel here."""
    d = _denoiser(model)
    G = np.asarray(sp, dtype=float)
    if d.kind == "unet" or not d.attention_dim or comm is None:
        return 0.0 * G
    held = _sequence_shard_bytes(model, items_per_gpu, seq_tokens, G)
    return 4.0 * d.transformer_geometry()[1] * comm.all_to_all_s(held, G / ring)


def _sequence_shard_bytes(model: ModelPreset, items_per_gpu, seq_tokens, sp):
    """Bytes of one activation a GPU holds under ``sp``-way sequence parallelism: its 1/sp of the sequence, all
    heads, 16 bits (the same as its share of the heads over a ring's 1/ring of the sequence after Ulysses'
    all-to-all)."""
    D = _denoiser(model).transformer_geometry()[2]
    return np.asarray(items_per_gpu, dtype=float) * np.asarray(seq_tokens, dtype=float) / np.asarray(sp) * D * 2.0


def sequence_parallel_collectives(model: ModelPreset, sp, ring=1):
    """Collective calls per denoiser forward of sequence parallelism over ``sp`` GPUs in rings of ``ring``: 4
    all-to-alls in each of the L attention layers where the ring positions hold more than one GPU
    (:func:`sequence_parallel_comm_s`), and each further step of a ring, ring - 1 per layer, one send and receive
    (:func:`ring_send_s`); none on one GPU or for a UNet."""
    d = _denoiser(model)
    sp = np.asarray(sp, dtype=float)
    if d.kind == "unet" or not d.attention_dim:
        return 0.0 * sp
    layers = d.transformer_geometry()[1]
    return np.where(sp / ring > 1, 4.0 * layers, 0.0) + np.where(sp > 1, (ring - 1.0) * layers, 0.0)


# Ring attention (yunchang's ring_flash_attn_forward, feifeibear/long-context-attention yunchang/ring/, which xDiT's
# USP and the Wan2.1 and HunyuanVideo multi-GPU scripts call through xFuserLongContextAttention): a ring of R GPUs
# passes the K and V shards round in R steps; in each further step a GPU posts the send of its shard to the next and
# the receive of the previous one's (RingComm.send_recv, dist.batch_isend_irecv), runs flash attention on the block
# it holds (_flash_attn_forward, returning the block's log-sum-exp), then merges that block's output into its
# running output in fp32 (update_out_and_lse; its _update_out_and_lse is a TorchScript function, and TorchScript's
# default CUDA fuser groups the element-wise ops of the output's update and of the log-sum-exp's into a kernel each
# once it has profiled a call: two kernels, counted from the fuser's rules, not measured; nine run unfused). Per
# further step: the flash attention call and the two merge kernels are host launches beyond a Ulysses layer's (the
# send and receive is a collective call); the merge reads the running fp32 output (4 bytes an element) and the
# block's 16-bit output (2) and writes the new output (4). The send does not hide behind the block's attention,
# though posted before it: NCCL's send and receive kernels need SMs of their own ("NCCL CTAs won't share an SM with
# compute kernels", NVIDIA/nccl issue #689), and a flash-attention kernel holds every SM while it runs, so they
# wait for its blocks to retire (NVIDIA/nccl issue #1431: "the next communication kernel will be delayed until the
# gemm is completed because there are not enough SM resources"): a step takes its block's attention, then its send.
RING_STEP_LAUNCHES = 3
RING_MERGE_BYTES_PER_ELEMENT = 10.0


def ring_send_s(model: ModelPreset, items_per_gpu, seq_tokens, sp, comm, ring=1):
    """Seconds of one step of ring attention's send and receive in one layer: a GPU's K and V shards (2 x
    :func:`_sequence_shard_bytes`) to the next GPU of the ring while the previous one's arrive, at the scale-up
    link's send bandwidth (``comm``'s :meth:`~tokcost.engine.collectives.Collectives.send_recv_s`).
    0 without a ring (``ring`` 1: a ring of one GPU sends nothing), for a UNet, or without ``comm``."""
    d = _denoiser(model)
    G = np.asarray(sp, dtype=float)
    if d.kind == "unet" or not d.attention_dim or comm is None:
        return 0.0 * G
    return comm.send_recv_s(2.0 * _sequence_shard_bytes(model, items_per_gpu, seq_tokens, G), ring)


def cfg_parallel_comm_s(model: ModelPreset, items_per_gpu, latent_tokens, cfg_degree, comm):
    """Seconds per denoising step in CFG parallelism (xDiT ``--use_cfg_parallel``): the conditional and
    unconditional branches run on two GPU groups, and each step one all-gather brings both noise predictions
    together for the guidance mix (xDiT's pipelines: ``get_cfg_group().all_gather(noise_pred,
    separate_tensors=True)``), each GPU contributing items x latent tokens x output channels (VAE channels x
    patch^2 x patch_t) x 2 bytes (``comm``'s all-gather). ``cfg_degree`` = 1 (or no ``comm``) gives 0."""
    if comm is None:
        return 0.0 * np.asarray(cfg_degree, dtype=float)
    out_channels = model.vae.channels * model.vae.patch**2 * model.vae.patch_t
    held = np.asarray(items_per_gpu, dtype=float) * np.asarray(latent_tokens, dtype=float) * out_channels * 2.0
    return comm.all_gather_s(held, cfg_degree)


# The in-cache rate of a streaming kernel falls to the memory's between its resident volume and ~1.5x that:
# te42kyfo/gpu-benches gpu-small-kernels (commit 1c36d50) reaches the DRAM rate at 42 MB on A100 (resident
# 28.6 MB: 1.47x), ~58 MB on H200 (39.7 MB: 1.46x) and ~113 MB on L40 (75.5 MB: 1.5x).
L2_SPILL_FACTOR = 1.5

# Live tensors of tokens x width in a transformer block with fused attention (residual, normed and modulated
# input, q, k, v, attention output, the 4x-wide MLP hidden and its activation): an assumption
# (docs/methodology.md) behind activation memory.
BLOCK_LIVE_TENSORS = 16


def l2_hit_fraction(volume, resident):
    """Share of a streaming kernel's ``volume`` (bytes read + written) served from L2: 1 up to ``resident``
    bytes, falling linearly to 0 at :data:`L2_SPILL_FACTOR` x ``resident`` (0 when ``resident`` is 0: no cache
    measured)."""
    V = np.asarray(volume, dtype=float)
    R = np.asarray(resident, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (L2_SPILL_FACTOR * R - V) / ((L2_SPILL_FACTOR - 1.0) * R)
    return np.where(R > 0, np.clip(h, 0.0, 1.0), 0.0)


def elementwise_s(bytes_, kernels, volumes, dram_bw, l2_resident, l2_bw, kernel_start_s):
    """Seconds of ``kernels`` element-wise kernels that together move ``bytes_``: every kernel costs
    ``kernel_start_s``, and the bytes move at the L2 rate for the share the cache keeps, at ``dram_bw`` for the
    rest. ``volumes``: the bytes one kernel reads plus writes (:func:`kernel_passes`), one per equal share of the
    bytes (each share kept in the cache in the fraction :func:`l2_hit_fraction` of its kernel's volume)."""
    h = sum(l2_hit_fraction(v, l2_resident) for v in volumes) / len(volumes)
    return np.asarray(bytes_, dtype=float) * (h / l2_bw + (1.0 - h) / dram_bw) + kernels * kernel_start_s


def stack_elementwise_s(passes, acts, layers, per_kernel, dram_bw, l2):
    """Seconds of a layer stack's element-wise kernels: ``passes`` per layer over ``acts`` (the bytes of one pass
    over every layer), one kernel per two passes, each share of the bytes streamed at the volume ``per_kernel``
    gives it (passes of one kernel over a layer's activations), priced by :func:`elementwise_s` with ``l2`` =
    (resident bytes, in-cache bytes/s, seconds per kernel)."""
    volumes = [v * acts / layers for v in per_kernel]
    return elementwise_s(passes * acts, passes / 2.0 * layers, volumes, dram_bw, *l2)


# Compute capability majors on which today's PyTorch runs SDPA through cuDNN's fused attention first: with a cuDNN
# above 9.15 (bundled from PyTorch 2.11 on: huggingface/transformers#48163) check_prefer_cudnn_attention puts the
# cuDNN backend ahead of FlashAttention-2 on majors 9 and 10 unless TORCH_CUDNN_SDPA_DEPRIORITIZED is set
# (pytorch/pytorch aten/src/ATen/native/transformers/cuda/sdp_utils.cpp at 001f694).
CUDNN_SDPA_MAJORS = (9, 10)


def sdpa_backend_note(hw: HardwarePreset, kernel: str) -> str:
    """Where ``kernel`` is SDPA on a chip whose current PyTorch picks cuDNN attention first: that the estimate prices
    SDPA's FlashAttention-2 backend, what the published runs used, and how to price the newer stack; empty
    otherwise."""
    cc = hw.compute_capability
    if kernel != "sdpa" or cc is None or int(cc) not in CUDNN_SDPA_MAJORS:
        return ""
    if hw.efficiency.attention_cudnn is not None:
        how = "--attention cudnn prices that backend"
    else:
        how = f"no measured cuDNN attention figure for {hw.name}, so that stack is not priced"
    return (
        "sdpa is priced as SDPA's FlashAttention-2 backend, as PyTorch 2.0-2.10 ran it; "
        f"PyTorch 2.11 and later run SDPA through cuDNN's fused attention first on {hw.name}, at FlashAttention-3's "
        "rate on an H100 (pytorch/pytorch#142132: 631 TFLOPS against 329 for FlashAttention-2 and 632 for "
        f"FlashAttention-3 at head dim 128): {how}"
    )


def attention_note(model: ModelPreset, hw: HardwarePreset, kernel: str = "fa2") -> str:
    """How ``model``'s attention is priced on ``hw`` in the attention ``kernel`` (:func:`attention_equivalent_flops`):
    its head dims, the flash kernel each runs in, and the softmax's rate (:func:`softmax_rate`); empty when the
    preset states no head count."""
    dims = sorted({hd for hd in attention_head_dims(model) if hd is not None})
    if not dims:
        return ""
    step = flash_head_step(hw)
    padded = [float(flash_head_dim(d, step)) for d in dims]
    heads = ", ".join(f"{d:.3g}" + (f" (in the {k:.0f}-wide kernel)" if k != d else "") for d, k in zip(dims, padded))
    word = "head dims" if len(dims) > 1 else "head dim"
    cc = hw.compute_capability
    if step == 1:
        heads += " (no attention kernel tiling known for this chip: no padding modelled)"
    elif cc is not None and cc < FLASH_MIN_COMPUTE_CAPABILITY:
        heads += " (SDPA's memory-efficient kernel below compute capability 8.0, head dim in steps of 32)"
    if hw.exp_tops is None:
        return f"attention: {word} {heads}; no exponential rate for {hw.name}, so no softmax term beside the matmuls"
    read = f"the chip's attention efficiency read at head dim {REFERENCE_HEAD_DIM}"
    if kernel in OVERLAPPED_SOFTMAX_KERNELS:
        return (
            f"attention: {word} {heads}; one exponential per score at {hw.exp_tops:.3g} T/s (exp_tops) beside the "
            f"matmuls ({kernel} overlaps the rest of its softmax with them), {read}"
        )
    rate = softmax_rate(hw.exp_tops, hw.dense_tflops.fp32, kernel)
    return (
        f"attention: {word} {heads}; the softmax's work per score (an exponential and a conversion at "
        f"{hw.exp_tops:.3g} T/s, exp_tops; a max, a multiply-add and an add on the fp32 lanes) at {rate / 1e12:.3g} "
        f"T scores/s beside the matmuls, {read}"
    )


def diffusion_step_time(
    model: ModelPreset,
    P: float,
    BW: float,
    eff,
    wbytes: float,
    n_items,
    flops_per_item,
    attn_flops_per_item=0.0,
    P_attn=None,
    gpus=1,
    comm_s=0.0,
    collectives=0.0,
    act_elems_per_item=0.0,
    l2=(0.0, np.inf, 0.0),
    linear_s=None,
    attn_parts=None,
    score_rate=np.inf,
    head_step=FLASH_HEAD_DIM_STEP,
    unfused: str | None = None,
    ring=1,
    ring_send=0.0,
    dequant=0.0,
):
    """One denoiser forward over ``n_items`` (items x CFG branches), split over ``gpus`` GPUs by sequence and/or
    CFG parallelism (``comm_s``: their collectives' seconds per forward; ``collectives``: how many it calls, each
    costing the host ``host_per_collective_s`` on top of the layers' launches), the sequence in rings of ``ring``
    GPUs (``ring_send``: one step's send and receive, :func:`ring_send_s`).

    compute = n (F_linear / (P mfu) + F_attn / (P_attn attention_mfu)) / G + element-wise,
    where ``flops_per_item`` is the linear part F_linear, ``attn_flops_per_item`` the attention part F_attn
    (attention runs in the 16-bit fused kernel whatever the weight precision, ``P_attn`` (default P), at the
    hardware's attention efficiency). Element-wise: the kernels between the matmuls read and write the
    activations A = ``act_elems_per_item`` (:func:`denoiser_activation_elems`) :func:`act_passes` times in 16 bits,
    serialised with the matmuls, one kernel per two passes (a read and a write) in each block; each GPU runs
    them on its n/G share, priced by :func:`elementwise_s` with ``l2`` = (resident bytes, in-cache bytes/s,
    seconds per kernel) of the chip (default: no cache, at BW mbu); each share of the bytes stays in L2 while the
    volume its kernels stream (:func:`kernel_passes` x a block's activations, as the benchmark behind ``l2``
    measures a kernel's read plus write) fits.
    step = max(max(compute, weights / (BW mbu)) + layers x gap, layers x host) + comm + denoise_step_s, where ``denoise_step_s`` is
    the serialised per-step work outside the denoiser forward (the sampler's update, the CFG combination, the
    pipeline's Python loop; diffusers compiles only the denoiser, so this stays eager). Each GPU holds and reads
    all the weights and launches every layer, so only the compute divides by G. ``linear_s``: one GPU's seconds
    of the linear and conv layers from a measured kernel table (:func:`denoiser_gemm_s`), which then replace
    n F_linear / (P mfu G) wherever they are finite. ``attn_parts``: the attention FLOPs by head dim
    (:func:`attention_parts`), which then replace ``attn_flops_per_item`` and are priced at their head dims with the
    chip's ``score_rate`` (:func:`softmax_rate`) and ``head_step`` (:func:`attention_equivalent_flops`), or, where
    ``unfused`` names a regime of :data:`UNFUSED_BYTES_PER_SCORE` ("16-bit", "autocast"), as the math kernel run that
    way (:func:`unfused_attention_s`).
    Ring attention (:data:`RING_STEP_LAUNCHES`): each of a ring's ring - 1 further steps in each attention layer
    sends and receives K and V after the block's attention (1/ring of the layer's), not beside it (the flash kernel
    holds the SMs NCCL's send kernels need), merges the block into the fp32 output
    (:data:`RING_MERGE_BYTES_PER_ELEMENT` over the GPU's share of a layer's activation) and, under an engine that
    launches every op (``host_per_launch``), costs the host its launches. ``dequant``: one GPU's seconds converting
    and scaling weight-only int8 op by op (:func:`dequant_s`), serial with the matmuls. Returns (step, compute,
    memory, the ring's sends: seconds inside step, 0 without a ring)."""
    n = np.asarray(n_items, dtype=float)
    G = np.asarray(gpus, dtype=float)
    attn_mfu = eff.attention_mfu if eff.attention_mfu is not None else eff.mfu
    P_attn = P if P_attn is None else P_attn
    if attn_parts is not None and unfused is None:
        attn_flops_per_item = attention_equivalent_flops(attn_parts, P_attn, attn_mfu, score_rate, head_step)
    blocks = activation_blocks(model)
    acts = np.asarray(act_elems_per_item, dtype=float) * 2.0 * n / G  # bytes of one pass per GPU
    act_s = stack_elementwise_s(act_passes(model, eff), acts, blocks, kernel_passes(model), BW * eff.mbu, l2)
    linear = n * flops_per_item / (P * eff.mfu) / G
    if linear_s is not None:
        linear = np.where(np.isfinite(linear_s), linear_s, linear)
    if unfused is not None and attn_parts is not None:
        per_item = unfused_attention_s(attn_parts, P_attn * eff.mfu, BW * eff.mbu, UNFUSED_BYTES_PER_SCORE[unfused])
        attention = n * per_item / G
    else:
        attention = n * attn_flops_per_item / (P_attn * attn_mfu) / G
    compute = linear + attention + act_s
    # a step reads the weights of the one expert it runs (all of them stay in memory: diffusion_memory)
    weight_bytes = model.denoiser.active_params_b * 1e9 * wbytes
    memory = weight_bytes / (BW * eff.mbu) + 0 * compute
    layers = denoiser_layers(model)
    ring_sends, ring_merges, ring_host = _ring_steps_s(model, eff, ring, ring_send, acts / 2.0, BW)
    gpu = np.maximum(compute, memory) + layers * eff.gpu_per_layer_s + ring_sends + ring_merges + dequant
    host = layers * eff.host_per_layer_s * host_scale(model, eff) + collectives * eff.host_per_collective_s + ring_host
    step = np.maximum(gpu, host) + comm_s + eff.denoise_step_s
    return step, compute, memory, ring_sends


def _ring_steps_s(model: ModelPreset, eff, ring, send, act_elems, BW):
    """(seconds of sends, seconds of merges, host seconds) per forward of the ring - 1 further steps of ring
    attention in every attention layer (:func:`diffusion_step_time`): ``send`` one step's send and receive, serial
    with the block's attention (the comment above :data:`RING_STEP_LAUNCHES`), ``act_elems`` the GPU's activation
    elements of one pass over all blocks."""
    if np.all(np.asarray(ring) == 1):
        return 0.0, 0.0, 0.0
    layers = _denoiser(model).transformer_geometry()[1]
    further = (np.asarray(ring, dtype=float) - 1.0) * layers
    merge = RING_MERGE_BYTES_PER_ELEMENT * act_elems / layers / (BW * eff.mbu)
    host = np.where(eff.host_per_launch, RING_STEP_LAUNCHES / REFERENCE_LAUNCHES * eff.host_per_layer_s, 0.0)
    return further * send, further * merge, further * host


def text_encoder_time(model: ModelPreset, P: float, BW: float, eff, n_seq):
    """Each text encoder once per request (twice with CFG: the negative prompt): 2 x params x tokens FLOPs."""
    total = 0.0
    n_seq = np.asarray(n_seq, dtype=float)
    for enc in model.text_encoders:
        flops = 2 * enc.params_b * 1e9 * enc.tokens * n_seq
        weights = enc.params_b * 1e9 * 2.0
        total = total + np.maximum(flops / (P * eff.mfu), weights / (BW * eff.mbu)) + eff.fixed_per_step_s
    return total + 0 * n_seq


def _tiled_length(n, tile: int, stride: int):
    """Latents decoded along an axis of ``n`` by tiles of ``tile`` starting every ``stride``, each clipped at the
    end: the sum over i in range(0, n, stride) of min(tile, n - i)."""
    n = np.asarray(n, dtype=float)
    count = np.ceil(n / stride)
    whole = np.clip(np.floor((n - tile) / stride) + 1, 0, count)  # the tiles that fit whole
    # the others start at j x stride (j = whole .. count - 1) and run to the end: n - j x stride each
    clipped = (count - whole) * n - stride * (count * (count - 1) - whole * (whole - 1)) / 2
    return whole * tile + clipped


def vae_tiling_factor(vae: Vae, width, height, frames):
    """Decoder work of the tiled decode ``vae.tiling`` describes over one whole decode of ``width`` x ``height`` px
    and ``frames`` (1 without tiling, or where the latent fits one tile). Spatially, once either side of the latent
    exceeds a tile, both sides are cut into tiles starting every int(tile (1 - overlap)) latents, each decoded whole
    (:func:`_tiled_length` per side). In time (a causal VAE), a clip of more latent frames than a tile is cut into
    tiles of that many plus the frame before them, each decoding 1 + temporal_factor (length - 1) frames, against
    the clip's 1 + temporal_factor (T - 1) (Tencent/HunyuanVideo hyvideo/vae/autoencoder_kl_causal_3d.py,
    spatial_tiled_decode and temporal_tiled_decode)."""
    w, h, f = (np.asarray(x, dtype=float) for x in (width, height, frames))
    if vae.tiling is None:
        return np.ones(np.broadcast(w, h, f).shape)
    tile, stride, span, step = vae.tile_strides()
    lw, lh = w / vae.spatial_factor, h / vae.spatial_factor
    spatial = np.where(
        (lw > tile) | (lh > tile),
        _tiled_length(lw, tile, stride) * _tiled_length(lh, tile, stride) / (lw * lh),
        1.0,
    )
    if span is None or step is None or vae.temporal_rule != "causal":
        return spatial * np.ones_like(f)
    k = vae.temporal_factor
    latents = np.asarray(latent_frames(f, k, "causal", True), dtype=float)
    count = np.ceil(latents / step)
    decoded = k * _tiled_length(latents, span + 1, step) - (k - 1) * count  # 1 + k (length - 1) per tile
    temporal = np.where(latents > span, decoded / (1 + k * (latents - 1)), 1.0)
    return spatial * temporal


def vae_tiling_note(model: ModelPreset, width, height, frames) -> str:
    """How ``model``'s pipeline tiles its VAE decode and what the overlaps cost at the size asked (None: the
    model's native size), or "" for a VAE decoded whole."""
    tiling = model.vae.tiling if model.vae is not None else None
    if tiling is None:
        return ""
    native_w, native_h = model.generation.native_size(model)
    w = native_w if width is None else width
    h = native_h if height is None else height
    f = model.generation.native_frames(model) if frames is None else frames
    factor = np.asarray(vae_tiling_factor(_vae(model), w, h, f))
    lo, hi = float(factor.min()), float(factor.max())
    cost = f"{lo:.2f}x" if hi - lo < 0.005 else f"{lo:.2f}-{hi:.2f}x"
    frames_tiles = f" and {tiling.tile_frames}-frame" if tiling.tile_frames is not None else ""
    return (
        f"VAE decoded in {tiling.tile_px} px{frames_tiles} tiles overlapping by {tiling.overlap:.0%}, as "
        f"{model.id}'s own pipeline runs it: {cost} the work of one whole decode at this size"
    )


def vae_decode_time(model: ModelPreset, P: float, eff, n_items, width, height, frames):
    """VAE decode: decoder FLOPs per output megapixel x megapixels x frames x items, times the overlap of the tiled
    decode the model's pipeline runs (:func:`vae_tiling_factor`), at the engine's MFU times ``vae_efficiency``
    (full-resolution convolutions, group norms and upsampling run well below GEMM rate)."""
    mp = np.asarray(width, dtype=float) * np.asarray(height, dtype=float) / 1e6
    flops = (
        model.vae.decode_tflops_per_mpixel
        * 1e12
        * mp
        * np.asarray(frames, dtype=float)
        * np.asarray(n_items, dtype=float)
        * vae_tiling_factor(_vae(model), width, height, frames)
    )
    return flops / (P * eff.mfu * eff.vae_efficiency) + eff.fixed_per_step_s, flops


def vae_decode_buffer_bytes(items, width, height, elem_bytes=2.0):
    """Activation bytes of a VAE decode at ``width`` x ``height`` px: ~3 x 128-channel full-resolution buffers
    live per item (an assumption, as :func:`diffusion_memory` states it), ``elem_bytes`` each (4: an fp32 VAE)."""
    pixels = np.asarray(width, dtype=float) * np.asarray(height, dtype=float)
    return np.asarray(items, dtype=float) * pixels * (3 * 128 * elem_bytes)


def diffusion_memory(model: ModelPreset, wbytes: float, n_items, seq_tokens, width, height, gpus=1, vae_bytes=2.0):
    """Bytes on each GPU: weights of denoiser, text encoders (16-bit) and VAE (``vae_bytes`` per weight and
    activation: 4 for an fp32 VAE) + activations + workspace. With
    ``gpus`` > 1 (sequence / CFG parallelism) every GPU holds all the weights (xDiT, HunyuanVideo's and Wan2.1's
    multi-GPU scripts without FSDP) and 1/G of the denoiser's activations; the VAE decodes on one GPU.

    Activations: ~16 live tensors of seq x d bytes per item in a transformer block with fused attention, and
    for the VAE decode one frame at a time of ~3 x 128-channel full-resolution buffers (assumptions,
    docs/methodology.md)."""
    d = _denoiser(model)
    weights = (
        d.params_b * 1e9 * wbytes
        + sum(e.params_b for e in model.text_encoders) * 1e9 * 2.0
        + model.vae.params_b * 1e9 * vae_bytes
    )
    width_d = d.attention_dim or max((lvl.dim for lvl in d.attention_levels), default=1280)
    n = np.asarray(n_items, dtype=float)
    acts = n * np.asarray(seq_tokens, dtype=float) * width_d * 2.0 * BLOCK_LIVE_TENSORS / np.asarray(gpus, dtype=float)
    vae = vae_decode_buffer_bytes(n, width, height, vae_bytes)
    return {
        "weights": weights + 0 * acts,
        "kv_cache": 0 * acts,
        "activations": acts + vae,
        "workspace": WORKSPACE_BYTES + 0 * acts,
    }
