"""Attention priced at its head dim (docs/methodology.md, "Narrow heads"): the flash kernel computes at the head
dim rounded up to a multiple of 32, and every score costs one exponential on the special-function units, so a
FLOP of narrow-head attention takes longer than one of head dim 128, where the chip's attention efficiency is read."""

import numpy as np
import pytest

import tokcost
from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.profiles import own_attention_figure
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines

CAT = Catalog.default()
ENGINES = load_engines()
A100 = (312e12, 0.615, 2.44e12)  # P_attn, attention efficiency, exponentials per second


def _per_flop(head_dim, chip=A100):
    P, eff, x = chip
    return physics.attention_equivalent_flops([(1.0, head_dim)], P, eff, x)


@pytest.mark.parametrize("chip", [A100, (989e12, 0.35, 4.19e12), (2250e12, 0.157, 5.0e12), (165e12, 0.8, 5.16e12)])
def test_head_dim_128_keeps_the_measured_efficiency(chip):
    assert _per_flop(128, chip) == pytest.approx(1.0)
    assert _per_flop(None, chip) == pytest.approx(1.0)  # a part without a head dim: as before


def test_narrower_heads_cost_more_per_flop_and_never_less_than_the_reference():
    dims = [32, 64, 96, 128, 160, 192, 256]
    costs = [float(_per_flop(d)) for d in dims if d <= 128]
    assert all(a > b for a, b in zip(costs, costs[1:]))  # strictly decreasing up to 128
    assert all(float(_per_flop(d)) >= 1.0 - 1e-12 for d in range(8, 129, 8))


def test_a_head_runs_in_the_next_kernel_up():
    # FlashAttention-2's flash_api.cpp: head_size_rounded = round_multiple(head_size, 32) up to 192, else 256
    assert physics.flash_head_dim(np.array([40, 64, 72, 80, 128, 160, 200, 256])).tolist() == [
        64, 64, 96, 96, 128, 160, 256, 256,
    ]  # fmt: skip
    # the same scores cost the same whether a head is 40 wide (in the 64-wide kernel) or 64 wide
    scores = 1e9
    t40 = physics.attention_equivalent_flops([(4 * 40 * scores, 40)], *A100)
    t64 = physics.attention_equivalent_flops([(4 * 64 * scores, 64)], *A100)
    assert t40 == pytest.approx(t64)


def test_padding_where_sdpa_runs_a_tensor_core_kernel():
    """FlashAttention-2 from compute capability 8.0, the memory-efficient CUTLASS kernel (head dim in ThreadK = 32
    steps) on Volta and Turing; no padding where the chip states no compute capability (AMD)."""
    for hw in CAT.all("hardware"):
        cc = hw.compute_capability
        want = 32.0 if cc is not None and cc >= 7.0 else 1.0
        assert physics.flash_head_step(hw) == want, hw.id
    assert physics.flash_head_dim(40, 1.0) == 40.0
    mi300x = CAT.hardware("mi300x")
    unpadded = physics.attention_equivalent_flops([(1.0, 40)], 1.0, 0.8, np.inf, physics.flash_head_step(mi300x))
    assert unpadded == pytest.approx(1.0)


def test_the_v100s_memory_efficient_kernel_at_head_dim_40_matches_the_rows_its_figure_left_out():
    """The V100's attention efficiency is read from xFormers PR #434's K=128 rows; the same table's K=40 rows
    (B=16: M=4096 in 2,343.5 us, M=16384 in 33,589 us) were not used. Priced with the 32-wide head-dim step and the
    softmax term, they come within 15%."""
    v100 = CAT.hardware("v100-sxm2-16gb")
    P = v100.dense_tflops.fp16 * 1e12
    rate = physics.softmax_rate(v100.exp_tops, v100.dense_tflops.fp32)
    for eff in (v100.efficiency.attention.low, v100.efficiency.attention.high):
        for m, measured_us in ((4096, 2343.5), (16384, 33589.0)):
            flops = 4 * 16 * m * m * 40
            equivalent = physics.attention_equivalent_flops([(flops, 40)], P, eff, rate, physics.flash_head_step(v100))
            predicted_us = equivalent / (P * eff) * 1e6
            assert 0.85 < predicted_us / measured_us < 1.15, (m, predicted_us)


