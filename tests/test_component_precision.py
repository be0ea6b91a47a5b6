"""--precision is the denoiser's (or the AR decoder's): text encoders and the VAE stay 16-bit, as MLPerf
Inference's int8/fp8 SDXL runs them (issue 27 item 4)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.engine.estimate import Config, estimate_arrays, host_speed
from tokcost.engine.profiles import efficiency
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels

CAT = Catalog.default()
ENGINES = load_engines()
DIFFUSION = [m for m in CAT.ids("models") if CAT.model(m).family == "diffusion"]


def cli_estimate(model: str, hardware: str, *options: str) -> dict:
    """``tokcost estimate --format json`` of ``model`` on ``hardware`` with ``options``, parsed."""
    r = CliRunner().invoke(app, ["estimate", "--model", model, "--hardware", hardware, *options, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def breakdown(model: str, hardware: str, precision: str, **kw) -> dict:
    cfg = Config(
        model=CAT.model(model),
        hardware=CAT.hardware(hardware),
        profiles=ENGINES,
        precision=precision,
        kernels=hardware_kernels,  # as the product prices: measured GEMM tables where the chip has one
        **kw,
    )
    return estimate_arrays(cfg)


@pytest.mark.parametrize("hardware", ["h100-sxm", "a100-80gb-sxm", "l4", "rtx-4090"])
@pytest.mark.parametrize("model", DIFFUSION)
def test_precision_leaves_text_encoders_and_vae_unchanged(model, hardware):
    base = breakdown(model, hardware, "bf16")
    for precision in ("fp8", "int8", "int4"):
        other = breakdown(model, hardware, precision)
        assert float(other.breakdown_s["text_encoders"]) == float(base.breakdown_s["text_encoders"])
        assert float(other.breakdown_s["vae_decode"]) == float(base.breakdown_s["vae_decode"])
        vae = CAT.model(model).vae.dtype or "bf16"  # the type the model's own pipelines load the VAE in
        assert other.breakdown_precision == {"text_encoders": "bf16", "denoise": precision, "vae_decode": vae}


def test_int8_speeds_up_the_denoiser_of_a_compute_bound_model():
    """At batch 16 the UNet is compute-bound (at batch 1 eager SDXL on an H100 waits on its host)."""
    base, int8 = breakdown("sdxl", "h100-sxm", "bf16", batch=16), breakdown("sdxl", "h100-sxm", "int8", batch=16)
    assert float(int8.breakdown_s["denoise"]) < float(base.breakdown_s["denoise"])


def test_estimate_notes_say_only_the_unets_linear_and_conv_layers_run_int8():
    out = cli_estimate("sdxl", "h100-sxm", "--precision", "int8")
    assert out["breakdown_precision"] == {"text_encoders": "bf16", "denoise": "int8", "vae_decode": "bf16"}
    assert any(
        "int8 applies to the UNet's linear and conv layers only" in n and "VAE run bf16" in n for n in out["notes"]
    )


def test_sixteen_bit_needs_no_note_and_ar_names_its_decoder():
    assert not any("applies to" in n for n in cli_estimate("sdxl", "h100-sxm")["notes"])
    ar = next(m for m in CAT.ids("models") if CAT.model(m).family == "ar")
    out = cli_estimate(ar, "h100-sxm", "--precision", "int8")
    assert out["breakdown_precision"] == {"prefill": "int8", "decode": "int8"}
    assert any("decoder's linear layers only" in n for n in out["notes"])


def test_an_fp16_sdxl_pipeline_decodes_in_fp32_at_the_tf32_rate():
    """diffusers upcasts SDXL's VAE (force_upcast) when the pipeline is fp16: cuDNN runs its convolutions in TF32
    (half the 16-bit tensor rate on an A100), or at the fp32 rate on a chip without TF32 (T4); a bf16 pipeline,
    and SD 1.5's pipeline, which never upcasts, keep it 16-bit."""
    for hardware in ("a100-80gb-sxm", "t4"):
        hw = CAT.hardware(hardware)
        fp16, bf16 = breakdown("sdxl", hardware, "fp16"), breakdown("sdxl", hardware, "bf16")
        assert fp16.breakdown_precision["vae_decode"] == "fp32" and bf16.breakdown_precision["vae_decode"] == "bf16"
        fp32_rate = hw.dense_tflops.tf32 or hw.dense_tflops.fp32
        fixed = float(ENGINES["eager"].fixed_per_step_s.central)  # the one launch-side cost of the decode
        ratio = (float(fp16.breakdown_s["vae_decode"]) - fixed) / (float(bf16.breakdown_s["vae_decode"]) - fixed)
        assert ratio == pytest.approx(hw.dense_tflops.bf16 / fp32_rate, rel=1e-9)
    a100 = CAT.hardware("a100-80gb-sxm")
    assert a100.dense_tflops.bf16 / a100.dense_tflops.tf32 == 2.0
    sd15 = breakdown("sd15", "a100-80gb-sxm", "fp16")
    assert sd15.breakdown_precision == {"text_encoders": "fp16", "denoise": "fp16", "vae_decode": "fp16"}
    assert float(sd15.breakdown_s["vae_decode"]) == float(
        breakdown("sd15", "a100-80gb-sxm", "bf16").breakdown_s["vae_decode"]
    )


