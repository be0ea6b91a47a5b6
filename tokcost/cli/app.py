"""The typer app: ``tokcost = tokcost.cli.app:main``. It registers the commands of each module of this package;
heavy modules are imported inside the commands that need them so that ``tokcost analyze`` starts fast (no torch,
no plotting library).

Exit codes: 0 success; 1 a gate failed (a budget or baseline limit, ``check`` and ``validate``); 2 bad usage or
an invalid spec, preset or calibration (every problem printed as ``file:line:col: field: message``).

Help is plain text (``rich_markup_mode=None``): the same on every terminal, so ``docs/cli.md`` and the --help
goldens (``scripts/generate_cli_docs.py``) are stable.
"""

from __future__ import annotations

import typer

from tokcost.cli import analyze, bench, check, estimate, presets, simulate, sweep, validate
from tokcost.version import __version__

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Plan latency, memory, throughput and cost of image and video generation products on "
    "autoregressive (Emu3-style) and diffusion backends. Exit codes: 0 ok, 1 a budget or "
    "gate failed, 2 invalid input or usage.",
)


def _version(value: bool):
    if value:
        typer.echo(f"tokcost {__version__}")
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
    app(prog_name="tokcost")
