"""`tokcost validate`: predicted vs published measurements, the error summary and its gate (exit 1).

The committed docs (docs/validation.md, the README's summary) are written by ``scripts/write_validation_docs.py``,
not by the CLI. The result is cached (tokcost.io.cache) under a hash of everything it is computed from: the
measurements, the presets, the engine profiles and thresholds, and tokcost's own code; an unchanged run reads it
back in about a second instead of recomputing the cross-validation."""

from __future__ import annotations

from pathlib import Path

import typer

from tokcost.cli.common import Presets, ProgressBar, emit, format_option, guard, load_catalog, output_option
from tokcost.render import registry

ValidateFormat = format_option("validate")
ValidateOutput = output_option("Write to FILE atomically.")


def validate(
    fmt: ValidateFormat = "table",
    fit: bool = typer.Option(
        False,
        "--fit",
        help="Refit the engine parameters over the whole set (from "
        "fixed starting points) instead of using tokcost/data/engines.yaml, and print "
        "the fitted values next to the committed ones.",
    ),
    in_sample_only: bool = typer.Option(
        False,
        "--in-sample-only",
        help="Skip the leave-one-source-out cross-validation (fast; the gate then covers in-sample errors only).",
    ),
    measurements: Path | None = typer.Option(
        None, "--measurements", help="Measurements YAML (default: validation/measurements.yaml)."
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Recompute even when the cache holds a result for the same inputs, and leave the cache as it was "
        "(the cache: $TOKCOST_CACHE_DIR, else $XDG_CACHE_HOME/tokcost or ~/.cache/tokcost).",
    ),
    output: ValidateOutput = None,
    presets: Presets = None,
):
    """Price every published measurement through `tokcost estimate`'s code path; print predicted,
    measured, ratio, the error summary (in-sample and leave-one-source-out) and exit 1 when beyond the
    thresholds in tokcost/data/validation_thresholds.yaml."""

    def run():
        from tokcost.io.measurements import load_entries
        from tokcost.io.paths import MEASUREMENTS_FILE

        path = measurements or MEASUREMENTS_FILE
        entries = load_entries(path)
        catalog = load_catalog(presets)
        held_out = not in_sample_only
        name = _cache_name(fit, held_out)
        key = None if no_cache else _inputs_key(path, catalog, fit, held_out)
        result = None if key is None else _cached(name, key)
        if result is None:
            result = _compute(entries, catalog, fit, held_out)
            if key is not None:
                from tokcost.io.cache import write_cached

                write_cached(name, key, result.model_dump_json())
        emit(registry.render("validate", fmt, result), output)
        return result.passed

    passed = guard(run)
    if not passed:
        raise typer.Exit(1)


def _inputs_key(measurements: Path, catalog, refit: bool, held_out: bool) -> str | None:
    """The hash of everything a validation result is computed from: tokcost's code and data files (engine
    profiles, thresholds), the measurements file, every preset the catalog holds, and the flags. None when a file
    cannot be read (no cache then: the computation reports what is wrong with it)."""
    from tokcost.io.cache import code_fingerprint, fingerprint

    try:
        parts: list[str | bytes] = [code_fingerprint(), f"refit={refit} held_out={held_out}", measurements.read_bytes()]
        for kind in ("hardware", "models"):
            for preset_id in catalog.ids(kind):
                parts += [kind, preset_id, catalog.source_of(kind, preset_id).read_bytes()]
    except OSError:
        return None
    return fingerprint(*parts)


def _cache_name(refit: bool, held_out: bool) -> str:
    """One cache file per kind of run (tokcost.io.cache), each holding the latest result of that kind."""
    return f"validate-{'refit' if refit else 'committed'}-{'held-out' if held_out else 'in-sample'}"


def _cached(name: str, key: str):
    """The cached result for these inputs, or None (no cache, other inputs, or a file that does not parse)."""
    from pydantic import ValidationError

    from tokcost.io.cache import read_cached
    from tokcost.records.validation import ValidationResult

    text = read_cached(name, key)
    if text is None:
        return None
    try:
        return ValidationResult.model_validate_json(text)
    except ValidationError:
        return None


def _compute(entries, catalog, refit: bool, held_out: bool):
    """The cross-validation, with a progress bar on an interactive stderr."""
    from tokcost.core.fit import validation_result

    bar = ProgressBar()
    try:
        return validation_result(
            entries,
            catalog,
            refit=refit,
            held_out=held_out,
            progress=bar.steps("validate: fitting and pricing"),
        )
    finally:
        bar.stop()
