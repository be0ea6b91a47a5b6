"""--precision is the denoiser's (or the AR decoder's): text encoders and the VAE stay 16-bit, as MLPerf
Inference's int8/fp8 SDXL runs them (issue 27 item 4)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels

CAT = Catalog.default()
ENGINES = load_engines()
DIFFUSION = [m for m in CAT.ids("models") if CAT.model(m).family == "diffusion"]


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
        assert other.breakdown_precision == {"text_encoders": "bf16", "denoise": precision, "vae_decode": "bf16"}


def test_int8_speeds_up_the_denoiser_of_a_compute_bound_model():
    """At batch 16 the UNet is compute-bound (at batch 1 eager SDXL on an H100 waits on its host)."""
    base, int8 = breakdown("sdxl", "h100-sxm", "bf16", batch=16), breakdown("sdxl", "h100-sxm", "int8", batch=16)
    assert float(int8.breakdown_s["denoise"]) < float(base.breakdown_s["denoise"])


def test_estimate_notes_say_only_the_unets_linear_and_conv_layers_run_int8():
    r = CliRunner().invoke(
        app, ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--precision", "int8", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["breakdown_precision"] == {"text_encoders": "bf16", "denoise": "int8", "vae_decode": "bf16"}
    assert any(
        "int8 applies to the UNet's linear and conv layers only" in n and "VAE run bf16" in n for n in out["notes"]
    )


def test_sixteen_bit_needs_no_note_and_ar_names_its_decoder():
    r = CliRunner().invoke(app, ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--format", "json"])
    assert not any("applies to" in n for n in json.loads(r.stdout)["notes"])
    ar = next(m for m in CAT.ids("models") if CAT.model(m).family == "ar")
    r = CliRunner().invoke(
        app, ["estimate", "--model", ar, "--hardware", "h100-sxm", "--precision", "int8", "--format", "json"]
    )
    out = json.loads(r.stdout)
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


def test_an_fp16_run_prices_its_text_encoders_at_the_fp16_rate():
    """A T4 has fp16 tensor cores but no bf16 ones: an fp16 pipeline's text encoders run at the fp16 rate."""
    fp16, bf16 = breakdown("sd15", "t4", "fp16", batch=16), breakdown("sd15", "t4", "bf16", batch=16)
    assert float(fp16.breakdown_s["text_encoders"]) < float(bf16.breakdown_s["text_encoders"])


def test_the_upcast_is_stated_in_the_notes():
    r = CliRunner().invoke(
        app, ["estimate", "--model", "sdxl", "--hardware", "a100-80gb-sxm", "--precision", "fp16", "--format", "json"]
    )
    out = json.loads(r.stdout)
    assert out["breakdown_precision"]["vae_decode"] == "fp32"
    assert any("VAE decodes in fp32" in n and "force_upcast" in n for n in out["notes"])
