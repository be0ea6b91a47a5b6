"""Queue disciplines as one interface (issue 30): for a row of the planner's grid served by c replicas at a rate,
the terms of its end-to-end latency: a service part known in advance, a random part given by quantile points,
the wait for a server, P(W > t) = P_w exp(-theta t), and (continuous batching) the wait of its prefill,
P(U > t) = p_u exp(-theta_u t). Pure numpy, vectorised over rows.

* **Static batching** (:mod:`tokcost.core.capacity`): the service of a batch, the wait for the batch to form
  (quantile points), the M/D/(c m) queue of batches. Under bursty arrivals (renewal, squared coefficient of
  variation ``scv`` of the inter-arrival times) the formation wait is a mixture of Gamma sums of inter-arrival
  times and the queue's decay rate is divided by scv (Allen-Cunneen: the wait of a G/G/c queue is that of the
  M/.../c queue times (c_a^2 + c_s^2) / (1 + c_s^2); with Gamma inter-arrival times the exact asymptotic decay
  rate of the reduced E_k/D/1 queue is the Poisson one over c_a^2, the same scaling).
* **Continuous batching at step level** (vLLM: a replica holds at most N sequences; each step decodes one token
  of every running sequence and prefills prompt chunks under a token budget): see :func:`continuous_terms`.
* **Small fleets exactly**: one request per batch on at most :data:`EXACT_UP_TO` replicas is the M/D/c queue,
  whose waiting-time distribution is computed exactly (:func:`mdc_wait_cdf`, Crommelin 1932; Franx 2001); so is
  the slot queue of continuous batching on at most :data:`EXACT_SLOTS` slots in all.

docs/methodology.md, "Capacity under load", gives the derivations and the validation against the step-level
simulation of :mod:`tokcost.core.simulate` (tests/test_queueing.py).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Protocol

import numpy as np

from tokcost.core.capacity import (
    FILL_PROBS,
    FILL_WEIGHTS,
    decay_rate,
    effective_batch,
    erlang_c,
    fill_quantiles,
    fill_time,
    quadrature,
    tail_exceeds,
    wait_tail,
)

# vLLM's default token budget per step for its OpenAI server (vllm/engine/arg_utils.py,
# EngineArgs.get_batch_defaults: max_num_batched_tokens 8192 on devices of at least 70 GiB other than the A100,
# 2048 on the others)
LARGE_DEVICE_TOKEN_BUDGET = 8192
TOKEN_BUDGET = 2048
LARGE_DEVICE_GIB = 70.0

EXACT_UP_TO = 4  # one request per batch on at most this many replicas: the exact M/D/c wait
# the states of its number-in-system the planner solves for: at utilisation <= 0.5 on <= EXACT_UP_TO servers (load
# <= 2) they leave less than 1e-15 (mdc_number_in_system); fixed, so that a row's figures do not depend on the others
EXACT_STATES = 40
# continuous batching on at most this many slots in all (replicas x sequences each), Poisson arrivals: the slot
# wait from the exact M/D/k queue (k slots, each held for a request's time in a full replica), where Allen-Cunneen's
# exponential errs most (an M/D/8 at 0.6 load: its 95th percentile wait 0.17 s against the exact and simulated
# 0.26 s; docs/methodology.md, "Capacity under load")
EXACT_SLOTS = 8
# ... at slot utilisation up to this: above it the exponential's tail is the heavier one (conservative; p95 up to
# 50% high at 0.95 against the simulation) and the exact chain would need far more states
EXACT_SLOT_UTIL = 0.9
WAIT_SPAN, WAIT_STEPS = 16, 20  # its q-quantile by bisection within 16 slot times, to 16 / 2^20 of one
# the M/D/c number-in-system distributions solved so far, by (offered load, servers, states): a plan prices the same
# rows in every search and replan (a distribution depends on its key alone, so results do not depend on it)
_MDC_DISTRIBUTIONS: dict[tuple[float, float, int], np.ndarray] = {}
MDC_DISTRIBUTIONS_KEPT = 20_000
_GP_TERMS = 2000  # at most this many generalized-Poisson counts are summed


@functools.cache
def _log_factorials() -> np.ndarray:
    """log k! for k < _GP_TERMS (built on first use: the planner's static path does not need it)."""
    return np.array([math.lgamma(k + 1.0) for k in range(_GP_TERMS)])


@dataclass(frozen=True, eq=False)
class QueueTerms:
    """The terms of each row's end-to-end latency under one discipline (arrays that broadcast together):
    ``service`` + ``extra`` + W (+ U), W the wait for a server, U (continuous batching) the wait of the prefill."""

    service: np.ndarray  # seconds known in advance (continuous: a request's own steps and prefill at the occupancy)
    extra: np.ndarray  # (..., FILL_POINTS) quantile points of the random part: the formation wait; continuous,
    # the prefills of the requests admitted while it runs
    pw: np.ndarray  # P(W > 0)
    theta: np.ndarray  # P(W > t) = pw exp(-theta t), 1/s
    stable: np.ndarray  # below saturation
    util: np.ndarray  # busy fraction of the replicas (continuous: of the slots)
    pu: np.ndarray | None = None  # P(U > 0): continuous batching only
    theta_u: np.ndarray | None = None  # P(U > t) = pu exp(-theta_u t)

    def columns(self) -> QueueTerms:
        """The same terms with an axis for quantile levels (each field's shape (n,) becomes (n, 1))."""

        def col(v):
            return None if v is None else np.asarray(v)[:, None]

        return QueueTerms(
            service=col(self.service),
            extra=self.extra[:, None, :],
            pw=col(self.pw),
            theta=col(self.theta),
            stable=col(self.stable),
            util=col(self.util),
            pu=col(self.pu),
            theta_u=col(self.theta_u),
        )

    def pick(self, shape: tuple, where: np.ndarray) -> QueueTerms:
        """The terms at the elements ``where`` (a mask of ``shape``, which every field broadcasts to)."""

        def at(v):
            return None if v is None else np.broadcast_to(v, (*shape, *np.shape(v)[len(shape) :]))[where]

        return QueueTerms(
            service=at(self.service),
            extra=at(self.extra),
            pw=at(self.pw),
            theta=at(self.theta),
            stable=at(self.stable),
            util=at(self.util),
            pu=at(self.pu),
            theta_u=at(self.theta_u),
        )


@dataclass(frozen=True, eq=False)
class Percentiles:
    """End-to-end latency quantiles in seconds (inf where the queue is unstable), named."""

    p50: np.ndarray
    p95: np.ndarray
    p99: np.ndarray
    objective: np.ndarray  # at the latency objective's percentile

    def at(self, i: int) -> Percentiles:
        """Row ``i``'s quantiles."""
        return Percentiles(*(np.asarray(getattr(self, f.name)[i]) for f in dataclasses.fields(self)))


def token_budget(memory_gb: float, hardware_id: str) -> int:
    """vLLM's default ``max_num_batched_tokens`` for its OpenAI-compatible server on this device."""
    large = memory_gb * 1e9 >= LARGE_DEVICE_GIB * 2**30 and "a100" not in hardware_id.lower()
    return LARGE_DEVICE_TOKEN_BUDGET if large else TOKEN_BUDGET


# the ratio either side of n over which continuous_terms takes the step curve's slope d'(n) (a numerical choice)
SLOPE_RATIO = 1.25


def step_curve(decode_s, forwards, batches) -> Callable[[np.ndarray], np.ndarray]:
    """d(n): seconds of one decode step with n sequences, from the grid's decode time of each priced batch over
    its forwards, interpolated in log2 n (n below 1 costs a step of one)."""
    per_step = np.asarray(decode_s, dtype=float) / np.maximum(np.asarray(forwards, dtype=float), 1.0)
    logb = np.log2(np.asarray(batches, dtype=float))

    def at(n):
        x = np.clip(np.log2(np.maximum(n, 1.0)), 0.0, logb[-1])
        i = np.minimum(np.floor(x).astype(int), len(logb) - 2)
        f = (x - logb[i])[..., None]
        lo = np.take_along_axis(per_step, i[..., None], -1)
        hi = np.take_along_axis(per_step, i[..., None] + 1, -1)
        return (lo * (1 - f) + hi * f)[..., 0]

    return at


def prefill_token_s(prefill_s, prompt_tokens, batches) -> np.ndarray:
    """Marginal seconds per prompt token of a prefill: the slope between the two largest priced batches (there
    the step is compute-bound, as a chunk of thousands of tokens is)."""
    p = np.asarray(prefill_s, dtype=float)
    b = np.asarray(batches, dtype=float)
    slope = (p[..., -1] - p[..., -2]) / (b[-1] - b[-2])
    return np.maximum(slope, 0.0) / np.maximum(np.asarray(prompt_tokens, dtype=float), 1.0)


def _gp_quantiles(theta1, theta2) -> np.ndarray:
    """(..., FILL_POINTS) quantile points of the generalized Poisson count (Consul and Jain 1973), the number of
    arrivals served in a busy period that starts with work w, under Poisson arrivals at rate lam each bringing
    work s: theta1 = lam w, theta2 = lam s < 1. P(K = n) = theta1 (theta1 + n theta2)^(n-1)
    exp(-theta1 - n theta2) / n! (Takacs 1962). Mean theta1 / (1 - theta2), variance theta1 / (1 - theta2)^3."""
    t1 = np.asarray(theta1, dtype=float)[..., None]
    t2 = np.clip(np.asarray(theta2, dtype=float), 0.0, 0.999)[..., None]
    # counts past the mean + 12 standard deviations carry nothing at the resolution of FILL_PROBS
    spread = t1 / (1.0 - t2) + 12.0 * np.sqrt(t1 / (1.0 - t2) ** 3) + 12.0
    terms = int(min(np.max(spread, initial=12.0), _GP_TERMS))
    n = np.arange(terms, dtype=float)
    lgam = _log_factorials()[:terms]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log(np.maximum(t1, 1e-300)) + (n - 1) * np.log(np.maximum(t1 + n * t2, 1e-300)) - t1 - n * t2 - lgam
    pmf = np.where(t1 > 0, np.exp(log_p), (n == 0).astype(float))
    cdf = np.minimum(np.cumsum(pmf, axis=-1), 1.0)
    # the count at each probability: how many cumulative probabilities lie below it, by one search over every
    # row at once (row r's values offset by 2 r keep the rows apart)
    shape = cdf.shape[:-1]
    flat = cdf.reshape(-1, terms)
    offset = 2.0 * np.arange(len(flat))[:, None]
    found = np.searchsorted((flat + offset).ravel(), (FILL_PROBS[None, :] + offset).ravel(), side="left")
    counts = found.reshape(len(flat), -1) - terms * np.arange(len(flat))[:, None]
    return np.minimum(counts, terms - 1).astype(float).reshape(*shape, len(FILL_PROBS))


def full_slot_time(rate_per_replica, cap, step, prefill_tok_s, prompt_tokens, forwards) -> np.ndarray:
    """The mean time a request holds its slot in a replica whose ``cap`` slots are all busy: its forwards at
    d(cap) and its prefill, stretched by the share of the replica's time the others' prefills take
    (:func:`continuous_terms`)."""
    own = np.asarray(prompt_tokens, dtype=float) * np.asarray(prefill_tok_s, dtype=float)
    f = np.asarray(rate_per_replica, dtype=float) * own
    free = np.where(f < 1.0, 1.0 - f, 1.0)
    return (np.asarray(forwards, dtype=float) * step(np.asarray(cap, dtype=float)) + own) / free


def continuous_terms(rate, replicas, cap, step, prefill_tok_s, prompt_tokens, forwards, scv=1.0) -> QueueTerms:
    """Continuous batching at step level, for ``replicas`` replicas of at most ``cap`` sequences each, fed at
    ``rate`` requests/s in all through one queue (every argument broadcasts; ``step`` is d(n) of
    :func:`step_curve`).

    Per replica, lam_r = rate / c. A request's own steps: ``forwards`` decode steps of d(n) at the occupancy n
    and its prefill, p x pi (pi: seconds per prompt token). While it runs, every request admitted after it
    prefills in the same steps and delays it by its p x pi: its time in a slot is a busy period that starts with
    the work w = forwards x d(n) + p pi and grows by p pi with every arrival during it, R = w + p pi K, K
    generalized Poisson with theta1 = lam_r w and theta2 = f = lam_r p pi, the share of the replica's time spent
    prefilling (mean R = w / (1 - f)). The occupancy is the fixed point n = min(N, lam_r E[R]) (Little's law).
    One queue spreads the arrivals over the replicas, so K's spread about its mean is scaled by sqrt(scv / c).
    Its own prefill first waits for the prompts admitted before it: an M/D/1 wait of prefill work at load f,
    P(U > t) = f exp(-theta_U t) (``pu``, ``theta_u``).

    The wait for a slot: the fleet's c N slots as one M/G/(c N) queue whose servers hold a request R(N) (all
    slots busy is when anyone waits): P_w is Erlang C at offered load rate x R(N), theta the M/D/(c N) decay
    rate over c_a^2 + c_s^2 (Allen-Cunneen), c_s^2 = var R / E[R]^2."""
    lam, c, n_cap, pi, p, g = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (rate, replicas, cap, prefill_tok_s, prompt_tokens, forwards))
    )
    lam_r = lam / np.maximum(c, 1.0)
    own = p * pi
    f = lam_r * own
    ok = f < 1.0
    free = np.where(ok, 1.0 - f, 1.0)
    n = np.ones_like(lam)
    for _ in range(40):  # a contraction: the step time grows far slower than the occupancy
        n, before = np.minimum(n_cap, np.maximum(1.0, lam_r * (g * step(n) + own) / free)), n
        if np.array_equal(n, before):  # a fixed point: every further pass returns the same
            break
    work = g * step(n) + own
    full = full_slot_time(lam_r, n_cap, step, pi, p, g)
    k = c * n_cap
    stable = ok & (lam * full < k)
    cs2 = np.where(ok, f * own / np.maximum(work, 1e-300) / free, 0.0)  # var R / E[R]^2: theta1 own^2 / (1-f)^3
    pw = bursty_wait_probability(erlang_c(k, lam * full), k, lam * full, scv)
    theta = decay_rate(lam, full, k) / (np.asarray(scv, dtype=float) + cs2)
    # one queue spreads the arrivals over the replicas: each sees a stream c times smoother than the fleet's
    # (every c-th of a renewal stream: squared coefficient of variation scv / c), and the count K varies as much
    # less about its mean
    spread = np.sqrt(np.asarray(scv, dtype=float) / np.maximum(c, 1.0))[..., None]
    theta1 = np.where(stable, lam_r * work, 0.0)
    count = _gp_quantiles(theta1, np.where(stable, f, 0.0))
    mean = theta1 / free
    var_k = theta1 / free**3  # K's variance
    # the count's quantiles in standard units
    z = (count - mean[..., None]) / np.sqrt(np.maximum(var_k, 1e-300))[..., None]
    # The decode steps slow down with the sequences that share them, and that number varies over a request's
    # residence R: an arrival s seconds after it shares the remaining R - s of its steps (and prefills in them),
    # one already running for s seconds shares R - s more. With b = forwards x d'(n) (seconds a sequence present
    # throughout adds) and a = p pi, the added time sums over those arrivals (Poisson at lam_r), of variance
    # lam_r R (a^2 + a b + 2 b^2 / 3) (Campbell's theorem): a^2 is the prefill count's own term, the rest the
    # occupancy's. Its spread scales the count's standardised quantiles.
    # d'(n) as a central difference over n / r .. n r (the step curve is interpolated in log n)
    r = SLOPE_RATIO
    slope = (step(n * r) - step(n / r)) / (n * (r - 1 / r))
    b = g * np.maximum(slope, 0.0)
    sigma = np.sqrt(own**2 * theta1 / free**3 + theta1 / free * (own * b + 2.0 * b**2 / 3.0))
    extra = np.maximum(own[..., None] * mean[..., None] + spread * sigma[..., None] * z, 0.0)
    # its own prefill waits for the prompts admitted before it: an M/D/1 queue of prefill work at load f
    pu = np.where(ok, f, 0.0)
    theta_u = decay_rate(lam_r, own, 1.0) / np.maximum(spread[..., 0] ** 2, 1e-12)
    return QueueTerms(
        service=work, extra=extra, pw=pw, theta=theta, stable=stable, util=lam * work / free / k, pu=pu, theta_u=theta_u
    )


