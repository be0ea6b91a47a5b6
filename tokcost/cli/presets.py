"""`tokcost hardware list|show`, `tokcost models list|show` and `tokcost schema`: the presets and the spec schema."""

import typer

from tokcost.cli.common import Presets, emit, format_option, guard, load_catalog, output_option
from tokcost.errors import UsageError
from tokcost.render import registry

hardware_app = typer.Typer(help="Hardware presets (tokcost/data/hardware/*.yaml).", no_args_is_help=True)
models_app = typer.Typer(help="Model presets (tokcost/data/models/*.yaml).", no_args_is_help=True)

HardwareListFormat = format_option("hardware list")
HardwareShowFormat = format_option("hardware show")
ModelsListFormat = format_option("models list")
ModelsShowFormat = format_option("models show")
PresetId = typer.Argument(..., metavar="ID")
SchemaOutput = output_option("Write to FILE (atomically).")
PricesFormat = format_option("prices")
SchemaFormat = format_option("schema")


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


def prices(
    hardware: str | None = typer.Option(None, "--hardware", metavar="ID", help="Only this hardware id."),
    provider: str | None = typer.Option(None, "--provider", metavar="P", help="Only this provider."),
    fmt: PricesFormat = "table",
    today: str | None = typer.Option(None, "--today", hidden=True, metavar="YYYY-MM-DD"),
):
    """List the dated GPU rental price catalogue (tokcost/data/prices/prices.yaml), with its sources."""
    guard(lambda: _prices(hardware, provider, fmt, today))


def _prices(hardware, provider, fmt, today) -> None:
    import datetime as dt
    import difflib

    from tokcost.io.prices import load_prices

    cat = load_prices()
    if hardware is not None and hardware not in cat.prices:
        close = difflib.get_close_matches(hardware, list(cat.prices), n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; priced ids: {', '.join(sorted(cat.prices))}"
        raise UsageError(f"no prices for hardware {hardware!r}{hint}", param="hardware")
    providers = sorted(cat.providers)
    if provider is not None and provider not in providers:
        close = difflib.get_close_matches(provider, providers, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; providers: {', '.join(providers)}"
        raise UsageError(f"unknown provider {provider!r}{hint}", param="provider")
    if today is None:
        today = dt.date.today().isoformat()
    else:
        try:
            dt.date.fromisoformat(today)
        except ValueError:
            raise UsageError(f"{today!r} is not a date (YYYY-MM-DD)", param="today") from None
    rows = [
        {
            "hardware": hw,
            "provider": e.provider,
            "kind": cat.providers[e.provider].kind,
            "commitment": e.commitment,
            "usd_per_gpu_hour": e.usd_per_gpu_hour,
            "date": e.date,
            "source": e.source,
        }
        for hw, entries in sorted(cat.prices.items())
        if hardware in (None, hw)
        for e in entries
        if provider in (None, e.provider)
    ]
    emit(registry.render("prices", fmt, rows, today=today), None)


def schema(output: SchemaOutput = None, fmt: SchemaFormat = "json"):
    """Print the JSON Schema of the product spec (committed as docs/spec.schema.json)."""
    from tokcost.io.engines import load_engines
    from tokcost.records.spec import spec_json_schema

    emit(registry.render("schema", fmt, spec_json_schema(list(load_engines()))), output)
