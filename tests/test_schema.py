"""The records are plain pydantic models: what tokcost adds to them (numbers that refuse a boolean, frozen input
records, a description with its unit on every spec field, problems at file:line:col with suggestions) and what
users rely on (saved results read back)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

import tokcost
from tokcost.errors import InputError
from tokcost.io.baseline import load_result
from tokcost.io.located import load_text
from tokcost.io.parse import validate_doc
from tokcost.records.base import Fraction, NonNegative, Range, Strict
from tokcost.records.calibration import Benchmark
from tokcost.records.presets import HardwareEfficiency, ModelPreset
from tokcost.records.results import AnalysisResult
from tokcost.records.spec import Spec

ROOT = Path(__file__).resolve().parent.parent
GOOD_SPEC = (ROOT / "specs" / "storefront-images.yaml").read_text()
SPEC_DATA = {
    "version": 1,
    "name": "p",
    "product": {"kind": "image", "width": 512, "height": 512},
    "demand": {"requests_per_day": 1000},
    "budget": {"latency_s": 5},
}


def _records() -> list[type[BaseModel]]:
    """Every pydantic model tokcost declares (not only those the tests load)."""
    for mod in pkgutil.walk_packages(tokcost.__path__, "tokcost."):
        if (
            mod.name == "tokcost.__main__"
            or mod.name.startswith("tokcost.bench.")
            and mod.name != "tokcost.bench.calibrate"
        ):
            continue  # runs the CLI / needs torch (and declares no record)
        importlib.import_module(mod.name)
    found, todo = [], [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("tokcost.") and "[" not in sub.__name__:
                found.append(sub)
    return found


def _problems(text: str, model=Spec) -> list[str]:
    with pytest.raises(InputError) as exc:
        validate_doc(model, load_text(text, "spec.yaml"))
    return [str(p) for p in exc.value.problems]


def _errors(model, data) -> list[tuple]:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return [(e["loc"], e["msg"]) for e in exc.value.errors(include_url=False)]


# ------------------------------------------------------------------------------------------ numbers


def test_a_boolean_is_refused_where_a_number_is_expected():
    """YAML 1.1 reads `yes`/`true` as booleans; pydantic would take them as 1."""
    data = {
        **SPEC_DATA,
        "version": True,
        "product": {**SPEC_DATA["product"], "width": True},
        "demand": {"requests_per_day": False},
    }
    assert sorted(_errors(Spec, data)) == [
        (("demand", "requests_per_day"), "Value error, must be a number, not false"),
        (("product", "width"), "Value error, must be a number, not true"),
        (("version",), "Value error, must be a number, not true"),
    ]


def test_booleans_are_refused_inside_lists_and_mappings_too():
    errs = _errors(
        Benchmark,
        {
            "model": "m",
            "layers_run": 1,
            "layers_full": 1,
            "batches": [1, True],
            "contexts": [1],
            "repeats": 1,
            "cfg_scale": 1.0,
            "top_k": 1,
            "temperature": 1.0,
        },
    )
    assert errs == [(("batches", 1), "Value error, must be a number, not true")]
    quality = _errors(ModelPreset, {"quality": {"geneval": True}})
    assert (("quality", "geneval"), "Value error, must be a number, not true") in quality


def test_numbers_stay_lax_otherwise():
    """`1e6` is a string to YAML 1.1 and `1024.0` a float: both are numbers users write (why not strict=True)."""
    text = GOOD_SPEC.replace("requests_per_day: 200000", "requests_per_day: 2e5").replace(
        "width: 1024", "width: 1024.0"
    )
    spec = validate_doc(Spec, load_text(text, "spec.yaml"))
    assert spec.demand.requests_per_day == 200000.0 and spec.product.width == 1024
    assert isinstance(spec.product.width, int)
    assert Spec.model_validate(SPEC_DATA).budget.latency_s == 5.0  # an int for a float


def test_nan_and_infinity_are_refused_with_the_field_named():
    text = GOOD_SPEC.replace("latency_s: 10", "latency_s: .nan").replace(
        "requests_per_day: 200000", "requests_per_day: .inf"
    )
    assert _problems(text) == [
        "spec.yaml:10:21: demand.requests_per_day: must be a finite number (not NaN or infinity)",
        "spec.yaml:13:14: budget.latency_s: must be a finite number (not NaN or infinity)",
    ]


def test_constraints_are_the_numbers_own_in_every_record():
    """A constraint placed after NOT_BOOL (records/base.py) is checked by a generic validator: its JSON Schema
    keeps pydantic's argument names (``ge``) instead of JSON Schema's (``minimum``)."""

    def walk(node, where):
        if isinstance(node, dict):
            leaked = {"ge", "gt", "le", "lt", "allow_inf_nan"} & set(node) - {"properties"}
            assert not leaked or "properties" in node, f"{where}: {sorted(leaked)} in {node}"
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    records = _records()
    assert {
        "Spec",
        "ModelPreset",
        "HardwarePreset",
        "EngineProfile",
        "CalibrationFile",
        "Entry",
        "AnalysisResult",
        "GateResult",
        "DiffResult",
    } <= {r.__name__ for r in records}
    for record in records:
        walk(record.model_json_schema(), record.__name__)


# ------------------------------------------------------------------------------------------ descriptions


def test_every_spec_field_has_a_description():
    schema = Spec.model_json_schema()
    objects = {"Spec": schema, **schema["$defs"]}

    def described(prop: dict) -> str:  # a section's description is its record's (pydantic does not repeat it)
        ref = prop.get("$ref", "").rsplit("/", 1)[-1]
        return prop.get("description") or objects.get(ref, {}).get("description", "")

    props = {f"{name}.{f}": described(p) for name, obj in objects.items() for f, p in obj["properties"].items()}
    assert not [f for f, d in props.items() if not d.strip()], props
    assert all(Spec.model_fields[f].description for f in Spec.model_fields)
    for field, unit in (
        ("Product.width", "pixels"),
        ("Product.seconds", "seconds"),
        ("Product.fps", "per second"),
        ("Product.prompt_tokens", "tokens"),
        ("Demand.requests_per_day", "requests per day"),
        ("Budget.latency_s", "seconds"),
        ("Budget.cost_per_item_usd", "USD"),
        ("Budget.monthly_usd", "USD per month"),
    ):
        assert unit in props[field], (field, props[field])


def test_the_published_schema_carries_the_descriptions():
    published = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    assert "pixels" in published["$defs"]["Product"]["properties"]["width"]["description"]


# ------------------------------------------------------------------------------------------ records


def test_input_records_are_frozen_and_refuse_unknown_keys():
    spec = Spec.model_validate(SPEC_DATA)
    with pytest.raises(ValidationError, match="frozen"):
        spec.name = "q"
    with pytest.raises(ValidationError, match="frozen"):
        spec.product.width = 1024
    strict = [r for r in _records() if issubclass(r, Strict)]
    assert len(strict) > 20
    for record in strict:
        assert record.model_config.get("frozen") and record.model_config.get("extra") == "forbid", record


def test_unknown_keys_are_reported_with_their_position_and_a_suggestion():
    text = GOOD_SPEC.replace("  width: 1024", "  widht: 1024").replace("  latency_s: 10", "  latency_p99_s: 10")
    assert _problems(text) == [  # every problem, sorted by position; a missing field points at its section
        "spec.yaml:5:3: product.width: required field is missing",
        "spec.yaml:6:3: product.widht: unknown field; did you mean width?",
        "spec.yaml:13:3: budget.latency_p99_s: unknown field; did you mean latency_s?",
        "spec.yaml:13:3: budget.latency_s: required field is missing",
    ]


def test_one_range_type_with_its_bounds_per_use():
    assert HardwareEfficiency.model_fields["matmul"].annotation is Range[Fraction]
    assert Range[NonNegative](low=0.0, high=120).mid == 60.0
    assert _errors(
        HardwareEfficiency,
        {"matmul": {"low": 0.5, "high": 1.2}, "bandwidth": 0.5, "training_mfu": {"low": 0.6, "high": 0.5}},
    ) == [
        (("matmul", "high"), "Input should be less than or equal to 1"),
        (("bandwidth",), "Input should be a valid dictionary or instance of Range"),
        (("training_mfu",), "Value error, low (0.6) must not exceed high (0.5)"),
    ]


# ------------------------------------------------------------------------------------------ results


def test_an_analysis_result_round_trips_through_json():
    from tokcost.core.analyze import analyze_files
    from tokcost.io.catalog import Catalog

    result = analyze_files([str(ROOT / "specs" / "storefront-images.yaml")], Catalog.default())
    text = result.model_dump_json(indent=2)
    back = AnalysisResult.model_validate_json(text)
    assert back == result and back.model_dump_json(indent=2) == text
    assert json.loads(text) == result.model_dump(mode="json")
    first = json.loads(text)["specs"][0]["candidates"][0]
    assert list(first)[:4] == ["model", "family", "hardware", "engine"]  # field order is the JSON key order


@pytest.mark.parametrize("name", ["base.json", "head.json"])
def test_saved_results_load_as_baselines(name):
    path = ROOT / "tests" / "golden" / "inputs" / name
    result = load_result(path)
    assert result.schema_version == 3 and result.specs
    assert result.model_dump(mode="json")["specs"][0]["name"] == json.loads(path.read_text())["specs"][0]["name"]


def test_a_baseline_of_another_version_or_shape_is_a_clear_error(tmp_path):
    from tokcost.errors import UsageError

    data = json.loads((ROOT / "tests" / "golden" / "inputs" / "base.json").read_text())
    p = tmp_path / "b.json"
    p.write_text(json.dumps({**data, "schema_version": 1}))  # sentences, before the typed facts of issue 31
    with pytest.raises(UsageError, match="schema_version 1 but this tokcost reads schema_version 3"):
        load_result(p)
    p.write_text(json.dumps({**data, "surprise": 1}))
    with pytest.raises(UsageError, match="invalid result: surprise: Extra inputs are not permitted"):
        load_result(p)
