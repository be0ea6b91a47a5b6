"""Queueing model for capacity planning (issue #13): end-to-end latency percentiles of a fleet under Poisson load.

Pure numpy, vectorised over candidates (every argument broadcasts). docs/methodology.md, "Capacity under load",
gives the derivation and the validation; in short:

* A request waits for its batch to form, then for a replica, then is served. A batch is dispatched when B requests
  wait or when the oldest has waited the batch timeout (Triton's dynamic batcher: preferred batch size and
  ``max_queue_delay_microseconds``). With Poisson arrivals at rate lam the request in position j of a full batch
  waits for B - 1 - j more arrivals: the formation wait F is a uniform mixture of Gamma(n, lam), n = 0..B-1,
  capped at the timeout.
* Batches are served first-come first-served by c replicas in a deterministic time S. With a deterministic service
  the n-th batch goes to the replica the (n - c)-th one left, so a batch's queue wait is that of a single server fed
  by every c-th batch; with batch interarrivals Erlang(B, lam) that is an E_{cB}/D/1 queue, which is the M/D/(cB)
  queue at rate lam (Franx 2001, "A simple solution for the M/D/c waiting time distribution", Oper. Res. Lett. 29).
* Its wait W: P(W > t) = P_w exp(-theta t), where theta is the exact asymptotic decay rate of the GI/D/1 wait
  (the Cramer-Lundberg root of E[exp(theta (S - A))] = 1, Kingman 1962/1964; for Erlang-k interarrivals
  rho x = log(1 + x), x = theta / lam, rho = lam S / k) and P_w, the probability of waiting at all, is Erlang C
  for k = cB servers and offered load lam S (exact for M/M/k, an upper bound for M/D/k: the estimate errs long).
* The percentile of F + W is found by bisection on P(F + W > x), with F represented by its quantiles.

``tests/test_capacity.py`` checks the percentiles of S + F + W against a SimPy simulation.
"""

from __future__ import annotations

import functools
import math

import numpy as np

FILL_POINTS = 200  # quantile points that represent the formation wait (mid-points of 200 equal-probability bins)
_HW_FROM = 2000  # Erlang C by the Erlang B recursion up to this many servers, Halfin-Whitt (1981) above


def erlang_c(servers, offered) -> np.ndarray:
    """Probability an arrival waits in M/M/c with c servers and offered load a = lam / mu (1 at or above c).

    Erlang B recursion (stable) up to 2,000 servers; above, the Halfin-Whitt (1981) limit
    1 / (1 + sqrt(2 pi) beta Phi(beta) exp(beta^2 / 2)), beta = (c - a) / sqrt(a), accurate to <1% there."""
    c, a = np.broadcast_arrays(np.asarray(servers, dtype=float), np.asarray(offered, dtype=float))
    c = np.floor(c)
    small = np.minimum(c, _HW_FROM)
    cmax = int(np.max(small)) if small.size else 0
    b = np.ones_like(a)
    out = np.ones_like(a)
    for k in range(1, cmax + 1):
        b = a * b / (k + a * b)
        out = np.where(small == k, b, out)
    rho = np.where(c > 0, a / np.maximum(c, 1.0), np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pc = out / (1.0 - rho * (1.0 - out))
        beta = (c - a) / np.sqrt(np.maximum(a, 1e-300))
        phi = 0.5 * (1.0 + _erf(beta / math.sqrt(2.0)))
        hw = 1.0 / (1.0 + math.sqrt(2.0 * math.pi) * beta * phi * np.exp(np.minimum(beta**2 / 2.0, 700.0)))
    pc = np.where(c > _HW_FROM, hw, pc)
    return np.where(rho < 1.0, np.clip(pc, 0.0, 1.0), 1.0)


_erf = np.vectorize(math.erf, otypes=[float])


def decay_rate(rate, service_s, servers) -> np.ndarray:
    """theta (1/s): the exact exponential decay rate of the M/D/k wait (E_k/D/1 with Erlang-k interarrivals at
    rate lam): rho x = log(1 + x), theta = lam x, rho = lam S / k < 1 (Newton's method from a point above the root)."""
    lam, s, k = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, service_s, servers)))
    rho = np.clip(lam * s / np.maximum(k, 1.0), 1e-12, 1.0 - 1e-12)
    x = 1.0 / rho**2  # above the root: log(1 + x) <= x / sqrt(1 + x) gives x <= 1 / rho^2 - 1; f is convex
    for _ in range(60):
        x = x - (rho * x - np.log1p(x)) / (rho - 1.0 / (1.0 + x))
        x = np.maximum(x, 1e-12)
    return lam * x


@functools.lru_cache(maxsize=64)
def _fill_quantiles(batch: int) -> np.ndarray:
    """Quantile points of the formation wait of a full batch at unit arrival rate: a uniform mixture of
    Gamma(n, 1), n = 0..B-1 (exact quantiles of a 200,000-draw sample, seed 0: deterministic)."""
    if batch <= 1:
        return np.zeros(FILL_POINTS)
    rng = np.random.default_rng(0)
    n = np.arange(200_000) % batch
    draws = np.where(n > 0, rng.gamma(np.maximum(n, 1)), 0.0)
    return np.quantile(draws, (np.arange(FILL_POINTS) + 0.5) / FILL_POINTS)


