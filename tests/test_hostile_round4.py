"""Hostile input, round four (a fuzzing pass of 2026-12-07): each finding that printed a traceback, priced a typo or
blamed the wrong option, as a test over its class. Trace files: tests/test_trace.py; spec and calibration files:
the bad-input corpus (tests/bad_input)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.io.paths import MEASUREMENTS_FILE

ROOT = Path(__file__).resolve().parent.parent
PHOTO_QA = ROOT / "specs" / "photo-qa.yaml"
runner = CliRunner()


def _run(*args) -> tuple[int, str]:
    r = runner.invoke(app, [str(a) for a in args], env={"NO_COLOR": "1"})
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output, r.output
    return r.exit_code, r.output


@pytest.mark.parametrize("command", ["analyze", "check"])
def test_a_suggestion_past_a_budget_bound_is_not_made(tmp_path, command):
    # at a millionth of a request a day a fleet's cost per item is ~$26M, past budget.cost_per_item_usd's bound
    # of $1M: the suggestion to raise the budget to it is no spec a user could write, so none is made
    doc = yaml.safe_load(PHOTO_QA.read_text())
    doc["demand"] |= {"requests_per_day": 1e-6, "peak_to_mean": 1}
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out = _run(command, spec)
    assert code in (0, 1) and "Traceback" not in out, out  # an answer (a budget met or not), not a crash


def _measurements(tmp_path, conditions: dict | None = None, **change) -> Path:
    """The set's first two entries, the second with ``change`` and its ``conditions`` updated."""
    entries = yaml.safe_load(MEASUREMENTS_FILE.read_text())[:2]
    entries[1] |= change
    entries[1]["conditions"] |= conditions or {}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"model": "nope"}, "[1].model", "unknown model id 'nope'"),
        ({"hardware": "h100"}, "[1].hardware", "unknown hardware id 'h100'"),
        ({"measured": 5e-324}, "[1].measured", "too small to compute with"),
        ({"measured": 1e308}, "[1].measured", "less than or equal to"),
    ],
)
def test_a_measurement_the_engine_cannot_price_is_refused_at_its_line(tmp_path, change, field, message):
    # an unknown id was "not scored" at (arguments):0:0; a subnormal measurement printed "off by infx"
    path = _measurements(tmp_path, **change)
    code, out = _run("validate", "--measurements", path, "--in-sample-only")
    assert code == 2, out
    line = next(x for x in out.splitlines() if f": {field}: " in x)
    assert line.startswith(f"{path}:") and not line.startswith(f"{path}:0:") and message in line, out


@pytest.mark.parametrize(
    ("condition", "value"),
    [("width", 10**9), ("batch", 10**12), ("cfg_scale", float("nan")), ("frames", 10**6)],
)
def test_a_measured_condition_past_what_an_estimate_takes_is_refused(tmp_path, condition, value):
    path = _measurements(tmp_path, conditions={condition: value})
    code, out = _run("validate", "--measurements", path, "--in-sample-only")
    assert code == 2 and f": [1].conditions.{condition}: " in out, out


def test_a_sequence_too_long_for_its_prompt_blames_the_prompt():
    code, out = _run("estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--prompt-tokens", "1000000000")
    assert code == 2 and "--prompt-tokens:" in out and "--width" not in out, out


def test_train_without_a_model_names_the_option():
    code, out = _run("train", "--model", ",", "--hardware", "h100-sxm")
    assert code == 2 and "--model:" in out and "--models" not in out, out


def test_diff_names_the_file_it_could_not_read_by_its_place(tmp_path):
    good = tmp_path / "base.json"
    code, out = _run("analyze", PHOTO_QA, "--format", "json", "--output", good)
    assert code in (0, 1), out
    bad = tmp_path / "head.json"
    bad.write_text("not json")
    code, out = _run("diff", good, bad)
    assert code == 2 and f"head {bad}" in out and "baseline" not in out, out


@pytest.mark.parametrize(
    ("option", "value"),
    [("--answer-tokens", "5"), ("--kv-dtype", "fp8"), ("--tokens-per-forward", "4"), ("--draft-tokens", "4")],
)
def test_a_decoding_option_on_a_model_that_decodes_no_tokens_is_refused(option, value):
    # each was accepted and ignored: the estimate looked as if it had priced the option
    code, out = _run("estimate", "--model", "sdxl", "--hardware", "h100-sxm", option, value)
    assert code == 2 and f"{option}:" in out and "decodes no token sequence" in out, out


def test_answer_tokens_need_a_model_that_answers():
    code, out = _run("estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--answer-tokens", "5")
    assert code == 2 and "--answer-tokens:" in out and "answers no questions" in out, out
    code, out = _run("estimate", "--model", "janus-pro-7b", "--hardware", "h100-sxm", "--answer-tokens", "5")
    assert code == 0, out
