"""Shared test configuration: golden files under tests/golden/, refreshed with `pytest --update-golden`."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ from the current output instead of comparing",
    )


@pytest.fixture
def golden(request):
    """``golden(name, text)``: compare ``text`` with tests/golden/NAME (a readable diff on failure), or rewrite
    the file when pytest runs with --update-golden."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        assert path.exists(), f"{path} is missing: run `pytest --update-golden` and review the new file"
        expected = path.read_text()
        if text != expected:
            delta = "".join(
                difflib.unified_diff(
                    expected.splitlines(True), text.splitlines(True), f"golden/{name}", "current output"
                )
            )
            pytest.fail(
                f"output differs from tests/golden/{name} (run `pytest --update-golden` if intended):\n{delta}",
                pytrace=False,
            )

    return check
