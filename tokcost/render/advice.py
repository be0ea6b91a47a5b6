"""Every sentence of an analysis, written from its facts: the recommendation, why, how the other families fared,
what would change the answer (verified suggestions), why each candidate fails, and the gate's problems. The table,
markdown, HTML and GitHub formats all take their words from here; the JSON report keeps the facts."""

from __future__ import annotations

from decimal import Decimal

from tokcost.records.families import label as family_label
from tokcost.records.gate import SpecGate
from tokcost.records.prices import COMMITMENT_WORDS
from tokcost.records.results import (
    CandidateResult,
    FamilyOutcome,
    FleetRisk,
    GateViolation,
    SpecChange,
    SpecResult,
    Suggestion,
    Violation,
)
from tokcost.text import money, percent_change, secs, spec_value

SHORT = {  # the candidates table's ok column
    "latency": "latency",
    "load": "latency at peak",
    "cost_per_item": "over cost",
    "monthly": "over monthly",
    "memory": "memory",
    "conditioning": "class labels",
    "context": "context",
    "size": "size",
    "frames": "frames",
    "price": "not priced",
}


def noun(kind: str) -> str:
    return {"image": "image", "video": "clip", "perception": "answer"}[kind]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


# ------------------------------------------------------------------------------------------- candidates


def short(v: Violation) -> str:
    """The word of the ok column for one violation."""
    if v.kind == "quality":
        return "no quality score" if v.value is None else "below quality tier"
    return SHORT[v.kind]


def status(c: CandidateResult) -> str:
    """``yes``, or each distinct failure in a word or two: ``over cost``, ``below quality tier, size``."""
    if c.feasible:
        return "yes"
    return ", ".join(dict.fromkeys(short(v) for v in c.violations))


def violation(v: Violation, c: CandidateResult, spec: SpecResult) -> str:
    """One violation of ``c`` in words."""
    q = spec.budget.get("latency_percentile", 95)
    if v.kind == "latency":
        return f"latency {secs(v.value or 0)} at batch 1 exceeds the {v.limit:g} s budget"
    if v.kind == "load":
        return (
            f"latency p{q:g} cannot meet the {v.limit:g} s budget with any fleet: the service time and the wait "
            "for a batch to form alone exceed the share of it that fleets are sized to"
        )
    if v.kind == "memory":
        per = f" per GPU on {c.gpus_per_replica} GPUs" if c.gpus_per_replica > 1 else ""
        return f"needs {v.value or 0:.0f} GB{per} at batch 1; {c.hardware} has {v.limit or 0:.3g} GB usable"
    if v.kind == "cost_per_item":
        return f"cost {money(v.value)} per item exceeds the {money(v.limit)} budget"
    if v.kind == "monthly":
        return f"cost ${v.value or 0:,.0f} a month exceeds the ${v.limit or 0:,.0f} monthly budget"
    if v.kind == "quality":
        if v.value is None:
            return f"no published {v.name} score, so only the draft tier accepts it"
        return f"{v.name} {v.value:g} is below the {v.tier} tier's {v.limit:g}"
    if v.kind == "conditioning":
        return "conditioned on class labels, not text prompts"
    if v.kind == "context":
        return f"the sequence is {v.value or 0:,.0f} tokens, beyond {c.model}'s trained context of {v.limit or 0:,.0f}"
    if v.kind == "size":
        side = "above the largest" if (v.value or 0) > (v.limit or 0) else "below the smallest"
        return f"{v.name} {v.value:g} px is {side} size this model serves ({v.limit:g} px)"
    if v.kind == "frames":
        return f"{v.value:g} frames exceed the {v.limit:g} frames this model generates in one clip"
    where = f"at {v.provider}" if v.provider else "from a hyperscaler or GPU cloud"
    return (
        f"{c.hardware} is not priced: the price catalogue has no {COMMITMENT_WORDS.get(v.name or '', v.name)} price "
        f"for it {where}; give one with --price {c.hardware}=USD_PER_GPU_HOUR or a pricing.usd_per_gpu_hour entry "
        f"({{{c.hardware}: ...}}) in the spec"
    )


