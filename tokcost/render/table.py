"""Terminal report (rich), readable at 80 columns; colour only when the console allows it (NO_COLOR honoured)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from tokcost.result import AnalysisResult, SpecResult


def _money(x: float | None) -> str:
    if x is None:
        return "-"
    return f"${x:.3g}" if x < 1 else f"${x:,.2f}"


def _spec_tables(console: Console, spec: SpecResult, top: int = 12) -> None:
    rec = spec.recommendation
    console.print(f"[bold]{spec.name}[/bold]  ({spec.file})")
    p = spec.product
    size = f"{p['width']}x{p['height']}" + (f", {spec.candidates[0].frames} frames" if p.get("kind") == "video" and spec.candidates else "")
    console.print(f"{p['kind']} {size}, tier {p.get('quality_tier')}; {spec.demand['requests_per_day']:,.0f} "
                  f"requests/day (peak x{spec.demand['peak_to_mean']:g}); budget {spec.budget['latency_s']:g} s"
                  + (f", ${spec.budget['cost_per_item_usd']:g}/item" if 'cost_per_item_usd' in spec.budget else ""))
    console.print()
    console.print(f"[bold green]{rec.headline}[/bold green]" if rec.choice else f"[bold red]{rec.headline}[/bold red]")
    for line in rec.reasons + rec.other_families:
        console.print(f"  - {line}")
    if rec.break_even:
        console.print("[bold]What would change the answer[/bold]")
        for line in rec.break_even:
            console.print(f"  - {line}")
    for v in spec.violations:
        console.print(f"[red]  ! {v.message}[/red]" + (f" (fix: {v.fix})" if v.fix else ""))
    table = Table(title=f"Candidates (best {min(top, len(spec.candidates))} of {len(spec.candidates)})",
                  show_lines=False, pad_edge=False, expand=False)
    for col, just in (("model", "left"), ("hardware", "left"), ("engine", "left"), ("batch", "right"),
                      ("latency s", "right"), ("$/item", "right"), ("GPUs", "right"), ("ok", "left")):
        table.add_column(col, justify=just, overflow="fold")
    for c in spec.candidates[:top]:
        table.add_row(c.model, c.hardware, c.engine, str(c.batch),
                      f"{c.latency_s.central:.3g} ({c.latency_s.low:.2g}-{c.latency_s.high:.2g})",
                      _money(c.fleet_cost_usd_per_item), str(c.gpus or "-"),
                      "yes" if c.feasible else ("no: " + c.reasons[0]))
    console.print(table)


def format_table(result: AnalysisResult, width: int = 100) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, no_color=True, highlight=False)
    for i, spec in enumerate(result.specs):
        if i:
            console.rule()
        _spec_tables(console, spec)
    return buf.getvalue()
