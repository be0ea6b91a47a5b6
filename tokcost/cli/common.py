"""What every command shares: the common options (as ``Annotated`` types), the error guard that turns bad input
into exit code 2, writing the output, and the preset catalogue. Imports nothing heavy at module level."""

import codecs
import contextlib
import errno
import math
import re
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from tokcost.cli import environment
from tokcost.errors import ARGUMENTS, InputError, Problem, UsageError
from tokcost.render import registry
from tokcost.text import escape_line, quoted

T = TypeVar("T")

PRESETS_HELP = (
    "Extra preset directory holding hardware/ and/or models/ subfolders of <id>.yaml files; overrides "
    "built-in presets with the same id. Repeatable. Also read from $TOKCOST_PRESETS (os.pathsep-separated)."
)
OUTPUT_HELP = "Write to FILE atomically instead of stdout."

Presets = Annotated[list[Path] | None, typer.Option("--presets", help=PRESETS_HELP)]
# the output name as typed (a str, not a Path: Path("out/") drops the '/' that says "a folder"); '-' is stdout
Output = Annotated[str | None, typer.Option("--output", "-o", metavar="<path>", help=OUTPUT_HELP)]
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
    if m is None or not math.isfinite(float(m.group(1))):
        raise typer.BadParameter(f"{quoted(value)} is not a percentage; give a non-negative number like 10 or 10%")
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
    """``-o/--output FILE`` with a command's own help text (see :data:`Output`)."""
    return Annotated[str | None, typer.Option("--output", "-o", metavar="<path>", help=help)]


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
            note = annotation("error", p.file, p.line, p.col, "tokcost: invalid input", f"{p.field}: {p.message}")
            write_stdout(note + "\n")
    if in_files:
        n = len(problem.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True)
    raise typer.Exit(2)


def argument_text(p: Problem) -> str:
    """An argument's problem as the CLI spells it: the API's ``tokens_per_forward`` is ``--tokens-per-forward``."""
    return escape_line(f"--{p.field.replace('_', '-')}: {p.message}" if p.field else p.message)


def guard(fn: Callable[[], T]) -> T:
    """Run a command body; bad input or usage becomes exit 2 with every problem printed, never a traceback."""
    from tokcost.io.reading import forget_reads

    forget_reads()  # a new run: the files it reads are the ones an output must not replace
    try:
        return fn()
    except InputError as exc:
        fail(exc)
    except MemoryError:
        io_failure(
            "out of memory: the result does not fit in memory (a sweep: --format csv or jsonl stream rows "
            "without holding them)"
        )


EXIT_IO = 3  # the output could not be written (a full disk, a file size limit, a closed or broken stdout) or made
# (memory ran out); documented in the README's exit codes
# a character the output's encoding cannot hold is written \uXXXX (PYTHONIOENCODING=ascii, LC_ALL=C): readable,
# and valid inside a JSON string, where the only non-ASCII characters of a JSON document can be
ESCAPE_ERRORS = "tokcost-escape"


def _escape_unencodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        cp = ord(ch)
        if cp > 0xFFFF:  # a UTF-16 surrogate pair, as JSON writes it
            cp -= 0x10000
            out.append(f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}")
        else:
            out.append(f"\\u{cp:04x}")
    return "".join(out), exc.end


codecs.register_error(ESCAPE_ERRORS, _escape_unencodable)


def io_failure(what: str, exc: BaseException | None = None) -> NoReturn:
    """Exit EXIT_IO (3) after saying what could not be written: never 0 (the output is incomplete) nor 1 (a gate
    failed), nor 2 (the request was fine)."""
    reason = (getattr(exc, "strerror", None) or str(exc)) if exc is not None else ""
    with contextlib.suppress(Exception):
        typer.echo(f"error: {escape_line(what)}" + (f": {escape_line(reason)}" if reason else ""), err=True)
    raise typer.Exit(EXIT_IO)


