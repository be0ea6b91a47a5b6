"""Diffusion denoisers priced from the measured kernel tables (tokcost.engine.physics.denoiser_gemm_s,
tokcost.engine.kernels.TableGemms; docs/methodology.md "What the tables price"): the GEMM shapes hold exactly the
presets' linear FLOPs, the interpolation keeps the measurements' bounds and order, a stacked grid prices each chip
with its own table, and the notes say which path priced an estimate."""

from __future__ import annotations

import numpy as np
import pytest

from tokcost.engine import physics
from tokcost.engine.config import Config
from tokcost.engine.estimate import estimate_arrays, estimate_grid, pricing_note
from tokcost.engine.families.diffusion import table_gemms
from tokcost.engine.kernels import TableGemms, context_attention_s, decode_attention_rate, gemm_latency_s
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import TABLE_CHIPS, hardware_kernels, load_chip

CATALOG = Catalog.default()
UNETS = ["sd15", "sdxl", "sdxl-turbo"]
TRANSFORMERS = ["flux1-dev", "sd3-medium", "pixart-sigma", "sana-1.6b", "wan21-14b", "cogvideox-5b"]


def _cfg(model: str, hardware: str, **kw) -> Config:
    return Config(
        model=CATALOG.model(model),
        hardware=CATALOG.hardware(hardware),
        profiles=load_engines(),
        engine=kw.pop("engine", "eager"),
        precision=kw.pop("precision", "bf16"),
        kernels=hardware_kernels,
        **kw,
    )


@pytest.mark.parametrize("model", UNETS)
def test_unet_gemm_shapes_hold_the_presets_conv_and_linear_flops(model):
    m = CATALOG.model(model)
    d = m.denoiser
    flops = physics.gemm_shapes_flops(physics.unet_gemm_shapes(m), 0.0, d.ref_width, d.ref_height)
    # ref_forward_tflops is docs/_vae_flops.py's count of the same layers, rounded to 3 significant figures
    assert flops / 1e12 == pytest.approx(d.ref_forward_tflops, rel=0.005)


def test_sdxl_unet_shapes_are_its_implicit_gemms():
    shapes = physics.unet_gemm_shapes(CATALOG.model("sdxl"))
    at_1024 = {(n, k): c for pp, _, _, n, k, c in shapes if pp == 1.0 / 8**2}  # full latent resolution (128^2)
    assert at_1024[(320, 4 * 9)] == 1  # conv_in: 4 latent channels x 3 x 3
    assert at_1024[(4, 320 * 9)] == 1  # conv_out
    # resnets at 320 channels: 2 down + 3 up x 2 convs (up: conv2 only, conv1 reads the skip concatenation)
    assert at_1024[(320, 320 * 9)] == 2 * 2 + 3
    deepest = {(n, k): c for pp, _, _, n, k, c in shapes if pp == 1.0 / 32**2}
    # 60 transformer blocks of 1280 (2 down x 10, mid 10, 3 up x 10), each with a GEGLU of 1280 -> 2 x 5120
    assert deepest[(8 * 1280, 1280)] == 60
    text = [(n, k, c) for _, _, fixed, n, k, c in shapes if fixed == 77]
    assert sum(c for _, k, c in text if k == 2048) == 2 * 70  # cross-attention k, v over the 77 text tokens


@pytest.mark.parametrize("model", TRANSFORMERS)
def test_transformer_gemm_shapes_hold_two_n_linear_per_token(model):
    m = CATALOG.model(model)
    linear_b, _, _ = m.denoiser.transformer_geometry()
    flops = physics.gemm_shapes_flops(physics.transformer_gemm_shapes(m), 1000.0, 1.0, 1.0)
    assert flops == pytest.approx(2 * linear_b * 1e9 * 1000.0, rel=0.002)


@pytest.mark.parametrize("hardware", sorted(TABLE_CHIPS))
def test_interpolated_gemm_is_bounded_by_the_measurements_and_monotone_in_m(hardware):
    table = hardware_kernels(hardware).tables["gemm.bfloat16"]
    ms, ns, ks = table.grid
    i, j = int(np.searchsorted(ns, 1280)), int(np.searchsorted(ks, 1280 * 9))
    n, k = ns[i], ks[j]
    measured = table.latency_s[:, i, j].astype(float)
    priced = gemm_latency_s(table, ms, n, k)
    # at a measured m: never slower than measured (padding to a larger measured m may be faster), and equal to
    # the fastest at the same or a larger m
    ok = np.isfinite(measured)
    assert np.all(priced[ok] <= measured[ok] * (1 + 1e-6))
    assert priced[ok][-1] == pytest.approx(measured[ok][-1], rel=1e-6)
    dense = np.geomspace(1, 4 * ms[-1], 200)
    t = gemm_latency_s(table, dense, n, k)
    assert np.all(np.diff(t) >= -1e-15)
    # beyond the largest m: proportional (the work is linear in m)
    assert gemm_latency_s(table, 4 * ms[-1], n, k) == pytest.approx(4 * gemm_latency_s(table, ms[-1], n, k))


