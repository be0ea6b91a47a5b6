"""The price of a GPU-hour on every candidate chip, under one basis for all of them.

Pure: takes the hardware presets, the price catalogue (``prices/prices.yaml``), the spec's ``pricing:`` section and
the command line's ``--price`` overrides; returns a :class:`PriceBook`. What wins, per hardware id:

1. ``--price ID=USD`` (the command line),
2. ``pricing.usd_per_gpu_hour`` (the spec: a contract price),
3. ``pricing.owned`` (hardware the team owns: capex / (years x 8,760 h) + TDP x PUE x power price + hosting),
4. the catalogue under the basis: ``pricing.commitment`` (default on-demand) at ``pricing.provider`` when given,
   else the lowest price among the providers that rent the GPU from datacentres (hyperscalers and GPU clouds;
   marketplaces of third-party hosts are left out, so a chip is never ranked on a marketplace price against
   another chip's datacentre price).

A chip with no price under the basis is "not priced", with the exact flag or spec field that prices it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tokcost.records.presets import HardwarePreset
from tokcost.records.prices import COMMITMENT_WORDS, STALE_AFTER_DAYS, PriceCatalog, PriceQuote
from tokcost.records.spec import Owned, Pricing

HOURS_PER_YEAR = 8760.0
DATACENTRE_KINDS = ("hyperscaler", "gpu_cloud")


@dataclass(frozen=True)
class PriceBook:
    """Each hardware id's quote, or why it has none; the basis in words; notes on what the reader should know."""

    basis: str
    quotes: dict[str, PriceQuote] = field(default_factory=dict)
    unpriced: dict[str, str] = field(default_factory=dict)  # hardware id -> why, and the fix

    def quote(self, hardware_id: str) -> PriceQuote | None:
        return self.quotes.get(hardware_id)

    def usd_per_gpu_hour(self) -> dict[str, float]:
        """Hardware id -> USD per GPU-hour, for the estimator (an absent id is not priced)."""
        return {k: q.usd_per_gpu_hour for k, q in self.quotes.items()}

    def lines(self) -> list[str]:
        """The basis, each chip's price with its provider and date, and each unpriced chip's fix, in words."""
        out = [f"prices: {self.basis}"]
        for hw, q in self.quotes.items():
            when = f", {q.commitment}, read {q.date}" if q.date else ""
            out.append(f"{hw} at ${q.usd_per_gpu_hour:.2f}/GPU-h from {q.provider}{when}")
        return out + list(self.unpriced.values())

    def notes(self, hardware_ids: Iterable[str], today: dt.date) -> list[str]:
        """A note for each catalogue price among ``hardware_ids`` read more than 6 months before ``today``."""
        out = []
        for hw in dict.fromkeys(hardware_ids):
            q = self.quotes.get(hw)
            if q is None or q.date is None:
                continue
            age = (today - dt.date.fromisoformat(q.date)).days
            if age > STALE_AFTER_DAYS:
                out.append(
                    f"The {hw} price ({q.provider}, ${q.usd_per_gpu_hour:.2f}/GPU-h) was read on {q.date}, "
                    f"{age // 30} months ago: prices move, so check its source or give yours with "
                    f"--price {hw}=USD_PER_GPU_HOUR."
                )
        return out


def owned_usd_per_gpu_hour(owned: Owned, tdp_w: float) -> float:
    """Capex spread straight-line over the amortisation period, plus board power at the facility's PUE, plus
    hosting: USD per GPU-hour of an owned GPU running all the time."""
    capex = owned.capex_usd_per_gpu / (owned.amortization_years * HOURS_PER_YEAR)
    power = tdp_w / 1000.0 * owned.pue * owned.power_usd_per_kwh
    return capex + power + owned.hosting_usd_per_gpu_hour


