"""The Python API: docs/api.md's examples run, and each function returns what its command prints as JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)
runner = CliRunner()


def cli_json(*args: str) -> dict:
    res = runner.invoke(app, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_docs_api_examples_run(code, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(code, "docs/api.md", "exec"), {})


def test_there_are_examples_for_every_function():
    text = "\n".join(EXAMPLES)
    for name in ("analyze", "estimate", "train", "tokens", "sweep", "InputError"):
        assert f"tokcost.{name}(" in text or f"tokcost.{name}" in text, name


def test_analyze_is_the_json_document(monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = "specs/storefront-images.yaml"
    assert tokcost.analyze(spec).model_dump(mode="json") == cli_json("analyze", spec)


def test_estimate_train_tokens_are_the_json_documents():
    assert tokcost.estimate(model="emu3-gen", hardware="a100-80gb-sxm", width=512, height=512).model_dump(
        mode="json"
    ) == cli_json("estimate", "--model", "emu3-gen", "--hardware", "a100-80gb-sxm", "--width", "512", "--height", "512")
    assert tokcost.train(model="flux1-dev", hardware="h100-sxm", samples=1e6, gpus=8).model_dump(
        mode="json"
    ) == cli_json("train", "--model", "flux1-dev", "--hardware", "h100-sxm", "--samples", "1e6", "--gpus", "8")
    assert tokcost.tokens(model="cogvideox-5b", width=720, height=480, frames=49, fps=8).model_dump(
        mode="json"
    ) == cli_json(
        "tokens", "--model", "cogvideox-5b", "--width", "720", "--height", "480", "--frames", "49", "--fps", "8"
    )


def test_every_result_carries_a_schema_version():
    for result, version in (
        (tokcost.estimate(model="sdxl", hardware="l40s"), 2),  # 2: prices as typed facts
        (tokcost.train(model="emu3-gen", hardware="h100-sxm", tokens=1e9), 2),
        (tokcost.tokens(spatial_factor=16, width=512, height=512), 1),
    ):
        assert result.model_dump(mode="json")["schema_version"] == version


def test_load_spec_and_analyze_a_spec_record(monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = tokcost.load_spec("specs/photo-qa.yaml")
    from_record = tokcost.analyze(spec).specs[0]
    from_file = tokcost.analyze("specs/photo-qa.yaml").specs[0]
    assert from_record.recommendation == from_file.recommendation
    assert from_record.candidates == from_file.candidates


def test_bad_arguments_raise_one_input_error_naming_each():
    with pytest.raises(tokcost.InputError) as info:
        tokcost.estimate(model="sdxl", hardware="h100-sxm", width=8, tokens_per_forward=float("nan"))
    fields = {p.field for p in info.value.problems}
    assert fields == {"width", "tokens_per_forward"}
    assert all(p.file == "(arguments)" for p in info.value.problems)


def test_domain_errors_are_input_errors_naming_the_argument():
    with pytest.raises(tokcost.InputError) as info:
        tokcost.train(model="emu3-gen", hardware="h100-sxm", samples=1e6)
    (problem,) = info.value.problems
    assert problem.field == "tokens" and "--" not in problem.message
    with pytest.raises(tokcost.InputError, match="did you mean"):
        tokcost.estimate(model="sdxl", hardware="h100-sxn")


def test_spec_problems_carry_positions(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: x\nproduct: {kind: image, width: 1024, heigth: 1024}\n"
        "demand: {requests_per_day: 10}\nbudget: {latency_s: 1}\n"
    )
    with pytest.raises(tokcost.InputError) as info:
        tokcost.load_spec(bad)
    lines = {(p.line, p.field) for p in info.value.problems}
    assert (3, "product.heigth") in lines and (3, "product.height") in lines


def test_importing_tokcost_loads_no_numpy_or_presets():
    import subprocess
    import sys

    code = "import sys, tokcost; print('numpy' in sys.modules, 'tokcost.api' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
