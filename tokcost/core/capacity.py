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

This module holds those pieces; :func:`tokcost.core.queueing.static_terms` assembles them (for bursty arrivals
too) and :mod:`tokcost.core.queueing` evaluates the percentiles and the replica search's test.

``tests/test_capacity.py`` checks the percentiles of S + F + W against a SimPy simulation.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tokcost.core import formation_wait

# The formation wait is represented by quantile points: mid-points of 60 equal-probability bins below its 90th
# percentile and 60 finer ones above, so that p99 is resolved to 1/600 of probability with 120 points.
_BINS = np.concatenate([np.linspace(0.0, 0.9, 61), np.linspace(0.9, 1.0, 61)[1:]])
FILL_PROBS = 0.5 * (_BINS[1:] + _BINS[:-1])
FILL_WEIGHTS = np.diff(_BINS)
FILL_POINTS = len(FILL_PROBS)
_HW_FROM = 20_000  # Erlang C exact up to this many servers, Halfin-Whitt (1981) above
_NEWTON_STEPS = 60  # of decay_rate
_SERIES_BLOCK = 1024  # elements of Erlang C's series per array operation (rows x terms), where rows are few


def erlang_c(servers, offered) -> np.ndarray:
    """Probability an arrival waits in M/M/c with c servers and offered load a = lam / mu (1 at or above c).

    Exact up to 20,000 servers through Erlang B = pmf(c) / P(N <= c), N ~ Poisson(a), with
    P(N > c) = pmf(c) sum_{n>=1} prod_{i<=n} a / (c + i) (the terms fall like exp(-n^2 / 2c) once a < c, so
    6 sqrt(c) + 30 of them reach double precision; pmf in logs); above, the Halfin-Whitt (1981) limit
    1 / (1 + sqrt(2 pi) beta Phi(beta) exp(beta^2 / 2)), beta = (c - a) / sqrt(a), good where it matters there
    (load near 1; further from it the probability is negligible)."""
    c, a = np.broadcast_arrays(np.floor(np.asarray(servers, dtype=float)), np.asarray(offered, dtype=float))
    rho = np.where(c > 0, a / np.maximum(c, 1.0), np.inf)
    exact = (rho < 1.0) & (c <= _HW_FROM)
    cs, ax = np.where(exact, c, 1.0).ravel(), np.where(exact, a, 0.5).ravel()
    # each element summed to its own number of terms: sorted by it, step n updates the suffix that needs n
    order = np.argsort(cs, kind="stable")
    cs, ax = cs[order], ax[order]
    needed = 6.0 * np.sqrt(cs) + 30.0
    term, partial = np.ones_like(ax), np.zeros_like(ax)
    # term n updates the rows that need n terms (a suffix: sorted by count). Where few rows are left, a block of
    # terms at a time (as many as keep the block near _SERIES_BLOCK elements): the running product and sum along
    # a block are accumulated in order, as one term after the other would be (bit for bit); a term past a row's
    # count is added as 0.
    n, last = 1, int(needed[-1]) if needed.size else 0
    while n <= last:
        i = int(np.searchsorted(needed, n))
        width = min(_SERIES_BLOCK // (ax.size - i), last + 1 - n)
        if width <= 1:
            term[i:] *= ax[i:] / (cs[i:] + n)
            partial[i:] += term[i:]
            n += 1
            continue
        count = np.arange(n, n + width, dtype=float)
        ratios = ax[i:, None] / (cs[i:, None] + count)
        terms = np.multiply.accumulate(np.concatenate([term[i:, None], ratios], axis=1), axis=1)[:, 1:]
        terms = np.where(count <= needed[i:, None], terms, 0.0)
        partial[i:] = np.add.accumulate(np.concatenate([partial[i:, None], terms], axis=1), axis=1)[:, -1]
        term[i:] = terms[:, -1]
        n += width
    unsort = np.empty_like(order)
    unsort[order] = np.arange(order.size)
    servers, load, tail = (v[unsort].reshape(c.shape) for v in (cs, ax, partial))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        pmf = np.exp(servers * np.log(np.maximum(load, 1e-300)) - load - _log_factorial(servers))
        b = pmf / (1.0 - pmf * tail)
        pc = b / (1.0 - rho * (1.0 - b))
        far = ~exact & (rho < 1.0)  # Halfin-Whitt's rows (erf one element at a time: only where it is needed)
        if far.any():
            beta = (c[far] - a[far]) / np.sqrt(np.maximum(a[far], 1e-300))
            phi = 0.5 * (1.0 + _erf(beta / math.sqrt(2.0)))
            pc[far] = 1.0 / (1.0 + math.sqrt(2.0 * math.pi) * beta * phi * np.exp(np.minimum(beta**2 / 2.0, 700.0)))
    return np.where(rho < 1.0, np.clip(pc, 0.0, 1.0), 1.0)


def _log_factorial(n) -> np.ndarray:
    """log n! of whole numbers n >= 0 (an array), from one cumulative sum of logs up to the largest."""
    k = np.asarray(n, dtype=np.int64)
    table = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, int(k.max(initial=0)) + 1, dtype=float)))))
    return table[k]


