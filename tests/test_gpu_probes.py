"""scripts/gpu_probes.py, the device script for the accuracy leads, runs end to end on the CPU at tiny shapes (its
--quick smoke mode): every probe returns rows with positive times, prices each operator against the preset it is
given (an H100: its GEMMs from the measured table), and writes them as JSON. No timing is compared."""

import importlib.util
import json
import math

import pytest

pytest.importorskip("torch")


def _probes():
    import gpu_probes  # scripts/ is on the tests' path (pyproject.toml's pythonpath)

    return gpu_probes


def test_probes_run_on_the_cpu_and_price_each_operator(tmp_path, capsys):
    out = tmp_path / "probes.json"
    argv = ["--device", "cpu", "--quick", "--hardware", "h100-sxm", "--repeats", "1", "--output", str(out)]
    assert _probes().main(argv) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert result["preset"] == "h100-sxm" and result["quick"] is True
    conv = [r for r in rows if r["probe"] == "conv"]
    attention = [r for r in rows if r["probe"] == "attention"]
    assert conv and attention
    for r in conv:
        m, n, k = r["gemm_mnk"]
        assert m == r["batch"] * r["latent_side"] ** 2 and n == r["channels"] and k == 9 * r["channels"]
        assert min(r["nchw_s"], r["channels_last_s"], r["mm_s"], r["priced_s"]) > 0
        assert r["priced_by"] == "table"  # the H100 has a measured GEMM table
    for r in attention:  # on the CPU SDPA picks its own kernel, which no tokcost kernel names: not priced
        assert r["kernel"] == "cpu" and r["measured_s"] > 0 and math.isnan(r["priced_s"])
    decode = [r for r in rows if r["probe"] == "decode" and "skipped" not in r]
    if importlib.util.find_spec("transformers") is not None:  # the [hf] extra, which CI installs
        assert {r["attention"] for r in decode} >= {"sdpa", "eager"}
        # a step is the difference of two generate() times, clamped at 0 (time_per_token): on a busy machine the
        # tiny CPU shapes can give 0, so only its sign is checked, not that it is measurable
        assert all(r["measured_s"] >= 0 and r["priced_s"] > 0 for r in decode)
    vae = [r for r in rows if r["probe"] == "vae"]
    captured = capsys.readouterr()
    assert "priced against h100-sxm" in captured.out
    dit = [r for r in rows if r["probe"] == "dit"]
    if importlib.util.find_spec("diffusers") is not None:
        assert {r["dtype"] for r in vae} == {"bf16", "fp32"} and all(r["priced_s"] > 0 for r in vae)
        # both DiTs, eager and compiled; --quick's shapes are no model tokcost prices
        assert {(r["model"], r["engine"]) for r in dit} == {
            (m, e) for m in ("sd35-large", "flux1-dev") for e in ("eager", "compiled")
        }
        assert all(r["measured_s"] > 0 and math.isnan(r["priced_s"]) for r in dit)
    else:  # the [counts] extra is not installed in CI: the probes say they are skipped
        assert not vae and "vae: skipped" in captured.err
        assert not dit and "dit: skipped" in captured.err
    (sustained,) = [r for r in rows if r["probe"] == "sustained"]
    assert sustained["windows"] >= 1 and sustained["first_tflops"] > 0 and sustained["priced_by"] == "table"
    assert math.isnan(sustained["last_sm_mhz"])  # no nvidia-smi reading on the CPU


def test_without_a_preset_nothing_is_priced(tmp_path):
    out = tmp_path / "probes.json"
    assert (
        _probes().main(["--device", "cpu", "--quick", "--probes", "conv", "--repeats", "1", "--output", str(out)]) == 0
    )
    rows = json.loads(out.read_text())["rows"]
    assert rows and all(math.isnan(r["priced_s"]) and r["priced_by"] == "no preset" for r in rows)


def test_the_priced_attention_follows_the_pinned_kernel():
    """The attention probe pins SDPA's backend and prices the kernel it pinned: FlashAttention-2 anywhere, cuDNN's
    fused attention where the preset has its figure (an H100), NaN where it has none."""
    from tokcost.io.catalog import Catalog

    probes, cat = _probes(), Catalog.default()
    h100, rtx3090 = probes.Pricing(cat.hardware("h100-sxm")), probes.Pricing(cat.hardware("rtx-3090"))
    flops = 4.0 * 2 * 24 * 4096**2 * 64
    fa2, cudnn = h100.attention_s(flops, 64, "fa2"), h100.attention_s(flops, 64, "cudnn")
    assert 0 < cudnn < fa2  # cuDNN's measured rate on an H100 is FlashAttention-3's, above FlashAttention-2's
    assert rtx3090.attention_s(flops, 64, "fa2") > 0 and math.isnan(rtx3090.attention_s(flops, 64, "cudnn"))
