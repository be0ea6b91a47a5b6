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
from dataclasses import dataclass

import numpy as np

from tokcost.core.charts import analysis_charts
from tokcost.core.families import fastest_qualifying, is_static, qualifying
from tokcost.core.fleet import BATCHES, SIZING_SHARE, Fleet, day_chart, demand_rates, fleets, load_chart
from tokcost.core.pricing import PriceBook, price_book
from tokcost.engine.estimate import Config, calibrated_band, error_family, estimate_grid
from tokcost.engine.profiles import BANDS
from tokcost.engine.quality import quality_of, tier_problem
from tokcost.engine.tokens import context_problem
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines, load_error_bands, offered
from tokcost.io.prices import load_prices
from tokcost.records.results import (
    Band,
    CandidateResult,
    Pricing,
    Recommendation,
    ReplicaOption,
    SpecResult,
    Violation,
)
from tokcost.records.spec import Spec
from tokcost.text import money, secs

HOURS_PER_MONTH = 730.0  # 8,760 h / 12
RISKY_UTILIZATION = 0.85  # a lone replica busier than this, with no spare, is called out (budget.redundancy)
FAMILY_NAMES = {"ar": "autoregressive", "diffusion": "diffusion"}


def candidate_models(spec: Spec, catalog: Catalog) -> list:
    kind = spec.product.kind
    if spec.candidates.models:
        return [catalog.model(i) for i in spec.candidates.models]
    return [m for m in catalog.all("models") if kind in m.roles]


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


def _static_problems(spec: Spec, model) -> list[str]:
    p = spec.product
    out = []
    lo, hi = model.side_limits()
    for side, px in (("width", p.width), ("height", p.height)):
        if p.kind != "perception" and not lo <= px <= hi:  # a photo to answer about is resized (input_size)
            out.append(f"{side} {px} px is outside the {lo}-{hi} px this model serves")
    frames = p.frame_count()
    if frames and model.family == "diffusion" and model.native.max_frames and frames > model.native.max_frames:
        out.append(f"{frames} frames exceed the {model.native.max_frames} frames this model generates in one clip")
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
        steps=p.steps if model.family == "diffusion" else None,
        prompt_tokens=p.prompt_tokens,
        answer_tokens=p.answer_tokens,
        role=p.kind,
        calibration=calibration,
        prices=prices.usd_per_gpu_hour(),
    )
    return estimate_grid(cfg, hardware, BANDS, spec.candidates.gpus_per_replica)


def _finite(x) -> float | None:
    return float(x) if math.isfinite(x) else None


def _at(x, i):
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a.flat[i].item()


