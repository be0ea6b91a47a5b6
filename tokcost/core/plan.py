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
from tokcost.core.fleet import (
    BATCHES,
    SIZING_SHARE,
    Fleet,
    Fleets,
    at_peak,
    day_chart,
    demand_rates,
    fleets,
    load_chart,
    step_inputs,
)
from tokcost.core.pricing import PriceBook, price_book
from tokcost.engine.estimate import Config, calibrated_band, error_family, estimate_stack
from tokcost.engine.families import context_excess
from tokcost.engine.families.ar import sliding_window_note
from tokcost.engine.profiles import BANDS
from tokcost.engine.quality import quality_of, tier_problem
from tokcost.engine.result import EngineResult
from tokcost.io.catalog import Catalog
from tokcost.io.engines import error_band, load_engines, offered
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.io.prices import load_prices
from tokcost.records.engines import EngineProfile
from tokcost.records.prices import PriceQuote
from tokcost.records.results import (
    Autoscaling,
    Band,
    BandRisk,
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


def spec_engines(spec: Spec, profiles: Mapping[str, EngineProfile], family: str) -> list[str]:
    """The engines a spec's candidates of ``family`` are priced under: those it lists that run the family, or,
    listing none, the current engines that do (:func:`tokcost.io.engines.offered`)."""
    wanted = spec.candidates.engines
    if wanted:
        return [e for e, p in profiles.items() if e in wanted and p.runs(family)]
    return offered(profiles, family)


def _decoder_source(spec: Spec, model) -> DecoderSource | None:
    """Where ``model`` came from when it is one of the spec's decoders from config files."""
    found = next((a for a in spec.candidates.architectures if a.label == model.id), None)
    if found is None:
        return None
    profiles = load_engines()
    return DecoderSource(
        config=found.config,
        model=found.model,
        sliding_window_note=sliding_window_note(
            model.architecture, profiles, spec_engines(spec, profiles, model.family)
        ),
    )


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


def _grid(model, hardware: list, engine, spec: Spec, calibration, profiles, prices: PriceBook, chips: dict):
    """Every batch of BATCHES on every chip, every replica size of the spec's it takes, at every band, in one
    vectorised call: (keys, stacked result) of :func:`~tokcost.engine.estimate.estimate_stack` (``chips``: its
    store of chip figures, kept over one plan)."""
    p = spec.product
    cfg = Config(
        model=model,
        hardware=hardware[0],
        profiles=profiles,
        engine=engine,
        precision=spec.candidates.precision,
        vae_precision=spec.candidates.vae_precision,
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
    return estimate_stack(cfg, hardware, BANDS, spec.candidates.gpus_per_replica, chips)


def _finite(x) -> float | None:
    return float(x) if math.isfinite(x) else None


class _Block(NamedTuple):
    """One model x engine priced on every chip, band and replica size: rows of a stacked result, batches across."""

    model: Any
    engine: str
    static: list[Violation]  # the model's problems with the product, whatever the chip
    result: EngineResult  # every number (rows, BATCHES)
    rows: dict[tuple[str, str, int], int]  # (hardware id, band, gpus) -> row


class _Combo(NamedTuple):
    """One model x hardware x engine x replica size: its block and its rows there at each band."""

    block: _Block
    hw: Any
    G: int
    central: int
    low: int
    high: int


class _AtBatch(Mapping):
    """Numbers of a stacked grid's mapping (tokens) at one row and batch, read when asked for."""

    def __init__(self, result: Mapping, row: int, i: int):
        self.result, self.row, self.i = result, row, i

    def __getitem__(self, key):
        return self.result[key].item(self.row, self.i)

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


class _Columns:
    """Reads a field at each combo's central row, in the combos' order: one gather per block."""

    def __init__(self, combos: list[_Combo]):
        parts: dict[int, tuple[_Block, list[int], list[int]]] = {}
        for j, c in enumerate(combos):
            _, at, rows = parts.setdefault(id(c.block), (c.block, [], []))
            at.append(j)
            rows.append(c.central)
        self.parts = list(parts.values())
        self.order = np.concatenate([at for _, at, _ in self.parts])

    def __call__(self, field) -> np.ndarray:
        """``field(block)``, an array over the block's rows, at the combos' rows."""
        stacked = np.concatenate([field(block)[rows] for block, _, rows in self.parts])  # (strings: the widest)
        out = np.empty_like(stacked)
        out[self.order] = stacked
        return out


def _all_facts(spec: Spec, combos: list[_Combo], column: _Columns, sized: Fleets, prices: PriceBook) -> list[_Facts]:
    """Every combo's :class:`_Facts`: the fleet's size and cost as arrays, then the reasons it is infeasible."""
    quotes = {c.hw.id: prices.quote(c.hw.id) for c in combos}
    quote = [quotes[c.hw.id] for c in combos]
    G = np.array([c.G for c in combos], dtype=float)
    usd = np.array([np.nan if q is None else q.usd_per_gpu_hour for q in quote])
    fixed = sized.replicas_fixed
    # a GPU-hour per replica-hour per GPU; the autoscaled fleet pays for the mean of its hourly sizes
    with np.errstate(invalid="ignore"):
        monthly_fixed = fixed * G * usd * HOURS_PER_MONTH
        monthly_auto = sized.replicas_hourly.mean(axis=1) * G * usd * HOURS_PER_MONTH
    autoscaled = spec.demand.scaling == "autoscaled"
    gpus = (sized.replicas_hourly.max(axis=1) if autoscaled else fixed) * G
    monthly = monthly_auto if autoscaled else monthly_fixed
    fleet_cost = monthly / (spec.demand.per_day * HOURS_PER_MONTH / 24.0)
    finite_fleet = np.isfinite(fixed).tolist()
    priced = [q is not None and f for q, f in zip(quote, finite_fleet, strict=True)]
    latency_b1 = column(lambda b: b.result.latency_s[:, 0]).tolist()
    fits_b1 = column(lambda b: b.result.fits_in_memory[:, 0]).tolist()
    memory_b1 = column(lambda b: b.result.memory.total[:, 0]).tolist()
    # one replica size: the same at every batch
    parallelism = column(lambda b: b.result.parallelism[:, 0]).tolist()
    figures = zip(
        gpus.tolist(), monthly.tolist(), fleet_cost.tolist(), monthly_fixed.tolist(), monthly_auto.tolist(), priced
    )
    out = []
    for j, (c, (n_gpus, month, cost, month_fixed, month_auto, has_fleet)) in enumerate(zip(combos, figures)):
        model, q = c.block.model, quote[j]
        found = list(c.block.static)
        if not fits_b1[j]:
            usable = c.hw.memory_gb * load_engines()[c.block.engine].usable_memory_fraction
            found.append(Violation(kind="memory", value=memory_b1[j] / 1e9, limit=usable))
        elif latency_b1[j] > spec.budget.latency_s:
            found.append(Violation(kind="latency", value=latency_b1[j], limit=spec.budget.latency_s))
        if not found and not finite_fleet[j]:
            found.append(Violation(kind="load", value=latency_b1[j], limit=spec.budget.latency_s))
        excess = context_excess(model, _AtBatch(c.block.result.tokens, c.central, int(sized.index[j])))
        if excess:
            found.insert(0, Violation(kind="context", value=excess[0], limit=excess[1]))
        if q is None:
            found.append(Violation(kind="price", name=spec.pricing.commitment, provider=spec.pricing.provider))
        elif not found:
            found += _cost_violations(spec, cost if has_fleet else None, month if has_fleet else None)
        out.append(
            _Facts(
                quote=q,
                gpus=int(n_gpus) if has_fleet else None,
                monthly=month if has_fleet else None,
                fleet_cost=cost if has_fleet else None,
                monthly_fixed=month_fixed if has_fleet else None,
                monthly_auto=month_auto if has_fleet else None,
                latency_b1=latency_b1[j],
                fits_b1=bool(fits_b1[j]),
                parallelism=str(parallelism[j]),
                violations=found,
            )
        )
    return out


def _candidate(spec: Spec, shape: _Shape, fleet: Fleet, others: list[ReplicaOption]) -> CandidateResult:
    model, hw, engine, G, facts = shape.model, shape.combo.hw, shape.engine, shape.combo.G, shape.facts
    r, k, i = shape.combo.block.result, shape.combo.central, fleet.index
    p = spec.product
    # the latency band widened to the model's own held-out error on its family; throughput and cost follow it
    central = r.latency_s.item(k, i)
    family = error_family(model, p.kind, G)
    low, high = calibrated_band(
        central,
        r.latency_s.item(shape.combo.low, i),
        r.latency_s.item(shape.combo.high, i),
        error_band(family),
        r.floor_s.item(k, i),
    )
    lat = Band(central=central, low=low, high=high)
    batch = float(BATCHES[i])
    thr = Band(central=r.throughput_items_per_s.item(k, i), low=batch / high, high=batch / low)
    cost = None
    if facts.quote is not None:
        per_item = r.cost_usd_per_item.item(k, i)
        cost = Band(central=per_item, low=per_item * low / central, high=per_item * high / central)
    mem = {name: v.item(k, i) / 1e9 for name, v in r.memory.parts().items()}
    metric, score = quality_of(model, p.kind)
    width, height = input_size(model, spec)
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
        cfg=r.cfg_mode,
        steps=None if r.steps is None else int(r.steps.item(k, i)),
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
        fits_in_memory=bool(r.fits_in_memory.item(k, i)),
        bound=str(r.bound.item(k, i)),
        overhead_bound=bool(r.overhead_bound.item(k, i)),
        tokens={name: v.item(k, i) for name, v in r.tokens.items()},
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
        other_replicas=others,
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
    """Every model x hardware x engine with its operating point under load, on its best replica size. The grids
    stay stacked: the fleets are sized and costed over arrays of every combo, and records are built for the
    replica sizes kept only."""
    catalog = spec_catalog(spec, catalog)
    prices = prices if prices is not None else spec_prices(spec, catalog)
    models = candidate_models(spec, catalog)
    hardware = candidate_hardware(spec, catalog, prices)
    profiles = load_engines()
    combos: list[_Combo] = []
    chips: dict = {}  # every model is priced on the same chips
    for model in models:
        if spec.product.kind not in model.roles:  # load_spec already refuses a listed model of another kind
            continue
        static = _static_problems(spec, model)
        blocks = []
        for engine in spec_engines(spec, profiles, model.family):
            keys, result = _grid(model, hardware, engine, spec, calibration, profiles, prices, chips)
            if result is not None:
                blocks.append(_Block(model, engine, static, result, {key: k for k, key in enumerate(keys)}))
        for hw in hardware:
            for block in blocks:
                for G in spec.candidates.gpus_per_replica:
                    k = block.rows.get((hw.id, "central", G))
                    if k is not None:
                        combos.append(
                            _Combo(block, hw, G, k, block.rows[(hw.id, "low", G)], block.rows[(hw.id, "high", G)])
                        )
    if not combos:
        return []
    column = _Columns(combos)
    inputs = {id(block): step_inputs(block.result) for block, _, _ in column.parts}
    sized = fleets(
        spec,
        column(lambda b: b.result.latency_s),
        column(lambda b: b.result.fits_in_memory),
        {name: column(lambda b, name=name: inputs[id(b)][name]) for name in inputs[id(combos[0].block)]},
        [profiles[c.block.engine].batching for c in combos],
    )
    shapes: dict[tuple, list[_Shape]] = {}
    for j, (combo, facts) in enumerate(zip(combos, _all_facts(spec, combos, column, sized, prices), strict=True)):
        key = (combo.block.model.id, combo.hw.id, combo.block.engine)
        shapes.setdefault(key, []).append(_Shape(combo, j, facts))
    chosen = [_best_replica(spec, options) for options in shapes.values()]
    loaded = at_peak(spec, sized, [best.at for best, _ in chosen])  # the latency of the fleets kept only
    out = []
    for (best, others), fleet in zip(chosen, loaded, strict=True):
        out.append((_candidate(spec, best, fleet, others), fleet))
    return out


class _Shape(NamedTuple):
    """One replica size of a model x hardware x engine, sized and priced (entry ``at`` of the fleets)."""

    combo: _Combo
    at: int
    facts: _Facts

    @property
    def model(self):
        return self.combo.block.model

    @property
    def engine(self) -> str:
        return self.combo.block.engine

    @property
    def G(self) -> int:
        return self.combo.G


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
        band_risk=_band_risk(spec, best, feasible),
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


def service_high_s(c: CandidateResult) -> float:
    """One request's service time at the objective's load (continuous batching: at the peak's occupancy; a static
    batch: the full batch), scaled to the high end of the candidate's latency band."""
    at_load = (c.latency_objective_s or 0.0) - (c.queue_wait_s or 0.0)
    if at_load <= 0.0:
        at_load = c.latency_s.central
    return at_load * c.latency_s.high / c.latency_s.central


def _band_risk(spec: Spec, best: CandidateResult, feasible: list[CandidateResult]) -> BandRisk | None:
    """When the choice's band-high service time alone exceeds the budget, the cheapest feasible option (in rank
    order) whose band-high service time does not; a margin check on service, not a re-sizing of the fleet."""
    limit = spec.budget.latency_s
    high = service_high_s(best)
    if high <= limit:
        return None
    safer = next((c for c in feasible if service_high_s(c) <= limit), None)
    return BandRisk(service_high_s=high, limit_s=limit, safer=safer.key if safer is not None else None)


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
