"""The runs scored unseen and left out of the validation set (tokcost/data/validation/unentered/, docs/validation.md
rounds 15 on) stay a usable record: each file loads in the validation set's format, each run has its source and
quote, shares no id with the set (a run is either fitted or a hold-out, never both), and is priced or refused with a
reason. That the sources are public is tests/test_sources.py's check, as for all the shipped data."""

import pytest

from tokcost import api
from tokcost.io.measurements import load_entries
from tokcost.io.paths import DATA_DIR, MEASUREMENTS_FILE

FILES = sorted((DATA_DIR / "validation" / "unentered").glob("round*.yaml"))


def test_there_are_rounds_to_check():
    # one file per round, from round 15 on, none missing (rounds 15-22 at least)
    rounds = sorted(int(p.stem.removeprefix("round")) for p in FILES)
    assert rounds == list(range(15, 15 + len(rounds))) and len(rounds) >= 8


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
