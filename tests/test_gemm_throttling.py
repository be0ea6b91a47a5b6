"""scripts/gemm_throttling.py, the evidence for docs/validation.md's "Sustained clocks" experiment: a table whose
long GEMMs keep their rate scores near 1, one whose long GEMMs slow down scores lower, and the shipped tables rank
the A100 (whose power limit holds its clock) above the H100 and B200, as the documentation says."""

import importlib.util

import numpy as np

from tokcost.io.kernel_tables import load_chip
from tokcost.io.paths import PACKAGE_DIR

_spec = importlib.util.spec_from_file_location("gemm_throttling", PACKAGE_DIR.parent / "scripts" / "gemm_throttling.py")
throttling = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(throttling)

M = 2.0 ** np.arange(8, 17)
N = K = np.array([4096.0, 8192.0])


def _latency(rate_of_m):
    flops = 2.0 * M[:, None, None] * N[None, :, None] * K[None, None, :]
    return flops / rate_of_m(M)[:, None, None]


def test_a_table_that_holds_its_rate_scores_near_one_and_a_throttled_one_lower():
    holding = throttling.long_over_fastest(_latency(lambda m: 800e12 * m / (m + 256.0)), M, N, K)
    throttled = throttling.long_over_fastest(_latency(lambda m: 800e12 * np.where(m > 4096, 0.8, 1.0)), M, N, K)
    assert holding and throttled
    assert min(holding) > 0.97
    assert max(throttled) <= 0.8 + 1e-9


def test_the_shipped_tables_rank_the_a100_above_the_hopper_and_blackwell_parts():
    def score(chip):
        return float(np.median(throttling.table_shares(load_chip(chip).tables[throttling.TABLE])))

    assert score("a100_sxm") > 0.95 > score("h100_sxm")
    assert score("a100_sxm") > score("b200_sxm")
