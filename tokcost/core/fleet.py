"""Capacity under load (issue #13): for each candidate, the batch, batch timeout and number of replicas whose
end-to-end latency meets the budget at its percentile under the peak load, then the autoscaled fleet hour by hour.
All candidates and batch sizes are searched together, vectorised; the queueing model is
:mod:`tokcost.core.capacity`, the derivation docs/methodology.md, "Capacity under load"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tokcost.core.capacity import fewest, fill_time
from tokcost.core.queueing import (
    EXACT_UP_TO,
    continuous_terms,
    exceeds,
    mdc_number_in_system,
    mdc_percentile,
    mdc_wait_cdf,
    percentile,
    static_terms,
    step_curve,
)
from tokcost.records.results import ChartData, ChartSeries
from tokcost.records.spec import Spec

if TYPE_CHECKING:
    from tokcost.engine.result import EngineResult

# Fleets are sized so that the approximated percentile meets this share of the budget: the queueing approximations
# (tokcost.core.capacity, tokcost.core.queueing) are verified to within 10% of simulation for static batching
# (tests/test_capacity.py) and 15% for continuous batching and bursty arrivals (tests/test_queueing.py).
SIZING_SHARE = 0.9
TIMEOUT_FILL_QUANTILE = 0.95  # whatever the objective's percentile: so that a higher one never needs fewer replicas
BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], dtype=float)  # the batch sizes the planner considers

HOURS = np.arange(24)


@dataclass
class Fleet:
    """A candidate's operating point under load (docs/methodology.md, "Capacity under load")."""

    index: int  # the chosen batch, an index into BATCHES
    replicas_peak: float  # the fewest replicas meeting the percentile latency at peak (n+1: one more); inf: none
    replicas_hourly: np.ndarray  # (24,) the autoscaled fleet hour by hour (fixed fleet: the max and the peak)
    timeout_s: float  # the batch timeout (0: continuous batching)
    service_s: float  # service time at peak (continuous batching: the mean time in a slot at the peak's load)
    percentiles: np.ndarray  # (4,) end-to-end p50, p95, p99 and at the objective's percentile at peak, seconds
    utilization: float  # busy fraction of the replicas at peak
    row: dict  # the chosen batch's queue parameters (batch, service, step curves, continuous, timeout), shape (1,)

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
    cosine = np.cos(2.0 * np.pi * (HOURS - 12) / 24.0)

    def ratio(k):
        w = np.exp(k * (cosine - 1.0))  # scaled by exp(-k): no overflow
        return w.max() / w.mean()

    lo, hi = 0.0, 1.0
    while ratio(hi) < d.peak_to_mean and hi < 1e4:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ratio(mid) < d.peak_to_mean else (lo, mid)
    w = np.exp(hi * (cosine - 1.0))
    return w / w.mean()


def demand_rates(spec: Spec) -> tuple[float, np.ndarray]:
    """(peak requests/s, (24,) requests/s hour by hour). The peak is peak_to_mean x the mean, or the busiest hour
    of ``demand.hourly``."""
    mean = spec.demand.per_day / 86400.0
    w = hourly_weights(spec)
    peak = mean * (w.max() if spec.demand.hourly is not None else spec.demand.peak_to_mean)
    return peak, mean * w


