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
from tokcost.io.catalog import Catalog
from tokcost.errors import UsageError

pytest.importorskip("matplotlib")
from tokcost.render.html import format_html  # noqa: E402

SPEC = "specs/storefront-images.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                                             "(apt-get install -y chromium)")


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
    for title in ("Latency per item vs resolution", "Cost per item by candidate and hardware",
                  "Throughput per GPU vs batch"):
        assert title in html
    assert "budget 10" in html and "memory limit" in html and "low-high band" in html
    assert html.count("<tr") == len(result.specs[0].candidates) + 1


def test_report_is_deterministic(result):
    assert format_html(result) == format_html(result)


def test_text_is_escaped(result):
    evil = result.model_copy(deep=True)
    evil.specs[0].name = "<script>alert(1)</script>"
    evil.specs[0].recommendation.reasons = ['a "quoted" <b>reason</b> & more']
    html = format_html(evil)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;reason&lt;/b&gt; &amp; more" in html


def test_missing_matplotlib_is_a_clear_error(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match=r"pip install 'tokcost\[charts\]'"):
        format_html(result)


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _page_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or "ERROR:CONSOLE" in line or "Refused to" in line
            or re.search(r"CONSOLE\(\d+\)", line)]


@needs_chromium
def test_chromium_renders_the_page(page, tmp_path):
    path, _ = page
    shot = tmp_path / "out.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", path.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    assert _page_errors(proc.stderr) == []
    from matplotlib.image import imread

    import numpy as np

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

    headline = result.specs[0].recommendation.headline
    assert escape(headline, quote=False) in proc.stdout
    assert proc.stdout.count("<svg") >= 3
