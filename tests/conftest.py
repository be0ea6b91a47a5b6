"""Shared test configuration: golden files under tests/golden/, refreshed with `pytest --update-golden`, a
result cache of the session's own, and no wall-clock limit on hypothesis examples."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from hypothesis import settings

# No test compares wall-clock time: hypothesis's default 200 ms deadline per example would fail a property on a
# busy machine with nothing wrong. Tests that set their own settings keep them; this is the default for the rest.
settings.register_profile("tokcost", deadline=None)
settings.load_profile("tokcost")

GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ from the current output instead of comparing",
    )


@pytest.fixture(scope="session", autouse=True)
def session_cache_dir(tmp_path_factory):
    """tokcost's result cache (``tokcost validate``'s) in a folder of this session's, for the CLI run in-process
    and in subprocesses alike: no test reads or fills the user's cache. Within the session it is shared; a hit
    there is as correct as a recomputation (the key hashes every input), and the cache's own tests use their own
    folders."""
    from tokcost.io.cache import CACHE_ENV

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("tokcost-cache"))
    yield
    if old is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = old


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