def unreleased(c: CandidateResult) -> str:
    """``BAAI released no video checkpoint of emu3-gen: ...``."""
    kind = "video" if c.frames else "image"
    return (
        f"{c.publisher or 'its publisher'} released no {kind} checkpoint of {c.model}: the estimate prices the "
        "architecture, not a model you can download"
    )


def reasons(c: CandidateResult, spec: SpecResult) -> list[str]:
    return [violation(v, c, spec) for v in c.violations]


def notes(c: CandidateResult) -> list[str]:
    """What the estimate assumed that the spec did not say: a photo resized for VQA, padding to the tokenizer."""
    out = []
    if c.decoder is not None:  # where it came from; its missing score, unless a violation says so already
        unscored = "" if any(v.kind == "quality" for v in c.violations) else "; it has no published quality score"
        out.append(
            f"{c.model}'s decoder is read from {c.decoder.config}, priced with {c.decoder.model}'s visual tokenizer "
            f"and sampling{unscored}"
        )
        if c.decoder.sliding_window_note:
            out.append(c.decoder.sliding_window_note)
    if c.unreleased:
        out.append(unreleased(c))
    width, height = c.priced_width or c.width, c.priced_height or c.height
    if (width, height) != (c.width, c.height):
        out.append(
            f"the {c.width}x{c.height} photo is resized to {width}x{height}, the size {c.model}'s image processor "
            f"reads; that size is priced"
        )
    padded = (c.tokens.get("padded_width", width), c.tokens.get("padded_height", height))
    if padded != (width, height):
        out.append(
            f"{width}x{height} is padded to {padded[0]:.0f}x{padded[1]:.0f}, the nearest size this model's "
            f"tokenizer takes; the padding is priced"
        )
    return out


# ------------------------------------------------------------------------------------------- recommendation


def _replica_noun(c: CandidateResult) -> str:
    return "One GPU" if c.gpus_per_replica == 1 else f"One replica of {c.gpus_per_replica} GPUs ({c.parallelism})"


def _percentile_phrase(spec: SpecResult, c: CandidateResult) -> str:
    q = spec.budget.get("latency_percentile", 95)
    wait = c.queue_wait_s or 0.0
    queued = f", of which {secs(wait)} queueing" if wait >= 0.0005 else ""
    n = (c.replicas_at_peak or 0) * c.gpus_per_replica
    shape = f" ({c.replicas_at_peak} replicas of {c.gpus_per_replica})" if c.gpus_per_replica > 1 else ""
    return (
        f"p{q:g} {secs(c.latency_objective_s or 0)} at peak{queued}, at {c.utilization_at_peak or 0:.0%} "
        f"utilisation on {_plural(n, 'GPU')}{shape}"
    )


def headline(spec: SpecResult) -> str:
    rec, kind = spec.recommendation, spec.product["kind"]
    c = rec.choice
    if c is None:
        return f"No candidate meets this {kind} product's requirements."
    return (
        f"Use {c.model} on {c.replica} ({c.engine}, batch {c.batch}): {_percentile_phrase(spec, c)}; "
        f"{money(c.fleet_cost_usd_per_item)} per {noun(kind)} (${c.monthly_usd or 0:,.0f} a month, "
        f"{spec.demand.get('scaling', 'fixed')} fleet)."
    )


def _service(spec: SpecResult, c: CandidateResult) -> str:
    n = noun(spec.product["kind"])
    per = f"batch of {c.batch}" if c.batch > 1 else n
    overhead = " and limited by overheads (kernel launches and gaps, per-step work)" if c.overhead_bound else ""
    per_gpu = (
        f" ({c.throughput_per_gpu:.3g} per GPU)" if c.gpus_per_replica > 1 else ""
    )  # the replica's figure, then each GPU's
    return (
        f"Service {secs(c.latency_s.central)} per {per} (band {c.latency_s.low:.3g}-{c.latency_s.high:.3g} s"
        f"{', a full batch' if c.continuous_batching else ''}); it is {c.bound}-bound{overhead}. "
        f"{_replica_noun(c)} serves {c.throughput_items_per_s.central:.3g} {n}s per second{per_gpu} at batch "
        f"{c.batch} and needs {c.memory_gb['total']:.0f} GB of memory{' per GPU' if c.gpus_per_replica > 1 else ''}."
    )


