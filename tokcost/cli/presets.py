"""`tokcost hardware list|show`, `tokcost models list|show` and `tokcost schema`: the presets and the spec schema."""

from __future__ import annotations

import typer

from tokcost.cli.common import Presets, emit, format_option, guard, load_catalog, output_option
from tokcost.errors import UsageError
from tokcost.render import registry

hardware_app = typer.Typer(help="Hardware presets (hardware/*.yaml).", no_args_is_help=True)
models_app = typer.Typer(help="Model presets (models/*.yaml).", no_args_is_help=True)

HardwareListFormat = format_option("hardware list")
HardwareShowFormat = format_option("hardware show")
ModelsListFormat = format_option("models list")
ModelsShowFormat = format_option("models show")
PresetId = typer.Argument(..., metavar="ID")
SchemaOutput = output_option("Write to FILE (atomically).")


@hardware_app.command("list")
def hardware_list(fmt: HardwareListFormat = "table", presets: Presets = None):
    """List hardware presets."""
    guard(lambda: emit(registry.render("hardware list", fmt, load_catalog(presets).all("hardware")), None))


@hardware_app.command("show")
def hardware_show(preset_id: str = PresetId, fmt: HardwareShowFormat = "table", presets: Presets = None):
    """Show one hardware preset with its sources."""
    guard(lambda: _show("hardware", preset_id, fmt, presets))


@models_app.command("list")
def models_list(fmt: ModelsListFormat = "table", presets: Presets = None):
    """List model presets."""
    guard(lambda: emit(registry.render("models list", fmt, load_catalog(presets).all("models")), None))


@models_app.command("show")
def models_show(preset_id: str = PresetId, fmt: ModelsShowFormat = "table", presets: Presets = None):
    """Show one model preset with its sources."""
    guard(lambda: _show("models", preset_id, fmt, presets))


def _show(kind: str, preset_id: str, fmt, presets) -> None:
    cat = load_catalog(presets)
    if not cat.has(kind, preset_id):
        raise UsageError(cat.unknown_message(kind, preset_id))
    file = str(cat.source_of(kind, preset_id))
    emit(registry.render(f"{kind} show", fmt, cat.get(kind, preset_id), file=file), None)


def schema(output: SchemaOutput = None):
    """Print the JSON Schema of the product spec (committed as docs/spec.schema.json)."""
    from tokcost.records.spec import spec_json_schema
    from tokcost.render.json import dumps

    emit(dumps(spec_json_schema()), output)
