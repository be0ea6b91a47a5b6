"""The planner: every candidate for a spec, its best operating point, feasibility, and the recommendation.

Pure: takes a spec and a catalog, returns a :class:`~tokcost.records.results.SpecResult`. For each model x engine it
prices every batch size on every candidate chip at every band in one vectorised call; then for each model x
hardware x engine :mod:`tokcost.core.fleet` picks the batch and sizes the fleet that meets the latency objective at
its percentile under the peak load, hour by hour over the day; candidates are ranked by the cost of that fleet.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from tokcost.core.charts import analysis_charts
from tokcost.core.counterfactual import suggestions
from tokcost.core.families import fastest_qualifying, is_static, qualifying
from tokcost.core.fleet import BATCHES, SIZING_SHARE, Fleet, at_peak, day_chart, demand_rates, fleets, load_chart
from tokcost.core.pricing import PriceBook, price_book
from tokcost.engine.estimate import Config, calibrated_band, error_family, estimate_grid
from tokcost.engine.families import context_excess
from tokcost.engine.profiles import BANDS
from tokcost.engine.profiles import Band as BandName
from tokcost.engine.quality import quality_of, tier_problem
from tokcost.engine.result import EngineResult
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines, load_error_bands, offered
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.io.prices import load_prices
from tokcost.records.prices import PriceQuote
from tokcost.records.results import (
    Autoscaling,
    Band,
    CandidateKey,
    CandidateResult,
    DecoderSource,
    FamilyOutcome,
    FleetRisk,
    GateViolation,
    Headroom,
    Pricing,
    Recommendation,
    ReplicaOption,
    SpecResult,
    Violation,
)
from tokcost.records.spec import Spec

HOURS_PER_MONTH = 730.0  # 8,760 h / 12
RISKY_UTILIZATION = 0.85  # a lone replica busier than this, with no spare, is called out (budget.redundancy)


def candidate_models(spec: Spec, catalog: Catalog) -> list:
    """The spec's models (default: every preset that serves its kind), then its decoders from config files (found
    in ``catalog`` as :func:`spec_catalog` adds them)."""
    kind = spec.product.kind
    listed = spec.candidates.models
    presets = [catalog.model(i) for i in listed] if listed is not None else catalog.all("models")
    return [m for m in presets if kind in m.roles] + [catalog.model(a.label) for a in spec.candidates.architectures]


def spec_catalog(spec: Spec, catalog: Catalog) -> Catalog:
    """``catalog`` with the spec's decoders read from config files, each its preset with the decoder replaced, under
    its label. A spec re-validated after a change (the counterfactuals) no longer carries the decoders it was
    loaded with: their models are in the catalogue already."""
    read = [(a, a.decoder) for a in spec.candidates.architectures if a.decoder is not None]
    if not read:
        return catalog
    from tokcost.core.estimate import with_decoder

    return catalog.with_models(
        {a.label: with_decoder(catalog.model(a.model), a.config, decoder, a.label) for a, decoder in read}
    )


def _decoder_source(spec: Spec, model) -> DecoderSource | None:
    """Where ``model`` came from when it is one of the spec's decoders from config files."""
    found = next((a for a in spec.candidates.architectures if a.label == model.id), None)
    return None if found is None else DecoderSource(config=found.config, model=found.model)


def spec_prices(spec: Spec, catalog: Catalog, overrides: Mapping[str, float] | None = None) -> PriceBook:
    """The price of every hardware the spec may use, under its ``pricing:`` basis and the ``--price`` overrides."""
    listed = spec.candidates.hardware
    hardware = [catalog.hardware(i) for i in listed] if listed else catalog.all("hardware")
    return price_book(hardware, load_prices(), spec.pricing, overrides)


def candidate_hardware(spec: Spec, catalog: Catalog, prices: PriceBook) -> list:
    """The spec's hardware, or every preset priced under the basis."""
    if spec.candidates.hardware:
        return [catalog.hardware(i) for i in spec.candidates.hardware]
    return [h for h in catalog.all("hardware") if prices.quote(h.id) is not None]


