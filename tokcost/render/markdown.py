"""Markdown report: the recommendation in sentences and the candidates table."""

from __future__ import annotations

import re

from tokcost.records.results import AnalysisResult, CandidateResult, SpecResult
from tokcost.render import advice
from tokcost.render.report import (
    budget_phrase,
    demand_phrase,
    more_candidates,
    percentile_label,
    price_cell,
    price_lines,
)
from tokcost.text import escape_line, markdown_code, markdown_text, money, sig


def _row(c: CandidateResult, spec: SpecResult) -> str:
    status = "yes" if c.feasible else "no: " + "; ".join(advice.reasons(c, spec))
    if advice.notes(c):
        status += " (" + "; ".join(advice.notes(c)) + ")"
    return (
        f"| {_line(c.model)} | {_line(c.replica)} | {_line(c.engine)} | {c.batch} | {sig(c.latency_s.central)} "
        f"({sig(c.latency_s.low)}-{sig(c.latency_s.high)}) | {_opt(c.latency_objective_s)} | "
        f"{_util(c.utilization_at_peak)} | {sig(c.throughput_per_gpu)} | "
        f"{money(c.fleet_cost_usd_per_item)} | {c.gpus or '-'} | {price_cell(c)} | {c.memory_gb['total']:.0f} | "
        f"{_line(status)} |"
    )


_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")  # where CommonMark starts raw HTML


def _line(text: str) -> str:
    """A sentence of the report (it may quote user text): one line, no workflow command, no cell break, and no
    HTML (a '<' that could open a tag or comment is written &lt;; 'p95 <= 10 s' stays as it is)."""
    return _HTML_START.sub("&lt;", escape_line(text).replace("|", "\\|"))


def _opt(x: float | None) -> str:
    return "-" if x is None else sig(x)


def _util(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def format_markdown(result: AnalysisResult, top: int = 12) -> str:
    out: list[str] = []
    for spec in result.specs:
        p = spec.product
        out.append(f"## {markdown_text(spec.name)}\n")
        out.append(
            f"`{markdown_code(spec.file)}`: {p['kind']} {p['width']}x{p['height']}, tier {p.get('quality_tier')}, "
            f"{demand_phrase(spec)}, {budget_phrase(spec)}.\n"
        )
        out.append(f"**{_line(advice.headline(spec))}**\n")
        out += [f"- {_line(line)}" for line in advice.why(spec)]
        changes = advice.what_would_change(spec)
        if changes:
            out.append("\n**What would change the answer** (each re-planned with the change)\n")
            out += [f"- {_line(line)}" for line in changes]
        if spec.violations:
            out.append("\n**Budget violations**\n")
            problems = [advice.gate_problem(v) for v in spec.violations]
            out += [f"- {_line(message)}" + (f" (fix: {_line(fix)})" if fix else "") for message, fix in problems]
        out.append(
            f"\n| model | hardware | engine | batch | service s (band) | {percentile_label(spec)} | util | items/s/GPU "
            "| $/item | GPUs | $/GPU-h | GB | feasible |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"
        )
        out += [_row(c, spec) for c in spec.candidates[:top]]
        if len(spec.candidates) > top:
            out.append("\n" + more_candidates(len(spec.candidates), top))
        if spec.warnings:
            out.append("\n**Warnings**\n")
            out += [f"- {_line(line)}" for line in spec.warnings]
        prices = price_lines(spec)
        if prices:
            out.append("\n**Prices**\n")
            out += [f"- {_line(line)}" for line in prices]
        out.append("")
    return "\n".join(out) + "\n"