@functools.lru_cache(maxsize=256)
def _fill_quantiles_scv(batch: int, scv: float) -> np.ndarray:
    """Formation-wait quantile points at unit rate under Gamma inter-arrival times of squared coefficient of
    variation ``scv``: the request in position j of a full batch waits for the sum of B - 1 - j of them,
    Gamma((B - 1 - j) / scv, scale scv); the CDF is the uniform mixture over j, evaluated on a grid of 4,001
    points and inverted by interpolation (scv = 1 is :func:`tokcost.core.capacity.fill_quantiles`, exactly)."""
    if batch <= 1:
        return np.zeros(len(FILL_PROBS))
    if scv == 1.0:
        return fill_quantiles(np.array([batch]))[0]
    shapes = np.arange(1, batch, dtype=float) / scv
    top = (batch - 1) + 12.0 * math.sqrt((batch - 1) * scv) + 12.0 * scv
    x = np.linspace(0.0, top, 4001)
    cdf = (1.0 + _gamma_p(shapes[:, None], x[None, :] / scv).sum(0)) / batch  # position B - 1 waits for nothing
    return np.interp(FILL_PROBS, np.maximum.accumulate(cdf), x)


def _gamma_p(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Regularized lower incomplete gamma P(a, x): the series x^a e^-x / Gamma(a + 1) sum_k x^k / ((a+1)..(a+k))
    below x < a + 1, else 1 - the continued fraction of Q (modified Lentz), as Numerical Recipes' gammp."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(x, dtype=float))
    lg = np.vectorize(math.lgamma, otypes=[float])(a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        front = np.exp(a * np.log(np.maximum(x, 1e-300)) - x - lg)
        low = x < a + 1.0
        term = np.where(low, 1.0 / a, 0.0)
        total = term.copy()
        ap = a.copy()
        for _ in range(2000):
            ap = ap + 1.0
            term = term * x / ap
            total = total + term
            if np.all(term <= 1e-15 * total):
                break
        series = front * total
        b = np.where(low, 1.0, x + 1.0 - a)  # the continued fraction, where x >= a + 1
        cc = np.full_like(x, 1e300)
        d = 1.0 / np.where(b == 0, 1e-300, b)
        h = d.copy()
        for i in range(1, 2000):
            an = -i * (i - a)
            b = b + 2.0
            d = an * d + b
            d = 1.0 / np.where(np.abs(d) < 1e-300, 1e-300, d)
            cc = b + an / np.where(np.abs(cc) < 1e-300, 1e-300, cc)
            delta = d * cc
            h = h * delta
            if np.all(np.where(low, 0.0, np.abs(delta - 1.0)) < 1e-15):
                break
        fraction = 1.0 - front * h
    out = np.where(low, series, fraction)
    return np.where(x <= 0, 0.0, np.clip(out, 0.0, 1.0))


def fill_quantiles_scv(batch, scv) -> np.ndarray:
    """(..., FILL_POINTS) formation-wait quantile points at unit rate for batch sizes and burstiness."""
    b, v = np.broadcast_arrays(np.asarray(batch, dtype=int), np.asarray(scv, dtype=float))
    if np.all(v == 1.0):
        return fill_quantiles(b)
    pairs, which = np.unique(np.stack([b.ravel(), v.ravel()], axis=-1), axis=0, return_inverse=True)
    table = np.stack([_fill_quantiles_scv(int(x), float(y)) for x, y in pairs])
    return table[which.ravel()].reshape(*b.shape, len(FILL_PROBS))


def _halfin_whitt(beta) -> np.ndarray:
    """The Halfin-Whitt (1981) limit of the probability of delay: 1 / (1 + sqrt(2 pi) b Phi(b) exp(b^2 / 2))."""
    b = np.asarray(beta, dtype=float)
    phi = 0.5 * (1.0 + np.vectorize(math.erf, otypes=[float])(b / math.sqrt(2.0)))
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + math.sqrt(2.0 * math.pi) * b * phi * np.exp(np.minimum(b * b / 2.0, 700.0)))


def bursty_wait_probability(poisson_pw, servers, offered, scv) -> np.ndarray:
    """The probability of waiting under renewal arrivals of burstiness ``scv``: the Poisson figure times the
    ratio of the Halfin-Whitt probabilities of delay at the spare capacity beta = (k - a) / sqrt(a) scaled by
    sqrt(2 / (c_a^2 + 1)) and unscaled (Whitt 2004: the G/GI/n queue's diffusion limit depends on beta over
    sqrt((c_a^2 + c_s^2) / 2); Erlang C's exponential service has c_s^2 = 1); 1 where scv = 1."""
    k, a, v = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (servers, offered, scv)))
    if np.all(v == 1.0):
        return np.asarray(poisson_pw, dtype=float)
    beta = np.maximum(k - a, 0.0) / np.sqrt(np.maximum(a, 1e-300))
    ratio = _halfin_whitt(beta * np.sqrt(2.0 / (v + 1.0))) / np.maximum(_halfin_whitt(beta), 1e-300)
    return np.clip(np.where(v == 1.0, poisson_pw, poisson_pw * ratio), 0.0, 1.0)