def input_size(model, spec: Spec) -> tuple[int, int]:
    """The size a model is priced at: the product's, except for perception, where the model reads the photo as its
    image processor resizes it. A fixed-size model (Janus-Pro 384 px, Chameleon 512 px) takes it resized to that
    square; one with a range of sizes (Emu3) scales it, aspect kept, into the range (its processor's smart resize)."""
    p = spec.product
    if p.kind != "perception":
        return p.width, p.height
    lo, hi = model.side_limits()
    if lo == hi:
        return lo, lo
    scale = max(min(1.0, hi / max(p.width, p.height)), lo / min(p.width, p.height))
    width, height = (min(hi, max(lo, round(side * scale))) for side in (p.width, p.height))
    return width, height


def _static_problems(spec: Spec, model) -> list[Violation]:
    p = spec.product
    out = []
    lo, hi = model.side_limits()
    for side, px in (("width", p.width), ("height", p.height)):
        if p.kind != "perception" and not lo <= px <= hi:  # a photo to answer about is resized (input_size)
            out.append(Violation(kind="size", name=side, value=px, limit=hi if px > hi else lo))
    frames = p.frame_count()
    max_frames = model.generation.max_frames(model)
    if frames and max_frames and frames > max_frames:
        out.append(Violation(kind="frames", value=frames, limit=max_frames))
    problem = tier_problem(model, p.kind, p.quality_tier)
    if problem:
        out.append(problem)
    return out


def _grid(model, hardware: list, engine, spec: Spec, calibration, profiles, prices: PriceBook) -> dict:
    """Every batch of BATCHES on every chip, every replica size of the spec's it takes, at every band, in one
    vectorised call: {(hw id, band, gpus): arrays}."""
    p = spec.product
    cfg = Config(
        model=model,
        hardware=hardware[0],
        profiles=profiles,
        engine=engine,
        precision=spec.candidates.precision,
        width=input_size(model, spec)[0],
        height=input_size(model, spec)[1],
        frames=p.frame_count(),
        batch=BATCHES,
        steps=p.steps if model.generation.steps else None,
        prompt_tokens=p.prompt_tokens,
        answer_tokens=p.answer_tokens,
        role=p.kind,
        calibration=calibration,
        prices=prices.usd_per_gpu_hour(),
        kernels=hardware_kernels,
    )
    return estimate_grid(cfg, hardware, BANDS, spec.candidates.gpus_per_replica)


def _finite(x) -> float | None:
    return float(x) if math.isfinite(x) else None


def _at(x, i):
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a.item(i)  # item(i): the i-th element in C order, as a Python number


class _AtBatch(Mapping):
    """A grid result's numbers at one batch, read when asked for (most are never read for a size not kept)."""

    def __init__(self, result: Mapping, i: int):
        self.result, self.i = result, i

    def __getitem__(self, key):
        return _at(self.result[key], self.i)

    def __iter__(self):
        return iter(self.result)

    def __len__(self):
        return len(self.result)


class _Facts(NamedTuple):
    """What ranks one replica size of a model x hardware x engine, read before any record is built."""

    quote: PriceQuote | None
    gpus: int | None
    monthly: float | None
    fleet_cost: float | None
    monthly_fixed: float | None
    monthly_auto: float | None
    latency_b1: float  # central seconds at batch 1
    fits_b1: bool
    parallelism: str
    violations: list[Violation]


