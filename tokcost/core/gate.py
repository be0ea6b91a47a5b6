"""The CI gate and the baseline diff, as a library.

:func:`compare` is pure: it takes the current :class:`~tokcost.records.results.AnalysisResult`, an optional baseline
result and the limits, and returns a :class:`~tokcost.records.gate.GateResult` whose ``exit_code`` is 0 (every
spec meets its budgets and no baseline limit is crossed) or 1 (a gate failed). It never prints and never exits; the
CLI renders the result with a formatter and exits with the code. :func:`diff` does the same for ``tokcost diff``.
Reading a saved result (a baseline) is :func:`tokcost.io.baseline.load_result`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokcost.records.gate import (
    CandidateDiff,
    Change,
    Choice,
    Delta,
    DiffResult,
    GateResult,
    Limits,
    SpecDiff,
    SpecGate,
)
from tokcost.records.results import AnalysisResult, CandidateResult, GateViolation, SpecResult

Locate = Callable[[str, tuple], tuple]  # (spec file, path in the spec) -> (line, col), 1-based


# ----------------------------------------------------------------------------------------------- helpers


def pct_change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before * 100.0


def _delta(before: float | None, after: float | None) -> Delta:
    return Delta(before=before, after=after, change_pct=pct_change(before, after))


def _choice(c: CandidateResult | None) -> Choice | None:
    return None if c is None else Choice(model=c.model, hardware=c.hardware, engine=c.engine)


def _metrics(spec: SpecResult | None) -> tuple[float | None, float | None]:
    """The recommended option's cost per item and monthly cost."""
    c = spec.recommendation.choice if spec is not None else None
    if c is None:
        return None, None
    return c.fleet_cost_usd_per_item, c.monthly_usd


def gated_latency(before: CandidateResult | None, after: CandidateResult | None) -> tuple[float | None, float | None]:
    """The latency a regression is measured on: end to end at the objective's percentile under peak load, or the
    service time on both sides when either result predates the capacity model (a baseline saved before it)."""
    if before is not None and after is not None and None in (before.latency_objective_s, after.latency_objective_s):
        return before.latency_s.central, after.latency_s.central
    return tuple(  # type: ignore[return-value]
        None if c is None else (c.latency_objective_s if c.latency_objective_s is not None else c.latency_s.central)
        for c in (before, after)
    )


def _spec_deltas(before: SpecResult | None, after: SpecResult | None) -> dict[str, Any]:
    """The fields :class:`SpecGate` and :class:`SpecDiff` share: both choices, the three deltas and the changed
    inputs (only when both sides exist)."""
    (cb, mb), (ca, ma) = _metrics(before), _metrics(after)
    lb, la = gated_latency(
        before.recommendation.choice if before is not None else None,
        after.recommendation.choice if after is not None else None,
    )
    return dict(
        choice_before=_choice(before.recommendation.choice) if before is not None else None,
        choice_after=_choice(after.recommendation.choice) if after is not None else None,
        cost_per_item_usd=_delta(cb, ca),
        latency_s=_delta(lb, la),
        monthly_usd=_delta(mb, ma),
        changes=input_changes(before, after) if before is not None and after is not None else [],
    )


def match(spec: SpecResult, baseline: AnalysisResult) -> SpecResult | None:
    """The baseline entry for ``spec``: the one with the same name, else the one with the same file path."""
    named = [b for b in baseline.specs if b.name == spec.name]
    if len(named) == 1:
        return named[0]
    pool = named or baseline.specs
    same_file = [b for b in pool if Path(b.file).as_posix() == Path(spec.file).as_posix()]
    return same_file[0] if same_file else None


