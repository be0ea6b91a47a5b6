"""Capacity under load (issue #13): for each candidate, the batch, batch timeout and number of replicas whose
end-to-end latency meets the budget at its percentile under the peak load, then the autoscaled fleet hour by hour.
All candidates and batch sizes are searched together, vectorised; the queueing model is
:mod:`tokcost.core.capacity`, the derivation docs/methodology.md, "Capacity under load"."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tokcost.core.capacity import fewest
from tokcost.core.queueing import TIMEOUT_FILL_QUANTILE as TIMEOUT_FILL_QUANTILE  # re-exported (its tests read it)
from tokcost.core.queueing import ContinuousBatching, Discipline, Percentiles, StaticBatching
from tokcost.records.results import ChartData, ChartSeries
from tokcost.records.spec import Spec

if TYPE_CHECKING:
    from tokcost.engine.result import EngineResult

# Fleets are sized so that the approximated percentile meets this share of the budget: the queueing approximations
# (tokcost.core.capacity, tokcost.core.queueing) are verified to within 10% of simulation for static batching
# (tests/test_capacity.py) and 15% for continuous batching and bursty arrivals (tests/test_queueing.py).
SIZING_SHARE = 0.9
BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], dtype=float)  # the batch sizes the planner considers
# the queue disciplines by the engine profile's ``batching``
DISCIPLINES: dict[str, Discipline] = {d.name: d for d in (StaticBatching(), ContinuousBatching(BATCHES))}

HOURS = np.arange(24)
# A replica search tests the first counts above the fewest below saturation in one call (most end there), at most
# WINDOW of them and as many as keep a call near SEARCH_TESTS tests: a call's fixed cost is then spread, and a
# large one does no work it may not need
WINDOW = 8
SEARCH_TESTS = 4096


@dataclass(eq=False)
class Fleet:
    """A candidate's operating point under load (docs/methodology.md, "Capacity under load")."""

    index: int  # the chosen batch, an index into BATCHES
    replicas_peak: float  # the fewest replicas meeting the percentile latency at peak (n+1: one more); inf: none
    replicas_hourly: np.ndarray  # (24,) the autoscaled fleet hour by hour (fixed fleet: the max and the peak)
    timeout_s: float  # the batch timeout (0: continuous batching)
    batching: str  # the queue discipline, a key of DISCIPLINES
    row: dict  # the chosen batch's queue parameters (batch, service, step curves, timeout), shape (1,)
    # at peak on the fleet that serves it (:func:`at_peak`; None until then):
    latency: Percentiles | None = None  # end to end, seconds (inf: no fleet meets the objective)
    service_s: float = math.nan  # mean service (continuous batching: the time in a slot at the peak's load)
    utilization: float = math.nan  # busy fraction of the replicas

    @property
    def replicas_fixed(self) -> float:
        return max(self.replicas_peak, float(self.replicas_hourly.max()))


def hourly_weights(spec: Spec) -> np.ndarray:
    """The day's demand shape, 24 weights of mean 1: ``demand.hourly``, or the default: one smooth daily peak,
    exp(k cos(2 pi (h - 12) / 24)) (a von Mises curve: never zero), with k set so that max / mean = peak_to_mean
    (it grows from 1 at k = 0 towards 24). The phase (noon) does not change any cost."""
    d = spec.demand
    if d.hourly is not None:
        w = np.asarray(d.hourly, dtype=float)
        return w / w.mean()
    return _default_day(float(d.peak_to_mean)).copy()


@functools.lru_cache(maxsize=16)
def _default_day(peak_to_mean: float) -> np.ndarray:
    """:func:`hourly_weights`' default curve (its bisection once per peak_to_mean: a plan asks for it often)."""
    cosine = np.cos(2.0 * np.pi * (HOURS - 12) / 24.0)

    def ratio(k):
        w = np.exp(k * (cosine - 1.0))  # scaled by exp(-k): no overflow
        return w.max() / w.mean()

    lo, hi = 0.0, 1.0
    while ratio(hi) < peak_to_mean and hi < 1e4:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ratio(mid) < peak_to_mean else (lo, mid)
    w = np.exp(hi * (cosine - 1.0))
    return w / w.mean()