def _facts(
    model, hw, engine, G: int, spec: Spec, c: EngineResult, fleet: Fleet, static: list[Violation], prices
) -> _Facts:
    i = fleet.index
    gpus = monthly = fleet_cost = monthly_fixed = monthly_auto = None
    quote = prices.quote(hw.id)
    if quote is not None:
        usd_per_gpu_hour = quote.usd_per_gpu_hour
        if math.isfinite(fleet.replicas_fixed):
            # a GPU-hour per replica-hour per GPU; the autoscaled fleet pays for the mean of its hourly sizes
            monthly_fixed = fleet.replicas_fixed * G * usd_per_gpu_hour * HOURS_PER_MONTH
            monthly_auto = float(fleet.replicas_hourly.mean()) * G * usd_per_gpu_hour * HOURS_PER_MONTH
            autoscaled = spec.demand.scaling == "autoscaled"
            gpus = int((fleet.replicas_hourly.max() if autoscaled else fleet.replicas_fixed) * G)
            monthly = monthly_auto if autoscaled else monthly_fixed
            fleet_cost = monthly / (spec.demand.per_day * HOURS_PER_MONTH / 24.0)
    latency_b1 = _at(c.latency_s, 0)
    found = list(static)
    if not bool(_at(c.fits_in_memory, 0)):
        usable = hw.memory_gb * load_engines()[engine].usable_memory_fraction
        found.append(Violation(kind="memory", value=_at(c.memory.total, 0) / 1e9, limit=usable))
    elif latency_b1 > spec.budget.latency_s:
        found.append(Violation(kind="latency", value=latency_b1, limit=spec.budget.latency_s))
    if not found and not math.isfinite(fleet.replicas_fixed):
        found.append(Violation(kind="load", value=latency_b1, limit=spec.budget.latency_s))
    excess = context_excess(model, _AtBatch(c.tokens, i))
    if excess:
        found.insert(0, Violation(kind="context", value=excess[0], limit=excess[1]))
    if quote is None:
        found.append(Violation(kind="price", name=spec.pricing.commitment, provider=spec.pricing.provider))
    elif not found:
        found += _cost_violations(spec, fleet_cost, monthly)
    return _Facts(
        quote=quote,
        gpus=gpus,
        monthly=monthly,
        fleet_cost=fleet_cost,
        monthly_fixed=monthly_fixed,
        monthly_auto=monthly_auto,
        latency_b1=latency_b1,
        fits_b1=bool(_at(c.fits_in_memory, 0)),
        parallelism=str(np.asarray(c.parallelism).flat[0]),  # one replica size: the same at every batch
        violations=found,
    )


def _candidate(
    model, hw, engine, G: int, spec: Spec, res: Mapping[BandName, EngineResult], fleet: Fleet, facts: _Facts
) -> CandidateResult:
    c, lo, hi = res["central"], res["low"], res["high"]
    i = fleet.index
    p = spec.product
    # the latency band widened to the model's own held-out error on its family; throughput and cost follow it
    central = _at(c.latency_s, i)
    family = error_family(model, p.kind, G)
    low, high = calibrated_band(
        central, _at(lo.latency_s, i), _at(hi.latency_s, i), load_error_bands().get(family), _at(c.floor_s, i)
    )
    lat = Band(central=central, low=low, high=high)
    batch = float(BATCHES[i])
    thr = Band(central=_at(c.throughput_items_per_s, i), low=batch / high, high=batch / low)
    cost = None
    if facts.quote is not None:
        per_item = _at(c.cost_usd_per_item, i)
        cost = Band(central=per_item, low=per_item * low / central, high=per_item * high / central)
    mem = {k: _at(v, i) / 1e9 for k, v in c.memory.parts().items()}
    fits = bool(_at(c.fits_in_memory, i))
    metric, score = quality_of(model, p.kind)
    width, height = input_size(model, spec)
    steps = c.steps
    latency = fleet.latency
    if latency is None:
        raise ValueError("the fleet's latency at peak is not known yet (fleet.at_peak)")
    return CandidateResult(
        model=model.id,
        family=model.family,
        hardware=hw.id,
        engine=engine,
        precision=spec.candidates.precision,
        gpus_per_replica=G,
        parallelism=facts.parallelism,
        batch=int(BATCHES[i]),
        cfg=c.cfg_mode,
        steps=None if steps is None else int(_at(steps, i)),
        width=p.width,
        height=p.height,
        frames=p.frame_count(),
        latency_s=lat,
        throughput_items_per_s=thr,
        cost_usd_per_item=cost,
        fleet_cost_usd_per_item=facts.fleet_cost,
        gpus=facts.gpus,
        monthly_usd=facts.monthly,
        price=facts.quote,
        memory_gb=mem,
        fits_in_memory=fits,
        bound=str(_at(c.bound, i)),
        overhead_bound=bool(_at(c.overhead_bound, i)),
        tokens={k: _at(v, i) for k, v in c.tokens.items()},
        queue_wait_s=_finite(latency.objective - fleet.service_s),
        latency_p50_s=_finite(latency.p50),
        latency_p95_s=_finite(latency.p95),
        latency_p99_s=_finite(latency.p99),
        latency_objective_s=_finite(latency.objective),
        utilization_at_peak=_finite(fleet.utilization),
        replicas_at_peak=int(fleet.replicas_peak) if math.isfinite(fleet.replicas_peak) else None,
        replicas_hourly=[int(r) for r in fleet.replicas_hourly] if np.isfinite(fleet.replicas_hourly).all() else None,
        monthly_usd_fixed=facts.monthly_fixed,
        monthly_usd_autoscaled=facts.monthly_auto,
        batch_timeout_s=fleet.timeout_s,
        latency_b1_s=facts.latency_b1,
        unreleased=p.kind in model.unreleased_roles,
        publisher=_publisher(model.repository),
        continuous_batching=load_engines()[engine].continuous,
        quality_metric=metric,
        quality_score=score,
        decoder=_decoder_source(spec, model),
        feasible=not facts.violations,
        violations=facts.violations,
        priced_width=width if (width, height) != (p.width, p.height) else None,
        priced_height=height if (width, height) != (p.width, p.height) else None,
    )