def test_without_an_exponential_rate_only_the_padding_counts():
    P, eff, _ = A100
    assert physics.attention_equivalent_flops([(1.0, 64)], P, eff, np.inf) == pytest.approx(1.0)
    assert physics.attention_equivalent_flops([(1.0, 40)], P, eff, np.inf) == pytest.approx(64 / 40)


def test_every_nvidia_preset_states_its_exponential_rate_and_compute_capability_with_sources():
    for hw in CAT.all("hardware"):
        if hw.vendor == "nvidia":
            assert hw.exp_tops is not None and hw.compute_capability is not None, hw.id
            assert "exp_tops" in hw.sources and "compute_capability" in hw.sources, hw.id
            # 16 a clock per SM against 64 or 128 fp32 lanes: between 1/16 and 1/8 of the fp32 FLOP rate
            assert hw.dense_tflops.fp32 / 16 * 0.99 <= hw.exp_tops <= hw.dense_tflops.fp32 / 8 * 1.01, hw.id


def _latency(model: str, hw, batch: int = 1) -> float:
    cfg = Config(model=CAT.model(model), hardware=hw, profiles=ENGINES, batch=batch)
    return float(estimate_arrays(cfg).latency_s)


@pytest.mark.parametrize("model", ["cogvideox-2b", "sd3-medium", "pixart-sigma", "sd15", "sdxl"])
def test_narrow_head_models_get_slower_with_the_softmax_priced(model):
    """At batch 4, where the GPU binds (an eager SD 1.5 at batch 1 on an A100 waits on its host, which hides it)."""
    hw = CAT.hardware("a100-80gb-sxm")
    assert _latency(model, hw, 4) > _latency(model, hw.model_copy(update={"exp_tops": None}), 4)


@pytest.mark.parametrize("model", ["flux1-dev", "wan21-1.3b", "hunyuanvideo"])
def test_head_dim_128_models_are_priced_as_before(model):
    hw = CAT.hardware("h100-sxm")
    assert _latency(model, hw) == pytest.approx(_latency(model, hw.model_copy(update={"exp_tops": None})))


def test_the_note_says_how_attention_was_priced():
    sd15, sdxl = CAT.model("sd15"), CAT.model("sdxl")
    a100, v100, mi300x = CAT.hardware("a100-80gb-sxm"), CAT.hardware("v100-sxm2-16gb"), CAT.hardware("mi300x")
    note = physics.attention_note(sd15, a100)
    assert "head dims 40 (in the 64-wide kernel), 80 (in the 96-wide kernel), 160" in note
    assert "2.44 T/s" in note
    assert "memory-efficient kernel below compute capability 8.0, head dim in steps of 32" in physics.attention_note(
        sd15, v100
    )
    assert "no padding modelled" in physics.attention_note(sd15, mi300x)
    assert "no exponential rate" in physics.attention_note(sdxl, mi300x)
    assert physics.attention_note(sdxl, a100).startswith("attention: head dim 64;")
    notes = " ".join(tokcost.estimate(model="sdxl", hardware="a100-80gb-sxm").notes)
    assert "attention: head dim 64" in notes


