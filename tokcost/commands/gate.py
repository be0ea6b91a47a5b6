"""`tokcost check` (the CI gate) and `tokcost diff` (past, current and delta of two saved results).

Thin wrappers: the work is in :mod:`tokcost.core.gate` (pure compare/diff) and the formatters in ``tokcost.render``.
Exit codes: 0 pass; 1 a budget, feasibility or baseline limit failed; 2 an invalid spec, baseline or usage.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer


class CheckFmt(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    github = "github"


class DiffFmt(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


def default_check_format(fmt: Optional[CheckFmt], environ=os.environ) -> str:
    """--format as given; else ``github`` under GitHub Actions (GITHUB_ACTIONS=true), else ``table``."""
    if fmt is not None:
        return fmt.value
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "table"


def run_check(specs: list[str], baseline: Optional[Path], max_cost: Optional[float], max_latency: Optional[float],
              calibration: Optional[Path], catalog):
    """Load and analyse the specs, read the baseline and compare; returns a GateResult (raises for exit 2)."""
    from tokcost.core.analyze import analyze_loaded, expand_paths, load_calibration_file, load_specs
    from tokcost.errors import UsageError
    from tokcost.core.gate import Limits, compare, load_result

    if baseline is None and (max_cost is not None or max_latency is not None):
        raise UsageError("--max-cost-increase and --max-latency-increase need --baseline FILE")
    files = expand_paths(specs)
    loaded = load_specs(files, catalog)  # every spec problem, exit 2, before any work
    docs = {f: doc for f, _, doc in loaded}
    base = load_result(baseline) if baseline is not None else None
    result = analyze_loaded(loaded, catalog, load_calibration_file(calibration))
    limits = Limits(max_cost_increase_pct=max_cost, max_latency_increase_pct=max_latency)
    return compare(result, base, limits, locate=lambda f, path: docs[f].where(path),
                   baseline_name=str(baseline) if baseline is not None else None)


def register(app) -> None:
    from tokcost.cli import PresetsOpt, _catalog, _guard

    @app.command()
    def check(
        specs: List[str] = typer.Argument(..., metavar="SPEC", help="Spec files, directories or globs."),
        baseline: Optional[Path] = typer.Option(
            None, "--baseline", help="Saved result to compare with (`tokcost analyze SPEC... --format json "
                                     "--output FILE`); specs are matched by name, else by file path."),
        max_cost_increase: Optional[float] = typer.Option(
            None, "--max-cost-increase", min=0, metavar="PCT",
            help="Fail when a spec's cost per item rises more than PCT percent over the baseline."),
        max_latency_increase: Optional[float] = typer.Option(
            None, "--max-latency-increase", min=0, metavar="PCT",
            help="Fail when a spec's latency (seconds per item) rises more than PCT percent over the baseline."),
        calibration: Optional[Path] = typer.Option(None, "--calibration", help="Calibration YAML from `tokcost bench`."),
        fmt: Optional[CheckFmt] = typer.Option(
            None, "--format", help="table | markdown (PR comment) | json | github (Actions annotations). "
                                   "Default: github when GITHUB_ACTIONS=true, else table."),
        presets: Optional[List[Path]] = PresetsOpt,
    ):
        """Gate specs in CI: exit 0 when every spec meets its budgets (and the baseline limits), 1 when one
        does not (over budget, no feasible candidate, a baseline limit crossed or the recommended model or
        hardware changed), 2 for an invalid spec, baseline or usage."""

        def run():
            from tokcost.render.check import render_check, summary

            result = run_check(specs, baseline, max_cost_increase, max_latency_increase, calibration,
                               _catalog(presets))
            sys.stdout.write(render_check(result, default_check_format(fmt)))
            typer.echo(f"tokcost check: {summary(result)}.", err=True)
            return result.exit_code

        code = _guard(run)
        raise typer.Exit(code)

    @app.command()
    def diff(
        base: Path = typer.Argument(..., metavar="BASE.json", help="Past result (`tokcost analyze --format json`)."),
        head: Path = typer.Argument(..., metavar="HEAD.json", help="Current result."),
        fmt: DiffFmt = typer.Option(DiffFmt.table, "--format", help="table | markdown | json."),
    ):
        """Past, current and delta for every spec and candidate of two saved results (always exit 0)."""

        def run():
            from tokcost.core.gate import diff as diff_results, load_result
            from tokcost.render.diff import render_diff

            sys.stdout.write(render_diff(diff_results(load_result(base), load_result(head)), fmt.value))

        _guard(run)