_erf = np.vectorize(math.erf, otypes=[float])


def decay_rate(rate, service_s, servers) -> np.ndarray:
    """theta (1/s): the exact exponential decay rate of the M/D/k wait (E_k/D/1 with Erlang-k interarrivals at
    rate lam): rho x = log(1 + x), theta = lam x, rho = lam S / k < 1 (Newton's method from a point above the root)."""
    lam, s, k = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, service_s, servers)))
    rho = np.clip(lam * s / np.maximum(k, 1.0), 1e-12, 1.0 - 1e-12)
    x = (1.0 / rho**2).ravel()  # above the root: log(1 + x) <= x / sqrt(1 + x) gives x <= 1 / rho^2 - 1; convex
    r, before, active = rho.ravel(), np.full(x.size, np.nan), np.arange(x.size)
    # _NEWTON_STEPS steps; a row that reaches a fixed point, or a cycle of two values (rounding), leaves early with
    # the value those steps end on
    for t in range(1, _NEWTON_STEPS + 1):
        xa = x[active]
        ra = r[active]
        step = np.maximum(xa - (ra * xa - np.log1p(xa)) / (ra - 1.0 / (1.0 + xa)), 1e-12)
        cycle = step == before[active]
        x[active] = np.where(cycle & ((_NEWTON_STEPS - t) % 2 == 1), xa, step)
        before[active] = xa
        active = active[(step != xa) & ~cycle]
        if not active.size:
            break
    return lam * x.reshape(rho.shape)


def _poisson_pmfs(x: np.ndarray, upto: int) -> np.ndarray:
    """(upto, ...) P(Poisson(x) = j), j = 0..upto-1, from logs in one array operation:
    exp(j log x - x - log j!)."""
    shape = (-1, *([1] * np.ndim(x)))
    j = np.arange(upto, dtype=float).reshape(shape)
    log_factorial = _log_factorial(np.arange(upto)).reshape(shape)
    with np.errstate(divide="ignore"):
        log_x = np.where(x > 0, np.log(np.maximum(x, 1e-300)), -np.inf)
    return np.exp(np.where(j > 0, j * log_x, 0.0) - x - log_factorial)


def _bisect(cdf, probs: np.ndarray, hi: float) -> np.ndarray:
    """x with cdf(x) = probs (cdf vectorised and increasing), by 44 halvings of [0, hi] (hi is at most ~1,100
    arrivals: the error is below 1e-10 of the unit arrival time)."""
    lo, up = np.zeros_like(probs), np.full_like(probs, hi)
    for _ in range(44):
        mid = 0.5 * (lo + up)
        below = cdf(mid) < probs
        lo, up = np.where(below, mid, lo), np.where(below, up, mid)
    return 0.5 * (lo + up)


@functools.lru_cache(maxsize=64)
def _fill_quantiles(batch: int) -> np.ndarray:
    """:func:`compute_fill_quantiles`, shipped as data for the planner's batch sizes (core/formation_wait.py)."""
    shipped = formation_wait.FILL_QUANTILES.get(batch)
    return np.array(shipped) if shipped is not None else compute_fill_quantiles(batch)


def compute_fill_quantiles(batch: int) -> np.ndarray:
    """Quantile points (at FILL_PROBS) of the formation wait of a full batch at unit arrival rate: the request in
    position j waits for B - 1 - j more arrivals, so the wait is a uniform mixture of Gamma(n, 1), n = 0..B-1, whose
    CDF is 1 - (1/B) sum_{m=0}^{B-2} P(Poisson(x) <= m) = 1 - (1/B) sum_{j=0}^{B-2} (B - 1 - j) pmf(j; x)."""
    if batch <= 1:
        return np.zeros(FILL_POINTS)
    weights = (batch - 1 - np.arange(batch - 1, dtype=float))[:, None]

    def cdf(x):
        return 1.0 - (weights * _poisson_pmfs(x, batch - 1)).sum(axis=0) / batch

    return _bisect(cdf, FILL_PROBS, hi=4.0 * batch + 60.0)


def fill_quantiles(batch) -> np.ndarray:
    """(..., FILL_POINTS) formation-wait quantile points at unit rate for an array of batch sizes."""
    b = np.asarray(batch, dtype=int)
    sizes, which = np.unique(b, return_inverse=True)
    table = np.stack([_fill_quantiles(int(v)) for v in sizes])
    return table[which.ravel()].reshape(*b.shape, FILL_POINTS)


