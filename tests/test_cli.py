"""CLI contracts: commands, flags, JSON keys and exit codes other tools rely on."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokcost import __version__
from tokcost.cli.app import app
from tokcost.io.engines import load_engines
from tokcost.io.paths import DATA_DIR
from tokcost.records.spec import spec_json_schema

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args):
    r = runner.invoke(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


def run_json(*args):
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_version():
    assert run("--version").stdout.strip() == f"tokcost {__version__}"


def test_python_dash_m_works():
    r = subprocess.run([sys.executable, "-m", "tokcost", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and __version__ in r.stdout


def test_tokens_with_model():
    d = run_json("tokens", "--model", "emu3-gen", "--width", "720", "--height", "720")
    assert d["visual"] == 8100 and d["generated"] == 8193


def test_tokens_model_free():
    d = run_json(
        "tokens",
        "--spatial-factor",
        "8",
        "--temporal-factor",
        "4",
        "--width",
        "720",
        "--height",
        "480",
        "--frames",
        "49",
    )
    assert (d["grid_width"], d["grid_height"], d["latent_frames"], d["visual"]) == (90, 60, 13, 70200)


def test_tokens_bad_size_exit_2_with_suggestion():
    r = run("tokens", "--model", "flux1-dev", "--width", "1000", "--height", "1024")
    assert r.exit_code == 2 and "992 or 1008" in r.stderr


def test_hardware_list_and_show():
    rows = run_json("hardware", "list")
    assert {r["id"] for r in rows} >= {"h100-sxm", "mi300x", "rtx-4090"}
    hw = run_json("hardware", "show", "h200-sxm")
    assert hw["memory_gb"] == 141 and hw["sources"]


def test_models_show_includes_sources_and_unknown_id_suggests():
    m = run_json("models", "show", "emu3-gen")
    assert m["architecture"]["layers"] == 32 and "architecture" in m["sources"]
    r = run("models", "show", "emu3-gn")
    assert r.exit_code == 2 and "did you mean emu3-gen?" in r.stderr


def test_schema_committed_and_not_drifted():
    committed = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    schema = spec_json_schema(list(load_engines()))
    assert committed == json.loads(json.dumps(schema)), "run: tokcost schema -o docs/spec.schema.json"


def test_estimate_json_contract():
    d = run_json("estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--width", "512", "--height", "512")
    for key in (
        "latency_s",
        "throughput_items_per_s",
        "tokens",
        "memory_gb",
        "fits_in_memory",
        "cost_usd_per_item",
        "bound",
        "latency_s_band",
        "throughput_items_per_s_band",
        "cost_usd_per_item_band",
    ):
        assert key in d
    assert "total" in d["memory_gb"] and d["bound"] in ("compute", "memory")
    assert d["cfg"] == "unbatched" and d["engine"] == "eager" and d["batch"] == 1  # the model's own defaults
    assert d["latency_s_band"]["low"] <= d["latency_s"] <= d["latency_s_band"]["high"]


def test_estimate_video_and_steps():
    d = run_json(
        "estimate",
        "--model",
        "cogvideox-5b",
        "--hardware",
        "a100-80gb-sxm",
        "--width",
        "720",
        "--height",
        "480",
        "--frames",
        "49",
        "--steps",
        "50",
    )
    assert d["tokens"]["latent"] == 17550 and d["steps"] == 50


def test_estimate_vllm_diffusion_is_a_clear_error():
    r = run("estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--engine", "vllm")
    assert r.exit_code == 2 and "autoregressive models only" in r.stderr


def test_estimate_reports_not_fitting_instead_of_failing():
    d = run_json("estimate", "--model", "emu3-gen", "--hardware", "l4", "--batch", "64", "--cfg", "batched")
    assert d["fits_in_memory"] is False


def test_train_json_contract():
    d = run_json("train", "--model", "emu3-gen", "--tokens", "1e12", "--hardware", "h100-sxm", "--gpus", "1024")
    assert {"flops", "gpu_hours", "days", "cost_usd"} <= set(d)
    d = run_json("train", "--model", "sdxl", "--samples", "1e9", "--hardware", "a100-80gb-sxm")
    assert d["flops"] > 0


def test_analyze_json_result_is_versioned():
    d = run_json("analyze", str(ROOT / "specs" / "storefront-images.yaml"))
    assert d["schema_version"] == 3 and d["specs"][0]["recommendation"]["choice"]


def test_usage_errors_exit_2():
    assert run("tokens", "--width", "512", "--height", "512").exit_code == 2
    assert run("estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--cfg", "maybe").exit_code == 2
    assert run("analyze", "does-not-exist.yaml").exit_code == 2


@pytest.mark.parametrize("env_or_flag", ["flag", "env"])
def test_user_presets_by_flag_and_env(tmp_path, env_or_flag, monkeypatch):
    (tmp_path / "hardware").mkdir()
    src = (DATA_DIR / "hardware" / "h100-sxm.yaml").read_text()
    (tmp_path / "hardware" / "my-gpu.yaml").write_text(src.replace("id: h100-sxm", "id: my-gpu"))
    if env_or_flag == "env":
        monkeypatch.setenv("TOKCOST_PRESETS", str(tmp_path))
        d = run_json("hardware", "show", "my-gpu")
    else:
        d = run_json("hardware", "show", "my-gpu", "--presets", str(tmp_path))
    assert d["id"] == "my-gpu"
