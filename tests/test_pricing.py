"""Prices (issue #15): one stated basis for every chip, the user's own prices and owned hardware, the cost budgets
as part of feasibility, and bad pricing input named by position or flag."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tokcost import api
from tokcost.cli.app import app
from tokcost.core.pricing import STALE_AFTER_DAYS, owned_usd_per_gpu_hour, price_book
from tokcost.errors import InputError
from tokcost.io.catalog import Catalog
from tokcost.io.prices import load_prices
from tokcost.records.prices import Unpriced
from tokcost.records.spec import Owned, Pricing
from tokcost.render import advice
from tokcost.render.prices import basis_words, quote_source, stale_words, unpriced_words

ROOT = Path(__file__).resolve().parent.parent
CAT = Catalog.default()
PRICES = load_prices()
HARDWARE = CAT.all("hardware")
SPEC = yaml.safe_load((ROOT / "specs" / "storefront-images.yaml").read_text())
runner = CliRunner()


def _spec(**changes) -> dict:
    spec = json.loads(json.dumps(SPEC))
    for key, value in changes.items():
        spec[key] = {**spec.get(key, {}), **value}
    return spec


# ------------------------------------------------------------------------------------------------ the basis


def test_default_basis_is_the_lowest_datacentre_on_demand_price_for_every_chip():
    book = price_book(HARDWARE, PRICES)
    assert (book.basis.commitment, book.basis.provider, book.basis.owned) == ("on_demand", None, None)
    words = basis_words(book.basis)
    assert "on-demand" in words and "marketplaces" in words
    for hw in HARDWARE:
        offers = [
            e
            for e in PRICES.for_hardware(hw.id)
            if e.commitment == "on_demand" and PRICES.providers[e.provider].kind != "marketplace"
        ]
        q = book.quote(hw.id)
        if not offers:
            assert q is None and f"--price {hw.id}=" in unpriced_words(book.unpriced[hw.id])
            continue
        assert q is not None and q.usd_per_gpu_hour == min(e.usd_per_gpu_hour for e in offers), hw.id
        assert PRICES.providers[q.provider].kind != "marketplace"
        assert q.commitment == "on_demand" and q.date and q.source


def test_a_cheaper_marketplace_offer_is_not_taken_by_default():
    market = [e for e in PRICES.for_hardware("h100-sxm") if PRICES.providers[e.provider].kind == "marketplace"]
    q = price_book([CAT.hardware("h100-sxm")], PRICES).quote("h100-sxm")
    assert market and min(e.usd_per_gpu_hour for e in market) < q.usd_per_gpu_hour
    explicit = price_book([CAT.hardware("h100-sxm")], PRICES, Pricing(provider=market[0].provider))
    assert explicit.quote("h100-sxm").provider == market[0].provider


def test_one_provider_and_commitment_price_every_chip_or_say_how_to():
    book = price_book(HARDWARE, PRICES, Pricing(provider="aws"))
    assert book.quote("h100-sxm").usd_per_gpu_hour == PRICES.find("h100-sxm", "aws").usd_per_gpu_hour
    assert book.quote("h100-pcie") is None
    assert book.unpriced["h100-pcie"] == Unpriced(hardware="h100-pcie", commitment="on_demand", provider="aws")
    why = unpriced_words(book.unpriced["h100-pcie"])
    assert "not priced" in why and "at aws" in why
    assert "--price h100-pcie=USD_PER_GPU_HOUR" in why and "pricing.usd_per_gpu_hour" in why
    yearly = [(hw, e) for hw, es in PRICES.prices.items() for e in es if e.commitment == "1yr"]
    assert yearly
    hw, entry = yearly[0]
    q = price_book([CAT.hardware(hw)], PRICES, Pricing(provider=entry.provider, commitment="1yr")).quote(hw)
    assert (q.usd_per_gpu_hour, q.commitment) == (entry.usd_per_gpu_hour, "1yr")


def test_command_line_beats_spec_beats_owned_beats_catalogue():
    owned = Owned(capex_usd_per_gpu=30000, amortization_years=4, power_usd_per_kwh=0.1, pue=1.3)
    h100, a100, l4 = (CAT.hardware(i) for i in ("h100-sxm", "a100-80gb-sxm", "l4"))
    pricing = Pricing(usd_per_gpu_hour={"h100-sxm": 2.5, "a100-80gb-sxm": 1.2}, owned=owned)
    book = price_book([h100, a100, l4], PRICES, pricing, {"h100-sxm": 2.1})
    assert (book.quote("h100-sxm").usd_per_gpu_hour, book.quote("h100-sxm").source) == (2.1, "--price h100-sxm=2.1")
    assert book.quote("a100-80gb-sxm").usd_per_gpu_hour == 1.2
    assert book.quote("a100-80gb-sxm").provider == "user"
    assert book.quote("l4").provider == "owned"
    assert (book.basis.cli_prices, book.basis.spec_prices, book.basis.owned) == (
        ["h100-sxm"],
        ["h100-sxm", "a100-80gb-sxm"],
        [],
    )
    words = basis_words(book.basis)
    assert "(--price)" in words and "pricing.usd_per_gpu_hour" in words and "owned hardware (every candidate)" in words


def test_owned_hardware_costs_capex_plus_power_plus_hosting():
    # $30,000 over 4 years of 8,760 h, plus 700 W x PUE 1.3 x $0.10/kWh, plus $0.05 hosting
    owned = Owned(
        capex_usd_per_gpu=30000, amortization_years=4, power_usd_per_kwh=0.10, pue=1.3, hosting_usd_per_gpu_hour=0.05
    )
    h100 = CAT.hardware("h100-sxm")
    assert h100.tdp_w == 700
    expected = 30000 / (4 * 8760) + 0.7 * 1.3 * 0.10 + 0.05
    assert owned_usd_per_gpu_hour(owned, h100.tdp_w) == pytest.approx(expected)
    q = price_book([h100], PRICES, Pricing(owned=owned)).quote("h100-sxm")
    assert q.usd_per_gpu_hour == pytest.approx(expected) and q.commitment is None and q.date is None
    assert q.source == "pricing.owned" and (q.owned.tdp_w, q.owned.pue) == (700, 1.3)
    assert "700 W" in quote_source(q) and "PUE 1.3" in quote_source(q)
    # owned for one chip only: the others stay rented
    only = price_book([h100, CAT.hardware("l4")], PRICES, Pricing(owned=owned.model_copy(update={"hardware": ["l4"]})))
    assert only.quote("h100-sxm").provider != "owned" and only.quote("l4").provider == "owned"


def test_old_prices_get_a_note_and_recent_ones_do_not():
    book = price_book(HARDWARE, PRICES)
    for hw in book.quotes:
        read = dt.date.fromisoformat(book.quote(hw).date)
        assert book.stale([hw], read + dt.timedelta(days=STALE_AFTER_DAYS)) == []
        (old,) = book.stale([hw], read + dt.timedelta(days=STALE_AFTER_DAYS + 1))
        assert (old.hardware, old.date, old.months) == (hw, book.quote(hw).date, (STALE_AFTER_DAYS + 1) // 30)
        note = stale_words(old)
        assert hw in note and book.quote(hw).date in note and f"--price {hw}=" in note


# ------------------------------------------------------------------------------------------------ in the analysis


def test_every_candidate_carries_its_price_and_the_report_states_the_basis():
    spec = api.analyze(SPEC).specs[0]
    assert spec.pricing is not None and spec.pricing.basis.commitment == "on_demand"
    for c in spec.candidates:
        price = c.model_dump(mode="json")["price"]
        assert set(price) == {"usd_per_gpu_hour", "provider", "commitment", "date", "source", "owned"}
        if c.gpus is not None:  # None where no fleet meets the latency objective
            assert c.monthly_usd == pytest.approx(c.gpus * price["usd_per_gpu_hour"] * 730.0)
    md = api.analyze(SPEC)
    from tokcost.render.registry import render

    for fmt in ("table", "markdown"):
        text = render("analyze", fmt, md)
        assert "Price basis: on-demand" in text and "hyperstack" in text, fmt


def test_a_price_override_changes_the_fleet_cost_in_proportion():
    base = api.analyze(SPEC).specs[0].recommendation.choice
    cheaper = api.analyze(SPEC, prices={base.hardware: base.price.usd_per_gpu_hour / 2}).specs[0]
    same = next(
        c for c in cheaper.candidates if (c.model, c.hardware, c.engine) == (base.model, base.hardware, base.engine)
    )
    assert same.fleet_cost_usd_per_item == pytest.approx(base.fleet_cost_usd_per_item / 2)
    assert same.price.provider == "user"


def test_cost_budget_breach_is_infeasible_and_analyze_exits_1_with_its_report(tmp_path):
    spec = _spec(budget={"cost_per_item_usd": 1e-6})
    result = api.analyze(spec).specs[0]
    assert result.recommendation.choice is None
    over = [c for c in result.candidates if any(v.kind == "cost_per_item" for v in c.violations)]
    assert over and all(
        "exceeds the $0.000001 budget" in r for c in over for r in advice.reasons(c, result) if r.startswith("cost")
    )
    (v,) = result.violations
    assert v.limit == "cost_per_item_usd" and v.value > v.budget
    f = tmp_path / "spec.yaml"
    f.write_text(yaml.safe_dump(spec))
    out = tmp_path / "report.json"
    r = runner.invoke(app, ["analyze", str(f), "--format", "json", "--output", str(out)])
    assert r.exit_code == 1, r.output
    assert json.loads(out.read_text())["specs"][0]["violations"][0]["line"] > 0


def test_monthly_budget_breach_is_infeasible():
    result = api.analyze(_spec(budget={"monthly_usd": 100})).specs[0]
    assert result.recommendation.choice is None
    assert result.violations[0].limit == "monthly_usd"


def test_a_feasible_spec_exits_0():
    r = runner.invoke(app, ["analyze", str(ROOT / "specs" / "storefront-images.yaml"), "--format", "json"])
    assert r.exit_code == 0, r.output


def test_listed_unpriced_hardware_is_infeasible_with_the_fix():
    spec = _spec(candidates={"hardware": ["h100-pcie"]}, pricing={"provider": "aws"})
    result = api.analyze(spec).specs[0]
    assert result.recommendation.choice is None
    assert all(any("--price h100-pcie=" in r for r in advice.reasons(c, result)) for c in result.candidates)


def test_estimate_and_train_use_the_same_basis_and_overrides():
    default = price_book([CAT.hardware("h100-sxm")], PRICES).quote("h100-sxm")
    e = api.estimate(model="sdxl", hardware="h100-sxm")
    assert e.price == default and e.cost_usd_per_item == pytest.approx(
        default.usd_per_gpu_hour / 3600 / e.throughput_items_per_s
    )
    e2 = api.estimate(model="sdxl", hardware="h100-sxm", prices={"h100-sxm": 1.0})
    assert e2.cost_usd_per_item == pytest.approx(1.0 / 3600 / e2.throughput_items_per_s)
    t = api.train(model="emu3-gen", hardware="h100-sxm", tokens=1e9, prices={"h100-sxm": 2.0})
    assert t.cost_usd == pytest.approx(t.gpu_hours * 2.0) and t.price.provider == "user"
    assert api.train(model="emu3-gen", hardware="h100-sxm", tokens=1e9).price == default


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "flag, words",
    [
        ("h100-sxm", "expected ID=USD_PER_GPU_HOUR"),
        ("=2", "expected ID=USD_PER_GPU_HOUR"),
        ("h100-sxm=nan", "plain number"),
        ("h100-sxm=inf", "plain number"),
        ("h100-sxm=-1", "plain number"),
        ("h100-sxm=0", "above 0"),
        ("h100-sxm=5000", "at most 1000"),
        ("h100-sxn=2", "unknown hardware id 'h100-sxn'; did you mean h100-sxm?"),
    ],
)
def test_bad_price_flag_is_exit_2_naming_the_flag(flag, words):
    for cmd in (
        ["estimate", "--model", "sdxl", "--hardware", "h100-sxm"],
        ["analyze", str(ROOT / "specs" / "storefront-images.yaml")],
        ["check", str(ROOT / "specs" / "storefront-images.yaml")],
    ):
        r = runner.invoke(app, [*cmd, "--price", flag])
        assert r.exit_code == 2, (cmd, r.output)
        assert "error: --price:" in r.output and words in r.output, (cmd, r.output)
        assert "Traceback" not in r.output


def test_a_price_given_twice_is_refused():
    r = runner.invoke(
        app, ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--price", "h100-sxm=2", "--price", "h100-sxm=3"]
    )
    assert r.exit_code == 2 and "priced twice" in r.output


def test_api_prices_are_checked():
    with pytest.raises(InputError) as exc:
        api.analyze(SPEC, prices={"h100-sxm": float("nan"), "nope": 1.0})
    fields = [(p.field, p.message) for p in exc.value.problems]
    assert ("price", "h100-sxm=nan: the price must be a finite number") in fields
    assert any("unknown hardware id 'nope'" in m for _, m in fields)
