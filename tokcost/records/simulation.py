"""The result of ``tokcost simulate``: a discrete-event check of a fleet (issue 30)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tokcost.records.results import Model

SIMULATION_SCHEMA_VERSION = 1


class HourResult(Model):
    """One simulated hour: the requests that arrived in it."""

    hour: int = Field(description="Hours from the start of the run.")
    hour_of_day: int = Field(description="The hour of the day (0-23) whose demand and fleet it has.")
    replicas: int = Field(description="Replicas serving in the hour.")
    requests: int
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    over_budget_share: float = Field(description="Share of the hour's requests slower than the budget.")


class TraceReplay(Model):
    file: str = Field(description="The trace file replayed.")
    requests: int = Field(description="Its requests within the simulated hours.")
    hours: int = Field(description="Hours simulated.")


class SimulationResult(Model):
    schema_version: int = SIMULATION_SCHEMA_VERSION
    tool_version: str
    name: str = Field(description="The spec's name.")
    file: str
    model: str
    hardware: str
    engine: str
    gpus_per_replica: int
    batching: Literal["static", "continuous"]
    batch: int = Field(description="Static: requests per batch; continuous: sequences a replica holds at most.")
    batch_timeout_s: float | None = None
    max_num_batched_tokens: int | None = Field(default=None, description="Continuous: tokens a step may process.")
    traffic: Literal["poisson", "bursty", "trace"]
    burstiness: float = Field(description="Squared coefficient of variation of the inter-arrival times simulated.")
    trace: str | None = None
    scaling: Literal["fixed", "autoscaled"]
    seed: int
    hours: int
    requests: int
    budget_s: float
    latency_percentile: float
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    objective_s: float | None = Field(default=None, description="Latency at the budget's percentile, simulated.")
    predicted_objective_s: float | None = Field(
        default=None, description="The planner's latency at the budget's percentile at peak, for comparison."
    )
    over_budget_share: float = Field(description="Share of all requests slower than the budget.")
    met: bool = Field(description="Whether the simulated percentile meets the budget (exit 0; else exit 1).")
    replicas_hourly: list[int]
    by_hour: list[HourResult]
    replay: TraceReplay | None = Field(default=None, description="The trace replayed (None: the spec's demand).")
    sizes_used: list[str] = Field(default_factory=list, description="Per-request size columns of the trace used.")
    sizes_ignored: list[str] = Field(
        default_factory=list, description="Size columns of the trace this candidate has no use for."
    )
