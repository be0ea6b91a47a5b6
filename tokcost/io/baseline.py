"""Read a saved ``tokcost analyze --format json`` result (a baseline) for ``check --baseline`` and ``diff``."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from tokcost.errors import UsageError
from tokcost.records.results import SCHEMA_VERSION, AnalysisResult


def load_result(path: str | Path) -> AnalysisResult:
    """Read a saved result; every way it can be wrong is a UsageError (exit 2) with a clear message."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"baseline {path}: no such file (make one with `tokcost analyze SPEC... --format json --output {path}`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"baseline {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"baseline {path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(raw, dict) or "specs" not in raw:
        raise UsageError(
            f"baseline {path}: not a tokcost analysis result (expected the JSON object written by "
            f"`tokcost analyze --format json`)"
        )
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UsageError(
            f"baseline {path}: schema_version {version!r} but this tokcost reads schema_version "
            f"{SCHEMA_VERSION}; rebuild the baseline with this version of tokcost"
        )
    try:
        return AnalysisResult.model_validate_json(text)
    except ValidationError as exc:
        errs = exc.errors()
        shown = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errs[:5])
        more = f" (and {len(errs) - 5} more)" if len(errs) > 5 else ""
        raise UsageError(f"baseline {path}: invalid result: {shown}{more}") from None
