"""Every file under tests/examples/ is a test case: valid specs pass `check`; each invalid one exits 2 and reports
the exact position and field named in its first line (``# expect: LINE:COL FIELD | message fragment``). Each file
is checked in-process; the runs over several files go through ``python -m tokcost`` as a user runs it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).parent / "examples"
VALID = sorted((HERE / "valid").glob("*.yaml"))
INVALID = sorted((HERE / "invalid").glob("*.yaml"))


def check_in_process(path: Path, monkeypatch):
    """`tokcost check PATH` in-process with the shipped presets only."""
    monkeypatch.delenv("TOKCOST_PRESETS", raising=False)
    r = CliRunner().invoke(app, ["check", str(path)])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def run_check(*files):
    env = {k: v for k, v in os.environ.items() if k != "TOKCOST_PRESETS"}  # the shipped presets only
    return subprocess.run(
        [sys.executable, "-m", "tokcost", "check", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_spec_passes(path, monkeypatch):
    r = check_in_process(path, monkeypatch)
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_spec_reports_position(path, monkeypatch):
    header = path.read_text().splitlines()[0]
    m = re.match(r"# expect: (\d+):(\d+) (\S+) \| (.+)", header)
    assert m, f"{path.name} lacks an '# expect:' header"
    line, col, field, fragment = m.groups()
    r = check_in_process(path, monkeypatch)
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert f"{path}:{line}:{col}: {field}: " in r.stderr, r.stderr
    assert fragment.lower() in r.stderr.lower()


def test_all_problems_of_all_files_reported_in_one_run():
    r = run_check(*VALID, *INVALID)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    for path in INVALID:
        assert str(path) in r.stderr


def test_invalid_takes_precedence_over_valid():
    assert run_check(VALID[0], INVALID[0]).returncode == 2


def test_python_tag_executes_nothing(tmp_path):
    marker = Path("/tmp/tokcost-pwned")
    marker.unlink(missing_ok=True)
    r = run_check(HERE / "invalid" / "python-tag.yaml")
    assert r.returncode == 2, r.stderr  # refused as invalid input, not run
    assert not marker.exists()