@pytest.mark.parametrize(
    ("hardware", "kernel", "says"),
    [
        ("h100-sxm", "sdpa", "--attention cudnn prices that backend"),
        ("h20", "sdpa", "--attention cudnn prices that backend"),
        ("b200", "sdpa", "--attention cudnn prices that backend"),  # compute capability 10.0: cuDNN first
        ("h100-sxm", "fa3", None),  # already the FA3-class rate
        ("b200", "cudnn", None),  # already the newer stack
        ("h100-sxm", "fa2", None),  # the flash-attn package, not SDPA
        ("a100-80gb-sxm", "sdpa", None),  # 8.0: SDPA keeps FlashAttention-2 first
        ("rtx-4090", "sdpa", None),  # 8.9
    ],
)
def test_the_note_says_when_todays_pytorch_would_run_sdpa_through_cudnn(hardware, kernel, says):
    """PyTorch 2.11+ puts cuDNN attention ahead of FlashAttention-2 on compute capability 9.x and 10.x: an estimate
    that prices SDPA as FlashAttention-2 there says so, and how to price the newer stack."""
    note = physics.sdpa_backend_note(CAT.hardware(hardware), kernel)
    if says is None:
        assert note == ""
    else:
        assert "cuDNN's fused attention first" in note and says in note
    if hardware == "h100-sxm" and kernel == "sdpa":
        notes = " ".join(tokcost.estimate(model="flux1-dev", hardware=hardware).notes)
        assert "cuDNN's fused attention first" in notes
        notes = " ".join(tokcost.estimate(model="flux1-dev", hardware=hardware, attention="fa3").notes)
        assert "cuDNN's fused attention first" not in notes


def test_cudnn_attention_is_priced_where_measured_and_refused_elsewhere():
    """--attention cudnn prices SDPA's cuDNN backend at each chip's measured figure: never slower than SDPA's
    FlashAttention-2 backend (every measured cuDNN figure is above FA2's on its chip), much faster where attention
    carries a DiT step on a B200 (FA2 reaches 0.16 of its peak there, cuDNN about 0.56), the same as fa3 on an H100
    (measured at FA3's rate), and refused with a reason on a chip with no figure."""
    measured = [hw for hw in CAT.ids("hardware") if CAT.hardware(hw).efficiency.attention_cudnn is not None]
    assert {"h100-sxm", "h200-sxm", "b200"} <= set(measured)
    for hw in measured:
        for model in ("flux1-dev", "sdxl", "wan21-1.3b"):
            sdpa = tokcost.estimate(model=model, hardware=hw).latency_s
            cudnn = tokcost.estimate(model=model, hardware=hw, attention="cudnn").latency_s
            assert cudnn <= sdpa * (1 + 1e-9), (hw, model)
    b200 = dict(model="flux1-dev", hardware="b200", engine="compiled")
    gain = tokcost.estimate(**b200).latency_s / tokcost.estimate(**b200, attention="cudnn").latency_s
    assert 1.2 < gain < 2.0
    h100 = dict(model="flux1-dev", hardware="h100-sxm")
    assert tokcost.estimate(**h100, attention="cudnn").latency_s == pytest.approx(
        tokcost.estimate(**h100, attention="fa3").latency_s
    )
    with pytest.raises(UsageError, match="no measured figure for cuDNN"):
        tokcost.estimate(model="flux1-dev", hardware="a100-80gb-sxm", attention="cudnn")


# ----------------------------------------------------------------------------------- unfused ("math") attention


def test_unfused_attention_takes_its_matmuls_and_every_score_through_memory():
    """Per score (query-key pair and head) of head dim d: two matmuls of 2 d FLOPs each, never faster than their
    GEMM rate nor than the 2 bytes of scores each writes or reads; the softmax between them moves the rest."""
    P, BW, d, scores = 200e12, 1.5e12, 64.0, 1e9
    parts = [(4 * d * scores, d)]
    for name, per_score in physics.UNFUSED_BYTES_PER_SCORE.items():
        t = physics.unfused_attention_s(parts, P, BW, per_score)
        assert t >= 4 * d * scores / P + (per_score - 4) * scores / BW, name  # arithmetic floor
        assert t >= per_score * scores / BW, name  # memory floor: every byte of scores moved once
        assert t == pytest.approx(2 * max(2 * d / P, 2 / BW) * scores + (per_score - 4) * scores / BW)
    # autocast's fp32 softmax and its cast back move more than a 16-bit pipeline's
    sixteen, autocast = (physics.UNFUSED_BYTES_PER_SCORE[k] for k in ("16-bit", "autocast"))
    assert physics.unfused_attention_s(parts, P, BW, autocast) > physics.unfused_attention_s(parts, P, BW, sixteen)
    # the same FLOPs in narrower heads are more scores, so more traffic
    assert physics.unfused_attention_s([(4 * 64 * scores, 32.0)], P, BW, sixteen) > physics.unfused_attention_s(
        parts, P, BW, sixteen
    )


