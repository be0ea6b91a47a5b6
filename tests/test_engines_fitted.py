"""The engine profiles load as the hand-written tokcost/data/engines.yaml with the generated
tokcost/data/generated/engines.fitted.yaml laid over it (scripts/fit_engines.py writes the latter; tests/test_validate.py
checks that a refit reproduces it)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tokcost.core import fit as F
from tokcost.errors import InputError
from tokcost.io.engines import load_engines, load_fitted_engines, read_engines
from tokcost.io.paths import ENGINES_FILE, ENGINES_FITTED_FILE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from fit_engines import fitted_yaml, number  # noqa: E402


def test_fitted_values_come_from_the_generated_file_and_the_rest_from_engines_yaml():
    profiles, fitted = load_engines(), load_fitted_engines()
    for name, values in fitted.engines.items():
        for field, rng in values:
            if rng is not None:
                assert getattr(profiles[name], field) == rng, (name, field)
    text = ENGINES_FILE.read_text()
    assert "usable_memory_fraction: 0.95" in text and profiles["eager"].usable_memory_fraction == 0.95
    assert profiles["compiled"].host_per_layer_s.mid == 5e-6  # an assumption, written by hand


def test_a_fitted_parameter_written_by_hand_too_is_refused_where_it_is_written(tmp_path):
    hand = tmp_path / "engines.yaml"
    lines = ENGINES_FILE.read_text().splitlines(keepends=True)
    at = lines.index("  serves: [ar]\n", lines.index("vllm:\n")) + 1
    lines.insert(at, "  fixed_per_step_s: {low: 0.001, high: 0.002}\n")
    hand.write_text("".join(lines))
    with pytest.raises(InputError) as exc:
        read_engines(hand, ENGINES_FITTED_FILE)
    (p,) = exc.value.problems
    assert (p.file, p.line, p.col, p.field) == (str(hand), at + 1, 3, "vllm.fixed_per_step_s")
    assert "is fitted: it belongs in engines.fitted.yaml" in p.message


def test_a_fitted_file_naming_an_unknown_engine_or_a_bad_value_is_refused_with_its_position(tmp_path):
    text = ENGINES_FITTED_FILE.read_text()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(text.replace("\n  vllm:\n", "\n  vlm:\n"))
    with pytest.raises(InputError) as exc:
        read_engines(ENGINES_FILE, unknown)
    (p,) = exc.value.problems
    line = text.splitlines().index("  vllm:") + 1
    assert (p.line, p.col, p.field, p.message) == (line, 3, "engines.vlm", "no such engine in engines.yaml")
    bad = tmp_path / "bad.yaml"
    lines = text.splitlines(keepends=True)
    at = next(i for i, x in enumerate(lines) if x.startswith("    vae_efficiency:"))
    lines[at] = "    vae_efficiency: {low: 0.9, high: 1.5}\n"
    bad.write_text("".join(lines))
    with pytest.raises(InputError) as exc:
        read_engines(ENGINES_FILE, bad)
    assert [(p.line, p.field) for p in exc.value.problems] == [(at + 1, "engines.eager.vae_efficiency.high")]


def test_a_hand_written_profile_missing_a_fitted_field_that_the_file_lacks_too_is_an_error(tmp_path):
    fitted = tmp_path / "fitted.yaml"
    fitted.write_text("".join(x for x in ENGINES_FITTED_FILE.open() if not x.startswith("    host_per_layer_s:")))
    with pytest.raises(InputError) as exc:
        read_engines(ENGINES_FILE, fitted)
    assert {p.field for p in exc.value.problems} == {
        "eager.host_per_layer_s",
        "vllm-0.4.host_per_layer_s",
    }


def test_the_writer_round_trips_every_value_exactly(tmp_path):
    """What scripts/fit_engines.py writes loads back as the values it was given (3 significant figures, no
    exponent notation), under every engine that shares a parameter."""
    values = {(e, f): F.sig(F.initial_values()[(e, f)] * 1.2345) for e, f, *_ in F.PARAMS}
    ranges = {k: (F.sig(v * 0.5), F.sig(v)) for k, v in values.items()}
    path = tmp_path / "fitted.yaml"
    path.write_text(fitted_yaml(values, ranges, date="2026-12-05", inputs="0" * 64, scored=7))
    assert not re.search(r"\de[-+]?\d", path.read_text())
    profiles = read_engines(ENGINES_FILE, path)
    for (engines, field), v in values.items():
        for name in engines:
            r = getattr(profiles[name], field)
            assert (r.low, r.high, r.central) == (ranges[(engines, field)][0], v, v), (name, field)
    assert number(0.0000371) == "0.0000371" and number(1.0) == "1" and number(124.0) == "124"