def static_terms(rate, batch, service_s, replicas, timeout_s, scv=1.0) -> QueueTerms:
    """Static batching (the model of :mod:`tokcost.core.capacity`) under renewal arrivals of burstiness ``scv``;
    scv = 1 is the Poisson model exactly."""
    lam, b, s, c, t, v = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (rate, batch, service_s, replicas, timeout_s, scv))
    )
    return StaticLoad.of(lam, b, s, t, v).terms(c)


class StaticLoad(NamedTuple):
    """Rows of static batching at their arrival rates: what the number of replicas does not change (the mean
    requests per batch, the formation wait), and the terms at a number of replicas (arrays of one shape)."""

    rate: np.ndarray
    batch: np.ndarray
    service: np.ndarray
    scv: np.ndarray
    batch_mean: np.ndarray  # requests per dispatched batch (effective_batch)
    fill: np.ndarray  # (..., FILL_POINTS) the formation wait's quantile points, capped at the timeout

    @classmethod
    def of(cls, rate, batch, service_s, timeout_s, scv) -> StaticLoad:
        lam, b, s, t, v = np.broadcast_arrays(
            *(np.asarray(x, dtype=float) for x in (rate, batch, service_s, timeout_s, scv))
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            fill = np.where(
                lam[..., None] > 0, np.minimum(fill_quantiles_scv(b, v) / lam[..., None], t[..., None]), 0.0
            )
        return cls(lam, b, s, v, effective_batch(lam, b, t), fill)

    def take(self, at) -> StaticLoad:
        return StaticLoad(*(v[at] for v in self))

    def terms(self, replicas) -> QueueTerms:
        lam, s, v, m = self.rate, self.service, self.scv, self.batch_mean
        c = np.asarray(replicas, dtype=float)
        k = np.maximum(c * m, 1.0)
        lo = np.floor(k)
        below, above = erlang_c(np.stack([lo, lo + 1.0]), np.stack([lam * s, lam * s]))
        pw = bursty_wait_probability(below * (lo + 1.0 - k) + above * (k - lo), k, lam * s, v)
        theta = decay_rate(lam, s, k) / v
        stable = lam * s < c * m
        return QueueTerms(
            service=s, extra=self.fill, pw=pw, theta=theta, stable=stable, util=lam * s / np.maximum(c * m, 1e-300)
        )


def _two_waits_tail(y, pw, theta, pu, theta_u) -> np.ndarray:
    """P(W + U > y) for independent W (0 with probability 1 - pw, else Exp(theta)) and U (likewise pu, theta_u):
    the slot wait and the prefill wait; y >= 0 (hypoexponential where both wait)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a, b = np.exp(-theta * y), np.exp(-theta_u * y)
        near = np.abs(theta - theta_u) <= 1e-9 * np.maximum(theta, theta_u)
        both = np.where(near, (1.0 + theta * y) * a, (theta * b - theta_u * a) / (theta - theta_u))
    return (1 - pw) * pu * b + pw * (1 - pu) * a + pw * pu * np.where(np.isfinite(both), both, 0.0)


def _tail_all(x, terms: QueueTerms) -> np.ndarray:
    """P(extra + W (+ U) > x), extra given by its quantile points (last axis)."""
    x = np.asarray(x, dtype=float)
    if terms.pu is None or terms.theta_u is None:
        return wait_tail(x, terms.extra, terms.pw, terms.theta)
    x, pu = np.broadcast_arrays(x, terms.pu)
    out = np.empty(x.shape)
    two = pu > 0  # a prefill wait as well
    pw, theta, theta_u = (np.broadcast_to(v, x.shape) for v in (terms.pw, terms.theta, terms.theta_u))
    extra = np.broadcast_to(terms.extra, (*x.shape, terms.extra.shape[-1]))
    if (~two).any():
        out[~two] = wait_tail(x[~two], extra[~two], pw[~two], theta[~two])
    if two.any():
        y = x[two][:, None] - extra[two]
        wait = _two_waits_tail(np.maximum(y, 0.0), *(v[two][:, None] for v in (pw, theta, pu, theta_u)))
        out[two] = quadrature(np.where(y < 0, 1.0, wait))
    return out


def exceeds(limit_s, terms: QueueTerms, q) -> np.ndarray:
    """True where the q-quantile of the end-to-end latency exceeds ``limit_s`` (or the queue is unstable). Rows
    with one wait go through :func:`~tokcost.core.capacity.tail_exceeds`, which settles most rows of a replica
    search by two cheap bounds (the same answers as the quadrature)."""
    x = np.asarray(limit_s, dtype=float) - terms.service
    limit = 1.0 - np.asarray(q, dtype=float)
    if terms.pu is None:
        over = tail_exceeds(x, terms.extra, terms.pw, terms.theta, limit)
    else:
        x, pu = np.broadcast_arrays(x, terms.pu)
        limit = np.broadcast_to(limit, x.shape)
        over = np.empty(x.shape, dtype=bool)
        one = pu <= 0  # no prefill wait
        if one.any():
            pw, theta = (np.broadcast_to(v, x.shape)[one] for v in (terms.pw, terms.theta))
            extra = np.broadcast_to(terms.extra, (*x.shape, terms.extra.shape[-1]))[one]
            over[one] = tail_exceeds(x[one], extra, pw, theta, limit[one])
        if (~one).any():
            two = ~one
            over[two] = _tail_all(x[two], terms.pick(x.shape, two)) > limit[two]
    return ~terms.stable | (x < 0) | over


def percentile(terms: QueueTerms, q) -> np.ndarray:
    """End-to-end q-quantile latency (seconds; inf where unstable), by bisection on the tail of extra + wait."""
    qq = np.asarray(q, dtype=float)
    pw, theta, extra = terms.pw, terms.theta, terms.extra
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(pw > 1.0 - qq, np.log(np.maximum(pw, 1e-300) / (1.0 - qq)) / theta, 0.0)
    wait = np.where(np.isfinite(wait), wait, 0.0)
    lo = np.maximum(wait, 0.0)
    if terms.pu is not None:  # room for the prefill wait's quantile too
        with np.errstate(divide="ignore", invalid="ignore"):
            more = np.log(np.maximum(terms.pu, 1e-300) / (1.0 - qq)) / terms.theta_u
        lo = lo + np.where(np.isfinite(more), np.maximum(more, 0.0), 0.0)
    hi = extra[..., -1] + lo + 1e-12
    lo = np.zeros_like(hi)
    p = np.broadcast_to(1.0 - qq, hi.shape)
    segments = _Segments.of(terms) if extra.ndim == 3 and hi.size >= _SEGMENTS_FROM else None
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        over = segments.exceeds(mid, p) if segments is not None else _tail_all(mid, terms) > p
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
    return np.where(terms.stable, terms.service + hi, np.inf)


# How far the closed form of _Segments may be from the quadrature, at most, per unit of its coefficients' size (a
# probability): each of the P terms w_j g(x - e_j) carries ~2P roundings of its exponentials and products, and the
# rounding of an exponent r (x - e_j) counts for at most r y exp(-r y) <= 1/e of its term, so both sums are within
# ~1e-13 of the exact one; ten times that is the margin below which the quadrature decides.
_SEGMENT_SLACK = 1e-12
_SEGMENTS_FROM = 150  # rows x levels: below, the pass over the points costs more than the quadratures it saves


class _Segments(NamedTuple):
    """P(F + W (+ U) > x) for terms of shape (rows, 1), F given by its quantile points e_0 <= .. <= e_P-1
    (rows, 1, P), in closed form between two points. Past its own point a term's tail is a sum of exponentials,
    sum_i a_i exp(-r_i y): pw exp(-theta y) with one wait; with a prefill wait as well (continuous batching), the
    hypoexponential's two, a_1 = pw (1 - pu) - pw pu theta_u / (theta - theta_u) at theta and a_2 = (1 - pw) pu +
    pw pu theta / (theta - theta_u) at theta_u. With k points at or below x the tail is
    A_k + sum_i a_i exp(-r_i (x - e_k-1)) C_ik, A_k = sum_{j >= k} w_j, C_ik = sum_{j < k} w_j exp(-r_i (e_k-1 - e_j))
    (C by one pass over the points): a few operations per evaluation instead of the quadrature's P exponentials.
    Where the closed form is too close to the level for its rounding to settle the comparison, the quadrature
    decides, so every answer is the quadrature's (:meth:`exceeds`)."""

    terms: QueueTerms
    coefficients: list[np.ndarray]  # a_i, (rows,)
    rates: list[np.ndarray]  # r_i, (rows,)
    before: list[np.ndarray]  # C_ik, (rows, P + 1)
    after: np.ndarray  # (P + 1,) A_k
    last: np.ndarray  # (rows, P + 1) e_k-1 (0 for k = 0)
    slack: np.ndarray  # (rows, 1)

    @classmethod
    def of(cls, terms: QueueTerms) -> _Segments | None:
        e = terms.extra[:, 0, :]
        n = len(e)

        def row(v) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=float), (n, 1))[:, 0]

        pw, theta = row(terms.pw), row(terms.theta)
        if terms.pu is None:
            coefficients, rates = [pw], [theta]
        else:
            pu, theta_u = row(terms.pu), row(terms.theta_u)
            if np.any((pu > 0) & (np.abs(theta - theta_u) <= 1e-9 * np.maximum(theta, theta_u))):
                return None  # (1 + theta y) exp(-theta y) there: the quadrature throughout
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(pu > 0, pw * pu / (theta - theta_u), 0.0)
            coefficients = [pw * (1.0 - pu) - share * theta_u, (1.0 - pw) * pu + share * theta]
            rates = [theta, theta_u]
        w = FILL_WEIGHTS
        before = []
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for r in rates:
                c = np.zeros((n, len(w) + 1))
                for j in range(len(w)):
                    c[:, j + 1] = (c[:, j] * np.exp(-r * (e[:, j] - e[:, j - 1])) if j else 0.0) + w[j]
                before.append(c)
        after = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
        last = np.concatenate([np.zeros((n, 1)), e], axis=1)
        slack = _SEGMENT_SLACK * np.maximum(1.0, sum(np.abs(a) for a in coefficients))[:, None]
        return cls(terms, coefficients, rates, before, after, last, slack)

    def exceeds(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """``_tail_all(x, terms) > p`` for x >= 0 of shape (rows, levels)."""
        k = (self.terms.extra <= x[..., None]).sum(-1)  # points at or below x
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            span = x - np.take_along_axis(self.last, k, axis=1)
            value = self.after[k]
            for a, r, c in zip(self.coefficients, self.rates, self.before, strict=True):
                value = value + a[:, None] * np.exp(-r[:, None] * span) * np.take_along_axis(c, k, axis=1)
            sure = np.abs(value - p) > np.broadcast_to(self.slack, x.shape)
        over = value > p
        unsure = ~sure
        if unsure.any():
            t = self.terms
            over[unsure] = _tail_all(x[unsure], t.pick(x.shape, unsure)) > p[unsure]
        return over


# ------------------------------------------------------------------------------------------- exact M/D/c


def mdc_number_in_system(rate, service_s, servers, states: int | None = None) -> np.ndarray:
    """(..., states) stationary distribution of the number in an M/D/c system at an arbitrary time: the chain
    N(t + D) = max(N(t) - c, 0) + A, A ~ Poisson(rate D), holds for every t (those in service at t leave by
    t + D, those waiting start after t and are still there), so its stationary law is the time-stationary one
    (Crommelin 1932). Solved as the linear system pi P = pi, sum pi = 1, truncated where the servers and the
    arrivals of a few service times leave nothing (``states``: at utilisation <= 0.5 on <= 4 servers, 40 states
    leave less than 1e-15)."""
    lam, d, c = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, service_s, servers)))
    load = lam * d
    if states is None:
        top = float(np.max(load, initial=0.0))
        states = int(3.0 * top + 10.0 * math.sqrt(top) + float(np.max(c, initial=1.0)) + 16.0)
    j = np.arange(states, dtype=float)
    pois = np.exp(j * np.log(np.maximum(load[..., None], 1e-300)) - load[..., None] - _log_factorials()[:states])
    flat_pois, flat_c = pois.reshape(-1, states), c.ravel().astype(int)
    # P[i, j] = pmf[j - max(i - c, 0)] (the pmf shifted right by max(i - c, 0)), gathered straight into its transpose
    # from the pmf with zeros before it: a[j, i] = padded[states + j - max(i - c, 0)]
    padded = np.concatenate([np.zeros_like(flat_pois), flat_pois], axis=-1)
    k = np.arange(states)
    a = np.empty((len(flat_pois), states, states))
    for cc in sorted(set(flat_c.tolist())):  # each server count once (np.unique imports numpy.ma)
        sel = flat_c == cc
        a[sel] = padded[sel][:, states + k[:, None] - np.maximum(k - cc, 0)[None, :]]
    a -= np.eye(states)  # pi (P - I) = 0, as (P - I)^T pi^T = 0
    a[..., -1, :] = 1.0  # one balance equation is redundant: replace it by the normalisation
    b = np.zeros((len(flat_pois), states, 1))
    b[..., -1, 0] = 1.0
    return np.clip(np.linalg.solve(a, b)[..., 0], 0.0, 1.0).reshape(*lam.shape, states)


