"""Capacity under load (issue #13): for each candidate, the batch, batch timeout and number of replicas whose
end-to-end latency meets the budget at its percentile under the peak load, then the autoscaled fleet hour by hour.
All candidates and batch sizes are searched together, vectorised; the queueing model is
:mod:`tokcost.core.capacity`, the derivation docs/methodology.md, "Capacity under load"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tokcost.core.capacity import effective_batch, fewest, fill_time, latency_percentile, utilization, wait_exceeds
from tokcost.records.results import ChartData, ChartSeries
from tokcost.records.spec import Spec

# Fleets are sized so that the approximated percentile meets this share of the budget: the queueing approximation
# (tokcost.core.capacity) is verified to within 10% of simulation (tests/test_capacity.py), and at the loads the
# planner runs at it errs low (about 5% at p95 for continuous batching's many slots at 60-85% load).
SIZING_SHARE = 0.9
TIMEOUT_FILL_QUANTILE = 0.95  # whatever the objective's percentile: so that a higher one never needs fewer replicas
BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], dtype=float)  # the batch sizes the planner considers

HOURS = np.arange(24)


@dataclass
class Fleet:
    """A candidate's operating point under load (docs/methodology.md, "Capacity under load")."""

    index: int  # the chosen batch, an index into BATCHES
    replicas_peak: float  # the fewest replicas meeting the percentile latency at peak; inf when none does
    replicas_hourly: np.ndarray  # (24,) the autoscaled fleet hour by hour (fixed fleet: the max and the peak)
    timeout_s: float  # the batch timeout (0: continuous batching)
    service_s: float  # service time at peak (continuous batching: at the occupancy the load implies)
    percentiles: np.ndarray  # (4,) end-to-end p50, p95, p99 and at the objective's percentile at peak, seconds
    utilization: float  # busy fraction of the replicas at peak
    row: dict  # the chosen batch's queue parameters (batch, service, latency curve, continuous, timeout), shape (1,)

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
    mean = spec.demand.requests_per_day / 86400.0
    w = hourly_weights(spec)
    peak = mean * (w.max() if spec.demand.hourly is not None else spec.demand.peak_to_mean)
    return peak, mean * w


def _occupancy_service(curve: np.ndarray, cap, per_replica_rps) -> np.ndarray:
    """Continuous batching: the service time at the occupancy N the load implies, N = rate per replica x
    latency(N) (Little's law), N at most the batch cap; latency(N) interpolated in log2 N over BATCHES."""
    logb = np.log2(BATCHES)

    def at(n):
        x = np.clip(np.log2(np.maximum(n, 1.0)), 0.0, logb[-1])
        i = np.minimum(np.floor(x).astype(int), len(BATCHES) - 2)
        f = (x - logb[i])[..., None]
        lo = np.take_along_axis(curve, i[..., None], -1)
        hi = np.take_along_axis(curve, i[..., None] + 1, -1)
        return (lo * (1 - f) + hi * f)[..., 0]

    n = np.ones_like(per_replica_rps)
    for _ in range(30):  # a contraction: latency grows far slower than N
        n = np.minimum(cap, np.maximum(1.0, per_replica_rps * at(n)))
    return at(n)


def _queue_inputs(rows: dict, rate, c) -> dict:
    """The capacity-model arguments of each row at ``c`` replicas. Continuous batching is the same queue with no
    batch to form: c x cap request slots, each served in the service time at the occupancy the load implies."""
    cont = rows["continuous"]
    per_replica = np.broadcast_to(np.asarray(rate, dtype=float) / np.maximum(c, 1.0), cont.shape)
    s = np.array(np.broadcast_to(rows["service"], cont.shape), dtype=float)
    if cont.any():  # the occupancy's fixed point only where it is used
        s[cont] = _occupancy_service(rows["curve"][cont], rows["batch"][cont], per_replica[cont])
    return dict(
        rate=np.broadcast_to(np.asarray(rate, dtype=float), s.shape),
        batch=np.where(cont, 1.0, rows["batch"]),
        service_s=s,
        replicas=np.where(cont, c * rows["batch"], c),
        timeout_s=rows["timeout"],
    )


