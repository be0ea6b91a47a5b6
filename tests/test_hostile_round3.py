"""Issue 32 (hostile input, round three): each class of the reviewer's probes, tested over the class.

In-process (typer's CliRunner) where the behaviour allows; a real process only where it needs one: descriptors
(/dev/stdout), signals, file size limits, closed or broken stdout, stream encodings. No test times anything: work
is bounded by operation counts, and process timeouts are hang guards only.
"""

from __future__ import annotations

import copy
import errno
import functools
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokcost import api
from tokcost.cli.app import app
from tokcost.errors import InputError
from tokcost.io.atomic import TEST_FAIL_ENV, OutputRefused, open_atomic
from tokcost.io.located import YamlProblem, load_text
from tokcost.io.paths import DATA_DIR
from tokcost.text import escape_line, markdown_text

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "storefront-images.yaml"
GOOD = SPEC.read_text()
CALIBRATION = (
    (ROOT / "tests" / "bad_input" / "calibrations" / "unknown-key.yaml").read_text().replace("fitted: true\n", "")
)
HANG_GUARD = 120  # seconds: a process that takes this long is hung, not slow
runner = CliRunner()
posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors, signals and limits")


@functools.cache
def _first_measurement() -> str:
    """The first entry of the shipped measurements as YAML text (the whole file is read once per session)."""
    text = (DATA_DIR / "validation" / "measurements.yaml").read_text()
    first = text.index("\n- id:")
    return text[: text.index("\n- id:", first + 1) + 1]


def first_measurement() -> dict:
    """A fresh copy of the shipped measurements' first entry."""
    return yaml.safe_load(_first_measurement())[0]