def _publisher(repository: str) -> str | None:
    """The owner in a repository address (huggingface.co/BAAI/Emu3-Gen -> BAAI)."""
    parts = repository.split("://", 1)[-1].split("/")
    return parts[1] if len(parts) > 2 else None


def _cost_violations(spec: Spec, fleet: float | None, monthly: float | None) -> list[Violation]:
    """The cost budgets a candidate that meets every other requirement breaks."""
    b, out = spec.budget, []
    if b.cost_per_item_usd is not None and fleet is not None and fleet > b.cost_per_item_usd:
        out.append(Violation(kind="cost_per_item", value=fleet, limit=b.cost_per_item_usd))
    if b.monthly_usd is not None and monthly is not None and monthly > b.monthly_usd:
        out.append(Violation(kind="monthly", value=monthly, limit=b.monthly_usd))
    return out


def evaluate(spec: Spec, catalog: Catalog, calibration=None, prices: PriceBook | None = None) -> list[CandidateResult]:
    return [c for c, _ in _evaluate(spec, catalog, calibration, prices)]


def evaluate_fleets(
    spec: Spec, catalog: Catalog, calibration=None, prices: PriceBook | None = None
) -> list[tuple[CandidateResult, Fleet]]:
    """Every candidate with its fleet (what ``tokcost simulate`` runs)."""
    return _evaluate(spec, catalog, calibration, prices)


def _evaluate(
    spec: Spec, catalog: Catalog, calibration, prices: PriceBook | None
) -> list[tuple[CandidateResult, Fleet]]:
    """Every model x hardware x engine with its operating point under load, on its best replica size."""
    catalog = spec_catalog(spec, catalog)
    prices = prices if prices is not None else spec_prices(spec, catalog)
    models = candidate_models(spec, catalog)
    hardware = candidate_hardware(spec, catalog, prices)
    profiles = load_engines()
    wanted = spec.candidates.engines
    combos = []
    for model in models:
        if spec.product.kind not in model.roles:  # load_spec already refuses a listed model of another kind
            continue
        static = _static_problems(spec, model)
        grids = {
            engine: _grid(model, hardware, engine, spec, calibration, profiles, prices)
            for engine in (
                [e for e, p in profiles.items() if e in wanted and p.runs(model.family)]
                if wanted
                else offered(profiles, model.family)
            )
        }
        for hw in hardware:
            for engine, grid in grids.items():
                for G in spec.candidates.gpus_per_replica:
                    if (hw.id, "central", G) in grid:
                        combos.append((model, hw, engine, G, {b: grid[(hw.id, b, G)] for b in BANDS}, static))
    if not combos:
        return []
    sized = fleets(spec, [res["central"] for *_, res, _ in combos], [profiles[e].batching for _, _, e, *_ in combos])
    shapes: dict[tuple, list[_Shape]] = {}
    for (model, hw, engine, G, res, static), fleet in zip(combos, sized, strict=True):
        facts = _facts(model, hw, engine, G, spec, res["central"], fleet, static, prices)
        shapes.setdefault((model.id, hw.id, engine), []).append(_Shape(model, hw, engine, G, res, fleet, facts))
    chosen = [_best_replica(spec, options) for options in shapes.values()]
    loaded = at_peak(spec, [best.fleet for best, _ in chosen])  # the latency of the fleets kept only
    out = []
    for (best, others), fleet in zip(chosen, loaded, strict=True):
        record = _candidate(best.model, best.hw, best.engine, best.G, spec, best.res, fleet, best.facts)
        record.other_replicas = others
        out.append((record, fleet))
    return out


