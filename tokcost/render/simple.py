"""Plain renderers for the small commands (tokens, estimate, train, hardware/models list and show): each a pure
``format(result, **opts) -> str``."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from tokcost.records.prices import STALE_AFTER_DAYS
from tokcost.render.json import dumps
from tokcost.render.prices import basis_words, stale_words, unpriced_words
from tokcost.text import count, count_short, duration, escape_line, money, si, sig


def _console(buf, width=100) -> Console:
    # markup and emoji off: a preset's name ("FLUX.1 [dev]", ":x:") is shown as written
    return Console(
        file=buf, width=width, force_terminal=False, no_color=True, highlight=False, markup=False, emoji=False
    )


def _fmt(v, key: str = "") -> str:
    """A value for people, by what its field holds: money with $ and separators, durations in s / min / h / days,
    counts whole with separators, FLOPs with an SI prefix, ``n/a`` for nothing; never an exponent."""
    if v is None:
        return "n/a"
    if isinstance(v, bool) or isinstance(v, str):
        return escape_line(v)
    if isinstance(v, dict):
        if key == "price" and "usd_per_gpu_hour" in v:
            return f"{money(v['usd_per_gpu_hour'])}/GPU-h from {v['provider']} ({v['commitment']}, {v.get('date')})"
        return ", ".join(f"{k}={_fmt(x, key if k in _BAND_KEYS else k)}" for k, x in v.items())
    if isinstance(v, list):
        return "; ".join(_fmt(x, key) for x in v) if v else "none"
    return _number(float(v), key)


def _raw(v) -> str:
    """A preset's value as written (4 significant digits): preset views show the data, not a reading of it;
    text on one line, inert (:func:`tokcost.text.escape_line`)."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{escape_line(k)}={_raw(x)}" for k, x in v.items() if x is not None)
    return escape_line(v)  # a list as Python prints it: its strings' control characters are escaped by repr


_BAND_KEYS = ("low", "high", "central")


def _number(x: float, key: str, short: bool = False) -> str:
    base = key.removesuffix("_band")
    if "per_s" in base:
        return f"{sig(x)}/s"
    if base.startswith("cost_usd") or base.endswith("_usd"):
        return money(x)
    if base.startswith("price_usd"):
        return f"{money(x)}/GPU-h"
    if base == "flops" or base.endswith("_flops"):
        return si(x, "FLOP")
    if base.endswith("_s") or base in ("latency", "seconds") or base in _SECONDS_PARTS:
        return duration(x)
    if "width" in base or "height" in base:
        return f"{x:.0f}"
    if base in ("tokens", "samples"):
        return count_short(x) if short else count(x)
    if base in ("context", "latent", "text", "gpu_hours", "days", "frames") or x.is_integer():
        return count(x)
    if base.endswith("_gb"):
        return f"{x:,.1f}"
    return sig(x)


_SECONDS_PARTS = ("text_encoders", "denoise", "vae_decode", "pipeline", "prefill", "decode", "vision")