def mdc_distributions(rate, service_s, servers, states) -> np.ndarray:
    """(rows, states) :func:`mdc_number_in_system` of each row (1-d arrays; ``states`` per row, at least 1), each
    solved once per process (:data:`_MDC_DISTRIBUTIONS`) and padded with zeros to the widest row."""
    keys = list(zip((rate * service_s).tolist(), servers.tolist(), [int(n) for n in states]))
    memo = _MDC_DISTRIBUTIONS
    if len(memo) > MDC_DISTRIBUTIONS_KEPT:  # bounded: a long-lived process (a sweep, a server) plans without end
        memo.clear()
    new = [i for i, key in enumerate(keys) if key not in memo]
    for n in sorted({keys[i][2] for i in new}):  # solved together by equal state counts
        at = np.array([i for i in new if keys[i][2] == n])
        memo.update(zip((keys[i] for i in at), mdc_number_in_system(rate[at], service_s[at], servers[at], n)))
    dist = np.zeros((len(keys), max((key[2] for key in keys), default=1)))
    for row, key in zip(dist, keys):
        row[: key[2]] = memo[key]
    return dist


def mdc_wait_cdf(x, rate, service_s, servers, dist: np.ndarray) -> np.ndarray:
    """P(W <= x) of M/D/c (Crommelin 1932; Franx 2001): with x = m D + u, 0 <= u < D, an arrival at t has
    started by t + x exactly when fewer than c of those ahead of it are still there then; they are the Z - c
    waiting at t - D + u (Z ~ ``dist``, the number in system at an arbitrary time) and the A arrivals in
    (t - D + u, t), A ~ Poisson(rate (D - u)): P(W <= x) = P(max(Z - c, 0) + A <= (m + 1) c - 1)."""
    lam, d, c, xx = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, service_s, servers, x)))
    m = np.floor(np.maximum(xx, 0.0) / d)
    u = np.maximum(xx, 0.0) - m * d
    states = dist.shape[-1]
    z = np.arange(states, dtype=float)
    ahead = np.maximum(z - c[..., None], 0.0)  # (..., states)
    limit = (m + 1.0)[..., None] * c[..., None] - 1.0 - ahead  # A at most this
    mu = (lam * (d - u))[..., None]
    top = int(min(max(limit.max(initial=0.0), 0.0), 4 * states)) + 1
    j = np.arange(top, dtype=float)
    lgam = _log_factorials()[:top] if top <= _GP_TERMS else np.array([math.lgamma(k + 1.0) for k in range(top)])
    pois = np.exp(j * np.log(np.maximum(mu, 1e-300)) - mu - lgam)  # (..., top)
    cdf = np.cumsum(pois, axis=-1)
    idx = np.clip(limit, -1, top - 1).astype(int)
    pick = np.where(idx >= 0, np.take_along_axis(cdf, np.maximum(idx, 0), -1), 0.0)
    return np.where(xx < 0, 0.0, np.clip((dist * pick).sum(-1), 0.0, 1.0))


