"""The CI commands as a library: ``tokcost.check``, ``tokcost.diff`` and ``tokcost.validate`` return the records
whose JSON is exactly what ``tokcost check|diff|validate --format json`` prints (the CLI is a thin layer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.errors import InputError
from tokcost.io.baseline import load_result

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "storefront-images.yaml"
BASE = ROOT / "tests" / "golden" / "inputs" / "base.json"
HEAD = ROOT / "tests" / "golden" / "inputs" / "head.json"
runner = CliRunner()


def cli_json(args: list[str]) -> tuple[int, dict]:
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    return r.exit_code, json.loads(r.stdout)


def test_check_returns_the_cli_s_json_and_exit_code():
    code, printed = cli_json(["check", str(SPEC)])
    result = tokcost.check(SPEC)
    assert result.model_dump(mode="json") == printed
    assert result.exit_code == code


def test_check_against_a_baseline_returns_the_cli_s_json(tmp_path):
    baseline = tmp_path / "base.json"
    baseline.write_text(tokcost.analyze(SPEC).model_dump_json())
    args = ["check", str(SPEC), "--baseline", str(baseline), "--max-cost-increase", "5"]
    code, printed = cli_json(args)
    result = tokcost.check([SPEC], baseline=baseline, max_cost_increase=5)
    assert result.model_dump(mode="json") == printed
    assert result.exit_code == code == 0


def test_check_limits_need_a_baseline():
    with pytest.raises(InputError, match="needs a baseline"):
        tokcost.check(SPEC, max_latency_increase=10)


def test_diff_takes_files_or_records_and_returns_the_cli_s_json():
    _, printed = cli_json(["diff", str(BASE), str(HEAD)])
    assert tokcost.diff(BASE, HEAD).model_dump(mode="json") == printed
    records = tokcost.diff(load_result(BASE), load_result(HEAD))
    assert records.model_dump(mode="json") == printed


def test_validate_returns_the_cli_s_json(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKCOST_CACHE_DIR", str(tmp_path))
    code, printed = cli_json(["validate", "--in-sample-only"])
    result = tokcost.validate(in_sample_only=True)  # read back from the cache the CLI run wrote
    assert result.model_dump(mode="json") == printed
    assert result.passed == (code == 0)
    fresh = tokcost.validate(in_sample_only=True, cache=False)
    assert fresh.model_dump(mode="json") == printed
