"""What the analysis reports (table, markdown, html) say alike: the demand and budget in words, each chip's price
and provider, and how many candidates a report leaves out."""

from __future__ import annotations

from tokcost.records.results import CandidateResult, SpecResult
from tokcost.render.advice import defaults_phrase, price_dates
from tokcost.render.prices import basis_words, quote_source, stale_words
from tokcost.text import counted, money


def price_cell(c: CandidateResult) -> str:
    """``$3.20 hyperstack``: the GPU-hour price a candidate is costed at and who sells it; ``-`` when not priced."""
    return "-" if c.price is None else f"{money(c.price.usd_per_gpu_hour)} {c.price.provider}"


def price_lines(spec: SpecResult, sources: bool = True) -> list[str]:
    """The basis in words, then each candidate chip's price with its provider, commitment, date and (``sources``)
    the page it was read from; then the notes on old prices."""
    if spec.pricing is None:  # a result saved before prices had a stated basis
        return []
    lines = [f"Price basis: {basis_words(spec.pricing.basis)}; {price_dates(spec)}."]
    seen: dict[str, CandidateResult] = {}
    for c in spec.candidates:
        seen.setdefault(c.hardware, c)
    for hw, c in seen.items():
        q = c.price
        if q is None:
            continue
        terms = ", ".join(x for x in (q.commitment, f"read {q.date}" if q.date else None) if x)
        lines.append(
            f"{hw}: {money(q.usd_per_gpu_hour)}/GPU-h from {q.provider}"
            + (f" ({terms})" if terms else "")
            + (f"; source: {quote_source(q)}" if sources else "")
        )
    return lines + [stale_words(s) for s in spec.pricing.stale]


def more_candidates(total: int, top: int) -> str:
    """The line under a table that shows ``top`` of ``total`` candidates: where the rest are."""
    return f"{total - top} more candidates: --top {total} shows every one, as do the JSON and HTML reports."


def demand_phrase(spec: SpecResult) -> str:
    """``200,000 requests/day (peak x3, fixed fleet)``; with an hourly profile its own peak."""
    d = spec.demand
    hourly = d.get("hourly")
    peak = max(hourly) / (sum(hourly) / len(hourly)) if hourly else d.get("peak_to_mean", 1.0)
    shape = "hourly profile, " if hourly else ""
    arrivals = f", bursty arrivals (burstiness {d['burstiness']:.3g})" if d.get("arrivals") == "bursty" else ""
    defaults = defaults_phrase(spec)
    out = (
        f"{d['requests_per_day']:,.0f} requests/day ({shape}peak x{peak:.3g}{arrivals}, "
        f"{d.get('scaling', 'fixed')} fleet" + (f"; {defaults}" if defaults else "") + ")"
    )
    t = spec.traffic
    if t is not None:
        burst = (
            f"burstiness {t.burstiness:.3g}" if t.burstiness is not None else "too few gaps for a burstiness: Poisson"
        )
        out += (
            f"; derived from {t.file} ({counted(t.requests, 'request')} over {counted(t.hours_observed, 'hour')}): the "
            "requests per day, "
            f"the hourly curve (peak {t.peak_per_s:.3g} requests/s) and the {burst}"
        )
        if t.unobserved_hours:
            out += f"; hours {', '.join(str(h) for h in t.unobserved_hours)} never observed, given the mean"
    return out


def budget_phrase(spec: SpecResult) -> str:
    """``latency budget 10 s at p95, $0.01 per item``."""
    b = spec.budget
    out = f"latency budget {b['latency_s']:g} s at p{b.get('latency_percentile', 95):g}"
    if "cost_per_item_usd" in b:
        out += f", {money(b['cost_per_item_usd'])} per item"
    if "monthly_usd" in b:
        out += f", ${b['monthly_usd']:,.0f} a month"
    return out


def percentile_label(spec: SpecResult) -> str:
    """The objective's column head: ``p95 s``."""
    return f"p{spec.budget.get('latency_percentile', 95):g} s"
