"""What every command shares: the common options (as ``Annotated`` types), the error guard that turns bad input
into exit code 2, writing the output, and the preset catalogue. Imports nothing heavy at module level."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from tokcost.cli import environment
from tokcost.errors import ARGUMENTS, InputError, Problem, UsageError
from tokcost.render import registry

T = TypeVar("T")

PRESETS_HELP = (
    "Extra preset directory holding hardware/ and/or models/ subfolders of <id>.yaml files; overrides "
    "built-in presets with the same id. Repeatable. Also read from $TOKCOST_PRESETS (os.pathsep-separated)."
)
OUTPUT_HELP = "Write to FILE atomically instead of stdout."

Presets = Annotated[list[Path] | None, typer.Option("--presets", help=PRESETS_HELP)]
Output = Annotated[Path | None, typer.Option("--output", "-o", help=OUTPUT_HELP)]
Calibration = Annotated[Path | None, typer.Option("--calibration", help="Calibration YAML from `tokcost bench`.")]
PRICE_HELP = (
    "Your price for a hardware id in USD per GPU-hour, as ID=USD (h100-sxm=2.10); repeatable. Wins over a spec's "
    "pricing: section and the price catalogue (`tokcost prices`)."
)
PriceOption = Annotated[list[str] | None, typer.Option("--price", metavar="ID=USD", help=PRICE_HELP)]
_PRICE_NUMBER = re.compile(r"\d+(\.\d*)?|\.\d+", re.ASCII)


def finite(value: float | None) -> float | None:
    """Typer callback for every float option: nan and inf are refused (exit 2), as in spec files."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter("must be a finite number (not nan or inf)")
    return value


_PERCENT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*", re.ASCII)


def percent(value: str) -> float:
    """Typer parser for a percentage option: ``10`` or ``10%`` (a plain non-negative number, % optional)."""
    m = _PERCENT.fullmatch(value)
    if m is None:
        raise typer.BadParameter(f"{value!r} is not a percentage; give a non-negative number like 10 or 10%")
    return float(m.group(1))


def parse_prices(values: list[str] | None) -> dict[str, float] | None:
    """``--price ID=USD`` values as {hardware id: USD per GPU-hour}; a malformed one is exit 2 naming --price.
    The ids and the range are checked with the presets (:func:`tokcost.api.price_overrides`)."""
    if not values:
        return None
    out: dict[str, float] = {}
    problems = []
    for v in values:
        hw, sep, usd = v.partition("=")
        hw, usd = hw.strip(), usd.strip()
        if not sep or not hw:
            problems.append(f"{v!r}: expected ID=USD_PER_GPU_HOUR, for example h100-sxm=2.10")
        elif not _PRICE_NUMBER.fullmatch(usd):
            problems.append(f"{v!r}: the price must be a plain number of US dollars per GPU-hour, like 2.10")
        elif hw in out:
            problems.append(f"{v!r}: {hw} is priced twice")
        else:
            out[hw] = float(usd)
    if problems:
        raise InputError([Problem(ARGUMENTS, 0, 0, "price", p) for p in problems])
    return out


def output_option(help: str):
    """``-o/--output FILE`` with a command's own help text."""
    return Annotated[Path | None, typer.Option("--output", "-o", help=help)]


def format_option(command: str, extra_help: str = "", optional: bool = False):
    """``--format`` with ``command``'s choices and help text from :mod:`tokcost.render.registry`. ``optional``:
    the default is None, for a command that picks its format itself when none is given."""
    choices = registry.choice_enum(command)
    option = typer.Option("--format", help=registry.choices_help(command) + (" " + extra_help if extra_help else ""))
    return Annotated[choices | None if optional else choices, option]


def fail(problem: InputError | str) -> NoReturn:
    """Print every problem and exit 2: a file's as ``file:line:col: field: message`` (and as GitHub annotations
    under Actions), an argument's as ``error: --flag: message``, a plain message as ``error: message``."""
    if isinstance(problem, str):
        problem = UsageError(problem)
    in_files = [p for p in problem.problems if p.file != ARGUMENTS]
    for p in problem.problems:
        typer.echo(str(p) if p.file != ARGUMENTS else f"error: {argument_text(p)}", err=True)
    if in_files and environment.github_actions():  # annotate the pull request at the offending lines too
        from tokcost.render.github import annotation

        for p in in_files:
            typer.echo(annotation("error", p.file, p.line, p.col, "tokcost: invalid input", f"{p.field}: {p.message}"))
    if in_files:
        n = len(problem.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True)
    raise typer.Exit(2)


def argument_text(p: Problem) -> str:
    """An argument's problem as the CLI spells it: the API's ``tokens_per_forward`` is ``--tokens-per-forward``."""
    return f"--{p.field.replace('_', '-')}: {p.message}" if p.field else p.message


def guard(fn: Callable[[], T]) -> T:
    """Run a command body; bad input or usage becomes exit 2 with every problem printed, never a traceback."""
    from tokcost.io.reading import forget_reads

    forget_reads()  # a new run: the files it reads are the ones an output must not replace
    try:
        return fn()
    except InputError as exc:
        fail(exc)


def emit(text: str, output: Path | None) -> None:
    """``text`` to stdout, or to ``output`` atomically (a failed run leaves any old file as it was)."""
    emit_pieces([text], output)


def emit_pieces(pieces: Iterable[str | bytes], output: Path | None) -> None:
    """Text made piece by piece (a streaming sweep) to stdout as it comes, or to ``output`` atomically: the file
    appears whole when the last piece is written, and an error midway leaves any old file as it was."""
    if output is None:
        for piece in pieces:
            if isinstance(piece, bytes):  # already UTF-8 (a sweep's bulk text): no decoding and re-encoding
                sys.stdout.flush()
                sys.stdout.buffer.write(piece)
            else:
                sys.stdout.write(piece)
        return
    from tokcost.io.atomic import open_atomic

    try:
        with open_atomic(output) as fh:
            for piece in pieces:
                fh.write(piece if isinstance(piece, bytes) else piece.encode("utf-8"))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")  # exit 2: a refused output is bad usage
    typer.echo(f"wrote {output}", err=True)


def load_catalog(presets: list[Path] | None):
    """The built-in presets, overridden by ``--presets`` directories and $TOKCOST_PRESETS."""
    from tokcost.api import catalog

    return catalog(presets)


class ProgressBar:
    """rich progress bar on stderr; disabled when stderr is not a terminal or under CI (cli.environment)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        off = not environment.show_progress(sys.stderr)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=off,
            transient=True,
        )
        self.task = None

    def start(self, total: int, description: str) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(description, total=total)
        else:
            self.bar.update(self.task, description=description)

    def advance(self) -> None:
        self.bar.advance(self.task)

    def steps(self, description: str):
        """A ``progress(done, total)`` callback that drives the bar (the core's progress hook)."""

        def tick(done: int, total: int) -> None:
            self.start(total, description)
            self.bar.update(self.task, completed=done)

        return tick

    def stop(self) -> None:
        self.bar.stop()
