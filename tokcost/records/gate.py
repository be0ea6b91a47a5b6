"""The results of ``tokcost check`` (:class:`GateResult`) and ``tokcost diff`` (:class:`DiffResult`), built by
:mod:`tokcost.core.gate` and rendered by :mod:`tokcost.render.check` and :mod:`tokcost.render.diff`."""

from __future__ import annotations

from typing import Any, Literal

from tokcost.records.results import GateViolation, Model
from tokcost.version import __version__

GATE_SCHEMA_VERSION = 1


class Limits(Model):
    max_cost_increase_pct: float | None = None  # None: reported, not gated
    max_latency_increase_pct: float | None = None


class Choice(Model):
    model: str
    hardware: str
    engine: str

    def label(self) -> str:
        return f"{self.model} on {self.hardware} ({self.engine})"


class Delta(Model):
    before: float | None = None
    after: float | None = None
    change_pct: float | None = None  # None when either side is missing or the past value is 0


class Change(Model):
    field: str  # spec field that differs from the baseline, dotted (product.width)
    before: Any = None
    after: Any = None


class SpecGate(Model):
    name: str
    file: str
    baseline: Literal["matched", "new", "none"]  # none: no --baseline given
    choice_before: Choice | None = None
    choice_after: Choice | None = None
    cost_per_item_usd: Delta
    latency_s: Delta  # end to end at the objective percentile under peak load (service time for older results)
    monthly_usd: Delta
    changes: list[Change] = []
    violations: list[GateViolation] = []
    passed: bool


class GateResult(Model):
    schema_version: int = GATE_SCHEMA_VERSION
    tool_version: str = __version__
    baseline: str | None = None
    limits: Limits
    specs: list[SpecGate]
    unmatched_baseline: list[str] = []  # baseline specs that no checked spec matched
    exit_code: int  # 0 pass, 1 a gate failed

    @property
    def failed(self) -> list[SpecGate]:
        return [s for s in self.specs if not s.passed]


class CandidateDiff(Model):
    model: str
    hardware: str
    engine: str
    status: Literal["added", "removed", "matched"]
    replica_before: str | None = None  # the replica's shape: h100-sxm, or 8 x h100-sxm, tp (GPUs and parallelism)
    replica_after: str | None = None
    feasible_before: bool | None = None
    feasible_after: bool | None = None
    cost_per_item_usd: Delta
    latency_s: Delta  # end to end at the objective percentile under peak load (service time for older results)
    batch: Delta = Delta()  # items per GPU at the operating point: a latency change may be a batch change
    gpus: Delta = Delta()  # the fleet's GPUs

    @property
    def changed(self) -> bool:
        """Added, removed, or any figure or the feasibility different."""
        if self.status != "matched" or self.feasible_before != self.feasible_after:
            return True
        if self.replica_before != self.replica_after:
            return True
        return any(d.before != d.after for d in (self.cost_per_item_usd, self.latency_s, self.batch, self.gpus))


class SpecDiff(Model):
    name: str
    file: str
    status: Literal["added", "removed", "matched"]
    choice_before: Choice | None = None
    choice_after: Choice | None = None
    cost_per_item_usd: Delta
    latency_s: Delta  # end to end at the objective percentile under peak load (service time for older results)
    monthly_usd: Delta
    changes: list[Change] = []
    candidates: list[CandidateDiff]


class DiffResult(Model):
    schema_version: int = GATE_SCHEMA_VERSION
    tool_version: str = __version__
    specs: list[SpecDiff]