def _owned_quote(owned: Owned, hw: HardwarePreset) -> PriceQuote:
    usd = owned_usd_per_gpu_hour(owned, hw.tdp_w)
    return PriceQuote(
        usd_per_gpu_hour=usd,
        provider="owned",
        commitment=None,
        date=None,
        source=(
            f"owned: ${owned.capex_usd_per_gpu:,.0f} / ({owned.amortization_years:g} y x 8,760 h) + "
            f"{hw.tdp_w:g} W TDP x PUE {owned.pue:g} x ${owned.power_usd_per_kwh:g}/kWh + "
            f"${owned.hosting_usd_per_gpu_hour:g}/GPU-h hosting = ${usd:.3f}/GPU-h (pricing.owned)"
        ),
    )


def basis_words(pricing: Pricing) -> str:
    """The price basis as the report states it."""
    commitment = COMMITMENT_WORDS[pricing.commitment]
    if pricing.provider is not None:
        return f"{commitment} prices at {pricing.provider} (pricing.provider)"
    return (
        f"{commitment}, the lowest price among the hyperscalers and GPU clouds in tokcost's price catalogue that "
        "rent each GPU (marketplaces of third-party hosts left out)"
    )


def price_book(
    hardware: Iterable[HardwarePreset],
    catalogue: PriceCatalog,
    pricing: Pricing | None = None,
    overrides: Mapping[str, float] | None = None,
) -> PriceBook:
    """Quote every chip of ``hardware`` under one basis; ``overrides`` are the command line's ``--price``."""
    pricing = pricing or Pricing()
    overrides = overrides or {}
    extras = []
    if pricing.owned is not None:
        owned_ids = pricing.owned.hardware
        extras.append(f"owned hardware ({', '.join(owned_ids) if owned_ids else 'every candidate'}) at its own cost")
    if pricing.usd_per_gpu_hour:
        extras.append(f"your prices for {', '.join(pricing.usd_per_gpu_hour)} (pricing.usd_per_gpu_hour)")
    if overrides:
        extras.append(f"your prices for {', '.join(overrides)} (--price)")
    basis = basis_words(pricing) + "".join(f"; {e}" for e in extras)
    book = PriceBook(basis=basis)
    for hw in hardware:
        quote = _quote(hw, catalogue, pricing, overrides)
        if isinstance(quote, PriceQuote):
            book.quotes[hw.id] = quote
        else:
            book.unpriced[hw.id] = quote
    return book


def _quote(hw: HardwarePreset, catalogue: PriceCatalog, pricing: Pricing, overrides: Mapping[str, float]):
    """The quote for one chip, or the sentence saying why it has none and how to give one."""
    if hw.id in overrides:
        return PriceQuote(
            usd_per_gpu_hour=overrides[hw.id],
            provider="user",
            commitment=None,
            date=None,
            source=f"--price {hw.id}={overrides[hw.id]:g}",
        )
    if hw.id in pricing.usd_per_gpu_hour:
        usd = pricing.usd_per_gpu_hour[hw.id]
        return PriceQuote(
            usd_per_gpu_hour=usd,
            provider="user",
            commitment=None,
            date=None,
            source=f"pricing.usd_per_gpu_hour: {{{hw.id}: {usd:g}}}",
        )
    owned = pricing.owned
    if owned is not None and (owned.hardware is None or hw.id in owned.hardware):
        return _owned_quote(owned, hw)
    entries = [e for e in catalogue.for_hardware(hw.id) if e.commitment == pricing.commitment]
    if pricing.provider is not None:
        entries = [e for e in entries if e.provider == pricing.provider]
        where = f"at {pricing.provider}"
    else:
        entries = [e for e in entries if catalogue.providers[e.provider].kind in DATACENTRE_KINDS]
        where = "from a hyperscaler or GPU cloud"
    if not entries:
        return (
            f"{hw.id} is not priced: the price catalogue has no {COMMITMENT_WORDS[pricing.commitment]} price for it "
            f"{where}; give one with --price {hw.id}=USD_PER_GPU_HOUR or a pricing.usd_per_gpu_hour entry "
            f"({{{hw.id}: ...}}) in the spec"
        )
    best = min(entries, key=lambda e: (e.usd_per_gpu_hour, e.provider))
    return PriceQuote(
        usd_per_gpu_hour=best.usd_per_gpu_hour,
        provider=best.provider,
        commitment=best.commitment,
        date=best.date,
        source=best.source,
    )
