"""Turn a located YAML document into a record (a pydantic model), reporting every problem with its position."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from tokcost.errors import InputError, Problem
from tokcost.io.located import Located, YamlProblem, dotted, load_file
from tokcost.text import quoted

M = TypeVar("M", bound=BaseModel)


def problems_from_validation(err: ValidationError, doc: Located, model: type[BaseModel] | None = None) -> list[Problem]:
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


def _model_at(model: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The record type that validates the mapping at ``path`` (through optional fields and lists)."""
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        found = _find_model(field.annotation)
        if found is None:
            return None
        model = found
    return model


def _find_model(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None


def _suggest(model: type[BaseModel], loc: tuple) -> str:
    """``; did you mean width?`` for a misspelt field name, where a removed field went (a record's
    ``MOVED_FIELDS``), or an empty string."""
    parent = _model_at(model, loc[:-1])
    if parent is None or not isinstance(loc[-1], str):
        return ""
    moved = getattr(parent, "MOVED_FIELDS", {})
    if loc[-1] in moved:
        return f": {moved[loc[-1]]}"
    close = difflib.get_close_matches(loc[-1], list(parent.model_fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _message(e: ErrorDetails) -> str:
    t = e["type"]
    if t == "extra_forbidden":
        return "unknown field"
    if t == "missing":
        return "required field is missing"
    msg = e["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if t in {"finite_number"}:
        return "must be a finite number (not NaN or infinity)"
    if t == "literal_error" and isinstance(e.get("input"), str):
        allowed = re.findall(r"'([^']*)'", str(e.get("ctx", {}).get("expected", "")))
        close = difflib.get_close_matches(e["input"], allowed, n=1, cutoff=0.5)
        return f"{msg}; did you mean {close[0]}?" if close else msg
    inp = e.get("input")
    if t.endswith("_type") or t.endswith("_parsing"):
        return f"{msg} (got {quoted(inp)})" if not isinstance(inp, (dict, list)) else msg
    return msg


def validate_doc(model: type[M], doc: Located) -> M:
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        raise InputError(problems_from_validation(err, doc, model)) from None


def validate_items(model: type[M], doc: Located) -> list[M]:
    """A document that is a list of ``model`` records (every problem of every item reported)."""
    adapter: TypeAdapter[Any] = TypeAdapter(list[model])  # type: ignore[valid-type]
    try:
        return adapter.validate_python(doc.data)
    except ValidationError as err:
        raise InputError(problems_from_validation(err, doc, model)) from None


def load_model(model: type[M], path: str | Path) -> tuple[M, Located]:
    """Load ``path`` as ``model``; raise :class:`InputError` listing every problem with its position."""
    try:
        doc = load_file(path)
    except YamlProblem as exc:
        raise InputError(exc.problems) from None
    if not isinstance(doc.data, dict):
        raise InputError(
            [Problem(doc.file, 1, 1, "(document)", f"expected a mapping of fields, found {type(doc.data).__name__}")]
        )
    return validate_doc(model, doc), doc
