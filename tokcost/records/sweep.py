"""The result of ``tokcost sweep``: one row per priced configuration, held as equal-length numpy columns (a
sweep can have millions of rows; a record per row would not fit in memory)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from tokcost.records.results import ChartData

SCHEMA_VERSION = 1
COLUMNS = (
    "model",
    "hardware",
    "engine",
    "resolution",
    "width",
    "height",
    "padded_width",
    "padded_height",
    "frames",
    "batch",
    "gpus",
    "parallelism",  # how each replica splits its work: none, tp, sp, cfg, cfg+sp
    "steps",
    "latency_s",
    "throughput_items_per_s",
    "cost_usd_per_item",
    "memory_gb",
    "fits_in_memory",
)


@dataclass
class SweepResult:
    columns: dict[str, np.ndarray]  # name in COLUMNS -> one value per row
    notes: list[str]  # combinations skipped, and why
    # the HTML page's charts, their lines chosen by the core (tokcost.core.sweep.with_charts); None: not computed
    charts: list[ChartData] | None = None

    @property
    def rows(self) -> int:
        return len(self.columns["model"])
