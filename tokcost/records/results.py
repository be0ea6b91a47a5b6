"""The one versioned result model. Every output format (table, markdown, json, html, github) is rendered from
it, and a saved JSON result (a baseline) is read back into it for ``check --baseline`` and ``diff``."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tokcost.records.prices import PriceBasis, PriceQuote, StalePrice
from tokcost.records.spec import TraceSummary

SCHEMA_VERSION = 3  # 2: typed facts (violations, suggestions) instead of sentences; 3: chart and pricing facts


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


ViolationKind = Literal[
    "latency",  # batch 1 alone exceeds the latency budget (value: seconds at batch 1)
    "load",  # no fleet meets the latency objective at peak (value: seconds at batch 1; limit: the budget)
    "cost_per_item",  # the fleet's cost per item exceeds the budget (value, limit in USD)
    "monthly",  # the fleet's monthly cost exceeds the budget (value, limit in USD)
    "memory",  # batch 1 does not fit (value: GB needed per GPU, limit: GB usable per GPU)
    "quality",  # the model misses the quality tier (value: its score or None when unpublished, limit: the bar)
    "conditioning",  # an image or video model conditioned on class labels, not text prompts
    "context",  # the AR sequence is longer than the trained context (value, limit in tokens)
    "size",  # a side outside the model's range (value, limit in px; ``name`` width or height)
    "frames",  # more frames than the model generates in one clip (value, limit in frames)
    "price",  # the chip has no price under the basis (``name``: the commitment; ``provider`` when one was asked)
]
STATIC_KINDS = ("conditioning", "context", "size", "frames")  # no budget, tier, price or hardware change removes these


class Violation(Model):
    """One requirement a candidate misses, as numbers: the sentences are written by :mod:`tokcost.render.advice`."""

    kind: ViolationKind
    limit: float | None = None  # the budget, bar or ceiling
    value: float | None = None  # the candidate's figure (None: not published, for a quality score)
    name: str | None = None  # what ``kind`` is about where it says no more: the metric, the side, the commitment
    tier: str | None = None  # quality: the tier the spec asks for
    provider: str | None = None  # price: the provider the spec named


class CandidateKey(Model):
    """Names one candidate of a result: its model, hardware and engine (one replica size each)."""

    model: str
    hardware: str
    engine: str


class DecoderSource(Model):
    """Where a candidate with no preset came from: a decoder's config file, priced with a preset's visual tokenizer
    and sampling (a spec's ``candidates.architectures``)."""

    config: str  # the Hugging Face config.json, as the spec names it
    model: str  # the AR preset whose visual tokenizer, sampling and roles it is priced with
    sliding_window_note: str | None = None  # how a sliding attention window it sets is priced


class CandidateResult(Model):
    model: str
    family: str  # the generation family (tokcost.records.families)
    hardware: str
    engine: str
    precision: str
    gpus_per_replica: int = 1  # GPUs splitting each forward (the cheapest size that meets the objective)
    parallelism: str = "none"  # none | tp | sp | cfg | cfg+sp, "(ring R)" after a sequence split in rings
    batch: int  # items per replica at the chosen operating point
    cfg: str
    steps: int | None = None
    width: int
    height: int
    frames: int | None = None
    latency_s: Band
    throughput_items_per_s: Band  # per replica (``throughput_per_gpu`` divides by its GPUs)
    latency_b1_s: float | None = None  # service time at batch 1, central (None: a result saved before it)
    continuous_batching: bool = False  # the engine batches continuously (vllm-class AR)
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
    violations: list[Violation] = []  # why it is infeasible (empty when feasible)
    unreleased: bool = (
        False  # no public checkpoint of the model serves this product's kind (priced as the architecture)
    )
    publisher: str | None = None  # who publishes the model's weights (the owner in its repository address)
    decoder: DecoderSource | None = None  # a decoder read from a config file (None: the preset's own)
    priced_width: int | None = None  # the size priced when it is not the product's (a photo resized for VQA)
    priced_height: int | None = None
    other_replicas: list[ReplicaOption] = []  # the other replica sizes priced for this model, hardware and engine

    @property
    def replica(self) -> str:
        """The replica's shape for a reader: ``h100-sxm``, or ``2 x h100-sxm, tp``."""
        if self.gpus_per_replica == 1:
            return self.hardware
        return f"{self.gpus_per_replica} x {self.hardware}, {self.parallelism}"

    @property
    def key(self) -> CandidateKey:
        return CandidateKey(model=self.model, hardware=self.hardware, engine=self.engine)

    @property
    def throughput_per_gpu(self) -> float:
        """Items per second per GPU at the operating point (the replica's figure over its GPUs)."""
        return self.throughput_items_per_s.central / self.gpus_per_replica

    @property
    def latency_at_batch_1(self) -> float:
        """Service time at batch 1 (the chosen batch's for a result saved before it was stored)."""
        return self.latency_s.central if self.latency_b1_s is None else self.latency_b1_s


class SpecChange(Model):
    """One change to a spec: the dotted field and its new value (``budget.latency_s``: 70)."""

    field: str
    value: Any


class Suggestion(Model):
    """A verified counterfactual: with ``changes`` applied to the spec, re-planning makes ``candidate`` feasible
    (``goal`` feasible) or the recommendation (``goal`` chosen); ``single`` is False when no one change sufficed
    and ``changes`` is the smallest set found."""

    candidate: CandidateKey
    goal: Literal["feasible", "chosen"] = "feasible"
    changes: list[SpecChange]
    single: bool = True
    fleet_cost_usd_per_item: float | None = None  # the candidate's, re-planned with the changes
    latency_objective_s: float | None = None


class FamilyOutcome(Model):
    """How a family that is not the recommendation's fared: ``feasible`` (its best option, ``cost_ratio`` times
    the choice's cost), ``unqualified`` (no model passes the static checks: ``unqualified`` holds each model's
    first static violation), ``no_fit`` (nothing fits in memory), ``blocked`` (its fastest qualifying option at batch
    1, whose violations say what blocks it)."""

    family: str
    status: Literal["feasible", "unqualified", "no_fit", "blocked"]
    candidate: CandidateKey | None = None
    cost_ratio: float | None = None
    largest_replica: bool = False  # blocked: no larger replica of its model, hardware and engine was priced
    unqualified: dict[str, Violation] = {}


class Headroom(Model):
    """The service time's share of the latency budget, when above half: the fleet keeps headroom."""

    service_share: float
    queueing_allowance_s: float  # what queueing and batch forming may add at the percentile
    sizing_share: float  # fleets are sized to this share of the budget


class Autoscaling(Model):
    fixed_usd: float
    autoscaled_usd: float
    low: int  # replicas, fewest and most over the day
    high: int
    min_replicas: int
    saving: float  # fraction of the fixed fleet's cost


class FleetRisk(Model):
    """What the recommended fleet is sized against beyond Poisson arrivals at peak."""

    arrival_scv: float = 1.0  # the squared coefficient of variation of the times between requests (1: Poisson)
    redundancy: Literal["none", "n+1"] = "none"
    replicas: int = 0  # at peak (with n+1: the spare included)
    lone_hot_replica: bool = False  # one replica, no spare, above risky_utilization at peak
    risky_utilization: float = 0.85


class BandRisk(Model):
    """The chosen plan's service time at the slow end of tokcost's error band exceeds the latency budget: the
    estimate's own uncertainty can put the plan out of budget."""

    service_high_s: float  # one request's service at the objective's load, scaled to the band's high end
    limit_s: float  # the spec's latency budget
    safer: CandidateKey | None = None  # the cheapest feasible option whose band-high service stays within it


class Recommendation(Model):
    choice: CandidateResult | None = None
    feasible_count: int = 0
    priced_count: int = 0
    peak_rps: float = 0.0
    runner_up: CandidateKey | None = None
    runner_up_rule: Literal["cheapest_other_model_or_hardware"] = "cheapest_other_model_or_hardware"
    runner_up_skipped: int = 0  # cheaper feasible options with the choice's model and hardware (other engines)
    families: list[FamilyOutcome] = []
    headroom: Headroom | None = None
    autoscaling: Autoscaling | None = None
    fleet_risk: FleetRisk | None = None
    band_risk: BandRisk | None = None
    blockers: dict[str, int] = {}  # with no choice: how many candidates each violation kind blocks
    tier_excluded: dict[str, Violation] = {}  # models the quality tier (or their conditioning) rules out
    suggestions: list[Suggestion] = []  # what would change the answer, each verified by re-planning


class GateViolation(Model):
    """A budget or baseline limit a spec fails in ``check``; :mod:`tokcost.render.advice` words it."""

    limit: str  # cost_per_item_usd | monthly_usd | feasibility | baseline_cost | baseline_latency
    field: str  # the spec field it concerns (budget.latency_s ...)
    line: int = 0
    col: int = 0
    budget: float | None = None
    value: float | None = None
    before: float | str | None = None
    change_pct: float | None = None  # baseline limits: the rise over the baseline, in percent
    candidate: CandidateKey | None = None  # the cheapest option that meets every other requirement
    percentile: float | None = None  # baseline_latency: the objective's percentile
    suggestion: Suggestion | None = None  # feasibility: the verified change that would make one feasible


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
    ``limit``; ``bar``: one bar per series, its value ``y[0]`` (band ``low[0]``-``high[0]``) on the value axis,
    the ``budget`` a line across the bars; ``day``: per hour ``x``, the ``demand`` group as bars on the left axis
    and the ``replicas`` group as steps on the right. Facts only: the titles, axis labels and caption are worded
    where the chart is drawn (:func:`tokcost.render.html.chart_words`)."""

    id: str  # latency | throughput | cost | load | day (analysis); latency | cost (sweep)
    scope: Literal["analysis", "sweep"] = "analysis"  # which page draws it (the titles differ)
    kind: Literal["line", "fit_line", "bar", "day"]
    x_unit: str = ""  # the latency chart's x: "px" (an image's long side) or "frames" (a clip's)
    y_unit: str = ""
    log_y: bool = False  # the value axis is logarithmic
    budget: float | None = None
    marker: float | None = None  # the spec's own x (its long side or frame count; the peak demand)
    fixed: dict[str, float] = {}  # settings every series holds fixed (a sweep's first batch, gpus, frames; load)
    fixed_steps: dict[str, float] = {}  # a sweep's steps held fixed per model, when the models' steps differ
    total_series: int | None = None  # the series there were when the chart shows only the first (the best bars)
    subject: str | None = None  # the candidate the chart is about (load: its model / replica / engine)
    percentile: float | None = None  # the latency percentile the budget is met at (load)
    demand_shape: Literal["default", "hourly"] | None = None  # day: the default daily shape or demand.hourly
    scaling: str | None = None  # day: the spec's demand.scaling
    series: list[ChartSeries] = []


class Pricing(Model):
    """How the analysis priced GPU-hours: the basis, and what the reader should check (old prices); worded by
    :mod:`tokcost.render.prices`."""

    basis: PriceBasis
    as_of: str  # the run's date (YYYY-MM-DD): which prices are stale is relative to it
    read_from: str | None = None  # the oldest and newest date of the catalogue quotes the candidates use
    read_to: str | None = None
    stale: list[StalePrice] = []  # the catalogue prices used that were read more than 6 months before as_of


class SpecResult(Model):
    name: str
    file: str
    product: dict
    demand: dict
    budget: dict
    candidates: list[CandidateResult]
    recommendation: Recommendation
    violations: list[GateViolation] = []  # the budgets no option meets
    inputs: dict = {}  # the whole validated spec (the gate compares every field)
    defaults: list[str] = []  # spec fields the analysis took at their default (demand.peak_to_mean)
    pricing: Pricing | None = None  # None: a result saved before prices had a stated basis
    warnings: list[str] = []  # what did not apply as asked (a calibration measured on other hardware)
    # the report's charts, computed with the analysis (None: a result saved before they were stored)
    charts: list[ChartData] | None = None
    traffic: TraceSummary | None = None  # what demand.trace gave (None: no trace)

    def candidate(self, key: CandidateKey | None) -> CandidateResult | None:
        """The candidate ``key`` names."""
        if key is None:
            return None
        return next((c for c in self.candidates if c.key == key), None)


class AnalysisResult(Model):
    schema_version: int = SCHEMA_VERSION
    tool_version: str
    calibration: str | None = None
    specs: list[SpecResult]
