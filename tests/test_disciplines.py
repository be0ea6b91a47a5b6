"""The queue disciplines as one interface (issue 28, item 4), and the planner's shortcuts (issue 29): each gives
the very bits of the plain computation it replaces, and a row's figures do not depend on the rows beside it."""

import math

import numpy as np
import pytest

from tokcost.core import queueing
from tokcost.core.capacity import decay_rate, erlang_c, fewest
from tokcost.core.fleet import BATCHES, DISCIPLINES, Fleet
from tokcost.core.queueing import (
    ContinuousBatching,
    Percentiles,
    QueueTerms,
    StaticBatching,
    continuous_terms,
    percentile,
    static_terms,
    step_curve,
)
from tokcost.io.engines import load_engines
from tokcost.records.engines import EngineProfile

LEVELS = np.array([[0.5, 0.9, 0.95, 0.99, 0.999]])


def _static_rows(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    timeout = rng.uniform(0.0, 3.0, n)
    timeout[rng.random(n) < 0.2] = np.inf
    return dict(
        rate=rng.uniform(0.01, 50.0, n),
        batch=rng.choice(BATCHES, n),
        service=rng.uniform(0.001, 5.0, n),
        replicas=rng.integers(1, 60, n).astype(float),
        timeout=timeout,
    )


def _static(rows: dict, scv: float = 1.0) -> QueueTerms:
    return static_terms(rows["rate"], rows["batch"], rows["service"], rows["replicas"], rows["timeout"], scv)


def _continuous(n: int, scv: float = 1.0, seed: int = 5) -> QueueTerms:
    rng = np.random.default_rng(seed)
    decode = np.sort(rng.uniform(0.005, 0.05, (n, len(BATCHES))), axis=1) * np.linspace(1.0, 4.0, len(BATCHES))
    return continuous_terms(
        rng.uniform(0.05, 20.0, n),
        rng.integers(1, 20, n).astype(float),
        rng.choice(BATCHES, n),
        step_curve(decode, 1.0, BATCHES),
        rng.uniform(1e-6, 1e-4, n),
        rng.uniform(10.0, 5000.0, n),
        rng.uniform(10.0, 4000.0, n),
        scv,
    )


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b) or np.all((a == b) | (np.isinf(a) & np.isinf(b))))


# ------------------------------------------------------------------------------------------- the interface


def test_every_engine_profile_batching_has_a_discipline():
    """The discipline is chosen from the engine profile's ``batching`` field, one per value it may take."""
    allowed = set(EngineProfile.model_fields["batching"].annotation.__args__)
    assert set(DISCIPLINES) == allowed
    assert isinstance(DISCIPLINES["static"], StaticBatching)
    assert isinstance(DISCIPLINES["continuous"], ContinuousBatching)
    for name, profile in load_engines().items():
        assert DISCIPLINES[profile.batching].name == profile.batching, name


def test_percentiles_are_named_and_ordered(tmp_path):
    import tokcost

    spec = tmp_path / "s.yaml"
    spec.write_text(
        "version: 1\nname: s\nproduct: {kind: image, width: 1024, height: 1024}\n"
        "demand: {requests_per_day: 200000, peak_to_mean: 3}\nbudget: {latency_s: 10, latency_percentile: 99}\n"
        "candidates: {models: [sdxl], hardware: [h100-sxm]}\n"
    )
    from tokcost.core.plan import evaluate_fleets
    from tokcost.io.catalog import Catalog
    from tokcost.io.specs import load_spec

    catalog = Catalog.default()
    evaluated = evaluate_fleets(load_spec(str(spec), catalog)[0], catalog)
    assert evaluated
    for c, fleet in evaluated:
        assert isinstance(fleet, Fleet) and isinstance(fleet.latency, Percentiles)
        lat = fleet.latency
        assert lat.p50 <= lat.p95 <= lat.p99 and lat.objective == lat.p99  # the objective's percentile is 99
        assert (c.latency_p50_s, c.latency_p95_s, c.latency_p99_s) == (float(lat.p50), float(lat.p95), float(lat.p99))
    assert tokcost.analyze(str(spec)).specs[0].recommendation.choice is not None