def _candidate(
    model, hw, engine, G: int, spec: Spec, res: dict, fleet: Fleet, static: list[str], prices: PriceBook
) -> CandidateResult:
    c, lo, hi = res["central"], res["low"], res["high"]
    i = fleet.index
    p = spec.product
    # the latency band widened to the model's own held-out error on its family; throughput and cost follow it
    central = _at(c["latency_s"], i)
    family = error_family(model, p.kind, G)
    low, high = calibrated_band(
        central, _at(lo["latency_s"], i), _at(hi["latency_s"], i), load_error_bands().get(family), _at(c["floor_s"], i)
    )
    lat = Band(central=central, low=low, high=high)
    batch = float(BATCHES[i])
    thr = Band(central=_at(c["throughput_items_per_s"], i), low=batch / high, high=batch / low)
    cost = None
    gpus = monthly = fleet_cost = monthly_fixed = monthly_auto = None
    quote = prices.quote(hw.id)
    if quote is not None:
        usd_per_gpu_hour = quote.usd_per_gpu_hour
        per_item = _at(c["cost_usd_per_item"], i)
        cost = Band(central=per_item, low=per_item * low / central, high=per_item * high / central)
        if math.isfinite(fleet.replicas_fixed):
            # a GPU-hour per replica-hour per GPU; the autoscaled fleet pays for the mean of its hourly sizes
            monthly_fixed = fleet.replicas_fixed * G * usd_per_gpu_hour * HOURS_PER_MONTH
            monthly_auto = float(fleet.replicas_hourly.mean()) * G * usd_per_gpu_hour * HOURS_PER_MONTH
            autoscaled = spec.demand.scaling == "autoscaled"
            gpus = int((fleet.replicas_hourly.max() if autoscaled else fleet.replicas_fixed) * G)
            monthly = monthly_auto if autoscaled else monthly_fixed
            fleet_cost = monthly / (spec.demand.per_day * HOURS_PER_MONTH / 24.0)
    mem = {k: _at(v, i) / 1e9 for k, v in c["memory_bytes"].items()}
    fits = bool(_at(c["fits_in_memory"], i))
    reasons = list(static)
    if not bool(_at(c["fits_in_memory"], 0)):
        per = f" per GPU on {G} GPUs" if G > 1 else ""
        usable = hw.memory_gb * load_engines()[engine].usable_memory_fraction
        reasons.append(
            f"needs {_at(c['memory_bytes']['total'], 0) / 1e9:.0f} GB{per} at batch 1; {hw.id} has {hw.memory_gb:g} GB, "
            f"{usable:.3g} GB usable"
        )
    elif _at(c["latency_s"], 0) > spec.budget.latency_s:
        reasons.append(
            f"latency {secs(_at(c['latency_s'], 0))} at batch 1 exceeds the {spec.budget.latency_s:g} s budget"
        )
    if not reasons and not math.isfinite(fleet.replicas_fixed):
        reasons.append(
            f"latency p{spec.budget.latency_percentile:g} cannot meet the {spec.budget.latency_s:g} s budget with any "
            f"fleet: the service time and the wait for a batch to form alone exceed the {SIZING_SHARE:.0%} of it that "
            f"fleets are sized to"
        )
    tokens = {k: _at(v, i) for k, v in c["tokens"].items()}
    too_long = context_problem(model, tokens)
    if too_long:
        reasons.insert(0, too_long)
    if quote is None:
        reasons.append(prices.unpriced[hw.id])
    elif not reasons:
        reasons += _cost_reasons(spec, fleet_cost, monthly)
    metric, score = quality_of(model, p.kind)
    notes = []
    width, height = input_size(model, spec)
    if (width, height) != (p.width, p.height):
        notes.append(
            f"the {p.width}x{p.height} photo is resized to {width}x{height}, the size {model.id}'s image processor "
            f"reads; that size is priced"
        )
    if (tokens["padded_width"], tokens["padded_height"]) != (width, height):
        notes.append(
            f"{width}x{height} is padded to {tokens['padded_width']:.0f}x{tokens['padded_height']:.0f}, "
            f"the nearest size this model's tokenizer takes; the padding is priced"
        )
    steps = c["steps"]
    return CandidateResult(
        model=model.id,
        family=model.family,
        hardware=hw.id,
        engine=engine,
        precision=spec.candidates.precision,
        gpus_per_replica=G,
        parallelism=str(np.asarray(c["parallelism"]).flat[0]),  # one replica size: the same at every batch
        batch=int(BATCHES[i]),
        cfg=c["cfg_mode"],
        steps=None if steps is None else int(_at(steps, i)),
        width=p.width,
        height=p.height,
        frames=p.frame_count(),
        latency_s=lat,
        throughput_items_per_s=thr,
        cost_usd_per_item=cost,
        fleet_cost_usd_per_item=fleet_cost,
        gpus=gpus,
        monthly_usd=monthly,
        price=quote,
        memory_gb=mem,
        fits_in_memory=fits,
        bound=str(_at(c["bound"], i)),
        overhead_bound=bool(_at(c["overhead_bound"], i)),
        tokens=tokens,
        queue_wait_s=_finite(fleet.percentiles[3] - fleet.service_s),
        latency_p50_s=_finite(fleet.percentiles[0]),
        latency_p95_s=_finite(fleet.percentiles[1]),
        latency_p99_s=_finite(fleet.percentiles[2]),
        latency_objective_s=_finite(fleet.percentiles[3]),
        utilization_at_peak=_finite(fleet.utilization),
        replicas_at_peak=int(fleet.replicas_peak) if math.isfinite(fleet.replicas_peak) else None,
        replicas_hourly=[int(r) for r in fleet.replicas_hourly] if np.isfinite(fleet.replicas_hourly).all() else None,
        monthly_usd_fixed=monthly_fixed,
        monthly_usd_autoscaled=monthly_auto,
        batch_timeout_s=fleet.timeout_s,
        quality_metric=metric,
        quality_score=score,
        feasible=not reasons,
        reasons=reasons,
        notes=notes,
    )