class _Shape(NamedTuple):
    """One replica size of a model x hardware x engine, sized and priced."""

    model: Any
    hw: Any
    engine: str
    G: int
    res: Mapping[BandName, EngineResult]
    fleet: Fleet
    facts: _Facts


def _best_replica(spec: Spec, options: list[_Shape]) -> tuple[_Shape, list[ReplicaOption]]:
    """The replica size a model x hardware x engine is offered at: the cheapest fleet among the feasible sizes;
    when none is feasible, the one closest to it (fits in memory at batch 1, then meets the latency budget there,
    then the cheapest, then the fastest), so that its reasons say what even that size lacks. The others are listed
    on it."""

    def key(o: _Shape):
        f = o.facts
        cost = f.fleet_cost if f.fleet_cost is not None else math.inf
        return (bool(f.violations), not f.fits_b1, f.latency_b1 > spec.budget.latency_s, cost, f.latency_b1)

    best = min(options, key=key)
    others = [
        ReplicaOption(
            gpus_per_replica=o.G,
            parallelism=o.facts.parallelism,
            latency_s=o.facts.latency_b1,
            fleet_cost_usd_per_item=o.facts.fleet_cost,
            feasible=not o.facts.violations,
        )
        for o in options
        if o is not best
    ]
    return best, others


def _fleet_cost(c: CandidateResult) -> float:
    """A ranked candidate's fleet cost per item: every feasible candidate is priced."""
    if c.fleet_cost_usd_per_item is None:
        raise ValueError(f"{c.model} on {c.hardware} has no fleet cost")
    return c.fleet_cost_usd_per_item


def _rank_key(c: CandidateResult):
    return (c.fleet_cost_usd_per_item if c.fleet_cost_usd_per_item is not None else math.inf, c.latency_s.central)


def recommend(spec: Spec, candidates: list[CandidateResult]) -> Recommendation:
    """The facts of the recommendation (the choice, the runner-up and the rule that picked it, how each other family
    fared, headroom, autoscaling); :mod:`tokcost.render.advice` words them."""
    feasible = sorted((c for c in candidates if c.feasible), key=_rank_key)
    peak, _ = demand_rates(spec)
    excluded: dict[str, Violation] = {}
    for c in candidates:
        tier = next((v for v in c.violations if v.kind in ("quality", "conditioning")), None)
        if tier is not None:
            excluded.setdefault(c.model, tier)
    if not feasible:
        blockers: dict[str, int] = {}
        for c in candidates:
            for kind in dict.fromkeys(v.kind for v in c.violations):
                blockers[kind] = blockers.get(kind, 0) + 1
        return Recommendation(
            priced_count=len(candidates),
            peak_rps=peak,
            blockers=dict(sorted(blockers.items(), key=lambda kv: -kv[1])),
            tier_excluded=excluded,
        )
    best = feasible[0]
    same = [c for c in feasible[1:] if (c.model, c.hardware) == (best.model, best.hardware)]
    runner = next((c for c in feasible if (c.model, c.hardware) != (best.model, best.hardware)), None)
    return Recommendation(
        choice=best,
        feasible_count=len(feasible),
        priced_count=len(candidates),
        peak_rps=peak,
        runner_up=runner.key if runner is not None else None,
        runner_up_skipped=sum(1 for c in same if runner is None or _rank_key(c) <= _rank_key(runner)),
        families=_families(spec, candidates, best),
        headroom=_headroom(spec, best),
        autoscaling=_autoscaling(spec, best),
        fleet_risk=_fleet_risk(spec, best),
        tier_excluded=excluded,
    )


def _headroom(spec: Spec, c: CandidateResult) -> Headroom | None:
    """The service time's share of the budget when above half: queueing and batch forming may add only the rest
    of :data:`SIZING_SHARE` of it."""
    service = (c.latency_objective_s or 0.0) - (c.queue_wait_s or 0.0)  # continuous: at the occupancy of the peak
    share = service / spec.budget.latency_s
    if share <= 0.5:
        return None
    return Headroom(
        service_share=share,
        queueing_allowance_s=spec.budget.latency_s * SIZING_SHARE - service,
        sizing_share=SIZING_SHARE,
    )


