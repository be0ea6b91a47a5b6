"""Read a saved ``tokcost analyze --format json`` result (a baseline) for ``check --baseline`` and ``diff``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from pydantic import ValidationError

from tokcost.errors import UsageError
from tokcost.io.reading import read_bounded
from tokcost.records.results import SCHEMA_VERSION, AnalysisResult

MAX_BASELINE_BYTES = 20_000_000  # a result for hundreds of specs is a few MB
MAX_BASELINE_DEPTH = 32  # a result nests about 6 levels deep


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows (a result never contains it)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large for a number in a result")
    return value


def _sane_int(text: str) -> int:
    if len(text) > 30:
        raise ValueError(f"an integer of {len(text):,} digits is not a number a result holds")
    return int(text)


def _max_depth(text: str) -> int:
    """Deepest bracket nesting, counted without parsing (strings can hold brackets; skip them)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


def load_result(path: str | Path, role: str = "baseline") -> AnalysisResult:
    """Read a saved result; every way it can be wrong is a UsageError (exit 2) with a clear message, naming the
    file by its ``role`` (check's baseline, diff's base or head)."""
    try:
        text = read_bounded(path, MAX_BASELINE_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"{role} {path}: no such file (make one with `tokcost analyze SPEC... --format json --output {path}`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{role} {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    depth = _max_depth(text)
    if depth > MAX_BASELINE_DEPTH:
        raise UsageError(f"{role} {path}: nested {depth} levels deep; a result is at most {MAX_BASELINE_DEPTH}")
    try:
        raw = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_sane_int)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{role} {path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, integers past Python's digit limit
        raise UsageError(f"{role} {path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or "specs" not in raw:
        raise UsageError(
            f"{role} {path}: not a tokcost analysis result (expected the JSON object written by "
            f"`tokcost analyze --format json`)"
        )
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UsageError(
            f"{role} {path}: schema_version {version!r} but this tokcost reads schema_version "
            f"{SCHEMA_VERSION}; rebuild the baseline with this version of tokcost"
        )
    try:
        result = AnalysisResult.model_validate_json(text)
    except ValidationError as exc:
        errs = exc.errors()
        shown = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errs[:5])
        more = f" (and {len(errs) - 5} more)" if len(errs) > 5 else ""
        raise UsageError(f"{role} {path}: invalid result: {shown}{more}") from None
    bad = not_positive(result)
    if bad:
        shown = "; ".join(f"{where} is {value:g}" for where, value in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise UsageError(
            f"{role} {path}: {shown}{more}: the costs and latencies of a result are positive numbers (a 0 would "
            "turn its gate off)"
        )
    return result


# the numbers of a candidate the gate and the diff compare: each is a positive number wherever it is present
GATED_FIELDS = (
    "fleet_cost_usd_per_item",
    "monthly_usd",
    "latency_objective_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "monthly_usd_fixed",
    "monthly_usd_autoscaled",
)
GATED_BANDS = ("latency_s", "cost_usd_per_item", "throughput_items_per_s")


def not_positive(result: AnalysisResult) -> list[tuple[str, float]]:
    """``(where, value)`` for every gated number of every candidate (and of the recommended one) that is 0,
    negative or not finite."""
    out = []
    for i, spec in enumerate(result.specs):
        for j, c in enumerate(spec.candidates):
            out += _bad_numbers(c, f"specs[{i}].candidates[{j}]")
        choice = spec.recommendation.choice
        if choice is not None:
            out += _bad_numbers(choice, f"specs[{i}].recommendation.choice")
    return out


def _bad_numbers(c, where: str) -> list[tuple[str, float]]:
    values = [(name, getattr(c, name)) for name in GATED_FIELDS]
    for band in GATED_BANDS:
        b = getattr(c, band)
        if b is not None:
            values += [(f"{band}.{k}", getattr(b, k)) for k in ("low", "central", "high")]
    return [(f"{where}.{name}", v) for name, v in values if v is not None and not (math.isfinite(v) and v > 0)]
