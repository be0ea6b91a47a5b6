"""The formation-wait tables shipped in tokcost/core/formation_wait.py are exactly what tokcost.core.capacity
computes: regenerating them (scripts/generate_formation_wait.py) gives the committed file, and the planner's
lookups return the computed values bit for bit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tokcost.core import capacity, formation_wait
from tokcost.core.fleet import BATCHES, TIMEOUT_FILL_QUANTILE

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location(
        "generate_formation_wait", ROOT / "scripts/generate_formation_wait.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_the_tables_gives_the_committed_file():
    script = _script()
    assert script.TARGET.read_text() == script.render(), "stale: run python scripts/generate_formation_wait.py"


def test_the_tables_cover_the_planners_batches_and_match_the_computation():
    assert sorted(formation_wait.FILL_QUANTILES) == [int(b) for b in BATCHES]
    for b in (2, 16, 256):
        shipped = capacity._fill_quantiles(b)
        np.testing.assert_array_equal(shipped, capacity.compute_fill_quantiles(b))
        assert len(shipped) == capacity.FILL_POINTS and np.all(np.diff(shipped) >= 0)
        assert capacity._gamma_quantile(b - 1, TIMEOUT_FILL_QUANTILE) == capacity.compute_gamma_quantile(
            b - 1, TIMEOUT_FILL_QUANTILE
        )


def test_a_batch_outside_the_tables_is_computed():
    assert 3 not in formation_wait.FILL_QUANTILES
    np.testing.assert_array_equal(capacity._fill_quantiles(3), capacity.compute_fill_quantiles(3))
