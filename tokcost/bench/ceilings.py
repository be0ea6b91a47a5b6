"""The two ceilings every kernel of a decode step is measured against, on the same device and dtype:

- copy: ``dst.copy_(src)`` of a large buffer; bytes moved = bytes read + bytes written = 2 x buffer size.
- matmul: ``a @ b`` of two square matrices; FLOPs = 2 n^3. n is 8,192 on a GPU; on a CPU it is sized to the
  device: a 256 x 256 probe sets n so that one product takes about a tenth of a second, at most 2,048 (a CPU
  without native bf16 kernels runs a bf16 product a hundred times slower than fp32: a fixed 2,048 would take a
  minute a call there).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tokcost.bench.decoder import DTYPES
from tokcost.bench.timing import time_call


@dataclass(frozen=True)
class Ceilings:
    copy_gbps: float  # bytes read + written per second / 1e9
    matmul_tflops: float
    copy_bytes: int
    matmul_n: int

    def to_dict(self) -> dict:
        return {
            "copy_gbps": self.copy_gbps,
            "matmul_tflops": self.matmul_tflops,
            "copy_buffer_bytes": self.copy_bytes,
            "matmul_n": self.matmul_n,
        }


def _copy_seconds(copy_bytes: int, device: torch.device, repeats: int) -> float:
    src = torch.empty(copy_bytes // 4, device=device, dtype=torch.float32).uniform_()
    dst = torch.empty_like(src)
    return time_call(lambda: dst.copy_(src), device, repeats=max(3, repeats), warmup=2)


CPU_MATMUL_TARGET_S = 0.1  # seconds one timed product should take on a CPU
CPU_MATMUL_SIZES = (256, 512, 768, 1024, 1536, 2048)


def _cpu_matmul_size(dt: torch.dtype) -> int:
    """The largest of CPU_MATMUL_SIZES whose product takes about CPU_MATMUL_TARGET_S, from a 256 x 256 probe
    (time grows as n^3)."""
    probe = CPU_MATMUL_SIZES[0]
    a = torch.randn(probe, probe).to(dt)
    seconds = time_call(lambda: a @ a, torch.device("cpu"), repeats=3, warmup=1)
    fits = [n for n in CPU_MATMUL_SIZES if seconds * (n / probe) ** 3 <= CPU_MATMUL_TARGET_S]
    return fits[-1] if fits else probe


def measure_ceilings(device: torch.device, dtype: str, repeats: int) -> Ceilings:
    gpu = device.type == "cuda"
    copy_bytes = (2 << 30) if gpu else (256 << 20)
    dt = DTYPES[dtype]
    n = 8192 if gpu else _cpu_matmul_size(dt)
    copy_s = _copy_seconds(copy_bytes, device, repeats)  # its buffers are freed before the matmul's
    a = torch.randn(n, n, device=device, dtype=torch.float32).to(dt)
    b = torch.randn(n, n, device=device, dtype=torch.float32).to(dt)
    mm_s = time_call(lambda: a @ b, device, repeats=max(3, repeats), warmup=2)
    return Ceilings(
        copy_gbps=2 * copy_bytes / copy_s / 1e9, matmul_tflops=2 * n**3 / mm_s / 1e12, copy_bytes=copy_bytes, matmul_n=n
    )
