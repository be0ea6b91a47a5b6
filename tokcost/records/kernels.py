"""Measured kernel tables (tokcost/data/generated/kernels/, condensed by scripts/condense_kernel_tables.py from NVIDIA's
aiconfigurator-core): latency on a grid of shapes, with the provenance every table must carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# What a table's provenance must say: where the numbers were measured and under which licence they ship.
PROVENANCE_FIELDS = (
    "package",
    "package_version",
    "framework",
    "framework_version",
    "source",
    "kernel_source",
    "collection_meta",
)


@dataclass(frozen=True)
class KernelTable:
    """One operator's latency (seconds) on a dense grid: ``latency_s[i, j, ...]`` was measured at
    (``grid[0][i]``, ``grid[1][j]``, ...) along ``axes``; NaN where the source has no measurement."""

    name: str  # gemm.bfloat16, attention.context, nccl.all_reduce, ...
    axes: tuple[str, ...]
    grid: tuple[np.ndarray, ...]
    latency_s: np.ndarray
    provenance: Mapping[str, object]


@dataclass(frozen=True)
class ChipKernels:
    """Every kernel table of one chip (a folder name of aiconfigurator-core: h100_sxm, b200_sxm, ...)."""

    chip: str
    device: str  # as the measuring GPU reported it (NVIDIA H100 80GB HBM3)
    licence: str
    tables: Mapping[str, KernelTable]