def test_math_attention_costs_more_than_flash_where_scores_are_many():
    """SDXL at 1024 px (4,096-token self-attention at its top level): the unfused kernel writes and rereads
    every score, so its denoising is slower than SDPA's flash kernel; the text encoders and VAE do not move."""
    for hw in ("h100-sxm", "a100-80gb-sxm", "rtx-4090"):
        flash = tokcost.estimate(model="sdxl", hardware=hw, attention="sdpa")
        math = tokcost.estimate(model="sdxl", hardware=hw, attention="math")
        assert math.breakdown_s["denoise"] > 1.1 * flash.breakdown_s["denoise"], hw
        assert math.breakdown_s["vae_decode"] == flash.breakdown_s["vae_decode"]
        assert math.attention == "math" and any("unfused (math) in 16 bits" in n for n in math.notes)


def test_autocast_moves_only_the_math_kernels_scores_at_fp32():
    """A 16-bit pipeline run under torch.autocast (2022 diffusers scripts): the math kernel's softmax runs in fp32,
    so each score moves 16 bytes instead of 8. The denoiser alone slows, by traffic in proportion to the scores
    (twice the batch, twice the extra) at a rate no faster than the chip's memory; a fused kernel and an AR model
    are left alone or refused."""
    hw = CAT.hardware("a100-80gb-sxm")
    m = CAT.model("sd15")
    steps = m.generation.default_steps(m)
    # scores of one forward of one item at 512 px (a 64 x 64 latent): FLOPs over 4 d per head dim
    scores = sum(float(f) / (4 * d) for f, d in physics.attention_parts(m, 64 * 64, 64, 64) if d)
    extra = {}
    for batch in (4, 8):
        plain = tokcost.estimate(model="sd15", hardware=hw.id, attention="math", batch=batch)
        under = tokcost.estimate(model="sd15", hardware=hw.id, attention="math", batch=batch, autocast=True)
        for part in ("text_encoders", "vae_decode"):
            assert under.breakdown_s[part] == plain.breakdown_s[part], part
        extra[batch] = under.breakdown_s["denoise"] - plain.breakdown_s["denoise"]
        bytes_moved = 8.0 * scores * 2 * batch * steps  # two guidance branches batched, every step
        assert bytes_moved / extra[batch] <= hw.bandwidth_tbps * 1e12  # never faster than the memory
        assert any("unfused (math) under autocast" in n and "not priced" in n for n in under.notes)
        assert under.autocast is True and plain.autocast is False  # the result says how it was priced
    assert extra[8] == pytest.approx(2 * extra[4], rel=1e-6)
    fused = tokcost.estimate(model="sd15", hardware=hw.id, attention="sdpa", batch=4)
    fused_under = tokcost.estimate(model="sd15", hardware=hw.id, attention="sdpa", batch=4, autocast=True)
    assert fused_under.latency_s == fused.latency_s
    assert any("changes no priced kernel" in n for n in fused_under.notes)
    with pytest.raises(UsageError, match="reads no autocast"):
        tokcost.estimate(model="emu3-gen", hardware=hw.id, autocast=True)
    assert tokcost.estimate(model="emu3-gen", hardware=hw.id).autocast is False


@pytest.mark.parametrize("model", ["mar-b", "mar-l", "mar-h"])
def test_mar_prices_its_attention_kernel(model):
    """MAR's timm blocks call SDPA (the default, fused); code that computes the attention itself (LazyMAR's blocks)
    is the math kernel under autocast: only the transformer moves, and it moves up."""
    fused = tokcost.estimate(model=model, hardware="rtx-3090", precision="fp16", batch=128)
    unfused = tokcost.estimate(model=model, hardware="rtx-3090", precision="fp16", batch=128, attention="math")
    assert fused.attention == "sdpa" and unfused.attention == "math"
    assert unfused.breakdown_s["transformer"] > fused.breakdown_s["transformer"]
    assert unfused.breakdown_s["diffusion_head"] == fused.breakdown_s["diffusion_head"]
    assert any("unfused (math) under autocast" in n for n in unfused.notes)
    assert any("attention fused at head dim" in n for n in fused.notes)