def _autoscaling(spec: Spec, c: CandidateResult) -> Autoscaling | None:
    fixed, auto = c.monthly_usd_fixed, c.monthly_usd_autoscaled
    if not fixed or auto is None or c.replicas_hourly is None:
        return None
    return Autoscaling(
        fixed_usd=fixed,
        autoscaled_usd=auto,
        low=min(c.replicas_hourly),
        high=max(c.replicas_hourly),
        min_replicas=spec.demand.min_replicas,
        saving=1.0 - auto / fixed,
    )


def _fleet_risk(spec: Spec, c: CandidateResult) -> FleetRisk:
    """What the fleet is sized against beyond Poisson arrivals at peak: bursty arrivals, the spare replica of n+1,
    or a lone replica with no spare running hot (issue 30)."""
    n = c.replicas_at_peak or 0
    hot = spec.budget.redundancy == "none" and n == 1 and (c.utilization_at_peak or 0.0) > RISKY_UTILIZATION
    return FleetRisk(
        arrival_scv=spec.demand.scv,
        redundancy=spec.budget.redundancy,
        replicas=n,
        lone_hot_replica=hot,
        risky_utilization=RISKY_UTILIZATION,
    )


def _families(spec: Spec, candidates: list[CandidateResult], best: CandidateResult) -> list[FamilyOutcome]:
    out = []
    for fam in sorted({c.family for c in candidates} - {best.family}):
        pool = [c for c in candidates if c.family == fam]
        feasible = sorted((c for c in pool if c.feasible), key=_rank_key)
        if feasible:
            alt = feasible[0]
            ratio = _fleet_cost(alt) / _fleet_cost(best)
            out.append(FamilyOutcome(family=fam, status="feasible", candidate=alt.key, cost_ratio=ratio))
            continue
        if not qualifying(pool):
            why: dict[str, Violation] = {}
            for c in pool:
                why.setdefault(c.model, next(v for v in c.violations if is_static(v)))
            out.append(FamilyOutcome(family=fam, status="unqualified", unqualified=why))
            continue
        fastest = fastest_qualifying(pool)
        if fastest is None:
            out.append(FamilyOutcome(family=fam, status="no_fit"))
            continue
        larger = max((o.gpus_per_replica for o in fastest.other_replicas), default=0) > fastest.gpus_per_replica
        out.append(
            FamilyOutcome(
                family=fam,
                status="blocked",
                candidate=fastest.key,
                largest_replica=not larger and fastest.gpus_per_replica > 1,
            )
        )
    return out


def violations(
    spec: Spec, rec: Recommendation, doc=None, candidates: list[CandidateResult] | None = None
) -> list[GateViolation]:
    """Why no option is recommended: the cost budgets the cheapest option that meets every other requirement
    breaks, or infeasibility (with the verified change that would end it). A recommended option meets every budget
    (cost budgets are part of feasibility)."""

    def pos(path):
        return doc.where(path) if doc is not None else (0, 0)

    if rec.choice is not None:
        return []  # a recommended option meets every budget
    over_cost = sorted(
        (
            c
            for c in candidates or []
            if c.violations and all(v.kind in ("cost_per_item", "monthly") for v in c.violations)
        ),
        key=_rank_key,
    )
    if not over_cost:  # pointed at the field the verified fix changes first, else the latency budget
        fix = rec.suggestions[0] if rec.suggestions else None
        field = fix.changes[0].field if fix is not None else "budget.latency_s"
        line, col = pos(tuple(field.split(".")[:2]))
        return [
            GateViolation(
                limit="feasibility",
                field=field,
                line=line,
                col=col,
                budget=spec.budget.latency_s,
                suggestion=fix,
            )
        ]
    c, b, out = over_cost[0], spec.budget, []
    if b.cost_per_item_usd is not None and _fleet_cost(c) > b.cost_per_item_usd:
        line, col = pos(("budget", "cost_per_item_usd"))
        out.append(
            GateViolation(
                limit="cost_per_item_usd",
                field="budget.cost_per_item_usd",
                line=line,
                col=col,
                budget=b.cost_per_item_usd,
                value=c.fleet_cost_usd_per_item,
                candidate=c.key,
            )
        )
    if b.monthly_usd is not None and (c.monthly_usd or 0.0) > b.monthly_usd:
        line, col = pos(("budget", "monthly_usd"))
        out.append(
            GateViolation(
                limit="monthly_usd",
                field="budget.monthly_usd",
                line=line,
                col=col,
                budget=b.monthly_usd,
                value=c.monthly_usd,
                candidate=c.key,
            )
        )
    return out


