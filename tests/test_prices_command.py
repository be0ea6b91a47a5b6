"""`tokcost prices`: the dated catalogue, filtered, as a table or JSON, with a note on prices older than 6 months."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.io.prices import load_prices

runner = CliRunner()
KEYS = {"hardware", "provider", "kind", "commitment", "usd_per_gpu_hour", "date", "source"}


def _run(*args: str):
    return runner.invoke(app, ["prices", *args])


def test_json_lists_every_entry_with_its_date_and_source():
    res = _run("--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == sum(len(v) for v in load_prices().prices.values())
    assert all(set(r) == KEYS for r in rows)


def test_filters_by_hardware_and_provider():
    rows = json.loads(_run("--hardware", "h100-sxm", "--provider", "aws", "--format", "json").output)
    assert rows and {(r["hardware"], r["provider"]) for r in rows} == {("h100-sxm", "aws")}


def test_a_price_older_than_six_months_gets_a_note_relative_to_today():
    entry = load_prices().find("h100-sxm", "aws")
    assert entry is not None
    year, month, day = (int(x) for x in entry.date.split("-"))
    fresh = _run("--hardware", "h100-sxm", "--provider", "aws", "--today", entry.date)
    assert fresh.exit_code == 0 and "Note:" not in fresh.output
    later = f"{year + 1:04d}-{month:02d}-{min(day, 28):02d}"
    stale = _run("--hardware", "h100-sxm", "--provider", "aws", "--today", later)
    assert stale.exit_code == 0 and "more than 6 months" in stale.output and entry.date in stale.output


def test_unknown_provider_or_hardware_is_exit_2_with_the_flag_and_a_suggestion():
    res = _run("--provider", "awz")
    assert res.exit_code == 2 and "--provider" in res.output and "did you mean aws?" in res.output
    res = _run("--hardware", "h100-sxn")
    assert res.exit_code == 2 and "--hardware" in res.output and "did you mean" in res.output
