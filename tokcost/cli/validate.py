"""`tokcost validate`: predicted vs published measurements, the error summary and its gate (exit 1).

The committed docs (docs/validation.md, the README's summary) are written by ``scripts/write_validation_docs.py``,
not by the CLI. The work is :func:`tokcost.api.validate`, which caches the result (tokcost.io.cache) under a hash of
everything it is computed from: the measurements, the presets, the engine profiles and thresholds, and tokcost's
own code; an unchanged run reads it back in about a second instead of recomputing the cross-validation."""

from pathlib import Path

import typer

from tokcost.cli.common import Presets, ProgressBar, emit, format_option, guard, output_option
from tokcost.render import registry

ValidateFormat = format_option("validate")
ValidateOutput = output_option("Write to FILE atomically.")


def validate(
    fmt: ValidateFormat = "table",
    fit: bool = typer.Option(
        False,
        "--fit",
        help="Refit the engine parameters over the whole set (from "
        "fixed starting points) instead of using tokcost/data/generated/engines.fitted.yaml, and print "
        "the fitted values next to the committed ones.",
    ),
    in_sample_only: bool = typer.Option(
        False,
        "--in-sample-only",
        help="Skip the held-out cross-validation (by source, GPU and engine; fast; the gate then covers "
        "in-sample errors only).",
    ),
    measurements: Path | None = typer.Option(
        None, "--measurements", help="Measurements YAML (default: tokcost/data/validation/measurements.yaml)."
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
    measured, ratio, the error summary (in-sample and held out by source, GPU and engine) and exit 1 when beyond the
    thresholds in tokcost/data/validation_thresholds.yaml."""

    def run():
        from tokcost import api

        bar = ProgressBar()
        try:
            result = api.validate(
                measurements=measurements,
                fit=fit,
                in_sample_only=in_sample_only,
                cache=not no_cache,
                presets=presets,
                progress=bar.steps("validate: fitting and pricing"),
            )
        finally:
            bar.stop()
        emit(registry.render("validate", fmt, result), output)
        return result.passed

    passed = guard(run)
    if not passed:
        raise typer.Exit(1)