def _replicas(spec: SpecResult, c: CandidateResult) -> list[str]:
    if not c.other_replicas:
        return []
    parts = []
    for o in sorted(c.other_replicas, key=lambda o: o.gpus_per_replica):
        cost = (
            f"{money(o.fleet_cost_usd_per_item)} per {noun(spec.product['kind'])}"
            if o.fleet_cost_usd_per_item is not None
            else "no fleet meets the budget"
        )
        parts.append(f"{_plural(o.gpus_per_replica, 'GPU')} ({secs(o.latency_s)}, {cost})")
    return [
        f"Replica size: {_plural(c.gpus_per_replica, 'GPU')} is the cheapest that meets the objective; the other "
        f"sizes priced on {c.hardware}, latency at batch 1: " + "; ".join(parts) + "."
    ]


def _capacity(spec: SpecResult, c: CandidateResult) -> list[str]:
    rec, b, d = spec.recommendation, spec.budget, spec.demand
    q = f"p{b.get('latency_percentile', 95):g}"
    service = (c.latency_objective_s or 0.0) - (c.queue_wait_s or 0.0)
    if c.continuous_batching:
        batching = f"continuous batching, at most {c.batch} requests in flight, {secs(service)} each at that load"
    elif c.batch == 1:
        batching = "one request at a time"
    else:
        batching = f"a batch starts when {c.batch} requests wait or the oldest has waited {secs(c.batch_timeout_s)}"
    n = c.replicas_at_peak or 0
    out = [
        f"Sized for {q} <= {b['latency_s']:g} s at the peak of {rec.peak_rps:.3g} requests/s: "
        f"{_plural(n, 'replica')} of {_plural(c.gpus_per_replica, 'GPU')} at {c.utilization_at_peak or 0:.0%} "
        f"utilisation ({batching}); p50 {secs(c.latency_p50_s or 0)}, p95 {secs(c.latency_p95_s or 0)}, "
        f"p99 {secs(c.latency_p99_s or 0)} end to end."
    ]
    out += _fleet_risk(rec.fleet_risk, c)
    h = rec.headroom
    if h is not None:
        out.append(
            f"The service time takes {h.service_share:.0%} of the budget, so the fleet keeps headroom: queueing and "
            f"batch forming may add only {secs(h.queueing_allowance_s)} at {q} (fleets are sized to "
            f"{h.sizing_share:.0%} of the budget, the queueing approximation's margin); a looser budget would let it "
            "run busier."
        )
    a = rec.autoscaling
    if a is not None and a.saving > 0.005:
        out.append(
            f"Autoscaled over the day ({a.low}-{a.high} replicas, min_replicas {a.min_replicas}) the fleet would cost "
            f"${a.autoscaled_usd:,.0f} a month instead of ${a.fixed_usd:,.0f} for a fixed peak-sized fleet "
            f"({a.saving:.0%} less); "
            + (
                "demand.scaling: autoscaled ranks by that."
                if d.get("scaling", "fixed") == "fixed"
                else "the ranking uses it (demand.scaling: autoscaled)."
            )
        )
    elif a is not None:
        out.append(
            f"Autoscaling would save nothing: the fleet needs {_plural(a.high, 'replica')} in every hour of the day."
        )
    return out


