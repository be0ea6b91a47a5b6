"""The committed example reports in reports/ are what `python scripts/regenerate_reports.py` produces now."""

import re
from pathlib import Path

import pytest
from regenerate_reports import build_reports

ROOT = Path(__file__).resolve().parent.parent
SVG = re.compile(r"<svg.*?</svg>", re.S)  # chart pixels depend on the matplotlib version; their data does not


@pytest.fixture(scope="module")
def rendered():
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return build_reports("specs")
    finally:
        os.chdir(cwd)


def test_every_spec_has_committed_reports(rendered):
    specs = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
    assert len(specs) >= 4
    for stem in specs:
        for ext in ("md", "json", "html"):
            assert (ROOT / "reports" / f"{stem}.{ext}").is_file(), f"missing reports/{stem}.{ext}"


def test_committed_reports_are_fresh(rendered):
    stale = []
    for name, text in rendered.items():
        committed = (ROOT / "reports" / name).read_text()
        if name.endswith(".html"):
            text, committed = SVG.sub("<svg/>", text), SVG.sub("<svg/>", committed)
        if text != committed:
            stale.append(name)
    assert not stale, f"stale reports {stale}: regenerate with `python scripts/regenerate_reports.py`"
