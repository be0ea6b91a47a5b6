"""Diffusion guidance run as two denoiser calls per step (unbatched: diffusers' QwenImagePipeline, Wan's
generate.py) and mixture-of-experts denoisers (Wan2.2 A14B: one of two experts runs each step)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.engine.estimate import engine_cfg_mode
from tokcost.io.catalog import Catalog

CAT = Catalog.default()


def estimate(model: str, hardware: str, *options: str) -> dict:
    r = CliRunner().invoke(app, ["estimate", "--model", model, "--hardware", hardware, *options, "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_unbatched_guidance_is_the_presets_and_survives_compiling():
    model = CAT.model("qwen-image")
    assert model.diffusion.cfg == "unbatched"
    # compiled compiles the denoiser; the pipeline still calls it once per branch
    assert engine_cfg_mode(model, "compiled") == "unbatched"
    # a decoder's reference loop is batched by an optimised engine
    assert engine_cfg_mode(CAT.model("llamagen-xl"), "vllm") == "batched"


# (chip, least ratio of two calls' denoise time to one batch's): a 512 px Qwen-Image step is launch-bound on an
# H100, so two calls pay the host twice; on an RTX 4090 its GPU work binds and two calls cost about the same
@pytest.mark.parametrize("hardware, least", [("h100-sxm", 1.3), ("rtx-4090", 1.0)])
def test_two_calls_do_the_same_work_as_one_batch_of_two_and_take_no_less(hardware, least):
    args = ("--width", "512", "--height", "512", "--steps", "20")
    one = estimate("qwen-image", hardware, *args, "--cfg", "batched")
    two = estimate("qwen-image", hardware, *args, "--cfg", "unbatched")
    assert two["cfg"] == "unbatched" and one["cfg"] == "batched"
    assert two["flops"] == pytest.approx(one["flops"], rel=1e-9)
    # the negative prompt is encoded either way, and the VAE decodes one image
    for part in ("text_encoders", "vae_decode"):
        assert two["breakdown_s"][part] == pytest.approx(one["breakdown_s"][part], rel=1e-9)
    assert two["breakdown_s"]["denoise"] >= least * one["breakdown_s"]["denoise"]


def test_an_expert_mixture_holds_every_expert_and_runs_one():
    moe, dense = CAT.model("wan22-t2v-a14b"), CAT.model("wan21-14b")
    assert moe.denoiser.experts == 2 and dense.denoiser.experts is None
    assert moe.denoiser.active_params_b == pytest.approx(dense.denoiser.params_b)
    same = ("--width", "1280", "--height", "720", "--frames", "81", "--steps", "40", "--cfg", "batched")
    a = estimate("wan22-t2v-a14b", "h200-sxm", *same)
    b = estimate("wan21-14b", "h200-sxm", *same)
    # one 14B forward a step: the same work and time as the dense model of the expert's shape
    assert a["flops"] == pytest.approx(b["flops"], rel=1e-9)
    assert a["breakdown_s"]["denoise"] == pytest.approx(b["breakdown_s"]["denoise"], rel=1e-6)
    # both experts stay in memory
    extra = a["memory_gb"]["weights"] - b["memory_gb"]["weights"]
    assert extra == pytest.approx((moe.denoiser.params_b - dense.denoiser.params_b) * 2.0, rel=1e-6)