def mdc_percentile(rate, service_s, servers, q, states: int | None = None) -> np.ndarray:
    """End-to-end q-quantile of M/D/c (D + the exact wait's quantile; inf at or above saturation); ``states`` as
    :func:`mdc_number_in_system`'s."""
    lam, d, c, qq = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, service_s, servers, q)))
    stable = lam * d < c
    dist = mdc_number_in_system(np.where(stable, lam, 0.0), d, c, states)
    return np.where(stable, d + mdc_wait_quantile(qq, lam, d, c, dist, 64.0, 50), np.inf)


def mdc_wait_quantile(q, rate, service_s, servers, dist: np.ndarray, span: float, steps: int) -> np.ndarray:
    """The q-quantile of the M/D/c wait (:func:`mdc_wait_cdf` over ``dist``) by bisection within ``span`` service
    times, to span / 2^steps of one: the upper end of the last interval (``span`` x D where it lies beyond)."""
    lo, hi = np.zeros(np.shape(service_s)), np.asarray(service_s, dtype=float) * span
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        below = mdc_wait_cdf(mid, rate, service_s, servers, dist) < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return hi


# ------------------------------------------------------------------------------------------- the disciplines

TIMEOUT_FILL_QUANTILE = 0.95  # whatever the objective's percentile: so that a higher one never needs fewer replicas