def _terms(rows: dict, rate, c, scv: float) -> dict:
    """The latency terms (:mod:`tokcost.core.queueing`) of each row at ``c`` replicas and ``rate`` requests/s:
    static rows by the batch queue, continuous rows by the step-level model."""
    rate = np.broadcast_to(np.asarray(rate, dtype=float), rows["batch"].shape)
    c = np.broadcast_to(np.asarray(c, dtype=float), rows["batch"].shape)
    cont = rows["continuous"]
    out = static_terms(rate, np.where(cont, 1.0, rows["batch"]), rows["service"], c, rows["timeout"], scv)
    out["pu"], out["theta_u"] = np.zeros_like(rate), np.ones_like(rate)
    if cont.any():
        step = step_curve(rows["decode_step"][cont], 1.0, BATCHES)
        con = continuous_terms(
            rate[cont],
            c[cont],
            rows["batch"][cont],
            step,
            rows["prefill_tok"][cont],
            rows["prompt"][cont],
            rows["forwards"][cont],
            scv,
        )
        for key in out:
            if key == "extra":
                extra = np.zeros((len(rate), max(out["extra"].shape[-1], con["extra"].shape[-1])))
                extra[~cont] = out["extra"][~cont]
                extra[cont] = con["extra"]
                out["extra"] = extra
            else:
                out[key] = np.where(cont, 0.0, out[key]).astype(out[key].dtype)
                out[key][cont] = con[key]
    # one request per batch on a small fleet under Poisson arrivals at light load: the exact M/D/c wait, where
    # the approximation errs most (docs/methodology.md, "Small fleets exactly")
    out["exact"] = ~cont & (rows["batch"] == 1) & (c <= EXACT_UP_TO) & (out["util"] <= 0.5) & (scv == 1.0)
    return out


def _exceeds(rows: dict, rate, c, q: float, limit: float, scv: float, memo: dict | None = None) -> np.ndarray:
    """True where the q-quantile latency at ``c`` replicas exceeds ``limit`` (or the queue is unstable).
    ``memo`` keeps the exact M/D/c distributions of a search by (load, servers): the replica search asks again
    for the rows it has settled."""
    t = _terms(rows, rate, c, scv)
    out = exceeds(limit, t, q)
    if t["exact"].any():  # one evaluation of the exact wait's CDF at the slack the budget leaves
        e = t["exact"]
        rate, c = (np.broadcast_to(np.asarray(v, dtype=float), e.shape)[e] for v in (rate, c))
        s = rows["service"][e]
        memo = {} if memo is None else memo
        keys = list(zip((rate * s).tolist(), c.tolist()))
        new = [i for i, k in enumerate(keys) if k not in memo]
        if new:
            found = mdc_number_in_system(rate[new], s[new], c[new])
            width = max([found.shape[-1], *(v.shape[-1] for v in memo.values())])
            for i, row in zip(new, found):
                memo[keys[i]] = row
            memo.update({k: np.pad(v, (0, width - v.shape[-1])) for k, v in memo.items() if v.shape[-1] < width})
        dist = np.stack([memo[k] for k in keys])
        out[e] = (limit < s) | (mdc_wait_cdf(np.maximum(limit - s, 0.0), rate, s, c, dist) < q)
    return out


def _percentiles(rows: dict, rate, c, levels: np.ndarray, scv: float) -> tuple[np.ndarray, dict]:
    """((rows, levels) end-to-end latency quantiles, the terms) at ``c`` replicas and ``rate`` requests/s."""
    t = _terms(rows, rate, c, scv)
    col = {k: (v[:, None, :] if k == "extra" else np.asarray(v)[:, None]) for k, v in t.items()}
    pct = percentile(col, levels[None, :])
    if t["exact"].any():
        e = t["exact"]
        rate = np.broadcast_to(np.asarray(rate, dtype=float), e.shape)
        c = np.broadcast_to(np.asarray(c, dtype=float), e.shape)
        pct[e] = mdc_percentile(rate[e][:, None], rows["service"][e][:, None], c[e][:, None], levels[None, :])
    return pct, t


