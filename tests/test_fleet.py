"""Capacity under load in the planner (issue #13): the percentile objective, the day's demand, fixed and autoscaled
fleets, the JSON contract and the report's sentences. The queueing model itself is checked against a simulation
in tests/test_capacity.py."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.core.capacity import fewest, utilization
from tokcost.core.fleet import hourly_weights
from tokcost.core.gate import gated_latency
from tokcost.core.queueing import exceeds, static_terms
from tokcost.records.spec import Spec
from tokcost.render import advice

ROOT = Path(__file__).resolve().parents[1]
STOREFRONT = ROOT / "specs" / "storefront-images.yaml"
CONTRACT = (
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "utilization_at_peak",
    "replicas_at_peak",
    "monthly_usd_fixed",
    "monthly_usd_autoscaled",
    "batch_timeout_s",
)


def _spec(tmp_path, **changes) -> Path:
    doc = yaml.safe_load(STOREFRONT.read_text())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        if value is None:
            doc[section].pop(key, None)
        else:
            doc[section][key] = value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_json_carries_the_capacity_contract():
    r = CliRunner().invoke(app, ["analyze", str(STOREFRONT), "--format", "json"])
    assert r.exit_code == 0, r.output
    feasible = [c for c in json.loads(r.stdout)["specs"][0]["candidates"] if c["feasible"]]
    assert feasible
    for c in feasible:
        for key in CONTRACT:
            assert isinstance(c[key], (int, float)) and math.isfinite(c[key]), (key, c[key])
        assert c["latency_p50_s"] <= c["latency_p95_s"] <= c["latency_p99_s"]
        assert c["latency_p50_s"] >= c["latency_s"]["central"] - 1e-9  # never below the service time (static)
        assert 0 < c["utilization_at_peak"] < 1
        assert c["monthly_usd_autoscaled"] <= c["monthly_usd_fixed"] + 1e-6
        assert c["gpus"] == c["replicas_at_peak"] * c["gpus_per_replica"]  # a fixed fleet: the peak's
        assert c["monthly_usd"] == pytest.approx(c["monthly_usd_fixed"])
        assert c["latency_objective_s"] <= 10.0  # the spec's budget, met at p95


def test_headline_names_the_percentile_queueing_utilisation_and_fleet():
    spec = tokcost.analyze(str(STOREFRONT)).specs[0]
    c, headline = spec.recommendation.choice, advice.headline(spec)
    assert f"p95 {c.latency_objective_s:.3g} s at peak" in headline
    gpus = c.replicas_at_peak * c.gpus_per_replica
    assert "queueing" in headline and f"{c.utilization_at_peak:.0%} utilisation on {gpus} GPUs" in headline
    if c.gpus_per_replica > 1:
        assert f"({c.replicas_at_peak} replicas of {c.gpus_per_replica})" in headline
    assert any("Autoscaled over the day" in r and "less" in r for r in advice.why(spec))


def test_default_day_has_the_specs_peak_to_mean():
    for peak in (1.0, 1.5, 3.0, 6.0):
        spec = Spec.model_validate(
            {
                "version": 1,
                "name": "x",
                "product": {"kind": "image", "width": 512, "height": 512},
                "demand": {"requests_per_day": 1000, "peak_to_mean": peak},
                "budget": {"latency_s": 5},
            }
        )
        w = hourly_weights(spec)
        assert w.shape == (24,) and np.all(w >= 0)
        assert w.mean() == pytest.approx(1.0)
        assert w.max() == pytest.approx(peak, rel=1e-6)


def test_autoscaled_fleet_ranks_when_asked(tmp_path):
    fixed = tokcost.analyze(str(_spec(tmp_path))).specs[0].recommendation.choice
    auto = tokcost.analyze(str(_spec(tmp_path, demand__scaling="autoscaled"))).specs[0].recommendation.choice
    assert auto.monthly_usd == pytest.approx(auto.monthly_usd_autoscaled)
    assert auto.monthly_usd < fixed.monthly_usd
    assert auto.gpus == max(auto.replicas_hourly)


def test_a_flat_day_saves_nothing_by_autoscaling(tmp_path):
    path = _spec(tmp_path, demand__peak_to_mean=None, demand__hourly=[1.0] * 24)
    c = tokcost.analyze(str(path)).specs[0].recommendation.choice
    assert c.monthly_usd_autoscaled == pytest.approx(c.monthly_usd_fixed)
    assert len(set(c.replicas_hourly)) == 1


def test_min_replicas_floors_the_autoscaled_fleet(tmp_path):
    c = tokcost.analyze(str(_spec(tmp_path, demand__min_replicas=5))).specs[0].recommendation.choice
    assert min(c.replicas_hourly) == 5
    night = [0.0] * 6 + [1.0] * 18  # no demand at all for six hours
    for floor in (0, 2):
        path = _spec(tmp_path, demand__peak_to_mean=None, demand__hourly=night, demand__min_replicas=floor)
        c = tokcost.analyze(str(path)).specs[0].recommendation.choice
        assert c.replicas_hourly[:6] == [floor] * 6


def test_a_tight_budget_needs_more_headroom_than_a_loose_one(tmp_path):
    """Same batch, service and load: a budget near the service time forces lower utilisation (more replicas)."""
    rate, service, batch, timeout = 20.0, 1.0, 1.0, 0.0

    def replicas(limit):
        return fewest(
            lambda c, _: ~exceeds(limit, static_terms(rate, batch, service, c, timeout), 0.95), np.array([1.0])
        )[0]

    tight, loose = replicas(1.2), replicas(5.0)
    assert tight > loose > rate * service  # both below saturation, the tight one further
    assert utilization(rate, batch, service, tight) < utilization(rate, batch, service, loose)
    # the storefront on one GPU per replica under tighter budgets: the report says so exactly when the chosen
    # batch's service takes more than half of the budget
    said = []
    for budget in (3.0, 4.0, 5.0, 6.0, 10.0):
        spec = tokcost.analyze(str(_spec(tmp_path, candidates__gpus_per_replica=[1], budget__latency_s=budget)))
        rec = spec.specs[0].recommendation
        if rec.choice is None:  # too tight for any one-GPU replica: nothing to word
            continue
        headroom = any("of the budget, so the fleet keeps headroom" in r for r in advice.why(spec.specs[0]))
        assert headroom == (rec.choice.latency_s.central / budget > 0.5)
        said.append(headroom)
    assert len(said) >= 3 and any(said)


def test_a_higher_percentile_never_needs_fewer_replicas(tmp_path):
    """Of one replica size, a higher percentile never needs fewer replicas; over every size the planner may pick,
    it never costs less (each size's cost is monotone, so is their minimum)."""
    args = dict(candidates__models=["sdxl"], candidates__hardware=["h100-sxm"], candidates__engines=["compiled"])
    for sizes in ([1], [2], [1, 2, 4, 8]):
        replicas, cost = [], []
        for q in (50, 95, 99.9):
            spec = _spec(tmp_path, budget__latency_percentile=q, candidates__gpus_per_replica=sizes, **args)
            c = tokcost.analyze(str(spec)).specs[0].candidates[0]
            replicas.append(c.replicas_at_peak)
            cost.append(c.monthly_usd)
        assert cost == sorted(cost)
        if len(sizes) == 1:
            assert replicas == sorted(replicas)


def test_check_gates_the_percentile_latency():
    spec = tokcost.analyze(str(STOREFRONT)).specs[0]
    c = spec.recommendation.choice
    assert gated_latency(c, c) == (c.latency_objective_s, c.latency_objective_s)
    older = c.model_copy(update={"latency_objective_s": None})  # a baseline saved before the capacity model
    assert gated_latency(older, c) == (c.latency_s.central, c.latency_s.central)


def test_html_draws_the_load_and_day_charts(tmp_path):
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["analyze", str(STOREFRONT), "--format", "html", "--output", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "Latency under load" in html and "Demand over the day" in html
    assert "peak 6.94 requests/s" in html and "autoscaled replicas" in html