def _cost_reasons(spec: Spec, fleet: float | None, monthly: float | None) -> list[str]:
    """The cost budgets a candidate that meets every other requirement breaks."""
    b, out = spec.budget, []
    if b.cost_per_item_usd is not None and fleet is not None and fleet > b.cost_per_item_usd:
        out.append(f"cost {money(fleet)} per item exceeds the {money(b.cost_per_item_usd)} budget")
    if b.monthly_usd is not None and monthly is not None and monthly > b.monthly_usd:
        out.append(f"cost ${monthly:,.0f} a month exceeds the ${b.monthly_usd:,.0f} monthly budget")
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
                [e for e, p in profiles.items() if e in wanted and model.family in p.serves]
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
    continuous = [profiles[e].continuous for _, _, e, *_ in combos]
    sized = fleets(spec, [res["central"] for *_, res, _ in combos], continuous)
    shapes: dict[tuple, list[_Shape]] = {}
    for (model, hw, engine, G, res, static), fleet in zip(combos, sized, strict=True):
        one = res["central"]  # batch 1 is BATCHES[0]
        shapes.setdefault((model.id, hw.id, engine), []).append(
            _Shape(
                _candidate(model, hw, engine, G, spec, res, fleet, static, prices),
                fleet,
                _at(one["latency_s"], 0),
                bool(_at(one["fits_in_memory"], 0)),
            )
        )
    return [_best_replica(spec, options) for options in shapes.values()]


@dataclass
class _Shape:
    """One replica size of a model x hardware x engine, priced."""

    candidate: CandidateResult
    fleet: Fleet
    latency_b1: float  # central seconds at batch 1
    fits_b1: bool


def _best_replica(spec: Spec, options: list[_Shape]) -> tuple[CandidateResult, Fleet]:
    """The replica size a model x hardware x engine is offered at: the cheapest fleet among the feasible sizes;
    when none is feasible, the one closest to it (fits in memory at batch 1, then meets the latency budget there,
    then the cheapest, then the fastest), so that its reasons say what even that size lacks. The others are listed
    on it."""

    def key(o: _Shape):
        c = o.candidate
        cost = c.fleet_cost_usd_per_item if c.fleet_cost_usd_per_item is not None else math.inf
        return (not c.feasible, not o.fits_b1, o.latency_b1 > spec.budget.latency_s, cost, o.latency_b1)

    best = min(options, key=key)
    best.candidate.other_replicas = [
        ReplicaOption(
            gpus_per_replica=o.candidate.gpus_per_replica,
            parallelism=o.candidate.parallelism,
            latency_s=o.latency_b1,
            fleet_cost_usd_per_item=o.candidate.fleet_cost_usd_per_item,
            feasible=o.candidate.feasible,
        )
        for o in options
        if o is not best
    ]
    return best.candidate, best.fleet


def _fleet_cost(c: CandidateResult) -> float:
    """A ranked candidate's fleet cost per item: every feasible candidate is priced."""
    if c.fleet_cost_usd_per_item is None:
        raise ValueError(f"{c.model} on {c.hardware} has no fleet cost")
    return c.fleet_cost_usd_per_item