def _sizing(rows: dict, rate, q: float, limit: float, lowest: float, scv: float = 1.0) -> np.ndarray:
    """The fewest replicas (at least ``lowest``) per row whose q-quantile latency meets ``limit`` at ``rate``
    requests/s, below saturation; inf where no fleet does (the formation wait or the service alone breaks it);
    ``lowest`` (it may be 0) where the rate is 0."""
    rate = np.broadcast_to(np.asarray(rate, dtype=float), rows["batch"].shape)
    out = np.where(rate <= 0, lowest, np.inf)
    live = rows["fits"] & (rate > 0)
    if live.any():  # the rows some fleet can serve: the wait for a batch to form alone leaves the budget
        idx = np.flatnonzero(live)
        sub = {k: v[idx] for k, v in rows.items()}
        live[idx] = ~_exceeds(sub, rate[idx], np.full(len(idx), 2.0**24), q, limit, scv)
    if live.any():
        sub = {k: v[live] for k, v in rows.items()}
        r = rate[live]

        memo: dict = {}

        def ok(c):
            return ~_exceeds(sub, r, c, q, limit, scv, memo)

        # start the search at the fewest replicas below saturation: at most one doubling is then usually enough
        from tokcost.core.capacity import effective_batch

        cont = sub["continuous"]
        slots = np.where(cont, sub["batch"], effective_batch(r, sub["batch"], sub["timeout"]))
        # continuous: the prefill work alone must leave time (r p pi < c), and every slot's work fit (a full slot
        # holds a request at least its forwards x d(N) + p pi)
        full = (
            sub["forwards"] * sub["decode_step"][np.arange(len(r)), _batch_index(sub["batch"])]
            + sub["prompt"] * sub["prefill_tok"]
        )
        need = np.where(
            cont, np.maximum(r * sub["prompt"] * sub["prefill_tok"], r * full / slots), r * sub["service"] / slots
        )
        stable_from = np.floor(need) + 1.0
        out[live] = fewest(ok, np.maximum(stable_from, max(lowest, 1.0)))
    return out


def _batch_index(batch: np.ndarray) -> np.ndarray:
    return np.searchsorted(BATCHES, batch)


def _continuous_rows(grid: EngineResult) -> dict:
    """The step-level inputs of a token-by-token decoder's grid row: seconds per decode step at each batch,
    marginal seconds per prompt token, prompt tokens and forwards per request (zeros for other families)."""
    from tokcost.core.queueing import prefill_token_s

    steps = grid.decode
    if steps is None:
        zeros = np.zeros(len(BATCHES))
        return dict(decode_step=zeros, prefill_tok=0.0, prompt=0.0, forwards=0.0)
    forwards = float(np.asarray(steps.forwards, dtype=float).flat[0])
    prompt = float(np.asarray(steps.prompt_tokens, dtype=float).flat[0])
    decode = np.broadcast_to(np.asarray(steps.decode_s, dtype=float), BATCHES.shape)
    prefill = np.broadcast_to(np.asarray(steps.prefill_s, dtype=float), BATCHES.shape)
    return dict(
        decode_step=decode / max(forwards, 1.0),
        prefill_tok=float(prefill_token_s(prefill, prompt, BATCHES)),
        prompt=prompt,
        forwards=forwards,
    )


