"""Element-wise traffic and the L2 cache (issue 16 item 3): a block's element-wise kernels run at the measured
in-cache rate while the volume their kernels stream (their counted reads plus writes, at five points of the bytes)
fits the chip's L2, at the memory's rate once it spills."""

import numpy as np
import pytest

from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.profiles import efficiency
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines

CAT = Catalog.default()
ENGINES = load_engines()
CACHED = [hw for hw in CAT.all("hardware") if hw.l2 is not None]


def test_hit_fraction_is_whole_below_the_resident_volume_and_none_past_the_spill():
    R = 40e6
    h = physics.l2_hit_fraction(np.array([1e6, R, 1.25 * R, physics.L2_SPILL_FACTOR * R, 10 * R]), R)
    assert h.tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])
    assert physics.l2_hit_fraction(1e3, 0.0) == 0.0  # no cache measured: every byte from memory
    volumes = np.linspace(0, 3 * R, 200)
    assert np.all(np.diff(physics.l2_hit_fraction(volumes, R)) <= 0)


def test_without_a_measured_cache_the_traffic_is_priced_at_the_memory_bandwidth():
    s = physics.elementwise_s(1e9, 100, (1e6,), 2e12, 0.0, np.inf, 0.0)
    assert s == pytest.approx(1e9 / 2e12)


def test_each_share_of_the_bytes_stays_in_the_cache_as_its_kernels_volume_does():
    """Kernels of different volumes cross the cache at different sizes: with one share's kernels inside the resident
    volume and the other's past the spill, half the bytes move at the in-cache rate and half at the memory's."""
    R, dram, cache = 40e6, 2e12, 6e12
    both = physics.elementwise_s(1e9, 0, (R / 2, 2 * R), dram, R, cache, 0.0)
    assert both == pytest.approx(0.5e9 / cache + 0.5e9 / dram)
    assert physics.elementwise_s(1e9, 0, (R / 2, R / 2), dram, R, cache, 0.0) == pytest.approx(1e9 / cache)
    # the bytes' time never falls as the activations grow: each share leaves the cache at its own size
    sizes = np.linspace(0.1, 4, 60)
    times = [physics.elementwise_s(1e9 * x, 0, (0.3 * R * x, R * x, 2 * R * x), dram, R, cache, 0.0) for x in sizes]
    assert np.all(np.diff(np.array(times) / sizes) >= -1e-18)


def _step(model, hw, batch, l2):
    m = CAT.model(model)
    eff = efficiency(ENGINES["eager"], hw, "central")
    cfg = Config(model=m, hardware=hw, profiles=ENGINES, width=512, height=512)
    tokens = float(estimate_arrays(cfg).tokens["latent"])
    linear, attn = physics.denoiser_flops_split(m, tokens, 512, 512)
    acts = physics.denoiser_activation_elems(m, tokens, 512, 512)
    _, compute, _, _ = physics.diffusion_step_time(
        m,
        hw.dense_tflops.bf16 * 1e12,
        hw.bandwidth_tbps * 1e12,
        eff,
        2.0,
        batch,
        linear,
        attn,
        l2=l2,
        act_elems_per_item=acts,
    )
    return float(compute), eff, m


@pytest.mark.parametrize("hw_id", ["rtx-4090", "a100-80gb-sxm", "h100-sxm", "l40s"])
def test_cache_speeds_small_batches_and_large_batches_pay_only_the_kernel_starts(hw_id):
    hw = CAT.hardware(hw_id)
    l2 = (hw.l2.resident_mb * 1e6, hw.l2.bandwidth_tbps * 1e12, hw.l2.kernel_start_us * 1e-6)
    # Sana 0.6B at 512 px: 256 tokens x 1152 wide, ~0.6 MB a tensor: a kernel's few of them fit at batch 1
    small_cached, eff, m = _step("sana-0.6b", hw, 1, l2)
    small_dram, _, _ = _step("sana-0.6b", hw, 1, (0.0, np.inf, 0.0))
    starts = physics.act_passes(m, eff) / 2 * physics.activation_blocks(m) * hw.l2.kernel_start_us * 1e-6
    assert small_cached - starts < small_dram
    # batch 256: ~150 MB a tensor, a kernel's volume far past any L2: the same bytes at the memory's rate, plus the starts
    big_cached, _, _ = _step("sana-0.6b", hw, 256, l2)
    big_dram, _, _ = _step("sana-0.6b", hw, 256, (0.0, np.inf, 0.0))
    assert big_cached == pytest.approx(big_dram + starts, rel=1e-9)


@pytest.mark.parametrize("hw", CACHED, ids=lambda hw: hw.id)
def test_every_cache_is_sourced_and_faster_than_the_memory(hw):
    assert "l2" in hw.sources and "gpu-benches" in hw.sources["l2"]
    assert hw.l2.bandwidth_tbps > hw.bandwidth_tbps
    assert 0 < hw.l2.kernel_start_us < 10


