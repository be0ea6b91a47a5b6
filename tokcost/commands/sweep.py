"""`tokcost sweep`: price every combination of models, hardware, engines, resolutions, frames, batches and steps.

A thin wrapper over :func:`tokcost.core.sweep.run_sweep` (vectorised: one estimate call per model x hardware x
engine) and the formatters in :mod:`tokcost.render.sweep`. Only typer is imported at module level; numpy and
the plotting library load inside the command.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

PROGRESS_MIN_ROWS = 200_000  # below this a sweep finishes in well under a second: no progress bar


class SweepFmt(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    html = "html"


def register(app) -> None:
    from tokcost.cli import PresetsOpt

    @app.command("sweep")
    def sweep(
        models: str = typer.Option(..., "--models", help="Model preset ids, comma-separated (e.g. sdxl,emu3-gen)."),
        hardware: str = typer.Option(..., "--hardware", help="Hardware preset ids, comma-separated."),
        resolutions: str = typer.Option(..., "--resolutions",
                                        help="Sizes in pixels, comma-separated: 512 (square) or 1280x720. Sizes a "
                                             "model's tokenizer or VAE cannot take exactly are padded up; the "
                                             "padded_width/padded_height columns report them."),
        frames: Optional[str] = typer.Option(None, "--frames", help="Video frames per clip, comma-separated "
                                                                     "(video models only; image models are skipped)."),
        batches: str = typer.Option("1", "--batches", help="Items generated together on one GPU, comma-separated."),
        steps: Optional[str] = typer.Option(None, "--steps", help="Diffusion steps, comma-separated (default: each "
                                                                  "model's own; AR models have none)."),
        engine: Optional[str] = typer.Option(None, "--engine", help="eager,compiled,vllm (comma-separated; default: "
                                                                    "every engine that serves the model)."),
        precision: str = typer.Option("bf16", "--precision",
                                      help="Weight precision: bf16 | fp16 | fp8 | int8 | int4."),
        fmt: SweepFmt = typer.Option(SweepFmt.table, "--format",
                                     help="table | csv | json | html (html needs --output)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE atomically instead of stdout."),
        presets: Optional[List[Path]] = PresetsOpt,
    ):
        """Price every combination, one row each: latency (s), items/s per GPU, $/item, memory (GB), fits."""
        from tokcost.cli import _catalog, _check_precision, _emit, _guard

        def run():
            from tokcost.errors import UsageError
            from tokcost.core.sweep import SweepRequest, parse_ints, parse_names, parse_resolutions

            if fmt == SweepFmt.html and output is None:
                raise UsageError("--format html needs --output FILE")
            _check_precision(precision)
            cat = _catalog(presets)
            req = SweepRequest(
                models=[cat.model(m) for m in parse_names(models, "--models")],
                hardware=[cat.hardware(h) for h in parse_names(hardware, "--hardware")],
                resolutions=parse_resolutions(resolutions), frames=parse_ints(frames, "--frames", 1, 10_000),
                batches=parse_ints(batches, "--batches", 1, 65_536), steps=parse_ints(steps, "--steps", 1, 1000),
                engines=parse_names(engine, "--engine") if engine is not None else None, precision=precision)
            result = _run_with_progress(req)
            for note in result.notes:
                typer.echo(f"note: {note}", err=True)
            if not result.rows:
                raise UsageError("nothing to price: every combination was skipped (see the notes above)")
            _emit(format_sweep(result, fmt.value), output)

        _guard(run)


def format_sweep(result, fmt: str) -> str:
    from tokcost.render import sweep as r

    if fmt == "html":
        from tokcost.render.html import format_sweep_html

        return format_sweep_html(result)
    return {"table": r.format_table, "csv": r.format_csv, "json": r.format_json}[fmt](result)


def progress_enabled(stream=None) -> bool:
    """Progress only on an interactive stderr, never under CI or when the user asked for no decoration."""
    stream = stream or sys.stderr
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _run_with_progress(req):
    from tokcost.core.sweep import plan_groups, run_sweep

    groups, _ = plan_groups(req)
    total = sum(g.n for g in groups) * len(req.batches)
    if total < PROGRESS_MIN_ROWS or not progress_enabled():
        return run_sweep(req)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(file=sys.stderr, no_color="NO_COLOR" in os.environ)
    with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("sweep", total=total)
        return run_sweep(req, on_group=lambda n: bar.advance(task, n))