@pytest.mark.parametrize("model", ["wan21-1.3b", "wan21-14b", "wan22-ti2v-5b", "wan22-t2v-a14b"])
def test_wan_decodes_in_fp32_as_its_code_loads_the_vae(model):
    """Wan's repositories load the VAE in fp32 (WanVAE(dtype=torch.float)) and diffusers' documented usage does too:
    whatever the run's precision the decode runs at the TF32 rate, twice the bf16 decode's time on an H100 (less the
    launch-side cost of milliseconds each pays), and says so; --vae-precision bf16 prices a pipeline loaded whole in
    bf16."""
    assert CAT.model(model).vae.dtype == "fp32"
    h100 = CAT.hardware("h100-sxm")
    for precision in ("bf16", "fp16", "fp8"):
        own, bf16 = (
            breakdown(model, "h100-sxm", precision),
            breakdown(model, "h100-sxm", precision, vae_precision="bf16"),
        )
        assert own.breakdown_precision["vae_decode"] == "fp32" and bf16.breakdown_precision["vae_decode"] == "bf16"
        # the decode's convolutions at the TF32 rate against the bf16 one; the one launch-side cost each pays
        # (the engine's fixed_per_step_s on this chip's host) left out
        fixed = float(efficiency(ENGINES["eager"], h100, host_speed=host_speed(h100)).fixed_per_step_s)
        ratio = (float(own.breakdown_s["vae_decode"]) - fixed) / (float(bf16.breakdown_s["vae_decode"]) - fixed)
        assert ratio == pytest.approx(h100.dense_tflops.bf16 / h100.dense_tflops.tf32, rel=1e-9)
    out = cli_estimate(model, "h100-sxm")
    assert any("VAE decodes in fp32" in n and "vae.dtype" in n for n in out["notes"])
    assert not any(
        "VAE decodes in fp32" in n for n in cli_estimate(model, "h100-sxm", "--vae-precision", "bf16")["notes"]
    )


def test_an_fp16_run_prices_its_text_encoders_at_the_fp16_rate():
    """A T4 has fp16 tensor cores but no bf16 ones: an fp16 pipeline's text encoders run at the fp16 rate."""
    fp16, bf16 = breakdown("sd15", "t4", "fp16", batch=16), breakdown("sd15", "t4", "bf16", batch=16)
    assert float(fp16.breakdown_s["text_encoders"]) < float(bf16.breakdown_s["text_encoders"])


def test_the_upcast_is_stated_in_the_notes():
    out = cli_estimate("sdxl", "a100-80gb-sxm", "--precision", "fp16")
    assert out["breakdown_precision"]["vae_decode"] == "fp32"
    assert any("VAE decodes in fp32" in n and "force_upcast" in n for n in out["notes"])


