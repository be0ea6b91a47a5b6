"""One request record for `tokcost estimate`: the CLI's options are its fields (flag, default, range, help), the
API takes the record or its fields as keyword arguments, and both price the same configuration."""

from __future__ import annotations

import json

import pytest
import typer
from generate_request_options import TARGET, render
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.records.estimate import EstimateRequest

CONTEXT_OPTIONS = {"calibration", "fmt", "presets", "price", "help"}  # where to read from, not what to price


def _options(command: str) -> dict:
    """The command's click options by parameter name (typer builds them with its own copy of click)."""
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    return {p.name: p for p in params if p.param_type_name == "option"}


def test_the_generated_options_are_fresh():
    assert TARGET.read_text() == render(), "run: python scripts/generate_request_options.py"


def test_every_estimate_option_is_a_request_field_with_its_flag_default_range_and_help():
    options = _options("estimate")
    assert set(options) - CONTEXT_OPTIONS == set(EstimateRequest.model_fields)
    for name, field in EstimateRequest.model_fields.items():
        opt = options[name]
        assert opt.opts == ["--" + name.replace("_", "-")], name
        assert opt.help == field.description, name
        assert opt.required == field.is_required(), name
        if not field.is_required():
            assert opt.default == field.default, name
        schema = EstimateRequest.model_json_schema()["properties"][name]
        limits = next((s for s in schema.get("anyOf", [schema]) if "minimum" in s or "maximum" in s), {})
        assert (opt.min, opt.max) == (limits.get("minimum"), limits.get("maximum")), name


def test_sweep_shares_the_precision_field():
    opt = _options("sweep")["precision"]
    field = EstimateRequest.model_fields["precision"]
    assert (opt.help, opt.default) == (field.description, field.default)


def test_a_request_record_and_keyword_arguments_price_the_same():
    fields = {"model": "sdxl", "hardware": "h100-sxm", "gpus": 2, "steps": 20, "engine": "compiled"}
    by_record = tokcost.estimate(EstimateRequest(**fields))
    assert by_record == tokcost.estimate(**fields) == tokcost.estimate(fields)
    assert by_record.gpus == 2 and by_record.steps == 20


def test_the_cli_prices_what_the_api_prices():
    r = CliRunner().invoke(
        app, ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--kv-dtype", "fp8", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    api = tokcost.estimate(model="emu3-gen", hardware="h100-sxm", kv_dtype="fp8").model_dump(mode="json")
    assert json.loads(r.stdout) == api


def test_bad_requests_name_each_field():
    with pytest.raises(tokcost.InputError) as info:
        tokcost.estimate(model="sdxl", hardware="h100-sxm", widht=512, cfg="sometimes", host=0.05)
    problems = {p.field: p.message for p in info.value.problems}
    assert problems["widht"] == "unexpected keyword argument; did you mean width?"
    assert "'batched', 'unbatched' or 'off'" in problems["cfg"]
    assert "greater than or equal to 0.1" in problems["host"]
    with pytest.raises(tokcost.InputError, match="missing required argument"):
        tokcost.estimate(hardware="h100-sxm")
    with pytest.raises(tokcost.InputError, match="not both"):
        tokcost.estimate(EstimateRequest(model="sdxl"), hardware="h100-sxm")
    with pytest.raises(tokcost.InputError, match="expected an EstimateRequest record or a mapping"):
        tokcost.estimate("sdxl")


def test_an_engine_the_table_does_not_hold_is_named_with_the_known_ones():
    with pytest.raises(tokcost.InputError) as info:
        tokcost.estimate(model="emu3-gen", hardware="h100-sxm", engine="vlm")
    (problem,) = info.value.problems
    assert problem.field == "engine"
    assert (
        problem.message
        == "unknown engine 'vlm'; did you mean vllm? choose from eager, compiled, vllm, vllm-0.4, vllm-0.7, vllm-0.11"
    )
    r = CliRunner().invoke(app, ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--engine", "trt"])
    assert r.exit_code == 2 and "error: --engine: unknown engine 'trt'; choose from eager" in r.output
