"""`tokcost analyze`: the recommendation report for one or more product specs."""

import sys

import typer

from tokcost.cli import environment
from tokcost.cli.common import Calibration, Output, Presets, PriceOption, emit, format_option, guard, parse_prices
from tokcost.errors import UsageError
from tokcost.render import registry
from tokcost.text import escape_line

AnalyzeFormat = format_option("analyze")


def analyze(
    specs: list[str] = typer.Argument(
        ..., metavar="SPEC", help="Product spec YAML files, directories or globs (one result for all)."
    ),
    fmt: AnalyzeFormat = "table",
    output: Output = None,
    calibration: Calibration = None,
    presets: Presets = None,
    price: PriceOption = None,
    top: int = typer.Option(12, "--top", min=1, help="Candidates in the table and markdown tables (best first)."),
):
    """Recommend a backend and hardware for each product spec, and explain why. With --format json this is
    the baseline format of `check --baseline` and `diff` (one result holding every spec). Exit 0 when every
    spec has a feasible candidate, 1 when one has none (the report is still written), 2 for bad input."""

    def run():
        from tokcost import api

        if fmt == "html" and output is None:
            raise UsageError("--format html needs --output FILE")
        result = api.analyze(specs, calibration=calibration, presets=presets, prices=parse_prices(price))
        # a file gets no colour codes and the full width, whatever the terminal
        color = False if output is not None else environment.use_color(sys.stdout)
        width = 100 if output is not None else environment.terminal_width()
        emit(registry.render("analyze", fmt, result, width=width, color=color, top=top), output)
        for spec in result.specs:
            for warning in spec.warnings:
                typer.echo(escape_line(f"warning: {spec.name}: {warning}"), err=True)
        return 0 if all(s.recommendation.choice is not None for s in result.specs) else 1

    # exit 1 when a spec has no feasible candidate (the report is written first), as `check` does
    raise typer.Exit(guard(run))
