"""The one versioned result model. Every output format (table, markdown, json, html, github) is rendered from
it, and a saved JSON result (a baseline) is read back into it for ``check --baseline`` and ``diff``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tokcost.records.prices import PriceQuote
from tokcost.records.spec import TraceSummary

SCHEMA_VERSION = 1


class Model(BaseModel):
    """Base of the result records: unknown keys are refused (a baseline from a newer tokcost fails loudly); not
    frozen, as results are completed after they are built (charts)."""

    model_config = ConfigDict(extra="forbid")


class Band(Model):
    central: float
    low: float  # optimistic end
    high: float  # pessimistic end


class ReplicaOption(Model):
    """Another replica size the planner priced for the same model, hardware and engine."""

    gpus_per_replica: int
    parallelism: str
    latency_s: float  # at batch 1, central
    fleet_cost_usd_per_item: float | None = None  # None: no fleet meets the budget (or not priced)
    feasible: bool


class CandidateResult(Model):
    model: str
    family: str  # ar | diffusion
    hardware: str
    engine: str
    precision: str
    gpus_per_replica: int = 1  # GPUs splitting each forward (the cheapest size that meets the objective)
    parallelism: str = "none"  # none | tp | sp | cfg | cfg+sp
    batch: int  # items per replica at the chosen operating point
    cfg: str
    steps: int | None = None
    width: int
    height: int
    frames: int | None = None
    latency_s: Band
    throughput_items_per_s: Band  # per replica
    cost_usd_per_item: Band | None = None  # one replica at full utilisation
    fleet_cost_usd_per_item: float | None = None  # the fleet sized for peak demand, averaged over all requests
    gpus: int | None = None  # the whole fleet: replicas x gpus_per_replica
    monthly_usd: float | None = None
    price: PriceQuote | None = None  # the GPU-hour price the costs use, with its provider, date and source
    memory_gb: dict[str, float]
    fits_in_memory: bool
    bound: str  # compute | memory (GPU side)
    overhead_bound: bool = False  # overheads (host launches, kernel gaps, per-step work) dominate the step
    tokens: dict[str, float]
    # capacity under load at peak (docs/methodology.md, "Capacity under load"); None where no fleet meets the budget
    queue_wait_s: float | None = None  # the objective percentile's latency less the service time: queue + batch forming
    latency_p50_s: float | None = None  # end to end at peak on the replicas_at_peak fleet
    latency_p95_s: float | None = None
    latency_p99_s: float | None = None
    latency_objective_s: float | None = None  # at the spec's latency_percentile
    utilization_at_peak: float | None = None  # busy fraction of the replicas at peak (0-1)
    replicas_at_peak: int | None = None
    replicas_hourly: list[int] | None = None  # the autoscaled fleet, hour 0-23
    monthly_usd_fixed: float | None = None  # a fleet sized for the peak, running all day
    monthly_usd_autoscaled: float | None = None  # a fleet following the hourly demand
    batch_timeout_s: float = 0.0  # a static batch is dispatched when full or when its oldest request waited this
    quality_metric: str | None = None
    quality_score: float | None = None
    feasible: bool
    reasons: list[str] = []  # why it is infeasible (empty when feasible)
    notes: list[str] = []  # what the estimate assumed that the spec did not say (padding to the tokenizer's grid)
    other_replicas: list[ReplicaOption] = []  # the other replica sizes priced for this model, hardware and engine

    @property
    def replica(self) -> str:
        """The replica's shape for a reader: ``h100-sxm``, or ``2 x h100-sxm, tp``."""
        if self.gpus_per_replica == 1:
            return self.hardware
        return f"{self.gpus_per_replica} x {self.hardware}, {self.parallelism}"


class Recommendation(Model):
    choice: CandidateResult | None = None
    headline: str
    reasons: list[str] = []  # why this one
    other_families: list[str] = []  # why each other family lost, in sentences
    break_even: list[str] = []  # what would change the answer


class Violation(Model):
    limit: str  # latency_s | cost_per_item_usd | monthly_usd | feasibility | baseline_cost | baseline_latency | baseline_choice
    field: str  # the spec field it concerns (budget.latency_s ...)
    line: int = 0
    col: int = 0
    budget: float | None = None
    value: float | None = None
    before: float | str | None = None
    message: str
    fix: str = ""


class ChartSeries(Model):
    """One line of a chart (or one bar): ``y`` at each ``x``, with the optional low-high band. ``None`` in ``y``,
    ``low`` or ``high`` marks a point the candidate cannot serve (outside its model's size or frame limits)."""

    label: str
    group: str = ""  # the hardware (a bar's colour)
    fixed: dict[str, float] = {}  # this series' own settings held fixed along x (its candidate's batch, size, steps)
    x: list[float] = []  # empty for a bar
    y: list[float | None]
    low: list[float | None] | None = None  # optimistic end of the band, per point
    high: list[float | None] | None = None  # pessimistic end
    fits: list[bool] | None = None  # per point: the batch fits in the GPU's memory
    limit: float | None = None  # the largest x that fits in memory


class ChartData(Model):
    """The numbers behind one chart, computed by the core when the analysis (or sweep) runs, so that a saved result
    draws the same charts without presets or calibration. ``kind`` says how the series read: ``line``: ``y``
    against ``x`` with its low-high band, the ``budget`` as a horizontal line and ``marker`` as a vertical one;
    ``fit_line``: ``y`` against ``x``, the points that fit in memory (``fits``) apart, with each series' memory
    ``limit``; ``bar``: one bar per series, its value ``y[0]`` (band ``low[0]``-``high[0]``) on the value axis
    ``y_label``, the ``budget`` a line across the bars; ``day``: per hour ``x``, the ``demand`` group as bars on the
    left axis and the ``replicas`` group as steps on the right. Axis labels are as drawn (units included); units also
    apart (``x_unit``, ``y_unit``)."""

    id: str  # latency | throughput | cost | load | day (analysis); latency | cost (sweep)
    kind: Literal["line", "fit_line", "bar", "day"]
    title: str
    x_label: str
    x_unit: str = ""
    y_label: str
    y_unit: str = ""
    log_y: bool = False  # the value axis is logarithmic
    budget: float | None = None
    marker: float | None = None  # the spec's own x (its long side or frame count; the peak demand)
    marker_label: str = "this spec"
    fixed: dict[str, float] = {}  # settings every series holds fixed (a sweep's first batch, steps, frames)
    notes: list[str] = []  # the caption's remarks, what is held fixed in words first
    series: list[ChartSeries] = []


class Pricing(Model):
    """How the analysis priced GPU-hours: the basis in words, and what the reader should check (old prices)."""

    basis: str
    as_of: str  # the run's date (YYYY-MM-DD): the notes on old prices are relative to it
    notes: list[str] = []


class SpecResult(Model):
    name: str
    file: str
    product: dict
    demand: dict
    budget: dict
    candidates: list[CandidateResult]
    recommendation: Recommendation
    violations: list[Violation] = []  # budget violations of the recommended option
    pricing: Pricing | None = None  # None: a result saved before prices had a stated basis
    warnings: list[str] = []  # what did not apply as asked (a calibration measured on other hardware)
    # the report's charts, computed with the analysis (None: a result saved before they were stored)
    charts: list[ChartData] | None = None
    traffic: TraceSummary | None = None  # what demand.trace gave (None: no trace)


class AnalysisResult(Model):
    schema_version: int = SCHEMA_VERSION
    tool_version: str
    calibration: str | None = None
    specs: list[SpecResult]
