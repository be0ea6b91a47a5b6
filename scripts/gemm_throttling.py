"""How much of its burst GEMM rate each chip's measured table keeps in its long GEMMs: the evidence behind the
"Sustained clocks" experiment in docs/validation.md (tried, not adopted; nothing in the planner reads this).

    python scripts/gemm_throttling.py

aiconfigurator's collector times each GEMM for tens of milliseconds at most (3 warm-up and 6 timed replays of a
CUDA graph of 6 GEMMs: ai-dynamo/aiconfigurator collector/vllm/collect_gemm.py). A chip whose power limit holds its
clock gets faster per FLOP as m grows; one that throttles gets slower once a GEMM runs long enough for the limit to
bite. For every (n, k) of the chip's 16-bit table (tokcost/data/generated/kernels) that has GEMMs timed at least
THROTTLED_S, this takes the median throughput of those over the fastest at any m, and prints the median over (n, k)
with its quartiles.
"""

from __future__ import annotations

import itertools

import numpy as np

from tokcost.io.kernel_tables import available_chips, load_chip
from tokcost.records.kernels import KernelTable

THROTTLED_S = 2e-3  # a GEMM timed this long ran ~100 ms in the collector's loop: long enough to throttle
TABLE = "gemm.bfloat16"


def long_over_fastest(latency: np.ndarray, m: np.ndarray, n: np.ndarray, k: np.ndarray) -> list[float]:
    """Per (n, k) with GEMMs timed at least THROTTLED_S: their median throughput over the (n, k)'s fastest.
    ``latency`` is indexed (m, n, k), NaN where unmeasured."""
    rate = 2.0 * m[:, None, None] * n[None, :, None] * k[None, None, :] / latency
    shares = []
    for j, i in itertools.product(range(len(n)), range(len(k))):
        seconds, column = latency[:, j, i], rate[:, j, i]
        long = np.isfinite(seconds) & (seconds >= THROTTLED_S)
        if long.any():
            shares.append(float(np.median(column[long]) / np.nanmax(column)))
    return shares


def table_shares(table: KernelTable) -> list[float]:
    """:func:`long_over_fastest` of a shipped (m, n, k) GEMM table, whatever the order of its axes."""
    order = [table.axes.index(a) for a in ("m", "n", "k")]
    latency = np.transpose(table.latency_s.astype(float), order)
    return long_over_fastest(latency, *(table.grid[i] for i in order))


def main() -> None:
    print(f"{'chip':22s} {'device':48s} {'(n, k)':>6s} {'median':>7s} {'q25':>6s} {'q75':>6s}")
    for chip in available_chips():
        kernels = load_chip(chip)
        table = kernels.tables.get(TABLE)
        if table is None:
            continue
        shares = table_shares(table)
        if not shares:
            print(f"{chip:22s} {kernels.device:48s} no GEMM timed >= {THROTTLED_S * 1e3:g} ms")
            continue
        q25, q50, q75 = np.quantile(shares, [0.25, 0.5, 0.75])
        print(f"{chip:22s} {kernels.device:48s} {len(shares):6d} {q50:7.3f} {q25:6.3f} {q75:6.3f}")


if __name__ == "__main__":
    main()