def _flat(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """A nested spec as dotted fields; lists (gpus_per_replica, hourly) stay whole values."""
    if isinstance(value, dict):
        for key, sub in value.items():
            _flat(sub, f"{prefix}.{key}" if prefix else key, out)
    else:
        out[prefix] = value
    return out


def _quotes(spec: SpecResult) -> dict[str, Any]:
    """The GPU-hour price each chip was costed at (a --price override, or a catalogue that moved)."""
    return {f"prices.{c.hardware}": c.price.usd_per_gpu_hour for c in spec.candidates if c.price is not None}


def input_changes(before: SpecResult, after: SpecResult) -> list[Change]:
    """Every input that differs from the baseline, in spec order: each field of the spec (product, demand, budget,
    candidates, pricing; from the whole spec a result stores, else the product, demand and budget sections), the
    candidate models, hardware, engines and precision priced, and the GPU-hour price of each chip."""

    def fields(r: SpecResult) -> dict[str, Any]:
        if r.inputs:
            return _flat(r.inputs, "", {})
        return _flat({"product": r.product, "demand": r.demand, "budget": r.budget}, "", {})

    old, new = fields(before), fields(after)
    if before.inputs and after.inputs:  # a chip priced on both sides (one added or removed is a candidate change)
        qb, qa = _quotes(before), _quotes(after)
        old.update({k: v for k, v in qb.items() if k in qa})
        new.update({k: v for k, v in qa.items() if k in qb})
    out = [
        Change(field=key, before=old.get(key), after=new.get(key))
        for key in list(new) + [k for k in old if k not in new]
        if old.get(key) != new.get(key)
    ]
    for attr, field in (("model", "models"), ("hardware", "hardware"), ("engine", "engines")):
        if f"candidates.{field}" in new and new[f"candidates.{field}"] is not None:
            continue  # the spec lists them: its own field says what changed
        old_set = sorted({getattr(c, attr) for c in before.candidates})
        new_set = sorted({getattr(c, attr) for c in after.candidates})
        if old_set and new_set and old_set != new_set:
            out.append(Change(field=f"candidates.{field}", before=old_set, after=new_set))
    return out


def _where(locate: Locate | None, file: str, field: str) -> tuple[int, int]:
    if locate is None:
        return 0, 0
    return locate(file, tuple(field.split(".")))


# ----------------------------------------------------------------------------------------------- compare


def _regression(
    kind: str, d: Delta, limit: float | None, spec: SpecResult, changes: list[Change], locate: Locate | None
) -> list[GateViolation]:
    if limit is None or d.change_pct is None or d.change_pct <= limit:
        return []
    budget_field = "budget.cost_per_item_usd" if kind == "cost" else "budget.latency_s"
    field = next((c.field for c in changes if not c.field.startswith("prices.")), budget_field)
    line, col = _where(locate, spec.file, field)
    return [
        GateViolation(
            limit=f"baseline_{kind}",
            field=field,
            line=line,
            col=col,
            budget=limit,
            value=d.after,
            before=d.before,
            change_pct=d.change_pct,
            percentile=spec.budget.get("latency_percentile", 95) if kind == "latency" else None,
        )
    ]


def compare_spec(
    spec: SpecResult, base: SpecResult | None, limits: Limits, has_baseline: bool, locate: Locate | None = None
) -> SpecGate:
    d = _spec_deltas(base, spec)
    changes = d["changes"]
    found = list(spec.violations)
    if base is not None:
        found += _regression("cost", d["cost_per_item_usd"], limits.max_cost_increase_pct, spec, changes, locate)
        found += _regression("latency", d["latency_s"], limits.max_latency_increase_pct, spec, changes, locate)
        # a new choice alone passes: the budgets and the baseline limits say whether it is acceptable
    status = "none" if not has_baseline else ("matched" if base is not None else "new")
    return SpecGate(name=spec.name, file=spec.file, baseline=status, **d, violations=found, passed=not found)


def compare(
    result: AnalysisResult,
    baseline: AnalysisResult | None = None,
    limits: Limits | None = None,
    locate: Locate | None = None,
    baseline_name: str | None = None,
) -> GateResult:
    """Gate every spec of ``result`` on its budgets and, with a baseline, on the limits. Pure."""
    limits = limits or Limits()
    gates, used = [], set()
    for spec in result.specs:
        base = match(spec, baseline) if baseline is not None else None
        if base is not None:
            used.add(id(base))
        gates.append(compare_spec(spec, base, limits, baseline is not None, locate))
    unmatched = [b.name for b in (baseline.specs if baseline else []) if id(b) not in used]
    return GateResult(
        baseline=baseline_name,
        limits=limits,
        specs=gates,
        unmatched_baseline=unmatched,
        exit_code=0 if all(g.passed for g in gates) else 1,
    )


# ----------------------------------------------------------------------------------------------- diff


def _key(c: CandidateResult) -> tuple[str, str, str]:
    return c.model, c.hardware, c.engine


def diff_candidates(before: list[CandidateResult], after: list[CandidateResult]) -> list[CandidateDiff]:
    """Candidates matched by model + hardware + engine, in the current ranking, removed ones last."""
    old = {_key(c): c for c in before}
    new_keys = {_key(c) for c in after}
    rows = [(old.get(_key(c)), c) for c in after] + [(c, None) for c in before if _key(c) not in new_keys]
    out = []
    for b, a in rows:
        ref = a or b
        status = "matched" if a and b else ("added" if a else "removed")
        out.append(
            CandidateDiff(
                model=ref.model,
                hardware=ref.hardware,
                engine=ref.engine,
                status=status,
                replica_before=b.replica if b else None,
                replica_after=a.replica if a else None,
                feasible_before=b.feasible if b else None,
                feasible_after=a.feasible if a else None,
                cost_per_item_usd=_delta(
                    b.fleet_cost_usd_per_item if b else None, a.fleet_cost_usd_per_item if a else None
                ),
                latency_s=_delta(*gated_latency(b, a)),
                batch=_delta(b.batch if b else None, a.batch if a else None),
                gpus=_delta(b.gpus if b else None, a.gpus if a else None),
            )
        )
    return out


def diff_spec(before: SpecResult | None, after: SpecResult | None) -> SpecDiff:
    ref = after or before
    status = "matched" if before and after else ("added" if after else "removed")
    return SpecDiff(
        name=ref.name,
        file=ref.file,
        status=status,
        **_spec_deltas(before, after),
        candidates=diff_candidates(before.candidates if before else [], after.candidates if after else []),
    )


def diff(base: AnalysisResult, head: AnalysisResult) -> DiffResult:
    """Past, current and delta for every spec and candidate. Pure."""
    used, specs = set(), []
    for spec in head.specs:
        b = match(spec, base)
        if b is not None and id(b) in used:
            b = None
        if b is not None:
            used.add(id(b))
        specs.append(diff_spec(b, spec))
    specs += [diff_spec(b, None) for b in base.specs if id(b) not in used]
    return DiffResult(specs=specs)