def effective_batch(rate, batch, timeout_s) -> np.ndarray:
    """Mean requests per dispatched batch: the first request plus the arrivals within the timeout, at most B - 1:
    1 + E[min(B - 1, N)], N ~ Poisson(rate x timeout), = 1 + sum_{j=1}^{B-1} P(N >= j) (exact)."""
    lam, b, t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, batch, timeout_s)))
    out = b.astype(float).copy()  # no timeout, or no arrivals needed: every batch full
    part = np.isfinite(t) & (b > 1)
    if not part.any():
        return out
    bb, mu = b[part], np.minimum(lam[part] * t[part], 745.0)  # beyond 745 P(N = 0) underflows: batches full
    order = np.argsort(bb, kind="stable")  # step j updates only the batches with B > j (the suffix)
    bb, mu = bb[order], mu[order]
    total, pmf = np.ones_like(mu), np.exp(-mu)
    cdf = pmf.copy()
    for j in range(1, int(bb[-1])):
        i = int(np.searchsorted(bb, j, side="right"))
        total[i:] += 1.0 - cdf[i:]  # + P(N >= j)
        pmf[i:] *= mu[i:] / j
        cdf[i:] = np.minimum(cdf[i:] + pmf[i:], 1.0)
    sub = np.empty_like(total)
    sub[order] = np.minimum(total, bb)
    out[part] = sub
    return out


def utilization(rate, batch, service_s, replicas, timeout_s=np.inf) -> np.ndarray:
    """Busy fraction of the replicas: batches per second x S / c."""
    m = effective_batch(rate, batch, timeout_s)
    return np.asarray(rate, dtype=float) * np.asarray(service_s, dtype=float) / (m * np.asarray(replicas, dtype=float))


def quadrature(values: np.ndarray) -> np.ndarray:
    """The FILL_WEIGHTS-weighted sum over the last axis (a mean over the quantile points). Each row's sum is
    formed alone, in one order: a matrix-vector product's blocking would make a row's last bit depend on its
    position among the others (which candidates share the call)."""
    return np.einsum("...j,j->...", values, FILL_WEIGHTS)


def wait_tail(x, fill, pw, theta) -> np.ndarray:
    """P(F + W > x) with F given by its quantile points (last axis) and P(W > y) = pw exp(-theta y)."""
    x, fill, pw, theta = np.broadcast_arrays(x[..., None], fill, pw[..., None], theta[..., None])
    out = np.where(x[..., 0] < 0, 1.0, pw[..., 0] * np.exp(-theta[..., 0] * np.maximum(x[..., 0], 0.0)))
    formed = fill[..., -1] > 0  # elsewhere (one request per batch, continuous batching) F = 0: the line above
    if formed.any():
        y = x[formed] - fill[formed]
        tail = np.where(y < 0, 1.0, pw[formed] * np.exp(-theta[formed] * np.maximum(y, 0.0)))
        out[formed] = quadrature(tail)
    return out