def test_vae_precision_chooses_the_vaes_type():
    """--vae-precision overrides the pipeline's choice: fp16 prices SDXL with a 16-bit VAE (sdxl-vae-fp16-fix), as
    fast as the bf16 pipeline's on an A100 (one 16-bit rate) and without the upcast note; fp32 on SD 1.5 decodes at
    the TF32 rate and holds the VAE's weights in 4 bytes."""
    fixed = breakdown("sdxl", "a100-80gb-sxm", "fp16", vae_precision="fp16")
    bf16 = breakdown("sdxl", "a100-80gb-sxm", "bf16")
    assert fixed.breakdown_precision["vae_decode"] == "fp16"
    assert float(fixed.breakdown_s["vae_decode"]) == float(bf16.breakdown_s["vae_decode"])
    out = cli_estimate("sdxl", "a100-80gb-sxm", "--precision", "fp16", "--vae-precision", "fp16")
    assert out["breakdown_precision"]["vae_decode"] == "fp16"
    assert not any("force_upcast" in n for n in out["notes"])

    sd15, sd15_fp32 = (
        breakdown("sd15", "a100-80gb-sxm", "bf16"),
        breakdown("sd15", "a100-80gb-sxm", "bf16", vae_precision="fp32"),
    )
    assert sd15_fp32.breakdown_precision["vae_decode"] == "fp32"
    assert float(sd15_fp32.breakdown_s["vae_decode"]) > float(sd15.breakdown_s["vae_decode"])
    vae_weights = CAT.model("sd15").vae.params_b * 1e9
    assert float(sd15_fp32.memory.weights) - float(sd15.memory.weights) == pytest.approx(2 * vae_weights)


def test_a_validation_entry_that_states_its_vae_type_is_priced_with_it():
    from tokcost.core.validate import build_config
    from tokcost.engine.estimate import estimate_arrays
    from tokcost.records.measurements import Entry

    entry = {
        "id": "x", "family": "diffusion-image", "metric": "latency_s", "measured": 1.0, "model": "sdxl",
        "hardware": "a100-80gb-sxm", "engine": "eager", "source": "test",
        "conditions": {"width": 1024, "height": 1024, "batch": 1, "precision": "fp16"},
    }  # fmt: skip
    default = estimate_arrays(build_config(Entry.model_validate(entry), CAT))
    entry["conditions"]["vae_precision"] = "fp16"
    fixed = estimate_arrays(build_config(Entry.model_validate(entry), CAT))
    assert (default.breakdown_precision["vae_decode"], fixed.breakdown_precision["vae_decode"]) == ("fp32", "fp16")
    assert float(fixed.breakdown_s["vae_decode"]) < float(default.breakdown_s["vae_decode"])


def test_vae_precision_is_refused_for_a_model_without_a_vae_decode():
    ar = next(m for m in CAT.ids("models") if CAT.model(m).vae is None)
    r = CliRunner().invoke(
        app, ["estimate", "--model", ar, "--hardware", "h100-sxm", "--vae-precision", "fp16", "--format", "json"]
    )
    assert r.exit_code == 2
    assert "--vae-precision" in r.output and "no VAE decode" in r.output


def test_a_spec_can_choose_the_vaes_type(tmp_path):
    """candidates.vae_precision reaches every candidate's estimate: an fp16 SDXL plan with a 16-bit VAE is no
    slower than the same plan decoding in fp32."""
    from tokcost import api

    def spec(vae):
        data = {
            "version": 1,
            "name": f"sdxl-vae-{vae}",
            "product": {"kind": "image", "width": 1024, "height": 1024, "quality_tier": "draft"},
            "demand": {"requests_per_day": 1000},
            "budget": {"latency_s": 120},
            "candidates": {"models": ["sdxl"], "hardware": ["a100-80gb-sxm"], "engines": ["eager"],
                           "gpus_per_replica": [1], "precision": "fp16", "vae_precision": vae},
        }  # fmt: skip
        return api.analyze(data).specs[0].candidates

    fp16, fp32 = spec("fp16"), spec("fp32")
    by_batch = {c.batch: c.latency_s.central for c in fp32}
    assert all(c.latency_s.central < by_batch[c.batch] for c in fp16 if c.batch in by_batch)


def test_a_sweep_can_choose_the_vaes_type():
    """sweep's vae_precision reaches the models with a VAE decode and leaves the others' rows as they were."""
    from tokcost import api

    def rows(vae):
        cols = api.sweep(
            models=["sdxl", "emu3-gen"],
            hardware=["a100-80gb-sxm"],
            resolutions=[(1024, 1024)],
            engines=["eager"],
            precision="fp16",
            vae_precision=vae,
        ).columns
        return {m: float(t) for m, t in zip(cols["model"], cols["latency_s"])}

    default, fixed = rows(None), rows("fp16")
    assert fixed["sdxl"] < default["sdxl"]
    assert fixed["emu3-gen"] == default["emu3-gen"]