def fill_quantiles(batch) -> np.ndarray:
    """(..., FILL_POINTS) formation-wait quantile points at unit rate for an array of batch sizes."""
    b = np.asarray(batch, dtype=int)
    table = {int(v): _fill_quantiles(int(v)) for v in np.unique(b)}
    return np.stack([table[int(v)] for v in b.ravel()]).reshape(*b.shape, FILL_POINTS)


def effective_batch(rate, batch, timeout_s) -> np.ndarray:
    """Mean requests per dispatched batch: B, or the first request plus the Poisson arrivals within the timeout
    when that is fewer."""
    return np.minimum(np.asarray(batch, dtype=float), 1.0 + np.asarray(rate, dtype=float) * timeout_s)


def utilization(rate, batch, service_s, replicas, timeout_s=np.inf) -> np.ndarray:
    """Busy fraction of the replicas: batches per second x S / c."""
    m = effective_batch(rate, batch, timeout_s)
    return np.asarray(rate, dtype=float) * np.asarray(service_s, dtype=float) / (m * np.asarray(replicas, dtype=float))


def _parts(rate, batch, service_s, replicas, timeout_s):
    lam, b, s, c, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, batch, service_s, replicas, timeout_s)))
    m = effective_batch(lam, b, t)
    k = np.maximum(np.floor(c * m), 1.0)
    pw = erlang_c(k, lam * s)
    theta = decay_rate(lam, s, k)
    fill = np.minimum(fill_quantiles(b) / lam[..., None], t[..., None])
    stable = lam * s < c * m
    return fill, pw, theta, stable


def _tail(x, fill, pw, theta) -> np.ndarray:
    """P(F + W > x) with F given by its quantile points (last axis) and P(W > y) = pw exp(-theta y)."""
    y = x[..., None] - fill
    return np.mean(np.where(y < 0, 1.0, pw[..., None] * np.exp(-theta[..., None] * np.maximum(y, 0.0))), axis=-1)


def wait_exceeds(limit_s, rate, batch, service_s, replicas, q, timeout_s=np.inf) -> np.ndarray:
    """True where the q-quantile (0-1) of the wait before service (formation + queue) exceeds ``limit_s``, or the
    fleet is at or above saturation. One evaluation of the tail: the planner's replica search calls this."""
    x, rate, batch, s, replicas, qq, timeout_s = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (limit_s, rate, batch, service_s, replicas, q, timeout_s))
    )
    fill, pw, theta, stable = _parts(rate, batch, s, replicas, timeout_s)
    return ~stable | (x < 0) | (_tail(x, fill, pw, theta) > 1.0 - qq)


def latency_percentile(rate, batch, service_s, replicas, q, timeout_s=np.inf) -> np.ndarray:
    """End-to-end q-quantile (0-1) latency, seconds: S + the q-quantile of formation + queue wait; inf at or above
    saturation. Bisection on P(F + W > x) (60 halvings: far below a millisecond)."""
    rate, batch, s, replicas, qq, timeout_s = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (rate, batch, service_s, replicas, q, timeout_s))
    )
    fill, pw, theta, stable = _parts(rate, batch, s, replicas, timeout_s)
    with np.errstate(divide="ignore"):
        wait = np.where(pw > 0, np.log(np.maximum(pw, 1e-300) / (1.0 - qq)) / theta, 0.0)
    hi = fill[..., -1] + np.maximum(wait, 0.0) + 1e-12  # P(F + W > hi) <= P(W > hi - max F) <= 1 - q
    lo = np.zeros_like(hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        over = _tail(mid, fill, pw, theta) > 1.0 - qq
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    return np.where(stable, s + hi, np.inf)


def fill_time(batch, q) -> np.ndarray:
    """q-quantile of the time B requests take to arrive at unit rate: Gamma(B - 1, 1) (0 for B = 1); exact
    quantile of a 200,000-draw sample, seed 0."""
    b = np.asarray(batch, dtype=int)
    qq = float(q)
    table = {int(v): _gamma_quantile(int(v) - 1, qq) for v in np.unique(b)}
    return np.array([table[int(v)] for v in b.ravel()]).reshape(b.shape)


@functools.lru_cache(maxsize=256)
def _gamma_quantile(shape: int, q: float) -> float:
    if shape <= 0:
        return 0.0
    return float(np.quantile(np.random.default_rng(0).gamma(shape, size=200_000), q))


def fewest(ok, lowest, cap: float = 2.0**24) -> np.ndarray:
    """Smallest integer n >= ``lowest`` with ok(n) True, per element (ok: a vectorised test monotone in n);
    inf where none up to ``cap``. Doubling, then bisection: ~2 log2(n) calls of ``ok``."""
    lo = np.asarray(lowest, dtype=float).copy()
    hi = lo.copy()
    good = ok(hi)
    while not good.all():
        grow = ~good & (hi < cap)
        if not grow.any():
            break
        hi = np.where(grow, np.maximum(hi * 2.0, 1.0), hi)
        good = good | (grow & ok(hi))
    bad = lo - 1.0  # below the range: treated as failing
    hi = np.where(good, hi, np.inf)
    live = good & (hi - bad > 1.0)
    while live.any():
        mid = np.floor((bad + hi) / 2.0)
        passed = ok(np.where(live, mid, hi))
        hi = np.where(live & passed, mid, hi)
        bad = np.where(live & ~passed, mid, bad)
        live = good & (hi - bad > 1.0)
    return hi
