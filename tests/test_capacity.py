"""The queueing approximation in tokcost.core.capacity against a SimPy discrete-event simulation.

Scope today (issue #13 is only partly done): one request per batch (M/D/c), utilisation 0.8, replicas 1-64.
Measured but not asserted: at utilisation 0.95 the approximation overestimates p95/p99 by 20-40% (conservative),
and at utilisation 0.5 with one replica p99 is 13% high."""

import numpy as np
import pytest

from tokcost.core.capacity import erlang_c, queue_wait_percentile, utilization

simpy = pytest.importorskip("simpy")


def _simulate(lam: float, c: int, service: float, n: int = 20000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, c)
    latencies: list[float] = []

    def request(env):
        t0 = env.now
        with servers.request() as r:
            yield r
            yield env.timeout(service)
            latencies.append(env.now - t0)

    def arrivals(env):
        for _ in range(n):
            yield env.timeout(rng.exponential(1 / lam))
            env.process(request(env))

    env.process(arrivals(env))
    env.run()
    return np.percentile(np.array(latencies[n // 10 :]), [50, 95, 99])


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert utilization(7.0, 1, 1.0, 8) == pytest.approx(0.875)


def test_saturation_is_infinite():
    assert np.isinf(queue_wait_percentile(2.0, 1, 1.0, 2, 0.95))


@pytest.mark.parametrize("replicas", [1, 8, 64])
def test_percentiles_match_simulation(replicas):
    service, rho = 1.0, 0.8
    lam = rho * replicas / service
    simulated = _simulate(lam, replicas, service)
    approx = np.array([queue_wait_percentile(lam, 1, service, replicas, q) + service for q in (0.5, 0.95, 0.99)])
    assert np.all(np.abs(approx - simulated) / simulated <= 0.10), (approx, simulated)