def _rank_key(c: CandidateResult):
    return (c.fleet_cost_usd_per_item if c.fleet_cost_usd_per_item is not None else math.inf, c.latency_s.central)


def recommend(spec: Spec, candidates: list[CandidateResult]) -> Recommendation:
    feasible = sorted((c for c in candidates if c.feasible), key=_rank_key)
    kind = spec.product.kind
    if not feasible:
        blockers = sorted({r for c in candidates for r in c.reasons})[:4]
        return Recommendation(
            headline=f"No candidate meets this {kind} product's requirements.",
            reasons=[f"Every option fails: {'; '.join(blockers)}." if blockers else "No model serves this product."],
            break_even=_break_even_none(spec, candidates),
        )
    best = feasible[0]
    head = (
        f"Use {best.model} on {best.replica} ({best.engine}, batch {best.batch}): "
        f"{_percentile_phrase(spec, best)}; {money(best.fleet_cost_usd_per_item)} per {_noun(kind)} "
        f"(${best.monthly_usd:,.0f} a month, {spec.demand.scaling} fleet)."
    )
    reasons = [
        f"It is the cheapest of {len(feasible)} feasible options out of {len(candidates)} priced.",
        f"Service {secs(best.latency_s.central)} per {'batch of ' + str(best.batch) if best.batch > 1 else _noun(kind)}"
        f" (band {best.latency_s.low:.3g}-{best.latency_s.high:.3g} s"
        f"{', a full batch' if load_engines()[best.engine].continuous else ''}); it is {best.bound}-bound"
        f"{' and limited by overheads (kernel launches and gaps, per-step work)' if best.overhead_bound else ''}. "
        f"{_replica_noun(best)} serves {best.throughput_items_per_s.central:.3g} {_noun(kind)}s per second at "
        f"batch {best.batch} and needs {best.memory_gb['total']:.0f} GB of memory"
        f"{' per GPU' if best.gpus_per_replica > 1 else ''}.",
        *_replica_sentences(spec, best),
        *_capacity_sentences(spec, best),
    ]
    runner = next((c for c in feasible if (c.model, c.hardware) != (best.model, best.hardware)), None)
    if runner is not None:
        reasons.append(
            f"Runner-up: {runner.model} on {runner.replica} ({runner.engine}) at "
            f"{money(runner.fleet_cost_usd_per_item)} per {_noun(kind)}."
        )
    others, breaks = _families(spec, candidates, best)
    return Recommendation(choice=best, headline=head, reasons=reasons, other_families=others, break_even=breaks)


def _percentile_phrase(spec: Spec, c: CandidateResult) -> str:
    """ "p95 7.88 s, of which 1.73 s queueing, at 91% utilisation on 12 GPUs" (end to end, at peak); with
    replicas of several GPUs "... on 12 GPUs (6 replicas of 2)"."""
    q = spec.budget.latency_percentile
    wait = c.queue_wait_s or 0.0
    queued = f", of which {secs(wait)} queueing" if wait >= 0.0005 else ""
    n = (c.replicas_at_peak or 0) * c.gpus_per_replica
    shape = f" ({c.replicas_at_peak} replicas of {c.gpus_per_replica})" if c.gpus_per_replica > 1 else ""
    return (
        f"p{q:g} {secs(c.latency_objective_s or math.inf)} at peak{queued}, at {c.utilization_at_peak or 0:.0%} "
        f"utilisation on {n} GPU{'s' if n != 1 else ''}{shape}"
    )


def _replica_noun(c: CandidateResult) -> str:
    """What serves a request, at the start of a sentence."""
    return "One GPU" if c.gpus_per_replica == 1 else f"One replica of {c.gpus_per_replica} GPUs ({c.parallelism})"


