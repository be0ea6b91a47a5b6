"""How long loading one chip's kernel tables takes (the budget: 30 ms), and one vectorised interpolation.

    python benchmarks/kernel_tables.py

numpy is imported first, as every estimate has it already; each chip is loaded with the loader's cache cleared
before each try, best of 5."""

from __future__ import annotations

import time

import numpy as np

from tokcost.engine.kernels import latency_s
from tokcost.io.kernel_tables import available_chips, load_chip

BUDGET_MS = 30.0


def best_ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return min(times)


def main() -> None:
    for chip in available_chips():

        def load(chip=chip):
            load_chip.cache_clear()
            load_chip(chip)

        ms = best_ms(load)
        gemm = load_chip(chip).tables["gemm.bfloat16"]
        shapes = np.geomspace(1, 65536, 10_000)
        interp = best_ms(lambda gemm=gemm, shapes=shapes: latency_s(gemm, m=shapes, n=4096, k=4096))
        flag = "ok" if ms <= BUDGET_MS else f"OVER the {BUDGET_MS:.0f} ms budget"
        print(f"{chip:22s} load {ms:6.1f} ms ({flag}); 10,000 GEMM shapes interpolated in {interp:5.1f} ms")


if __name__ == "__main__":
    main()
