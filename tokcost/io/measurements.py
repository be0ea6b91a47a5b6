"""Load the validation set (``tokcost/data/validation/measurements.yaml``) and the gate of ``tokcost validate``."""

from __future__ import annotations

from pathlib import Path

from tokcost.errors import InputError, Problem
from tokcost.io.catalog import Catalog
from tokcost.io.elementwise import load_elementwise
from tokcost.io.engines import engine_problem, load_engines
from tokcost.io.located import MAX_MEASUREMENTS_BYTES, MAX_MEASUREMENTS_NODES, YamlProblem, dotted, load_file
from tokcost.io.parse import load_model, validate_items
from tokcost.io.paths import MEASUREMENTS_FILE, THRESHOLDS_FILE
from tokcost.records.measurements import Entry, Thresholds
from tokcost.text import quoted


def load_entries(path: str | Path = MEASUREMENTS_FILE, catalog: Catalog | None = None) -> list[Entry]:
    """Parse the measurements file; every schema problem is reported with its file:line:col, as is a model or
    hardware id that ``catalog`` (default: the built-in presets) does not have (null: documentation only)."""
    try:
        doc = load_file(path, MAX_MEASUREMENTS_BYTES, MAX_MEASUREMENTS_NODES)
    except YamlProblem as exc:
        raise InputError(exc.problems) from None
    if not isinstance(doc.data, list):
        raise InputError([Problem(doc.file, 1, 1, "(document)", "expected a list of measurements")])
    if not doc.data:  # a gate over nothing would pass
        raise InputError([Problem(doc.file, 1, 1, "(document)", "the list of measurements is empty")])
    entries = validate_items(Entry, doc)
    seen: set[str] = set()
    profiles = load_engines()
    presets = catalog or Catalog.default()
    problems = []
    for i, e in enumerate(entries):
        if e.id in seen:
            problems.append(Problem(doc.file, *doc.where((i, "id")), dotted((i, "id")), f"duplicate id {quoted(e.id)}"))
        seen.add(e.id)
        unknown = engine_problem(e.engine, profiles)
        if unknown:
            problems.append(Problem(doc.file, *doc.where((i, "engine")), dotted((i, "engine")), unknown))
        problem = model_type_problem(e)
        if problem:
            problems.append(Problem(doc.file, *doc.where((i, "model_type")), dotted((i, "model_type")), problem))
        for kind, field in (("models", "model"), ("hardware", "hardware")):
            pid = getattr(e, field)
            if pid is not None and presets.resolve(kind, pid) is None:
                message = presets.unknown_message(kind, pid)
                problems.append(Problem(doc.file, *doc.where((i, field)), dotted((i, field)), message))
    if problems:
        raise InputError(problems)
    return entries


def model_type_problem(e: Entry) -> str | None:
    """Why an entry's ``model_type`` cannot price it, or None: it names a bare decoder's code (an entry with an
    architecture), of a type whose decoder layer is counted."""
    if e.model_type is None:
        return None
    if e.architecture is None:
        return "model_type names a bare decoder's transformers code: set it only with an architecture"
    counted = load_elementwise().decoders.by_model_type.launches
    if e.model_type not in counted:
        return f"unknown transformers model_type {quoted(e.model_type)}; counted: {', '.join(sorted(counted))}"
    return None


def load_thresholds(path: str | Path = THRESHOLDS_FILE) -> Thresholds:
    return load_model(Thresholds, path)[0]
