"""`tokcost bench` and calibration files: the sampler's arithmetic, the decoder's KV cache, the fit, a tiny CPU
benchmark end to end, and calibrations read back by `estimate`. Tests that need torch skip cleanly without it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import tokcost.api
from tokcost.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def invoke(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


# ------------------------------------------------------------------------------------------ sampler and decoder


def test_cfg_mix_is_uncond_plus_scale_times_difference():
    torch = pytest.importorskip("torch")
    from tokcost.bench.decoder import cfg_mix

    cond = torch.tensor([[1.0, 2.0, -4.0]])
    uncond = torch.tensor([[0.5, 3.0, -4.0]])
    assert torch.equal(cfg_mix(cond, uncond, 3.0), torch.tensor([[2.0, 0.0, -4.0]]))
    assert torch.equal(cfg_mix(cond, uncond, 1.0), cond)
    assert torch.equal(cfg_mix(cond, uncond, 0.0), uncond)


def test_top_k_sampling_is_seeded_and_stays_in_the_top_k():
    torch = pytest.importorskip("torch")
    from tokcost.bench.decoder import sample_top_k

    logits = torch.tensor([[0.0, 5.0, 1.0, 4.0, -2.0, 3.0]]).repeat(64, 1)
    a = sample_top_k(logits, 1.0, 3, torch.Generator().manual_seed(7))
    b = sample_top_k(logits, 1.0, 3, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert set(a.tolist()) <= {1, 3, 5} and len(set(a.tolist())) > 1
    # the same draw by hand: temperature, top-k, softmax, multinomial with the same generator state
    g = torch.Generator().manual_seed(7)
    values, index = torch.topk(logits / 1.0, 3, dim=-1)
    expected = index.gather(-1, torch.multinomial(torch.softmax(values, -1), 1, generator=g)).squeeze(-1)
    assert torch.equal(a, expected)
    assert torch.equal(sample_top_k(logits, 1.0, 1), torch.full((64,), 1))  # top-1 = arg-max
    assert torch.equal(sample_top_k(logits, 0.0, 3), torch.full((64,), 1))  # temperature 0 = greedy
    cold = sample_top_k(logits, 0.05, 3, torch.Generator().manual_seed(1))  # low temperature sharpens
    assert (cold == 1).all()


def test_kv_cache_decode_matches_a_full_prefill():
    """Prefill t tokens then decode one == prefill t+1 tokens (RoPE positions, GQA and the cache agree)."""
    torch = pytest.importorskip("torch")
    from tokcost.bench.decoder import Decoder, Shape

    dec = Decoder(Shape(layers=2, hidden=64, heads=4, kv_heads=2, head_dim=16, ffn=96, vocab=50), dtype="fp32")
    dec.allocate_cache(2, 16)
    tokens = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = dec.logits(dec.layers(dec.embed(tokens), 0, slice(0, 2)))
        dec.layers(dec.embed(tokens[:, :8]), 0, slice(0, 2))
        step = dec.logits(dec.layers(dec.embed(tokens[:, 8:]), 8, slice(0, 2)))
    assert torch.allclose(full, step, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------------------ fit (numpy only)


@pytest.mark.parametrize("elementwise", [False, True])
def test_fit_recovers_the_efficiencies_that_made_the_data(elementwise):
    """With the prefill's element-wise kernels priced in the data (as an estimate prices them), the fit recovers
    the GEMMs' mfu, not one lowered to absorb them: the figure means in an estimate what it meant here."""
    from tokcost.bench.calibrate import Arch, Targets, fit_efficiency, predict
    from tokcost.engine.profiles import Efficiency
    from tokcost.io.elementwise import load_elementwise

    widths = {"hidden": 4096, "ffn": 14336} if elementwise else {}
    passes = load_elementwise().decoder_passes() if elementwise else None
    archs = {
        "run": Arch(2, 32, 8, 128, 1.2, **widths),
        "full": Arch(32, 32, 8, 128, 7.7, **widths),
        "prefill": Arch(2, 32, 8, 128, 0.44, **widths),
    }
    rows = [(w, n, t, p) for w in ("run", "full") for n in (1, 2, 8, 64, 256) for t in (128, 1024) for p in (1, 2)]
    rows += [("prefill", n, t, 1) for n in (2, 8) for t in (128, 1024)]
    which, n, t, p = (np.array(c) for c in zip(*rows))
    fit = np.arange(len(rows)) % 2 == 0
    true = Efficiency(mfu=0.6, mbu=0.8, host_per_layer_s=3e-5, fixed_per_step_s=2e-3)
    P, BW = 989e12, 4.8e12
    base = Targets(which, n, t, p, np.ones(len(rows)), fit, np.arange(len(rows)))
    y = predict(base, archs, P, BW, 2.0, true, passes)
    if elementwise:  # the element-wise kernels are a real share of these prefills
        assert np.all(y[which == "prefill"] > predict(base, archs, P, BW, 2.0, true)[which == "prefill"] * 1.05)
    res = fit_efficiency(Targets(which, n, t, p, y, fit, np.arange(len(rows))), archs, P, BW, 2.0, passes)
    e = res.efficiency
    assert e.mfu == pytest.approx(0.6, rel=0.05) and e.mbu == pytest.approx(0.8, rel=0.05)
    assert e.fixed_per_step_s == pytest.approx(2e-3, rel=0.1)
    assert res.holdout_error < 0.02