class Load(Protocol):
    """Rows of a discipline at their arrival rates (:meth:`Discipline.load`), for any number of replicas."""

    def take(self, at) -> Load:
        """The rows ``at`` (an index)."""
        ...

    def terms(self, replicas) -> QueueTerms:
        """The latency terms of each row at ``replicas``."""
        ...

    def exceeds(self, replicas, q: float, limit: float) -> np.ndarray:
        """True where the q-quantile latency at ``replicas`` exceeds ``limit`` (or the queue is unstable)."""
        ...

    def percentiles(self, replicas, q: float) -> tuple[Percentiles, QueueTerms]:
        """p50, p95, p99 and the q-quantile of each row at ``replicas``, with the terms they come from."""
        ...

    def mean_service(self, terms: QueueTerms) -> np.ndarray:
        """The mean seconds a request spends being served (continuous: in its slot) under ``terms``."""
        ...


class Discipline(Protocol):
    """How the requests of a row of the planner's grid (a candidate at one batch size) are queued and served.
    ``rows`` holds arrays with one entry per row: ``batch`` (static: requests per batch; continuous: sequences a
    replica holds at most), ``service`` (seconds of a batch of that size), ``timeout``, ``decode_step`` (seconds
    per decode step at each priced batch, (rows, batches)), ``prefill_tok`` (seconds per prompt token), ``prompt``
    and ``forwards`` (tokens per request). Every method is vectorised over rows."""

    name: ClassVar[str]

    def timeout(self, batch: np.ndarray, service: np.ndarray, peak: float, limit: float) -> np.ndarray:
        """The batch timeout of each row at the peak rate under the sizing limit (0: none)."""
        ...

    def own_work(self, rows: dict) -> np.ndarray:
        """A request's own seconds of work alone on a replica (no fleet meets a limit below it)."""
        ...

    def saturation(self, rows: dict, rate) -> np.ndarray:
        """The replicas that ``rate`` requests/s keep busy (a fleet must have more)."""
        ...

    def load(self, rows: dict, rate, scv: float) -> Load:
        """The rows at ``rate`` requests/s (each, or one for all) arriving with burstiness ``scv``."""
        ...