def _sizing(rows: dict, rate, q: float, limit: float, lowest: float) -> np.ndarray:
    """The fewest replicas (at least ``lowest``) per row whose q-quantile latency meets ``limit`` at ``rate``
    requests/s, below saturation; inf where no fleet does (the formation wait or the service alone breaks it);
    ``lowest`` (it may be 0) where the rate is 0."""
    rate = np.broadcast_to(np.asarray(rate, dtype=float), rows["batch"].shape)
    out = np.where(rate <= 0, lowest, np.inf)
    live = rows["fits"] & (rate > 0)
    if live.any():  # the rows some fleet can serve: the wait for a batch to form alone leaves the budget
        idx = np.flatnonzero(live)
        sub = {k: v[idx] for k, v in rows.items()}
        unbounded = _queue_inputs(sub, rate[idx], np.full(len(idx), 2.0**24))
        live[idx] = ~wait_exceeds(limit - unbounded["service_s"], q=q, **unbounded)
    if live.any():
        sub = {k: v[live] for k, v in rows.items()}
        r = rate[live]

        def ok(c, rows):  # only the rows still searched (capacity.fewest's by_rows)
            x = _queue_inputs({k: v[rows] for k, v in sub.items()}, r[rows], c)
            return ~wait_exceeds(limit - x["service_s"], q=q, **x)

        # start the search at the fewest replicas below saturation: at most one doubling is then usually enough
        slots = np.where(sub["continuous"], sub["batch"], effective_batch(r, sub["batch"], sub["timeout"]))
        stable_from = np.floor(r * sub["service"] / slots) + 1.0  # continuous: the service at full occupancy
        out[live] = fewest(ok, np.maximum(stable_from, max(lowest, 1.0)), by_rows=True)
    return out