def _replica_sentences(spec: Spec, c: CandidateResult) -> list[str]:
    """Why this replica size: what the other sizes priced for the same model, hardware and engine would do."""
    if not c.other_replicas:
        return []
    parts = []
    for o in sorted(c.other_replicas, key=lambda o: o.gpus_per_replica):
        cost = (
            f"{money(o.fleet_cost_usd_per_item)} per {_noun(spec.product.kind)}"
            if o.fleet_cost_usd_per_item is not None
            else "no fleet meets the budget"
        )
        parts.append(f"{o.gpus_per_replica} GPU{'s' if o.gpus_per_replica > 1 else ''} ({secs(o.latency_s)}, {cost})")
    return [
        f"Replica size: {c.gpus_per_replica} GPU{'s' if c.gpus_per_replica > 1 else ''} is the cheapest that meets the "
        f"objective; the other sizes priced on {c.hardware}, latency at batch 1: " + "; ".join(parts) + "."
    ]


def _capacity_sentences(spec: Spec, c: CandidateResult) -> list[str]:
    """How the fleet was sized, how much headroom the budget forces, and what autoscaling would save."""
    b, d = spec.budget, spec.demand
    peak, _ = demand_rates(spec)
    q = f"p{b.latency_percentile:g}"
    continuous = load_engines()[c.engine].continuous
    service = (c.latency_objective_s or 0.0) - (c.queue_wait_s or 0.0)  # continuous: at the occupancy of the peak
    if continuous:
        batching = f"continuous batching, at most {c.batch} requests in flight, {secs(service)} each at that load"
    elif c.batch == 1:
        batching = "one request at a time"
    else:
        batching = f"a batch starts when {c.batch} requests wait or the oldest has waited {secs(c.batch_timeout_s)}"
    n = c.replicas_at_peak
    out = [
        f"Sized for {q} <= {b.latency_s:g} s at the peak of {peak:.3g} requests/s: {n} replica{'s' if n != 1 else ''} "
        f"of {c.gpus_per_replica} GPU{'s' if c.gpus_per_replica > 1 else ''} at {c.utilization_at_peak or 0:.0%} utilisation ({batching}); p50 {secs(c.latency_p50_s or 0)}, "
        f"p95 {secs(c.latency_p95_s or 0)}, p99 {secs(c.latency_p99_s or 0)} end to end.",
    ]
    out += _fleet_risk_sentences(spec, c)
    share = service / b.latency_s
    if share > 0.5:
        out.append(
            f"The service time takes {share:.0%} of the budget, so the fleet keeps headroom: queueing and batch "
            f"forming may add only {secs(b.latency_s * SIZING_SHARE - service)} at {q} (fleets are sized to "
            f"{SIZING_SHARE:.0%} of the budget, the queueing approximation's margin); a looser budget would let it "
            "run busier."
        )
    fixed, auto = c.monthly_usd_fixed, c.monthly_usd_autoscaled
    if fixed and auto is not None and c.replicas_hourly is not None:
        lo, hi = min(c.replicas_hourly), max(c.replicas_hourly)
        saving = 1.0 - auto / fixed
        if saving > 0.005:
            out.append(
                f"Autoscaled over the day ({lo}-{hi} replicas, min_replicas {d.min_replicas}) the fleet would cost "
                f"${auto:,.0f} a month instead of ${fixed:,.0f} for a fixed peak-sized fleet ({saving:.0%} less); "
                + (
                    "demand.scaling: autoscaled ranks by that."
                    if d.scaling == "fixed"
                    else "the ranking uses it (demand.scaling: autoscaled)."
                )
            )
        else:
            out.append(
                f"Autoscaling would save nothing: the fleet needs {hi} replica{'s' if hi != 1 else ''} in every hour "
                "of the day."
            )
    return out


