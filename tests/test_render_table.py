"""The terminal report stays readable at 80 columns and honours NO_COLOR / FORCE_COLOR; example reports."""

from __future__ import annotations

import json
import shutil

import pytest

from tokcost.cli.environment import use_color
from tokcost.core.analyze import analyze_files
from tokcost.io.catalog import Catalog
from tokcost.records.results import Violation
from tokcost.render.advice import reasons, short
from tokcost.render.table import format_table

SPEC = "specs/storefront-images.yaml"


@pytest.fixture(scope="module")
def result():
    return analyze_files([SPEC], Catalog.default())


def test_table_fits_80_columns(result):
    text = format_table(result, width=80, color=False)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "\x1b[" not in text
    rows = [line for line in lines if line.startswith(tuple(c.model + " " for c in result.specs[0].candidates))]
    assert len(rows) == min(12, len(result.specs[0].candidates))  # one line per candidate: nothing folded


def test_full_reasons_follow_the_table(result):
    text = format_table(result, width=80, color=False)
    bad = [c for c in result.specs[0].candidates[:12] if not c.feasible]
    assert bad  # the example spec has infeasible candidates in the table, so the section must appear
    assert "Why not" in text
    why = " ".join(text.split("Why not", 1)[1].split())  # the section, its wrapped lines joined
    first = bad[0]
    entry = f"{first.model} / {first.hardware} / {first.engine}: {' '.join(reasons(first, result.specs[0])[0].split())}"
    assert entry in why, why


def test_ok_column_reads_over_cost_below_quality_tier_and_size():
    """Each failure in words that cannot be read as a pass ("cost" alone, "quality+1" did), from the kind alone."""
    assert short(Violation(kind="cost_per_item", value=0.02, limit=0.01)) == "over cost"
    assert short(Violation(kind="quality", name="geneval", tier="premium", value=0.55, limit=0.65)) == (
        "below quality tier"
    )
    assert short(Violation(kind="quality", name="geneval", tier="standard", value=None, limit=0.5)) == (
        "no quality score"
    )
    assert short(Violation(kind="size", name="width", value=4096, limit=2048)) == "size"
    assert short(Violation(kind="memory", value=90, limit=22)) == "memory"


def test_color_rules(result):
    assert use_color(env={"NO_COLOR": "1", "FORCE_COLOR": "1"}) is False
    assert use_color(env={"FORCE_COLOR": "1"}) is True
    assert use_color(env={"CI": "true"}) is False

    class Tty:
        def isatty(self):
            return True

    assert use_color(Tty(), env={}) is True
    assert use_color(Tty(), env={"NO_COLOR": "x"}) is False
    assert "\x1b[" in format_table(result, width=80, color=True)


def test_regenerate_writes_every_format(tmp_path):
    pytest.importorskip("matplotlib")
    from regenerate_reports import regenerate

    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SPEC, specs / "storefront-images.yaml")
    written = regenerate(specs, tmp_path / "reports")
    assert sorted(p.name for p in written) == [
        "storefront-images.html",
        "storefront-images.json",
        "storefront-images.md",
    ]
    assert json.loads((tmp_path / "reports" / "storefront-images.json").read_text())["specs"][0]["name"]
    assert (tmp_path / "reports" / "storefront-images.html").read_text().count("<svg") >= 3
    assert not list((tmp_path / "reports").glob(".*.tmp"))