def tail_exceeds(x, fill, pw, theta, limit) -> np.ndarray:
    """``wait_tail(x, fill, pw, theta) > limit``, with the quadrature over F's quantile points only where two cheap
    bounds leave the answer open: F >= 0 gives P(F + W > x) >= P(W > x) = pw exp(-theta x), and F <= max F gives
    P(F + W > x) <= pw exp(-theta (x - max F)) once x >= max F. The margin keeps the answer bit for bit that of
    the quadrature (its weights sum to 1 within rounding); in a replica search most rows are far from the limit."""
    x, pw, theta, limit = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, pw, theta, limit)))
    longest = np.broadcast_to(fill[..., -1], x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        lower = np.where(x < 0, 1.0, pw * np.exp(-theta * np.maximum(x, 0.0)))
        upper = np.where(x >= longest, pw * np.exp(-theta * (x - longest)), 1.0)
    out = np.asarray(lower > limit * (1.0 + 1e-9))
    open_ = ~out & ~(upper <= limit * (1.0 - 1e-9))
    if open_.any():
        fill_open = np.broadcast_to(fill, (*x.shape, fill.shape[-1]))[open_]
        out[open_] = wait_tail(x[open_], fill_open, pw[open_], theta[open_]) > limit[open_]
    return out


def fill_time(batch, q) -> np.ndarray:
    """q-quantile of the time B requests take to arrive at unit rate, from the first: Gamma(B - 1, 1) (0 for B = 1),
    whose CDF is P(Poisson(x) >= B - 1)."""
    b = np.asarray(batch, dtype=int)
    table = {v: _gamma_quantile(v - 1, float(q)) for v in set(b.ravel().tolist())}  # (np.unique imports numpy.ma)
    return np.array([table[int(v)] for v in b.ravel()]).reshape(b.shape)


@functools.lru_cache(maxsize=256)
def _gamma_quantile(shape: int, q: float) -> float:
    """:func:`compute_gamma_quantile`, shipped as data for the planner's batch sizes (core/formation_wait.py)."""
    shipped = formation_wait.FILL_TIMES.get((shape, q))
    return shipped if shipped is not None else compute_gamma_quantile(shape, q)


def compute_gamma_quantile(shape: int, q: float) -> float:
    """The q-quantile of Gamma(shape, 1), by bisection on its CDF P(Poisson(x) >= shape)."""
    if shape <= 0:
        return 0.0
    return float(_bisect(lambda x: 1.0 - _poisson_pmfs(x, shape).sum(axis=0), np.array([q]), 4.0 * shape + 60.0)[0])


def fewest(ok, lowest, cap: float = 2.0**24, ways: int = 1) -> np.ndarray:
    """Smallest integer n >= ``lowest`` with ok(n) True, per element (``ok(n, at)``: the test at n of the elements
    ``at`` of the flattened ``lowest``, vectorised and monotone in n); inf where none up to ``cap``. Doubling, then
    bisection: ~2 log2(n) calls of ``ok``, each on the elements still open. ``ways`` > 1 tests that many counts
    of each open element per call (:func:`_fewest_wide`): fewer calls, each on more elements."""
    if ways > 1:
        return _fewest_wide(ok, lowest, cap, ways)
    shape = np.shape(lowest)
    lo = np.asarray(lowest, dtype=float).ravel().copy()

    def test(n: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.asarray(ok(n, rows), dtype=bool).reshape(len(rows))

    hi = lo.copy()
    good = test(hi, np.arange(hi.size))
    while not good.all():
        grow = np.flatnonzero(~good & (hi < cap))
        if not grow.size:
            break
        hi[grow] = np.maximum(hi[grow] * 2.0, 1.0)
        good[grow] = test(hi[grow], grow)
    bad = lo - 1.0  # below the range: treated as failing
    hi = np.where(good, hi, np.inf)
    live = np.flatnonzero(good & (hi - bad > 1.0))
    while live.size:
        mid = np.floor((bad[live] + hi[live]) / 2.0)
        passed = test(mid, live)
        hi[live] = np.where(passed, mid, hi[live])
        bad[live] = np.where(passed, bad[live], mid)
        live = live[hi[live] - bad[live] > 1.0]
    return hi.reshape(shape)


def _fewest_wide(ok, lowest, cap: float, ways: int) -> np.ndarray:
    """:func:`fewest` by a (ways + 1)-ary search: each call tests ``ways`` counts of every open element (``at``
    repeats it), bad + span x (1..ways) with span growing (ways + 1)-fold while none passes, then the gap between
    the last failing and the first passing count cut into ways + 1 parts until they are adjacent; inf above
    ``cap``."""
    shape = np.shape(lowest)
    bad = np.asarray(lowest, dtype=float).ravel() - 1.0  # the largest count known to fail (or below the range)
    hi = np.full(bad.shape, np.inf)  # the smallest known to pass
    parts = np.arange(1, ways + 1, dtype=float)

    def first_pass(points: np.ndarray, rows: np.ndarray) -> None:
        """Test ``points`` (rows x ways, increasing along a row); move each row's bounds to the first pass."""
        passed = np.asarray(ok(points.ravel(), np.repeat(rows, ways)), dtype=bool).reshape(points.shape)
        some = passed.any(axis=1)
        k = np.argmax(passed, axis=1)
        at = np.arange(len(rows))
        hi[rows[some]] = points[at[some], k[some]]
        below = np.where(k > 0, points[at, np.maximum(k - 1, 0)], bad[rows])
        bad[rows] = np.where(some, below, points[:, -1])

    span = np.ones(bad.shape)
    rows = np.arange(bad.size)
    while rows.size:  # growing until a count passes (or the cap is passed)
        first_pass(bad[rows, None] + span[rows, None] * parts, rows)
        span[rows] *= ways + 1.0
        rows = rows[~np.isfinite(hi[rows]) & (bad[rows] < cap)]
    rows = np.flatnonzero(np.isfinite(hi) & (hi - bad > 1.0))
    while rows.size:  # narrowing
        step = np.ceil((hi[rows] - bad[rows]) / (ways + 1.0))
        first_pass(np.minimum(bad[rows, None] + step[:, None] * parts, hi[rows, None]), rows)
        rows = rows[hi[rows] - bad[rows] > 1.0]
    return np.where(hi <= cap, hi, np.inf).reshape(shape)
