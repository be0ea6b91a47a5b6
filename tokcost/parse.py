"""Turn a located YAML document into a pydantic model, reporting every problem with its position."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tokcost.errors import InputError, Problem
from tokcost.yamlload import Located, YamlProblem, dotted, load_file

M = TypeVar("M", bound=BaseModel)


def problems_from_validation(err: ValidationError, doc: Located) -> list[Problem]:
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        is_key = e["type"] == "extra_forbidden"
        line, col = doc.where(loc, key=is_key)
        msg = _message(e)
        out.append(Problem(doc.file, line, col, dotted(loc), msg))
    return out


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
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        raise InputError(problems_from_validation(err, doc)) from None


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
