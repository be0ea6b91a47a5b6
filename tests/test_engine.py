"""Each formula against a hand calculation from the sources (docs/methodology.md)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate, estimate_arrays
from tokcost.engine.profiles import Efficiency
from tokcost.engine.training import ar_training_flops, diffusion_training_flops, training_report
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines

CAT = Catalog.default()
EMU3 = CAT.model("emu3-gen")
H100 = CAT.hardware("h100-sxm")
ENGINES = load_engines()
IDEAL = Efficiency(mfu=1.0, mbu=1.0, host_per_layer_s=0.0, fixed_per_step_s=0.0)


def test_kv_cache_is_128_kib_per_token_for_emu3():
    assert physics.kv_bytes_per_token(EMU3.architecture) == 2 * 32 * 8 * 128 * 2 == 131072


def test_decode_sum_matches_hand_calculation_memory_bound():
    a = EMU3.architecture
    P, BW = 989e12, 3.35e12
    p0, G = 72, 4163
    total, _, _, _ = physics.ar_decode_time(a, P, BW, IDEAL, 2.0, 1, p0, G)
    N = a.matmul_params_b * 1e9
    sum_t = G * p0 + G * (G - 1) / 2
    hand = (G * N * 2.0 + 131072 * sum_t) / BW  # batch 1 decode: every step reads all weights + the KV so far
    assert float(total) == pytest.approx(hand, rel=1e-12)


def test_decode_switches_bound_along_the_sequence_at_large_batch():
    a = EMU3.architecture
    P, BW = 989e12, 3.35e12
    per_position = [float(physics.ar_decode_time(a, P, BW, IDEAL, 2.0, 256, t, 1)[0]) for t in range(0, 8193, 512)]
    summed = float(physics.ar_decode_time(a, P, BW, IDEAL, 2.0, 256, 0, 8193, 1)[0])
    brute = sum(float(physics.ar_decode_time(a, P, BW, IDEAL, 2.0, 256, t, 1)[0]) for t in range(8193))
    assert summed == pytest.approx(brute, rel=1e-9)
    assert per_position[-1] > per_position[0]


def test_prefill_flops_formula():
    a = EMU3.architecture
    _, flops, _ = physics.ar_prefill_time(a, 989e12, 3.35e12, IDEAL, 2.0, 1, 1000)
    N = a.matmul_params_b * 1e9
    assert float(flops) == pytest.approx(2 * N * 1000 + 2 * 32 * 4096 * 1000**2)


def test_flux_forward_flops_match_published_count():
    flux = CAT.model("flux1-dev")
    f = float(physics.denoiser_flops(flux, 4096, 1024, 1024))
    linear = 2 * 6.46e9 * 4608
    assert linear == pytest.approx(59.5e12, rel=0.01)  # shared facts: 59.5 TFLOP linear-only
    assert f == pytest.approx(linear + 4 * 57 * 3072 * 4608**2)
    # S = 4,096 image tokens (1024 / 8 VAE / 2 patch = 64 x 64) + 512 T5 tokens = 4,608 (tokcost/data/models/flux1-dev.yaml)
    # linear 2 N S = 2 x 6.46e9 x 4,608 = 59.54 TFLOP; attention 4 L d S^2 = 4 x 57 x 3,072 x 4,608^2 = 14.87 TFLOP;
    # total 74.41 TFLOP
    assert f == pytest.approx(74e12, rel=0.02)


def test_sdxl_unet_flops_scale_with_pixels_plus_attention():
    sdxl = CAT.model("sdxl")
    at_ref = float(physics.denoiser_flops(sdxl, 16384, 1024, 1024))
    assert at_ref > 5.98e12
    at_2x = float(physics.denoiser_flops(sdxl, 65536, 2048, 2048))
    assert at_2x > 4 * at_ref  # linear part x4, attention part x16


def test_unbatched_cfg_doubles_memory_bound_decode():
    base = dict(model=EMU3, hardware=H100, engine="compiled", width=512, height=512)
    off = estimate_arrays(Config(profiles=ENGINES, cfg="off", **base))
    unb = estimate_arrays(Config(profiles=ENGINES, cfg="unbatched", **base))
    bat = estimate_arrays(Config(profiles=ENGINES, cfg="batched", **base))
    assert float(unb.breakdown_s["decode"]) == pytest.approx(2 * float(off.breakdown_s["decode"]), rel=1e-9)
    assert float(off.latency_s) < float(bat.latency_s) < float(unb.latency_s)


def test_cfg_doubles_diffusion_compute_only_when_the_model_uses_it():
    sdxl = CAT.model("sdxl")  # batched CFG
    r = estimate_arrays(Config(profiles=ENGINES, model=sdxl, hardware=H100, engine="compiled"))
    off = estimate_arrays(Config(profiles=ENGINES, model=sdxl, hardware=H100, engine="compiled", cfg="off"))
    per_forward = float(physics.denoiser_flops(sdxl, 128 * 128, 1024, 1024))
    assert float(r.flops - off.flops) == pytest.approx(50 * per_forward)  # one more forward per step
    assert float(r.breakdown_s["denoise"]) > 1.3 * float(off.breakdown_s["denoise"])
    flux = CAT.model("flux1-dev")  # guidance-distilled: one forward per step
    assert estimate_arrays(Config(profiles=ENGINES, model=flux, hardware=H100)).cfg_mode == "off"


def test_speculative_decoding_cuts_forwards():
    base = dict(model=EMU3, hardware=H100, engine="compiled", width=512, height=512, cfg="off")
    plain = estimate_arrays(Config(profiles=ENGINES, **base))
    spec = estimate_arrays(Config(profiles=ENGINES, tokens_per_forward=4, **base))
    assert float(spec.tokens["forwards"]) == np.ceil((4163 - 1) / 4)
    assert float(spec.latency_s) < float(plain.latency_s) / 2


def test_the_prefill_makes_the_first_token_and_a_decode_forward_each_of_the_rest():
    base = dict(model=EMU3, hardware=H100, width=512, height=512)
    for cfg, passes in (("off", 1), ("unbatched", 2)):
        r = estimate_arrays(Config(profiles=ENGINES, cfg=cfg, **base))
        assert float(r.tokens["forwards"]) == passes * (float(r.tokens["generated"]) - 1)


def test_a_forward_accepts_no_more_tokens_than_it_computes():
    """Speculative or Jacobi decoding accepts at most the positions a forward verifies: fewer draft positions than
    accepted tokens is refused, naming the argument, and equal ones price as the default."""
    base = dict(model=EMU3, hardware=H100, engine="compiled", width=512, height=512, cfg="off", tokens_per_forward=4)
    with pytest.raises(UsageError) as info:
        estimate_arrays(Config(profiles=ENGINES, verify_tokens=2, **base))
    assert info.value.param == "draft_tokens" and "2 positions" in info.value.message
    same = estimate_arrays(Config(profiles=ENGINES, verify_tokens=4, **base))
    assert float(same.latency_s) == float(estimate_arrays(Config(profiles=ENGINES, **base)).latency_s)


def test_memory_weights_plus_kv_and_fit():
    r = estimate_arrays(
        Config(profiles=ENGINES, model=EMU3, hardware=H100, engine="compiled", cfg="off", batch=np.array([1, 64]))
    )
    kv = r.memory.kv_cache
    assert r.memory.weights[0] == pytest.approx(8.49e9 * 2)
    assert kv[1] == pytest.approx(64 * kv[0])
    assert r.fits_in_memory[0] and not r.fits_in_memory[1]


def test_estimate_never_below_floor_and_band_contains_central():
    for mid in ("emu3-gen", "sdxl", "flux1-dev", "cogvideox-5b", "llamagen-xl"):
        e = estimate(Config(profiles=ENGINES, model=CAT.model(mid), hardware=H100))
        low, central, high = e.low.row(0), e.central.row(0), e.high.row(0)
        assert low.latency_s <= central.latency_s <= high.latency_s
        assert low.latency_s >= central.floor_s


def test_vllm_refuses_diffusion():
    with pytest.raises(UsageError, match="autoregressive models only"):
        estimate_arrays(Config(profiles=ENGINES, model=CAT.model("sdxl"), hardware=H100, engine="vllm"))


def test_precision_changes_weight_bytes_and_peak():
    assert physics.WEIGHT_BYTES["int4"] == 0.5 + 2 * 2 / 128  # 4 bits + a bf16 scale and zero per 128 weights
    assert physics.peak_flops(H100, "int8-wo") == physics.peak_flops(H100, "int4") == 989e12  # weight-only: bf16
    assert physics.peak_flops(H100, "fp8") == 1979e12
    assert physics.peak_flops(CAT.hardware("a100-80gb-sxm"), "fp8") == 312e12  # no fp8 units: weight-only


def test_ar_training_flops_formula():
    flops = ar_training_flops(EMU3, 1e9, context=5120)
    assert flops == pytest.approx(1e9 * (6 * 7.74e9 + 6 * 32 * 5120 * 4096))


def test_training_gpu_hours_and_days():
    r = training_report(EMU3, H100, tokens=1e12, gpus=512, mfu=0.4, context=5120, usd_per_gpu_hour=3.2)
    # the compute time at 40% MFU, over the 90% of a run's time spent training (training.TRAINING_GOODPUT)
    assert r.gpu_hours == pytest.approx(r.flops / (989e12 * 0.4) / 3600 / 0.9)
    assert any("90% effective training time" in n for n in r.notes)
    assert r.days == pytest.approx(r.gpu_hours / 512 / 24)
    assert r.cost_usd == pytest.approx(r.gpu_hours * 3.2)
    assert training_report(EMU3, H100, tokens=1e12, mfu=0.4).cost_usd is None  # not priced


def test_diffusion_training_is_three_forwards_per_sample():
    flux = CAT.model("flux1-dev")
    assert diffusion_training_flops(flux, 1000) == pytest.approx(
        3 * 1000 * float(physics.denoiser_flops(flux, 4096, 1024, 1024))
    )


def test_latency_grows_with_resolution_frames_steps_and_batch():
    def lat(**kw):
        return float(estimate_arrays(Config(profiles=ENGINES, hardware=H100, **kw)).latency_s)

    assert lat(model=EMU3, width=512, height=512) < lat(model=EMU3, width=720, height=720)
    assert lat(model=CAT.model("sdxl"), steps=20) < lat(model=CAT.model("sdxl"), steps=50)
    cog = CAT.model("cogvideox-5b")
    assert lat(model=cog, frames=25) < lat(model=cog, frames=49)
    assert lat(model=cog, batch=1) < lat(model=cog, batch=2)


@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-10, 10)), min_size=1, max_size=3), st.integers(0, 300))
def test_sum_max_lines_equals_brute_force(lines, n):
    brute = sum(max(a + b * j for a, b in lines) for j in range(n))
    assert float(physics.sum_max_lines(lines, n)) == pytest.approx(brute, rel=1e-9, abs=1e-6)


def test_sum_max_lines_vectorised_over_configurations():
    rng = np.random.default_rng(1)
    a, b, n = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)), np.arange(6) * 5
    got = physics.sum_max_lines([(a, b), (0.3, 0.05), (0.0, 0.0)], n)
    for i in range(4):
        for k in range(6):
            brute = sum(max(a[i, k] + b[i, k] * j, 0.3 + 0.05 * j, 0.0) for j in range(int(n[k])))
            assert got[i, k] == pytest.approx(brute, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    "model_id,role,engines",
    [
        ("emu3-gen", "image", ("eager", "compiled", "vllm")),
        ("sdxl", "image", ("eager", "compiled")),
        ("flux1-dev", "image", ("eager", "compiled")),
        ("emu3-chat", "perception", ("eager", "vllm")),
        ("cogvideox-5b", "video", ("compiled",)),
    ],
)
def test_grid_over_chips_and_bands_equals_one_chip_at_a_time(model_id, role, engines):
    """The planner prices every chip x band x replica size in one pass; each row must be exactly the single-chip
    estimate of that replica, and a size a chip or model cannot take is absent exactly when estimate refuses it."""
    from tokcost.engine.estimate import estimate_grid

    hardware = CAT.all("hardware")
    batch = np.array([1.0, 4.0, 64.0])
    frames = 49 if role == "video" else None
    extra = {"prompt_tokens": 40, "answer_tokens": 64} if role == "perception" else {}
    for engine in engines:
        cfg = Config(
            profiles=ENGINES,
            model=CAT.model(model_id),
            hardware=hardware[0],
            engine=engine,
            width=720,
            height=480,
            frames=frames,
            batch=batch,
            role=role,
            **extra,
        )
        grid = estimate_grid(cfg, hardware, gpus=(1, 2, 4, 8))
        for hw, G in ((hw, G) for hw in hardware for G in (1, 2, 4, 8)):
            one_cfg = Config(**{**cfg.__dict__, "hardware": hw, "gpus": G})
            try:
                estimate_arrays(one_cfg)
            except UsageError:
                assert (hw.id, "central", G) not in grid
                continue
            for band in ("central", "low", "high"):
                one = estimate_arrays(one_cfg, band)
                row = grid[(hw.id, band, G)]
                for key in (
                    "latency_s",
                    "throughput_items_per_s",
                    "cost_usd_per_item",
                    "fits_in_memory",
                    "bound",
                    "overhead_bound",
                    "communication_s",
                    "parallelism",
                ):
                    np.testing.assert_array_equal(
                        np.broadcast_to(getattr(one, key), batch.shape), getattr(row, key), err_msg=key
                    )
                for key, value in one.memory.parts().items():
                    np.testing.assert_array_equal(np.broadcast_to(value, batch.shape), row.memory.parts()[key])


def test_a_shared_store_of_chip_figures_changes_no_number():
    """A plan keeps one store of chip figures over its models and engines: each chip x band x engine is worked out
    once, and every result is the very one priced without the store."""
    from tokcost.engine.estimate import estimate_stack

    hardware = CAT.all("hardware")
    store: dict = {}
    for model_id, engine in (("sdxl", "compiled"), ("flux1-dev", "compiled"), ("sdxl", "eager")):
        cfg = Config(
            profiles=ENGINES, model=CAT.model(model_id), hardware=hardware[0], engine=engine, batch=np.array([1.0, 8.0])
        )
        size = len(store)
        keys, shared = estimate_stack(cfg, hardware, gpus=(1, 2), chips=store)
        alone_keys, alone = estimate_stack(cfg, hardware, gpus=(1, 2))
        assert keys == alone_keys and shared is not None and alone is not None
        for key in ("latency_s", "cost_usd_per_item", "fits_in_memory", "floor_s", "throughput_items_per_s"):
            np.testing.assert_array_equal(getattr(shared, key), getattr(alone, key), err_msg=key)
        added = len(store) - size
        assert added == (len({(h, b) for h, b, _ in keys}) if model_id == "sdxl" or engine == "eager" else 0)


def test_a_shared_store_keeps_each_models_vae_type():
    """The chip figures include the VAE's rate, which depends on the model and the precision (an fp16 SDXL
    pipeline decodes in fp32): a store shared by an AR model, fp16 SDXL, fp16 SD 1.5 and bf16 SDXL changes no
    number."""
    from tokcost.engine.estimate import estimate_stack

    hardware = CAT.all("hardware")
    store: dict = {}
    for model_id, precision in (("emu3-gen", "fp16"), ("sdxl", "fp16"), ("sd15", "fp16"), ("sdxl", "bf16")):
        cfg = Config(profiles=ENGINES, model=CAT.model(model_id), hardware=hardware[0], precision=precision)
        keys, shared = estimate_stack(cfg, hardware, chips=store)
        alone_keys, alone = estimate_stack(cfg, hardware)
        assert keys == alone_keys and shared is not None and alone is not None
        for key in ("latency_s", "cost_usd_per_item", "throughput_items_per_s"):
            np.testing.assert_array_equal(getattr(shared, key), getattr(alone, key), err_msg=f"{model_id} {key}")
        for part, seconds in shared.breakdown_s.items():
            assert np.all(np.isfinite(seconds)), (model_id, part)


def test_unbatched_cfg_is_overhead_bound_exactly_when_one_of_its_passes_is():
    """Unbatched CFG runs two identical passes of the batch, each a CFG-off decode of the same batch; doubling
    every term cannot change whether launch overhead dominates."""
    batch = np.array([1.0, 4.0, 16.0, 64.0])
    for model_id in ("emu3-gen", "llamagen-xl", "janus-pro-7b"):
        for hw in ("a100-80gb-sxm", "h100-sxm", "l4"):
            for engine in ("eager", "compiled"):

                def run(mode, model_id=model_id, hw=hw, engine=engine):
                    return estimate_arrays(
                        Config(
                            profiles=ENGINES,
                            model=CAT.model(model_id),
                            hardware=CAT.hardware(hw),
                            engine=engine,
                            batch=batch,
                            cfg=mode,
                        )
                    )

                two, one = run("unbatched"), run("off")
                np.testing.assert_allclose(two.latency_s, 2 * one.latency_s, rtol=1e-12)
                np.testing.assert_array_equal(two.overhead_bound, one.overhead_bound)


def test_estimate_reports_the_text_tokens_that_tokcost_tokens_counts():
    """One rule for the text a denoiser attends to (a UNet's is its CLIP context, 77), in both places."""
    from tokcost.engine.tokens import diffusion_tokens

    for m in CAT.all("models"):
        if m.family != "diffusion":
            continue
        est = estimate_arrays(Config(profiles=ENGINES, model=m, hardware=H100, engine="compiled"))
        assert est.tokens["text"] == diffusion_tokens(m, m.native.width, m.native.height).prompt, m.id
    assert estimate_arrays(Config(profiles=ENGINES, model=CAT.model("sdxl"), hardware=H100)).tokens["text"] == 77


def test_training_mfu_falls_for_small_models_by_the_published_curve():
    """llm-foundry's MFU by size, relative to its 7B point: 125M reaches 44.79 / 64.23 of it; 7B and up the
    preset's own figure (measured on large runs); never above it, and never falling as models grow to 7B."""
    from tokcost.engine.training import mfu_size_factor

    assert mfu_size_factor(0.125) == pytest.approx(0.4479 / 0.6423)
    assert mfu_size_factor(0.05) == mfu_size_factor(0.125)
    assert mfu_size_factor(7.0) == mfu_size_factor(70.0) == 1.0
    sizes = np.geomspace(0.05, 100, 60)
    factors = [mfu_size_factor(float(n)) for n in sizes]
    assert all(0 < f <= 1 for f in factors) and factors == sorted(factors)
    hw = CAT.hardware("a100-80gb-sxm")
    small = training_report(CAT.model("llamagen-b"), hw, tokens=1e10)
    big = training_report(CAT.model("emu3-gen"), hw, tokens=1e10)
    assert small.mfu == pytest.approx(hw.efficiency.training_mfu.mid * mfu_size_factor(0.111), rel=0.01)
    assert big.mfu == hw.efficiency.training_mfu.mid
    assert any("llm-foundry" in n for n in small.notes)


def test_weight_only_formats_read_fewer_bytes_but_not_proportionally_faster():
    """A batch-1 decode is bound by reading the weights: int8-wo and int4 read 1/2 and ~1/4 of bf16's bytes, but
    their kernels reach a lower share of the bandwidth (gpt-fast, torchao), so they gain less than the byte ratio;
    memory holds the packed bytes; the roofline floor counts the packed bytes, and latency never goes below it."""
    lat, mem = {}, {}
    for p in ("bf16", "int8-wo", "int4"):
        out = estimate_arrays(
            Config(
                profiles=ENGINES,
                model=CAT.model("emu3-gen"),
                hardware=CAT.hardware("a100-80gb-sxm"),
                engine="compiled",
                precision=p,
                width=512,
                height=512,
            )
        )
        lat[p], mem[p] = float(out.latency_s), float(out.memory.weights)
        assert float(out.latency_s) >= float(out.floor_s)
    assert lat["bf16"] > lat["int8-wo"] > lat["int4"]
    assert lat["bf16"] / lat["int8-wo"] < 2.0 and lat["bf16"] / lat["int4"] < 2.0 / physics.WEIGHT_BYTES["int4"]
    assert mem["int8-wo"] == pytest.approx(mem["bf16"] / 2)
    assert mem["int4"] == pytest.approx(mem["bf16"] * physics.WEIGHT_BYTES["int4"] / 2)
    # W8A8: vLLM's per-token quantisation and int8 GEMMs read below the bf16 rate too (Red Hat's paired cards)
    assert physics.WEIGHT_BYTES["int8"] < physics.weight_read_bytes("int8") < physics.WEIGHT_BYTES["bf16"]
    assert physics.weight_read_bytes("fp8") == physics.WEIGHT_BYTES["fp8"]  # no figure: see WEIGHT_READ_EFFICIENCY


def test_flash_attention_3_speeds_attention_on_hopper_only():
    """FA3 (Hopper) runs the attention matmuls at its published fraction of peak: a long video, attention-bound,
    gets faster, by less than the kernels' ratio (the linear layers do not change), a 1024^2 image less, a
    host-bound small image not at all; other chips refuse it; the default is the engines' SDPA (FlashAttention-2's
    rate)."""
    hw = CAT.hardware("h100-sxm")
    ratio = hw.efficiency.attention_fa3.mid / hw.efficiency.attention.mid

    def lat(model, attention, **kw):
        return float(
            estimate_arrays(
                Config(profiles=ENGINES, model=CAT.model(model), hardware=hw, attention=attention, **kw)
            ).latency_s
        )

    video = dict(width=1280, height=720, frames=129)
    assert (
        lat("hunyuanvideo", None, **video)
        == lat("hunyuanvideo", "sdpa", **video)
        == lat("hunyuanvideo", "fa2", **video)
    )
    gain_video = lat("hunyuanvideo", "sdpa", **video) / lat("hunyuanvideo", "fa3", **video)
    image = dict(width=1024, height=1024, engine="compiled")
    gain_image = lat("flux1-dev", "sdpa", **image) / lat("flux1-dev", "fa3", **image)
    assert 1.0 < gain_image < gain_video < ratio
    small = dict(width=256, height=256)  # host-bound at batch 1: the kernel does not matter
    assert lat("sd3-medium", "fa3", **small) == pytest.approx(lat("sd3-medium", "sdpa", **small), rel=0.01)
    with pytest.raises(UsageError, match="Hopper"):
        estimate_arrays(
            Config(profiles=ENGINES, model=CAT.model("sdxl"), hardware=CAT.hardware("a100-80gb-sxm"), attention="fa3")
        )


def test_fp8_kv_cache_halves_the_cache_and_its_reads():
    """--kv-dtype fp8 stores K and V in one byte: the cache's memory halves exactly, and a long batched decode,
    bound by reading the cache, gets faster, but never more than 2x (the weights are read as before)."""
    base = dict(profiles=ENGINES, model=EMU3, hardware=H100, engine="vllm", batch=64)
    bf16 = estimate_arrays(Config(**base))
    fp8 = estimate_arrays(Config(**base, kv_dtype="fp8"))
    assert float(fp8.memory.kv_cache) == pytest.approx(float(bf16.memory.kv_cache) / 2)
    assert float(fp8.memory.weights) == float(bf16.memory.weights)
    assert 1.0 < float(bf16.latency_s) / float(fp8.latency_s) < 2.0
    assert float(fp8.latency_s) >= float(fp8.floor_s)


def test_kernel_gaps_add_to_the_weight_read_and_grow_effective_bandwidth_with_model_size():
    """gpu_per_layer_s is GPU time per layer serial with the matmuls (not overlapped like the host term): a
    memory-bound decode takes exactly L x gap longer per forward; so the bytes per second it streams grow with
    the model (gpt-fast README, A100 int8: Llama-2-70B 1,322 GB/s vs 7B 1,069), and a faster memory gains less
    than its bandwidth ratio. The host speed does not scale it (it is not CPU work)."""
    from dataclasses import replace

    from tokcost.engine.profiles import efficiency

    a = EMU3.architecture
    gap = 40e-6
    with_gaps = replace(IDEAL, gpu_per_layer_s=gap)
    plain = float(physics.ar_decode_time(a, 989e12, 3.35e12, IDEAL, 2.0, 1, 0, 100)[0])
    gapped = float(physics.ar_decode_time(a, 989e12, 3.35e12, with_gaps, 2.0, 1, 0, 100)[0])
    assert gapped - plain == pytest.approx(100 * a.layers * gap, rel=1e-9)
    # a launch-bound step (host above GPU + gaps) takes the host's time: the gaps hide under it
    slow_host = replace(with_gaps, host_per_layer_s=1e-3)
    assert float(physics.ar_decode_time(a, 989e12, 3.35e12, slow_host, 2.0, 1, 0, 1)[0]) == pytest.approx(
        a.layers * 1e-3
    )

    def streamed(params_b, layers, bw):  # bytes per second of one batch-1 forward
        arch = a.model_copy(update={"matmul_params_b": params_b, "layers": layers})
        return params_b * 1e9 * 2.0 / float(physics.ar_decode_time(arch, 989e12, bw, with_gaps, 2.0, 1, 0, 1)[0])

    assert streamed(69.0, 80, 2.0e12) > streamed(6.7, 32, 2.0e12)
    assert streamed(6.7, 32, 3.35e12) / streamed(6.7, 32, 2.0e12) < 3.35 / 2.0
    compiled = ENGINES["compiled"]
    assert compiled.gpu_per_layer_s is not None and compiled.gpu_per_layer_s.mid > 0
    fast_host = efficiency(compiled, H100, host_speed=2.0)
    assert fast_host.gpu_per_layer_s == efficiency(compiled, H100).gpu_per_layer_s
    assert fast_host.host_per_layer_s == pytest.approx(efficiency(compiled, H100).host_per_layer_s / 2)


def test_measured_skinny_gemms_slow_only_the_weight_read_of_decode():
    """A preset's efficiency.decode_gemm (MI300X: hipBLASLt's fp8 decode GEMMs, huggingface/blog mi300kernels.md)
    streams a decode step's weights at that fraction of the bandwidth; the KV cache still reads at the stream
    rate, so a long cache-bound decode moves by less than the weights' share. Without the field, decode_gemm is the
    stream rate (nothing changes), and the bytes the estimate reports, and its roofline floor, are the same."""
    from dataclasses import replace

    from tokcost.engine.profiles import efficiency

    mi300x = CAT.hardware("mi300x")
    bw = mi300x.efficiency.bandwidth
    assert mi300x.efficiency.decode_gemm is not None and mi300x.efficiency.decode_gemm.mid < bw.mid
    stream = mi300x.model_copy(update={"efficiency": mi300x.efficiency.model_copy(update={"decode_gemm": None})})
    vllm = ENGINES["vllm"]
    eff = efficiency(vllm, mi300x)
    assert eff.weight_rate == pytest.approx(mi300x.efficiency.decode_gemm.mid * vllm.mbu.mid)
    assert eff.mbu == efficiency(vllm, stream).mbu == efficiency(vllm, stream).weight_rate

    a = EMU3.architecture
    N = a.matmul_params_b * 1e9
    slow = replace(IDEAL, weight_mbu=0.5)
    # batch 1, empty cache: only weights; a long cache at batch 64: the weights are a small share of the bytes
    weights_only = [float(physics.ar_decode_time(a, 1e18, 1e12, e, 2.0, 1, 0, 1)[0]) for e in (IDEAL, slow)]
    assert weights_only[0] == pytest.approx(N * 2.0 / 1e12) and weights_only[1] == pytest.approx(2 * weights_only[0])
    cached = [float(physics.ar_decode_time(a, 1e18, 1e12, e, 2.0, 64, 8192, 1)[0]) for e in (IDEAL, slow)]
    kv = 64 * 8192 * physics.kv_bytes_per_token(a) / 1e12
    assert cached[1] - cached[0] == pytest.approx(N * 2.0 / 1e12)
    assert cached[1] / cached[0] == pytest.approx((2 * N * 2.0 / 1e12 + kv) / (N * 2.0 / 1e12 + kv))

    base = dict(profiles=ENGINES, model=EMU3, engine="vllm", batch=4)
    measured = estimate_arrays(Config(**base, hardware=mi300x))
    streamed = estimate_arrays(Config(**base, hardware=stream))
    assert float(measured.latency_s) > float(streamed.latency_s)
    assert float(measured.bytes) == pytest.approx(float(streamed.bytes))
    assert float(measured.floor_s) == pytest.approx(float(streamed.floor_s))
    assert float(measured.latency_s) >= float(measured.floor_s)
    from tokcost.engine.estimate import pricing_note

    assert "skinny GEMMs are measured at" in pricing_note(Config(**base, hardware=mi300x))
    assert "skinny" not in pricing_note(Config(**base, hardware=stream))


def test_each_collective_costs_the_eager_host_and_nothing_on_one_gpu():
    """host_per_collective_s: a multi-GPU eager replica's host pays for every collective it calls, two all-reduces
    a layer under tensor parallelism and four all-to-alls an attention layer under Ulysses; one GPU calls none. It
    is host time: it overlaps the GPU's work and sets the step only once it exceeds it, and a faster host shortens
    it. The engines that replay CUDA graphs (compiled, vLLM) carry no such cost."""
    from dataclasses import replace

    from tokcost.engine.profiles import efficiency

    a = EMU3.architecture
    assert float(physics.tensor_parallel_collectives(a, 1)) == 0.0
    assert float(physics.tensor_parallel_collectives(a, 4)) == 2 * a.layers
    flux = CAT.model("flux1-dev")
    L = flux.denoiser.transformer_geometry()[1]
    assert float(physics.sequence_parallel_collectives(flux, 1)) == 0.0
    assert float(physics.sequence_parallel_collectives(flux, 4)) == 4 * L
    assert float(physics.sequence_parallel_collectives(CAT.model("sdxl"), 2)) == 0.0  # a UNet is not split by sequence

    # a host-bound decode step (no GPU time): the host's launches plus one cost per all-reduce, none on one GPU
    host_bound = replace(IDEAL, host_per_layer_s=1e-4, host_per_collective_s=3e-4)
    step = [float(physics.ar_decode_time(a, 1e30, 1e30, host_bound, 2.0, 1, 0, 1, tp=g)[0]) for g in (1, 4)]
    assert step[0] == pytest.approx(a.layers * 1e-4)
    assert step[1] == pytest.approx(a.layers * 1e-4 + 2 * a.layers * 3e-4)
    # under a long GPU step the same calls hide: the step is the GPU's
    gpu_bound = float(physics.ar_decode_time(a, 1e30, 1e9, host_bound, 2.0, 1, 0, 1, tp=4)[0])
    no_calls = float(
        physics.ar_decode_time(a, 1e30, 1e9, replace(host_bound, host_per_collective_s=0.0), 2.0, 1, 0, 1, tp=4)[0]
    )
    assert gpu_bound == pytest.approx(no_calls)

    eager = efficiency(ENGINES["eager"], H100)
    assert eager.host_per_collective_s > 0
    assert efficiency(ENGINES["eager"], H100, host_speed=2.0).host_per_collective_s == pytest.approx(
        eager.host_per_collective_s / 2
    )
    for name in ("compiled", "vllm"):
        assert efficiency(ENGINES[name], H100).host_per_collective_s == 0.0

    # FLUX.1 on four H100s under eager: the calls lengthen the step; compiled does not pay them
    base = dict(profiles=ENGINES, model=flux, hardware=H100, gpus=4, parallelism="sp")
    with_calls = estimate_arrays(Config(**base, engine="eager"))
    without = ENGINES["eager"].model_copy(update={"host_per_collective_s": None})
    assert float(with_calls.latency_s) > float(
        estimate_arrays(Config(**base | {"profiles": ENGINES | {"eager": without}}, engine="eager")).latency_s
    )


def test_a_serving_engines_work_per_sequence_adds_to_every_step_and_grows_with_the_batch():
    """host_per_sequence_s is serialised CPU work per running sequence per decode step (vLLM's scheduler, input
    preparation and output processing loop over the running requests): n sequences over F forwards add exactly
    F x n x per_seq, whether the step is memory-bound or launch-bound; it divides by the host's speed; only vLLM
    carries it, fitted (engines.fitted.yaml)."""
    from dataclasses import replace

    from tokcost.engine.profiles import efficiency

    a = EMU3.architecture
    per_seq = 1e-4
    busy = replace(IDEAL, host_per_sequence_s=per_seq)
    for n in (1, 8, 64):
        plain = float(physics.ar_decode_time(a, 989e12, 3.35e12, IDEAL, 2.0, n, 0, 100)[0])
        served = float(physics.ar_decode_time(a, 989e12, 3.35e12, busy, 2.0, n, 0, 100)[0])
        assert served - plain == pytest.approx(100 * n * per_seq, rel=1e-9)
    slow_host = replace(busy, host_per_layer_s=1e-3)  # launch-bound: the work still adds, it does not overlap
    assert float(physics.ar_decode_time(a, 989e12, 3.35e12, slow_host, 2.0, 8, 0, 1)[0]) == pytest.approx(
        a.layers * 1e-3 + 8 * per_seq
    )
    vllm = ENGINES["vllm"]
    assert vllm.host_per_sequence_s is not None and vllm.host_per_sequence_s.mid > 0
    assert efficiency(vllm, H100, host_speed=2.0).host_per_sequence_s == pytest.approx(
        efficiency(vllm, H100, host_speed=1.0).host_per_sequence_s / 2
    )
    assert all(ENGINES[e].host_per_sequence_s is None for e in ("eager", "compiled"))
    # the estimate's notes say what a decode step costs the serving engine's host
    note = physics.host_note(EMU3, vllm)
    assert "per running sequence" in note and f"{vllm.host_per_sequence_s.mid * 1e3:.2g} ms" in note
    assert "per running sequence" not in physics.host_note(EMU3, ENGINES["eager"])