def invoke(*args, **kw):
    r = runner.invoke(app, [str(a) for a in args], **kw)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def run(args, *, cwd=None, env=None, shell=False, **kw):
    """``python -m tokcost ARGS`` (or a shell line) in a fresh process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
    full_env.pop(TEST_FAIL_ENV, None)
    full_env.update(env or {})
    cmd = args if shell else [sys.executable, "-m", "tokcost", *map(str, args)]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(cmd, cwd=cwd, env=full_env, shell=shell, timeout=HANG_GUARD, **kw)


def no_traceback(text) -> None:
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    assert "Traceback" not in text and "Exception ignored" not in text, text


def tokcost_line() -> str:
    return f"PYTHONPATH={ROOT} {sys.executable} -m tokcost"


# ------------------------------------------------------------------------------------------ the output policy


@posix
@pytest.mark.parametrize(
    ("target", "redirect"),
    [
        ("/dev/stdout", ">> log.txt"),
        ("/dev/fd/1", ">> log.txt"),
        ("/proc/self/fd/1", ">> log.txt"),
        ("/dev/stderr", "2>> log.txt >/dev/null"),
        ("/dev/fd/2", "2>> log.txt >/dev/null"),
        ("link-to-stdout", ">> log.txt"),
    ],
)
def test_a_descriptor_link_is_written_through_never_renamed_over(target, redirect, tmp_path):
    if target.startswith("/proc") and not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc")
    (tmp_path / "link-to-stdout").symlink_to("/dev/stdout")
    log = tmp_path / "log.txt"
    log.write_text("keep\n")
    inode = log.stat().st_ino
    proc = run(f"{tokcost_line()} analyze {SPEC} --format json -o {target} {redirect}", cwd=tmp_path, shell=True)
    assert proc.returncode == 0, proc.stderr
    text = log.read_text()
    assert text.startswith("keep\n{"), text[:80]  # appended, as >> asks: nothing lost
    json.loads(text[len("keep\n") : text.rindex("}") + 1])
    assert log.stat().st_ino == inode and not log.is_symlink()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@posix
def test_a_descriptor_open_for_reading_is_refused_and_its_file_kept(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    proc = run(f"{tokcost_line()} analyze {SPEC} --format json -o /dev/stdin < victim.txt", cwd=tmp_path, shell=True)
    assert proc.returncode == 2 and b"reading only" in proc.stderr, proc.stderr
    assert victim.read_text() == "precious\n"


def test_dash_is_stdout_and_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (
        ["analyze", SPEC, "--format", "json"],
        ["schema"],
        ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "1024", "--format", "csv"],
    ):
        r = invoke(*args, "-o", "-")
        assert r.exit_code == 0, r.output
        assert r.stdout.lstrip()[:1] in ("{", "m"), r.stdout[:40]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["newdir/", "existing/", "existing"])
@pytest.mark.parametrize("command", ["analyze", "schema", "sweep"])
def test_a_folder_name_is_refused_for_every_command(command, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    args = {
        "analyze": ["analyze", SPEC, "--format", "json"],
        "schema": ["schema"],
        "sweep": ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "1024", "--format", "csv"],
    }[command]
    r = invoke(*args, "-o", name)
    assert r.exit_code == 2, r.output
    assert "directory" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
    assert list((tmp_path / "existing").iterdir()) == []


@posix
@pytest.mark.parametrize("mask", [0o077, 0o022, 0o002])
def test_a_new_output_gets_the_mode_the_umask_gives(mask, tmp_path):
    old = os.umask(mask)
    try:
        r = invoke("analyze", SPEC, "--format", "json", "-o", tmp_path / "out.json")
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o666 & ~mask


@posix
@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_a_read_only_output_is_refused_and_kept(mode, tmp_path):
    out = tmp_path / "out.json"
    out.write_text("OLD")
    out.chmod(mode)
    try:
        r = invoke("analyze", SPEC, "--format", "json", "-o", out)
        assert r.exit_code == 2 and "Permission denied" in r.output, r.output
        assert out.read_text() == "OLD" and stat.S_IMODE(out.stat().st_mode) == mode
    finally:
        out.chmod(0o644)


@pytest.mark.parametrize("name", ["a" * 250 + ".json", "é" * 125 + ".json", "x" * 255])
def test_a_legal_long_output_name_works(name, tmp_path):
    if len(os.fsencode(name)) > os.pathconf(tmp_path, "PC_NAME_MAX"):
        pytest.skip("longer than this file system's NAME_MAX")
    r = invoke("analyze", SPEC, "--format", "json", "-o", tmp_path / name)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / name).read_text())["specs"]
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_temporary_names_stay_within_name_max_on_failure(tmp_path, monkeypatch):
    """The temporary file beside a 255-byte name is itself a legal name (seen here at the failing rename)."""
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    with open_atomic(tmp_path / ("é" * 126 + ".j")) as fh:
        fh.write(b"x")
    assert len(os.fsencode(seen[0])) <= 255 and seen[0].endswith(".tmp")


def test_the_policy_refuses_what_a_shell_would(tmp_path):
    for bad in ("", str(tmp_path) + "/", str(tmp_path)):
        with pytest.raises(OutputRefused), open_atomic(bad):
            pass
    with pytest.raises(OutputRefused, match="does not exist"), open_atomic(tmp_path / "no" / "such.json"):
        pass


# --------------------------------------------------------------------------------------- the stdout writer


@posix
def test_a_full_disk_on_stdout_is_exit_3():
    with open("/dev/full", "wb") as full:
        proc = run(["analyze", SPEC, "--format", "json"], stdout=full)
    assert proc.returncode == 3, proc.stderr
    assert b"No space left on device" in proc.stderr
    no_traceback(proc.stderr)


@posix
@pytest.mark.parametrize("args", [["analyze", SPEC, "--format", "json"], ["--version"], ["schema"]])
def test_a_closed_stdout_is_exit_3(args):
    proc = run(f"{tokcost_line()} {' '.join(map(str, args))} >&-", shell=True)
    assert proc.returncode == 3, proc.stderr
    assert b"standard output" in proc.stderr
    no_traceback(proc.stderr)


SWEEP_CSV = ["sweep", "--models", "sdxl,emu3-gen", "--hardware", "h100-sxm,a100-80gb-sxm", "--resolutions",
             "512,1024", "--batches", "1,2,4,8,16,32,64", "--format", "csv"]  # fmt: skip


@posix
@pytest.mark.parametrize("args", [["analyze", SPEC, "--format", "json"], SWEEP_CSV], ids=["analyze", "sweep-csv"])
def test_a_broken_pipe_is_exit_3_not_1(args):
    read, write = os.pipe()
    os.close(read)  # nobody will read: the first write fails with EPIPE
    try:
        proc = run(args, stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 3, proc.stderr
    assert b"Broken pipe" in proc.stderr
    no_traceback(proc.stderr)


@posix
def test_a_broken_pipe_on_stderr_is_exit_3_not_1(tmp_path):
    for i in range(300):  # enough problems to fill a pipe buffer
        (tmp_path / f"s{i}.yaml").write_text("version: 1\n")
    read, write = os.pipe()
    os.close(read)
    try:
        proc = run(["check", tmp_path], stderr=write, stdout=subprocess.DEVNULL)
    finally:
        os.close(write)
    assert proc.returncode == 3


@posix
def test_a_failed_gate_is_still_exit_1_in_a_real_process():
    inputs = ROOT / "tests" / "golden" / "inputs"
    proc = run(["check", inputs / "head" / "specs", "--baseline", inputs / "base.json", "--max-cost-increase", "10"])
    assert proc.returncode == 1, proc.stderr
    assert b"3 of 4 specs failed" in proc.stdout


def _limit_file_size():
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (20_480, 20_480))


@posix
@pytest.mark.parametrize("to", ["stdout", "output"])
def test_a_file_size_limit_is_exit_3_never_0(to, tmp_path):
    out = tmp_path / "out.json"
    out.write_text("OLD")
    args = ["analyze", SPEC, "--format", "json"]
    if to == "output":
        proc = run([*args, "-o", out], preexec_fn=_limit_file_size)
        assert out.read_text() == "OLD"
    else:
        with out.open("wb") as fh:
            proc = run(args, stdout=fh, preexec_fn=_limit_file_size)
    assert proc.returncode == 3, proc.stderr
    assert b"File too large" in proc.stderr
    no_traceback(proc.stderr)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


class _FailingStdout(io.TextIOWrapper):
    """A stdout whose buffer accepts ``accept`` bytes, then fails with ``errno``."""

    def __init__(self, accept: int, err: int):
        self.raw_sink = io.BytesIO()
        super().__init__(io.BufferedWriter(self.raw_sink), encoding="utf-8")
        self.accept, self.err = accept, err

    @property
    def buffer(self):
        outer = self

        class Buffer:
            def write(self, data):
                if outer.accept <= 0:
                    raise OSError(outer.err, os.strerror(outer.err))
                n = min(len(data), outer.accept)
                outer.accept -= n
                outer.raw_sink.write(bytes(data[:n]))
                return n  # a short write, reported without an error

            def flush(self):
                pass

        return Buffer()


@pytest.mark.parametrize("err", [errno.EPIPE, errno.ENOSPC, errno.EFBIG, errno.EIO])
@pytest.mark.parametrize("accept", [0, 100])
def test_every_failed_or_short_write_to_stdout_is_exit_3(err, accept, monkeypatch):
    import typer

    from tokcost.cli.common import EXIT_IO, write_stdout

    monkeypatch.setattr("tokcost.io.atomic.silence_stdout", lambda: None)
    fake = _FailingStdout(accept, err)
    monkeypatch.setattr(sys, "stdout", fake)
    with pytest.raises(typer.Exit) as done:
        write_stdout("x" * 5000)
    assert done.value.exit_code == EXIT_IO == 3
    assert fake.raw_sink.getvalue() == b"x" * accept


def test_out_of_memory_is_a_clear_exit_3(monkeypatch):
    def no_memory(*a, **k):
        raise MemoryError

    monkeypatch.setattr("tokcost.render.sweep.format_json", no_memory)
    monkeypatch.setattr("tokcost.render.registry.render", no_memory)
    r = invoke("sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "1024", "--format", "json")
    assert r.exit_code == 3 and "out of memory" in r.output, r.output


# ------------------------------------------------------------------------------------------------ encodings

NON_ASCII_NAME = "café-☕-𝔘nicode"


@posix
@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "PYTHONUTF8": "0"}])
@pytest.mark.parametrize("fmt", ["json", "table", "markdown"])
def test_a_non_ascii_name_never_crashes_on_a_narrow_stream(env, fmt, tmp_path):
    spec = tmp_path / "spéc-☕.yaml"
    spec.write_text(GOOD.replace("name: storefront-images", f"name: {NON_ASCII_NAME}"), encoding="utf-8")
    proc = run(["analyze", spec, "--format", fmt], env={**env, "PYTHONCOERCECLOCALE": "0"})
    no_traceback(proc.stderr)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        assert json.loads(proc.stdout)["specs"][0]["name"] == NON_ASCII_NAME  # escaped as JSON escapes it
    bad = run(["check", tmp_path / "missing-☕.yaml"], env={**env, "PYTHONCOERCECLOCALE": "0"})
    assert bad.returncode == 2
    no_traceback(bad.stderr)


# ---------------------------------------------------------------------------------------- YAML 1.2 numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0512", 512),
        ("+0512", 512),
        ("0o17", 15),
        ("0x1F", 31),
        ("1e3", 1000.0),
        ("-.5", -0.5),
        ("1:30", "1:30"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("012:34:56", "012:34:56"),
        ("0x", "0x"),
    ],
)
def test_numbers_are_read_as_yaml_1_2_core(text, value):
    assert load_text(f"v: {text}\n", "f.yaml").data["v"] == value


@pytest.mark.parametrize("literal", ["9" * 101, "0x" + "f" * 5000, "0o" + "7" * 20_000, "-" + "1" * 400_000])
def test_a_huge_integer_is_a_problem_before_it_is_converted(literal):
    before = time.process_time()
    with pytest.raises(YamlProblem, match=r"f\.yaml:1:4: v: .*digits is out of range"):
        load_text(f"v: {literal}\n", "f.yaml")
    assert time.process_time() - before < 30  # hang guard (CPU time): conversion is skipped, not slow


HUGE = "0x" + "f" * 5000
SPEC_FIELDS = {  # field -> (text to replace, replacement holding the huge integer)
    "name": ("name: storefront-images", f"name: {HUGE}"),
    "version": ("version: 1", f"version: {HUGE}"),
    "models": ("models: [emu3-gen, sdxl, flux1-dev]", f"models: [{HUGE}]"),
    "latency_s": ("latency_s: 10", f"latency_s: {HUGE}"),
    "hourly": ("  peak_to_mean: 3.0", f"  hourly: [{HUGE}]"),
    "pricing key": ("version: 1", f"version: 1\npricing:\n  usd_per_gpu_hour:\n    {HUGE}: 1"),
    "base-60": ("latency_s: 10", "latency_s: " + ":".join(["59"] * 150_000)),
}


@pytest.mark.parametrize("field", sorted(SPEC_FIELDS))
def test_a_huge_integer_in_any_spec_field_is_exit_2(field, tmp_path):
    old, new = SPEC_FIELDS[field]
    assert old in GOOD
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD.replace(old, new, 1))
    r = invoke("check", spec)
    assert r.exit_code == 2, r.output
    assert re.search(re.escape(str(spec)) + r":\d+:\d+: ", r.output), r.output[:300]
    assert len(r.output) < 5000  # the value is summarised, not echoed


def test_a_huge_integer_in_presets_calibrations_and_measurements_is_exit_2(tmp_path):
    (tmp_path / "models").mkdir()
    preset = yaml.safe_load((DATA_DIR / "models" / "sdxl.yaml").read_text())
    preset["id"] = "mine"
    text = yaml.safe_dump(preset, sort_keys=False).replace("name: ", f"name: {HUGE}\nxname: ", 1)
    (tmp_path / "models" / "mine.yaml").write_text(text)
    assert invoke("models", "show", "mine", "--presets", tmp_path).exit_code == 2
    cal = tmp_path / "cal.yaml"
    cal.write_text(CALIBRATION.replace("name: NVIDIA H100 80GB HBM3", f"name: {HUGE}"))
    r = invoke("estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--calibration", cal)
    assert r.exit_code == 2 and f"{cal}:5:9: device.name" in r.output, r.output[:300]
    meas = tmp_path / "m.yaml"
    meas.write_text(f"- id: {HUGE}\n")
    r = invoke("validate", "--measurements", meas, "--in-sample-only")
    assert r.exit_code == 2 and f"{meas}:1:7: [0].id" in r.output, r.output[:300]


def test_octal_looking_width_is_decimal(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD.replace("width: 1024", "width: 0512"))
    r = invoke("analyze", spec, "--format", "json")
    assert r.exit_code in (0, 1), r.output
    assert json.loads(r.stdout)["specs"][0]["product"]["width"] == 512


# ---------------------------------------------------------------------------------------------- injection

HOSTILE = [
    "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "\n::error file=x::forged",
    "::add-mask::secret",
    "FLUX.1 [dev]",
    "[link=https://evil.example]x[/link]",
    ":warning: [bold]b[/bold]",
    "a\u2028b\x9bc",
]


def _assert_inert(text: str, hostile: str, github: bool = False, markdown: bool = False) -> None:
    for bad in ("\x1b", "\x07", "\u2028", "\x9b"):
        assert bad not in text, (hostile, text)
    for line in text.splitlines():
        if line.lstrip().startswith("::"):
            assert github and re.match(r"::(error|notice) file=", line), (hostile, line)
    if "[dev]" in hostile or "[link=" in hostile:  # rich markup is never interpreted; markdown shows it escaped
        shown = ("\\[dev\\]", "\\[link=") if markdown else ("[dev]", "[link=")
        assert any(s in text for s in shown), (hostile, text)


def _assert_markdown_inert(text: str) -> None:
    assert text.count("<!-- tokcost-check -->") <= 1
    for pattern in (
        r"(?<!\\)!\[",
        r"(?<!\\)\]\(",
        r"(?<![\\\w])@evil",
        r"(?<!\\)<(?=[A-Za-z/?]|!(?!-- tokcost-check -->))",
    ):  # raw HTML starts
        assert not re.search(pattern, text), (pattern, text)


def _baseline_with_names(tmp_path: Path, hostile: str) -> Path:
    r = invoke("analyze", SPEC, "--format", "json")
    doc = json.loads(r.stdout)
    other = copy.deepcopy(doc["specs"][0])
    other["name"] = hostile + " ![x](https://evil.example/a.png) @evil <!-- tokcost-check -->"
    other["file"] = "gone.yaml"
    doc["specs"].append(other)
    for c in doc["specs"][0]["candidates"]:
        c["model"] = hostile + "[m](https://evil.example)"
    doc["specs"][0]["recommendation"]["choice"]["model"] = hostile + "![i](https://evil.example)"
    doc["specs"][0]["product"]["quality_tier"] = hostile + " @evil"
    path = tmp_path / "base.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_user_text_injects_into_check_and_diff(hostile, tmp_path):
    base = _baseline_with_names(tmp_path, hostile)
    for fmt in ("table", "markdown", "github", "json"):
        r = invoke("check", SPEC, "--baseline", base, "--format", fmt)
        assert r.exit_code in (0, 1), r.output
        if fmt == "github":  # annotations name only failures, and a changed choice alone is not one
            _assert_inert(r.stdout, "", github=True)
        elif fmt != "json":
            _assert_inert(r.stdout, hostile, markdown=fmt == "markdown")
        if fmt == "markdown":
            _assert_markdown_inert(r.stdout)
    for fmt in ("table", "markdown"):
        r = invoke("diff", base, base, "--format", fmt, "--all")
        assert r.exit_code == 0, r.output
        _assert_inert(r.stdout, hostile, markdown=fmt == "markdown")
        if fmt == "markdown":
            _assert_markdown_inert(r.stdout)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_file_name_injects(hostile, tmp_path, monkeypatch):
    name = hostile.replace("/", "_").replace("\n", "_") + ".yaml"
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / name).write_text("version: 1\n")  # invalid: its name is printed in the problems
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = invoke("check", folder)
    assert r.exit_code == 2
    _assert_inert(r.stdout + r.stderr, "", github=True)
    out = tmp_path / ("::warning::" + name.replace("\x1b", "_"))
    r = invoke("analyze", SPEC, "--format", "json", "-o", out)
    assert r.exit_code == 0
    _assert_inert(r.stderr, "")  # "wrote ..."


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_spec_name_injects_into_reports(hostile, tmp_path):
    spec = tmp_path / "s.yaml"
    inert = hostile.replace("\n", "").replace("\x1b", "").replace("\x07", "").replace("\u2028", "").replace("\x9b", "")
    spec.write_text(GOOD.replace("name: storefront-images", f"name: {json.dumps(inert)}"))
    for fmt in ("table", "markdown"):
        r = invoke("analyze", spec, "--format", fmt)
        assert r.exit_code in (0, 1), r.output
        _assert_inert(r.stdout, inert, markdown=fmt == "markdown")
        if fmt == "markdown":
            _assert_markdown_inert(r.stdout)
    r = invoke("check", spec, "--format", "table")
    _assert_inert(r.stdout, inert)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_preset_text_injects_into_hardware_and_models_views(hostile, tmp_path):
    for kind, source in (("hardware", "h100-sxm"), ("models", "flux1-dev")):
        (tmp_path / kind).mkdir(exist_ok=True)
        preset = yaml.safe_load((DATA_DIR / kind / f"{source}.yaml").read_text())
        preset["id"] = "mine"
        preset["name"] = hostile
        preset["notes"] = hostile
        if kind == "hardware" and isinstance(preset.get("host"), dict):
            preset["host"]["cpu"] = hostile
        (tmp_path / kind / "mine.yaml").write_text(yaml.safe_dump(preset, sort_keys=False, allow_unicode=True))
        for args in ([kind, "show", "mine"], [kind, "list"]):
            r = invoke(*args, "--presets", tmp_path)
            assert r.exit_code == 0, r.output
            _assert_inert(r.stdout, hostile)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_no_calibration_or_measurement_text_injects(hostile, tmp_path):
    cal = yaml.safe_load(CALIBRATION)
    cal["device"]["name"] = hostile[:400]
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(cal, sort_keys=False, allow_unicode=True))
    r = invoke("estimate", "--model", "sdxl", "--hardware", "a100-80gb-sxm", "--calibration", path)
    assert r.exit_code == 0, r.output
    _assert_inert(r.stdout + r.stderr, hostile)
    entries = [first_measurement()]
    entries[0]["id"] = hostile
    meas = tmp_path / "m.yaml"
    meas.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    for fmt in ("table", "markdown"):
        r = invoke("validate", "--measurements", meas, "--in-sample-only", "--format", fmt)
        assert r.exit_code in (0, 1), r.output
        _assert_inert(r.stdout, hostile, markdown=fmt == "markdown")


_MD_SPECIAL = set("\\`*_{}[]()<>#+!|~@&:$")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_markdown_text_escapes_every_special_character_and_nothing_is_lost(text):
    out = markdown_text(text)
    plain, i = [], 0
    while i < len(out):  # undo the backslash escapes: what a markdown reader shows
        if out[i] == "\\" and i + 1 < len(out) and (out[i + 1] in _MD_SPECIAL or out[i + 1] == "."):
            plain.append(out[i + 1])
            i += 2
            continue
        assert out[i] not in _MD_SPECIAL, (text, out, i)  # every special character is escaped
        if out[i] == "." and i >= 3 and out[i - 3 : i].lower() == "www":
            raise AssertionError(("a www. autolink", text, out))
        plain.append(out[i])
        i += 1
    assert "".join(plain) == escape_line(text)
    assert "\n" not in out and "\r" not in out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_escape_line_leaves_no_control_character_or_workflow_command(text):
    out = escape_line(text)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]", out)
    assert "::" not in out


# ------------------------------------------------------------------------------------------ paths and globs


def test_an_existing_name_is_a_file_before_it_is_a_pattern(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("spec[1].yaml").write_text(GOOD.replace("name: storefront-images", "name: literal"))
    r = invoke("analyze", "spec[1].yaml", "--format", "json")
    assert [s["name"] for s in json.loads(r.stdout)["specs"]] == ["literal"]
    Path("spec1.yaml").write_text(GOOD.replace("name: storefront-images", "name: impostor"))
    r = invoke("analyze", "spec[1].yaml", "--format", "json")
    assert [s["name"] for s in json.loads(r.stdout)["specs"]] == ["literal"]
    r = invoke("analyze", "spec[0-9].yaml", "--format", "json")  # not a file: a pattern
    assert [s["name"] for s in json.loads(r.stdout)["specs"]] == ["impostor"]


@posix
def test_globs_never_follow_link_loops_and_a_spec_is_read_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a/b").mkdir(parents=True)
    Path("a/b/s.yaml").write_text(GOOD)
    Path("a/b/loop").symlink_to("..")
    Path("a/b/self").symlink_to(".")
    Path("a/same.yaml").symlink_to("b/s.yaml")
    loaded = []
    import tokcost.io.specs as specs

    real = specs.load_spec
    monkeypatch.setattr(specs, "load_spec", lambda f, c: loaded.append(f) or real(f, c))
    r = invoke("analyze", "a/**/*.yaml", "a/b/s.yaml", "a/b/loop/b/s.yaml", "a", "--format", "json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["specs"]) == 1
    assert loaded == ["a/b/s.yaml"]


def test_id_checks_are_linear(tmp_path, monkeypatch):
    """40,000 unknown ids (a 350 KB spec, under the size cap): every one reported, with a suggestion for the first
    few only: the costly matching runs a bounded number of times."""
    import difflib

    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *a, **k: calls.append(1) or real(*a, **k))
    ids = ", ".join(f"zz{i}" for i in range(40_000))
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD.replace("models: [emu3-gen, sdxl, flux1-dev]", f"models: [{ids}, sdxl, sdxl]"))
    r = invoke("check", spec)
    assert r.exit_code == 2
    assert "40001 problems found" in r.output.replace(",", "")  # 40,000 unknown and one listed twice
    assert "'sdxl' is listed twice" in r.output
    assert len(calls) <= 60


# --------------------------------------------------------------------------------------------------- signals


@posix
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("command", ["analyze", "sweep-csv"])
def test_a_terminating_signal_removes_the_temporary_file(command, sig, tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("OLD")
    args = ["analyze", SPEC, "--format", "json"] if command == "analyze" else SWEEP_CSV
    env = {**os.environ, "PYTHONPATH": str(ROOT), TEST_FAIL_ENV: "sleep"}
    proc = subprocess.Popen([sys.executable, "-m", "tokcost", *map(str, args), "-o", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "never reached the rename"
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    no_traceback(err)
    assert out.read_text() == "OLD"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


# ----------------------------------------------------------------------------------- wrong numbers, no word


def _calibration(tmp_path: Path, **changes) -> Path:
    cal = yaml.safe_load(CALIBRATION)
    for dotted_key, value in changes.items():
        section, field = dotted_key.split("__")
        cal[section][field] = value
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(cal, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("changes", "where", "fragment"),
    [
        ({"device__preset": "a100-80gb-sxm"}, "device.preset", "is h100-sxm, not a100-80gb-sxm"),
        ({"device__preset": "no-such-gpu"}, "device.preset", "unknown hardware id 'no-such-gpu'"),
        ({"device__matmul_tflops": 2000}, "device.matmul_tflops", "above h100-sxm's bf16 peak"),
        ({"device__copy_gbps": 9000}, "device.copy_gbps", "above h100-sxm's bandwidth"),
        ({"device__memory_gb": 24}, "device.memory_gb", "does not match h100-sxm's 80 GB"),
        ({"fit__peak_tflops": 312}, "fit.peak_tflops", "not h100-sxm's datasheet figure"),
        ({"fit__mfu": 1.2}, "fit.mfu", "above 1"),
        ({"fit__mbu": 1.01}, "fit.mbu", "above 1"),
        ({"device__preset": None}, "device.preset", "set preset: h100-sxm"),
        (  # fractions of ceilings measured low may exceed 1, but not give rates beyond the datasheet
            {"fit__reference": "measured", "fit__peak_tflops": 700, "fit__bandwidth_gbps": 2900, "fit__mfu": 1.9},
            "fit.mfu",
            "above h100-sxm's datasheet 989 TFLOP/s",
        ),
    ],
)
@pytest.mark.parametrize("command", ["estimate", "analyze", "check"])
def test_a_calibration_that_does_not_match_its_device_is_blamed(changes, where, fragment, command, tmp_path):
    path = _calibration(tmp_path, **changes)
    args = {
        "estimate": ["estimate", "--model", "sdxl", "--calibration", path],
        "analyze": ["analyze", SPEC, "--calibration", path],
        "check": ["check", SPEC, "--calibration", path],
    }[command]
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert re.search(re.escape(f"{path}:") + r"\d+:\d+: " + re.escape(f"{where}: "), r.output), r.output
    assert fragment in r.output, r.output
    assert "--hardware" not in r.output


def test_a_consistent_calibration_is_accepted(tmp_path):
    r = invoke("estimate", "--model", "sdxl", "--calibration", _calibration(tmp_path))
    assert r.exit_code == 0, r.output
    # 1.2 x a 700 TFLOP/s ceiling measured low is 840, within the H100's 989: accepted
    measured = {"fit__reference": "measured", "fit__peak_tflops": 700, "fit__bandwidth_gbps": 2900, "fit__mfu": 1.2}
    r = invoke("estimate", "--model", "sdxl", "--calibration", _calibration(tmp_path, **measured))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fleet_cost_usd_per_item", 0),
        ("fleet_cost_usd_per_item", -0.01),
        ("monthly_usd", 0),
        ("latency_objective_s", 0),
        ("latency_objective_s", -1),
        ("latency_s.central", 0),
        ("cost_usd_per_item.low", -5),
    ],
)
@pytest.mark.parametrize("where", ["choice", "candidate"])
def test_a_baseline_with_a_zero_or_negative_number_is_exit_2(field, value, where, tmp_path):
    doc = json.loads(invoke("analyze", SPEC, "--format", "json").stdout)
    spec = doc["specs"][0]
    target = spec["recommendation"]["choice"] if where == "choice" else spec["candidates"][-1]
    if "." in field:
        outer, inner = field.split(".")
        target[outer][inner] = value
    else:
        target[field] = value
    base = tmp_path / "base.json"
    base.write_text(json.dumps(doc))
    for role, args in (
        ("baseline", ["check", SPEC, "--baseline", base, "--max-cost-increase", "10"]),
        ("base", ["diff", base, base]),  # diff names its files base and head
    ):
        r = invoke(*args)
        assert r.exit_code == 2, r.output
        assert f"{role} {base}:" in r.output and "positive" in r.output, r.output


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens", "1e300"],
        [
            "train",
            "--model",
            "emu3-gen",
            "--model",
            "sdxl",
            "--hardware",
            "h100-sxm",
            "--tokens",
            "1e300",
            "--samples",
            "1e300",
        ],  # fmt: skip
    ],
)
def test_a_result_that_is_not_finite_is_exit_2(args):
    for fmt in ("table", "json"):
        r = invoke(*args, "--format", fmt)
        assert r.exit_code == 2, r.output
        assert "beyond what tokcost can price" in r.output and "inf" not in r.stdout


@pytest.mark.parametrize(
    "pair", [("h100-sxm=1", "H100-SXM=900"), ("H100-SXM=2", "h100-SXM=2"), ("h100-sxm=1", "h100-sxm=2")]
)
@pytest.mark.parametrize("command", ["analyze", "estimate", "check"])
def test_two_prices_for_one_chip_are_exit_2(pair, command):
    args = {
        "analyze": ["analyze", SPEC],
        "estimate": ["estimate", "--model", "sdxl", "--hardware", "h100-sxm"],
        "check": ["check", SPEC],
    }[command]
    r = invoke(*args, "--price", pair[0], "--price", pair[1])
    assert r.exit_code == 2, r.output
    assert "--price" in r.output


@pytest.mark.parametrize("text", ["[]\n", "[]  # nothing\n"])
def test_validate_over_no_measurements_does_not_pass(text, tmp_path):
    meas = tmp_path / "m.yaml"
    meas.write_text(text)
    r = invoke("validate", "--measurements", meas)
    assert r.exit_code == 2, r.output
    assert "passed" not in r.output and "empty" in r.output


@pytest.mark.parametrize(
    ("hourly", "ok"),
    [
        ([5e-324] + [0] * 23, False),
        ([5e-324] * 24, False),
        ([1e-300] + [0] * 23, True),
        ([1e-300] * 24, True),
        ([1e12] + [5e-324] * 23, True),
    ],
)
def test_tiny_hourly_weights_are_an_error_or_priced_without_warnings(hourly, ok, tmp_path):
    spec = tmp_path / "s.yaml"
    assert "  peak_to_mean: 3.0\n" in GOOD
    spec.write_text(GOOD.replace("  peak_to_mean: 3.0\n", f"  hourly: {json.dumps(hourly)}\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning is a failure
        r = invoke("analyze", spec, "--format", "json")
    if ok:
        assert r.exit_code in (0, 1), r.output
    else:
        assert r.exit_code == 2 and "demand.hourly" in r.output, r.output


# ------------------------------------------------------------------------------------------------- the API

BAD_CALLS = {
    "yaml text as a path": lambda: api.load_spec(GOOD),
    "None as a path": lambda: api.load_spec(None),
    "int as a path": lambda: api.load_spec(5),
    "NUL in a path": lambda: api.analyze("a\x00b"),
    "a very long path": lambda: api.analyze("x" * 100_000),
    "str for prices": lambda: api.analyze(str(SPEC), prices="h100-sxm=1"),
    "list for prices": lambda: api.analyze(str(SPEC), prices=[("h100-sxm", 1)]),
    "int for calibration": lambda: api.analyze(str(SPEC), calibration=5),
    "yaml text for calibration": lambda: api.analyze(str(SPEC), calibration=CALIBRATION),
    "int calibration in estimate": lambda: api.estimate(model="sdxl", hardware="h100-sxm", calibration=5),
    "str prices in estimate": lambda: api.estimate(model="sdxl", hardware="h100-sxm", prices="x"),
    "presets as letters": lambda: api.analyze(str(SPEC), presets="pre"),
    "presets an int": lambda: api.analyze(str(SPEC), presets=3),
    "huge int in a mapping": lambda: api.analyze({"name": 10**5000}),
    "huge int key": lambda: api.analyze({10**5000: 1}),
    "huge int price key": lambda: api.analyze(str(SPEC), prices={10**5000: 1}),
    "two prices for one chip": lambda: api.analyze(str(SPEC), prices={"h100-sxm": 1, "H100-SXM": 900}),
    "infinite training": lambda: api.train(model="emu3-gen", hardware="h100-sxm", tokens=1e300),
    "a spec of the wrong type": lambda: api.analyze(3.5),
    "huge gpus": lambda: api.train(model="emu3-gen", hardware="h100-sxm", tokens=1e9, gpus=10**5000),
    "huge context": lambda: api.train(model="emu3-gen", hardware="h100-sxm", tokens=1e9, context=10**400),
    "huge width": lambda: api.tokens(width=10**400, height=512, spatial_factor=16),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_only_input_error_escapes_the_api(name):
    with pytest.raises(InputError) as exc:
        BAD_CALLS[name]()
    assert str(exc.value) and len(str(exc.value)) < 20_000


def test_preset_folders_are_a_list_never_the_letters_of_one(tmp_path):
    (tmp_path / "models").mkdir()
    assert api.catalog([str(tmp_path)]).roots[-1] == tmp_path
    for one in (str(tmp_path), tmp_path):
        with pytest.raises(InputError, match="expected a list of folders"):
            api.analyze(str(SPEC), presets=one)


DIGITS = "9" * 5000
SWEEP = ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "512"]
HUGE_FLAGS = {
    "estimate --width": ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--width", DIGITS],
    "estimate --batch": ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--batch", DIGITS],
    "estimate --tokens-per-forward": [
        "estimate",
        "--model",
        "emu3-gen",
        "--hardware",
        "h100-sxm",
        "--tokens-per-forward",
        DIGITS,
    ],  # fmt: skip
    "tokens --width": ["tokens", "--width", DIGITS, "--height", "512", "--spatial-factor", "16"],
    "train --tokens": ["train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens", DIGITS],
    "train --gpus": ["train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens", "1e9", "--gpus", DIGITS],
    "sweep --resolutions": [*SWEEP[:-1], DIGITS],
    "sweep --resolutions WxH": [*SWEEP[:-1], f"512x{DIGITS}"],
    "sweep --batches": [*SWEEP, "--batches", DIGITS],
    "sweep --gpus": [*SWEEP, "--gpus", DIGITS],
    "sweep --steps": [*SWEEP, "--steps", DIGITS],
    "analyze --top": ["analyze", SPEC, "--top", DIGITS],
    "analyze --price": ["analyze", SPEC, "--price", f"h100-sxm={DIGITS}"],
    "check --max-cost-increase": ["check", SPEC, "--baseline", SPEC, "--max-cost-increase", DIGITS],
    "check --max-latency-increase": ["check", SPEC, "--baseline", SPEC, "--max-latency-increase", "1e999"],
}


@pytest.mark.parametrize("name", sorted(HUGE_FLAGS))
def test_a_number_flag_past_any_range_is_exit_2(name):
    r = invoke(*HUGE_FLAGS[name])
    assert r.exit_code == 2, r.output
    assert len(r.output) < 3000  # summarised, not echoed 5,000 digits long


def test_validate_with_nothing_scored_does_not_pass(tmp_path):
    entry = first_measurement()
    entry["model"] = entry["hardware"] = None  # documentation only: nothing to price
    meas = tmp_path / "m.yaml"
    meas.write_text(yaml.safe_dump([entry], sort_keys=False))
    r = invoke("validate", "--measurements", meas, "--in-sample-only")
    assert r.exit_code == 1, r.output
    assert "gate: FAILED" in r.output and "nothing was validated" in r.output


@pytest.mark.parametrize("arg", ["x" * 5000, "a**b/*.yaml", "no/such/*.yaml", "missing.yaml"])
def test_a_spec_argument_that_names_nothing_readable_is_exit_2(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("check", arg)
    assert r.exit_code == 2, r.output


def test_a_wildcard_skips_hidden_files_as_a_shell_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text(GOOD)
    Path(".a.yaml").write_text(GOOD.replace("name: storefront-images", "name: hidden"))
    names = lambda *args: [s["name"] for s in json.loads(invoke("analyze", *args, "--format", "json").stdout)["specs"]]  # noqa: E731
    assert names("*.yaml") == ["storefront-images"]
    assert names(".*.yaml") == ["hidden"]


@pytest.mark.parametrize("name", ["x" * 5000, "x" * 5000 + "/out.json", "no/such/folder/out.json"])
def test_an_output_name_the_file_system_refuses_is_exit_2(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("analyze", SPEC, "--format", "json", "-o", name)
    assert r.exit_code == 2, r.output
    assert list(tmp_path.iterdir()) == []


def test_a_preset_folder_the_file_system_refuses_is_exit_2(monkeypatch):
    monkeypatch.setenv("TOKCOST_PRESETS", "x" * 5000)
    r = invoke("analyze", SPEC)
    assert r.exit_code == 2 and "preset directory does not exist" in r.output


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(10**5000),
    st.floats(),
    st.text(max_size=20),
    st.just(GOOD),
    st.binary(max_size=8),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.floats(), st.text(max_size=5)), max_size=3),
    st.just(SPEC),
    st.just(str(SPEC)),
)
API_CALLS = {
    "analyze": lambda v, w: api.analyze(v, calibration=w),
    "analyze prices": lambda v, w: api.analyze(str(SPEC), prices=v, presets=w),
    "load_spec": lambda v, w: api.load_spec(v, presets=w),
    "estimate": lambda v, w: api.estimate(model="sdxl", hardware=v, width=w),
    "estimate calibration": lambda v, w: api.estimate(model="sdxl", hardware="h100-sxm", calibration=v, prices=w),
    "train": lambda v, w: api.train(model="emu3-gen", hardware="h100-sxm", tokens=v, gpus=w),
    "train diffusion": lambda v, w: api.train(model="sdxl", hardware="h100-sxm", samples=v, width=w),
    "train context": lambda v, w: api.train(model="emu3-gen", hardware="h100-sxm", context=v, mfu=w),
    "estimate tokens": lambda v, w: api.estimate(model="emu3-gen", hardware="h100-sxm", prompt_tokens=v, gpus=w),
    "tokens factor": lambda v, w: api.tokens(width=512, height=v, spatial_factor=w),
    "tokens": lambda v, w: api.tokens(width=v, height=512, model=w),
    "sweep": lambda v, w: api.sweep(models=v, hardware=["h100-sxm"], resolutions=[(512, 512)], batches=w),
    "catalog": lambda v, w: api.catalog(v),
}


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(API_CALLS)), ANY_VALUE, ANY_VALUE)
def test_the_api_raises_only_input_error_whatever_the_argument_types(name, v, w):
    try:
        API_CALLS[name](v, w)
    except InputError as exc:
        assert len(str(exc)) < 50_000
