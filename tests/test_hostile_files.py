"""Issue 17 (part): non-regular and unbounded input files, hostile baselines, non-ASCII digits in sweep lists.

Every case must give exit 2 and a message naming the file, at once: never a hang, a MemoryError or a traceback.
"At once" is a bound on the work (CPU time, which a busy machine does not inflate as it does the wall clock):
reading /dev/zero without a bound would not finish. The files are made in tmp_path (a FIFO or a symlink to
/dev/zero cannot live safely in the committed corpus: other tests read every corpus file).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.io.reading import ReadRefused, read_bounded

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "storefront-images.yaml"
runner = CliRunner()
MAX_CPU_SECONDS = 5.0  # a case takes well under 0.1 s of CPU; unbounded reads never finish
posix_only = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "mkfifo"), reason="needs FIFOs")


def _hostile(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    return path


def _invoke(args: list[str]):
    start = time.process_time()
    r = runner.invoke(app, args)
    used = time.process_time() - start
    assert used < MAX_CPU_SECONDS, f"used {used:.2f} s of CPU (limit {MAX_CPU_SECONDS} s)"
    return r


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "zero"])  # a directory argument is a folder of specs, by design
def test_a_spec_that_is_not_a_regular_file_is_exit_2(kind, tmp_path):
    path = _hostile(tmp_path, kind)
    r = _invoke(["check", str(path)])
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert f"{path}:1:1: (document): cannot read file:" in r.output


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "zero", "directory"])
@pytest.mark.parametrize("command", ["check", "diff"])
def test_a_baseline_that_is_not_a_regular_file_is_exit_2(kind, command, tmp_path):
    path = _hostile(tmp_path, kind)
    args = ["check", str(SPEC), "--baseline", str(path)] if command == "check" else ["diff", str(path), str(path)]
    r = _invoke(args)
    assert r.exit_code == 2, r.output
    role = "baseline" if command == "check" else "base"  # diff names its files base and head
    assert f"{role} {path}" in r.output


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" * 100_000, "levels deep"),
        ('{"schema_version": ' + "9" * 5000 + ', "specs": []}', "5,000 digits"),
        ('{"schema_version": 1, "specs": [], "cost": NaN}', "NaN"),
        ('{"schema_version": 1, "specs": [], "cost": 1e400}', "too large"),
    ],
    ids=["deep", "huge-int", "nan", "overflow"],
)
def test_a_hostile_baseline_is_exit_2_naming_the_file(text, fragment, tmp_path):
    path = tmp_path / "base.json"
    path.write_text(text)
    for role, args in (
        ("baseline", ["check", str(SPEC), "--baseline", str(path)]),
        ("base", ["diff", str(path), str(path)]),
    ):
        r = _invoke(args)
        assert r.exit_code == 2, r.output
        assert f"{role} {path}" in r.output and fragment in r.output


def test_reads_are_bounded(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a" * 101)
    assert read_bounded(path, 101) == b"a" * 101
    with pytest.raises(ReadRefused, match="larger than 100 bytes"):
        read_bounded(path, 100)


@pytest.mark.parametrize(("flag", "value"), [("--resolutions", "5¹2"), ("--resolutions", "٣x512"), ("--batches", "٣")])
def test_sweep_lists_accept_ascii_digits_only(flag, value):
    args = ["sweep", "--models", "chameleon-7b", "--hardware", "a100-80gb-pcie", "--resolutions", "512"]
    if flag == "--resolutions":
        args[-1] = value
    else:
        args += [flag, value]
    r = _invoke(args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert f"error: {flag}:" in r.output