def test_math_attention_without_head_counts_prices_the_matmuls_and_says_so():
    """A preset that states no head count has no score count: its attention FLOPs at the GEMM rate, and the note
    says the scores' traffic is not priced."""
    from tokcost.engine.estimate import pricing_note

    sdxl = CAT.model("sdxl")
    d = sdxl.denoiser
    levels = [lvl.model_copy(update={"heads": None}) for lvl in d.attention_levels]
    bare = sdxl.model_copy(update={"denoiser": d.model_copy(update={"attention_levels": levels})})
    cfg = Config(model=bare, hardware=CAT.hardware("h100-sxm"), profiles=ENGINES, attention="math")
    flash = estimate_arrays(Config(model=bare, hardware=CAT.hardware("h100-sxm"), profiles=ENGINES))
    unfused = estimate_arrays(cfg)
    assert np.isfinite(unfused.latency_s) and unfused.latency_s > 0
    assert unfused.breakdown_s["vae_decode"] == flash.breakdown_s["vae_decode"]
    assert "states no head count" in pricing_note(cfg)


def test_flashattention_2s_softmax_counts_its_conversion_and_fp32_work_beside_the_exponential():
    # per score: 1.5 results on the 16-a-clock units (exp2, half a packed conversion), 3 on the FP32 lanes
    a100 = CAT.hardware("a100-80gb-sxm")
    rate = physics.softmax_rate(a100.exp_tops, a100.dense_tflops.fp32)
    assert 1.0 / rate == pytest.approx(1.5 / (a100.exp_tops * 1e12) + 3.0 / (a100.dense_tflops.fp32 * 1e12 / 2))
    assert rate < a100.exp_tops * 1e12  # slower than the exponentials alone, on every chip with a rate
    for hw in CAT.all("hardware"):
        if hw.exp_tops is None:
            assert physics.softmax_rate(hw.exp_tops, hw.dense_tflops.fp32) == np.inf
            continue
        fa2 = physics.softmax_rate(hw.exp_tops, hw.dense_tflops.fp32, "fa2")
        assert fa2 < hw.exp_tops * 1e12, hw.id
        for kernel in physics.OVERLAPPED_SOFTMAX_KERNELS:  # the softmax beside the matmuls: its exponentials only
            assert physics.softmax_rate(hw.exp_tops, hw.dense_tflops.fp32, kernel) == hw.exp_tops * 1e12


def test_the_counted_softmax_makes_narrow_heads_dearer_than_the_exponential_alone():
    P, eff, exp = A100
    counted = physics.softmax_rate(exp / 1e12, 19.5)
    for d in (40, 64, 72, 96):
        alone = physics.attention_equivalent_flops([(1.0, d)], P, eff, exp)
        both = physics.attention_equivalent_flops([(1.0, d)], P, eff, counted)
        assert both > alone > 1.0, d
    assert physics.attention_equivalent_flops([(1.0, 128)], P, eff, counted) == pytest.approx(1.0)


def test_every_preset_efficiency_leaves_the_matmul_time_at_head_dim_128():
    # 1 / efficiency.attention must exceed the softmax's share, or the split is not physical (the code then keeps
    # the head-dim-128 rate for every head): no preset's band end comes near that
    for hw in CAT.all("hardware"):
        if hw.exp_tops is None:
            continue
        P = physics.peak_flops(hw, "bf16")
        for kernel in ("fa2", *physics.OVERLAPPED_SOFTMAX_KERNELS):
            figure = own_attention_figure(hw, kernel) if kernel != "fa2" else hw.efficiency.attention
            if figure is None:
                continue
            q = P / (4 * physics.REFERENCE_HEAD_DIM * physics.softmax_rate(hw.exp_tops, hw.dense_tflops.fp32, kernel))
            for end in (figure.low, figure.high):
                assert 1.0 / end > q, (hw.id, kernel, end)