def test_a_static_load_gives_static_terms():
    """StaticLoad keeps what the fleet size does not change across a replica search: its terms at any number of
    replicas are static_terms' bit for bit."""
    rows = _static_rows(500)
    load = queueing.StaticLoad.of(rows["rate"], rows["batch"], rows["service"], rows["timeout"], 1.0)
    direct = _static(rows)
    via = load.terms(rows["replicas"])
    for name in ("service", "extra", "pw", "theta", "stable", "util"):
        assert _same(getattr(via, name), getattr(direct, name)), name


# ------------------------------------------------------------------------------------------- the shortcuts


def _erlang_c_one_term_a_step(servers, offered) -> np.ndarray:
    """Erlang C as the planner computed it before blocks: one term of the series a step, for the rows that need
    it (sorted by their count of terms)."""
    from tokcost.core.capacity import _erf, _log_factorial

    c, a = np.broadcast_arrays(np.floor(np.asarray(servers, dtype=float)), np.asarray(offered, dtype=float))
    rho = np.where(c > 0, a / np.maximum(c, 1.0), np.inf)
    exact = (rho < 1.0) & (c <= 20_000)
    cs, ax = np.where(exact, c, 1.0).ravel(), np.where(exact, a, 0.5).ravel()
    order = np.argsort(cs, kind="stable")
    cs, ax = cs[order], ax[order]
    needed = 6.0 * np.sqrt(cs) + 30.0
    term, partial = np.ones_like(ax), np.zeros_like(ax)
    for n in range(1, int(needed[-1]) + 1 if needed.size else 1):
        i = int(np.searchsorted(needed, n))
        term[i:] *= ax[i:] / (cs[i:] + n)
        partial[i:] += term[i:]
    unsort = np.empty_like(order)
    unsort[order] = np.arange(order.size)
    s, load, tail = (v[unsort].reshape(c.shape) for v in (cs, ax, partial))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        pmf = np.exp(s * np.log(np.maximum(load, 1e-300)) - load - _log_factorial(s))
        b = pmf / (1.0 - pmf * tail)
        pc = b / (1.0 - rho * (1.0 - b))
        beta = (c - a) / np.sqrt(np.maximum(a, 1e-300))
        phi = 0.5 * (1.0 + _erf(beta / math.sqrt(2.0)))
        hw = 1.0 / (1.0 + math.sqrt(2.0 * math.pi) * beta * phi * np.exp(np.minimum(beta**2 / 2.0, 700.0)))
    return np.where(rho < 1.0, np.clip(np.where(exact, pc, hw), 0.0, 1.0), 1.0)


def test_erlang_c_blocks_of_terms_sum_as_one_term_after_the_other():
    """Summing a block of the series at a time (where few rows are left) is the one-term-a-step sum, to the bit:
    the product and sum along a block accumulate in order."""
    rng = np.random.default_rng(1)
    for size in (1, 3, 40, 2500):  # few rows: long blocks; many: one term a step until few are left
        servers = np.concatenate([rng.integers(1, 400, size), rng.integers(1, 20_000, 3)]).astype(float)
        offered = servers * rng.random(servers.size) ** 0.3
        offered[:2] = servers[:2] * (1 - 1e-9)  # near saturation: the longest series
        assert np.array_equal(erlang_c(servers, offered), _erlang_c_one_term_a_step(servers, offered))


def _decay_rate_sixty_steps(rate, service_s, servers) -> np.ndarray:
    lam, s, k = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (rate, service_s, servers)))
    rho = np.clip(lam * s / np.maximum(k, 1.0), 1e-12, 1.0 - 1e-12)
    x = 1.0 / rho**2
    for _ in range(60):
        x = np.maximum(x - (rho * x - np.log1p(x)) / (rho - 1.0 / (1.0 + x)), 1e-12)
    return lam * x


