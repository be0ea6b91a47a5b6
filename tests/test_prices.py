"""The rental price catalogue (tokcost/data/prices/prices.yaml): it loads, names only known hardware, dates and cites every
price, keeps one entry per (hardware, provider, commitment), and reports bad input with its position."""

import datetime as dt
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tokcost.errors import InputError
from tokcost.io.paths import DATA_DIR
from tokcost.io.prices import default_prices_file, load_prices
from tokcost.records.prices import COMMITMENTS, PriceCatalog, PriceEntry

ROOT = Path(__file__).resolve().parent.parent
HARDWARE_IDS = {p.stem for p in (DATA_DIR / "hardware").glob("*.yaml")}
CAT = load_prices()
ENTRIES = [(hw, e) for hw, entries in CAT.prices.items() for e in entries]


def test_builtin_catalogue_is_the_checkout_file():
    assert default_prices_file() == DATA_DIR / "prices" / "prices.yaml"
    assert default_prices_file().is_file()
    assert load_prices(default_prices_file()) == CAT


def test_catalogue_names_only_known_hardware_and_prices_most_of_it():
    assert set(CAT.prices) <= HARDWARE_IDS, set(CAT.prices) - HARDWARE_IDS
    # every preset today has at least one public price; a new preset without one is allowed ("not priced")
    assert len(CAT.prices) >= 12
    assert len(ENTRIES) >= 60


def test_every_entry_is_dated_and_publicly_sourced():
    for hw, e in ENTRIES:
        assert dt.date.fromisoformat(e.date) >= dt.date(2025, 1, 1), (hw, e.provider, e.date)  # no stale readings
        assert re.search(r"https?://\S+\.\S+", e.source), (hw, e.provider, "source has no public URL")
        assert "shared/" not in e.source and "facts/" not in e.source


def test_prices_are_positive_finite_per_gpu_hour():
    for hw, e in ENTRIES:
        assert math.isfinite(e.usd_per_gpu_hour) and 0 < e.usd_per_gpu_hour < 50, (hw, e)
        assert e.commitment in COMMITMENTS


def test_one_entry_per_hardware_provider_commitment():
    counts = Counter((hw, e.provider, e.commitment) for hw, e in ENTRIES)
    assert [k for k, n in counts.items() if n > 1] == []


def test_instance_prices_say_how_they_became_per_gpu():
    """An entry for a multi-GPU instance ('p5.48xlarge (8 x H100 SXM)') shows the division by its GPU count, unless
    its source already quotes per GPU-hour."""
    checked = 0
    for hw, e in ENTRIES:
        m = re.search(r"\((\d+) x ", e.product or "")
        if m and int(m.group(1)) > 1:
            checked += 1
            derivation = e.derivation or ""
            assert f"/ {m.group(1)} GPUs" in derivation or "per GPU-hour" in derivation, (hw, e.provider, e.commitment)
    assert checked >= 15


def test_lookup_helpers():
    aws = CAT.find("h100-sxm", "aws")
    assert aws is not None and aws.usd_per_gpu_hour == 6.88 and aws.date == "2026-01-21"
    assert CAT.find("h100-sxm", "aws", "3yr") is None
    assert CAT.for_hardware("no-such-gpu") == ()


