"""The two ceilings every kernel of a decode step is measured against, on the same device and dtype:

- copy: ``dst.copy_(src)`` of a large buffer; bytes moved = bytes read + bytes written = 2 x buffer size.
- matmul: ``a @ b`` of two square matrices; FLOPs = 2 n^3.
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


def measure_ceilings(device: torch.device, dtype: str, repeats: int) -> Ceilings:
    gpu = device.type == "cuda"
    copy_bytes = (2 << 30) if gpu else (256 << 20)
    n = 8192 if gpu else 2048
    copy_s = _copy_seconds(copy_bytes, device, repeats)  # its buffers are freed before the matmul's
    dt = DTYPES[dtype]
    a = torch.randn(n, n, device=device, dtype=torch.float32).to(dt)
    b = torch.randn(n, n, device=device, dtype=torch.float32).to(dt)
    mm_s = time_call(lambda: a @ b, device, repeats=max(3, repeats), warmup=2)
    return Ceilings(
        copy_gbps=2 * copy_bytes / copy_s / 1e9, matmul_tflops=2 * n**3 / mm_s / 1e12, copy_bytes=copy_bytes, matmul_n=n
    )
