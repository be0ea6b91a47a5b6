"""The runs scored unseen and left out of the validation set (tokcost/data/validation/unentered/, docs/validation.md
rounds 15 on) stay a usable record: each file loads in the validation set's format, each run has its source and
quote, shares no id with the set (a run is either fitted or a hold-out, never both), and is priced or refused with a
reason. That the sources are public is tests/test_sources.py's check, as for all the shipped data."""

import math

import pytest

from tokcost import api
from tokcost.io.measurements import load_entries
from tokcost.io.paths import DATA_DIR, MEASUREMENTS_FILE

FILES = sorted((DATA_DIR / "validation" / "unentered").glob("round*.yaml"))


def test_there_are_rounds_to_check():
    # one file per round from round 15 on, less rounds 19-23, entered whole (docs/validation.md, "Entering rounds
    # 19-23"): a round file that goes missing otherwise is a record lost
    rounds = sorted(int(p.stem.removeprefix("round")) for p in FILES)
    entered = set(range(19, 24))
    assert rounds == [r for r in range(15, max(rounds) + 1) if r not in entered] and len(rounds) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_round_loads_and_is_disjoint_from_the_set(path):
    entries = load_entries(path)
    assert entries
    fitted = {e.id for e in load_entries(MEASUREMENTS_FILE)}
    assert not fitted & {e.id for e in entries}
    for e in entries:
        assert e.source and e.quote, e.id


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_unentered_run_is_priced(path):
    result = api.validate(measurements=path, in_sample_only=True, cache=False)
    rows = result.model_dump()["entries"]
    assert len(rows) == len(load_entries(path))
    # priced, or refused with the reason a user would get (a two-T4 replica: the T4 preset has no scale-up link)
    unpriced = [r["id"] for r in rows if r.get("ratio") is None and not (r.get("reason") or {}).get("detail")]
    assert not unpriced, unpriced


def test_the_unentered_score_summarises_its_rows():
    """scripts/score_unentered.py: relative errors and worst factor over the scored rows, a throughput's error
    inverted to a latency's before the band test; a training row (no band) counts in the errors only, an unpriced row
    not at all."""
    from types import SimpleNamespace

    from score_unentered import summarise

    band = SimpleNamespace(low=-0.2, high=0.3)
    # validate rows: ratio = predicted / measured, rel_err = |ratio - 1|
    rows = [
        # ln(measured/predicted) = -0.095: in
        {"id": "a", "family": "ar", "metric": "latency_s", "ratio": 1.1, "rel_err": 0.1},
        # +0.69: out, the worst at 2x
        {"id": "b", "family": "ar", "metric": "latency_s", "ratio": 0.5, "rel_err": 0.5},
        # a rate: its latency's ln = ln 0.8 = -0.22: out
        {"id": "c", "family": "ar", "metric": "tokens_per_s", "ratio": 0.8, "rel_err": 0.2},
        # no band
        {"id": "d", "family": "training", "metric": "gpu_hours", "ratio": 1.0, "rel_err": 0.0},
        # not priced
        {"id": "e", "family": "ar", "metric": "latency_s", "ratio": None},
    ]
    s = summarise(rows, lambda family: band)
    assert s["n"] == 4 and s["banded"] == 3 and s["worst_id"] == "b"
    assert s["median_rel_err"] == pytest.approx(0.15) and s["mean_rel_err"] == pytest.approx(0.2)
    assert s["worst_factor"] == pytest.approx(2.0) and s["band_coverage"] == pytest.approx(1 / 3)
    assert s["median_band_width"] == pytest.approx(math.exp(0.5))
    # the bias over the banded runs: ln(measured / predicted latency) -0.095, +0.69 and -0.22; one slower than priced
    assert s["median_log_err"] == pytest.approx(-math.log(1.1)) and s["share_slower"] == pytest.approx(1 / 3)
    assert summarise([rows[-1]], lambda family: band) == {"n": 0}


def test_the_unentered_score_covers_every_round():
    from score_unentered import round_files, score

    result = score()
    assert list(result) == [p.stem for p in round_files()] + ["all", "inference"]
    assert result["all"]["n"] == sum(s["n"] for name, s in result.items() if name.startswith("round"))
    assert 0 < result["inference"]["n"] < result["all"]["n"]  # round 27's training runs
    assert 0.0 <= result["inference"]["band_coverage"] <= 1.0