def _fleet_risk_sentences(spec: Spec, c: CandidateResult) -> list[str]:
    """Bursty arrivals, the spare replica of n+1, or a lone replica with no spare running hot (issue 30)."""
    out, d, n = [], spec.demand, c.replicas_at_peak or 0
    if d.scv != 1.0:
        out.append(
            f"Arrivals are {'burstier' if d.scv > 1 else 'smoother'} than Poisson (burstiness {d.scv:.3g}, the "
            "squared coefficient of variation of the times between requests): the queueing is sized for it."
        )
    if spec.budget.redundancy == "n+1":
        out.append(
            f"budget.redundancy: n+1: {n} replicas, one more than the {n - 1} that meet the objective, so that it "
            "holds with one replica down."
        )
    elif n == 1 and (c.utilization_at_peak or 0.0) > RISKY_UTILIZATION:
        out.append(
            f"One replica at {c.utilization_at_peak:.0%} utilisation and no spare: if it fails or restarts, nothing "
            "is served; budget.redundancy: n+1 adds one so that the objective holds with one down."
        )
    return out


def _noun(kind: str) -> str:
    return {"image": "image", "video": "clip", "perception": "answer"}[kind]


def _families(spec: Spec, candidates: list[CandidateResult], best: CandidateResult):
    others, breaks = [], []
    kind = spec.product.kind
    for fam in sorted({c.family for c in candidates} - {best.family}):
        pool = [c for c in candidates if c.family == fam]
        feasible = sorted((c for c in pool if c.feasible), key=_rank_key)
        name = FAMILY_NAMES[fam]
        if feasible:
            alt = feasible[0]
            ratio = _fleet_cost(alt) / _fleet_cost(best)
            others.append(
                f"The best {name} option, {alt.model} on {alt.replica}, meets the budget but costs "
                f"{ratio:.3g}x as much per {_noun(kind)} ({money(alt.fleet_cost_usd_per_item)})."
            )
            breaks.append(
                f"{name.capitalize()} wins if it becomes {ratio:.3g}x cheaper per {_noun(kind)} "
                f"(for AR: that many more tokens accepted per forward at the same cost per forward)."
            )
            continue
        quality_ok = qualifying(pool)
        if not quality_ok:
            why: dict[str, str] = {}
            for c in pool:
                why.setdefault(c.model, next(r for r in c.reasons if is_static(r)))
            others.append(f"No {name} model qualifies: " + "; ".join(f"{m} ({r})" for m, r in why.items()) + ".")
            continue
        fastest = fastest_qualifying(pool)
        if fastest is None:
            others.append(f"No {name} option fits in memory on the candidate hardware.")
            continue
        speedup = fastest.latency_s.central / spec.budget.latency_s
        if speedup <= 1.0:  # fast enough: what blocks it is not its latency at batch 1
            others.append(
                f"The fastest {name} option, {fastest.model} on {fastest.replica} ({fastest.engine}), takes "
                f"{secs(fastest.latency_s.central)} per {_noun(kind)} at batch 1, within the "
                f"{spec.budget.latency_s:g} s budget, but: {'; '.join(fastest.reasons)}."
            )
            cost, limit = fastest.fleet_cost_usd_per_item, spec.budget.cost_per_item_usd
            if cost is not None and limit is not None and cost > limit:
                breaks.append(
                    f"{name.capitalize()} becomes feasible at {cost / limit:.3g}x lower cost per {_noun(kind)} "
                    f"({money(cost)} now, against the {money(limit)} budget)."
                )
            continue
        larger = max((o.gpus_per_replica for o in fastest.other_replicas), default=0) > fastest.gpus_per_replica
        sizes = "" if larger or fastest.gpus_per_replica == 1 else " even on the largest replica priced"
        others.append(
            f"The fastest {name} option, {fastest.model} on {fastest.replica} ({fastest.engine}), takes "
            f"{secs(fastest.latency_s.central)} per {_noun(kind)} at batch 1{sizes}, "
            f"{speedup:.3g}x the {spec.budget.latency_s:g} s budget."
        )
        breaks.append(
            f"{name.capitalize()} becomes feasible with a latency budget of about "
            f"{secs(fastest.latency_s.central)}, or a {speedup:.3g}x faster {'decode' if fam == 'ar' else 'sampler'}"
            f"{' (e.g. speculative or parallel decoding accepting that many tokens per forward; published methods give 2-5x)' if fam == 'ar' else ' (fewer steps or a distilled model)'}"
            f"{_more_gpus_hint(spec)}."
        )
    return others, breaks


