"""`tokcost simulate`: a discrete-event check of a spec's recommended fleet; a thin layer over
:func:`tokcost.api.simulate` and the formatters in :mod:`tokcost.render.simulate`."""

from pathlib import Path

import typer

from tokcost.cli.common import (
    Calibration,
    Output,
    Presets,
    PriceOption,
    emit,
    finite,
    format_option,
    guard,
    parse_prices,
)
from tokcost.render import registry

SimulateFormat = format_option("simulate")


def simulate(
    spec: Path = typer.Argument(..., metavar="SPEC", help="A product spec YAML file."),
    trace: Path | None = typer.Option(
        None,
        "--trace",
        help="Replay this CSV of requests (a timestamp column in seconds or ISO 8601; optional prompt_tokens, "
        "answer_tokens, frames) instead of the spec's demand (default: the spec's demand.trace if it has one).",
    ),
    hours: float | None = typer.Option(
        None,
        "--hours",
        min=0.001,
        max=8760,
        callback=finite,
        help="Hours to simulate, whole hours from midnight (default: 24, or the trace's length).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the random arrivals (the same seed, the same run)."),
    candidate: str | None = typer.Option(
        None,
        "--candidate",
        metavar="MODEL/HARDWARE/ENGINE",
        help="Simulate this candidate's fleet instead of the recommended one (e.g. sdxl/h100-sxm/compiled).",
    ),
    fmt: SimulateFormat = "table",
    output: Output = None,
    calibration: Calibration = None,
    presets: Presets = None,
    price: PriceOption = None,
):
    """Simulate the recommended fleet (or --candidate) request by request over the day or a trace: static or
    continuous batching as its engine does it, fixed or autoscaled replicas as the spec says. Prints p50, p95
    and p99 latency (s) and the share of requests over the budget, overall and per hour. Exit 0 when the budget's
    percentile is met, 1 when it is missed (the report is still written), 2 for bad input."""

    def run():
        from tokcost import api

        result = api.simulate(
            spec,
            trace=trace,
            hours=hours,
            seed=seed,
            candidate=candidate,
            calibration=calibration,
            presets=presets,
            prices=parse_prices(price),
        )
        emit(registry.render("simulate", fmt, result), output)
        return 0 if result.met else 1

    raise typer.Exit(guard(run))
