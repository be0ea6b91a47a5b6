"""Turn a located YAML document into a typed record (tokcost.schema), reporting every problem with its position."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import TypeVar

from tokcost.errors import InputError, Problem
from tokcost.schema import Record, ValidationError
from tokcost.yamlload import Located, YamlProblem, dotted, load_file

M = TypeVar("M", bound=Record)


def problems_from_validation(err: ValidationError, doc: Located, model: type[Record] | None = None) -> list[Problem]:
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        is_key = e["type"] == "extra_forbidden"
        line, col = doc.where(loc, key=is_key)
        msg = _message(e)
        if is_key and model is not None and loc:
            msg += _suggest(model, loc)
        out.append(Problem(doc.file, line, col, dotted(loc), msg))
    return out


def _model_at(model: type[Record], path: tuple) -> type[Record] | None:
    """The pydantic model that validates the mapping at ``path`` (through optional fields and lists)."""
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        model = _find_model(field.annotation)
        if model is None:
            return None
    return model


def _find_model(annotation) -> type[Record] | None:
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _suggest(model: type[Record], loc: tuple) -> str:
    """``; did you mean width?`` for a misspelt field name, or an empty string."""
    parent = _model_at(model, loc[:-1])
    if parent is None or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], list(parent.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _message(e: dict) -> str:
    t = e["type"]
    if t == "extra_forbidden":
        return "unknown field"
    if t == "missing":
        return "required field is missing"
    msg = e["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if t in {"finite_number"}:
        return "must be a finite number (not NaN or infinity)"
    inp = e.get("input")
    if t.endswith("_type") or t.endswith("_parsing"):
        return f"{msg} (got {inp!r})" if not isinstance(inp, (dict, list)) else msg
    return msg


def validate_doc(model: type[M], doc: Located) -> M:
    problems = [Problem(doc.file, *doc.where(loc), dotted(loc), f"must be a number, not {str(v).lower()}")
                for loc, v in _booleans_for_numbers(model, doc.data, ())]
    try:
        result = model.model_validate(doc.data)
    except ValidationError as err:
        problems += problems_from_validation(err, doc, model)
    if problems:
        raise InputError(list(dict.fromkeys(problems))) from None
    return result


def _booleans_for_numbers(model: type[Record], data, path: tuple) -> list[tuple[tuple, bool]]:
    """Fields typed as numbers that hold a YAML boolean (``yes``, ``on``, ``true``): pydantic would quietly read
    them as 1 or 0. Walks the raw document along the model, through nested models, lists and dicts."""
    if not isinstance(data, dict):
        return []
    out = []
    for key, value in data.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is not None:
            out += _check_value(field.annotation, value, path + (key,))
    return out


def _check_value(annotation, value, path: tuple) -> list[tuple[tuple, bool]]:
    args = _flatten(annotation)
    if isinstance(value, bool):
        numeric = any(a in (int, float) for a in args)
        boolean = any(a is bool or a is typing.Any or a in (True, False) and type(a) is bool for a in args)
        return [(path, value)] if numeric and not boolean else []
    nested = _find_model(annotation)
    if isinstance(value, dict):
        if nested is not None:
            return _booleans_for_numbers(nested, value, path)
        item = _container_item(annotation, dict)
        return [hit for k, v in value.items() for hit in _check_value(item, v, path + (k,))] if item else []
    if isinstance(value, list):
        item = _container_item(annotation, list)
        return [hit for i, v in enumerate(value) for hit in _check_value(item, v, path + (i,))] if item else []
    return []


def _flatten(annotation) -> list:
    """The plain types (and Literal values) an annotation admits, through Annotated, Optional and unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return list(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _flatten(a)]
    return [annotation]


def _container_item(annotation, kind: type):
    """The item (list) or value (dict) annotation of the first ``list[...]``/``dict[...]`` in ``annotation``."""
    for a in _flatten(annotation):
        if typing.get_origin(a) is kind and typing.get_args(a):
            return typing.get_args(a)[-1]
    return None


def load_model(model: type[M], path: str | Path) -> tuple[M, Located]:
    """Load ``path`` as ``model``; raise :class:`InputError` listing every problem with its position."""
    try:
        doc = load_file(path)
    except YamlProblem as exc:
        raise InputError(exc.problems) from None
    if not isinstance(doc.data, dict):
        raise InputError([Problem(doc.file, 1, 1, "(document)",
                                  f"expected a mapping of fields, found {type(doc.data).__name__}")])
    return validate_doc(model, doc), doc
