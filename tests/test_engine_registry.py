"""Engines are a registry: ``tokcost/data/engines.yaml`` maps a name to a profile checked by one schema, and every
command accepts the names the loaded table holds. A new engine is a new entry, with no code change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import tokcost
from tokcost.errors import InputError
from tokcost.io import paths
from tokcost.io.engines import load_engines, offered, read_engines
from tokcost.io.measurements import load_entries

TABLE = paths.ENGINES_FILE.read_text()
SPEC = Path(__file__).resolve().parent.parent / "specs" / "storefront-images.yaml"


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engines.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def with_new_engine(tmp_path, monkeypatch):
    """The shipped table plus ``compiled-fa3``: compiled's numbers with FlashAttention-3 as its kernel."""
    # a new engine has no fitted parameters of its own: it states compiled's (hand-written and fitted) as its own
    compiled = (
        yaml.safe_load(TABLE)["compiled"] | yaml.safe_load(paths.ENGINES_FITTED_FILE.read_text())["engines"]["compiled"]
    )
    entry = {**compiled, "description": "compiled, FlashAttention-3 by default", "attention": "fa3"}
    path = _table(tmp_path, TABLE + yaml.safe_dump({"compiled-fa3": entry}, sort_keys=False))
    monkeypatch.setattr(paths, "ENGINES_FILE", path)
    return path


def test_the_shipped_table_is_the_six_engines_in_order():
    engines = load_engines()
    assert list(engines) == ["eager", "compiled", "vllm", "vllm-0.4", "vllm-0.7", "vllm-0.11"]
    dated = ("vllm-0.4", "vllm-0.7", "vllm-0.11")
    assert {engines[e].superseded_by for e in dated} == {"vllm"}
    assert {tuple(engines[e].serves) for e in ("vllm", *dated)} == {("ar",)}


def test_a_new_entry_is_priced_by_estimate_spec_and_sweep_with_no_code_change(with_new_engine):
    assert "compiled-fa3" in load_engines() and "compiled-fa3" in offered(load_engines(), "diffusion")
    est = tokcost.estimate(model="flux1-dev", hardware="h100-sxm", engine="compiled-fa3")
    assert est.engine == "compiled-fa3" and est.attention == "fa3"
    # the same as compiled asked for fa3: the entry's numbers and nothing else
    same = tokcost.estimate(model="flux1-dev", hardware="h100-sxm", engine="compiled", attention="fa3")
    assert est.latency_s == same.latency_s
    spec = tokcost.load_spec(SPEC)
    data = spec.model_dump(mode="json")
    data["candidates"]["engines"] = ["compiled-fa3"]
    result = tokcost.analyze(data)
    assert {c.engine for c in result.specs[0].candidates} == {"compiled-fa3"}
    sweep = tokcost.sweep(models=["sdxl"], hardware=["h100-sxm"], resolutions=[(1024, 1024)])
    assert "compiled-fa3" in set(sweep.columns["engine"])


def test_an_engine_outside_the_table_is_refused_with_the_known_names(tmp_path):
    data = yaml.safe_load(SPEC.read_text())
    data.setdefault("candidates", {})["engines"] = ["eager", "tensorrt"]
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError) as info:
        tokcost.load_spec(spec)
    (problem,) = info.value.problems
    assert problem.field == "candidates.engines[1]" and problem.line > 1
    assert (
        problem.message == "unknown engine 'tensorrt'; choose from eager, compiled, vllm, vllm-0.4, vllm-0.7, vllm-0.11"
    )


def test_a_measurement_names_an_engine_of_the_table(tmp_path):
    entries = yaml.safe_load(paths.MEASUREMENTS_FILE.read_text())[:2]
    entries[1]["engine"] = "vllm-0.44"
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    with pytest.raises(InputError) as info:
        load_entries(path)
    (problem,) = info.value.problems
    assert problem.field == "[1].engine" and problem.line > 1  # the schema problems' path style
    assert problem.message.startswith("unknown engine 'vllm-0.44'; did you mean vllm-0.4?")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("superseded_by: vllm\n", "superseded_by: vllm-0.5\n"), "vllm-0.4.superseded_by", "is not another engine"),
        (("superseded_by: vllm\n", "superseded_by: vllm-0.4\n"), "vllm-0.4.superseded_by", "is not another engine"),
        (("superseded_by: vllm\n", "superseded_by: eager\n"), None, None),  # eager serves ar too: allowed
        (("\nvllm-0.4:\n", "\nvLLM 0.4:\n"), "vLLM 0.4", "an engine name is lower-case letters"),
        (("\neager:\n", "\nreference:\n"), "(document)", "the table needs the eager profile"),
        (("mfu: {low: 1, high: 1, central: 1}", "mfu: {low: 1, high: 1, central: 2}"), "eager.mfu.central", "1"),
        (
            ("  batching: continuous\n  superseded_by", "  batching: sometimes\n  superseded_by"),
            "vllm-0.4.batching",
            "",
        ),
    ],
)
def test_a_bad_table_is_refused_at_the_entry_that_is_wrong(tmp_path, change, field, message):
    old, new = change
    assert old in TABLE
    path = _table(tmp_path, TABLE.replace(old, new, 1))
    # a renamed engine keeps its fitted parameters: the generated file names it the same way
    fitted = tmp_path / "engines.fitted.yaml"
    renamed = old.startswith("\n") and old.endswith(":\n")
    fitted_text = paths.ENGINES_FITTED_FILE.read_text()
    fitted.write_text(fitted_text.replace("\n  " + old[1:], "\n  " + new[1:], 1) if renamed else fitted_text)
    if field is None:
        assert read_engines(path, fitted)["vllm-0.4"].superseded_by == "eager"
        return
    with pytest.raises(InputError) as info:
        read_engines(path, fitted)
    (problem,) = info.value.problems
    assert problem.file == str(path) and problem.field == field and message in problem.message
    line = TABLE.replace(old, new, 1).splitlines()[problem.line - 1]
    assert field == "(document)" or field.split(".")[-1] in line or field in line


@pytest.mark.parametrize("text", ["- eager\n- compiled\n", ""])
def test_an_engine_table_that_is_not_a_mapping_is_refused_as_such(tmp_path, text):
    """Not a table at all: one problem at the hand-written file, not one per fitted engine it cannot find."""
    path = _table(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_engines(path, paths.ENGINES_FITTED_FILE)
    assert all(p.file == str(path) for p in info.value.problems)
    assert not any("no such engine" in p.message for p in info.value.problems)