def test_a_cached_chip_never_prices_a_diffusion_step_below_its_roofline_floor():
    for hw in CACHED:
        for batch in (1, 4, 16, 64):
            cfg = Config(
                model=CAT.model("flux1-dev"), hardware=hw, profiles=ENGINES, batch=batch, width=512, height=512
            )
            out = estimate_arrays(cfg)
            assert float(out.latency_s) >= float(out.floor_s)


def _prefill_elementwise(engine, tokens, tp=1, passes="counted"):
    m, hw = CAT.model("emu3-chat"), CAT.hardware("h100-sxm")
    eff = efficiency(ENGINES[engine], hw, "central")
    counted = m.decoder_passes if passes == "counted" else None
    l2 = (hw.l2.resident_mb * 1e6, hw.l2.bandwidth_tbps * 1e12, hw.l2.kernel_start_us * 1e-6)
    own = ENGINES[engine].decoder_passes
    return physics.decoder_elementwise_s(m.architecture, counted, eff, tokens, tp, hw.bandwidth_tbps * 1e12, l2, own)


def test_a_prefills_element_wise_work_grows_with_its_tokens_and_fusing_moves_less():
    tokens = np.array([64.0, 512.0, 4096.0, 32768.0, 262144.0])
    eager, fused = _prefill_elementwise("eager", tokens), _prefill_elementwise("compiled", tokens)
    assert np.all(np.diff(eager) > 0) and np.all(fused < eager)
    # past the cache every pass streams from memory: the time per token settles at the DRAM price
    m, hw = CAT.model("emu3-chat"), CAT.hardware("h100-sxm")
    eff = efficiency(ENGINES["eager"], hw, "central")
    arch = m.architecture
    per_layer = m.decoder_passes.eager.of(arch) * eff.act_scale
    dram = per_layer * arch.layers * arch.hidden * 2.0 * tokens[-1] / (hw.bandwidth_tbps * 1e12 * eff.mbu)
    assert eager[-1] == pytest.approx(dram, rel=0.01)
    assert _prefill_elementwise("eager", tokens, passes=None).tolist() == [0.0] * len(tokens)


def test_under_tensor_parallelism_the_hidden_width_part_stays_on_every_gpu():
    one, four = _prefill_elementwise("eager", 262144.0), _prefill_elementwise("eager", 262144.0, tp=4)
    p = CAT.model("emu3-chat").decoder_passes.eager
    arch = CAT.model("emu3-chat").architecture
    split = p.of(arch) - p.width
    assert four / one == pytest.approx((p.width + split / 4) / p.of(arch), rel=0.01)


def test_the_prefill_pays_its_element_wise_work_and_compiled_never_more_than_eager():
    m, hw = CAT.model("emu3-chat"), CAT.hardware("h100-sxm")
    bare = m.model_copy(update={"decoder_passes": None})
    for engine in ("eager", "compiled", "vllm"):
        with_passes = estimate_arrays(Config(model=m, hardware=hw, profiles=ENGINES, engine=engine))
        without = estimate_arrays(Config(model=bare, hardware=hw, profiles=ENGINES, engine=engine))
        assert float(with_passes.breakdown_s["prefill"]) > float(without.breakdown_s["prefill"]), engine
    eager = estimate_arrays(Config(model=m, hardware=hw, profiles=ENGINES, engine="eager"))
    compiled = estimate_arrays(Config(model=m, hardware=hw, profiles=ENGINES, engine="compiled"))
    assert float(compiled.breakdown_s["prefill"]) <= float(eager.breakdown_s["prefill"])


def test_vllm_prices_its_own_fused_kernels_passes_not_the_models():
    """vLLM's layer is counted from its own kernels (engines.yaml decoder_passes): fewer passes than the counted
    eager layer, and its prefill's element-wise time is what that count moves."""
    m = CAT.model("emu3-chat")
    own = ENGINES["vllm"].decoder_passes
    assert own is not None and all(ENGINES[e].decoder_passes == own for e in ("vllm-0.4", "vllm-0.7", "vllm-0.11"))
    arch = m.architecture
    assert own.of(arch) < m.decoder_passes.fused.of(arch) < m.decoder_passes.eager.of(arch)
    vllm, eager = _prefill_elementwise("vllm", 262144.0), _prefill_elementwise("eager", 262144.0)
    eff = efficiency(ENGINES["eager"], CAT.hardware("h100-sxm"), "central")
    ratio = own.of(arch) / (m.decoder_passes.eager.of(arch) * eff.act_scale)
    mbu = efficiency(ENGINES["vllm"], CAT.hardware("h100-sxm"), "central").mbu / eff.mbu
    assert vllm / eager == pytest.approx(ratio / mbu, rel=0.02)
