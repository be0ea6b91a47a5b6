"""`tokcost analyze`: the recommendation report for one or more product specs."""

from __future__ import annotations

import sys

import typer

from tokcost.cli import environment
from tokcost.cli.common import Calibration, Output, Presets, emit, format_option, guard
from tokcost.errors import UsageError
from tokcost.render import registry

AnalyzeFormat = format_option("analyze")


def analyze(
    specs: list[str] = typer.Argument(
        ..., metavar="SPEC", help="Product spec YAML files, directories or globs (one result for all)."
    ),
    fmt: AnalyzeFormat = "table",
    output: Output = None,
    calibration: Calibration = None,
    presets: Presets = None,
):
    """Recommend a backend and hardware for each product spec, and explain why. With --format json this is
    the baseline format of `check --baseline` and `diff` (one result holding every spec)."""

    def run():
        from tokcost import api

        if fmt == "html" and output is None:
            raise UsageError("--format html needs --output FILE")
        result = api.analyze(specs, calibration=calibration, presets=presets)
        # a file gets no colour codes and the full width, whatever the terminal
        color = False if output is not None else environment.use_color(sys.stdout)
        width = 100 if output is not None else environment.terminal_width()
        emit(registry.render("analyze", fmt, result, width=width, color=color), output)

    guard(run)
