"""The bad-input corpus: every file under tests/bad_input/{specs,presets/*,calibrations} is a test case.

Each case runs the CLI in-process (typer's CliRunner, in an empty working directory) and requires exit 2, a
``FILE:line:col: field: message`` line matching tests/bad_input/expected.yaml, no traceback, at most
``MAX_CPU_SECONDS`` of CPU time (a bound on the work, which a busy machine does not inflate as it does the wall
clock: the quadratic or unbounded parses this guards against take minutes), and that nothing in the file was
executed (tag payloads would create ``tokcost-pwned-marker`` in the working directory). A few cases also run as a
user would, in a fresh ``python -m tokcost``. Large and deeply nested documents are generated into tmp_path at
test time instead of being committed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tokcost.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "bad_input"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text())
MARKER = "tokcost-pwned-marker"  # what the tag payloads in the corpus would create if they ran
# CPU seconds one rejected file may take in-process. A case takes well under 0.1 s (the generated hostile
# documents under 0.5 s); the first one in a session also pays for imports. What this catches takes minutes.
MAX_CPU_SECONDS = 5.0
GOOD_SPEC = (ROOT / "specs" / "storefront-images.yaml").read_text()
runner = CliRunner()


def run_cli(args: list[str], cwd: Path, monkeypatch) -> tuple[str, str, int]:
    """``tokcost ARGS`` in-process with ``cwd`` as the working directory and no user presets; fails when it
    raises anything but its exit or uses more than MAX_CPU_SECONDS. Returns (stdout, stderr, exit code)."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("TOKCOST_PRESETS", raising=False)
    start = time.process_time()
    r = runner.invoke(app, args, env={"NO_COLOR": "1"})
    used = time.process_time() - start
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert used < MAX_CPU_SECONDS, f"used {used:.2f} s of CPU (limit {MAX_CPU_SECONDS} s)"
    return r.stdout, r.stderr, r.exit_code