def fleets(spec: Spec, grids: list[EngineResult], continuous: list[bool]) -> list[Fleet]:
    """Every candidate's operating point (``continuous``: whether its engine batches continuously), all candidates
    and batches in one vectorised search: for each batch the fewest replicas whose percentile latency meets
    :data:`SIZING_SHARE` of the budget at peak; the batch needing the fewest (then the lowest percentile latency);
    then the autoscaled fleet hour by hour with that batch and timeout."""
    q = spec.budget.latency_percentile / 100.0
    limit = spec.budget.latency_s * SIZING_SHARE
    peak, hourly = demand_rates(spec)
    n = len(grids)
    c = grids
    service = np.stack([np.broadcast_to(np.asarray(x.latency_s, dtype=float), BATCHES.shape) for x in c])
    fits = np.stack([np.broadcast_to(np.asarray(x.fits_in_memory, dtype=bool), BATCHES.shape) for x in c])
    cont = np.repeat(np.array(continuous, dtype=bool)[:, None], len(BATCHES), 1)
    batch = np.broadcast_to(BATCHES, service.shape)
    # the timeout: the time a batch takes to fill at peak (its 95th percentile: it rarely fires then), at most half the
    # slack the budget leaves above the service time (the other half is left for queueing); 0 for continuous
    timeout = np.where(
        cont, 0.0, np.minimum(fill_time(batch, TIMEOUT_FILL_QUANTILE) / peak, np.maximum(limit - service, 0.0) / 2.0)
    )
    steps = [_continuous_rows(x) for x in c]
    rows = {
        "batch": batch.ravel().astype(float),
        "service": service.ravel(),
        "curve": np.repeat(service, len(BATCHES), 0),  # every batch's service: a part-full batch's in simulation
        "continuous": cont.ravel(),
        "timeout": timeout.ravel(),
        "decode_step": np.repeat(np.stack([st["decode_step"] for st in steps]), len(BATCHES), 0),
        "prefill_tok": np.repeat([st["prefill_tok"] for st in steps], len(BATCHES)).astype(float),
        "prompt": np.repeat([st["prompt"] for st in steps], len(BATCHES)).astype(float),
        "forwards": np.repeat([st["forwards"] for st in steps], len(BATCHES)).astype(float),
    }
    # a request's own work, alone on a replica: a static batch's service; continuous, its prefill and its decode
    # steps at the batch's occupancy
    own = np.where(
        rows["continuous"],
        rows["forwards"] * rows["decode_step"][np.arange(len(rows["batch"])), np.tile(np.arange(len(BATCHES)), n)]
        + rows["prompt"] * rows["prefill_tok"],
        rows["service"],
    )
    rows["fits"] = fits.ravel() & (own <= limit)
    scv = spec.demand.scv
    extra = 1.0 if spec.budget.redundancy == "n+1" else 0.0  # one replica more: the percentile holds with one down
    reps = _sizing(rows, peak, q, limit, max(spec.demand.min_replicas, 1), scv).reshape(n, len(BATCHES))
    best = np.argmin(reps, axis=1)  # the fewest replicas; on a tie the smaller batch (the shorter service)
    pick = {k: v.reshape(n, len(BATCHES), *v.shape[1:])[np.arange(n), best] for k, v in rows.items()}
    needed = reps[np.arange(n), best]
    c_peak = needed + extra
    # the day: 24 hours of each candidate's chosen batch and timeout
    rates, hour_of = np.unique(hourly, return_inverse=True)  # the default day is symmetric: 13 distinct rates
    served = np.flatnonzero(np.isfinite(c_peak))  # the others serve no hour either
    hours = {k: np.repeat(v[served], len(rates), 0) for k, v in pick.items()}
    by_rate = np.full((n, len(rates)), np.inf)
    sized = _sizing(hours, np.tile(rates, len(served)), q, limit, float(spec.demand.min_replicas), scv)
    sized = np.where(np.tile(rates, len(served)) > 0, sized + extra, sized)  # an idle hour keeps min_replicas
    by_rate[served] = sized.reshape(len(served), len(rates))
    c_hour = by_rate[:, hour_of]
    # percentiles and utilisation at peak on the fleet that serves the peak
    ok = np.isfinite(c_peak)
    wanted = np.array([0.5, 0.95, 0.99, q])
    levels, level_of = np.unique(wanted, return_inverse=True)
    pct, terms = _percentiles(pick, peak, np.where(ok, c_peak, 1.0), levels, scv)
    pct = pct[:, level_of]
    mean_service = np.where(
        pick["continuous"], terms["service"] / np.where(terms["pu"] < 1, 1.0 - terms["pu"], 1.0), pick["service"]
    )
    return [
        Fleet(
            index=int(best[j]),
            replicas_peak=float(c_peak[j]),
            replicas_hourly=c_hour[j],
            timeout_s=float(pick["timeout"][j]),
            service_s=float(mean_service[j]),
            percentiles=pct[j] if ok[j] else np.full(4, np.inf),
            utilization=float(terms["util"][j]) if ok[j] else np.inf,
            row={k: v[j : j + 1] for k, v in pick.items()},
        )
        for j in range(n)
    ]


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
    levels = np.array([0.5, 0.95, 0.99])
    pct, _ = _percentiles(
        {k: np.repeat(v, LOAD_POINTS, 0) for k, v in row.items()},
        rates,
        np.full(LOAD_POINTS, c),
        levels,
        spec.demand.scv,
    )
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
            ChartSeries(
                label=f"p{100 * lv:g}", x=rates.tolist(), y=[float(v) if np.isfinite(v) else None for v in pct[:, i]]
            )
            for i, lv in enumerate(levels)
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
