"""The typer app: ``tokcost = tokcost.cli.app:main``. It registers the commands of each module of this package;
heavy modules are imported inside the commands that need them so that ``tokcost analyze`` starts fast (no torch,
no plotting library).

Exit codes: 0 success; 1 a gate failed (a budget or baseline limit, ``check`` and ``validate``); 2 bad usage or
an invalid spec, preset or calibration (every problem printed as ``file:line:col: field: message``); 3 the output
could not be written (a full disk, ``ulimit -f``, a closed or broken stdout) or memory ran out. A SIGTERM or
SIGHUP or SIGINT exits 128 + the signal's number after removing any temporary file.

Help is plain text (``rich_markup_mode=None``): the same on every terminal, so ``docs/cli.md`` and the --help
goldens (``scripts/generate_cli_docs.py``) are stable.
"""

import sys

import typer

from tokcost.cli import analyze, bench, check, estimate, presets, simulate, sweep, validate
from tokcost.cli.common import EXIT_IO, finish_stdout, prepare_process, write_stdout
from tokcost.version import __version__

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Plan latency, memory, throughput and cost of image and video generation products on "
    "autoregressive (Emu3-style) and diffusion backends. Exit codes: 0 ok, 1 a budget or "
    "gate failed, 2 invalid input or usage, 3 the output could not be written.",
)


def _version(value: bool):
    if value:
        write_stdout(f"tokcost {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
):
    pass


# the order of --help
for command in (
    estimate.tokens,
    presets.schema,
    presets.prices,
    estimate.estimate,
    estimate.train,
    analyze.analyze,
    simulate.simulate,
    bench.bench,
    check.check,
    check.diff,
    sweep.sweep,
    validate.validate,
):
    app.command()(command)
app.add_typer(presets.hardware_app, name="hardware")
app.add_typer(presets.models_app, name="models")


def main() -> None:
    prepare_process()
    streams = (sys.stdout, sys.stderr)
    try:
        app(prog_name="tokcost")
    except SystemExit as done:
        if (sys.stdout, sys.stderr) != streams:  # click swaps the streams only after a broken pipe (it exits 1,
            raise SystemExit(EXIT_IO) from None  # the gate's code): a write failed, on stderr this time
        failed = finish_stdout()  # what is still buffered for stdout must reach it, or the exit code says so
        raise SystemExit(failed if failed is not None else done.code) from None
