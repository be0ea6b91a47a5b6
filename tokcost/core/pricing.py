"""The price of a GPU-hour on every candidate chip, under one basis for all of them.

Pure: takes the hardware presets, the price catalogue (``tokcost/data/prices/prices.yaml``), the spec's ``pricing:`` section and
the command line's ``--price`` overrides; returns a :class:`PriceBook`. What wins, per hardware id:

1. ``--price ID=USD`` (the command line),
2. ``pricing.usd_per_gpu_hour`` (the spec: a contract price),
3. ``pricing.owned`` (hardware the team owns: capex / (years x 8,760 h) + TDP x PUE x power price + hosting),
4. the catalogue under the basis: ``pricing.commitment`` (default on-demand) at ``pricing.provider`` when given,
   else the lowest price among the providers that rent the GPU from datacentres (hyperscalers and GPU clouds;
   marketplaces of third-party hosts are left out, so a chip is never ranked on a marketplace price against
   another chip's datacentre price).

A chip with no price under the basis is "not priced" (:class:`~tokcost.records.prices.Unpriced`); the words, with
the exact flag or spec field that prices it, are :mod:`tokcost.render.prices`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tokcost.records.presets import HardwarePreset
from tokcost.records.prices import (
    STALE_AFTER_DAYS,
    OwnedCost,
    PriceBasis,
    PriceCatalog,
    PriceQuote,
    StalePrice,
    Unpriced,
)
from tokcost.records.spec import Owned, Pricing

HOURS_PER_YEAR = 8760.0
DATACENTRE_KINDS = ("hyperscaler", "gpu_cloud")


@dataclass(frozen=True)
class PriceBook:
    """Each hardware id's quote, or why it has none, under one basis (typed facts; :mod:`tokcost.render.prices`
    words them)."""

    basis: PriceBasis
    quotes: dict[str, PriceQuote] = field(default_factory=dict)
    unpriced: dict[str, Unpriced] = field(default_factory=dict)  # hardware id -> what it lacks

    def quote(self, hardware_id: str) -> PriceQuote | None:
        return self.quotes.get(hardware_id)

    def usd_per_gpu_hour(self) -> dict[str, float]:
        """Hardware id -> USD per GPU-hour, for the estimator (an absent id is not priced)."""
        return {k: q.usd_per_gpu_hour for k, q in self.quotes.items()}

    def stale(self, hardware_ids: Iterable[str], today: dt.date) -> list[StalePrice]:
        """Each catalogue price among ``hardware_ids`` read more than 6 months before ``today``."""
        out = []
        for hw in dict.fromkeys(hardware_ids):
            q = self.quotes.get(hw)
            if q is None or q.date is None:
                continue
            age = (today - dt.date.fromisoformat(q.date)).days
            if age > STALE_AFTER_DAYS:
                out.append(
                    StalePrice(
                        hardware=hw,
                        provider=q.provider,
                        usd_per_gpu_hour=q.usd_per_gpu_hour,
                        date=q.date,
                        months=age // 30,
                    )
                )
        return out


def owned_usd_per_gpu_hour(owned: Owned, tdp_w: float) -> float:
    """Capex spread straight-line over the amortisation period, plus board power at the facility's PUE, plus
    hosting: USD per GPU-hour of an owned GPU running all the time."""
    capex = owned.capex_usd_per_gpu / (owned.amortization_years * HOURS_PER_YEAR)
    power = tdp_w / 1000.0 * owned.pue * owned.power_usd_per_kwh
    return capex + power + owned.hosting_usd_per_gpu_hour


def _owned_quote(owned: Owned, hw: HardwarePreset) -> PriceQuote:
    return PriceQuote(
        usd_per_gpu_hour=owned_usd_per_gpu_hour(owned, hw.tdp_w),
        provider="owned",
        commitment=None,
        date=None,
        source="pricing.owned",
        owned=OwnedCost(
            capex_usd_per_gpu=owned.capex_usd_per_gpu,
            amortization_years=owned.amortization_years,
            tdp_w=hw.tdp_w,
            pue=owned.pue,
            power_usd_per_kwh=owned.power_usd_per_kwh,
            hosting_usd_per_gpu_hour=owned.hosting_usd_per_gpu_hour,
        ),
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
    basis = PriceBasis(
        commitment=pricing.commitment,
        provider=pricing.provider,
        owned=None if pricing.owned is None else list(pricing.owned.hardware or []),
        spec_prices=list(pricing.usd_per_gpu_hour),
        cli_prices=list(overrides),
    )
    book = PriceBook(basis=basis)
    for hw in hardware:
        quote = _quote(hw, catalogue, pricing, overrides)
        if isinstance(quote, PriceQuote):
            book.quotes[hw.id] = quote
        else:
            book.unpriced[hw.id] = quote
    return book


def _quote(hw: HardwarePreset, catalogue: PriceCatalog, pricing: Pricing, overrides: Mapping[str, float]):
    """The quote for one chip, or what it lacks (the renderer says how to give one)."""
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
    else:
        entries = [e for e in entries if catalogue.providers[e.provider].kind in DATACENTRE_KINDS]
    if not entries:
        return Unpriced(hardware=hw.id, commitment=pricing.commitment, provider=pricing.provider)
    best = min(entries, key=lambda e: (e.usd_per_gpu_hour, e.provider))
    return PriceQuote(
        usd_per_gpu_hour=best.usd_per_gpu_hour,
        provider=best.provider,
        commitment=best.commitment,
        date=best.date,
        source=best.source,
    )
