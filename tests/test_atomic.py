"""Atomic outputs: every file tokcost writes goes through tokcost.io.atomic.write_atomic, so a run that fails or is
killed midway leaves the previous file intact, and a run that fails before it has something to write never
touches the file at all.

The failure is injected with the documented test hook TOKCOST_TEST_FAIL_BEFORE_RENAME (tokcost/atomic.py):
``1`` makes write_atomic fail after writing the complete temporary file and before the rename; ``sleep`` makes
it pause there first, so that the test can kill the process at the worst moment.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tokcost.io import atomic
from tokcost.io.atomic import TEST_FAIL_ENV, write_atomic

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "storefront-images.yaml"
OLD = '{"previous": "report"}\n'


def _argv(out: Path, spec: Path = SPEC) -> list[str]:
    return [sys.executable, "-m", "tokcost", "analyze", str(spec), "--format", "json", "--output", str(out)]


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop(TEST_FAIL_ENV, None)
    env.update(extra)
    return env


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_failure_before_rename_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    out = tmp_path / "report.json"
    out.write_text(OLD)
    proc = subprocess.run(_argv(out), env=_env(**{TEST_FAIL_ENV: "1"}), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3, proc.stderr  # a write that fails is exit 3 (I/O), not 2 (usage)
    assert "Traceback" not in proc.stderr
    assert f"cannot write {out}" in proc.stderr
    assert out.read_text() == OLD
    assert _temp_files(tmp_path) == []


def test_killed_midway_keeps_the_old_file(tmp_path):
    out = tmp_path / "report.json"
    out.write_text(OLD)
    proc = subprocess.Popen(
        _argv(out), env=_env(**{TEST_FAIL_ENV: "sleep"}), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not _temp_files(tmp_path):  # the complete report sits in the temp file; the rename has not happened
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "write_atomic never reached the rename"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.read_text() == OLD
    # A SIGKILL cannot clean up: what may remain is a hidden, complete temp file, never a half-written target.
    assert all(re.fullmatch(r"\.report\.json\..+\.tmp", p.name) for p in _temp_files(tmp_path))


def test_success_replaces_the_file_and_leaves_no_temp_file(tmp_path):
    out = tmp_path / "report.json"
    out.write_text(OLD)
    os.chmod(out, 0o600)
    proc = subprocess.run(_argv(out), env=_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().lstrip().startswith("{") and out.read_text() != OLD
    assert out.stat().st_mode & 0o777 == 0o600  # the user's permissions survive the replacement
    assert _temp_files(tmp_path) == []


def test_invalid_spec_never_touches_the_output(tmp_path):
    out = tmp_path / "report.json"
    out.write_text(OLD)
    before = out.stat()
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.read_text().replace("latency_s: 10", "latency_s: -1"))
    proc = subprocess.run(_argv(out, bad), env=_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert re.search(re.escape(str(bad)) + r":\d+:\d+: budget\.latency_s:", proc.stderr), proc.stderr
    after = out.stat()
    assert out.read_text() == OLD and (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "report.json"]


def test_invalid_spec_does_not_create_the_output(tmp_path):
    out = tmp_path / "new.json"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\n")
    proc = subprocess.run(_argv(out, bad), env=_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert not out.exists()


def test_write_atomic_in_process(tmp_path, monkeypatch):
    target = tmp_path / "x.txt"
    write_atomic(target, "one")
    assert target.read_text() == "one" and target.stat().st_mode & 0o777 == 0o644
    monkeypatch.setenv(TEST_FAIL_ENV, "1")
    with pytest.raises(OSError, match=TEST_FAIL_ENV):
        write_atomic(target, b"two")
    assert target.read_text() == "one"
    assert _temp_files(tmp_path) == []
    monkeypatch.delenv(TEST_FAIL_ENV)
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"


WRITE_PATTERNS = re.compile(
    r"""\bopen\([^)]*['"][wax]b?\+?['"]|\.write_text\(|\.write_bytes\(|os\.open\(|"""
    r"""shutil\.(copy|move)|\.savefig\(\s*(?!buf)|json\.dump\(|yaml\.(safe_)?dump\([^)]*,\s*\w"""
)


def test_no_module_writes_files_except_through_write_atomic():
    """Every file tokcost writes goes through write_atomic: no other module opens a file for writing."""
    offenders = []
    for path in sorted((ROOT / "tokcost").rglob("*.py")):
        if path.name == Path(atomic.__file__).name and path.parent.name == "io":
            continue
        if path.name == "reading.py" and path.parent.name == "io":  # the one bounded reader: opens O_RDONLY only
            assert "O_WRONLY" not in path.read_text() and "O_RDWR" not in path.read_text()
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if WRITE_PATTERNS.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "write through tokcost.io.atomic.write_atomic instead:\n" + "\n".join(offenders)


# ------------------------------------------------------------------------------ what an output may be (#17)


def _analyze_to(spec, target):
    from typer.testing import CliRunner

    from tokcost.cli.app import app

    return CliRunner().invoke(app, ["analyze", str(spec), "--format", "json", "--output", str(target)])


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text((ROOT / "specs" / "storefront-images.yaml").read_text())
    before = spec.read_bytes()
    r = _analyze_to(spec, spec)
    assert r.exit_code == 2 and "one of this run's inputs" in r.output
    assert spec.read_bytes() == before


def test_a_character_device_is_written_through_not_replaced():
    r = _analyze_to(ROOT / "specs" / "storefront-images.yaml", "/dev/null")
    assert r.exit_code == 0, r.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_directory_or_fifo_output_is_refused(tmp_path):
    spec = ROOT / "specs" / "storefront-images.yaml"
    folder = tmp_path / "d"
    folder.mkdir()
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    for target in (folder, fifo):
        r = _analyze_to(spec, target)
        assert r.exit_code == 2 and "not a regular file" in r.output, r.output
    assert folder.is_dir() and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlinked_output_keeps_its_link(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert _analyze_to(ROOT / "specs" / "storefront-images.yaml", link).exit_code == 0
    assert link.is_symlink() and real.read_text().startswith("{")
