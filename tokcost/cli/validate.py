"""`tokcost validate`: predicted vs published measurements, the error summary and its gate (exit 1).

The committed docs (docs/validation.md, the README's summary) are written by ``scripts/write_validation_docs.py``,
not by the CLI."""

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
    output: ValidateOutput = None,
    presets: Presets = None,
):
    """Price every published measurement through `tokcost estimate`'s code path; print predicted,
    measured, ratio, the error summary (in-sample and leave-one-source-out) and exit 1 when beyond the
    thresholds in tokcost/data/validation_thresholds.yaml."""

    def run():
        from tokcost.core.fit import validation_result
        from tokcost.io.measurements import load_entries
        from tokcost.io.paths import MEASUREMENTS_FILE

        entries = load_entries(measurements or MEASUREMENTS_FILE)
        bar = ProgressBar()
        try:
            result = validation_result(
                entries,
                load_catalog(presets),
                refit=fit,
                held_out=not in_sample_only,
                progress=bar.steps("validate: in-sample, then each source left out"),
            )
        finally:
            bar.stop()
        emit(registry.render("validate", fmt, result), output)
        return result.passed

    passed = guard(run)
    if not passed:
        raise typer.Exit(1)
