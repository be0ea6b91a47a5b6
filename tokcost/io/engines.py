"""The engine registry: the hand-written profiles of ``tokcost/data/engines.yaml`` with their fitted parameters from
``tokcost/data/generated/engines.fitted.yaml`` (written by ``scripts/fit_engines.py``) laid over them, and the
calibrated error bands in ``tokcost/data/generated/error_bands.yaml``, each loaded once per process.

The registry is a mapping of engine name -> profile: a new engine is a new entry, with no code change. The names
every command accepts (``--engine``, a spec's ``candidates.engines``, a measurement's ``engine``) are the loaded
table's; :func:`engine_problem` says why a name is not one of them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from tokcost.errors import InputError, Problem
from tokcost.io import paths
from tokcost.io.located import Located, YamlProblem, load_file
from tokcost.io.parse import load_model, validate_doc
from tokcost.records.engines import EngineProfile, EngineTable, ErrorBand, ErrorBandFile, FittedEngineFile

# an engine is named on the command line and in comma-separated lists (sweep --engine)
NAME = re.compile(r"[a-z0-9][a-z0-9._+-]*")
NAME_RULE = "an engine name is lower-case letters, digits and . _ + - (starting with a letter or digit)"
# the profile a calibration scales the others by and the one `tokcost estimate` prices when none is named
REFERENCE_ENGINE = "eager"


def load_engines() -> Mapping[str, EngineProfile]:
    """Engine name -> profile, read-only, in the file's order: the table every estimate is priced with."""
    return read_engines(paths.ENGINES_FILE, paths.ENGINES_FITTED_FILE)


@lru_cache(maxsize=4)
def read_engines(hand_written: Path, fitted_file: Path) -> Mapping[str, EngineProfile]:
    """The engine table in ``hand_written`` with the fitted parameters of ``fitted_file`` laid over it, checked
    entry by entry against the profile schema and across entries (:func:`table_problems`). A fitted parameter
    comes from the generated file only: the hand-written file holding one too is an error. Every problem raises
    one :class:`InputError` with its ``file:line:col``."""
    fitted, fitted_doc = load_model(FittedEngineFile, fitted_file)
    try:
        doc = load_file(hand_written)
    except YamlProblem as exc:
        raise InputError(exc.problems) from None
    if not isinstance(doc.data, dict):  # not a table at all: the schema check below says so at its position
        validate_doc(EngineTable, doc)
    merged = dict(doc.data)
    problems = []
    for name, values in fitted.engines.items():
        hand = merged.get(name)
        if not isinstance(hand, dict):
            line, col = fitted_doc.where(("engines", name), key=True)
            problems.append(
                Problem(fitted_doc.file, line, col, f"engines.{name}", f"no such engine in {hand_written.name}")
            )
            continue
        overlay = values.model_dump(exclude_none=True)
        for field in sorted(overlay.keys() & hand.keys()):
            line, col = doc.where((name, field), key=True)
            problems.append(
                Problem(doc.file, line, col, f"{name}.{field}", f"is fitted: it belongs in {fitted_file.name}")
            )
        merged[name] = hand | overlay
    if problems:
        raise InputError(problems)
    table = validate_doc(EngineTable, replace(doc, data=merged))
    problems = table_problems(table.root, doc)
    if problems:
        raise InputError(problems)
    return MappingProxyType(dict(table.root))


def table_problems(profiles: Mapping[str, EngineProfile], doc: Located) -> list[Problem]:
    """What one profile cannot say alone: its name is one a command line can give, the reference engine is
    present, and a ``superseded_by`` names another current engine of the table that serves the same families."""
    out = []
    if REFERENCE_ENGINE not in profiles:
        out.append(
            Problem(
                doc.file,
                1,
                1,
                "(document)",
                f"the table needs the {REFERENCE_ENGINE} profile: calibrations scale the others by it, and an "
                "estimate that names no engine prices it",
            )
        )
    for name, p in profiles.items():
        if not NAME.fullmatch(name):
            out.append(Problem(doc.file, *doc.where((name,), key=True), name, f"{NAME_RULE}, not {name!r}"))
        newer = p.superseded_by
        if newer is None:
            continue
        where = (name, "superseded_by")
        if newer == name or newer not in profiles:
            message = f"{newer!r} is not another engine of the table ({', '.join(n for n in profiles if n != name)})"
        elif profiles[newer].superseded_by is not None:
            message = f"{newer!r} is itself superseded (by {profiles[newer].superseded_by!r}): name the current one"
        elif not all(profiles[newer].runs(family) for family in p.serves):
            message = f"{newer!r} does not serve every family {name!r} serves ({', '.join(p.serves)})"
        else:
            continue
        out.append(Problem(doc.file, *doc.where(where), ".".join(where), message))
    return out


def engine_problem(name: str, profiles: Mapping[str, EngineProfile]) -> str | None:
    """Why ``name`` names no engine of ``profiles`` (the known names, and the closest one), or None."""
    if name in profiles:
        return None
    close = difflib.get_close_matches(name, list(profiles), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown engine {name!r}; {hint}choose from {', '.join(profiles)}"


@lru_cache(maxsize=1)
def load_fitted_engines() -> FittedEngineFile:
    """The generated file of fitted engine parameters, with its provenance."""
    return load_model(FittedEngineFile, paths.ENGINES_FITTED_FILE)[0]


def offered(profiles: Mapping[str, EngineProfile], family: str) -> list[str]:
    """The engines analyze and sweep price for a model family when none is asked for: those that serve it, less
    the dated profiles that a newer one supersedes."""
    return [name for name, p in profiles.items() if p.runs(family) and p.superseded_by is None]


@lru_cache(maxsize=1)
def load_error_bands() -> Mapping[str, ErrorBand]:
    """Validation family -> its calibrated band (ar, diffusion-image, video, multi-gpu), read-only."""
    data, _ = load_model(ErrorBandFile, paths.ERROR_BANDS_FILE)
    return MappingProxyType({str(family): band for family, band in data.families.items()})


def error_band(family: str) -> ErrorBand | None:
    """The calibrated band an estimate of ``family`` is widened to. A family with too few held-out runs to build
    its own (next-scale, hybrid: fewer than tokcost.core.validate.MIN_BAND_ENTRIES) takes the widest of the
    others: its error is not known to be smaller than any measured family's."""
    bands = load_error_bands()
    if family in bands:
        return bands[family]
    return max(bands.values(), key=lambda b: b.high - b.low, default=None)