def _fleet_risk(r: FleetRisk | None, c: CandidateResult) -> list[str]:
    if r is None:
        return []
    out = []
    if r.arrival_scv != 1.0:
        out.append(
            f"Arrivals are {'burstier' if r.arrival_scv > 1 else 'smoother'} than Poisson (burstiness "
            f"{r.arrival_scv:.3g}, the squared coefficient of variation of the times between requests): the queueing "
            "is sized for it."
        )
    if r.redundancy == "n+1":
        out.append(
            f"budget.redundancy: n+1: {_plural(r.replicas, 'replica')}, one more than the {r.replicas - 1} that meet "
            "the objective, so that it holds with one replica down."
        )
    elif r.lone_hot_replica:
        out.append(
            f"One replica at {c.utilization_at_peak or 0:.0%} utilisation and no spare: if it fails or restarts, "
            "nothing is served; budget.redundancy: n+1 adds one so that the objective holds with one down."
        )
    return out


def _band_risk(spec: SpecResult) -> list[str]:
    rec = spec.recommendation
    r, c = rec.band_risk, rec.choice
    if r is None or c is None:
        return []
    q = f"p{spec.budget.get('latency_percentile', 95):g}"
    out = (
        f"At the slow end of its error band (x{c.latency_s.high / c.latency_s.central:.3g}) one request's service "
        f"alone would take {secs(r.service_high_s)}, past the {r.limit_s:g} s {q} budget: tokcost's own uncertainty "
        "can put this plan out of budget, so measure it before committing"
    )
    safer = spec.candidate(r.safer) if r.safer is not None else None
    if safer is None:
        return [out + "; no feasible option stays within the budget at its band's high end."]
    return [
        out + f". The cheapest option that stays within the budget even at its band's high end: {safer.model} on "
        f"{safer.replica} ({safer.engine}, batch {safer.batch}) at {money(safer.fleet_cost_usd_per_item)} per "
        f"{noun(spec.product['kind'])}."
    ]


def _runner_up(spec: SpecResult) -> list[str]:
    rec = spec.recommendation
    r, best = spec.candidate(rec.runner_up), rec.choice
    if r is None or best is None:
        return []
    skipped = (
        f"; {_plural(rec.runner_up_skipped, 'option')} with {best.model} on {best.hardware} on another engine, "
        "ranked before it, skipped"
        if rec.runner_up_skipped
        else ""
    )
    return [
        f"Runner-up (the cheapest feasible option with another model or hardware{skipped}): {r.model} on "
        f"{r.replica} ({r.engine}) at {money(r.fleet_cost_usd_per_item)} per {noun(spec.product['kind'])}."
    ]


def _tier(spec: SpecResult) -> list[str]:
    rec = spec.recommendation
    if not rec.tier_excluded:
        return []
    tier = spec.product.get("quality_tier", "standard")
    default = " (the default)" if "product.quality_tier" in spec.defaults else ""
    out = []
    quality = {m: v for m, v in rec.tier_excluded.items() if v.kind == "quality"}
    if quality:
        named = "; ".join(f"{m} ({_score(v)})" for m, v in quality.items())
        them = "them" if len(quality) > 1 else "it"
        lower = "a lower product.quality_tier" if tier == "premium" else "product.quality_tier: draft"
        out.append(f"The {tier} tier{default} rules out {named}; {lower} accepts {them} (draft accepts every model).")
    labels = [m for m, v in rec.tier_excluded.items() if v.kind == "conditioning"]
    if labels:
        out.append(f"Conditioned on class labels, not text prompts, so never a candidate here: {', '.join(labels)}.")
    return out


def _score(v: Violation) -> str:
    return f"no published {v.name} score" if v.value is None else f"{v.name} {v.value:g} < {v.limit:g}"