def test_decay_rate_leaving_fixed_points_and_cycles_early_changes_no_bit():
    rng = np.random.default_rng(2)
    k = rng.integers(1, 25_000, 5000).astype(float)
    lam = rng.random(k.size) * 5.0
    s = k * rng.random(k.size) ** 0.3 / np.maximum(lam, 1e-9)
    assert np.array_equal(decay_rate(lam, s, k), _decay_rate_sixty_steps(lam, s, k))


@pytest.mark.parametrize("kind", ["static", "static bursty", "continuous", "continuous bursty"])
def test_percentile_closed_form_gives_the_quadratures_bisection(kind, monkeypatch):
    """The bisection decided by the closed form between quantile points (the quadrature only near the level) lands
    on the very bits of the bisection decided by the quadrature at every step."""
    scv = 2.5 if "bursty" in kind else 1.0
    terms = (_static(_static_rows(1500), scv) if kind.startswith("static") else _continuous(800, scv)).columns()
    fast = percentile(terms, LEVELS)
    monkeypatch.setattr(queueing._Segments, "of", classmethod(lambda cls, t: None))
    assert _same(fast, percentile(terms, LEVELS))


def test_a_rows_percentiles_do_not_depend_on_the_rows_beside_it():
    """The same row gives the same bits alone or among others (the quadrature sums each row alone; the exact
    M/D/c path solves a fixed number of states)."""
    rows = _static_rows(300)
    rows["batch"][:40], rows["replicas"][:40] = 1.0, 2.0  # some on the exact M/D/c path
    rows["rate"][:40] = 0.5 / rows["service"][:40]
    load = StaticBatching().load(
        {"batch": rows["batch"], "service": rows["service"], "timeout": rows["timeout"]}, rows["rate"], 1.0
    )
    together, _ = load.percentiles(rows["replicas"], 0.99)
    for i in (0, 5, 39, 40, 41, 150, 299):
        alone, _ = load.take(np.array([i])).percentiles(rows["replicas"][i : i + 1], 0.99)
        for name in ("p50", "p95", "p99", "objective"):
            assert _same(getattr(alone, name), getattr(together, name)[i : i + 1]), (i, name)


def test_fewest_asks_only_about_the_rows_still_open():
    """Each call of the test sees only the rows whose answer is still open, and the answers are those of a
    search over every row."""
    need = np.array([1.0, 3.0, 17.0, 200.0, 5.0, np.inf])
    seen: list[np.ndarray] = []

    def ok(n, at):
        seen.append(np.asarray(at).copy())
        return n >= need[at]

    found = fewest(ok, np.ones(len(need)), cap=1024.0)
    assert np.array_equal(found, [1.0, 3.0, 17.0, 200.0, 5.0, np.inf])
    assert len(seen[0]) == len(need)
    assert sum(len(s) for s in seen[1:]) < len(need) * (len(seen) - 1) / 2  # later calls: the open rows only
    assert all(0 not in s for s in seen[1:])  # row 0 passed at once: never asked again


@pytest.mark.parametrize("ways", [2, 5, 16])
def test_a_wide_search_finds_what_bisection_finds_in_fewer_calls(ways):
    """fewest(ways=k) tests k counts of each open row per call: the same answers as the bisection (from any
    lowest, up to the cap), in fewer calls."""
    rng = np.random.default_rng(ways)
    need = np.concatenate([rng.integers(1, 3000, 60).astype(float), [1.0, 2.0, np.inf, 5000.0]])
    lowest = np.minimum(need, rng.integers(1, 40, len(need)).astype(float))
    calls = {1: 0, ways: 0}

    def counted(k):
        def ok(n, at):
            calls[k] += 1
            assert len(n) == len(at)
            return n >= need[at]

        return ok

    plain = fewest(counted(1), lowest, cap=4096.0)
    wide = fewest(counted(ways), lowest, cap=4096.0, ways=ways)
    within = need <= 4096.0  # above the cap the bisection's answer depends on where its doubling lands
    assert np.array_equal(plain[within], need[within]) and np.array_equal(wide[within], need[within])
    assert np.all(np.isinf(wide[~within]))
    assert calls[ways] < calls[1]


