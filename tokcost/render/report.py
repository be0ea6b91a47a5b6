"""What the analysis reports (table, markdown, html) say alike: each chip's price and provider, and how many
candidates a report leaves out."""

from __future__ import annotations

from tokcost.records.results import CandidateResult, SpecResult
from tokcost.text import money


def price_cell(c: CandidateResult) -> str:
    """``$3.20 hyperstack``: the GPU-hour price a candidate is costed at and who sells it; ``-`` when not priced."""
    return "-" if c.price is None else f"{money(c.price.usd_per_gpu_hour)} {c.price.provider}"


def price_lines(spec: SpecResult, sources: bool = True) -> list[str]:
    """The basis in words, then each candidate chip's price with its provider, commitment, date and (``sources``)
    the page it was read from; then the notes on old prices."""
    if spec.pricing is None:  # a result saved before prices had a stated basis
        return []
    lines = [f"Price basis: {spec.pricing.basis}; prices as of {spec.pricing.as_of}."]
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
            + (f"; source: {q.source}" if sources else "")
        )
    return lines + spec.pricing.notes


def more_candidates(total: int, top: int) -> str:
    """The line under a table that shows ``top`` of ``total`` candidates: where the rest are."""
    return f"{total - top} more candidates: --top {total} shows every one, as do the JSON and HTML reports."