def _quantile_levels(q: float) -> tuple[np.ndarray, np.ndarray]:
    """(distinct levels, where p50, p95, p99 and q are among them)."""
    return np.unique(np.array([0.5, 0.95, 0.99, q]), return_inverse=True)


def _at_levels(terms: QueueTerms, q: float) -> tuple[np.ndarray, np.ndarray]:
    """((rows, levels) percentiles of ``terms``, the levels), for p50, p95, p99 and q; the unstable rows' are inf
    without a search (a row's figures are its own: the others' are the same without them)."""
    levels, _ = _quantile_levels(q)
    out = np.full((len(terms.stable), len(levels)), np.inf)
    if terms.stable.any():
        out[terms.stable] = percentile(terms.pick(terms.stable.shape, terms.stable).columns(), levels[None, :])
    return out, levels


def _named(pct: np.ndarray, q: float) -> Percentiles:
    _, pick = _quantile_levels(q)
    return Percentiles(*(pct[:, i] for i in pick))


class StaticBatching:
    """A batch is dispatched when full or when its oldest request waited the timeout (Triton's dynamic batcher);
    batches queue for c replicas (:class:`StaticLoad`). One request per batch on a small fleet under Poisson
    arrivals at light load takes the exact M/D/c wait, where the approximation errs most (docs/methodology.md,
    "Small fleets exactly")."""

    name: ClassVar[str] = "static"

    def timeout(self, batch, service, peak, limit) -> np.ndarray:
        # the time a batch takes to fill at peak (its 95th percentile: it rarely fires then), at most half the slack
        # the budget leaves above the service time (the other half is left for queueing)
        return np.minimum(fill_time(batch, TIMEOUT_FILL_QUANTILE) / peak, np.maximum(limit - service, 0.0) / 2.0)

    def own_work(self, rows: dict) -> np.ndarray:
        return rows["service"]

    def saturation(self, rows: dict, rate) -> np.ndarray:
        return rate * rows["service"] / effective_batch(rate, rows["batch"], rows["timeout"])

    def load(self, rows: dict, rate, scv: float) -> Load:
        rate = np.broadcast_to(np.asarray(rate, dtype=float), rows["batch"].shape)
        return _StaticRows(StaticLoad.of(rate, rows["batch"], rows["service"], rows["timeout"], scv))


class _StaticRows(NamedTuple):
    """:class:`StaticLoad` with the exact M/D/c wait where it applies."""

    load: StaticLoad

    def take(self, at) -> Load:
        return _StaticRows(self.load.take(at))

    def terms(self, replicas) -> QueueTerms:
        return self.load.terms(np.broadcast_to(np.asarray(replicas, dtype=float), self.load.rate.shape))

    def _exact(self, replicas, terms: QueueTerms) -> np.ndarray:
        return (self.load.batch == 1) & (replicas <= EXACT_UP_TO) & (terms.util <= 0.5) & (self.load.scv == 1.0)

    def exceeds(self, replicas, q: float, limit: float) -> np.ndarray:
        c = np.broadcast_to(np.asarray(replicas, dtype=float), self.load.rate.shape)
        t = self.load.terms(c)
        out = exceeds(limit, t, q)
        e = self._exact(c, t)
        if e.any():  # one evaluation of the exact wait's CDF at the slack the budget leaves
            rate, c, s = self.load.rate[e], c[e], self.load.service[e]
            dist = mdc_distributions(rate, s, c, np.full(len(rate), EXACT_STATES))
            out[e] = (limit < s) | (mdc_wait_cdf(np.maximum(limit - s, 0.0), rate, s, c, dist) < q)
        return out

    def percentiles(self, replicas, q: float) -> tuple[Percentiles, QueueTerms]:
        c = np.broadcast_to(np.asarray(replicas, dtype=float), self.load.rate.shape)
        t = self.load.terms(c)
        pct, levels = _at_levels(t, q)
        e = self._exact(c, t)
        if e.any():
            at = (self.load.rate[e][:, None], self.load.service[e][:, None], c[e][:, None])
            pct[e] = mdc_percentile(*at, levels[None, :], EXACT_STATES)
        return _named(pct, q), t

    def mean_service(self, terms: QueueTerms) -> np.ndarray:
        return self.load.service