def _grid_rows(discipline: str, candidates: int, seed: int = 11) -> dict:
    """A planner's grid for ``candidates`` candidates x BATCHES, as :func:`tokcost.core.fleet._fleets` lays it out."""
    rng = np.random.default_rng(seed)
    n = candidates * len(BATCHES)
    service = np.sort(rng.uniform(0.05, 3.0, (candidates, len(BATCHES))), axis=1) * np.linspace(1, 6, len(BATCHES))
    batch = np.tile(BATCHES, candidates)
    decode = np.sort(rng.uniform(0.005, 0.05, (candidates, len(BATCHES))), axis=1) * np.linspace(1, 4, len(BATCHES))
    timeout = DISCIPLINES[discipline].timeout(batch.reshape(service.shape), service, 20.0, 9.0).ravel()
    continuous = discipline == "continuous"
    return dict(
        batch=batch,
        service=service.ravel(),
        curve=np.repeat(service, len(BATCHES), 0),
        timeout=timeout,
        decode_step=np.repeat(decode if continuous else np.zeros_like(decode), len(BATCHES), 0),
        prefill_tok=np.repeat(
            rng.uniform(1e-6, 1e-4, candidates) if continuous else np.zeros(candidates), len(BATCHES)
        ),
        prompt=np.repeat(rng.uniform(10, 2000, candidates) if continuous else np.zeros(candidates), len(BATCHES)),
        forwards=np.repeat(rng.uniform(10, 1000, candidates) if continuous else np.zeros(candidates), len(BATCHES)),
        fits=rng.random(n) < 0.9,
    )


@pytest.mark.parametrize("discipline", ["static", "continuous"])
def test_the_replica_search_picks_what_searching_every_batch_picks(discipline):
    """The planner's peak search (``among`` = the batches of a candidate) skips the batches whose search would
    start above what the candidate already needs: the same batch and the same replicas as searching every batch,
    and those as the plain bisection from the fewest below saturation finds them."""
    from tokcost.core import fleet

    rows, rate, q, limit = _grid_rows(discipline, 40), 20.0, 0.99, 9.0
    d = DISCIPLINES[discipline]
    every = fleet._sizing(d, rows, rate, q, limit, 1.0)
    pruned = fleet._sizing(d, rows, rate, q, limit, 1.0, among=len(BATCHES))
    grid = (-1, len(BATCHES))
    best = np.argmin(every.reshape(grid), axis=1)
    assert np.array_equal(best, np.argmin(pruned.reshape(grid), axis=1))
    assert _same(every.reshape(grid)[np.arange(len(best)), best], pruned.reshape(grid)[np.arange(len(best)), best])
    skipped = np.isinf(pruned) & np.isfinite(every)
    assert skipped.any()  # the shortcut is taken
    assert np.all(every[skipped] >= pruned.reshape(grid).min(axis=1).repeat(len(BATCHES))[skipped])
    # the plain search: every live row some fleet serves, by bisection from the fewest below saturation
    live = np.flatnonzero(rows["fits"])
    load = d.load({k: v[live] for k, v in rows.items()}, rate, 1.0)
    served = ~load.exceeds(np.full(len(live), 2.0**24), q, limit)
    start = np.maximum(np.floor(d.saturation({k: v[live] for k, v in rows.items()}, rate)) + 1.0, 1.0)
    plain = np.full(len(rows["batch"]), np.inf)
    sub = load.take(np.flatnonzero(served))
    plain[live[served]] = fewest(lambda c, at: ~sub.take(at).exceeds(c, q, limit), start[served])
    assert _same(plain, every)


def test_a_candidate_with_no_finite_saturation_bound_is_left_unsized():
    """The peak search over a candidate's batches (``among``) with no batch it could start from: inf, no error."""
    from tokcost.core import fleet

    rows = _grid_rows("static", 1)
    rows["service"][:] = np.inf  # every batch's saturation bound is inf
    rows["fits"][:] = True
    sized = fleet._sizing(DISCIPLINES["static"], rows, 20.0, 0.99, 9.0, 1.0, among=len(BATCHES))
    assert np.isinf(sized).all()