def kv_table(data: dict, title: str) -> str:
    buf = io.StringIO()
    table = Table(title=title, show_header=False, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in data.items():
        table.add_row(k, _fmt(v, k))
    _console(buf).print(table)
    return buf.getvalue()


def format_tokens(result) -> str:
    """A TokensResult; the fields a model's count or a model-free count does not have are left out."""
    return kv_table(_fields(result, exclude_none=True), "tokens")


def format_estimate(result) -> str:
    """The field table, then what the figures assume in words: one busy replica, the defaults, any padding."""
    notes = [
        "one replica busy all the time: $/item is its GPU-hours over the items it makes, with no queueing, idle "
        "hours or peak (tokcost analyze sizes a fleet for your demand and prices those)"
    ]
    if result.defaults_applied:
        shown = ", ".join(
            f"{k} {v}" + (" (analyze prices every engine)" if k == "engine" else " (the model's)")
            for k, v in result.defaults_applied.items()
        )
        notes.append(f"defaults applied: {shown}")
    padded = (result.tokens.get("padded_width", result.width), result.tokens.get("padded_height", result.height))
    if padded != (result.width, result.height):
        notes.append(
            f"{result.width}x{result.height} is padded to {padded[0]:.0f}x{padded[1]:.0f}, the nearest size the "
            "model's token or latent grid takes; the padding is priced"
        )
    return kv_table(_priced_fields(result), "estimate") + "".join(f"note: {n}\n" for n in notes)


def format_training(result) -> str:
    """One training run as a field table; several (``TrainComparison``) as one row per model."""
    if hasattr(result, "runs"):
        return _training_comparison(result.runs)
    return kv_table(_priced_fields(result), "training")


def _priced_fields(result) -> dict:
    """An estimate's or training run's fields for the table, its prices in words: the basis, then the notes
    with an unpriced chip's fix and old prices."""
    fields = _fields(result)
    fields["price_basis"] = basis_words(result.price_basis) if result.price_basis is not None else None
    fields["notes"] = price_notes_of(result)
    del fields["unpriced"], fields["stale_prices"]
    return fields


def price_notes_of(result) -> list[str]:
    """A result's notes with its price facts in words (an unpriced chip's fix, old prices)."""
    unpriced = [unpriced_words(result.unpriced)] if result.unpriced is not None else []
    return [*result.notes, *unpriced, *(stale_words(s) for s in result.stale_prices)]


TRAINING_COLUMNS = ("model", "hardware", "tokens", "samples", "context", "flops", "gpu_hours", "days", "cost_usd")


def _cell(v, key: str) -> str:
    """A comparison table's cell: counts short (300B) so that the columns fit."""
    return _number(float(v), key, short=True) if isinstance(v, (int, float)) and not isinstance(v, bool) else _fmt(v)


def break_even_sentence(r) -> str:
    """``sd3-medium matches emu3-gen's training compute (4.41 ZFLOP) at 2.1B samples of 1024x1024 px ...``."""
    return (
        f"{r.model} publishes no training sample count: it matches {r.break_even_with}'s training compute "
        f"({si(r.flops, 'FLOP')}) at {count_short(r.samples)} samples of {r.sample_width}x{r.sample_height} px, the "
        f"count shown; fewer samples take less training compute than {r.break_even_with}, more take more "
        "(--samples prices a count of your own)"
    )


def _training_comparison(runs: list) -> str:
    buf = io.StringIO()
    table = Table(title="training", pad_edge=False)
    for col in TRAINING_COLUMNS:
        table.add_column(col, justify="left" if col in ("model", "hardware") else "right")
    for r in runs:
        table.add_row(*(_cell(getattr(r, col), col) for col in TRAINING_COLUMNS))
    console = _console(buf)
    console.print(table)
    for r in runs:
        if r.samples_basis == "break_even":
            console.print(f"note: {break_even_sentence(r)}", markup=False, highlight=False)
    for note in dict.fromkeys(n for r in runs for n in price_notes_of(r)):
        console.print(f"note: {escape_line(note)}", highlight=False)
    return buf.getvalue()


def _fields(result, exclude_none: bool = False) -> dict:
    """A result record's fields for a human table: the schema version is for programs, not people."""
    return result.model_dump(mode="json", exclude={"schema_version"}, exclude_none=exclude_none)


def _hardware_rows(items: list) -> list[dict]:
    return [
        {
            "id": h.id,
            "name": h.name,
            "bf16_tflops": h.dense_tflops.bf16,
            "memory_gb": h.memory_gb,
            "bandwidth_tbps": h.bandwidth_tbps,
            "tdp_w": h.tdp_w,  # prices: `tokcost prices`
        }
        for h in items
    ]


def _model_rows(items: list) -> list[dict]:
    return [
        {
            "id": m.id,
            "name": m.name,
            "family": m.family,
            "roles": ",".join(m.roles),
            "params_b": m.generation.params_b(m),
        }
        for m in items
    ]


def _rows_table(rows: list[dict]) -> str:
    buf = io.StringIO()
    table = Table(pad_edge=False)
    for col in rows[0] if rows else []:
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(_raw(v) if v is not None else "-" for v in r.values()))
    _console(buf).print(table)
    return buf.getvalue()


def format_hardware_list(items: list) -> str:
    return _rows_table(_hardware_rows(items))


def format_hardware_list_json(items: list) -> str:
    return dumps(_hardware_rows(items))


def format_model_list(items: list) -> str:
    return _rows_table(_model_rows(items))


def format_model_list_json(items: list) -> str:
    return dumps(_model_rows(items))


def format_preset_json(preset, file: str) -> str:
    """One preset as JSON, with the file it was read from."""
    return dumps({**preset.model_dump(mode="json"), "file": file})


def preset_show(preset, file: str) -> str:
    """One preset as text, its sources last."""
    buf = io.StringIO()
    con = _console(buf)
    con.print(f"{preset.id}: {escape_line(preset.name)}   ({escape_line(file)})")
    data = preset.model_dump(mode="json", exclude={"sources"})
    for k, v in data.items():
        if v in (None, [], {}, ""):
            continue
        con.print(f"  {k}: {_raw(v)}")
    con.print("sources:")
    for k, v in preset.sources.items():
        con.print(f"  {escape_line(k)}: {escape_line(v)}")
    return buf.getvalue()


def format_prices(rows: list[dict], today: str | None = None) -> str:
    """The price catalogue as a table; with ``today`` (YYYY-MM-DD), a note under it for prices older than 6 months."""
    import datetime as dt

    shown = [
        {k: r[k] for k in ("hardware", "provider", "kind", "commitment", "usd_per_gpu_hour", "date")} for r in rows
    ]
    text = _rows_table(shown) if shown else "No prices match.\n"
    if today is not None:
        day = dt.date.fromisoformat(today)
        stale = sorted({r["date"] for r in rows if (day - dt.date.fromisoformat(r["date"])).days > STALE_AFTER_DAYS})
        if stale:
            text += (
                f"Note: prices dated {', '.join(stale)} are more than 6 months older than {today}; "
                "check the source before relying on them.\n"
            )
    return text


def format_prices_json(rows: list[dict]) -> str:
    return dumps(rows)
