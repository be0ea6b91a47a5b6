"""Records of the GPU rental price catalogue (``tokcost/data/prices/prices.yaml``).

One :class:`PriceEntry` is one published price of one GPU at one provider under one commitment, per GPU-hour,
with the date it was read and the public page it was read from. :class:`PriceCatalog` maps each hardware id of
``hardware/`` to its entries; a hardware id with no public rental price simply has no entry ("not priced").
Prices move both ways and differ by region and instance size, so every entry says what was priced
(``product``) and how an instance price became a per-GPU price (``derivation``).
"""

import datetime as _dt
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from tokcost.records.base import NOT_BOOL, Strict

COMMITMENTS = ("on_demand", "1yr", "3yr", "spot")
Commitment = Literal["on_demand", "1yr", "3yr", "spot"]
PROVIDER_KINDS = ("hyperscaler", "gpu_cloud", "marketplace")
COMMITMENT_WORDS = {"on_demand": "on-demand", "1yr": "1-year commitment", "3yr": "3-year commitment", "spot": "spot"}

PROVIDER_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
HARDWARE_PATTERN = r"^[a-z0-9][a-z0-9.\-]*$"  # the hardware preset id pattern (tokcost.records.presets.Id)
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
STALE_AFTER_DAYS = 183  # about 6 months: a price read longer ago gets a note wherever it is shown
MAX_USD_PER_GPU_HOUR = 1000.0  # far above any real GPU rental (about $16/GPU-h at most); stops typos like 6880

HardwareId = Annotated[str, Field(pattern=HARDWARE_PATTERN, max_length=64)]


class PriceEntry(Strict):
    """One published rental price of one GPU, per GPU-hour."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # as Strict: a misspelt key is an error; never mutated

    provider: str = Field(
        pattern=PROVIDER_PATTERN,
        max_length=40,
        description="Who rents it out, as a lower-case id: aws, gcp, azure, oracle, lambda, coreweave, runpod, ...",
    )
    commitment: Commitment = Field(
        description="on_demand (pay as you go), 1yr / 3yr (committed-use or reserved price for that term, per hour "
        "of the term), or spot (interruptible capacity)"
    )
    usd_per_gpu_hour: Annotated[float, Field(gt=0, le=MAX_USD_PER_GPU_HOUR, allow_inf_nan=False), NOT_BOOL] = Field(
        description="US dollars per GPU per hour; an instance price divided by its GPU count (say so in derivation)"
    )
    date: str = Field(
        pattern=DATE_PATTERN, description="The date the price was read or the source states, ISO YYYY-MM-DD"
    )
    source: str = Field(
        min_length=1,
        description="The public page the price was read from (URL or document title), with any copy it was read "
        "through; never a local path",
    )
    product: str | None = Field(
        default=None,
        min_length=1,
        description="What was priced, as the provider names it: instance type or SKU, GPUs per instance, region",
    )
    derivation: str | None = Field(
        default=None,
        min_length=1,
        description="How the per-GPU figure follows from the published one (for example '55.04 $/instance-h / 8 "
        "GPUs'), and other prices of the same offer that this entry does not carry",
    )

    @field_validator("date", mode="before")
    @classmethod
    def _date_as_text(cls, value):
        # a YAML reader other than tokcost's (yaml.safe_load) turns an unquoted 2026-01-21 into a date object
        return value.isoformat() if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime) else value

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a calendar date (YYYY-MM-DD)") from None
        return value

    @field_validator("source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source must name a public page, not be blank")
        return value


def _one_entry_per_offer(entries: tuple[PriceEntry, ...]) -> tuple[PriceEntry, ...]:
    seen: dict[tuple[str, str], int] = {}
    for i, e in enumerate(entries):
        key = (e.provider, e.commitment)
        if key in seen:
            raise ValueError(
                f"entries [{seen[key]}] and [{i}] both price provider {e.provider!r} with commitment "
                f"{e.commitment!r}; keep one (the latest reading) and mention the other in derivation"
            )
        seen[key] = i
    return entries


Entries = Annotated[tuple[PriceEntry, ...], AfterValidator(_one_entry_per_offer)]
ProviderId = Annotated[str, Field(pattern=PROVIDER_PATTERN, max_length=40)]


class Provider(Strict):
    """Who a provider id stands for, and what kind of seller it is (the default price basis depends on it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="The provider's name as it sells GPUs")
    kind: Literal["hyperscaler", "gpu_cloud", "marketplace"] = Field(
        description="hyperscaler (a general cloud that also rents GPUs), gpu_cloud (rents GPUs from datacentres it "
        "runs or contracts, with an SLA) or marketplace (third-party hosts listed by a broker, no datacentre SLA)"
    )
    url: str = Field(min_length=1, description="The provider's public price page")


