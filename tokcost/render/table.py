"""Terminal report (rich), readable at 80 columns: the candidates table carries each failure in a word or two
('over cost', 'below quality tier', 'size' ...) and the full reasons follow the table (words from
:mod:`tokcost.render.advice`). Colour is the caller's decision (the CLI takes it
from the environment module of the CLI package); this module reads no environment."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from tokcost.records.results import AnalysisResult, SpecResult
from tokcost.render import advice
from tokcost.render.report import budget_phrase, demand_phrase, more_candidates, percentile_label, price_lines
from tokcost.text import escape_line, money, sig


def _bullets(console: Console, lines: list[str], mark: str = "-", style: str = "") -> None:
    """A list whose wrapped lines hang under the text, not under the bullet."""
    if not lines:
        return
    grid = Table.grid(padding=(0, 1), pad_edge=False)
    grid.add_column(justify="right", width=3, no_wrap=True)
    grid.add_column(ratio=1)
    for line in lines:
        grid.add_row(mark, escape_line(line), style=style)
    console.print(grid)


def _header(console: Console, spec: SpecResult) -> None:
    console.print(Text.assemble((escape_line(spec.name), "bold"), f"  ({escape_line(spec.file)})"), highlight=False)
    p = spec.product
    frames = spec.candidates[0].frames if p.get("kind") == "video" and spec.candidates else None
    size = f"{p['width']}x{p['height']}" + (f", {frames} frames" if frames else "")
    console.print(
        f"{p['kind']} {size}, tier {p.get('quality_tier')}; {demand_phrase(spec)}; {budget_phrase(spec)}",
        markup=False,
    )


def _recommendation(console: Console, spec: SpecResult) -> None:
    rec = spec.recommendation
    console.print()
    console.print(escape_line(advice.headline(spec)), style="bold green" if rec.choice else "bold red", markup=False)
    _bullets(console, advice.why(spec))
    changes = advice.what_would_change(spec)
    if changes:
        console.print("What would change the answer (each re-planned with the change)", style="bold")
        _bullets(console, changes)
    problems = [advice.gate_problem(v) for v in spec.violations]
    _bullets(console, [message + (f" (fix: {fix})" if fix else "") for message, fix in problems], "!", "red")


def _candidates(console: Console, spec: SpecResult, top: int) -> None:
    shown = spec.candidates[:top]
    table = Table(
        title=f"Candidates (best {len(shown)} of {len(spec.candidates)}; service time per batch and its low-high "
        f"band, and {percentile_label(spec)[:-2]} end to end at peak, in seconds)",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
        expand=False,
        title_justify="left",
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("model", "left"),
        ("hardware", "left"),
        ("engine", "left"),
        ("batch", "right"),
        ("service", "right"),
        ("band", "right"),
        (percentile_label(spec)[:-2], "right"),
        ("$/item", "right"),
        ("GPUs", "right"),
        ("ok", "left"),
    )
    for col, just in columns:
        table.add_column(col, justify=just, overflow="fold")
    for c in shown:
        ok = advice.status(c)
        table.add_row(
            escape_line(c.model),
            escape_line(c.replica),
            escape_line(c.engine),
            str(c.batch),
            sig(c.latency_s.central),
            f"{sig(c.latency_s.low, 2)}-{sig(c.latency_s.high, 2)}",
            "-" if c.latency_objective_s is None else sig(c.latency_objective_s),
            money(c.fleet_cost_usd_per_item),
            str(c.gpus or "-"),
            ok,
            style=None if c.feasible else "dim",
        )
    console.print(table)
    why = [
        f"{c.model} / {c.replica} / {c.engine}: {'; '.join(advice.reasons(c, spec))}" for c in shown if not c.feasible
    ]
    if why:
        console.print("Why not", style="bold")
        _bullets(console, why)
    notes = [*(f"warning: {w}" for w in spec.warnings), *sorted({n for c in shown for n in advice.notes(c)})]
    if notes:
        console.print("Notes", style="bold")
        _bullets(console, notes)
    prices = price_lines(spec, sources=False)  # each chip's price and provider (a column would not fit 80 wide)
    if prices:
        console.print("Prices", style="bold")
        _bullets(console, prices)
    if len(spec.candidates) > top:
        console.print(more_candidates(len(spec.candidates), top), markup=False)


def format_table(result: AnalysisResult, width: int = 100, color: bool = False, top: int = 12) -> str:
    """The analysis for a terminal, ``width`` columns wide, with ANSI colour when ``color``."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        color_system="standard" if color else None,
        emoji=False,
        markup=False,  # user text (a name like "FLUX.1 [dev]") is shown as written, never read as rich markup
    )
    for i, spec in enumerate(result.specs):
        if i:
            console.rule()
        _header(console, spec)
        _recommendation(console, spec)
        _candidates(console, spec, top)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"