def demand_rates(spec: Spec) -> tuple[float, np.ndarray]:
    """(peak requests/s, (24,) requests/s hour by hour). The peak is peak_to_mean x the mean, or the busiest hour
    of ``demand.hourly``."""
    mean = spec.demand.per_day / 86400.0
    w = hourly_weights(spec)
    peak = mean * (w.max() if spec.demand.hourly is not None else spec.demand.peak_to_mean)
    return peak, mean * w


def _sizing(
    discipline: Discipline, rows: dict, rate, q: float, limit: float, lowest: float, scv: float = 1.0, among: int = 1
) -> np.ndarray:
    """The fewest replicas (at least ``lowest``) per row whose q-quantile latency meets ``limit`` at ``rate``
    requests/s, below saturation; inf where no fleet does (the formation wait or the service alone breaks it);
    ``lowest`` (it may be 0) where the rate is 0.

    With ``among`` > 1 the rows come in groups of that many (a candidate's batch sizes) of which only the first
    row needing the fewest replicas is wanted (:func:`numpy.argmin`'s pick): the tail is evaluated only for the
    rows that can still be it. A search starts at the fewest replicas below saturation, so a row whose start is
    above what its group's most promising row needs (or equal, at a larger batch) cannot win and is left inf."""
    rate = np.broadcast_to(np.asarray(rate, dtype=float), rows["batch"].shape)
    out = np.where(rate <= 0, lowest, np.inf)
    live = np.flatnonzero(rows["fits"] & (rate > 0))
    if not live.size:
        return out
    # the search starts at the fewest replicas below saturation: at most one doubling is then usually enough
    start = np.full(out.shape, np.inf)
    start[live] = np.maximum(np.floor(discipline.saturation(_take(rows, live), rate[live])) + 1.0, max(lowest, 1.0))
    if among == 1:
        out[live] = _search(discipline, rows, rate, live, start[live], q, limit, scv)
        return out
    groups = start.reshape(-1, among)
    first = np.argmin(groups, axis=1)  # each group's lowest start (the smallest batch on a tie)
    has = np.isfinite(groups[np.arange(len(groups)), first])
    lead = np.flatnonzero(has) * among + first[has]
    out[lead] = _search(discipline, rows, rate, lead, start[lead], q, limit, scv)
    reached = np.repeat(out.reshape(-1, among)[np.arange(len(groups)), first], among)
    position = np.tile(np.arange(among), len(groups))
    earlier = position < np.repeat(first, among)
    rest = np.isfinite(start) & ((start < reached) | ((start == reached) & earlier))
    rest[lead] = False
    more = np.flatnonzero(rest)
    if more.size:
        out[more] = _search(discipline, rows, rate, more, start[more], q, limit, scv)
    return out


