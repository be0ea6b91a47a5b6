"""`tokcost simulate` and its event loop (issue 30): the static discipline against SimPy on the same arrivals,
the continuous one's invariants, the command's JSON contract, its exit codes, trace replay and seeding.
How close the planner's approximations come to it is tests/test_queueing.py."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from test_capacity import simpy_static_latencies  # the SimPy reference, with its own batch sealing
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.core.fleet import BATCHES
from tokcost.core.simulate import (
    ContinuousServer,
    StaticServer,
    Traffic,
    renewal_arrivals,
    simulate_continuous,
    simulate_static,
)
from tokcost.render.simulate import format_table

ROOT = Path(__file__).resolve().parents[1]
STOREFRONT = ROOT / "specs" / "storefront-images.yaml"
PHOTO_QA = ROOT / "specs" / "photo-qa.yaml"

simpy = pytest.importorskip("simpy")


@pytest.mark.parametrize(("batch", "replicas", "util"), [(1, 1, 0.7), (4, 3, 0.85), (16, 8, 0.6)])
def test_static_simulation_equals_simpy_on_the_same_arrivals(batch, replicas, util):
    service = 1.0
    rate = util * replicas * batch / service
    arrivals = renewal_arrivals(np.full(2, rate), 1.0, np.random.default_rng(3))
    timeout = 2.0 * batch / rate
    server = StaticServer(batch, timeout, BATCHES, np.full(len(BATCHES), service))
    ours = simulate_static(Traffic(arrivals), server, np.array([replicas, replicas]))
    reference = simpy_static_latencies(arrivals, batch, timeout, service, replicas)  # sealed independently
    assert np.allclose(ours[: len(reference)], reference, atol=1e-9)


def test_continuous_simulation_invariants():
    """No request is faster than its own prefill and decode steps alone; one replica of one slot is a FCFS
    single server whose service is exactly prefill + decode steps."""
    d = np.full(9, 0.01)
    server = ContinuousServer(8, 2048, d, 1e-4, 1000, 50)
    arrivals = renewal_arrivals(np.full(1, 5.0), 1.0, np.random.default_rng(4))
    latency = simulate_continuous(Traffic(arrivals), server, np.array([2]))
    alone = 0.01 * 50 + 1e-4 * 1000  # a prompt of 1,000 tokens fits one step; its last chunk gives token 1
    assert np.all(np.isfinite(latency)) and latency.min() >= alone - 1e-9
    one = ContinuousServer(1, 2048, d, 1e-4, 1000, 50)
    single = simulate_continuous(Traffic(np.array([0.0, 0.1, 10.0])), one, np.array([1]))
    assert single == pytest.approx([alone, 2 * alone - 0.1, alone])


def test_autoscaled_replicas_change_by_the_hour():
    server = StaticServer(1, 0.0, BATCHES, np.ones(len(BATCHES)))
    rates = np.array([0.5, 3.5])
    arrivals = renewal_arrivals(rates, 1.0, np.random.default_rng(1))
    few = simulate_static(Traffic(arrivals), server, np.array([1, 1]))
    scaled = simulate_static(Traffic(arrivals), server, np.array([1, 4]))
    second = arrivals >= 3600
    assert np.percentile(scaled[second], 95) < np.percentile(few[second], 95) / 10  # one replica is overrun


def test_simulate_storefront_json_reports_the_contract():
    r = CliRunner().invoke(app, ["simulate", str(STOREFRONT), "--format", "json", "--seed", "3"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["schema_version"] == 1 and out["hours"] == 24 and len(out["by_hour"]) == 24
    assert 150_000 < out["requests"] < 250_000  # 200,000 a day, Poisson
    assert out["p50_s"] <= out["p95_s"] <= out["p99_s"] <= out["budget_s"]
    assert 0.0 <= out["over_budget_share"] <= 0.05 and out["met"] is True
    for hour in out["by_hour"]:
        assert set(hour) >= {"p50_s", "p95_s", "p99_s", "over_budget_share", "replicas", "requests"}
    # the plan's own p95 at peak is near the busiest hour's simulated one
    busiest = max(out["by_hour"], key=lambda h: h["requests"])
    assert busiest["p95_s"] == pytest.approx(out["predicted_objective_s"], rel=0.15)


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    a = tokcost.simulate(PHOTO_QA, hours=2, seed=7)
    b = tokcost.simulate(PHOTO_QA, hours=2, seed=7)
    c = tokcost.simulate(PHOTO_QA, hours=2, seed=8)
    assert a.model_dump() == b.model_dump()
    assert a.requests != c.requests or a.p95_s != c.p95_s


def test_a_missed_budget_exits_1_and_says_so(tmp_path):
    """Traffic five times the plan's: the fleet cannot keep up, the percentile is missed."""
    times = renewal_arrivals(np.full(1, 5 * 6.94), 1.0, np.random.default_rng(2))
    trace = tmp_path / "heavy.csv"
    trace.write_text("timestamp\n" + "\n".join(f"{t:.4f}" for t in times) + "\n")
    r = CliRunner().invoke(app, ["simulate", str(STOREFRONT), "--trace", str(trace)])
    assert r.exit_code == 1, r.output
    assert "MISSES" in r.stdout and f"{len(times):,} requests over 1 hour" in r.stdout


def test_trace_replay_uses_the_trace_and_its_sizes(tmp_path):
    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0, 3600, 3000))
    rows = [f"{t:.3f},{rng.integers(20, 100)},{rng.integers(64, 256)}" for t in times]
    trace = tmp_path / "qa.csv"
    trace.write_text("timestamp,prompt_tokens,answer_tokens\n" + "\n".join(rows) + "\n")
    r = tokcost.simulate(PHOTO_QA, trace=trace)
    assert r.traffic == "trace" and r.requests == 3000 and r.hours == 1
    assert "answer_tokens" in r.sizes_used
    assert "answer_tokens per request" in format_table(r)


def test_candidate_is_checked():
    with pytest.raises(tokcost.InputError, match="MODEL/HARDWARE/ENGINE"):
        tokcost.simulate(STOREFRONT, candidate="sdxl")
    with pytest.raises(tokcost.InputError, match="not a candidate"):
        tokcost.simulate(STOREFRONT, candidate="sdxl/l4/compiled")
    r = tokcost.simulate(STOREFRONT, candidate="sdxl/a100-80gb-sxm/compiled", hours=1)
    assert r.hardware == "a100-80gb-sxm" and r.hours == 1


def test_simulate_markdown_has_the_hour_table():
    r = CliRunner().invoke(app, ["simulate", str(PHOTO_QA), "--hours", "2", "--format", "markdown"])
    assert r.exit_code == 0, r.output
    assert "| hour | of day | replicas |" in r.stdout and "continuous batching" in r.stdout


def test_bursty_spec_is_simulated_bursty(tmp_path):
    doc = yaml.safe_load(STOREFRONT.read_text())
    doc["demand"] |= {"arrivals": "bursty", "burstiness": 3}
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = tokcost.simulate(path, hours=1)
    assert r.traffic == "bursty" and r.burstiness == 3.0
