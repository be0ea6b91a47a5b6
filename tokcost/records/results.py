"""The one versioned result model. Every output format (table, markdown, json, html, github) is rendered from
it, and a saved JSON result (a baseline) is read back into it for ``check --baseline`` and ``diff``."""

from __future__ import annotations

from tokcost.records.schema import Record

SCHEMA_VERSION = 1


class Model(Record):
    model_config = {"extra": "forbid"}


class Band(Model):
    central: float
    low: float  # optimistic end
    high: float  # pessimistic end


class CandidateResult(Model):
    model: str
    family: str  # ar | diffusion
    hardware: str
    engine: str
    precision: str
    batch: int  # items per GPU at the chosen operating point
    cfg: str
    steps: int | None = None
    width: int
    height: int
    frames: int | None = None
    latency_s: Band
    throughput_items_per_s: Band  # per GPU
    cost_usd_per_item: Band | None = None  # one GPU at full utilisation
    fleet_cost_usd_per_item: float | None = None  # the fleet sized for peak demand, averaged over all requests
    gpus: int | None = None
    monthly_usd: float | None = None
    memory_gb: dict[str, float]
    fits_in_memory: bool
    bound: str  # compute | memory (GPU side)
    overhead_bound: bool = False  # host launch overhead dominates the step
    tokens: dict[str, float]
    queue_wait_s: float = 0.0  # the first request's wait for its static batch to fill at peak demand
    quality_metric: str | None = None
    quality_score: float | None = None
    feasible: bool
    reasons: list[str] = []  # why it is infeasible (empty when feasible)
    notes: list[str] = []  # what the estimate assumed that the spec did not say (padding to the tokenizer's grid)


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


class SpecResult(Model):
    name: str
    file: str
    product: dict
    demand: dict
    budget: dict
    candidates: list[CandidateResult]
    recommendation: Recommendation
    violations: list[Violation] = []  # budget violations of the recommended option


class AnalysisResult(Model):
    schema_version: int = SCHEMA_VERSION
    tool_version: str
    calibration: str | None = None
    specs: list[SpecResult]
