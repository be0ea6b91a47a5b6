"""Which candidate stands for a model family when the report compares families: the same one in the sentences
(:mod:`tokcost.core.plan`) and in the charts (:mod:`tokcost.core.charts`)."""

from __future__ import annotations

from tokcost.records.results import CandidateResult


def is_static(reason: str) -> bool:
    """A reason no hardware, price or budget change removes (the model's size limits, quality tier)."""
    return not reason.startswith(("latency", "needs", "cost")) and "is not priced" not in reason


def qualifying(pool: list[CandidateResult]) -> list[CandidateResult]:
    """The candidates a faster sampler, more hardware or a larger budget could make feasible."""
    return [c for c in pool if not any(is_static(r) for r in c.reasons)]


def fastest_qualifying(pool: list[CandidateResult]) -> CandidateResult | None:
    """The quickest candidate (service time) that qualifies and fits in memory: the one the report names when
    its family has nothing feasible."""
    ok = [c for c in qualifying(pool) if c.fits_in_memory]
    return min(ok, key=lambda c: c.latency_s.central) if ok else None


def representative(ranked: list[CandidateResult], family: str) -> CandidateResult | None:
    """A family's candidate in the charts: its best feasible one (``ranked`` is in report order), else its fastest
    qualifying one, else its first."""
    pool = [c for c in ranked if c.family == family]
    feasible = [c for c in pool if c.feasible]
    if feasible:
        return feasible[0]
    return fastest_qualifying(pool) or (pool[0] if pool else None)