# ------------------------------------------------------------------------------------------ the CPU benchmark


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("bench") / "cal.yaml"
    r = invoke(
        "bench",
        "--model",
        "llamagen-b",
        "--layers",
        "1",
        "--batches",
        "1,2",
        "--contexts",
        "16,64",
        "--repeats",
        "3",
        "--format",
        "json",
        "--output",
        out,
    )
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout), out


def test_cpu_bench_reports_the_grid_ceilings_and_holdout_error(tiny_bench):
    data, out = tiny_bench
    assert data["schema_version"] == 1
    assert data["ceilings"]["copy_gbps"] > 0 and data["ceilings"]["matmul_tflops"] > 0
    assert data["device"]["kind"] == "cpu" and data["device"]["preset"] is None
    assert data["calibration"] == str(out)
    assert isinstance(data["holdout_error"], float) and data["holdout_error"] >= 0
    points = data["points"]
    assert len(points) == 2 * 2 * 3  # (batch, context) cells x (prefill, batched, unbatched)
    assert {(p["kind"], p["cfg"]) for p in points} == {
        ("prefill", "batched"),
        ("decode", "batched"),
        ("decode", "unbatched"),
    }
    assert {p["split"] for p in points} == {"fit", "holdout"}
    for p in points:
        assert not p.get("skipped")
        assert p["achieved_gbps"] > 0 and p["predicted_s"] > 0 and 0 < p["copy_fraction"]
        if p["kind"] == "decode":
            assert p["step_s"] == pytest.approx(p["layers_s"] + p["head_s"] + p["sample_s"])
            # 1 of 12 layers run: the full depth adds 11 more layer stacks
            assert p["full_step_s"] == pytest.approx(12 * p["layers_s"] + p["head_s"] + p["sample_s"])
    unb = [p for p in points if p["cfg"] == "unbatched"]
    assert all(p["passes"] == 2 and p["n_seq"] == p["batch"] for p in unb)


def test_calibration_file_round_trips_and_prices_the_measured_device(tiny_bench):
    from tokcost.engine.profiles import fitted_efficiency
    from tokcost.io.calibration import load_calibration

    data, out = tiny_bench
    cal = load_calibration(out)
    assert cal.data.fit.mfu == pytest.approx(data["fit"]["mfu"])
    assert cal.data.device.id.startswith("measured-")
    assert cal.data.fit.reference == "measured"
    assert len(cal.data.points) == len(data["points"])
    assert cal.fit_for("h100-sxm") is None
    fit = cal.fit_for(cal.data.device.id)
    central, low, high = (fitted_efficiency(fit, band) for band in ("central", "low", "high"))
    assert low.mbu >= central.mbu >= high.mbu
    r = invoke("estimate", "--model", "llamagen-b", "--calibration", out, "--format", "json")
    assert r.exit_code == 0, r.output
    est = json.loads(r.stdout)
    assert est["hardware"] == cal.data.device.id and est["calibration"] == str(out)
    # the estimate's decode step agrees with the fitted model of the measured full-depth steps, for a decoder that
    # reads its cache as the bench's does (the tokens so far, once); LlamaGen's reference code reads its whole
    # preallocated cache four times a step (eager_kv_cache), which only adds to it
    meas = [p for p in data["points"] if p["kind"] == "decode" and p["cfg"] == "batched" and p["batch"] == 1]
    step = est["breakdown_s"]["decode"] / est["tokens"]["forwards"]
    folder, clean = _without_eager_cache_reads("llamagen-b", out.parent)
    plain = tokcost.api.estimate(model=clean, calibration=out, presets=[folder])
    plain_step = plain.breakdown_s["decode"] / plain.tokens["forwards"]
    assert plain_step == pytest.approx(meas[0]["predicted_full_s"], rel=0.5)
    # (where the host binds both, they tie up to rounding: the lines are summed over other segments)
    assert step >= plain_step or step == pytest.approx(plain_step, rel=1e-12)


