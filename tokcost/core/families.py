"""Which candidate stands for a model family when the report compares families: the same one in the sentences
(:mod:`tokcost.core.plan`) and in the charts (:mod:`tokcost.core.charts`)."""

from __future__ import annotations

from tokcost.records.results import STATIC_KINDS, CandidateResult, Violation


def is_static(v: Violation) -> bool:
    """A violation no hardware, price or budget change removes: the model's size, frame or context limits, its
    conditioning, or the quality tier the spec asks for."""
    return v.kind in STATIC_KINDS or v.kind == "quality"


def qualifying(pool: list[CandidateResult]) -> list[CandidateResult]:
    """The candidates a faster sampler, more hardware or a larger budget could make feasible."""
    return [c for c in pool if not any(is_static(v) for v in c.violations)]


def fastest_qualifying(pool: list[CandidateResult]) -> CandidateResult | None:
    """The quickest candidate at batch 1 that qualifies and fits in memory: the one the report names when its
    family has nothing feasible."""
    ok = [c for c in qualifying(pool) if c.fits_in_memory]
    return min(ok, key=lambda c: c.latency_at_batch_1) if ok else None


def representative(ranked: list[CandidateResult], family: str) -> CandidateResult | None:
    """A family's candidate in the charts: its best feasible one (``ranked`` is in report order), else its fastest
    qualifying one, else its first."""
    pool = [c for c in ranked if c.family == family]
    feasible = [c for c in pool if c.feasible]
    if feasible:
        return feasible[0]
    return fastest_qualifying(pool) or (pool[0] if pool else None)