def fleets(spec: Spec, grids: list[dict], continuous: list[bool]) -> list[Fleet]:
    """Every candidate's operating point (``continuous``: whether its engine batches continuously), all candidates
    and batches in one vectorised search: for each batch the fewest replicas whose percentile latency meets
    :data:`SIZING_SHARE` of the budget at peak; the batch needing the fewest (then the lowest percentile latency);
    then the autoscaled fleet hour by hour with that batch and timeout."""
    q = spec.budget.latency_percentile / 100.0
    limit = spec.budget.latency_s * SIZING_SHARE
    peak, hourly = demand_rates(spec)
    n = len(grids)
    c = grids
    service = np.stack([np.broadcast_to(np.asarray(x["latency_s"], dtype=float), BATCHES.shape) for x in c])
    fits = np.stack([np.broadcast_to(np.asarray(x["fits_in_memory"], dtype=bool), BATCHES.shape) for x in c])
    cont = np.repeat(np.array(continuous, dtype=bool)[:, None], len(BATCHES), 1)
    batch = np.broadcast_to(BATCHES, service.shape)
    # the timeout: the time a batch takes to fill at peak (its 95th percentile: it rarely fires then), at most half the
    # slack the budget leaves above the service time (the other half is left for queueing); 0 for continuous
    timeout = np.where(
        cont, 0.0, np.minimum(fill_time(batch, TIMEOUT_FILL_QUANTILE) / peak, np.maximum(limit - service, 0.0) / 2.0)
    )
    rows = {
        "batch": batch.ravel().astype(float),
        "service": service.ravel(),
        "curve": np.repeat(service, len(BATCHES), 0),
        "continuous": cont.ravel(),
        "timeout": timeout.ravel(),
        "fits": fits.ravel() & (service.ravel() <= limit),
    }
    reps = _sizing(rows, peak, q, limit, max(spec.demand.min_replicas, 1)).reshape(n, len(BATCHES))
    best = np.argmin(reps, axis=1)  # the fewest replicas; on a tie the smaller batch (the shorter service)
    pick = {k: v.reshape(n, len(BATCHES), *v.shape[1:])[np.arange(n), best] for k, v in rows.items()}
    c_peak = reps[np.arange(n), best]
    # the day: 24 hours of each candidate's chosen batch and timeout
    rates, hour_of = np.unique(hourly, return_inverse=True)  # the default day is symmetric: 13 distinct rates
    served = np.flatnonzero(np.isfinite(c_peak))  # the others serve no hour either
    hours = {k: np.repeat(v[served], len(rates), 0) for k, v in pick.items()}
    by_rate = np.full((n, len(rates)), np.inf)
    sized = _sizing(hours, np.tile(rates, len(served)), q, limit, float(spec.demand.min_replicas))
    by_rate[served] = sized.reshape(len(served), len(rates))
    c_hour = by_rate[:, hour_of]
    # percentiles and utilisation at peak on the fleet that serves the peak
    ok = np.isfinite(c_peak)
    x = _queue_inputs(pick, peak, np.where(ok, c_peak, 1.0))
    col = {k: np.asarray(v)[:, None] for k, v in x.items()}
    wanted = np.array([0.5, 0.95, 0.99, q])
    levels, level_of = np.unique(wanted, return_inverse=True)
    pct = latency_percentile(col["rate"], col["batch"], col["service_s"], col["replicas"], levels, col["timeout_s"])[
        :, level_of
    ]
    util = utilization(x["rate"], x["batch"], x["service_s"], x["replicas"], x["timeout_s"])
    return [
        Fleet(
            index=int(best[j]),
            replicas_peak=float(c_peak[j]),
            replicas_hourly=c_hour[j],
            timeout_s=float(pick["timeout"][j]),
            service_s=float(x["service_s"][j]),
            percentiles=pct[j] if ok[j] else np.full(4, np.inf),
            utilization=float(util[j]) if ok[j] else np.inf,
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
    # at the saturating rate every batch fills before its timeout (continuous: every slot busy at the full batch)
    saturating = float(c * row["batch"][0] / row["service"][0])
    rates = saturating * np.linspace(0.05, 0.98, LOAD_POINTS)
    x = _queue_inputs({k: np.repeat(v, LOAD_POINTS, 0) for k, v in row.items()}, rates, np.full(LOAD_POINTS, c))
    levels = np.array([0.5, 0.95, 0.99])
    col = {k: np.asarray(v)[:, None] for k, v in x.items()}
    pct = latency_percentile(col["rate"], col["batch"], col["service_s"], col["replicas"], levels, col["timeout_s"])
    q = spec.budget.latency_percentile
    n = int(c)
    return ChartData(
        id="load",
        kind="line",
        title=f"Latency under load: {label} on {n} replica{'s' if n != 1 else ''}",
        x_label="requests per second",
        x_unit="1/s",
        y_label="end-to-end latency (s)",
        y_unit="s",
        budget=spec.budget.latency_s,
        marker=peak,
        marker_label=f"peak {peak:.3g} requests/s",
        notes=[
            f"batch {int(row['batch'][0])}, timeout {float(row['timeout'][0]):.3g} s and {n} replicas held fixed",
            f"the budget is met at p{q:g}; the dotted line is the peak demand",
        ],
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
        title="Demand over the day and the fleet that serves it",
        x_label="hour of the day",
        y_label="requests per second",
        y_unit="1/s",
        notes=[
            "default daily shape with the spec's peak_to_mean" if spec.demand.hourly is None else "demand.hourly",
            f"replicas on the right axis; demand.scaling: {spec.demand.scaling}",
        ],
        series=[
            ChartSeries(label="requests/s", group="demand", x=hours, y=hourly.tolist()),
            ChartSeries(
                label="autoscaled replicas", group="replicas", x=hours, y=[float(r) for r in fleet.replicas_hourly]
            ),
            ChartSeries(label="fixed fleet", group="replicas", x=hours, y=[fleet.replicas_fixed] * 24),
        ],
    )