def family(spec: SpecResult, f: FamilyOutcome) -> str:
    name, n = family_label(f.family), noun(spec.product["kind"])
    c = spec.candidate(f.candidate)
    if f.status == "feasible" and c is not None and (f.cost_ratio or 1.0) < 1.005:
        return (
            f"The best {name} option, {c.model} on {c.replica}, meets the budget at the same cost per {n} "
            f"({money(c.fleet_cost_usd_per_item)}); the ranking breaks the tie by latency."
        ) + (f" Note: {unreleased(c)}." if c.unreleased else "")
    if f.status == "feasible" and c is not None:
        return (
            f"The best {name} option, {c.model} on {c.replica}, meets the budget but costs {f.cost_ratio:.3g}x as "
            f"much per {n} ({money(c.fleet_cost_usd_per_item)})."
        ) + (f" Note: {unreleased(c)}." if c.unreleased else "")
    if f.status == "unqualified":
        models = "; ".join(
            f"{m} ({violation(v, next(x for x in spec.candidates if x.model == m), spec)})"
            for m, v in f.unqualified.items()
        )
        return f"No {name} model qualifies: {models}."
    if f.status == "no_fit" or c is None:
        return f"No {name} option fits in memory on the candidate hardware."
    largest = " on the largest replica priced" if f.largest_replica else ""
    budget = spec.budget["latency_s"]
    pace = (
        f"{c.latency_at_batch_1 / budget:.3g}x the {budget:g} s budget"
        if c.latency_at_batch_1 > budget
        else f"within the {budget:g} s budget"
    )
    caveat = f" Note: {unreleased(c)}." if c.unreleased else ""
    return (
        f"The fastest {name} option at batch 1, {c.model} on {c.replica} ({c.engine}), takes "
        f"{secs(c.latency_at_batch_1)} per {n} at batch 1{largest}, {pace}; it fails: {'; '.join(reasons(c, spec))}."
        + caveat
    )