def _search(discipline: Discipline, rows: dict, rate: np.ndarray, at: np.ndarray, start, q, limit, scv) -> np.ndarray:
    """:func:`_sizing` of the rows ``at``, each searched from its ``start`` (the test is monotone in the replicas,
    as :func:`~tokcost.core.capacity.fewest` takes it). Most rows need at most a few replicas more than
    ``start``: one vectorised test of the first counts from each start settles them (as many as keep the call
    near :data:`SEARCH_TESTS` tests, at most :data:`WINDOW`); of the rest, those some fleet serves (at 2**24
    replicas: the wait for a batch to form, or the service, alone may leave the budget) are searched above."""
    n = len(at)
    found = np.full(n, np.inf)
    if not n:  # (no group with a finite start: nothing to search)
        return found
    load = discipline.load(_take(rows, at), rate[at], scv)
    window = int(np.clip(SEARCH_TESTS // n, 1, WINDOW))
    counts = start[:, None] + np.arange(window)
    passed = ~load.take(np.repeat(np.arange(n), window)).exceeds(counts.ravel(), q, limit)
    passed = passed.reshape(n, window)
    hit = passed.any(axis=1)
    found[hit] = start[hit] + np.argmax(passed[hit], axis=1)  # the first count that meets the limit
    rest = np.flatnonzero(~hit)
    if rest.size:
        served = rest[~load.take(rest).exceeds(np.full(rest.size, 2.0**24), q, limit)]
        if served.size:
            above = load.take(served)

            def ok(c: np.ndarray, which: np.ndarray) -> np.ndarray:  # only the rows the search still asks about
                return ~above.take(which).exceeds(c, q, limit)

            ways = int(np.clip(SEARCH_TESTS // served.size, 1, 16))
            found[served] = fewest(ok, start[served] + window, ways=ways)
    return found


def _take(rows: dict, at) -> dict:
    return {k: v[at] for k, v in rows.items()}


def step_inputs(grid: EngineResult) -> dict[str, np.ndarray]:
    """The step-level inputs of each row of a stacked grid (rows x BATCHES,
    :func:`~tokcost.engine.estimate.estimate_stack`) of a token-by-token decoder: seconds per decode step at each
    batch, marginal seconds per prompt token, prompt tokens and forwards per request (zeros for other families)."""
    from tokcost.core.queueing import prefill_token_s

    n = len(grid.latency_s)
    steps = grid.decode
    if steps is None:
        zeros = np.zeros(n)
        return dict(decode_step=np.zeros((n, len(BATCHES))), prefill_tok=zeros, prompt=zeros, forwards=zeros)
    forwards = np.asarray(steps.forwards, dtype=float)[:, 0]  # per request: the same at every batch
    prompt = np.asarray(steps.prompt_tokens, dtype=float)[:, 0]
    decode = np.broadcast_to(np.asarray(steps.decode_s, dtype=float), (n, len(BATCHES)))
    prefill = np.broadcast_to(np.asarray(steps.prefill_s, dtype=float), (n, len(BATCHES)))
    return dict(
        decode_step=decode / np.maximum(forwards, 1.0)[:, None],
        prefill_tok=prefill_token_s(prefill, prompt, BATCHES),
        prompt=prompt,
        forwards=forwards,
    )


@dataclass(eq=False)
class Fleets:
    """Every candidate's fleet as arrays, one entry per candidate (:func:`fleets`); :meth:`fleet` is one of them."""

    index: np.ndarray  # (n,) the chosen batch, an index into BATCHES
    replicas_peak: np.ndarray  # (n,) as Fleet's
    replicas_hourly: np.ndarray  # (n, 24)
    batching: list[str]  # each candidate's queue discipline
    rows: dict  # the chosen batches' queue parameters, (n, ...) each

    @property
    def replicas_fixed(self) -> np.ndarray:
        return np.maximum(self.replicas_peak, self.replicas_hourly.max(axis=1))

    def fleet(self, j: int, **at_peak) -> Fleet:
        return Fleet(
            index=int(self.index[j]),
            replicas_peak=float(self.replicas_peak[j]),
            replicas_hourly=self.replicas_hourly[j],
            timeout_s=float(self.rows["timeout"][j]),
            batching=self.batching[j],
            row={k: v[j : j + 1] for k, v in self.rows.items()},
            **at_peak,
        )


def fleets(spec: Spec, service: np.ndarray, fits: np.ndarray, steps: dict, batching: list[str]) -> Fleets:
    """Every candidate's fleet: ``service`` and ``fits`` (candidates x BATCHES) its seconds per batch and whether
    each batch fits in memory, ``steps`` its :func:`step_inputs`, ``batching`` its engine's queue discipline (a key
    of :data:`DISCIPLINES`). The candidates of a discipline and their batches in one vectorised search: for each
    batch the fewest replicas whose percentile latency meets :data:`SIZING_SHARE` of the budget at peak; the batch
    needing the fewest (on a tie the smaller batch: :func:`_sizing`'s ``among`` search relies on it); then the
    autoscaled fleet hour by hour with that batch and timeout. The latency at peak is left to :func:`at_peak`,
    for the fleets a caller keeps."""
    n = len(batching)
    index, peak, hourly = np.zeros(n, dtype=int), np.empty(n), np.empty((n, len(HOURS)))
    rows: dict = {}
    for name in dict.fromkeys(batching):
        which = np.array([j for j, b in enumerate(batching) if b == name])
        part = {k: v[which] for k, v in steps.items()}
        best, c_peak, c_hour, pick = _fleets(spec, DISCIPLINES[name], service[which], fits[which], part)
        index[which], peak[which], hourly[which] = best, c_peak, c_hour
        for k, v in pick.items():
            rows.setdefault(k, np.empty((n, *v.shape[1:]), dtype=v.dtype))[which] = v
    return Fleets(index=index, replicas_peak=peak, replicas_hourly=hourly, batching=list(batching), rows=rows)


def _fleets(spec: Spec, discipline: Discipline, service: np.ndarray, fits: np.ndarray, steps: dict) -> tuple:
    q = spec.budget.latency_percentile / 100.0
    limit = spec.budget.latency_s * SIZING_SHARE
    peak, hourly = demand_rates(spec)
    n = len(service)
    batch = np.broadcast_to(BATCHES, service.shape)
    timeout = discipline.timeout(batch, service, peak, limit)
    rows = {
        "batch": batch.ravel().astype(float),
        "service": service.ravel(),
        "curve": np.repeat(service, len(BATCHES), 0),  # every batch's service: a part-full batch's in simulation
        "timeout": timeout.ravel(),
        "decode_step": np.repeat(steps["decode_step"], len(BATCHES), 0),
        "prefill_tok": np.repeat(steps["prefill_tok"], len(BATCHES)).astype(float),
        "prompt": np.repeat(steps["prompt"], len(BATCHES)).astype(float),
        "forwards": np.repeat(steps["forwards"], len(BATCHES)).astype(float),
    }
    rows["fits"] = fits.ravel() & (discipline.own_work(rows) <= limit)
    scv = spec.demand.scv
    extra = 1.0 if spec.budget.redundancy == "n+1" else 0.0  # one replica more: the percentile holds with one down
    lowest = max(spec.demand.min_replicas, 1)
    reps = _sizing(discipline, rows, peak, q, limit, lowest, scv, among=len(BATCHES)).reshape(n, len(BATCHES))
    best = np.argmin(reps, axis=1)  # the fewest replicas; on a tie the smaller batch (the shorter service)
    pick = {k: v.reshape(n, len(BATCHES), *v.shape[1:])[np.arange(n), best] for k, v in rows.items()}
    c_peak = reps[np.arange(n), best] + extra
    # the day: 24 hours of each candidate's chosen batch and timeout
    rates, hour_of = np.unique(hourly, return_inverse=True)  # the default day is symmetric: 13 distinct rates
    served = np.flatnonzero(np.isfinite(c_peak))  # the others serve no hour either
    hours = {k: np.repeat(v[served], len(rates), 0) for k, v in pick.items()}
    by_rate = np.full((n, len(rates)), np.inf)
    every = np.tile(rates, len(served))
    sized = _sizing(discipline, hours, every, q, limit, float(spec.demand.min_replicas), scv)
    sized = np.where(every > 0, sized + extra, sized)  # an idle hour keeps min_replicas
    by_rate[served] = sized.reshape(len(served), len(rates))
    return best, c_peak, by_rate[:, hour_of], pick


def at_peak(spec: Spec, sized: Fleets, which) -> list[Fleet]:
    """The fleets ``which`` (indices into ``sized``) with their latency percentiles, mean service and utilisation
    at peak, on the fleet that serves the peak (the fleets of a discipline together)."""
    which = [int(j) for j in which]
    out: list[Fleet | None] = [None] * len(which)
    peak, _ = demand_rates(spec)
    q = spec.budget.latency_percentile / 100.0
    none = Percentiles(*(np.asarray(np.inf),) * 4)
    for name in dict.fromkeys(sized.batching[j] for j in which):
        slots = [i for i, j in enumerate(which) if sized.batching[j] == name]
        at = np.array([which[i] for i in slots])
        rows = {k: v[at] for k, v in sized.rows.items()}
        c = sized.replicas_peak[at]
        ok = np.isfinite(c)
        load = DISCIPLINES[name].load(rows, peak, spec.demand.scv)
        terms = load.terms(np.where(ok, c, 1.0))  # one replica where no fleet serves the peak: its service time
        service = load.mean_service(terms).tolist()
        util = np.where(ok, terms.util, np.inf).tolist()
        latency = [none] * len(slots)
        served = np.flatnonzero(ok)
        if served.size:
            pct, _ = load.take(served).percentiles(c[served], q)
            for k, i in enumerate(served.tolist()):
                latency[i] = pct.at(k)
        for i, slot in enumerate(slots):
            out[slot] = sized.fleet(which[slot], latency=latency[i], service_s=service[i], utilization=util[i])
    return [f for f in out if f is not None]


LOAD_POINTS = 40


def load_chart(spec: Spec, label: str, fleet: Fleet) -> ChartData:
    """End-to-end p50, p95 and p99 of one candidate against the request rate, on its peak fleet with its batch and
    timeout held fixed, from 5% to 98% of the rate that saturates that fleet; the budget and the peak marked."""
    peak, _ = demand_rates(spec)
    row, c = fleet.row, fleet.replicas_peak
    # at the saturating rate every batch fills before its timeout (continuous: every slot busy at the full batch,
    # each request's service that of a full batch)
    saturating = float(c * row["batch"][0] / row["service"][0])
    rates = saturating * np.linspace(0.05, 0.98, LOAD_POINTS)
    rows = {k: np.repeat(v, LOAD_POINTS, 0) for k, v in row.items()}
    load = DISCIPLINES[fleet.batching].load(rows, rates, spec.demand.scv)
    pct, _ = load.percentiles(np.full(LOAD_POINTS, c), spec.budget.latency_percentile / 100.0)
    q = spec.budget.latency_percentile
    n = int(c)
    return ChartData(
        id="load",
        kind="line",
        x_unit="1/s",
        y_unit="s",
        budget=spec.budget.latency_s,
        marker=peak,
        fixed={"batch": float(row["batch"][0]), "timeout_s": float(row["timeout"][0]), "replicas": float(n)},
        subject=label,
        percentile=q,
        series=[
            ChartSeries(label=label, x=rates.tolist(), y=[float(v) if np.isfinite(v) else None for v in curve])
            for label, curve in (("p50", pct.p50), ("p95", pct.p95), ("p99", pct.p99))
        ],
    )


def day_chart(spec: Spec, fleet: Fleet) -> ChartData:
    """The day's demand hour by hour (bars) and the fleet that serves it: autoscaled and fixed (steps)."""
    _, hourly = demand_rates(spec)
    hours = [float(h) for h in HOURS]
    return ChartData(
        id="day",
        kind="day",
        y_unit="1/s",
        demand_shape="default" if spec.demand.hourly is None else "hourly",
        scaling=spec.demand.scaling,
        series=[
            ChartSeries(label="requests/s", group="demand", x=hours, y=hourly.tolist()),
            ChartSeries(
                label="autoscaled replicas", group="replicas", x=hours, y=[float(r) for r in fleet.replicas_hourly]
            ),
            ChartSeries(label="fixed fleet", group="replicas", x=hours, y=[fleet.replicas_fixed] * 24),
        ],
    )