class PriceCatalog(Strict):
    """The dated rental price catalogue: hardware id -> its published prices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(description="Version of this file format")
    currency: Literal["USD"] = Field(description="Currency of every price in the file")
    providers: dict[ProviderId, Provider] = Field(description="Provider id -> who it is and what kind of seller")
    prices: dict[HardwareId, Entries] = Field(
        description="Hardware id (a file in hardware/) -> one entry per (provider, commitment)"
    )

    @model_validator(mode="after")
    def _providers_listed(self) -> "PriceCatalog":
        for hw, entries in self.prices.items():
            for i, e in enumerate(entries):
                if e.provider not in self.providers:
                    raise ValueError(f"prices.{hw}[{i}]: provider {e.provider!r} is not listed under providers")
        return self

    def for_hardware(self, hardware_id: str) -> tuple[PriceEntry, ...]:
        """The entries for ``hardware_id``; empty when it has no public rental price."""
        return self.prices.get(hardware_id, ())

    def find(self, hardware_id: str, provider: str, commitment: str = "on_demand") -> PriceEntry | None:
        """The entry for this hardware, provider and commitment, or None."""
        for e in self.for_hardware(hardware_id):
            if e.provider == provider and e.commitment == commitment:
                return e
        return None


class OwnedCost(Strict):
    """The figures an owned GPU's hourly cost is computed from (the spec's ``pricing.owned`` and the chip's TDP)."""

    capex_usd_per_gpu: float
    amortization_years: float
    tdp_w: float
    pue: float
    power_usd_per_kwh: float
    hosting_usd_per_gpu_hour: float


class PriceBasis(Strict):
    """How every GPU-hour of a run is priced (worded by :func:`tokcost.render.prices.basis_words`)."""

    commitment: Commitment
    provider: str | None = None  # pricing.provider; None: the lowest datacentre price of each chip
    owned: list[str] | None = None  # pricing.owned's hardware ([]: every candidate); None: nothing owned
    spec_prices: list[str] = []  # the hardware priced by the spec's pricing.usd_per_gpu_hour
    cli_prices: list[str] = []  # the hardware priced by --price


class StalePrice(Strict):
    """A catalogue price read more than STALE_AFTER_DAYS before the run (worded by
    :func:`tokcost.render.prices.stale_words`)."""

    hardware: str
    provider: str
    usd_per_gpu_hour: float
    date: str
    months: int  # how long ago, in whole 30-day months


class Unpriced(Strict):
    """A chip the catalogue has no price for under the basis (worded, with the fix, by
    :func:`tokcost.render.prices.unpriced_words`)."""

    hardware: str
    commitment: Commitment
    provider: str | None = None  # pricing.provider; None: no hyperscaler or GPU cloud rents it


class PriceQuote(Strict):
    """The price one candidate is costed at, and where it comes from: a catalogue entry under the chosen basis,
    the user's own figure (``--price`` or the spec's ``pricing.usd_per_gpu_hour``), or owned hardware."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd_per_gpu_hour: float = Field(description="US dollars per GPU per hour")
    provider: str = Field(
        description="The catalogue's provider id; 'user' for a price given with --price or pricing.usd_per_gpu_hour; "
        "'owned' for owned hardware"
    )
    commitment: str | None = Field(
        description="on_demand, 1yr, 3yr or spot for a catalogue price; null for a user or owned price"
    )
    date: str | None = Field(description="When a catalogue price was read (YYYY-MM-DD); null for user and owned prices")
    source: str = Field(
        description="The public page of a catalogue price, the flag or spec field of a user price, "
        "or pricing.owned for owned hardware"
    )
    owned: OwnedCost | None = Field(default=None, description="Owned hardware: the figures its cost comes from")