def _yaml_value(v) -> str:
    """A value as it is typed into the spec: numbers in plain positional form (1170000, 0.0000036), never with an
    exponent; lists and words as :func:`spec_value` writes them."""
    if isinstance(v, float):
        text = format(Decimal(repr(v)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return spec_value(v)


def change(ch: SpecChange) -> str:
    value = _yaml_value(ch.value)
    if ch.field.startswith("pricing.usd_per_gpu_hour."):
        hw = ch.field.rsplit(".", 1)[1]
        return f"pricing.usd_per_gpu_hour: {{{hw}: {value}}} (or --price {hw}={value})"
    return f"{ch.field}: {value}"


def suggestion(spec: SpecResult, s: Suggestion) -> str:
    """A verified change in words: what to set, and what the named candidate then does."""
    n, q = noun(spec.product["kind"]), spec.budget.get("latency_percentile", 95)
    what = " and ".join(change(ch) for ch in s.changes)
    then = f"{money(s.fleet_cost_usd_per_item)} per {n}" + (
        f", p{q:g} {secs(s.latency_objective_s)}" if s.latency_objective_s is not None else ""
    )
    name = f"{s.candidate.model} on {s.candidate.hardware} ({s.candidate.engine})"
    if s.goal == "chosen":
        return f"{name} becomes the recommendation with {what}: {then} (re-planned with it)."
    named = spec.candidate(s.candidate)
    if named is not None and named.unreleased:
        then += f"; {unreleased(named)}"
    alone = "" if s.single else " (no single change suffices; the smallest set found)"
    return f"{name} becomes feasible with {what}{alone}: {then} (re-planned with the change{'s' if len(s.changes) > 1 else ''})."


def why(spec: SpecResult) -> list[str]:
    """The reasons under the headline, then how each other family fared."""
    rec, c = spec.recommendation, spec.recommendation.choice
    if c is None:
        kinds = "; ".join(f"{n} {_blocker(k)}" for k, n in rec.blockers.items())
        first = f"Every option fails: {kinds}." if rec.blockers else "No model serves this product."
        return [first, *_tier(spec)]
    return [
        f"It is the cheapest of {rec.feasible_count} feasible options out of {rec.priced_count} priced.",
        _service(spec, c),
        *_replicas(spec, c),
        *_capacity(spec, c),
        *_band_risk(spec),
        *_runner_up(spec),
        *_tier(spec),
        *(family(spec, f) for f in rec.families),
    ]


def _blocker(kind: str) -> str:
    return {
        "latency": "miss the latency budget at batch 1",
        "load": "meet no fleet size at the latency objective",
        "cost_per_item": "cost more per item than the budget",
        "monthly": "cost more a month than the budget",
        "memory": "do not fit in memory at batch 1",
        "quality": "miss the quality tier",
        "conditioning": "take class labels, not text prompts",
        "context": "exceed the model's trained context",
        "size": "are outside the model's sizes",
        "frames": "exceed the model's frames per clip",
        "price": "are not priced",
    }[kind]


def what_would_change(spec: SpecResult) -> list[str]:
    return [suggestion(spec, s) for s in spec.recommendation.suggestions]


# ------------------------------------------------------------------------------------------- header and prices


def price_dates(spec: SpecResult) -> str:
    """``prices read 2026-01-21 to 2026-09-25``: the dates of the catalogue quotes used."""
    p = spec.pricing
    if p is None or p.read_from is None:
        return "no catalogue prices used"
    return f"prices read {p.read_from}" + (f" to {p.read_to}" if p.read_to != p.read_from else "")


def defaults_phrase(spec: SpecResult) -> str:
    """The defaults the analysis applied, in words; empty when none."""
    words = {
        "demand.peak_to_mean": "demand.peak_to_mean 1 (no peak above the mean)",
        "product.quality_tier": f"product.quality_tier {spec.product.get('quality_tier', 'standard')}",
    }
    shown = [words[d] for d in spec.defaults if d in words]
    return f"defaults applied: {', '.join(shown)}" if shown else ""


# ------------------------------------------------------------------------------------------- the gate


def _revert(changes) -> str:
    if not changes:
        return "no input of the spec or its prices changed, so a preset or the estimator changed: review that change"
    shown = ", ".join(f"{c.field} ({spec_value(c.before)} -> {spec_value(c.after)})" for c in changes[:3])
    return f"revert {shown}"


def gate_problem(v: GateViolation, s: SpecGate | None = None) -> tuple[str, str]:
    """(message, fix) of one gate violation; ``s`` the spec's gate entry (the changed inputs a fix can revert)."""
    changes = s.changes if s is not None else []
    who = (
        f"the cheapest option ({v.candidate.model} on {v.candidate.hardware})" if v.candidate else "the cheapest option"
    )
    if v.limit == "cost_per_item_usd":
        return (
            f"{who} costs {money(v.value)} per item, over the {money(v.budget)} budget",
            "raise the budget, lower the resolution or steps, or price cheaper hardware (--price, pricing:)",
        )
    if v.limit == "monthly_usd":
        return (
            f"{who} costs ${v.value or 0:,.0f} a month, over the ${v.budget or 0:,.0f} budget",
            "lower demand or resolution, or raise the monthly budget",
        )
    if v.limit == "feasibility":
        fix = (
            f"{change_list(v.suggestion)} makes {v.suggestion.candidate.model} on {v.suggestion.candidate.hardware} "
            "feasible (re-planned)"
            if v.suggestion is not None
            else "no budget, tier or replica change tokcost tried makes a candidate feasible: see the report's reasons"
        )
        return "no candidate meets the spec's requirements", fix
    if v.limit == "baseline_cost":
        what = f"cost per item rose {_pct(v)} ({money(_num(v.before))} -> {money(v.value)})"
        flag = "--max-cost-increase"
    else:
        what = f"p{v.percentile or 95:g} latency rose {_pct(v)} ({secs(_num(v.before) or 0)} -> {secs(v.value or 0)})"
        flag = "--max-latency-increase"
    return (
        f"{what}, over the {flag} {v.budget:g}% limit",
        f"{_revert(changes)}; or, if the increase is intended, raise {flag}",
    )


def change_list(s: Suggestion) -> str:
    return " and ".join(change(ch) for ch in s.changes)


def _num(x) -> float | None:
    return x if isinstance(x, (int, float)) else None


def _pct(v: GateViolation) -> str:
    return percent_change(v.change_pct)
