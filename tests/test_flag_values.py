"""Flag values from hypothesis on every command that takes numbers (issue #17, class 4): whatever the value, the
exit code is 0, 1 or 2, there is no traceback, and --format json output is valid JSON without NaN or Infinity."""

import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokcost.cli.app import app

ODD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "5e-324", "0", "-1", "10%", "1_000", "٣", "0x10", "", " "]),
    st.integers(min_value=-(10**30), max_value=10**30),
)
COMMANDS = {
    "tokens --fps": ["tokens", "--model", "emu3-gen", "--width", "512", "--height", "512", "--frames", "8", "--fps"],
    "estimate --tokens-per-forward": [
        "estimate",
        "--model",
        "emu3-gen",
        "--hardware",
        "h100-sxm",
        "--tokens-per-forward",
    ],
    "estimate --draft-tokens": ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--draft-tokens"],
    "estimate --fps": ["estimate", "--model", "ltx-video", "--hardware", "h100-sxm", "--frames", "25", "--fps"],
    "estimate --batch": ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--batch"],
    "train --tokens": ["train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens"],
    "train --mfu": ["train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens", "1e12", "--mfu"],
    "train --samples": ["train", "--model", "sdxl", "--hardware", "h100-sxm", "--samples"],
    "check --max-cost-increase": [
        "check",
        "specs/storefront-images.yaml",
        "--baseline",
        "reports/storefront-images.json",
        "--max-cost-increase",
    ],
    "sweep --batches": ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "512", "--batches"],
    "estimate --price": ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--price"],
}


def _assert_sane(args: list[str]) -> None:
    r = CliRunner().invoke(app, [*args, "--format", "json"])
    assert r.exit_code in (0, 1, 2), (args, r.exit_code, r.output)
    assert "Traceback" not in r.output, (args, r.output)
    if r.exception is not None:
        assert isinstance(r.exception, SystemExit), (args, repr(r.exception))
    if r.exit_code == 0:

        def refuse(token):
            raise AssertionError(f"{token} in JSON output of {args}")

        json.loads(r.stdout, parse_constant=refuse)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@settings(
    max_examples=25,
    deadline=None,
    derandomize="TOKCOST_FUZZ_EXAMPLES" not in os.environ,  # CI is reproducible; docs/fuzzing.md for longer runs
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=ODD_NUMBERS)
def test_any_flag_value_gives_an_answer_or_a_clear_error(name, value):
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    if name == "estimate --price":
        text = f"h100-sxm={text}"
    _assert_sane([*COMMANDS[name], text])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "name",
    ["tokens --fps", "estimate --tokens-per-forward", "train --tokens", "train --mfu", "check --max-cost-increase"],
)
def test_non_finite_flags_exit_2_naming_the_flag(name, value):
    r = CliRunner().invoke(app, [*COMMANDS[name], value, "--format", "json"])
    assert r.exit_code == 2, r.output
    assert name.split()[1] in r.output


@pytest.mark.parametrize(("text", "pct"), [("10", 10.0), ("10%", 10.0), ("12.5 %", 12.5), ("0", 0.0)])
def test_percentages_take_a_percent_sign(text, pct):
    from tokcost.cli.common import percent

    assert math.isclose(percent(text), pct)


# ------------------------------------------------------------------------------ user text in every format (#17)


def test_a_name_with_markdown_and_markup_stays_in_its_cell(tmp_path):
    spec = tmp_path / "s.yaml"
    name = "pipes | and <!-- tokcost-check --> [/italic] `code`"
    spec.write_text(
        f'version: 1\nname: "{name}"\nproduct: {{kind: image, width: 1024, height: 1024}}\n'
        "demand: {requests_per_day: 1000}\nbudget: {latency_s: 10}\ncandidates: {models: [sdxl], hardware: [h100-sxm]}\n"
    )
    runner = CliRunner()
    md = runner.invoke(app, ["check", str(spec), "--format", "markdown"])
    assert md.exit_code == 0, md.output
    assert md.stdout.count("<!-- tokcost-check -->") == 1  # the marker the PR comment is found by: once
    row = next(line for line in md.stdout.splitlines() if "pipes" in line)
    assert row.count(" | ") == 6  # seven cells as in the header: the pipe in the name is escaped (\\|)
    table = runner.invoke(app, ["analyze", str(spec)])  # rich markup in a name is text, not a tag
    assert table.exit_code == 0 and "[/italic]" in table.stdout
    report = runner.invoke(app, ["analyze", str(spec), "--format", "markdown"])
    assert "<!--" not in report.stdout


def test_a_key_with_a_newline_cannot_start_a_workflow_command(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "version: 1\nname: x\nproduct: {kind: image, width: 1024, height: 1024}\ndemand: {requests_per_day: 1000}\n"
        'budget: {latency_s: 10}\n"bad\\n::error ::pwned": 1\n'
    )
    r = CliRunner().invoke(app, ["check", str(spec)])
    assert r.exit_code == 2
    assert not any(line.startswith("::error ::pwned") for line in r.output.splitlines())
