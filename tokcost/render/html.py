"""HTML reports: one self-contained page (inline CSS and inline SVG charts; no scripts, fonts or anything else
fetched from the network, and a Content-Security-Policy that forbids it). Every piece of text is escaped.

The chart numbers come from the result itself (:class:`~tokcost.records.results.ChartData`, computed by
:mod:`tokcost.core.charts` when the analysis or sweep ran): this module prices nothing and needs no presets or
calibration, so a saved result re-renders the same. It only draws them with matplotlib, which is imported when the
first chart is drawn (a dependency of tokcost, kept off every other path so that start-up stays fast).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape

from tokcost.errors import UsageError
from tokcost.records.results import AnalysisResult, CandidateResult, ChartData, SpecResult
from tokcost.render import advice
from tokcost.render.report import budget_phrase, demand_phrase, percentile_label, price_cell, price_lines
from tokcost.text import money, sig

CHARTS_HINT = (
    "the HTML report draws its charts with matplotlib, a dependency of tokcost that is missing from this "
    "environment: pip install matplotlib"
)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2330;
margin:0 auto;max-width:1180px;padding:24px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 6px;border-bottom:2px solid #e3e6ec}
h3{font-size:16px;margin:20px 0 6px}.meta{color:#5b6374}.headline{font-size:17px;font-weight:600;
padding:12px 16px;border-radius:6px;background:#e9f7ef;border-left:5px solid #2e8b57}
.headline.none{background:#fdecec;border-left-color:#c0392b}.violation{color:#a12a1d}
.charts{display:grid;grid-template-columns:1fr;gap:16px}
figure{margin:0;border:1px solid #e3e6ec;border-radius:6px;padding:8px}figcaption{color:#5b6374;font-size:13px}
figure svg{width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{padding:4px 8px;border-bottom:1px solid #e3e6ec;text-align:left;vertical-align:top}
th{background:#f4f6f9}td.n{text-align:right;font-variant-numeric:tabular-nums}tr.no td{color:#7a8191}
.ok{color:#2e8b57;font-weight:600}footer{margin-top:32px;color:#7a8191;font-size:12px}
"""


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise UsageError(CHARTS_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return matplotlib, plt


# ------------------------------------------------------------------------------------------- drawing


FONT_PT = 11  # labels and ticks; a chart is drawn at most at its own width (one per row), so 11 pt reads as ~15 px
LEGEND_PT = 10


def _colours(n: int) -> list:
    """``n`` distinct colours: tab10, tab20 up to 20 series, else evenly spaced on a perceptual map (no colour
    repeats, whatever the number of series)."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


def _legend_outside(ax, **kw) -> None:
    """The legend right of the plot area, never over the lines (the SVG is cropped to fit it)."""
    ax.legend(fontsize=LEGEND_PT, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)


def _svg(fig, salt: str) -> str:
    """The figure as an inline ``<svg>`` element: deterministic ids (a per-chart hash salt), no date, text as
    text (system fonts; nothing to download)."""
    matplotlib, plt = _pyplot()
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], count=1, flags=re.S)


@dataclass(frozen=True)
class ChartWords:
    """A chart's words: its title, axis labels (units included), the marker's legend entry and the caption's
    remarks (what is held fixed first)."""

    title: str
    x_label: str
    y_label: str
    marker_label: str = "this spec"
    notes: tuple[str, ...] = ()


def _held_fixed(chart: ChartData) -> list[str]:
    """A sweep chart's settings held fixed, in words: ``at batch 1, steps sdxl 50, sd3 28``."""
    held = [f"{name} {value:g}" for name, value in chart.fixed.items()]
    if chart.fixed_steps:
        held.append("steps " + ", ".join(f"{m} {v:g}" for m, v in chart.fixed_steps.items()))
    return [f"at {', '.join(held)}"] if held else []


def chart_words(chart: ChartData) -> ChartWords:
    """The words of one chart, from its facts (the core stores no sentence)."""
    if chart.scope == "sweep":
        if chart.id == "latency":
            return ChartWords("Latency vs resolution", "long side (px)", "latency (s)", notes=(*_held_fixed(chart),))
        return ChartWords(
            "Cost per item vs resolution",
            "long side (px)",
            "$ per item (one GPU, full use)",
            notes=(*_held_fixed(chart),),
        )
    if chart.id == "latency":
        video = chart.x_unit == "frames"
        return ChartWords(
            "Latency per " + ("clip vs frames" if video else "item vs resolution"),
            "frames" if video else "long side (px)",
            "latency (s)",
            notes=("each candidate at its chosen batch", "queueing wait not included"),
        )
    if chart.id == "throughput":
        return ChartWords(
            "Throughput per GPU vs batch (memory limit marked)", "batch (items per replica)", "items / s / GPU"
        )
    if chart.id == "cost":
        return ChartWords("Cost per item by candidate and hardware", "", "$ per item (fleet at your demand)")
    if chart.id == "load":
        n = int(chart.fixed["replicas"])
        replicas = f"{n} replica{'s' if n != 1 else ''}"
        return ChartWords(
            f"Latency under load: {chart.subject} on {replicas}",
            "requests per second",
            "end-to-end latency (s)",
            marker_label=f"peak {chart.marker:.3g} requests/s",
            notes=(
                f"batch {chart.fixed['batch']:g}, timeout {chart.fixed['timeout_s']:.3g} s and {n} replicas held fixed",
                f"the budget is met at p{chart.percentile:g}; the dotted line is the peak demand",
            ),
        )
    shape = "default daily shape with the spec's peak_to_mean" if chart.demand_shape == "default" else "demand.hourly"
    return ChartWords(
        "Demand over the day and the fleet that serves it",
        "hour of the day",
        "requests per second",
        notes=(shape, f"replicas on the right axis; demand.scaling: {chart.scaling}"),
    )


def _figure(chart, size=(7.5, 4.2), x_label=None, y_label=None):
    _, plt = _pyplot()
    fig, ax = plt.subplots(figsize=size)
    words = chart_words(chart)
    ax.set_xlabel(words.x_label if x_label is None else x_label, fontsize=FONT_PT)
    ax.set_ylabel(words.y_label if y_label is None else y_label, fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT)
    ax.grid(True, which="major", alpha=0.3)
    if chart.log_y:
        ax.set_yscale("log")
    return fig, ax


def _plain_ticks(axis, fmt) -> None:
    """Ticks as plain numbers (``$0.0003``, not 3x10^-4) on a log axis, only at 1, 2 and 5 times powers of ten so
    that they do not collide."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v)))
    axis.set_minor_formatter(NullFormatter())


def _plain_linear(axis, fmt) -> None:
    """Ticks of a linear axis as plain numbers (no offset or scientific notation)."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v) if v else "0"))


def _arr(values):
    """A record's list of numbers as the float array matplotlib takes (None, a point not served: NaN, a gap)."""
    import numpy as np

    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _draw_lines(chart, salt: str) -> str:
    return _svg(line_figure(chart), salt)


def line_figure(chart):
    """Lines with their bands, the budget and the marker; the matplotlib figure (tests read it)."""
    fig, ax = _figure(chart)
    for s, colour in zip(chart.series, _colours(len(chart.series)), strict=True):
        x = _arr(s.x)
        if s.low is not None and any(v is not None for v in s.low):
            ax.fill_between(x, _arr(s.low), _arr(s.high), color=colour, alpha=0.15, linewidth=0)
        ax.plot(x, _arr(s.y), color=colour, marker="o", markersize=3, label=s.label)
    if chart.budget is not None:
        ax.axhline(chart.budget, color="#c0392b", linestyle="--", linewidth=1.5, label=f"budget {chart.budget:g}")
    if chart.marker is not None:
        ax.axvline(chart.marker, color="#5b6374", linestyle=":", linewidth=1, label=chart_words(chart).marker_label)
    if any(s.low is not None for s in chart.series):
        ax.plot([], [], color="#999999", alpha=0.4, linewidth=8, label="low-high band")
    fmt = money if chart.y_unit.startswith("USD") else sig
    if chart.log_y:
        _plain_ticks(ax.yaxis, fmt)
    else:
        _plain_linear(ax.yaxis, fmt)
    _plain_linear(ax.xaxis, sig)
    _legend_outside(ax)
    return fig


def _draw_throughput(chart, salt: str) -> str:
    return _svg(throughput_figure(chart), salt)


def throughput_figure(chart):
    """Items per second per GPU against batch, the batches that fit drawn solid; the matplotlib figure."""
    fig, ax = _figure(chart)
    ax.set_xscale("log", base=2)
    for s, colour in zip(chart.series, _colours(len(chart.series)), strict=True):
        x, y = _arr(s.x), _arr(s.y)
        fits = s.fits if s.fits is not None else [True] * len(x)  # a list of booleans: a mask
        ax.plot(x, y, color=colour, alpha=0.35, linestyle="--")
        ax.plot(x[fits], y[fits], color=colour, marker="o", markersize=3, label=s.label)
        if s.limit is not None:
            ax.axvline(s.limit, color=colour, linestyle=":", linewidth=1.2)
    ax.plot([], [], color="#5b6374", linestyle=":", label="memory limit (largest batch that fits)")
    ax.plot([], [], color="#5b6374", alpha=0.35, linestyle="--", label="does not fit in memory")
    from matplotlib.ticker import FixedLocator, NullFormatter

    ax.xaxis.set_major_locator(FixedLocator([b for b in (1, 4, 16, 64, 256, 1024)]))
    ax.xaxis.set_minor_formatter(NullFormatter())
    _plain_linear(ax.xaxis, lambda v: f"{v:g}")  # 1, 4, 16 ... not 2^0, 2^2
    if chart.log_y:
        _plain_ticks(ax.yaxis, sig)
    _legend_outside(ax)
    return fig


def _draw_bars(chart, salt: str) -> str:
    return _svg(bar_figure(chart), salt)


def bar_figure(chart):
    """Horizontal bars: the value axis (``y_label``; linear unless the chart says log) runs across from zero, one
    row per series from the top, coloured by hardware, with one legend patch per hardware in its bars' colour,
    outside the plot. The matplotlib figure (tests read it)."""
    height = max(2.5, 0.38 * len(chart.series) + 1.2)
    words = chart_words(chart)
    fig, ax = _figure(chart, size=(7.5, height), x_label=words.y_label, y_label=words.x_label)
    ax.set_xscale("log" if chart.log_y else "linear")
    ax.set_yscale("linear")  # the rows (``_figure`` made y the value axis, as in a line chart)
    hws = list(dict.fromkeys(s.group for s in chart.series))
    colours = _colours(len(hws))
    y = list(range(len(chart.series)))[::-1]
    for yi, s in zip(y, chart.series):
        ax.barh(yi, s.y[0], color=colours[hws.index(s.group)], alpha=0.45 if "infeasible" in s.label else 0.9)
    ax.set_yticks(y, [s.label for s in chart.series], fontsize=FONT_PT - 1)
    from matplotlib.patches import Patch

    handles = [Patch(color=colours[j], label=hw) for j, hw in enumerate(hws)]
    if chart.budget is not None:
        handles.append(
            ax.axvline(
                chart.budget, color="#c0392b", linestyle="--", linewidth=1.5, label=f"budget {money(chart.budget)}"
            )
        )
    _legend_outside(ax, handles=handles)
    if chart.log_y:
        _plain_ticks(ax.xaxis, money)
    else:
        ax.set_xlim(left=0)
        _plain_linear(ax.xaxis, money)
    return fig


def _draw_day(chart, salt: str) -> str:
    """Demand per hour as bars (left axis), the fleets as steps (right axis)."""
    fig, ax = _figure(chart)
    right = ax.twinx()
    right.set_ylabel("replicas")
    lines = []
    for i, s in enumerate(chart.series):
        x, y = _arr(s.x), _arr(s.y)
        if s.group == "demand":
            lines.append(ax.bar(x, y, width=0.8, color="#9db4d6", label=s.label))
        else:
            (line,) = right.step(x, y, where="mid", color=f"C{i % 10}", linewidth=2, label=s.label)
            lines.append(line)
    top = max((v for s in chart.series if s.group != "demand" for v in s.y if v is not None), default=1.0)
    right.set_ylim(0, top * 1.35)  # room above the fleet for the legend
    ax.set_ylim(
        0, max((v for s in chart.series if s.group == "demand" for v in s.y if v is not None), default=1) * 1.35
    )
    ax.set_xticks(range(0, 24, 3))
    right.tick_params(labelsize=FONT_PT)
    right.set_ylabel("replicas", fontsize=FONT_PT)
    ax.legend(handles=lines, fontsize=LEGEND_PT, loc="upper left", bbox_to_anchor=(1.12, 1.0), borderaxespad=0.0)
    return _svg(fig, salt)


def _figure_html(svg: str, chart) -> str:
    shown = (
        [f"the best {len(chart.series)} of {chart.total_series}, the rest in the table"]
        if chart.total_series and chart.total_series > len(chart.series)
        else []
    )
    words = chart_words(chart)
    notes = "; ".join([*words.notes, *shown])
    caption = escape(words.title) + (f" ({escape(notes)})" if notes else "")
    return f'<figure role="img" aria-label="{escape(words.title)}">{svg}<figcaption>{caption}</figcaption></figure>'


# ------------------------------------------------------------------------------------------- analysis page


def _candidate_row(c: CandidateResult, spec: SpecResult) -> str:
    cells = [escape(c.model), escape(c.replica), escape(c.engine)]
    nums = [
        str(c.batch),
        sig(c.latency_s.central),
        f"{sig(c.latency_s.low)}-{sig(c.latency_s.high)}",
        "-" if c.latency_objective_s is None else sig(c.latency_objective_s),
        "-" if c.utilization_at_peak is None else f"{c.utilization_at_peak:.0%}",
        sig(c.throughput_per_gpu),
        money(c.fleet_cost_usd_per_item),
        str(c.gpus or "-"),
        price_cell(c),
        f"{c.memory_gb.get('total', 0):.0f}",
    ]
    ok = '<span class="ok">yes</span>' if c.feasible else "no: " + escape("; ".join(advice.reasons(c, spec)))
    if advice.notes(c):
        ok += " <small>(" + escape("; ".join(advice.notes(c))) + ")</small>"
    tds = "".join(f"<td>{x}</td>" for x in cells) + "".join(f'<td class="n">{escape(x)}</td>' for x in nums)
    return f'<tr class="{"yes" if c.feasible else "no"}">{tds}<td>{ok}</td></tr>'


def _list(items: list[str], cls: str = "") -> str:
    if not items:
        return ""
    attr = f' class="{cls}"' if cls else ""
    return f"<ul{attr}>" + "".join(f"<li>{escape(x)}</li>" for x in items) + "</ul>"


def _chart_html(chart, salt: str) -> str:
    """One chart of the result, drawn as its ``kind`` says, in its figure with the caption."""
    draw = {"line": _draw_lines, "fit_line": _draw_throughput, "bar": _draw_bars, "day": _draw_day}[chart.kind]
    return _figure_html(draw(chart, salt), chart)


NO_CHART_DATA = (
    "This result holds no chart data (it was saved by an older tokcost); run the analysis again to draw its charts."
)


def _spec_section(spec: SpecResult, index: int) -> str:
    rec, p = spec.recommendation, spec.product
    size = f"{p['width']}x{p['height']}" + (
        f", {spec.candidates[0].frames} frames" if p.get("kind") == "video" and spec.candidates else ""
    )
    out = [
        f"<section><h2>{escape(spec.name)}</h2>",
        f'<p class="meta"><code>{escape(spec.file)}</code>: {escape(str(p["kind"]))} {escape(size)}, tier '
        f"{escape(str(p.get('quality_tier')))}; {escape(demand_phrase(spec))}; {escape(budget_phrase(spec))}</p>",
        f'<p class="headline{"" if rec.choice else " none"}">{escape(advice.headline(spec))}</p>',
        "<h3>Why</h3>",
        _list(advice.why(spec)),
    ]
    changes = advice.what_would_change(spec)
    if changes:
        out += ["<h3>What would change the answer (each re-planned with the change)</h3>", _list(changes)]
    if spec.violations:
        problems = [advice.gate_problem(v) for v in spec.violations]
        out += [
            "<h3>Budget violations</h3>",
            _list([message + (f" (fix: {fix})" if fix else "") for message, fix in problems], "violation"),
        ]
    if spec.charts:
        out += [
            '<h3>Charts</h3><div class="charts">',
            *(_chart_html(ch, f"tokcost-{index}-{ch.id}") for ch in spec.charts),
            "</div>",
        ]
    elif spec.charts is None and spec.candidates:
        out += [f'<h3>Charts</h3><p class="meta">{escape(NO_CHART_DATA)}</p>']
    heads = [
        "model",
        "hardware",
        "engine",
        "batch",
        "service s",
        "band s",
        percentile_label(spec),
        "util",
        "items/s/GPU",
        "$/item",
        "GPUs",
        "$/GPU-h",
        "GB",
        "feasible",
    ]
    out += [
        f"<h3>Candidates ({len(spec.candidates)})</h3><table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in heads)
        + "</tr></thead><tbody>",
        *(_candidate_row(c, spec) for c in spec.candidates),
        "</tbody></table>",
    ]
    if spec.warnings:
        out += ["<h3>Warnings</h3>", _list(spec.warnings, "violation")]
    prices = price_lines(spec)
    if prices:
        out += ["<h3>Prices</h3>", _list(prices)]
    out.append("</section>")
    return "\n".join(out)


def _page(title: str, body: str, version: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n"
        f"<footer>Generated by tokcost {escape(version)}. Estimates carry a low-high band; see the JSON "
        f"report for every number.</footer></body></html>\n"
    )


def format_html(result: AnalysisResult) -> str:
    """The analysis as one self-contained HTML page, its charts drawn from the chart data the result holds (a
    result saved without any renders without charts, and says so)."""
    if any(s.charts for s in result.specs):
        _pyplot()  # fail before any work when matplotlib is missing
    names = ", ".join(s.name for s in result.specs)
    body = f"<h1>tokcost analysis: {escape(names)}</h1>" + (
        f'<p class="meta">calibration: <code>{escape(result.calibration)}</code></p>' if result.calibration else ""
    )
    body += "\n".join(_spec_section(s, i) for i, s in enumerate(result.specs))
    return _page(f"tokcost: {names}", body, result.tool_version)


# ------------------------------------------------------------------------------------------- sweep page

SWEEP_TABLE_ROWS = 200


def format_sweep_html(result) -> str:
    """A sweep as one page: latency and cost vs resolution per model / hardware / engine (the lines the core chose,
    ``result.charts``: :func:`tokcost.core.sweep.with_charts`), and the first rows."""
    from tokcost.render.sweep import TABLE_COLUMNS, string_columns, sweep_notes
    from tokcost.version import __version__

    if result.charts:
        _pyplot()
    figs = [_chart_html(ch, f"tokcost-sweep-{i}") for i, ch in enumerate(result.charts or [])]
    if result.charts is None:
        figs = ['<p class="meta">This sweep result holds no chart data.</p>']
    cols = string_columns(result.columns, sig)
    n = min(result.rows, SWEEP_TABLE_ROWS)
    head = "".join(f"<th>{escape(h)}</th>" for _, h in TABLE_COLUMNS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cols[k][i])}</td>" for k, _ in TABLE_COLUMNS) + "</tr>" for i in range(n)
    )
    more = (
        f'<p class="meta">First {n:,} of {result.rows:,} rows; use --format csv or json for all.</p>'
        if result.rows > n
        else ""
    )
    body = (
        f"<h1>tokcost sweep: {result.rows:,} configurations</h1>"
        + _list(sweep_notes(result))
        + f'<div class="charts">{"".join(figs)}</div><h3>Rows</h3>{more}'
        + f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )
    return _page("tokcost sweep", body, __version__)