@pytest.mark.parametrize("hardware", sorted(TABLE_CHIPS))
@pytest.mark.parametrize("model", ["sd15", "sdxl", "pixart-sigma", "flux1-dev"])
def test_table_priced_gemms_never_beat_the_dense_peak(model, hardware):
    m, hw = CATALOG.model(model), CATALOG.hardware(hardware)
    gemms = TableGemms([(True, hardware_kernels(hardware).tables["gemm.bfloat16"])])
    f = m.vae.spatial_factor * m.vae.patch
    for side, items in [(512, 1), (1024, 2), (1024, 16)]:
        tokens = (side // f) ** 2 + (m.denoiser.joint_text_tokens or 0)
        seconds = physics.denoiser_gemm_s(m, gemms, items, tokens, side, side)
        linear, _ = physics.denoiser_flops_split(m, (side // f) ** 2, side, side)
        assert items * linear / seconds < physics.peak_flops(hw, "bf16")


def test_small_unet_shapes_run_further_below_peak_than_large_ones():
    m = CATALOG.model("sd15")
    gemms = TableGemms([(True, hardware_kernels("h100-sxm").tables["gemm.bfloat16"])])
    rate = {}
    for items in (1, 32):
        linear, _ = physics.denoiser_flops_split(m, 64 * 64, 512, 512)
        rate[items] = items * linear / physics.denoiser_gemm_s(m, gemms, items, 64 * 64, 512, 512)
    assert rate[1] < rate[32]


def test_tables_serve_eager_and_compiled_diffusion_at_16_bits_only():
    assert table_gemms(_cfg("sdxl", "h100-sxm"), [(True, CATALOG.hardware("h100-sxm"))]) is not None
    assert table_gemms(_cfg("sdxl", "h100-sxm", engine="compiled"), [(True, CATALOG.hardware("h100-sxm"))])
    assert table_gemms(_cfg("sdxl", "h100-sxm", precision="fp16"), [(True, CATALOG.hardware("h100-sxm"))])
    assert table_gemms(_cfg("sdxl", "h100-sxm", precision="fp8"), [(True, CATALOG.hardware("h100-sxm"))]) is None
    assert table_gemms(_cfg("sdxl", "h100-sxm", precision="int8"), [(True, CATALOG.hardware("h100-sxm"))]) is None
    assert table_gemms(_cfg("sdxl", "rtx-4090"), [(True, CATALOG.hardware("rtx-4090"))]) is None


def test_eager_ar_pricing_never_looks_up_a_kernel_table():
    def refuse(hardware_id: str):
        raise AssertionError(f"an AR estimate asked for {hardware_id}'s kernel tables")

    cfg = _cfg("llamagen-xl", "h100-sxm")
    assert estimate_arrays(_replace(cfg, kernels=refuse)).latency_s == estimate_arrays(cfg).latency_s


@pytest.mark.parametrize("chip", ["a100_sxm", "h100_sxm", "h200_sxm", "l40s"])
def test_decode_attention_reads_the_cache_no_faster_than_the_stream_rate(chip):
    table = load_chip(chip).tables["attention.generation"]
    cap = 2.0e12
    batch = np.array([1.0, 4.0, 16.0, 64.0, 256.0])[:, None]
    context = np.array([16.0, 256.0, 2048.0, 16384.0])[None, :]
    rate = decode_attention_rate(table, batch, context, 32, 8, 128, 2.0, cap)
    assert np.all(rate > 0) and np.all(rate <= cap)
    # off the grid (a multi-head model's 32 KV heads a GPU, a head dim the table never timed): the stream rate
    assert np.all(decode_attention_rate(table, batch, context, 32, 32, 128, 2.0, cap) == cap)
    assert np.all(decode_attention_rate(table, batch, context, 32, 8, 512, 2.0, cap) == cap)


@pytest.mark.parametrize("chip, peak", [("a100_sxm", 312e12), ("h100_sxm", 989e12), ("h200_sxm", 989e12)])
def test_prefill_attention_never_beats_the_dense_peak_and_grows_with_the_square_beyond_the_grid(chip, peak):
    table = load_chip(chip).tables["attention.context"]
    batch = np.array([1.0, 4.0, 32.0])[:, None]
    isl = np.array([256.0, 2048.0, 16384.0, 65536.0, 131072.0])[None, :]
    seconds = context_attention_s(table, batch, isl, 32, 128)
    causal_flops = 2.0 * 32 * 128 * batch * isl * isl  # Q K^T and P V over the lower triangle
    measured = np.isfinite(seconds)  # NaN where the table has no cell (the caller's roofline prices it)
    assert measured[:2].all() and np.all(seconds[measured] > 0)
    assert np.all(causal_flops[np.broadcast_to(measured, seconds.shape)] / seconds[measured] <= peak)
    longest = table.grid[table.axes.index("isl")][-1]
    beyond = context_attention_s(table, 1.0, np.array([2.0, 4.0]) * longest, 32, 128)
    assert beyond[1] / beyond[0] == pytest.approx(4.0, rel=0.01)
    # a head dim the table never timed: NaN, for the caller's roofline
    assert np.isnan(context_attention_s(table, 1.0, 2048.0, 32, 512))


def test_a_serving_engines_prefill_attention_is_priced_from_its_kernel_table():
    cfg = _cfg("emu3-chat", "a100-80gb-sxm", engine="vllm")
    prefill = float(estimate_arrays(cfg).breakdown_s["prefill"])
    roofline = float(estimate_arrays(_replace(cfg, kernels=None)).breakdown_s["prefill"])
    assert prefill != roofline and "context-attention table" in pricing_note(cfg)
    eager = _replace(cfg, engine="eager")
    assert (
        estimate_arrays(eager).breakdown_s["prefill"]
        == estimate_arrays(_replace(eager, kernels=None)).breakdown_s["prefill"]
    )
    assert "context-attention" not in pricing_note(eager)


def test_a_serving_engines_decode_reads_its_cache_at_the_measured_kernels_rate():
    def decode_s(cfg):
        return float(estimate_arrays(cfg).breakdown_s["decode"])

    # Emu3 (8 KV heads) under vLLM on an A100: FA2's decode kernel reads the cache below the stream rate
    cfg = _cfg("emu3-gen", "a100-80gb-sxm", engine="vllm", batch=8)
    assert decode_s(cfg) > decode_s(_replace(cfg, kernels=None))
    # the bytes it moves do not depend on the rate they move at
    assert estimate_arrays(cfg).bytes == pytest.approx(estimate_arrays(_replace(cfg, kernels=None)).bytes)
    assert "generation-attention table" in pricing_note(cfg) and "A100" in pricing_note(cfg)
    # the stream rate where no table measured the engine's kernel or the shape: eager code, vLLM 0.4's own
    # kernel, an fp8 cache, a model without grouped queries (LlamaGen), B200 (FlashInfer's kernel)
    for same in [
        _replace(cfg, engine="eager"),
        _replace(cfg, engine="vllm-0.4"),
        _replace(cfg, kv_dtype="fp8"),
        _cfg("llamagen-xl", "a100-80gb-sxm", engine="vllm", batch=8),
        _cfg("emu3-gen", "b200", engine="vllm", batch=8),
    ]:
        assert decode_s(same) == decode_s(_replace(same, kernels=None)), (same.engine, same.hardware.id)
        assert "generation-attention" not in pricing_note(same)


def test_notes_say_which_path_priced_the_denoiser():
    assert "measured kernel tables" in pricing_note(_cfg("sdxl", "h100-sxm"))
    assert "implicit GEMMs" in pricing_note(_cfg("sdxl", "h100-sxm"))
    assert "roofline" in pricing_note(_cfg("sdxl", "rtx-4090")) and "RTX 4090" in pricing_note(_cfg("sdxl", "rtx-4090"))
    assert "int8" in pricing_note(_cfg("sdxl", "h100-sxm", precision="int8"))
    # fp8 on a chip with fp8 units: its roofline; without them (A100), and weight-only formats: the 16-bit table
    bf16 = pricing_note(_cfg("sdxl", "h100-sxm"))
    assert "fp8 GEMMs at the fp8 peak" in pricing_note(_cfg("sdxl", "h100-sxm", precision="fp8"))
    assert "16-bit table" in pricing_note(_cfg("sdxl", "a100-80gb-sxm", precision="fp8"))
    assert "16-bit table" in pricing_note(_cfg("sdxl", "h100-sxm", precision="int8-wo"))
    assert "16-bit" not in bf16 and "dequantised" not in bf16
    assert "AR" in pricing_note(_cfg("llamagen-xl", "h100-sxm"))
    no_shapes = CATALOG.model("sdxl").model_copy(
        update={"denoiser": CATALOG.model("sdxl").denoiser.model_copy(update={"unet_config": None})}
    )
    note = pricing_note(_replace(_cfg("sdxl", "h100-sxm"), model=no_shapes))
    assert "roofline" in note and "unet_config" in note and "bf16" not in note
    # a masked model's token transformer runs the diffusion family's step, and its GEMMs the same tables
    assert pricing_note(_cfg("amused-256", "a100-80gb-sxm")).startswith("token transformer GEMMs priced from measured")


def test_tables_change_the_price_only_where_a_chip_has_one():
    for hardware, moves in [("h100-sxm", True), ("b200", True), ("rtx-4090", False), ("mi300x", False)]:
        cfg = _cfg("pixart-sigma", hardware, batch=8)
        priced = estimate_arrays(cfg).breakdown_s["denoise"]
        roofline = estimate_arrays(_replace(cfg, kernels=None)).breakdown_s["denoise"]
        assert (priced != roofline) == moves, hardware


def _replace(cfg: Config, **kw) -> Config:
    import dataclasses

    return dataclasses.replace(cfg, **kw)


@pytest.mark.parametrize("model", ["sdxl", "flux1-dev"])
def test_a_stacked_grid_prices_each_chip_with_its_own_table(model):
    cfg = _cfg(model, "h100-sxm", batch=np.array([1.0, 4.0, 16.0]))
    chips = [CATALOG.hardware(h) for h in ("h100-sxm", "rtx-4090", "b200", "a100-80gb-sxm")]
    grid = estimate_grid(cfg, chips, bands=("central",))
    for hw in chips:
        alone = estimate_arrays(_replace(cfg, hardware=hw))
        np.testing.assert_allclose(grid[(hw.id, "central", 1)].latency_s, alone.latency_s, rtol=1e-9)


@pytest.mark.parametrize("hardware", sorted(TABLE_CHIPS))
def test_fp8_takes_its_roofline_on_chips_with_fp8_units_and_the_16_bit_table_elsewhere(hardware):
    """fp8 layers are priced at the fp8 peak where the chip has fp8 units (as int8 W8A8 is at int8's), not from the
    tables' fp8 linears, whose activation quantisation diffusion stacks fuse or avoid; a chip without fp8 units
    computes fp8 weights in 16 bits: the bf16 table, exactly."""
    tables = hardware_kernels(hardware).tables
    fp8 = table_gemms(_cfg("sdxl", hardware, precision="fp8"), [(True, CATALOG.hardware(hardware))])
    if CATALOG.hardware(hardware).dense_tflops.fp8 is None:  # no fp8 units (A100): dequantised weights
        m = np.array([1024.0, 16384.0])
        assert fp8 is not None
        np.testing.assert_array_equal(fp8(m, 3072, 3072), gemm_latency_s(tables["gemm.bfloat16"], m, 3072, 3072))
        return
    assert fp8 is None
    cfg = _cfg("flux1-dev", hardware, engine="compiled", precision="fp8")
    priced = estimate_arrays(cfg).breakdown_s["denoise"]
    assert priced == estimate_arrays(_replace(cfg, kernels=None)).breakdown_s["denoise"]


@pytest.mark.parametrize("hardware", sorted(TABLE_CHIPS))
@pytest.mark.parametrize("model", UNETS + TRANSFORMERS)
def test_fp8_is_never_slower_than_bf16(model, hardware):
    """--precision fp8 may gain nothing (every layer faster in 16 bits), never lose: per step, per image."""
    for engine in ("eager", "compiled"):
        sixteen, low = (estimate_arrays(_cfg(model, hardware, engine=engine, precision=p)) for p in ("bf16", "fp8"))
        assert float(low.latency_s) <= float(sixteen.latency_s) * (1 + 1e-12), (model, hardware, engine)


def test_the_a100_40gb_runs_the_80gb_parts_gemms_behind_its_own_slower_memory():
    """The A100 SXM4 40GB is the 80GB part's die at the same clocks (same 312 TFLOPS): its GEMMs are the 80GB
    table's, second for second, and its notes say so; its HBM2 (1.555 TB/s, not 2.039) enters wherever a forward
    streams memory (the weight read, the element-wise passes once they spill the same 40 MB L2), so a step is never
    faster, slower where it streams memory, by at most the bandwidth ratio."""
    forty, eighty = CATALOG.hardware("a100-40gb-sxm"), CATALOG.hardware("a100-80gb-sxm")
    assert TABLE_CHIPS["a100-40gb-sxm"] == TABLE_CHIPS["a100-80gb-sxm"]
    assert forty.dense_tflops == eighty.dense_tflops and forty.bandwidth_tbps < eighty.bandwidth_tbps
    m = np.array([1.0, 64.0, 4096.0, 65536.0])
    assert np.array_equal(
        table_gemms(_cfg("sdxl", "a100-40gb-sxm"), ((True, forty),))(m, 1280, 11520),
        table_gemms(_cfg("sdxl", "a100-80gb-sxm"), ((True, eighty),))(m, 1280, 11520),
    )
    assert "measured on NVIDIA A100-SXM4-80GB" in pricing_note(_cfg("sdxl", "a100-40gb-sxm"))

    def step(hardware, **kw):
        r = estimate_arrays(_cfg("flux1-dev", hardware, **kw))
        return float(r.breakdown_s["denoise"])

    # 1024 px at batch 4: the element-wise passes spill L2 and stream at its own bandwidth, slower by at most the
    # ratio; 256 px at batch 1: each kernel's tensors stay in L2 and the GEMMs bind, the same step
    bound = eighty.bandwidth_tbps / forty.bandwidth_tbps + 1e-9
    large = dict(width=1024, height=1024, batch=4)
    assert 1.0 < step("a100-40gb-sxm", **large) / step("a100-80gb-sxm", **large) <= bound
    small = dict(width=256, height=256, batch=1)
    assert 1.0 <= step("a100-40gb-sxm", **small) / step("a100-80gb-sxm", **small) <= bound


def test_mar_gemms_take_the_measured_tables_where_its_chip_has_one():
    """MAR's transformer runs tens of thousands of tokens a GEMM, the shapes the tables measure: on a chip with a
    table they price them (and the note says so); elsewhere the roofline does."""
    for hardware, moves in [("a100-80gb-sxm", True), ("h100-sxm", True), ("rtx-3090", False)]:
        cfg = _cfg("mar-l", hardware, batch=64, precision="fp16")
        priced = estimate_arrays(cfg).breakdown_s["transformer"]
        roofline = estimate_arrays(_replace(cfg, kernels=None)).breakdown_s["transformer"]
        assert (priced != roofline) == moves, hardware
        note = pricing_note(cfg)
        assert ("measured kernel tables" in note) == moves and ("roofline" in note) != moves, hardware


@pytest.mark.parametrize("pcie, sxm", [("a100-80gb-pcie", "a100-80gb-sxm"), ("a100-40gb-pcie", "a100-40gb-sxm")])
def test_an_a100_pcie_card_takes_its_sxm_siblings_gemms_slowed_to_its_own_measured_rate(pcie, sxm):
    """The same GA100 under a lower power limit: every GEMM of the SXM table, slowed by how much slower the card ran
    in MLPerf Inference v1.1's sustained Offline runs (the median over BERT-99, ResNet-50 and SSD-ResNet34 of the SXM
    module's samples/s over the card's, written out); no collective tables (a PCIe card's all-reduce crosses PCIe)."""
    from tokcost.io.kernel_tables import SIBLING_GEMMS

    card, sibling = hardware_kernels(pcie), hardware_kernels(sxm)
    slowdown = SIBLING_GEMMS[pcie][1]
    # medians: SSD-ResNet34's ratio for the 300 W card (BERT 1.117, ResNet-50 1.079), ResNet-50's for the 250 W one
    expected = {"a100-80gb-pcie": 994.308 / 913.208, "a100-40gb-pcie": 39830.1 / 32778.8}[pcie]
    assert slowdown == pytest.approx(expected)
    assert SIBLING_GEMMS["a100-40gb-pcie"][1] > SIBLING_GEMMS["a100-80gb-pcie"][1] > 1  # the lower limit, the slower
    assert set(card.tables) == {n for n in sibling.tables if n.startswith("gemm.")}
    for name, table in card.tables.items():
        np.testing.assert_allclose(table.latency_s, sibling.tables[name].latency_s * slowdown)
        assert table.provenance["derived"] and table.provenance["package"] == sibling.tables[name].provenance["package"]
    # a GPU-bound denoiser is never priced faster on the PCIe card than on its SXM sibling
    for model in ("sd15", "sdxl", "pixart-sigma", "flux1-dev"):
        fast = estimate_arrays(_cfg(model, sxm, batch=16)).breakdown_s["denoise"]
        slow = estimate_arrays(_cfg(model, pcie, batch=16)).breakdown_s["denoise"]
        assert slow >= fast, model
    note = pricing_note(_cfg("sdxl", pcie))
    assert "measured kernel tables" in note and "slowed" in note
