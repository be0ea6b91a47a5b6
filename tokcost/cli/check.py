"""`tokcost check` (the CI gate) and `tokcost diff` (past, current and delta of two saved results).

Thin wrappers over :func:`tokcost.api.check` and :func:`tokcost.api.diff` (the work is in :mod:`tokcost.core.gate`,
pure compare/diff) and the formatters in ``tokcost.render``.
Exit codes: 0 pass; 1 a budget, feasibility or baseline limit failed; 2 an invalid spec, baseline or usage.
"""

from collections.abc import Mapping
from pathlib import Path

import typer

from tokcost.cli import environment
from tokcost.cli.common import (
    Calibration,
    Presets,
    PriceOption,
    ProgressBar,
    emit,
    format_option,
    guard,
    parse_prices,
    percent,
)
from tokcost.render import registry

CheckFormat = format_option("check", "Default: github when GITHUB_ACTIONS=true, else table.", optional=True)
DiffFormat = format_option("diff")


def default_check_format(fmt: str | None, env: Mapping[str, str] | None = None) -> str:
    """--format as given; else ``github`` under GitHub Actions, else ``table``."""
    if fmt is not None:
        return getattr(fmt, "value", fmt)
    return "github" if environment.github_actions(env) else "table"


def check(
    specs: list[str] = typer.Argument(..., metavar="SPEC", help="Spec files, directories or globs."),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        help="Saved result to compare with (`tokcost analyze SPEC... --format json "
        "--output FILE`); specs are matched by name, else by file path.",
    ),
    max_cost_increase: float | None = typer.Option(
        None,
        "--max-cost-increase",
        parser=percent,
        metavar="PCT",
        help="Fail when a spec's cost per item rises more than PCT percent (10 or 10%) over the baseline.",
    ),
    max_latency_increase: float | None = typer.Option(
        None,
        "--max-latency-increase",
        parser=percent,
        metavar="PCT",
        help="Fail when a spec's latency (end to end at its percentile, at peak) rises more than PCT percent (10 or "
        "10%) over the baseline.",
    ),
    calibration: Calibration = None,
    fmt: CheckFormat = None,
    presets: Presets = None,
    price: PriceOption = None,
):
    """Gate specs in CI: exit 0 when every spec meets its budgets (and the baseline limits), 1 when one
    does not (over budget, no feasible candidate, a baseline limit crossed or the recommended model or
    hardware changed), 2 for an invalid spec, baseline or usage."""

    def run():
        from tokcost import api
        from tokcost.errors import UsageError
        from tokcost.render.check import summary

        if baseline is None and (max_cost_increase is not None or max_latency_increase is not None):
            raise UsageError("--max-cost-increase and --max-latency-increase need --baseline FILE")
        bar = ProgressBar()  # shown on a terminal only, and only once the first spec has taken its time
        try:
            result = api.check(
                specs,
                baseline=baseline,
                max_cost_increase=max_cost_increase,
                max_latency_increase=max_latency_increase,
                calibration=calibration,
                presets=presets,
                prices=parse_prices(price),
                progress=bar.steps("check: specs analysed"),
            )
        finally:
            bar.stop()
        chosen = default_check_format(fmt)
        emit(registry.render("check", chosen, result), None)
        if chosen != "table":  # the table ends with the summary; other formats go to a file or a PR comment
            typer.echo(f"tokcost check: {summary(result)}.", err=True)
        return result.exit_code

    code = guard(run)
    raise typer.Exit(code)


def diff(
    base: Path = typer.Argument(..., metavar="BASE.json", help="Past result (`tokcost analyze --format json`)."),
    head: Path = typer.Argument(..., metavar="HEAD.json", help="Current result."),
    fmt: DiffFormat = "table",
    every: bool = typer.Option(
        False, "--all", help="Show every candidate in the table and markdown, not only those that changed."
    ),
):
    """Past, current and delta for every spec and its changed candidates (--all: every candidate; JSON always has
    every one) of two saved results: cost, latency, batch and GPUs. Exit 0 (2 for a missing or invalid file)."""

    def run():
        from tokcost import api

        emit(registry.render("diff", fmt, api.diff(base, head), every=every), None)

    guard(run)