@pytest.mark.parametrize("hardware", ["v100-sxm2-16gb", "t4"])
@pytest.mark.parametrize("model", ["sd15", "sdxl", "pixart-sigma"])
def test_an_fp16_pipeline_never_runs_on_the_bf16_units(model, hardware):
    """Volta and Turing have fp16 tensor cores and no bf16 ones (their bf16 rate is the fp32 lanes'): every part of
    an fp16 pipeline, its attention kernels included, runs at fp16 rates, so the chip's bf16 figure cannot move it."""
    hw = CAT.hardware(hardware)
    assert hw.dense_tflops.fp16 > 4 * hw.dense_tflops.bf16
    faster_bf16 = hw.model_copy(update={"dense_tflops": hw.dense_tflops.model_copy(update={"bf16": 1000.0})})
    own = breakdown(model, hardware, "fp16")
    moved = estimate_arrays(
        Config(
            model=CAT.model(model), hardware=faster_bf16, profiles=ENGINES, precision="fp16", kernels=hardware_kernels
        )
    )
    for part, seconds in own.breakdown_s.items():
        assert float(moved.breakdown_s[part]) == float(seconds), part


@pytest.mark.parametrize(("model", "hardware"), [("flux1-dev", "h100-sxm"), ("sd3-medium", "rtx-4090")])
def test_eager_int8_weight_only_dequantises_op_by_op(model, hardware):
    """torchao's and gpt-fast's int8 weight-only linears, run eager, convert every weight to 16 bits and scale every
    output in kernels of their own around a 16-bit matmul: never faster than bf16 eager, where compiling fuses both
    into the matmul (physics.UNFUSED_DEQUANT)."""
    eager_int8 = breakdown(model, hardware, "int8-wo", engine="eager").breakdown_s["denoise"]
    eager_bf16 = breakdown(model, hardware, "bf16", engine="eager").breakdown_s["denoise"]
    compiled_int8 = breakdown(model, hardware, "int8-wo", engine="compiled").breakdown_s["denoise"]
    assert eager_int8 > eager_bf16 > compiled_int8
    notes = " ".join(cli_estimate(model, hardware, "--precision", "int8-wo")["notes"])
    assert "converts its whole weight to 16 bits" in notes
    compiled = " ".join(cli_estimate(model, hardware, "--precision", "int8-wo", "--engine", "compiled")["notes"])
    assert "converts its whole weight" not in compiled


def test_an_eager_int8_decode_step_reads_five_bytes_a_weight():
    from tokcost.engine.physics import DEQUANT_COPY_BYTES, DEQUANT_MATMUL_BYTES, decode_weight_bytes, weight_read_bytes

    hw = CAT.hardware("a100-80gb-sxm")
    eager = efficiency(ENGINES["eager"], hw, "central", None, ENGINES["eager"], None, host_speed(hw))
    compiled = efficiency(ENGINES["compiled"], hw, "central", None, ENGINES["eager"], None, host_speed(hw))
    assert float(decode_weight_bytes("int8-wo", eager)) == DEQUANT_COPY_BYTES + DEQUANT_MATMUL_BYTES == 5.0
    assert float(decode_weight_bytes("int8-wo", compiled)) == weight_read_bytes("int8-wo") < 2.0  # fused
    assert float(decode_weight_bytes("int4", eager)) == weight_read_bytes("int4")  # tinygemm dequantises inside


def test_w8a8_decoding_gains_less_than_its_halved_bytes():
    """vLLM's W8A8 decode reads its int8 weights at 0.765 of the bf16 kernels' rate (physics.WEIGHT_READ_EFFICIENCY,
    from Red Hat's paired bf16 / W8A8 model cards): faster than bf16, slower than the bytes alone would make it."""
    from tokcost.engine.physics import WEIGHT_BYTES, weight_read_bytes

    assert WEIGHT_BYTES["int8"] < weight_read_bytes("int8") < WEIGHT_BYTES["bf16"]
    bf16 = cli_estimate("emu3-gen", "a100-80gb-sxm", "--engine", "vllm")["latency_s"]
    int8 = cli_estimate("emu3-gen", "a100-80gb-sxm", "--engine", "vllm", "--precision", "int8")["latency_s"]
    assert bf16 / 2 < int8 < bf16
