"""Sweep formatters: each is a pure ``format(result) -> str`` over the column arrays of a
:class:`~tokcost.records.sweep.SweepResult`. CSV and JSON Lines are written column-wise in bulk
(:mod:`tokcost.render.bulk`: byte matrices per column, no per-row Python), so a streaming sweep writes over a
million rows a second (benchmarks/run_all.py measures it); the table and JSON formats turn each column into a list
of strings in one pass."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np

from tokcost.records.sweep import COLUMN_KINDS, COLUMNS, SCHEMA_VERSION, SweepResult, SweepSkip
from tokcost.render import bulk
from tokcost.render.prices import price_notes
from tokcost.text import money, sig

SWEEP_FORMATS = ("table", "csv", "json", "html")
TEXT = tuple(c for c, kind in COLUMN_KINDS.items() if kind == "text")
INTS = tuple(c for c, kind in COLUMN_KINDS.items() if kind == "int")


def _num_strings(a: np.ndarray, spec="%.6g") -> list[str]:
    """Strings of a float column to ``spec``, a %-format (6 significant digits for data: the estimates carry a
    +-30% band) or a function (the human formats' readable numbers); NaN -> ""."""
    a = np.asarray(a, dtype=float)
    fmt = spec.__mod__ if isinstance(spec, str) else spec
    out = [fmt(v) if v == v else "" for v in a.tolist()]  # v != v: NaN
    for i in np.flatnonzero(np.isnan(a)).tolist():
        out[i] = ""
    return out


def _gather_strings(a: np.ndarray, fmt) -> list[str]:
    """Format each distinct value once and gather by index: integer, text and boolean columns have few."""
    uniq, inv = np.unique(np.asarray(a), return_inverse=True)
    names = np.array([fmt(u) for u in uniq.tolist()] or [""], dtype=object)
    return names[inv.ravel()].tolist()


def _int_text(v) -> str:
    return "" if v != v else str(int(v))  # NaN (not applicable) -> ""


def _csv_text(u) -> str:
    """Quote a text field that needs it (RFC 4180)."""
    u = str(u)
    return '"' + u.replace('"', '""') + '"' if any(c in u for c in ',"\n\r') else u


def string_columns(columns: dict, float_spec="%.6g", text=str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in COLUMNS:
        a = columns[name]
        if not len(a):
            out[name] = []
        elif name in TEXT:
            out[name] = _gather_strings(np.asarray(a, dtype=str), text)
        elif name in INTS:
            out[name] = _gather_strings(np.asarray(a, dtype=float), _int_text)
        elif name == "fits_in_memory":
            out[name] = _gather_strings(np.asarray(a, dtype=bool), lambda b: "true" if b else "false")
        else:
            out[name] = _num_strings(a, float_spec)
    return out


CSV_HEADER = ",".join(COLUMNS) + "\n"


CSV_STYLE = bulk.TextStyle(text=_csv_text, missing="", floats=bulk.G6, booleans=("false", "true"))
JSON_STYLE = bulk.TextStyle(text=json.dumps, missing="null", floats=bulk.REPR6, booleans=("false", "true"))


def csv_rows(columns: dict) -> str:
    """CSV lines of a chunk of rows (no header). Floats to 6 significant digits (``%.6g``: the estimates carry a
    +-30% band), empty where a column does not apply."""
    return b"".join(csv_pieces(columns)).decode("utf-8")


def csv_pieces(columns: dict) -> Iterator[bytearray]:
    """:func:`csv_rows` as UTF-8 pieces of text: a streaming sweep writes them as they come after CSV_HEADER."""
    last = len(COLUMNS) - 1
    fields = [bulk.Field(columns[c], COLUMN_KINDS[c], after="\n" if i == last else ",") for i, c in enumerate(COLUMNS)]
    return bulk.lines(fields, CSV_STYLE)


def format_csv(result: SweepResult) -> str:
    return CSV_HEADER + csv_rows(result.columns)


def jsonl_rows(columns: dict) -> str:
    """JSON Lines of a chunk of rows: one object per configuration, keys in COLUMNS order, floats rounded to 6
    significant digits, null where a column does not apply (the notes go to stderr)."""
    return b"".join(jsonl_pieces(columns)).decode("utf-8")


def jsonl_pieces(columns: dict) -> Iterator[bytearray]:
    """:func:`jsonl_rows` as UTF-8 pieces of text, for a streaming sweep."""
    last = len(COLUMNS) - 1
    fields = [
        bulk.Field(
            columns[c],
            COLUMN_KINDS[c],
            before=("{" if i == 0 else "") + json.dumps(c) + ":",
            after="}\n" if i == last else ",",
        )
        for i, c in enumerate(COLUMNS)
    ]
    return bulk.lines(fields, JSON_STYLE)


def format_jsonl(result: SweepResult) -> str:
    return jsonl_rows(result.columns)


def _json_list(a: np.ndarray, name: str) -> list:
    if name in TEXT:
        return np.asarray(a, dtype=object).tolist()
    if name == "fits_in_memory":
        return np.asarray(a, dtype=bool).tolist()
    a = np.asarray(a, dtype=float)
    nan = np.isnan(a)
    if name in INTS:
        vals = np.where(nan, 0, a).astype(np.int64).tolist()
    else:
        vals = bulk.round_sig(np.where(nan, 0.0, a)).tolist()
    for i in np.flatnonzero(nan).tolist():
        vals[i] = None  # JSON has no NaN: a missing value (no price, not a diffusion model) is null
    return vals


def skip_words(s: SweepSkip) -> str:
    """What a sweep skipped, and why, in words."""
    if s.kind == "role":
        what = "video (frames were given)" if s.video_asked else "images or video"
        return f"skipped {s.model}: it does not generate {what} (it serves {', '.join(s.serves)})"
    if s.kind == "sizes":
        return f"skipped {', '.join(s.values)} for {s.model}: it serves {s.low}-{s.high} px per side"
    if s.kind == "frames":
        return f"skipped frames {', '.join(s.values)} for {s.model}: it generates at most {s.limit} frames per clip"
    if s.kind == "engine":
        return f"skipped engine {s.engine} for {s.model}: {s.engine} serves {', '.join(s.serves)} models only"
    return f"skipped {', '.join(s.values)} GPUs for {s.model} on {s.hardware}: {s.problem}"


def sweep_notes(result) -> list[str]:
    """A sweep's notes (a :class:`SweepResult` or a planned stream): the prices used, then what was skipped."""
    p = result.prices
    prices = [] if p is None else price_notes(p.basis, p.quotes, p.unpriced)
    return [*prices, *(skip_words(s) for s in result.skipped)]


def format_json(result: SweepResult) -> str:
    """``{"schema_version", "columns", "rows": [{column: value}], "notes"}``: one record per configuration."""
    lists = [_json_list(result.columns[c], c) for c in COLUMNS]
    rows = [dict(zip(COLUMNS, r)) for r in zip(*lists)]
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kind": "sweep",
        "columns": list(COLUMNS),
        "count": len(rows),
        "rows": rows,
        "notes": sweep_notes(result),
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"


TABLE_COLUMNS = (
    ("model", "model"),
    ("hardware", "hardware"),
    ("engine", "engine"),
    ("resolution", "size"),
    ("padded_width", "padded"),
    ("frames", "frames"),
    ("batch", "batch"),
    ("gpus", "gpus"),
    ("parallelism", "split"),
    ("steps", "steps"),
    ("latency_s", "latency s"),
    ("throughput_items_per_s", "items/s"),
    ("cost_usd_per_item", "$/item"),
    ("memory_gb", "GB"),
    ("fits_in_memory", "fits"),
)


def format_table(result: SweepResult) -> str:
    """An aligned plain-text table of every row (no colour: it is data), and the count."""
    c = result.columns
    cols = string_columns(c, sig)
    if result.rows:
        cols["cost_usd_per_item"] = _num_strings(c["cost_usd_per_item"], money)
        padded = (c["padded_width"] != c["width"]) | (c["padded_height"] != c["height"])
        padded_key = np.where(padded, c["padded_width"] * 100_000 + c["padded_height"], -1)
        cols["padded_width"] = _gather_strings(padded_key, lambda k: "-" if k < 0 else f"{k // 100_000}x{k % 100_000}")
        cols["fits_in_memory"] = _gather_strings(
            np.asarray(c["fits_in_memory"], dtype=bool), lambda b: "yes" if b else "NO"
        )
        for name in ("frames", "steps", "cost_usd_per_item"):
            cols[name] = [v or "-" for v in cols[name]]
    fmts, heads = [], []
    for key, head in TABLE_COLUMNS:
        width = max([len(head), *map(len, cols[key])])
        left = key in TEXT
        fmts.append(f"%-{width}s" if left else f"%{width}s")
        heads.append(head.ljust(width) if left else head.rjust(width))
    row = "  ".join(fmts)
    header = "  ".join(heads).rstrip()
    body = [row % r for r in zip(*(cols[k] for k, _ in TABLE_COLUMNS))]
    return "\n".join([header, "-" * len(header), *body, f"{result.rows:,} configurations"]) + "\n"
