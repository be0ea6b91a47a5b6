"""`tokcost validate`: predicted vs published measurements, the error summary and its gate (exit 1)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional


class ValidateFmt(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


def register(app) -> None:
    import typer

    from tokcost.cli import PresetsOpt

    @app.command()
    def validate(
        fmt: ValidateFmt = typer.Option(ValidateFmt.table, "--format", help="table | markdown | json."),
        fit: bool = typer.Option(False, "--fit", help="Refit the engine parameters over the whole set (from "
                                 "fixed starting points) instead of using tokcost/data/engines.yaml, and print "
                                 "the fitted values next to the committed ones."),
        in_sample_only: bool = typer.Option(False, "--in-sample-only", help="Skip the leave-one-source-out "
                                            "cross-validation (fast; the gate then covers in-sample errors only)."),
        measurements: Optional[Path] = typer.Option(None, "--measurements", help="Measurements YAML (default: "
                                                    "validation/measurements.yaml)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE atomically."),
        write_docs: bool = typer.Option(False, "--write-docs", help="Also regenerate docs/validation.md and the "
                                        "README's summary block (in a source checkout; needs the held-out run)."),
        presets: Optional[List[Path]] = PresetsOpt,
    ):
        """Price every published measurement through `tokcost estimate`'s code path; print predicted,
        measured, ratio, the error summary (in-sample and leave-one-source-out) and exit 1 when beyond the
        thresholds in tokcost/data/validation_thresholds.yaml."""
        from tokcost.cli import _catalog, _emit, _guard

        def run():
            from tokcost.core import validate as V
            from tokcost.io.paths import MEASUREMENTS_FILE
            from tokcost.render import dumps
            from tokcost.render.validate import build_report, format_markdown, format_table

            from tokcost.errors import UsageError

            if write_docs and (fit or in_sample_only or measurements is not None):
                raise UsageError("--write-docs documents the committed set and parameters with the held-out run: "
                                 "drop --fit, --in-sample-only and --measurements")
            entries = V.load_entries(measurements or MEASUREMENTS_FILE)
            report = build_report(entries, _catalog(presets), refit=fit, held_out=not in_sample_only)
            if write_docs:
                from tokcost.render.validate import write_docs as write

                root = Path(__file__).resolve().parent.parent.parent
                if not (root / "docs").is_dir() or not (root / "README.md").is_file():
                    raise UsageError("--write-docs needs a source checkout (docs/ and README.md beside tokcost/)")
                try:
                    for path in write(report, root):
                        typer.echo(f"wrote {path}", err=True)
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
            text = {"json": lambda: dumps(report), "markdown": lambda: format_markdown(report),
                    "table": lambda: format_table(report)}[fmt.value]()
            _emit(text, output)
            return report["passed"]

        passed = _guard(run)
        if not passed:
            raise typer.Exit(1)
