"""The result of ``tokcost sweep``: one row per priced configuration, held as equal-length numpy columns (a
sweep can have millions of rows; a record per row would not fit in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from tokcost.records.prices import PriceBasis, PriceQuote, Unpriced

if TYPE_CHECKING:
    import numpy as np

    from tokcost.records.results import ChartData

SCHEMA_VERSION = 1
# Every column once, with its kind: "text" (a label), "int" (a whole number; NaN where it does not apply), "float"
# or "bool". The CSV, JSON Lines and Parquet writers lay out each kind alike: a new column is one line here.
COLUMN_KINDS = {
    "model": "text",
    "hardware": "text",
    "engine": "text",
    "resolution": "text",
    "width": "int",
    "height": "int",
    "padded_width": "int",
    "padded_height": "int",
    "frames": "int",
    "batch": "int",
    "gpus": "int",
    "parallelism": "text",  # how each replica splits its work: none, tp, sp, cfg, cfg+sp
    "steps": "int",
    "latency_s": "float",
    "throughput_items_per_s": "float",
    "cost_usd_per_item": "float",
    "memory_gb": "float",
    "fits_in_memory": "bool",
}
COLUMNS = tuple(COLUMN_KINDS)


@dataclass(frozen=True)
class SweepSkip:
    """Combinations a sweep skipped because the model cannot serve them, and why (worded by
    :func:`tokcost.render.sweep.skip_words`). ``kind``: ``role`` (the model generates neither what was asked:
    ``video_asked``, nor serves it: ``serves``), ``sizes`` (``values`` outside ``low``-``high`` px per side),
    ``frames`` (``values`` past the model's ``limit`` frames per clip), ``engine`` (``engine`` serves only the
    families ``serves``), ``gpus`` (the replica sizes ``values`` on ``hardware``: ``problem``, the estimator's
    reason)."""

    kind: Literal["role", "sizes", "frames", "engine", "gpus"]
    model: str
    values: tuple[str, ...] = ()
    serves: tuple[str, ...] = ()
    video_asked: bool = False
    low: int | None = None
    high: int | None = None
    limit: int | None = None
    engine: str | None = None
    hardware: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class SweepPrices:
    """The prices a sweep is costed at: the basis, each chip's quote and the chips with none (worded by
    :func:`tokcost.render.sweep.sweep_notes`)."""

    basis: PriceBasis
    quotes: dict[str, PriceQuote]
    unpriced: list[Unpriced]


@dataclass
class SweepResult:
    columns: dict[str, np.ndarray]  # name in COLUMNS -> one value per row
    skipped: list[SweepSkip] = field(default_factory=list)  # combinations skipped, and why
    prices: SweepPrices | None = None  # the prices used (tokcost.api adds them)
    # the HTML page's charts, their lines chosen by the core (tokcost.core.sweep.with_charts); None: not computed
    charts: list[ChartData] | None = None

    @property
    def rows(self) -> int:
        return len(self.columns["model"])
