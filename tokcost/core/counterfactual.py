"""What would change the answer, verified: each suggestion is a set of spec changes that, applied and re-planned,
makes its named candidate feasible (or the recommendation). Pure.

A candidate's violations say which change could remove each: a quality tier it passes, larger replicas for memory,
a latency budget the fleet meets, a cost or monthly budget at its cost. The changes are found one violation at a
time, each re-planned (removing one violation may expose the next: a looser latency budget lets the fleet run
busier, so its cost is read after it), then pruned to a set from which no change can be dropped. Re-planning
prices only the candidate named (its model, hardware and engine), so a suggestion costs a few small vectorised
estimates, not a whole analysis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from tokcost.core.fleet import SIZING_SHARE
from tokcost.engine.quality import passing_tier
from tokcost.records.results import STATIC_KINDS, CandidateKey, CandidateResult, SpecChange, Suggestion
from tokcost.records.spec import Spec

Replan = Callable[[Spec, list[CandidateKey]], list[CandidateResult]]  # the named candidates, re-planned
LATENCY_STEPS = (1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)  # budgets tried, times the batch-1 latency / SIZING_SHARE
MAX_ROUNDS = 6  # one per violation kind a candidate can have fixed, and then some
PER_FAMILY = 3  # candidates of a family tried (the closest to feasible first, one per model)
FIXABLE = ("quality", "memory", "latency", "load", "cost_per_item", "monthly")


def apply(spec: Spec, changes: list[SpecChange]) -> Spec | None:
    """``spec`` with each dotted field set (``pricing.usd_per_gpu_hour.h100-sxm`` sets one key), validated again;
    None when the changed spec is not one a user could write (a budget past its field's bound): no suggestion."""
    data = spec.model_dump()
    for change in changes:
        *path, last = change.field.split(".")
        node: Any = data
        for part in path:
            if node.get(part) is None:  # an unset section (pricing.owned) or map
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ValueError(f"{change.field} is not a spec field")
        node[last] = change.value
    try:
        return Spec.model_validate(data)
    except ValidationError:
        return None


def ceil3(x: float) -> float:
    """``x`` rounded up to three significant digits (a budget the figure meets)."""
    step = 10.0 ** (math.floor(math.log10(x)) - 2)
    out = float(f"{math.ceil(x / step - 1e-9) * step:.3g}")
    return out if out >= x else float(f"{(math.ceil(x / step) + 1) * step:.3g}")


def _sole(replan: Replan, spec: Spec | None, key: CandidateKey) -> CandidateResult | None:
    """``key`` re-planned under ``spec``; None for a spec :func:`apply` refused."""
    return None if spec is None else next(iter(replan(spec, [key])), None)


def _fix(spec: Spec, c: CandidateResult, replan: Replan, kind_of_product: str, model) -> list[SpecChange] | None:
    """One change that removes ``c``'s first fixable violation, or None when it has a static one."""
    kinds = [v.kind for v in c.violations]
    if any(k in STATIC_KINDS or k == "price" for k in kinds):
        return None
    v = c.violations[0]
    if v.kind == "quality":
        tier = passing_tier(model, kind_of_product)
        return None if tier == spec.product.quality_tier else [SpecChange(field="product.quality_tier", value=tier)]
    if v.kind == "memory":
        sizes = sorted(set(spec.candidates.gpus_per_replica) | {2, 4, 8})
        return (
            None
            if sizes == sorted(spec.candidates.gpus_per_replica)
            else [SpecChange(field="candidates.gpus_per_replica", value=sizes)]
        )
    if v.kind in ("latency", "load"):
        if max(spec.candidates.gpus_per_replica) == 1:  # replicas of several GPUs split each forward
            change = [SpecChange(field="candidates.gpus_per_replica", value=[1, 2, 4, 8])]
            after = _sole(replan, apply(spec, change), c.key)
            if after is not None and not any(w.kind in ("latency", "load") for w in after.violations):
                return change
        floor = (v.value or c.latency_at_batch_1) / SIZING_SHARE
        for step in LATENCY_STEPS:
            budget = ceil3(max(floor * step, spec.budget.latency_s * 1.01))
            change = [SpecChange(field="budget.latency_s", value=budget)]
            after = _sole(replan, apply(spec, change), c.key)
            if after is not None and not any(w.kind in ("latency", "load") for w in after.violations):
                return change
        return None
    field = {"cost_per_item": "budget.cost_per_item_usd", "monthly": "budget.monthly_usd"}[v.kind]
    return [SpecChange(field=field, value=ceil3(v.value or 0.0))]


def _merge(changes: list[SpecChange], new: list[SpecChange]) -> list[SpecChange]:
    fields = {c.field for c in new}
    return [c for c in changes if c.field not in fields] + new


def make_feasible(spec: Spec, c: CandidateResult, replan: Replan, model) -> Suggestion | None:
    """The smallest set of changes found that makes ``c`` feasible, verified by re-planning; None when a static
    violation (size, frames, context, conditioning) or a missing price stands in the way."""
    changes: list[SpecChange] = []
    current: CandidateResult | None = c
    for _ in range(MAX_ROUNDS):
        if current is None or current.feasible:
            break
        changed = apply(spec, changes)
        fix = None if changed is None else _fix(changed, current, replan, spec.product.kind, model)
        if fix is None:
            return None
        changes = _merge(changes, fix)
        current = _sole(replan, apply(spec, changes), c.key)
    if current is None or not current.feasible or not changes:
        return None
    for change in list(changes):  # prune: a change the others make unnecessary goes
        trial = [x for x in changes if x is not change]
        after = _sole(replan, apply(spec, trial), c.key) if trial else None
        if after is not None and after.feasible:
            changes, current = trial, after
    return Suggestion(
        candidate=c.key,
        changes=changes,
        single=len(changes) == 1,
        fleet_cost_usd_per_item=current.fleet_cost_usd_per_item,
        latency_objective_s=current.latency_objective_s,
    )


def _closeness(c: CandidateResult):
    """Those that miss only cost budgets first (they meet everything else; a candidate's cost is only checked
    once it does), then the fewest violation kinds, the cheapest, the fastest at batch 1."""
    cost = c.fleet_cost_usd_per_item if c.fleet_cost_usd_per_item is not None else math.inf
    beyond_cost = any(v.kind not in ("cost_per_item", "monthly") for v in c.violations)
    return (beyond_cost, len({v.kind for v in c.violations}), cost, c.latency_at_batch_1)


def suggestions(
    spec: Spec,
    candidates: list[CandidateResult],
    choice: CandidateResult | None,
    replan: Replan,
    models: dict,
    price_of: Callable[[str], float | None],
) -> list[Suggestion]:
    """For each family without the choice: the changes that make its closest candidates feasible (the fewest
    changes among the first :data:`PER_FAMILY` tried), or, for a family with a feasible option, the price of its
    hardware at which that option becomes the recommendation."""
    replan = _memo(replan)
    out = []
    for fam in sorted({c.family for c in candidates} - ({choice.family} if choice else set())):
        pool = [c for c in candidates if c.family == fam]
        feasible = [c for c in pool if c.feasible]
        if feasible and choice is not None:
            found = _cheaper(spec, feasible[0], choice, replan, price_of)
            out += [found] if found else []
            continue
        ranked = sorted(
            (c for c in pool if not c.feasible and all(v.kind in FIXABLE for v in c.violations)), key=_closeness
        )
        tried = list({c.model: c for c in reversed(ranked)}.values())[::-1]  # each model's closest, in rank order
        tried = sorted(tried, key=_closeness)[:PER_FAMILY]
        made = [s for c in tried if (s := make_feasible(spec, c, replan, models[c.model])) is not None]
        if made:
            out.append(min(made, key=lambda s: (len(s.changes), s.fleet_cost_usd_per_item or math.inf)))
    return sorted(out, key=lambda s: (len(s.changes), s.fleet_cost_usd_per_item or math.inf))


def _memo(replan: Replan) -> Replan:
    """``replan`` that prices each (spec, candidates) once: the search re-plans a spec it has seen (the change a fix
    was tested with is re-planned again as the next round's start)."""
    seen: dict[tuple, list[CandidateResult]] = {}

    def call(spec: Spec, keys: list[CandidateKey]) -> list[CandidateResult]:
        key = (spec.model_dump_json(), tuple((k.model, k.hardware, k.engine) for k in keys))
        if key not in seen:
            seen[key] = replan(spec, keys)
        return seen[key]

    return call


def _cheaper(
    spec: Spec,
    alt: CandidateResult,
    best: CandidateResult,
    replan: Replan,
    price_of: Callable[[str], float | None],
) -> Suggestion | None:
    """The GPU-hour price of ``alt``'s hardware at which ``alt`` becomes the recommendation, verified by re-planning
    every candidate on either chip (a lower price there helps them all); None when both share a chip or the
    price is set on the command line."""
    price = price_of(alt.hardware)
    if alt.hardware == best.hardware or price is None or not alt.fleet_cost_usd_per_item:
        return None
    target = price * (best.fleet_cost_usd_per_item or 0.0) / alt.fleet_cost_usd_per_item
    step = 10.0 ** (math.floor(math.log10(target)) - 2)
    new = float(f"{math.floor(target / step) * step * 0.999:.3g}")
    if new <= 0:
        return None
    change = [SpecChange(field=f"pricing.usd_per_gpu_hour.{alt.hardware}", value=new)]
    priced = apply(spec, change)
    if priced is None:
        return None
    after = replan(priced, [])  # every candidate: the recommendation is compared across them all
    feasible = sorted(
        (c for c in after if c.feasible),
        key=lambda c: (c.fleet_cost_usd_per_item or math.inf, c.latency_s.central),
    )
    if not feasible or feasible[0].key != alt.key:
        return None
    return Suggestion(
        candidate=alt.key,
        goal="chosen",
        changes=change,
        fleet_cost_usd_per_item=feasible[0].fleet_cost_usd_per_item,
        latency_objective_s=feasible[0].latency_objective_s,
    )
