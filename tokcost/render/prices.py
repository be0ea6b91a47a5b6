"""The words of pricing: the price basis, old prices, chips with no price (with the fix) and an owned chip's cost
formula, from the typed facts :mod:`tokcost.core.pricing` returns (:mod:`tokcost.records.prices`)."""

from __future__ import annotations

from tokcost.records.prices import COMMITMENT_WORDS, PriceBasis, PriceQuote, StalePrice, Unpriced


def basis_words(b: PriceBasis) -> str:
    """The price basis as the reports state it."""
    commitment = COMMITMENT_WORDS[b.commitment]
    if b.provider is not None:
        words = f"{commitment} prices at {b.provider} (pricing.provider)"
    else:
        words = (
            f"{commitment}, the lowest price among the hyperscalers and GPU clouds in tokcost's price catalogue that "
            "rent each GPU (marketplaces of third-party hosts left out)"
        )
    extras = []
    if b.owned is not None:
        extras.append(f"owned hardware ({', '.join(b.owned) if b.owned else 'every candidate'}) at its own cost")
    if b.spec_prices:
        extras.append(f"your prices for {', '.join(b.spec_prices)} (pricing.usd_per_gpu_hour)")
    if b.cli_prices:
        extras.append(f"your prices for {', '.join(b.cli_prices)} (--price)")
    return words + "".join(f"; {e}" for e in extras)


def stale_words(s: StalePrice) -> str:
    """An old catalogue price, and how to give a current one."""
    return (
        f"The {s.hardware} price ({s.provider}, ${s.usd_per_gpu_hour:.2f}/GPU-h) was read on {s.date}, "
        f"{s.months} months ago: prices move, so check its source or give yours with "
        f"--price {s.hardware}=USD_PER_GPU_HOUR."
    )


def unpriced_words(u: Unpriced) -> str:
    """A chip with no price under the basis, and the exact flag or spec field that prices it."""
    where = f"at {u.provider}" if u.provider is not None else "from a hyperscaler or GPU cloud"
    return (
        f"{u.hardware} is not priced: the price catalogue has no {COMMITMENT_WORDS[u.commitment]} price for it "
        f"{where}; give one with --price {u.hardware}=USD_PER_GPU_HOUR or a pricing.usd_per_gpu_hour entry "
        f"({{{u.hardware}: ...}}) in the spec"
    )


def quote_source(q: PriceQuote) -> str:
    """Where a price comes from: its page, flag or spec field; an owned chip's formula with its figures."""
    o = q.owned
    if o is None:
        return q.source
    return (
        f"owned: ${o.capex_usd_per_gpu:,.0f} / ({o.amortization_years:g} y x 8,760 h) + "
        f"{o.tdp_w:g} W TDP x PUE {o.pue:g} x ${o.power_usd_per_kwh:g}/kWh + "
        f"${o.hosting_usd_per_gpu_hour:g}/GPU-h hosting = ${q.usd_per_gpu_hour:.3f}/GPU-h ({q.source})"
    )


def price_notes(basis: PriceBasis | None, quotes: dict[str, PriceQuote], unpriced: list[Unpriced]) -> list[str]:
    """The basis, each chip's price with its provider and date, and each unpriced chip's fix (a sweep's notes)."""
    if basis is None:
        return []
    out = [f"prices: {basis_words(basis)}"]
    for hw, q in quotes.items():
        when = f", {q.commitment}, read {q.date}" if q.date else ""
        out.append(f"{hw} at ${q.usd_per_gpu_hour:.2f}/GPU-h from {q.provider}{when}")
    return out + [unpriced_words(u) for u in unpriced]