def write_stdout(text: str | bytes | bytearray) -> None:
    """``text`` to standard output, flushed at once, so that every way the write can fail (a closed stdout, a
    broken pipe, a full disk, ``ulimit -f``, a short write) is seen here and becomes exit 3 with a message.
    Bytes are UTF-8 text already (a sweep's bulk rows): written as they are, with no decoding and re-encoding."""
    stream = sys.stdout
    if stream is None:  # started with stdout closed (`>&-`)
        io_failure("cannot write to standard output: it is closed")
    try:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        data = text if isinstance(text, (bytes, bytearray)) else text.encode(encoding, ESCAPE_ERRORS)
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(data.decode("utf-8" if isinstance(text, (bytes, bytearray)) else encoding))
            stream.flush()
        else:
            _write_all(buffer, data)
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        from tokcost.io.atomic import silence_stdout

        silence_stdout()
        io_failure("cannot write to standard output", exc)


def _write_all(buffer, data: bytes) -> None:
    """Every byte of ``data``: a buffered write may report fewer bytes written than given (a short write at a size
    limit) without raising; writing the rest then raises the reason (EFBIG, ENOSPC)."""
    view = memoryview(data)
    while view:
        written = buffer.write(view)
        if not written:
            raise OSError(errno.EIO, "the output accepted no more bytes (a short write)")
        view = view[written:]
    buffer.flush()


def finish_stdout() -> int | None:
    """At exit: flush what is left for stdout; EXIT_IO when that fails, else None."""
    if sys.stdout is None:
        return None
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        from tokcost.io.atomic import silence_stdout

        silence_stdout()
        try:
            io_failure("cannot write to standard output", exc)
        except typer.Exit as done:
            return done.exit_code
    return None


def _stop(signum, frame) -> None:
    """SIGINT, SIGTERM or SIGHUP: unwind, so that every ``finally`` runs (the temporary file of an output being
    written is removed), then exit 128 + the signal number, as a shell reports a signal (click would turn Ctrl-C
    into exit 1, the gate's code)."""
    signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once
    raise SystemExit(128 + signum)


def prepare_process() -> None:
    """What the command line sets up once, before any command: exits on SIGINT/SIGTERM/SIGHUP that clean up
    (unless the signal was ignored when tokcost started, as ``nohup`` does); SIGXFSZ ignored, so that a write beyond
    ``ulimit -f`` fails with EFBIG (exit 3) instead of killing the process with a truncated file; stdout and stderr
    that escape what their encoding cannot hold instead of raising."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(signum, _stop)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors=ESCAPE_ERRORS)


# an output name the file system refuses, as a shell's `> FILE` would (exit 2); any other failure is exit 3
REFUSED = {
    getattr(errno, name)
    for name in ("EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR", "EISDIR", "ENAMETOOLONG", "ELOOP", "EEXIST")
    if hasattr(errno, name)
}


def emit(text: str, output: str | Path | None) -> None:
    """``text`` to stdout, or to ``output`` atomically (a failed run leaves any old file as it was)."""
    emit_pieces([text], output)


def emit_pieces(pieces: Iterable[str | bytes | bytearray], output: str | Path | None) -> None:
    """Text made piece by piece (a streaming sweep) to stdout as it comes, or to ``output`` atomically: the file
    appears whole when the last piece is written, and an error midway leaves any old file as it was. ``-`` is
    stdout; what an output may be is :mod:`tokcost.io.atomic`'s policy. A refused output (a folder, a read-only
    file, an input) is exit 2; a write that fails (a full disk, a size limit, a broken pipe) is exit 3."""
    if output is None or str(output) == "-":
        for piece in pieces:
            write_stdout(piece)
        return
    from tokcost.io.atomic import OutputRefused, open_atomic

    try:
        with open_atomic(output) as fh:
            for piece in pieces:
                fh.write(piece if isinstance(piece, (bytes, bytearray)) else piece.encode("utf-8", "backslashreplace"))
    except OSError as exc:
        if isinstance(exc, OutputRefused) or exc.errno in REFUSED:
            fail(f"cannot write {output}: {exc.strerror or exc}")  # exit 2: the output named is not one to write
        io_failure(f"cannot write {output}", exc)
    typer.echo(f"wrote {escape_line(output)}", err=True)


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