def _price(prices: PriceBook, hardware: str) -> float | None:
    quote = prices.quote(hardware)
    return None if quote is None else quote.usd_per_gpu_hour


def replan_candidates(
    spec: Spec,
    keys: list[CandidateKey],
    catalog: Catalog,
    calibration=None,
    overrides: Mapping[str, float] | None = None,
) -> list[CandidateResult]:
    """The candidates ``keys`` names, planned under ``spec`` (every candidate when ``keys`` is empty): the spec's
    candidate lists narrowed to their models, hardware and engines, so only those are priced."""
    if keys:
        named = {k.model for k in keys}
        architectures = [a for a in spec.candidates.architectures if a.label in named]
        labels = {a.label for a in architectures}
        narrowed = spec.candidates.model_copy(
            update={
                "models": list(dict.fromkeys(k.model for k in keys if k.model not in labels)),
                "architectures": architectures,
                "hardware": list(dict.fromkeys(k.hardware for k in keys)),
                "engines": list(dict.fromkeys(k.engine for k in keys)),
            }
        )
        spec = spec.model_copy(update={"candidates": narrowed})
    planned = [c for c, _ in _evaluate(spec, catalog, calibration, spec_prices(spec, catalog, overrides))]
    return [c for c in planned if c.key in keys] if keys else planned


def defaults_applied(spec: Spec) -> list[str]:
    """The spec fields a reader should know were left at their default: the day's peak and the quality tier (the
    percentile is in every budget phrase already)."""
    out = []
    if "quality_tier" not in spec.product.model_fields_set:
        out.append("product.quality_tier")
    if spec.demand.hourly is None and "peak_to_mean" not in spec.demand.model_fields_set:
        out.append("demand.peak_to_mean")
    return out


def analyze_spec(
    spec: Spec,
    file: str,
    catalog: Catalog,
    calibration=None,
    doc=None,
    overrides: Mapping[str, float] | None = None,
    today: dt.date | None = None,
) -> SpecResult:
    """The whole analysis of one spec; ``overrides`` are ``--price`` figures, ``today`` dates the price notes."""
    catalog = spec_catalog(spec, catalog)
    prices = spec_prices(spec, catalog, overrides)
    evaluated = _evaluate(spec, catalog, calibration, prices)
    candidates = [c for c, _ in evaluated]
    rec = recommend(spec, candidates)

    def replan(changed: Spec, keys: list[CandidateKey]) -> list[CandidateResult]:
        return replan_candidates(changed, keys, catalog, calibration, overrides)

    models = {c.model: catalog.model(c.model) for c in candidates}
    rec.suggestions = suggestions(
        spec, candidates, rec.choice, replan, models, lambda hw: None if hw in (overrides or {}) else _price(prices, hw)
    )
    used = [c.hardware for c in candidates]
    dates = sorted(c.price.date for c in candidates if c.price is not None and c.price.date)
    day = today or dt.date.today()
    result = SpecResult(
        name=spec.name,
        file=file,
        product=spec.product.model_dump(exclude_none=True),
        demand=spec.demand.model_dump(),
        budget=spec.budget.model_dump(exclude_none=True),
        candidates=sorted(candidates, key=lambda c: (not c.feasible, _rank_key(c))),
        recommendation=rec,
        violations=violations(spec, rec, doc, candidates),
        inputs=spec.model_dump(mode="json", exclude={"name", "description", "version"}),
        defaults=defaults_applied(spec),
        pricing=Pricing(
            basis=prices.basis,
            as_of=day.isoformat(),
            read_from=dates[0] if dates else None,
            read_to=dates[-1] if dates else None,
            stale=prices.stale(used, day),
        ),
        warnings=[n for n in [calibration.unused_note(used)] if n] if calibration is not None else [],
        traffic=spec.demand.trace_summary,
    )
    # the report's chart curves, priced now with the same presets and calibration: a saved result draws them alone
    result.charts = analysis_charts(result, catalog, calibration)
    if rec.choice is not None:  # the recommended fleet under load and over the day
        fleet = next(f for c, f in evaluated if c is rec.choice)
        label = f"{rec.choice.model} / {rec.choice.replica} / {rec.choice.engine}"
        result.charts += [load_chart(spec, label, fleet), day_chart(spec, fleet)]
    return result
