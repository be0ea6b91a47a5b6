"""A sequence longer than the context an AR model was trained at (issue #16, item 7): `tokens` and `estimate` exit
2 saying "context" with both numbers; `analyze` makes such a candidate infeasible with that reason."""

import pytest
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.render import advice

EMU3_VIDEO = ["--model", "emu3-gen", "--width", "720", "--height", "720", "--frames", "80"]


@pytest.mark.parametrize("command", [["tokens"], ["estimate", "--hardware", "h100-sxm"]])
def test_a_sequence_beyond_the_context_is_refused_with_both_numbers(command):
    r = CliRunner().invoke(app, [*command, *EMU3_VIDEO])
    assert r.exit_code == 2, r.output
    assert "context" in r.output and "163,894" in r.output and "131,072" in r.output
    assert "--frames" in r.output


def test_a_sequence_within_the_context_is_priced():
    r = CliRunner().invoke(
        app, ["tokens", "--model", "emu3-gen", "--width", "720", "--height", "720", "--frames", "40"]
    )
    assert r.exit_code == 0, r.output


def test_analyze_makes_a_too_long_candidate_infeasible_with_the_reason(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "version: 1\nname: long-clips\nproduct: {kind: video, width: 720, height: 720, frames: 80}\n"
        "demand: {requests_per_day: 100}\nbudget: {latency_s: 100000}\n"
        "candidates: {models: [emu3-gen, ltx-video], hardware: [h100-sxm]}\n"
    )
    result = tokcost.analyze(str(spec)).specs[0]
    emu3 = [c for c in result.candidates if c.model == "emu3-gen"]
    assert emu3 and all(not c.feasible and c.violations[0].kind == "context" for c in emu3)
    assert all(c.violations[0].limit == 131_072 for c in emu3)
    assert "trained context of 131,072" in advice.reasons(emu3[0], result)[0]
