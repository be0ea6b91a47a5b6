"""Formatters for ``tokcost diff``: past, current and delta for every spec and candidate.
Pure ``format_x(DiffResult) -> str``."""

from __future__ import annotations

from tokcost.records.gate import CandidateDiff, DiffResult, SpecDiff
from tokcost.render.check import change, changes_text, choice_text, past_now, seconds
from tokcost.text import dollars, escape_line, markdown_text, money

_HEAD = (
    "model",
    "replica",
    "engine",
    "batch",
    "GPUs",
    "$/item past",
    "$/item now",
    "change",
    "latency past",
    "latency now",
    "change",
    "feasible",
    "status",
)


def _feasible(c: CandidateDiff) -> str:
    def yn(v):
        return "-" if v is None else ("yes" if v else "no")

    before, after = yn(c.feasible_before), yn(c.feasible_after)
    if before in ("-", after):
        return after
    return before if after == "-" else f"{before} -> {after}"


def _count(d) -> str:
    """``8`` when unchanged, ``32 -> 8`` when it changed, ``-`` when absent."""

    def n(v):
        return "-" if v is None else f"{v:,.0f}"

    return n(d.after) if d.before in (None, d.after) else f"{n(d.before)} -> {n(d.after)}"


def _shown(s: SpecDiff, every: bool) -> tuple[list[CandidateDiff], str]:
    """The candidates a table shows (the changed ones, or ``every`` one) and a line on those it leaves out."""
    rows = s.candidates if every else [c for c in s.candidates if c.changed]
    left = len(s.candidates) - len(rows)
    return rows, (f"{left} unchanged candidates not shown (--all shows them)." if left else "")


def _cells(c: CandidateDiff, escape=escape_line) -> list[str]:
    cost, lat = c.cost_per_item_usd, c.latency_s
    replica = c.replica_after or c.replica_before or c.hardware
    if c.replica_before and c.replica_after and c.replica_before != c.replica_after:
        replica = f"{c.replica_before} -> {c.replica_after}"
    return [  # a saved result's names are user text
        escape(c.model),
        escape(replica),
        escape(c.engine),
        _count(c.batch),
        _count(c.gpus),
        money(cost.before),
        money(cost.after),
        change(cost),
        seconds(lat.before),
        seconds(lat.after),
        change(lat),
        _feasible(c),
        c.status,
    ]


def _choice(s: SpecDiff, escape) -> str:
    if s.status == "removed":  # only the past choice exists; choice_text would show the (missing) current one
        return choice_text(None, s.choice_before, "removed", escape)
    return choice_text(s.choice_before, s.choice_after, s.status, escape)


def _headline(s: SpecDiff, escape=escape_line) -> list[str]:
    return [
        f"choice: {_choice(s, escape)}",
        f"cost/item: {past_now(s.cost_per_item_usd, money)} ({change(s.cost_per_item_usd)})",
        f"latency: {past_now(s.latency_s, seconds)} ({change(s.latency_s)})",
        f"monthly: {past_now(s.monthly_usd, dollars)} ({change(s.monthly_usd)})",
    ]


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def format_table(result: DiffResult, every: bool = False) -> str:
    """The diff for a terminal: the changed candidates of each spec (``every``: all of them)."""
    out: list[str] = []
    for s in result.specs:
        out.append(f"{escape_line(s.name)}  ({escape_line(s.file)})  [{s.status}]")
        out += [f"  {line}" for line in _headline(s)]
        out.append(f"  inputs changed: {changes_text(s.changes)}")
        shown, left = _shown(s, every)
        if shown:
            out += [f"  {line}" for line in _aligned([list(_HEAD)] + [_cells(c) for c in shown])]
        out += [f"  {line}" for line in (left or None, "") if line is not None]
    return "\n".join(out) + "\n"


def format_markdown(result: DiffResult, every: bool = False) -> str:
    """The diff as markdown: the changed candidates of each spec (``every``: all of them)."""
    out = ["### tokcost diff", ""]
    for s in result.specs:
        out.append(f"#### {markdown_text(s.name)} ({s.status})\n")
        out += [f"- {line}" for line in _headline(s, markdown_text)]
        out.append(f"- inputs changed: {changes_text(s.changes, markdown_text)}\n")
        shown, left = _shown(s, every)
        if shown:
            out.append("| " + " | ".join(_HEAD) + " |")
            out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
            out += ["| " + " | ".join(_cells(c, markdown_text)) + " |" for c in shown]
        if left:
            out.append(f"\n{left}")
        out.append("")
    return "\n".join(out) + "\n"


def format_json(result: DiffResult) -> str:
    from tokcost.render.json import format_record

    return format_record(result)
