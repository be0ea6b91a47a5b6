"""`estimate --architecture config.json`: a Llama-style decoder that has no preset, priced from its Hugging Face
config with the same engine and the same memory check as a preset, and refused (exit 2) when it does not fit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.errors import InputError
from tokcost.io.architecture import load_architecture

runner = CliRunner()

CONFIGS = Path(__file__).resolve().parent / "configs"  # published decoder configs, sources in its README.md
LLAMA2_70B = json.loads((CONFIGS / "llama-2-70b.json").read_text())  # safetensors index: 68,976,648,192 parameters
EMU3_GEN = json.loads((CONFIGS / "emu3-gen.json").read_text())  # the decoder tokcost/data/models/emu3-gen.yaml cites


def write(tmp_path, data, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return path


def test_llama2_70b_parameter_count_is_exact(tmp_path):
    arch = load_architecture(write(tmp_path, LLAMA2_70B))
    assert round(arch.params_b * 1e9) == 68_976_648_192
    assert (arch.layers, arch.kv_heads, arch.head_dim) == (80, 8, 128)
    # matmul parameters: everything but the input embedding and the norms
    assert arch.matmul_params_b * 1e9 == pytest.approx(68_976_648_192 - 32000 * 8192 - (2 * 80 + 1) * 8192)


def test_emu3_config_reproduces_the_preset_and_its_estimate(tmp_path):
    arch = load_architecture(write(tmp_path, EMU3_GEN))
    preset = tokcost.catalog().model("emu3-gen").architecture
    assert arch.model_dump(exclude={"params_b", "matmul_params_b"}) == preset.model_dump(
        exclude={"params_b", "matmul_params_b"}
    )
    assert round(arch.params_b, 2) == preset.params_b and round(arch.matmul_params_b, 2) == preset.matmul_params_b
    kw = dict(model="emu3-gen", hardware="h100-sxm", width=512, height=512, engine="vllm")
    own = tokcost.estimate(**kw)
    custom = tokcost.estimate(**kw, architecture=write(tmp_path, EMU3_GEN))
    assert custom.model == "emu3-gen@config.json"
    assert custom.latency_s == pytest.approx(own.latency_s, rel=0.005)
    assert custom.memory_gb["weights"] == pytest.approx(own.memory_gb["weights"], rel=0.005)


def test_a_decoder_too_large_for_the_gpu_is_refused_with_memory_and_need(tmp_path):
    path = write(tmp_path, LLAMA2_70B)
    r = runner.invoke(app, ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--architecture", str(path)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    # 69.0e9 bf16 parameters are 138 GB of weights against one H100's 80 GB
    assert re.search(r"--architecture: does not fit: .* needs 14\d\.\d GB \(weights 138\.0, .*holds 80\.0 GB", r.output)


def test_the_memory_check_uses_the_engine_s_usable_fraction(tmp_path):
    # two H100s at batch 16: 72.9 GB a GPU fits under eager's 95% (76 GB) but not under vLLM's 90% (72 GB)
    path = write(tmp_path, LLAMA2_70B)
    kw = dict(model="emu3-gen", hardware="h100-sxm", width=256, height=256, gpus=2, batch=16, architecture=path)
    # Llama-2's 4,096 positions hold a 256 px Emu3 image (about 1,100 tokens)
    eager = tokcost.estimate(**kw, engine="eager")
    assert eager.fits_in_memory and 72 < eager.memory_gb["total"] < 76
    with pytest.raises(InputError, match="72.0 GB usable"):
        tokcost.estimate(**kw, engine="vllm")


def test_more_gpus_make_a_large_decoder_fit_and_run_faster(tmp_path):
    path = write(tmp_path, LLAMA2_70B)
    # compiled decode is bandwidth-bound, so tensor parallelism shortens it (eager's is bound by kernel launches)
    kw = dict(model="emu3-gen", hardware="h100-sxm", width=256, height=256, engine="compiled", architecture=path)
    four, eight = tokcost.estimate(**kw, gpus=4), tokcost.estimate(**kw, gpus=8)
    assert eight.latency_s < four.latency_s
    assert eight.memory_gb["weights"] == pytest.approx(four.memory_gb["weights"] / 2, rel=0.01)


@pytest.mark.parametrize(
    "change, field, fragment",
    [
        ({"num_hidden_layers": None}, "num_hidden_layers", "required field is missing"),
        ({"hidden_size": "8192"}, "hidden_size", "must be a positive integer"),
        ({"num_key_value_heads": 7}, "num_key_value_heads", "must divide num_attention_heads (64)"),
        ({"num_local_experts": 8}, "num_local_experts", "mixture-of-experts"),
        ({"tie_word_embeddings": "no"}, "tie_word_embeddings", "must be true or false"),
    ],
)
def test_a_bad_config_is_exit_2_with_its_position(tmp_path, change, field, fragment):
    data = {k: v for k, v in {**LLAMA2_70B, **change}.items() if v is not None}
    path = write(tmp_path, data)
    r = runner.invoke(app, ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--architecture", str(path)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert re.search(re.escape(str(path)) + r":\d+:\d+: " + re.escape(field) + ": .*" + re.escape(fragment), r.output)


def test_malformed_json_is_exit_2_with_its_position(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"hidden_size": 4096,\n "num_hidden_layers": }\n')
    r = runner.invoke(app, ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--architecture", str(path)])
    assert r.exit_code == 2, r.output
    assert re.search(re.escape(str(path)) + r":2:\d+: ", r.output)


def test_a_diffusion_model_cannot_take_a_decoder(tmp_path):
    path = write(tmp_path, EMU3_GEN)
    with pytest.raises(InputError, match="sdxl is a diffusion model"):
        tokcost.estimate(model="sdxl", hardware="h100-sxm", architecture=path)


MISTRAL_7B = json.loads((CONFIGS / "mistral-7b-v0.1.json").read_text())  # safetensors index: 7,241,732,096


def test_a_sliding_window_is_read_and_priced(tmp_path):
    arch = load_architecture(write(tmp_path, MISTRAL_7B))
    assert round(arch.params_b * 1e9) == 7_241_732_096
    assert (arch.sliding_window, arch.sliding_layers) == (4096, 32)
    windowed_config = write(tmp_path, MISTRAL_7B, "windowed.json")
    full_config = write(tmp_path, {**MISTRAL_7B, "sliding_window": None}, "full.json")
    # a 720x720 Emu3 image is 8,190 tokens, past the window: its decode reads and keeps less of the cache
    kw = dict(model="emu3-gen", hardware="h100-sxm", engine="vllm", batch=16)
    windowed, full = (tokcost.estimate(**kw, architecture=c) for c in (windowed_config, full_config))
    assert windowed.latency_s < full.latency_s
    assert windowed.memory_gb["kv_cache"] < full.memory_gb["kv_cache"]
    said = [n for n in windowed.notes if "sliding attention window" in n]
    assert said and "4,096-token sliding attention window in 32 of its 32 layers" in said[0]
    assert "skips the keys outside it under vllm" in said[0]
    assert not any("sliding attention window" in n for n in full.notes)
    # a 256x256 image stays inside the window: the same price
    small = dict(kw, width=256, height=256)
    assert (
        tokcost.estimate(**small, architecture=windowed_config).latency_s
        == tokcost.estimate(**small, architecture=full_config).latency_s
    )
    eager = tokcost.estimate(**dict(kw, engine="eager"), architecture=windowed_config)
    assert any("computes the whole causal square under eager" in n for n in eager.notes)


@pytest.mark.parametrize(
    "change, window, sliding",
    [
        # Qwen2: a window in the config, switched off by use_sliding_window (its default)
        ({"sliding_window": 4096, "use_sliding_window": False, "max_window_layers": 28}, None, None),
        # Qwen2 with it on: layers from max_window_layers on slide
        ({"sliding_window": 4096, "use_sliding_window": True, "max_window_layers": 20}, 4096, 12),
        # Gemma 3: every layer but each sliding_window_pattern-th
        ({"sliding_window": 1024, "sliding_window_pattern": 6}, 1024, 27),
        # Gemma 2: every other layer, from the first
        ({"sliding_window": 4096, "model_type": "gemma2"}, 4096, 16),
        # transformers 4.53 on: layer_types lists them
        ({"sliding_window": 512, "layer_types": ["sliding_attention", "full_attention"] * 16}, 512, 16),
        # a window as long as the context limits nothing
        ({"sliding_window": 32768}, None, None),
    ],
)
def test_which_layers_slide_follows_transformers_rules(tmp_path, change, window, sliding):
    arch = load_architecture(write(tmp_path, {**MISTRAL_7B, **change}))
    assert (arch.sliding_window, arch.sliding_layers) == (window, sliding)


@pytest.mark.parametrize(
    "change, field, fragment",
    [
        ({"layer_types": ["sliding_attention"] * 31}, "layer_types", "lists 31 layers, num_hidden_layers is 32"),
        ({"layer_types": ["local"] * 32}, "layer_types", "must list"),
        ({"sliding_window": "4k"}, "sliding_window", "must be a positive integer"),
    ],
)
def test_a_bad_sliding_window_is_exit_2_with_its_position(tmp_path, change, field, fragment):
    path = write(tmp_path, {**MISTRAL_7B, **change})
    r = runner.invoke(app, ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--architecture", str(path)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert re.search(re.escape(str(path)) + r":\d+:\d+: " + re.escape(field) + ": .*" + re.escape(fragment), r.output)