def test_prices_live_only_in_the_catalogue():
    """One home for prices: no hardware preset carries one, and every provider of an entry is described."""
    for f in sorted((DATA_DIR / "hardware").glob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        assert "price" not in data and "price" not in data.get("sources", {}), f.name
    used = {e.provider for entries in CAT.prices.values() for e in entries}
    assert used <= set(CAT.providers)
    assert {p.kind for p in CAT.providers.values()} == {"hyperscaler", "gpu_cloud", "marketplace"}


# ------------------------------------------------------------------------------------------------ bad input

GOOD_ENTRY = """\
    - provider: aws
      commitment: on_demand
      usd_per_gpu_hour: 6.88
      date: "2026-01-21"
      source: "https://aws.amazon.com/ec2/pricing/on-demand/"
"""


def _write(tmp_path, body: str, entries: str = GOOD_ENTRY) -> Path:
    f = tmp_path / "prices.yaml"
    f.write_text("schema_version: 1\ncurrency: USD\nprices:\n  h100-sxm:\n" + entries + body + PROVIDERS)
    return f


PROVIDERS = "providers:\n  aws: {name: Amazon Web Services, kind: hyperscaler, url: 'https://aws.amazon.com'}\n"


def test_a_provider_must_be_described(tmp_path):
    f = _write(tmp_path, "", GOOD_ENTRY.replace("provider: aws", "provider: newcloud"))
    problems = _problems(f)
    assert any("provider 'newcloud' is not listed under providers" in p for p in problems), problems


def _problems(path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_prices(path)
    return [str(p) for p in exc.value.problems]


def test_minimal_catalogue_loads(tmp_path):
    cat = load_prices(_write(tmp_path, ""))
    assert isinstance(cat, PriceCatalog)
    assert cat.prices["h100-sxm"][0] == PriceEntry(
        provider="aws",
        commitment="on_demand",
        usd_per_gpu_hour=6.88,
        date="2026-01-21",
        source="https://aws.amazon.com/ec2/pricing/on-demand/",
    )


def test_duplicate_offer_is_refused_with_its_position(tmp_path):
    f = _write(tmp_path, GOOD_ENTRY.replace("6.88", "7.00"))
    (msg,) = _problems(f)
    assert msg.startswith(f"{f}:5:") and "prices.h100-sxm:" in msg
    assert "[0] and [1]" in msg and "'aws'" in msg and "'on_demand'" in msg


@pytest.mark.parametrize(
    "old, new, field, words",
    [
        ("usd_per_gpu_hour: 6.88", "usd_per_gpu_hour: -1", "usd_per_gpu_hour", "greater than 0"),
        ("usd_per_gpu_hour: 6.88", "usd_per_gpu_hour: 0", "usd_per_gpu_hour", "greater than 0"),
        ("usd_per_gpu_hour: 6.88", "usd_per_gpu_hour: .inf", "usd_per_gpu_hour", "finite"),
        ("usd_per_gpu_hour: 6.88", "usd_per_gpu_hour: .nan", "usd_per_gpu_hour", "finite"),
        ("usd_per_gpu_hour: 6.88", "usd_per_gpu_hour: true", "usd_per_gpu_hour", "must be a number, not true"),
        ("usd_per_gpu_hour: 6.88", 'usd_per_gpu_hour: "six"', "usd_per_gpu_hour", "valid number"),
        ("usd_per_gpu_hour: 6.88", "usd_per_gpu_hour: 6880", "usd_per_gpu_hour", "less than or equal"),
        ("commitment: on_demand", "commitment: monthly", "commitment", "'on_demand', '1yr', '3yr' or 'spot'"),
        ('date: "2026-01-21"', 'date: "2026-01"', "date", "pattern"),
        ('date: "2026-01-21"', 'date: "2026-02-30"', "date", "not a calendar date"),
        ('source: "https://aws.amazon.com/ec2/pricing/on-demand/"', 'source: ""', "source", "at least 1 character"),
        ('source: "https://aws.amazon.com/ec2/pricing/on-demand/"', 'source: "   "', "source", "blank"),
        ("provider: aws", "provider: AWS", "provider", "pattern"),
        ("provider: aws", "provider: amazon web services", "provider", "pattern"),
        ("provider: aws", "provder: aws", "provder", "unknown field; did you mean provider?"),
        ("date:", "dated:", "dated", "unknown field; did you mean date?"),
    ],
)
def test_bad_entry_is_reported_as_file_line_col_field_message(tmp_path, old, new, field, words):
    f = _write(tmp_path, "", GOOD_ENTRY.replace(old, new))
    problems = _problems(f)
    line = 5 + next(i for i, ln in enumerate(GOOD_ENTRY.splitlines()) if old.split(":")[0] in ln)
    want = re.compile(rf"^{re.escape(str(f))}:{line}:\d+: prices\.h100-sxm\[0\]\.{field}: .*{re.escape(words)}")
    assert any(want.search(p) for p in problems), problems


def test_missing_required_field_and_bad_hardware_id(tmp_path):
    f = _write(tmp_path, "  H100_SXM:\n" + GOOD_ENTRY, GOOD_ENTRY.replace('      date: "2026-01-21"\n', ""))
    problems = _problems(f)
    assert any(": prices.h100-sxm[0].date: required field is missing" in p for p in problems), problems
    assert any(": prices.H100_SXM" in p and "pattern" in p for p in problems), problems


def test_wrong_version_or_currency(tmp_path):
    f = tmp_path / "prices.yaml"
    f.write_text("schema_version: 2\ncurrency: EUR\nprices: {}\n")
    problems = _problems(f)
    assert any(p.startswith(f"{f}:1:17: schema_version:") for p in problems), problems
    assert any(p.startswith(f"{f}:2:11: currency:") for p in problems), problems


def test_records_are_frozen():
    e = CAT.prices["h100-sxm"][0]
    with pytest.raises(ValidationError, match="frozen"):
        e.usd_per_gpu_hour = 1.0
