"""JSON renderings: a result record as its own JSON, plain data (dicts, lists, numpy values) as indented JSON."""

from __future__ import annotations

import json


def format_record(result) -> str:
    """A pydantic result record (analysis, check, diff) as indented JSON: the record's own schema."""
    return result.model_dump_json(indent=2) + "\n"


def format_document(result) -> str:
    """A small result record (estimate, train, tokens) through ``json.dumps``: Python's float notation
    (``1.5e+20``), as these commands have always printed."""
    return dumps(result.model_dump(mode="json"))


def dumps(data) -> str:
    """Plain data as indented JSON; numpy arrays and scalars become lists and numbers."""
    return json.dumps(data, indent=2, default=_default) + "\n"


def _default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)
