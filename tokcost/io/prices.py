"""Load the GPU rental price catalogue (``tokcost/data/prices/prices.yaml``) with every problem reported as
``file:line:col: field: message``."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from pathlib import Path

from tokcost.errors import InputError, Problem
from tokcost.io.parse import load_model
from tokcost.io.paths import PRICES_FILE
from tokcost.records.prices import PriceCatalog, PriceEntry

_ENTRY_FIELD = re.compile(r"^prices\.[^\[]+\[\d+\]\.(?P<name>[^.\[]+)$")


def default_prices_file() -> Path:
    """The built-in catalogue (:data:`tokcost.io.paths.PRICES_FILE`)."""
    return PRICES_FILE


def load_prices(path: str | Path | None = None) -> PriceCatalog:
    """Read a price catalogue (the built-in one, read once per process, when ``path`` is None); see
    :func:`read_prices` for the problems it raises."""
    return _builtin() if path is None else read_prices(path)


@functools.cache
def _builtin() -> PriceCatalog:
    return read_prices(default_prices_file())


def read_prices(path: str | Path) -> PriceCatalog:
    """Read a price catalogue file.

    Raises :class:`tokcost.errors.InputError` listing every problem with its position: unknown fields, a price that
    is not a positive finite number, a commitment outside on_demand/1yr/3yr/spot, a date that is not YYYY-MM-DD, an
    empty source, a provider id that is not lower-case, two entries for one (hardware, provider, commitment).
    """
    try:
        catalog, _doc = load_model(PriceCatalog, path)
    except InputError as exc:
        raise InputError([_suggest_entry_field(p) for p in exc.problems]) from None
    return catalog


def _suggest_entry_field(problem: Problem) -> Problem:
    """``unknown field; did you mean provider?`` for a misspelt key of an entry. The generic suggestion in
    tokcost.io.parse follows record fields only, and an entry sits under a hardware id (a dict key)."""
    m = _ENTRY_FIELD.match(problem.field)
    if problem.message != "unknown field" or m is None:
        return problem
    close = difflib.get_close_matches(m["name"], list(PriceEntry.model_fields), n=1, cutoff=0.6)
    return dataclasses.replace(problem, message=f"unknown field; did you mean {close[0]}?") if close else problem