def _without_eager_cache_reads(model_id: str, parent: Path) -> tuple[Path, str]:
    """A preset folder holding a copy of a built-in model preset under another id, without its eager_kv_cache (and
    that field's source): (the folder, the copy's id)."""
    from tokcost.io.paths import PRESETS_DIR

    doc = yaml.safe_load((PRESETS_DIR / "models" / f"{model_id}.yaml").read_text(encoding="utf-8"))
    doc.pop("eager_kv_cache")
    doc["sources"].pop("eager_kv_cache")
    doc["id"] = f"{model_id}-clean-cache"
    folder = parent / "presets"
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "models" / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder, doc["id"]


def test_table_format_names_the_ceilings_and_holdout_error(tiny_bench, tmp_path):
    from tokcost.render.bench import format_table

    text = format_table(tiny_bench[0])
    assert "ceilings: copy" in text and "holdout_error" in text and "%copy" in text


# ------------------------------------------------------------------------------------------ calibrations by hand


def _calibration(mbu: float, preset: str | None = "h200-sxm"):
    from tokcost.records.calibration import Benchmark, CalibrationFile, Device, Fit, Software

    known = preset is not None  # a GPU no preset describes has a name bench does not map, and measured rates
    dev = Device(
        kind="cuda",
        name="NVIDIA H200" if known else "NVIDIA H200 engineering sample",
        id="measured-nvidia-h200",
        preset=preset,
        memory_gb=150.0,
        copy_gbps=4300.0,
        matmul_tflops=780.0,
        dtype="bf16",
    )
    fit = Fit(
        reference="datasheet" if known else "measured",
        peak_tflops=989.0 if known else 780.0,
        bandwidth_gbps=4800.0 if known else 4300.0,
        mfu=0.7,
        mbu=mbu,
        host_per_layer_s=0.0,
        fixed_per_step_s=0.0,
        fit_error=0.02,
        holdout_error=0.05,
        fit_targets=10,
        holdout_targets=10,
        method="by hand",
    )
    return CalibrationFile(
        version=1,
        created="2026-01-01T00:00:00Z",
        device=dev,
        software=Software(tokcost="0.1.0", python="3.11", torch="2.13.0", cuda="12.8"),
        benchmark=Benchmark(
            model="emu3-gen",
            layers_run=4,
            layers_full=32,
            batches=[1],
            contexts=[128],
            repeats=3,
            cfg_scale=3.0,
            top_k=2048,
            temperature=1.0,
        ),
        fit=fit,
        points=[],
    )


def _write(tmp_path, name, cal):
    from tokcost.io.calibration import dump_calibration

    p = tmp_path / name
    p.write_text(dump_calibration(cal))
    return p


