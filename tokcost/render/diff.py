"""Formatters for ``tokcost diff``: past, current and delta for every spec and candidate.
Pure ``format_x(DiffResult) -> str``."""

from __future__ import annotations

from tokcost.records.gate import CandidateDiff, DiffResult, SpecDiff
from tokcost.render.check import change, changes_text, choice_text, past_now
from tokcost.text import dollars, money, sig_seconds

_HEAD = (
    "model",
    "hardware",
    "engine",
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


def _cells(c: CandidateDiff) -> list[str]:
    cost, lat = c.cost_per_item_usd, c.latency_s
    return [
        c.model,
        c.hardware,
        c.engine,
        money(cost.before),
        money(cost.after),
        change(cost),
        sig_seconds(lat.before),
        sig_seconds(lat.after),
        change(lat),
        _feasible(c),
        c.status,
    ]


def _choice(s: SpecDiff) -> str:
    if s.status == "removed":  # only the past choice exists; choice_text would show the (missing) current one
        return choice_text(None, s.choice_before, "removed")
    return choice_text(s.choice_before, s.choice_after, s.status)


def _headline(s: SpecDiff) -> list[str]:
    return [
        f"choice: {_choice(s)}",
        f"cost/item: {past_now(s.cost_per_item_usd, money)} ({change(s.cost_per_item_usd)})",
        f"latency: {past_now(s.latency_s, sig_seconds)} ({change(s.latency_s)})",
        f"monthly: {past_now(s.monthly_usd, dollars)} ({change(s.monthly_usd)})",
    ]


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def format_table(result: DiffResult) -> str:
    out: list[str] = []
    for s in result.specs:
        out.append(f"{s.name}  ({s.file})  [{s.status}]")
        out += [f"  {line}" for line in _headline(s)]
        out.append(f"  inputs changed: {changes_text(s.changes)}")
        rows = [list(_HEAD)] + [_cells(c) for c in s.candidates]
        out += [f"  {line}" for line in _aligned(rows)] + [""]
    return "\n".join(out) + "\n"


def format_markdown(result: DiffResult) -> str:
    out = ["### tokcost diff", ""]
    for s in result.specs:
        out.append(f"#### {s.name} ({s.status})\n")
        out += [f"- {line}" for line in _headline(s)]
        out.append(f"- inputs changed: {changes_text(s.changes)}\n")
        out.append("| " + " | ".join(_HEAD) + " |")
        out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|")
        out += ["| " + " | ".join(_cells(c)) + " |" for c in s.candidates]
        out.append("")
    return "\n".join(out) + "\n"


def format_json(result: DiffResult) -> str:
    return result.model_dump_json(indent=2) + "\n"
