"""`tokcost sweep`: price every combination of models, hardware, engines, resolutions, frames, batches and steps.

A thin wrapper over :func:`tokcost.api.sweep` (vectorised: one estimate call per chunk of a model x hardware x
engine group) and the formatters in :mod:`tokcost.render.sweep`; CSV and JSON Lines stream, chunk by chunk. Only typer is imported at module level; numpy and
the plotting library load inside the command.
"""

import sys

import typer

from tokcost.cli import environment
from tokcost.cli import request_options as opt
from tokcost.cli.common import Output, Presets, PriceOption, emit, emit_pieces, format_option, guard, parse_prices
from tokcost.errors import UsageError
from tokcost.render import registry
from tokcost.text import escape_line, quoted

PROGRESS_MIN_ROWS = 200_000  # below this a sweep finishes in well under a second: no progress bar

SweepFormat = format_option("sweep")


def sweep(
    models: str = typer.Option(..., "--models", help="Model preset ids, comma-separated (e.g. sdxl,emu3-gen)."),
    hardware: str = typer.Option(..., "--hardware", help="Hardware preset ids, comma-separated."),
    resolutions: str = typer.Option(
        ...,
        "--resolutions",
        help="Sizes in pixels, comma-separated: 512 (square) or 1280x720. Sizes a "
        "model's tokenizer or VAE cannot take exactly are padded up; the "
        "padded_width/padded_height columns report them.",
    ),
    frames: str | None = typer.Option(
        None, "--frames", help="Video frames per clip, comma-separated (video models only; image models are skipped)."
    ),
    batches: str = typer.Option("1", "--batches", help="Items generated together by a replica, comma-separated."),
    gpus: str = typer.Option(
        "1",
        "--gpus",
        help="GPUs per replica, comma-separated (1,2,4,8): each forward split by tensor parallelism (AR) or "
        "CFG and sequence parallelism (diffusion); sizes beyond a chip's scale-up domain are skipped with a note.",
    ),
    steps: str | None = typer.Option(
        None, "--steps", help="Diffusion steps, comma-separated (default: each model's own; AR models have none)."
    ),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="Engine names from the engine table, comma-separated (such as eager,compiled,vllm; default: every current "
        "engine that serves the model).",
    ),
    precision: opt.Precision = "bf16",
    vae_precision: opt.VaePrecision = None,
    fmt: SweepFormat = "table",
    output: Output = None,
    presets: Presets = None,
    price: PriceOption = None,
):
    """Price every combination, one row each: latency (s), items/s per replica, $/item, memory per GPU (GB), fits."""

    def run():
        from tokcost import api
        from tokcost.errors import UsageError

        if fmt in ("html", "parquet") and output is None:
            raise UsageError(f"--format {getattr(fmt, 'value', fmt)} needs --output FILE")
        if fmt == "parquet":  # before any pricing: say at once that the optional extra is missing
            from tokcost.render.parquet import pyarrow_modules

            pyarrow_modules()
        args = dict(
            models=names(models, "models"),
            hardware=names(hardware, "hardware"),
            resolutions=sizes(resolutions),
            frames=whole_numbers(frames, "frames"),
            batches=whole_numbers(batches, "batches"),
            gpus=whole_numbers(gpus, "gpus"),
            steps=whole_numbers(steps, "steps"),
            engines=names(engine, "engine") if engine is not None else None,
            precision=precision,
            vae_precision=vae_precision,
            presets=presets,
            prices=parse_prices(price),
        )
        if fmt in STREAMING:
            stream = api.sweep_stream(**args)
            _notes(stream, stream.rows)
            with Progress() as progress:
                progress.start(stream.rows)
                emit_pieces(stream_text(fmt, stream.chunks(progress.advance)), output)
            return
        with Progress() as progress:
            result = api.sweep(**args, on_start=progress.start, on_group=progress.advance)
        _notes(result, result.rows)
        if fmt == "html":  # the core picks the charts' lines from the columns; the page only draws them
            from tokcost.core.sweep import with_charts

            result = with_charts(result)
        emit(registry.render("sweep", fmt, result), output)

    guard(run)


MAX_DIGITS = 9  # a list value beyond this is out of every range; int() of thousands of digits would raise
STREAMING = ("csv", "jsonl", "parquet")  # written chunk by chunk as the rows are priced: memory stays flat


def _notes(result, rows: int) -> None:
    """The sweep's notes (the prices used, what was skipped) on stderr; nothing to price is an error."""
    from tokcost.render.sweep import sweep_notes

    for note in sweep_notes(result):
        typer.echo(escape_line(f"note: {note}"), err=True)
    if not rows:
        raise UsageError("nothing to price: every combination was skipped (see the notes above)")


def stream_text(fmt: str, chunks):
    """CSV (with its header), JSON Lines or Parquet as bytes, a few pieces per chunk of rows."""
    if fmt == "parquet":
        from tokcost.render.parquet import parquet_pieces

        yield from parquet_pieces(chunks)
        return
    from tokcost.render.sweep import CSV_HEADER, csv_pieces, jsonl_pieces

    if fmt == "csv":
        yield CSV_HEADER.encode()
    pieces = csv_pieces if fmt == "csv" else jsonl_pieces
    for chunk in chunks:
        yield from pieces(chunk)


def sizes(text: str) -> list[tuple[int, int]]:
    """``--resolutions 256,512,1280x720`` -> [(256, 256), (512, 512), (1280, 720)]; the API checks the range."""
    out = []
    for item in items(text, "resolutions"):
        parts = item.lower().split("x")
        if len(parts) not in (1, 2) or not all(p.isascii() and p.isdigit() and len(p) <= MAX_DIGITS for p in parts):
            raise UsageError(f"{quoted(item)} is not a size; use 512 (square) or 1280x720", param="resolutions")
        out.append((int(parts[0]), int(parts[-1])))
    return out


def whole_numbers(text: str | None, param: str) -> list[int] | None:
    """``--batches 1,8,32`` -> [1, 8, 32]; the API checks the range."""
    if text is None:
        return None
    out = []
    for item in items(text, param):
        if not (item.isascii() and item.isdigit() and len(item) <= MAX_DIGITS):
            raise UsageError(f"{quoted(item)} is not a whole number of at most {MAX_DIGITS} digits", param=param)
        out.append(int(item))
    return out


def names(text: str, param: str) -> list[str]:
    return items(text, param)


def items(text: str, param: str) -> list[str]:
    found = [t.strip() for t in text.split(",") if t.strip()]
    if not found:
        raise UsageError("needs at least one value (comma-separated)", param=param)
    return found


class Progress:
    """A progress bar on stderr for a large sweep when stderr is interactive; otherwise nothing."""

    def __init__(self):
        self.bar = None

    def start(self, total: int) -> None:
        if total < PROGRESS_MIN_ROWS or not environment.show_progress(sys.stderr):
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        console = Console(file=sys.stderr, no_color=not environment.use_color(sys.stderr))
        self.bar = Bar(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("sweep", total=total)
        self.bar.start()

    def advance(self, rows: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, rows)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
