"""JSON renderings: a result record as its own JSON, plain data (dicts, lists, numpy values) as indented JSON."""

from __future__ import annotations

import json
import math


def format_record(result) -> str:
    """A pydantic result record (analysis, check, diff) as indented JSON: the record's own schema. A name that is
    not valid Unicode (a file name's undecodable bytes, read under LC_ALL=C) is written as JSON escapes it
    (``\\udcff``) instead of failing."""
    from pydantic_core import PydanticSerializationError

    try:
        return result.model_dump_json(indent=2) + "\n"
    except PydanticSerializationError:
        return json.dumps(result.model_dump(mode="json"), indent=2) + "\n"


def format_document(result) -> str:
    """A small result record (estimate, train, tokens) through ``json.dumps``: Python's float notation
    (``1.5e+20``), as these commands have always printed."""
    return dumps(result.model_dump(mode="json"))


def dumps(data) -> str:
    """Plain data as indented JSON; numpy arrays and scalars become lists and numbers, and a number that is not
    finite becomes null: JSON has no NaN or Infinity (pydantic's records serialise them as null too)."""
    return json.dumps(_finite(data), indent=2, default=_default, allow_nan=False) + "\n"


def _finite(data):
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def _default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return _finite(o.tolist())
    if isinstance(o, np.generic):
        return _finite(o.item())
    raise TypeError(type(o).__name__)
