"""tokcost.records.schema: records validated by pydantic-core behave as the pydantic models they replaced."""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Annotated, Literal, Optional

import pytest

import tokcost
from tokcost.records.schema import Field, Record, ValidationError, field_validator, model_validator


class Inner(Record):
    model_config = {"extra": "forbid", "frozen": True}
    n: Annotated[int, Field(ge=1, le=10)]
    tags: list[str] = []


class Outer(Record):
    model_config = {"extra": "forbid"}
    kind: Literal["a", "b"] = "a"
    inner: Inner
    inners: list[Inner] = []
    names: Optional[list[str]] = Field(default=None, min_length=1)
    ratio: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    label: float | str | None = None
    extra: dict[str, float] = {}

    @field_validator("kind", mode="before")
    @classmethod
    def _upper_b(cls, v):
        return "b" if v == "B" else v

    @model_validator(mode="after")
    def _inner_fits(self):
        if self.inners and len(self.inners) > self.inner.n:
            raise ValueError("more inners than inner.n")
        return self


def _errors(data) -> list[tuple]:
    with pytest.raises(ValidationError) as exc:
        Outer.model_validate(data)
    return [(e["loc"], e["type"], e["msg"]) for e in exc.value.errors(include_url=False)]


def test_valid_input_builds_nested_records_with_defaults():
    o = Outer.model_validate({"inner": {"n": 2}, "inners": [{"n": 1, "tags": ["x"]}], "kind": "B"})
    assert isinstance(o.inner, Inner) and o.inner.n == 2 and o.inner.tags == []
    assert o.inners[0].tags == ["x"] and o.kind == "b" and o.names is None and o.extra == {}


def test_errors_carry_pydantic_types_messages_and_locations():
    errs = _errors({"inner": {"n": 0, "zz": 1}, "kind": "c", "names": [], "ratio": float("nan"), "typo": 1})
    by_loc = {loc: (t, msg) for loc, t, msg in errs}
    assert by_loc[("inner", "n")] == ("greater_than_equal", "Input should be greater than or equal to 1")
    assert by_loc[("inner", "zz")][0] == "extra_forbidden"
    assert by_loc[("typo",)][0] == "extra_forbidden"
    assert by_loc[("kind",)] == ("literal_error", "Input should be 'a' or 'b'")
    assert by_loc[("names",)][0] == "too_short"  # the constraint reaches through Optional
    assert by_loc[("ratio",)][0] == "finite_number"


def test_missing_required_and_wrong_container_types():
    assert _errors({}) == [(("inner",), "missing", "Field required")]
    ((loc, t, msg),) = _errors({"inner": None})
    assert t == "model_type" and msg == "Input should be a valid dictionary or instance of Inner"


def test_boolean_number_and_model_validator_errors():
    ((loc, t, msg),) = _errors({"inner": {"n": True}})
    assert loc == ("inner", "n") and t == "value_error" and msg == "Value error, must be a number, not true"
    ((loc, t, msg),) = _errors({"inner": {"n": 1}, "inners": [{"n": 1}, {"n": 1}]})
    assert loc == () and msg == "Value error, more inners than inner.n"


def test_union_keeps_the_type_given():
    assert Outer.model_validate({"inner": {"n": 1}, "label": 2.5}).label == 2.5
    assert Outer.model_validate({"inner": {"n": 1}, "label": "before"}).label == "before"


def test_code_built_records_are_validated_and_accept_record_instances():
    inner = Inner(n=3)
    o = Outer(inner=inner, inners=[inner])
    assert o.inner is inner
    with pytest.raises(ValidationError):
        Inner(n=11)
    with pytest.raises(ValidationError):
        Inner(n=1, unknown=2)


def test_mutable_defaults_are_not_shared():
    a, b = Outer(inner={"n": 1}), Outer(inner={"n": 1})
    a.extra["x"] = 1.0
    assert b.extra == {}


def test_frozen_records_refuse_assignment_and_hash_by_value():
    inner = Inner(n=2, tags=["a"])
    with pytest.raises(TypeError):
        inner.n = 3
    assert hash(inner) == hash(Inner(n=2, tags=["a"])) and inner == Inner(n=2, tags=["a"])
    o = Outer(inner=inner)
    o.kind = "b"  # not frozen
    with pytest.raises(AttributeError):
        o.knd = "b"


def test_dump_json_round_trip_and_copy():
    o = Outer(inner={"n": 2, "tags": ["t"]}, label="x", extra={"q": 0.5})
    d = o.model_dump()
    assert d["inner"] == {"n": 2, "tags": ["t"]} and d["ratio"] is None
    assert "ratio" not in o.model_dump(exclude_none=True) and "inner" not in o.model_dump(exclude={"inner"})
    text = o.model_dump_json(indent=2)
    assert json.loads(text) == d and Outer.model_validate_json(text) == o
    c = o.model_copy(update={"kind": "b"})
    assert c.kind == "b" and o.kind == "a" and c.inner is o.inner
    assert o.model_copy(deep=True).inner is not o.inner


def test_json_schema_has_bounds_enums_refs_and_defaults():
    s = Outer.model_json_schema()
    props = s["properties"]
    assert s["additionalProperties"] is False and s["required"] == ["inner"]
    assert props["kind"] == {"default": "a", "enum": ["a", "b"], "title": "Kind", "type": "string"}
    assert props["inner"] == {"$ref": "#/$defs/Inner"}
    assert props["names"]["anyOf"][0] == {"items": {"type": "string"}, "minItems": 1, "type": "array"}
    assert s["$defs"]["Inner"]["properties"]["n"] == {"maximum": 10, "minimum": 1, "title": "N", "type": "integer"}


def test_unsupported_annotation_is_a_type_error():
    class Odd(Record):
        when: complex

    with pytest.raises(TypeError, match="unsupported annotation"):
        Odd.model_validate({"when": 1})


def test_every_record_in_tokcost_compiles():
    """Each record's annotations resolve and build a pydantic-core validator (not only those the tests load)."""
    for mod in pkgutil.walk_packages(tokcost.__path__, "tokcost."):
        if mod.name == "tokcost.__main__" or mod.name.startswith(("tokcost.bench.", "tokcost.core.charts")):
            continue  # runs the CLI / needs torch or matplotlib (and declares no record)
        importlib.import_module(mod.name)
    seen = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("tokcost."):
                sub._validator()
                seen.append(sub.__name__)
            walk(sub)

    walk(Record)
    assert {"Spec", "ModelPreset", "HardwarePreset", "AnalysisResult", "CalibrationFile", "Entry"} <= set(seen)


def test_numbers_refuse_yaml_booleans_everywhere():
    """pydantic would read `yes`/`true` as 1 for a number; a record refuses it, in nested lists and dicts too."""

    class Nums(Record):
        x: float
        counts: list[int] = []
        weights: dict[str, float] = {}
        flag: bool = False

    with pytest.raises(ValidationError) as exc:
        Nums.model_validate({"x": True, "counts": [1, False], "weights": {"a": True}, "flag": True})
    assert [(e["loc"], e["msg"]) for e in exc.value.errors(include_url=False)] == [
        (("x",), "Value error, must be a number, not true"),
        (("counts", 1), "Value error, must be a number, not false"),
        (("weights", "a"), "Value error, must be a number, not true")]
    assert Nums.model_validate({"x": 1, "flag": True}).x == 1.0