def run_process(args: list[str], cwd: Path) -> tuple[str, str, int]:
    """``python -m tokcost ARGS`` in a fresh interpreter, as a user runs it. The timeout only guards against a
    hang: it is no speed limit."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("TOKCOST_PRESETS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tokcost", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    return proc.stdout, proc.stderr, proc.returncode


def _cases() -> list[str]:
    found = []
    for sub in ("specs", "presets/hardware", "presets/models", "calibrations"):
        folder = CORPUS / sub
        if folder.is_dir():
            found += [f"{sub}/{f.name}" for f in sorted(folder.iterdir()) if f.suffix in (".yaml", ".yml")]
    return found


CASES = _cases()


def _command(rel: str) -> list[str]:
    path = CORPUS / rel
    parts = Path(rel).parts
    if parts[0] == "specs":
        return ["check", str(path)]
    if parts[0] == "presets":
        return [parts[1], "show", path.stem, "--presets", str(CORPUS / "presets")]
    # calibrations: the loader is tokcost.io.calibration.load_calibration, reached through `estimate --calibration`
    return ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--calibration", str(path)]


def assert_reported(
    ran: tuple[str, str, int], file: str, at: str | None, field: str | None, fragment: str, cwd: Path
) -> None:
    stdout, stderr, code = ran
    out = stdout + stderr
    assert "Traceback" not in out, out
    assert code == 2, f"exit {code}, expected 2\n{out}"
    pos = re.escape(at) + (r":\d+" if at and ":" not in at else "") if at else r"\d+:\d+"
    pattern = (
        re.escape(file) + ":" + pos + ": " + (re.escape(field) if field else r"[^:]*") + ": .*" + re.escape(fragment)
    )
    assert re.search(pattern, stderr), f"no line matching {pattern!r} in stderr:\n{stderr}"
    assert not (cwd / MARKER).exists(), "a YAML tag payload was executed"


def test_every_case_has_an_expectation_and_every_expectation_a_case():
    assert sorted(CASES) == sorted(EXPECTED), "tests/bad_input/expected.yaml and the corpus disagree"
    assert len(CASES) >= 100


@pytest.mark.parametrize("rel", CASES)
def test_corpus_file_is_rejected_with_its_position(rel, tmp_path, monkeypatch):
    exp = EXPECTED[rel]
    ran = run_cli(_command(rel), tmp_path, monkeypatch)
    assert_reported(ran, str(CORPUS / rel), str(exp["at"]), exp.get("field"), exp["message"], tmp_path)


# A fresh interpreter for the YAML tag payloads through each loader (spec, model and hardware preset,
# calibration): what a user runs, with nothing imported or cached by the test process.
PROCESS_CASES = [
    "specs/python-object-apply.yaml",
    "specs/python-object-new.yaml",
    "presets/models/python-tag.yaml",
    "presets/hardware/python-tag.yaml",
    "calibrations/python-tag.yaml",
]


@pytest.mark.parametrize("rel", PROCESS_CASES)
def test_corpus_file_is_rejected_by_the_installed_command(rel, tmp_path):
    assert (CORPUS / rel).read_text().count(MARKER), f"{rel} no longer carries a tag payload"
    exp = EXPECTED[rel]
    ran = run_process(_command(rel), tmp_path)
    assert_reported(ran, str(CORPUS / rel), str(exp["at"]), exp.get("field"), exp["message"], tmp_path)


# ------------------------------------------------------------------------------------------ generated at test time


def _large_file(tmp_path: Path) -> Path:
    p = tmp_path / "large.yaml"
    p.write_text(GOOD_SPEC + "description: |\n" + ("  " + "x" * 98 + "\n") * 11_000)  # > 1 MB
    assert p.stat().st_size > 1_000_000
    return p


def _many_values(tmp_path: Path) -> Path:
    p = tmp_path / "many-values.yaml"  # just under the size limit, but 300,000 values: slow to compose naively
    p.write_text("version: 1\nnumbers: [" + ", ".join("1" for _ in range(300_000)) + "]\n")
    assert p.stat().st_size < 1_000_000
    return p


def _deep_flow(tmp_path: Path) -> Path:
    p = tmp_path / "deep-flow.yaml"  # libyaml is quadratic in flow depth: 100,000 levels would take minutes
    p.write_text("version: 1\nname: " + "[" * 100_000 + "]" * 100_000 + "\n")
    return p


def _deep_block(tmp_path: Path) -> Path:
    p = tmp_path / "deep-block.yaml"
    p.write_text("version: 1\nproduct:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(200)))
    return p


def _deep_alias(tmp_path: Path) -> Path:
    p = tmp_path / "deep-alias.yaml"  # each alias nests the previous: shallow text, deep value
    lines = ["version: 1", "a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 80)]
    p.write_text("\n".join(lines) + "\n")
    return p


GENERATED = {
    "large": (_large_file, "1:1", "(document)", "file is larger than 1,000,000 bytes"),
    "many-values": (_many_values, "2", "(document)", "more than"),
    "deep-flow": (_deep_flow, "2", "(document)", "nesting deeper than 64 levels"),
    "deep-block": (_deep_block, None, None, "nesting deeper than 64 levels"),
    "deep-alias": (_deep_alias, None, None, "nesting deeper than 64 levels"),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_hostile_spec_is_rejected_fast(name, tmp_path, monkeypatch):
    make, at, field, fragment = GENERATED[name]
    path = make(tmp_path)
    ran = run_cli(["check", str(path)], tmp_path, monkeypatch)
    assert_reported(ran, str(path), at, field, fragment, tmp_path)


def test_generated_hostile_spec_is_rejected_by_the_installed_command(tmp_path):
    path = _deep_flow(tmp_path)
    _, at, field, fragment = GENERATED["deep-flow"]
    assert_reported(run_process(["check", str(path)], tmp_path), str(path), at, field, fragment, tmp_path)


@pytest.mark.parametrize("kind", ["models", "hardware"])
def test_generated_hostile_preset_is_rejected_fast(kind, tmp_path, monkeypatch):
    (tmp_path / kind).mkdir()
    path = _many_values(tmp_path).rename(tmp_path / kind / "many-values.yaml")
    ran = run_cli([kind, "show", "many-values", "--presets", str(tmp_path)], tmp_path, monkeypatch)
    assert_reported(ran, str(path), "2", "(document)", "more than", tmp_path)


# ------------------------------------------------------------------------------ user presets reached through a spec

MODEL_CASES = [c for c in CASES if c.startswith("presets/models/")]
HARDWARE_CASES = [c for c in CASES if c.startswith("presets/hardware/")]


def _spec_naming(tmp_path: Path, kind: str, preset_id: str) -> Path:
    spec = tmp_path / "spec.yaml"
    line = f"  models: [{preset_id}]" if kind == "models" else f"  hardware: [{preset_id}]"
    old = "  models: [emu3-gen, sdxl, flux1-dev]" if kind == "models" else "  hardware: [h100-sxm, a100-80gb-sxm]"
    assert old in GOOD_SPEC
    spec.write_text(GOOD_SPEC.replace(old, line))
    return spec


@pytest.mark.parametrize("rel", MODEL_CASES + HARDWARE_CASES)
def test_check_reports_a_bad_user_preset_a_spec_names(rel, tmp_path):
    """`check --presets DIR` validates the presets a spec names exactly as `models show` does."""
    kind, stem = Path(rel).parts[1], Path(rel).stem
    spec = _spec_naming(tmp_path, kind, stem)
    r = runner.invoke(app, ["check", str(spec), "--presets", str(CORPUS / "presets")])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    exp = EXPECTED[rel]
    at = str(exp["at"])
    pos = re.escape(at) + (r":\d+" if ":" not in at else "")
    assert re.search(re.escape(str(CORPUS / rel)) + ":" + pos + ": .*" + re.escape(exp["message"]), r.output), r.output
    assert re.search(re.escape(str(spec)) + r":\d+:\d+: candidates\.", r.output), r.output


def test_unsourced_number_in_a_user_preset_names_the_field(tmp_path):
    (tmp_path / "hardware").mkdir()
    text = (CORPUS / "presets" / "hardware" / "unsourced-number.yaml").read_text()
    (tmp_path / "hardware" / "my-gpu.yaml").write_text(text.replace("id: unsourced-number", "id: my-gpu"))
    r = runner.invoke(app, ["hardware", "show", "my-gpu", "--presets", str(tmp_path)])
    assert r.exit_code == 2
    assert re.search(r"my-gpu\.yaml:10:8: tdp_w: no source", r.output), r.output


CALIBRATION_CASES = [c for c in CASES if c.startswith("calibrations/")]


@pytest.mark.parametrize("rel", CALIBRATION_CASES)
def test_analyze_reports_a_bad_calibration(rel, tmp_path):
    """`analyze --calibration FILE` validates the calibration as `estimate` does, before any output."""
    out = tmp_path / "out.json"
    r = runner.invoke(
        app,
        [
            "analyze",
            str(ROOT / "specs" / "storefront-images.yaml"),
            "--format",
            "json",
            "--calibration",
            str(CORPUS / rel),
            "--output",
            str(out),
        ],
    )
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    at = str(EXPECTED[rel]["at"])
    pos = re.escape(at) + (r":\d+" if ":" not in at else "")
    assert re.search(re.escape(str(CORPUS / rel)) + ":" + pos + ": ", r.output), r.output
    assert not out.exists()