class ContinuousBatching:
    """A replica holds at most ``batch`` sequences; each step decodes one token of every running one and prefills
    prompt chunks (vLLM; :func:`continuous_terms`). ``batches``: the batch sizes ``decode_step`` is priced at."""

    name: ClassVar[str] = "continuous"

    def __init__(self, batches: np.ndarray):
        self.batches = batches

    def timeout(self, batch, service, peak, limit) -> np.ndarray:
        return np.zeros(np.shape(batch))

    def _full(self, rows: dict) -> np.ndarray:
        """A request's work in a full replica: its forwards x d(N) + its prefill."""
        at = np.searchsorted(self.batches, rows["batch"])
        return rows["forwards"] * rows["decode_step"][np.arange(len(at)), at] + rows["prompt"] * rows["prefill_tok"]

    def own_work(self, rows: dict) -> np.ndarray:
        return self._full(rows)

    def saturation(self, rows: dict, rate) -> np.ndarray:
        # the prefill work alone must leave time (r p pi < c), and every slot's work fit
        return np.maximum(rate * rows["prompt"] * rows["prefill_tok"], rate * self._full(rows) / rows["batch"])

    def load(self, rows: dict, rate, scv: float) -> Load:
        rate = np.broadcast_to(np.asarray(rate, dtype=float), rows["batch"].shape)
        keep = ("batch", "decode_step", "prefill_tok", "prompt", "forwards")
        return _ContinuousRows({k: rows[k] for k in keep}, rate, scv, self.batches)


class _ContinuousRows(NamedTuple):
    rows: dict
    rate: np.ndarray
    scv: float
    batches: np.ndarray

    def take(self, at) -> _ContinuousRows:
        return _ContinuousRows({k: v[at] for k, v in self.rows.items()}, self.rate[at], self.scv, self.batches)

    def terms(self, replicas) -> QueueTerms:
        r = self.rows
        c = np.broadcast_to(np.asarray(replicas, dtype=float), self.rate.shape)
        step = step_curve(r["decode_step"], 1.0, self.batches)
        return continuous_terms(self.rate, c, r["batch"], step, r["prefill_tok"], r["prompt"], r["forwards"], self.scv)

    def _exact(self, replicas, terms: QueueTerms) -> np.ndarray:
        """The rows whose slot wait the exact M/D/k queue gives (:meth:`_exact_wait`)."""
        slots = replicas * self.rows["batch"]
        return terms.stable & (slots <= EXACT_SLOTS) & (terms.util <= EXACT_SLOT_UTIL) & (self.scv == 1.0)

    def _exact_wait(self, replicas, terms: QueueTerms, q: float) -> QueueTerms:
        """``terms`` with the slot wait of the rows on at most :data:`EXACT_SLOTS` slots under Poisson arrivals
        taken from the exact M/D/k queue (k slots, each held :func:`full_slot_time`): P(W > 0) exactly, and the
        exponential through the exact wait's q-quantile."""
        c = np.broadcast_to(np.asarray(replicas, dtype=float), self.rate.shape)
        k = c * self.rows["batch"]
        e = self._exact(c, terms)
        if not e.any():
            return terms
        r = {name: v[e] for name, v in self.rows.items()}
        step = step_curve(r["decode_step"], 1.0, self.batches)
        rate, slots = self.rate[e], k[e]
        hold = full_slot_time(rate / c[e], r["batch"], step, r["prefill_tok"], r["prompt"], r["forwards"])
        # each row's states from its own load (mdc_number_in_system's rule, rounded up to a multiple of 8), so that
        # its distribution depends on its own inputs alone, not on the rows solved with it
        load = rate * hold
        dist = mdc_distributions(rate, hold, slots, 8 * np.ceil((3.0 * load + 10.0 * np.sqrt(load) + slots + 16.0) / 8))
        pw = 1.0 - mdc_wait_cdf(0.0, rate, hold, slots, dist)
        hi = mdc_wait_quantile(q, rate, hold, slots, dist, WAIT_SPAN, WAIT_STEPS)
        with np.errstate(divide="ignore", invalid="ignore"):
            through = np.log(np.maximum(pw, 1e-300) / (1.0 - q)) / hi
        usable = (pw > 1.0 - q) & (hi > 0) & (hi < hold * WAIT_SPAN)  # else Allen-Cunneen's decay stays
        all_pw = np.array(np.broadcast_to(terms.pw, e.shape), dtype=float)
        all_theta = np.array(np.broadcast_to(terms.theta, e.shape), dtype=float)
        all_theta[e] = np.where(usable, through, all_theta[e])
        all_pw[e] = pw
        return dataclasses.replace(terms, pw=all_pw, theta=all_theta)

    def exceeds(self, replicas, q: float, limit: float) -> np.ndarray:
        c = np.broadcast_to(np.asarray(replicas, dtype=float), self.rate.shape)
        t = self.terms(c)
        over = exceeds(limit, t, q)
        # only the rows the exponential lets through are checked again with the exact slot wait (its tail is the
        # heavier one at the objective's percentiles; a row it already fails keeps that answer, the conservative one)
        again = ~over & self._exact(c, t)
        if again.any():
            part = self.take(np.flatnonzero(again))
            over[again] = exceeds(limit, part._exact_wait(c[again], part.terms(c[again]), q), q)
        return over

    def percentiles(self, replicas, q: float) -> tuple[Percentiles, QueueTerms]:
        t = self._exact_wait(replicas, self.terms(replicas), q)
        return _named(_at_levels(t, q)[0], q), t

    def mean_service(self, terms: QueueTerms) -> np.ndarray:
        pu = np.zeros_like(terms.service) if terms.pu is None else terms.pu
        return terms.service / np.where(pu < 1, 1.0 - pu, 1.0)