def _more_gpus_hint(spec: Spec) -> str:
    """What would change the answer when the spec keeps every replica to one GPU: replicas of several."""
    if max(spec.candidates.gpus_per_replica) > 1:
        return ""  # larger replicas were priced: the fastest option already stands on the best of them
    return ", or replicas of several GPUs (candidates.gpus_per_replica: [1, 2, 4, 8] splits each forward)"


def _break_even_none(spec: Spec, candidates: list[CandidateResult]) -> list[str]:
    fastest = fastest_qualifying(candidates)
    if fastest is None:
        return []
    return [
        f"The fastest qualifying option, {fastest.model} on {fastest.replica} ({fastest.engine}), needs "
        f"{secs(fastest.latency_s.central)}: a budget of that much would make it feasible{_more_gpus_hint(spec)}."
    ]


def violations(
    spec: Spec, rec: Recommendation, doc=None, candidates: list[CandidateResult] | None = None
) -> list[Violation]:
    """Why no option is recommended: the cost budgets the cheapest option that meets every other requirement
    breaks, or infeasibility. A recommended option meets every budget (cost budgets are part of feasibility)."""

    def pos(path):
        return doc.where(path) if doc is not None else (0, 0)

    if rec.choice is not None:
        return []  # a recommended option meets every budget
    out: list[Violation] = []
    over_cost = sorted(
        (c for c in candidates or [] if c.reasons and all(r.startswith("cost") for r in c.reasons)), key=_rank_key
    )
    if not over_cost:
        line, col = pos(("budget", "latency_s"))
        return [
            Violation(
                limit="feasibility",
                field="budget.latency_s",
                line=line,
                col=col,
                budget=spec.budget.latency_s,
                message=rec.headline,
                fix=(rec.break_even[0] if rec.break_even else "relax the budget or add candidates"),
            )
        ]
    c = over_cost[0]
    b = spec.budget
    if b.cost_per_item_usd is not None and _fleet_cost(c) > b.cost_per_item_usd:
        line, col = pos(("budget", "cost_per_item_usd"))
        out.append(
            Violation(
                limit="cost_per_item_usd",
                field="budget.cost_per_item_usd",
                line=line,
                col=col,
                budget=b.cost_per_item_usd,
                value=c.fleet_cost_usd_per_item,
                message=f"the cheapest option ({c.model} on {c.hardware}) costs {money(c.fleet_cost_usd_per_item)} "
                f"per item, over the {money(b.cost_per_item_usd)} budget",
                fix="raise the budget, lower the resolution or steps, or price cheaper hardware (--price, pricing:)",
            )
        )
    if b.monthly_usd is not None and (c.monthly_usd or 0.0) > b.monthly_usd:
        line, col = pos(("budget", "monthly_usd"))
        out.append(
            Violation(
                limit="monthly_usd",
                field="budget.monthly_usd",
                line=line,
                col=col,
                budget=b.monthly_usd,
                value=c.monthly_usd,
                message=f"the cheapest option ({c.model} on {c.hardware}) costs ${c.monthly_usd:,.0f} a month, "
                f"over the ${b.monthly_usd:,.0f} budget",
                fix="lower demand or resolution, or raise the monthly budget",
            )
        )
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
    prices = spec_prices(spec, catalog, overrides)
    evaluated = _evaluate(spec, catalog, calibration, prices)
    candidates = [c for c, _ in evaluated]
    rec = recommend(spec, candidates)
    used = [c.hardware for c in candidates]
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
        pricing=Pricing(basis=prices.basis, as_of=day.isoformat(), notes=prices.notes(used, day)),
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
