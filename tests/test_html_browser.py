"""The HTML report: self-contained (nothing fetched from the network), escaped, with its charts, and rendered
for real by headless Chromium (screenshot not blank, no console errors, the recommendation in the DOM).
The browser tests skip when the `chromium` binary is absent (Debian package `chromium`; .ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tokcost.core.analyze import analyze_files
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog

pytest.importorskip("matplotlib")
from tokcost.render import advice
from tokcost.render.html import format_html  # noqa: E402

SPEC = "specs/storefront-images.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def result():
    return analyze_files([SPEC], Catalog.default())


@pytest.fixture(scope="module")
def page(result, tmp_path_factory):
    html = format_html(result)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html, encoding="utf-8")
    return path, html


def test_no_network_references(page):
    _, html = page
    assert "<script" not in html.lower()
    assert not re.search(r"""<link[^>]+href\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?(https?:)?//|@import|@font-face""", html, re.I)
    assert "default-src 'none'" in html  # the CSP forbids fetching anything


def test_charts_and_content(page, result):
    _, html = page
    assert html.count("<svg") >= 3
    for title in (
        "Latency per item vs resolution",
        "Cost per item by candidate and hardware",
        "Throughput per GPU vs batch",
    ):
        assert title in html
    assert "budget 10" in html and "memory limit" in html and "low-high band" in html
    assert html.count("<tr") == len(result.specs[0].candidates) + 1


def test_report_is_deterministic(result):
    assert format_html(result) == format_html(result)


def test_text_is_escaped(result):
    evil = result.model_copy(deep=True)
    evil.specs[0].name = "<script>alert(1)</script>"
    evil.specs[0].recommendation.choice.model = 'a "quoted" <b>reason</b> & more'
    html = format_html(evil)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;reason&lt;/b&gt; &amp; more" in html


def test_missing_matplotlib_is_a_clear_error(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r"pip install matplotlib"):
        format_html(result)


def _no_presets_or_engine(monkeypatch, tmp_path):
    """From here on nothing can be priced and no preset or calibration read: every door the renderer used to
    open (the catalogue, the engine, the chart pricing, the calibration loader) raises, and $TOKCOST_PRESETS is
    an empty folder."""
    import importlib

    def refuse(*args, **kwargs):
        raise AssertionError("the renderer priced something or read presets")

    monkeypatch.setenv("TOKCOST_PRESETS", str(tmp_path))
    for module, name in (
        ("tokcost.engine.estimate", "estimate_arrays"),
        ("tokcost.engine.estimate", "estimate_grid"),
        ("tokcost.engine.estimate", "estimate_stack"),
        ("tokcost.core.charts", "estimate_arrays"),
        ("tokcost.core.charts", "analysis_charts"),
        ("tokcost.core.charts", "sweep_charts"),
        ("tokcost.io.calibration", "load_calibration"),
        ("tokcost.records.calibration", "load_calibration"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:  # the calibration loader lives in one of its two homes
            continue
        if hasattr(mod, name):
            monkeypatch.setattr(mod, name, refuse)
    monkeypatch.setattr(Catalog, "default", classmethod(refuse))
    monkeypatch.setattr(Catalog, "__init__", refuse)
    for mod in ("tokcost.io.catalog", "tokcost.core.plan", "tokcost.core.analyze"):
        monkeypatch.setitem(sys.modules, mod, None)  # a fresh import of any of them fails too


def test_saved_result_rerenders_the_same_without_presets(result, page, monkeypatch, tmp_path):
    """Issue #12: the charts are data in the result, so the saved JSON re-renders byte for byte the HTML drawn at
    analysis time, with no catalogue, calibration or engine reachable."""
    from tokcost.records.results import AnalysisResult

    _, html = page
    saved = result.model_dump_json(indent=2)
    assert all(s.charts for s in result.specs)
    _no_presets_or_engine(monkeypatch, tmp_path)
    back = AnalysisResult.model_validate_json(saved)
    assert back.specs[0].charts == result.specs[0].charts
    assert format_html(back) == html


def test_saved_result_without_chart_data_renders_without_charts(result, monkeypatch, tmp_path):
    """A version-1 result saved before the charts were stored loads (the key is optional) and renders its page
    with a note instead of the charts, without matplotlib."""
    import json

    from tokcost.records.results import AnalysisResult
    from tokcost.render.html import NO_CHART_DATA

    data = json.loads(result.model_dump_json())
    for spec in data["specs"]:
        del spec["charts"]
    old = AnalysisResult.model_validate_json(json.dumps(data))
    assert old.schema_version == 3 and old.specs[0].charts is None
    _no_presets_or_engine(monkeypatch, tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # not needed: nothing to draw
    html = format_html(old)
    assert "<svg" not in html and "<h3>Charts</h3>" in html
    from html import escape

    assert escape(NO_CHART_DATA) in html
    assert advice.headline(old.specs[0]).split(":")[0] in html


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _page_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or "ERROR:CONSOLE" in line or "Refused to" in line or re.search(r"CONSOLE\(\d+\)", line)
    ]


@needs_chromium
def test_chromium_renders_the_page(page, tmp_path):
    path, _ = page
    shot = tmp_path / "out.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", path.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    assert _page_errors(proc.stderr) == []
    import numpy as np
    from matplotlib.image import imread

    img = imread(str(shot))[..., :3]
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    pixels = (img.reshape(-1, 3) * 255).round().astype(np.int32)
    colours = np.unique(pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2])
    non_white = (pixels.min(axis=1) < 240).mean()
    assert colours.size > 200, colours.size  # text, charts, bands: not a blank or single-colour page
    assert non_white > 0.03, non_white


@needs_chromium
def test_chromium_dom_has_the_recommendation(page, result, tmp_path):
    path, _ = page
    proc = _chromium(tmp_path, "--dump-dom", path.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _page_errors(proc.stderr) == []
    from html import escape

    headline = advice.headline(result.specs[0])
    assert escape(headline, quote=False) in proc.stdout
    assert proc.stdout.count("<svg") >= 3