def _decode_s(cal_path, *extra):
    # chameleon-7b: a decode of weight and cache reads alone (Emu3's reference flash_attn_func adds a compute kernel
    # the calibration's mbu does not scale: physics.FA2_DECODE_ROW_COST)
    r = invoke("estimate", "--model", "chameleon-7b", "--calibration", cal_path, "--format", "json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_half_the_mbu_doubles_memory_bound_decode(tmp_path):
    a = _decode_s(_write(tmp_path, "a.yaml", _calibration(0.8)))
    b = _decode_s(_write(tmp_path, "b.yaml", _calibration(0.4)))
    assert a["hardware"] == b["hardware"] == "h200-sxm"  # no --hardware: the calibration's device
    assert a["bound"] == "memory"
    assert b["breakdown_s"]["decode"] / a["breakdown_s"]["decode"] == pytest.approx(2.0, rel=0.01)
    assert b["latency_s_band"]["low"] < b["latency_s"] < b["latency_s_band"]["high"]
    # another device is priced with the engine's assumed factors, untouched by the calibration
    c = _decode_s(_write(tmp_path, "c.yaml", _calibration(0.4)), "--hardware", "a100-80gb-sxm")
    d = _decode_s(_write(tmp_path, "d.yaml", _calibration(0.8)), "--hardware", "a100-80gb-sxm")
    assert c["latency_s"] == d["latency_s"]


def test_unknown_gpu_calibration_becomes_a_measured_hardware_preset(tmp_path):
    from tokcost.io.calibration import load_calibration
    from tokcost.io.catalog import Catalog

    path = _write(tmp_path, "u.yaml", _calibration(0.8, preset=None))
    hw = load_calibration(path).hardware_preset(Catalog.default())
    assert hw.vendor == "measured" and hw.id == "measured-nvidia-h200"
    assert hw.bandwidth_tbps == pytest.approx(4.3) and hw.dense_tflops.bf16 == pytest.approx(780.0)
    assert str(path) in hw.sources["memory_gb"]
    assert _decode_s(path)["hardware"] == "measured-nvidia-h200"


def test_bad_calibration_file_exits_2_with_line_and_column(tmp_path):
    text = (_write(tmp_path, "good.yaml", _calibration(0.8))).read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  mbu: 0.8\n", "  mbu: 7.5\n  mbu_extra: 1\n"))
    r = invoke("estimate", "--model", "emu3-gen", "--calibration", bad)
    assert r.exit_code == 2
    mbu_line = bad.read_text().splitlines().index("  mbu: 7.5") + 1
    assert re.search(re.escape(str(bad)) + rf":{mbu_line}:\d+: fit\.mbu: ", r.output), r.output
    assert re.search(re.escape(str(bad)) + rf":{mbu_line + 1}:\d+: fit\.mbu_extra: unknown field", r.output), r.output
    assert "Traceback" not in r.output


# ------------------------------------------------------------------------------------------ usage errors


def test_gpu_without_cuda_exits_2():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = invoke("bench", "--gpu", "--layers", "1")
    assert r.exit_code == 2 and "CUDA" in r.output


def test_missing_torch_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    r = invoke("bench")
    assert r.exit_code == 2 and "pip install 'tokcost[bench]'" in r.output


@pytest.mark.parametrize(
    "flags",
    [
        ["--batches", "1,x"],
        ["--contexts", "0"],
        ["--model", "sdxl"],
        ["--model", "nope"],
        ["--layers", "99", "--model", "llamagen-b"],
    ],
)
def test_bad_bench_flags_exit_2(flags):
    pytest.importorskip("torch")
    r = invoke("bench", *flags)
    assert r.exit_code == 2, r.output


def test_help_does_not_import_torch():
    code = (
        "import sys; from tokcost.cli.app import main; sys.argv=['tokcost','--help']\n"
        "try: main()\nexcept SystemExit: pass\nassert 'torch' not in sys.modules, 'torch imported'"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------------------------------ transformers engine


def test_transformers_engine_reports_time_per_token_next_to_the_custom_decoder():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    r = invoke(
        "bench",
        "--model",
        "llamagen-b",
        "--layers",
        "1",
        "--batches",
        "1",
        "--contexts",
        "16",
        "--repeats",
        "2",
        "--engine",
        "transformers",
        # enough tokens that the difference of the two fastest-of-N generates stays above a busy machine's noise
        "--new-tokens",
        "12",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["transformers"]
    assert len(rows) == 1 and rows[0]["transformers_s_per_token"] > 0 and rows[0]["ratio"] > 0


def test_a_calibration_of_other_hardware_is_named_as_not_applied(tmp_path):
    """Estimate and analyze say so (a warning on stderr and in the result) when the calibration's device is not
    the priced hardware; on its own device there is no warning."""
    cal = _write(tmp_path, "cal.yaml", _calibration(0.8))
    other = invoke(
        "estimate", "--model", "emu3-gen", "--hardware", "a100-80gb-sxm", "--calibration", cal, "--format", "json"
    )
    assert other.exit_code == 0, other.output
    (warning,) = json.loads(other.stdout)["warnings"]
    assert "measured on NVIDIA H200 (h200-sxm), not on a100-80gb-sxm: it is not applied" in warning
    assert f"warning: {warning}" in other.stderr
    same = invoke("estimate", "--model", "emu3-gen", "--hardware", "h200-sxm", "--calibration", cal, "--format", "json")
    assert json.loads(same.stdout)["warnings"] == [] and "warning" not in same.stderr
    spec = ROOT / "specs" / "storefront-images.yaml"  # candidates h100-sxm and a100-80gb-sxm
    r = invoke("analyze", spec, "--calibration", cal, "--format", "json")
    assert r.exit_code == 0, r.output
    assert "not applied" in json.loads(r.stdout)["specs"][0]["warnings"][0]
    assert "warning: storefront-images: the calibration" in r.stderr


def test_a_fitted_fraction_above_one_is_a_warning():
    from tokcost.bench.run import fit_warnings

    fine = _calibration(0.8).fit
    assert fit_warnings(fine) == []
    (w,) = fit_warnings(fine.model_copy(update={"mfu": 1.3}))
    assert "mfu is 1.30, above 1" in w and "idle machine" in w


@pytest.mark.parametrize(
    ("batches", "contexts", "blamed"), [("100000000", "16", "--batches"), ("1", "100000000000", "--contexts")]
)
def test_an_absurd_grid_is_refused_before_anything_is_allocated(batches, contexts, blamed):
    pytest.importorskip("torch")
    r = invoke("bench", "--model", "llamagen-b", "--layers", "1", "--batches", batches, "--contexts", contexts)
    assert r.exit_code == 2, r.output
    assert "KV cache" in r.output and "Traceback" not in r.output
    assert f"{blamed}:" in r.output, r.output  # the option that made the cache too large


def test_the_bench_block_launches_the_kernels_its_calibration_is_converted_by():
    """A calibration's host time per layer is per block of the benchmark's decoder: count that block's launches at
    one decode step with the element-wise script's eager counter, as the launch counts of the models are counted."""
    import importlib.util

    torch = pytest.importorskip("torch")
    from tokcost.bench.decoder import Block, Shape, rope_tables
    from tokcost.engine.physics import BENCH_BLOCK_LAUNCHES

    script = ROOT / "scripts" / "count_elementwise_passes.py"
    spec = importlib.util.spec_from_file_location("count_elementwise_passes", script)
    counter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(counter)
    shape = Shape(layers=1, hidden=256, heads=4, kv_heads=2, head_dim=64, ffn=688, vocab=1024)
    block = Block(shape, "cpu", torch.bfloat16, torch.Generator().manual_seed(0))
    k_cache = torch.zeros(1, shape.kv_heads, 16, shape.head_dim, dtype=torch.bfloat16)
    v_cache = torch.zeros_like(k_cache)
    cos, sin = rope_tables(shape.head_dim, 16, "cpu", torch.bfloat16)

    class Step(torch.nn.Module):
        def forward(self, x):
            return block.forward(x, k_cache, v_cache, 5, cos, sin)

    x = torch.randn(1, 1, shape.hidden, dtype=torch.bfloat16)
    assert counter._count_eager(Step(), {"x": x})[1] == BENCH_BLOCK_LAUNCHES


def test_a_calibrations_host_time_per_block_is_charged_per_launch():
    """Under a calibration, eager's host time of a model's layer = the measured time per bench block x the layer's
    launches / the bench block's (LlamaGen's 63 launches cost 63 / 43 of a measured block); other engines keep
    their own."""
    from tokcost.engine.physics import BENCH_BLOCK_LAUNCHES, host_scale
    from tokcost.engine.profiles import efficiency, fitted_efficiency
    from tokcost.io.catalog import Catalog
    from tokcost.io.engines import load_engines

    fit = _calibration(0.8).fit.model_copy(update={"host_per_layer_s": 4e-4})

    class Measured:
        def fit_for(self, hw_id):
            return fit if hw_id == "h200-sxm" else None

    engines, cat, hw = load_engines(), Catalog.default(), Catalog.default().hardware("h200-sxm")
    eager = efficiency(engines["eager"], hw, calibration=Measured(), eager=engines["eager"])
    vllm = efficiency(engines["vllm"], hw, calibration=Measured(), eager=engines["eager"])
    measured = fitted_efficiency(fit).host_per_layer_s
    assert measured > 0
    for model in ("llamagen-xl", "sd15", "emu3-gen"):
        m = cat.model(model)
        per_layer = eager.host_per_layer_s * float(host_scale(m, eager))
        assert per_layer == pytest.approx(measured * m.launches_per_layer.eager / BENCH_BLOCK_LAUNCHES), model
    assert vllm.host_per_layer_s == efficiency(engines["vllm"], hw).host_per_layer_s
