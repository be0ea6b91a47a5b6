"""Recorded and bursty traffic in a spec (issue 30): demand.trace read and derived, its bad rows at
file:line:col, the demand fields' checks, and budget.redundancy."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.core.simulate import renewal_arrivals
from tokcost.io.trace import derive, load_trace
from tokcost.render import advice

ROOT = Path(__file__).resolve().parents[1]
STOREFRONT = ROOT / "specs" / "storefront-images.yaml"


def _spec(tmp_path: Path, demand: dict | None = None, budget: dict | None = None, name="spec.yaml") -> Path:
    doc = yaml.safe_load(STOREFRONT.read_text())
    if demand is not None:
        doc["demand"] = demand
    doc["budget"] |= budget or {}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _write_trace(path: Path, rates, scv=1.0, seed=0) -> np.ndarray:
    times = renewal_arrivals(np.asarray(rates, dtype=float), scv, np.random.default_rng(seed))
    path.write_text("timestamp,frames\n" + "\n".join(f"{t:.4f},{1 + i % 3}" for i, t in enumerate(times)) + "\n")
    return times


def test_a_trace_gives_the_rate_the_curve_and_the_burstiness(tmp_path):
    rates = [0.2 + 0.1 * h for h in range(24)] * 2  # two days, the busiest hour last
    times = _write_trace(tmp_path / "t.csv", rates, scv=3.0)
    found = derive(load_trace(tmp_path / "t.csv"))
    assert found.requests == len(times) and found.hours_observed == 48
    assert found.requests_per_day == pytest.approx(len(times) / 2)
    assert found.peak_per_s == pytest.approx(2.5, rel=0.1)
    assert int(np.argmax(found.hourly)) == 23
    assert found.burstiness == pytest.approx(3.0, rel=0.15)
    assert found.sizes["frames"][0] == pytest.approx(2.0, rel=0.01)


def test_a_poisson_trace_has_burstiness_near_one(tmp_path):
    _write_trace(tmp_path / "t.csv", [3.0] * 6)
    found = derive(load_trace(tmp_path / "t.csv"))
    assert found.burstiness == pytest.approx(1.0, abs=0.08)
    assert len(found.unobserved_hours) == 18  # six hours of a day observed; the others get the mean


def test_the_spec_trace_is_relative_to_the_spec_and_reported(tmp_path):
    folder = tmp_path / "product"
    folder.mkdir()
    _write_trace(folder / "requests.csv", [1.0] * 24, scv=2.0)
    path = _spec(folder, demand={"trace": "requests.csv", "scaling": "fixed"})
    spec = tokcost.analyze(str(path)).specs[0]
    assert spec.traffic is not None and spec.traffic.file == "requests.csv"
    assert spec.demand["arrivals"] == "bursty" and spec.demand["burstiness"] == pytest.approx(2.0, rel=0.15)
    assert spec.demand["requests_per_day"] == pytest.approx(86400, rel=0.05)
    r = CliRunner().invoke(app, ["analyze", str(path)])
    assert "derived from requests.csv" in r.stdout.replace("\n", " ")


def test_malformed_rows_exit_2_with_every_problem_at_its_position(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "bad.csv").write_text(
        "timestamp,prompt_tokens\n"
        "0.5,12\n"
        "soon,12\n"  # line 3: not a time
        "1.5,-4\n"  # line 4: a negative size, column 5
        "2.5\n"  # line 5: a missing field
        "-1,3\n"  # line 6: a negative time
    )
    path = _spec(folder, demand={"trace": "bad.csv"})
    r = CliRunner().invoke(app, ["analyze", str(path)])
    assert r.exit_code == 2
    trace = str(folder / "bad.csv")
    for where in (f"{trace}:3:1: timestamp:", f"{trace}:4:5: prompt_tokens:", f"{trace}:5:1: (row):", f"{trace}:6:1:"):
        assert where in r.output, r.output
    assert "Traceback" not in r.output


def test_simulate_with_a_malformed_trace_is_exit_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,answer_tokens\n1.0,12\n2.0,twelve\n")
    r = CliRunner().invoke(app, ["simulate", str(STOREFRONT), "--trace", str(bad)])
    assert r.exit_code == 2 and f"{bad}:3:5: answer_tokens:" in r.output, r.output


def test_a_missing_trace_is_exit_2(tmp_path):
    r = CliRunner().invoke(app, ["analyze", str(_spec(tmp_path, demand={"trace": "nowhere.csv"}))])
    assert r.exit_code == 2 and "nowhere.csv" in r.output


@pytest.mark.parametrize(
    ("demand", "field", "message"),
    [
        ({"requests_per_day": 1000, "arrivals": "bursty", "burstiness": 0}, "demand.burstiness", "greater than 0"),
        ({"requests_per_day": 1000, "arrivals": "bursty", "burstiness": -2}, "demand.burstiness", "greater than 0"),
        ({"requests_per_day": 1000, "arrivals": "bursty"}, "demand.arrivals", "need demand.burstiness"),
        ({"requests_per_day": 1000, "burstiness": 2}, "demand.burstiness", "needs arrivals: bursty"),
        ({"requests_per_day": 1000, "arrivals": "spiky"}, "demand.arrivals", "poisson"),
        ({"scaling": "fixed"}, "demand", "requests_per_day"),
        ({"trace": "t.csv", "requests_per_day": 5}, "demand.requests_per_day", "derived from demand.trace"),
    ],
)
def test_demand_fields_are_checked_with_positions(tmp_path, demand, field, message):
    path = _spec(tmp_path, demand=demand)
    r = CliRunner().invoke(app, ["analyze", str(path)])
    assert r.exit_code == 2, r.output
    line = next(x for x in r.output.splitlines() if f": {field}: " in x)
    assert line.startswith(f"{path}:") and message in line, r.output


def test_n_plus_1_keeps_the_percentile_with_one_replica_down(tmp_path):
    base = tokcost.analyze(str(_spec(tmp_path))).specs[0].recommendation.choice
    spare = tokcost.analyze(str(_spec(tmp_path, budget={"redundancy": "n+1"}, name="n1.yaml"))).specs[0]
    choice = spare.recommendation.choice
    assert (choice.model, choice.hardware) == (base.model, base.hardware)
    assert choice.replicas_at_peak == base.replicas_at_peak + 1
    assert choice.latency_objective_s <= base.latency_objective_s  # one more replica: no slower
    assert spare.recommendation.fleet_risk.redundancy == "n+1"
    assert any("n+1" in r and "one replica down" in r for r in advice.why(spare))


def test_a_lone_hot_replica_is_called_out(tmp_path):
    """One replica serving the peak above 85% utilisation with no spare: the report says so; with n+1 it does
    not (it has its spare)."""
    budget = {"latency_s": 60}
    models = {"models": ["sdxl"], "hardware": ["h100-sxm"], "gpus_per_replica": [1]}
    doc = yaml.safe_load(STOREFRONT.read_text())
    doc["budget"], doc["candidates"] = budget, models

    def analyzed(requests_per_day, redundancy):
        doc["demand"] = {"requests_per_day": requests_per_day, "peak_to_mean": 3.0}
        doc["budget"]["redundancy"] = redundancy
        path = tmp_path / f"{redundancy}-{requests_per_day}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return tokcost.analyze(str(path)).specs[0]

    # the busiest day one replica still serves, whatever the engine's fitted speed: the premise of the check
    def hot(spec):
        choice = spec.recommendation.choice
        return choice is not None and choice.replicas_at_peak == 1 and choice.utilization_at_peak > 0.85

    day = next((d for d in range(20_000, 4_000, -1_000) if hot(analyzed(d, "none"))), None)
    assert day is not None, "no demand level puts one replica above 85% utilisation"
    said = []
    for redundancy in ("none", "n+1"):
        spec = analyzed(day, redundancy)
        rec = spec.recommendation
        assert rec.fleet_risk.lone_hot_replica == (redundancy == "none")
        said.append(any("no spare" in r for r in advice.why(spec)))
        if redundancy == "none":
            assert rec.choice.replicas_at_peak == 1 and rec.choice.utilization_at_peak > 0.85
    assert said == [True, False]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("timestamp\n0\n1e300\n", 3, "seconds must be a number from 0 to"),
        ("timestamp\n0\n31708800\n", 3, "more than 8,784"),  # 367 days apart: past a year of clock hours
        ("timestamp\n2024-01-01T00:00:00\n9999-12-31T23:59:59\n", 3, "more than 8,784"),
        ('timestamp,note\n0,"' + "x" * 200_000 + '"\n', 2, "not readable as CSV"),
        ('timestamp,note\n0,"abc\n1,d\n', 2, "not readable as CSV"),  # a quote never closed
        ("timestamp,timestamp\n0,1\n", 1, "a second column of that name"),
        ("timestamp\n1\n2024-01-01T00:00:00\n", 3, "use one form"),
        ("timestamp\n0001-01-01T00:00:00+05:00\n", 2, "outside years 1 to 9999"),
    ],
    ids=[
        "huge-seconds",
        "over-a-year",
        "iso-over-a-year",
        "huge-field",
        "open-quote",
        "two-timestamps",
        "mixed",
        "before-year-1",
    ],
)
def test_a_hostile_trace_is_exit_2_at_its_line(tmp_path, text, where, message):
    # each once a traceback, a hang or a silent loss of rows (a 2-line file asking for gigabytes of hourly counts)
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    r = CliRunner().invoke(app, ["simulate", str(STOREFRONT), "--trace", str(bad)])
    assert r.exit_code == 2, r.output
    assert f"{bad}:{where}:" in r.output and message in r.output, r.output


def test_a_quoted_newline_keeps_the_line_numbers_of_the_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('timestamp,note\n0,"two\nlines"\n1,x\nbad,y\n')  # the bad time is on line 5
    with pytest.raises(tokcost.InputError) as info:
        load_trace(bad)
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (5, "timestamp")


def test_utc_offsets_name_instants(tmp_path):
    # the same wall-clock time at +14:00 and -12:00 is 26 hours apart: 27 clock hours observed
    path = tmp_path / "t.csv"
    path.write_text("timestamp\n2024-01-01T00:00:00+14:00\n2024-01-01T00:00:00-12:00\n")
    trace = load_trace(path)
    assert trace.times_s == [0.0, 26 * 3600.0] and trace.first_hour_of_day == 0  # the first request's own hour
    assert derive(trace).hours_observed == 27


def test_a_request_on_the_hour_at_the_end_of_a_long_trace_is_replayed(tmp_path):
    # the last clock hour was computed as ceil(t / 3600 + 1e-12), which float rounding let fall on t itself past
    # 8,192 hours, dropping the last request
    path = tmp_path / "t.csv"
    path.write_text(f"timestamp\n0\n{8000 * 3600}\n")
    r = CliRunner().invoke(app, ["simulate", str(STOREFRONT), "--trace", str(path)])
    assert r.exit_code == 0, r.output
    assert "2 requests over 8001 hours" in r.output.replace(",", ""), r.output


def test_an_unreadable_trace_is_reported_at_the_spec_field(tmp_path):
    path = _spec(tmp_path, demand={"trace": "nowhere.csv"})
    r = CliRunner().invoke(app, ["analyze", str(path)])
    assert r.exit_code == 2
    line = next(x for x in r.output.splitlines() if ": demand.trace: " in x)
    assert line.startswith(f"{path}:") and not line.startswith(f"{path}:0:") and "nowhere.csv" in line, r.output
