"""Queueing model for capacity planning (issue #13) -- NOT YET WIRED INTO plan.py.

Pure numpy, vectorised over candidates. A replica serves batches of B requests with a deterministic
service time S (seconds per batch); requests arrive as a Poisson stream of rate lam (requests/s) shared by
c replicas. Batches are treated as "customers" arriving at rate lam / B with interarrival SCV 1/B (the
gap between batch starts is Erlang-B), served deterministically (SCV 0) by c servers.

Queue wait of a batch: Erlang C probability of waiting, with the Allen-Cunneen GI/G/c correction
(Allen, "Probability, Statistics and Queueing Theory", 1990; Whitt 1993, "Approximations for the GI/G/m
queue") and an exponential tail, P(Wq > t) ~= C exp(-theta t), theta = 2 (c mu - lam_b) / (ca2 + cs2).

Status: the simulation validation (SimPy, p50/p95/p99 within 10%) required by issue #13 has not been done;
use only after that lands.
"""

from __future__ import annotations

import numpy as np


def erlang_c(servers, offered) -> np.ndarray:
    """Probability an arrival waits in M/M/c with c servers and offered load a = lam / mu (a < c).

    Computed from the Erlang B recursion (stable for c up to thousands), vectorised over arrays."""
    c = np.asarray(servers, dtype=float)
    a = np.asarray(offered, dtype=float)
    c, a = np.broadcast_arrays(c, a)
    cmax = int(np.max(c)) if c.size else 0
    b = np.ones_like(a)
    out = np.ones_like(a)
    for k in range(1, cmax + 1):
        b = a * b / (k + a * b)
        out = np.where(c == k, b, out)
    rho = a / c
    with np.errstate(divide="ignore", invalid="ignore"):
        pc = out / (1.0 - rho * (1.0 - out))
    return np.where(rho < 1.0, pc, 1.0)


def queue_wait_percentile(rate, batch, service_s, replicas, q) -> np.ndarray:
    """q-quantile (0-1) of a batch's queue wait (seconds); inf at or above saturation."""
    lam_b = np.asarray(rate, dtype=float) / np.asarray(batch, dtype=float)
    s = np.asarray(service_s, dtype=float)
    c = np.asarray(replicas, dtype=float)
    a = lam_b * s
    pc = erlang_c(c, a)
    ca2 = 1.0 / np.asarray(batch, dtype=float)
    theta = 2.0 * (c / s - lam_b) / (ca2 + 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(pc / (1.0 - q)) / theta
    t = np.maximum(t, 0.0)
    return np.where(a < c, t, np.inf)


def utilization(rate, batch, service_s, replicas) -> np.ndarray:
    return (
        np.asarray(rate, dtype=float) * np.asarray(service_s, dtype=float) / (np.asarray(batch) * np.asarray(replicas))
    )
