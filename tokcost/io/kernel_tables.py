"""The measured kernel tables shipped in ``tokcost/data/generated/kernels/`` (one ``<chip>.npz`` per chip, written by
scripts/condense_kernel_tables.py from NVIDIA's aiconfigurator-core; licence in the folder's NOTICE), read with
numpy alone, each chip once per process and only when asked for (benchmarks/kernel_tables.py times a load)."""

from __future__ import annotations

import json
from functools import cache

from tokcost.io.paths import KERNELS_DIR
from tokcost.records.kernels import PROVENANCE_FIELDS, ChipKernels, KernelTable

# tokcost hardware preset -> the chip whose measurements price it. Only the same die at the same clocks on the same
# baseboard (the tables' device names: NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3, NVIDIA H200, NVIDIA B200,
# NVIDIA L40S). a100-40gb-sxm is the 80GB part's GA100 at the same 1410 MHz boost and 400 W (NVIDIA A100 datasheet:
# 312 TFLOPS bf16 for both; the DGX A100's NVSwitch baseboard for both), so its GEMMs and collectives run at the
# measured rates; its slower HBM2 (1.555 TB/s, not 2.039) enters wherever a forward streams memory, priced at the
# preset's own bandwidth: the element-wise passes and the step's weight-read floor (max(GEMMs, weight read)).
# h100-pcie / h100-nvl (fewer SMs, lower clocks), h800-sxm and h20 (cut-down parts) and chips with no table
# (RTX 4090, L4, A10G, MI300X, MI325X) keep the sourced roofline.
TABLE_CHIPS = {
    "a100-80gb-sxm": "a100_sxm",
    "a100-40gb-sxm": "a100_sxm",
    "h100-sxm": "h100_sxm",
    "h200-sxm": "h200_sxm",
    "b200": "b200_sxm",
    "l40s": "l40s",
}

# PCIe cards priced from their SXM sibling's GEMM tables: the same GA100 (108 SMs, 1410 MHz boost, 312 TFLOPS bf16
# in the NVIDIA A100 datasheet's PCIe and SXM columns alike), whose lower power limit (250 W for the 40 GB card,
# 300 W for the 80 GB card, 400 W for the SXM module) holds the clocks lower under sustained load. Every GEMM is
# slowed by how much slower the card ran than the SXM module in the same MLPerf round: the median over three
# compute-bound networks of the SXM module's Offline samples/s over the card's (:data:`MLPERF_V11_OFFLINE`). Each
# run held the GPU busy for at least ten minutes, as a diffusion service does; a best-shape GEMM microbenchmark
# (stas00/ml-engineering's MAMF table: A100 SXM bf16 271.2 TFLOPS, PCIe 252.9, 1.072x, the slowdown used until
# 2026-12-07) times bursts too short for the power limit to bite. The networks run TensorRT int8/fp16 kernels with
# their element-wise work fused, so their time is mostly tensor-core time; the 40 GB card's slower HBM2 (1.555 TB/s
# against 2.039) may account for a little of its ratio, and it is priced again at the preset's own bandwidth
# wherever a forward streams memory. Only the GEMM tables: a PCIe card's collectives cross PCIe, not the SXM
# baseboard's NVSwitch that the NCCL tables measured.
SXM_SYSTEM = "DGX-A100_A100-SXM-80GBx1_TRT"
# MLPerf Inference v1.1, NVIDIA's closed-division TensorRT results on one GPU: Offline 'Samples per second' of
# BERT-99, ResNet-50 and SSD-ResNet34 (mlcommons/inference_results_v1.1 at 912dcdb9163736beca40a1f86e25d1305deab549,
# closed/NVIDIA/results/<system>/<benchmark>/Offline/performance/run_1/mlperf_log_summary.txt; min_duration 600000 ms)
MLPERF_V11_OFFLINE = {
    SXM_SYSTEM: (3614.0, 39830.1, 994.308),
    "A100-PCIe-80GBx1_TRT": (3236.94, 36905.1, 913.208),  # A100 PCIe 80GB, 300 W
    "A100-PCIex1_TRT": (2816.53, 32778.8, 823.465),  # A100 PCIe 40GB, 250 W
}


def mlperf_slowdown(system: str) -> float:
    """The median over MLPerf v1.1's three networks of the SXM module's throughput over ``system``'s."""
    ratios = sorted(s / p for s, p in zip(MLPERF_V11_OFFLINE[SXM_SYSTEM], MLPERF_V11_OFFLINE[system]))
    return ratios[len(ratios) // 2]


# hardware id -> (chip, slowdown)
SIBLING_GEMMS = {
    "a100-80gb-pcie": ("a100_sxm", mlperf_slowdown("A100-PCIe-80GBx1_TRT")),
    "a100-40gb-pcie": ("a100_sxm", mlperf_slowdown("A100-PCIex1_TRT")),
}


class KernelTableError(ValueError):
    """A shipped kernel table that cannot be used (missing, or without its provenance): a packaging bug."""


def table_chip(hardware_id: str) -> str | None:
    """The kernel-table chip that prices ``hardware_id``, or None when it has none."""
    return TABLE_CHIPS.get(hardware_id)


def available_chips() -> list[str]:
    return sorted(p.stem for p in KERNELS_DIR.glob("*.npz"))


@cache
def load_chip(chip: str) -> ChipKernels:
    """Every table of ``chip``; raises :class:`KernelTableError` when a table lacks any field of its provenance
    (:data:`~tokcost.records.kernels.PROVENANCE_FIELDS`) or the file its licence notice."""
    import numpy as np

    path = KERNELS_DIR / f"{chip}.npz"
    if not path.exists():
        raise KernelTableError(f"{path}: no kernel table for {chip!r} (chips: {', '.join(available_chips())})")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if "meta" not in arrays:
        raise KernelTableError(f"{path}: no provenance (meta)")
    meta = json.loads(str(arrays["meta"]))
    if not (KERNELS_DIR / "NOTICE").exists() or not meta.get("licence"):
        raise KernelTableError(f"{path}: no licence notice")
    tables = {}
    for name, info in meta.get("tables", {}).items():
        lacking = [f for f in PROVENANCE_FIELDS if not info.get(f)]
        if lacking:
            raise KernelTableError(f"{path}: table {name} lacks provenance: {', '.join(lacking)}")
        axes = tuple(info["axes"])
        tables[name] = KernelTable(
            name=name,
            axes=axes,
            grid=tuple(arrays[f"{name}/{a}"] for a in axes),
            latency_s=arrays[f"{name}/latency_s"],
            provenance=info,
        )
    if not tables:
        raise KernelTableError(f"{path}: no tables")
    return ChipKernels(chip=meta["chip"], device=meta["device"], licence=meta["licence"], tables=tables)


def hardware_kernels(hardware_id: str) -> ChipKernels | None:
    """The kernel tables that price ``hardware_id`` (:data:`TABLE_CHIPS`; a PCIe card's GEMM tables from its SXM
    sibling, :data:`SIBLING_GEMMS`), or None."""
    chip = table_chip(hardware_id)
    if chip is not None:
        return load_chip(chip)
    if hardware_id in SIBLING_GEMMS:
        return _sibling_gemms(hardware_id)
    return None


@cache
def _sibling_gemms(hardware_id: str) -> ChipKernels:
    """The GEMM tables of ``hardware_id``'s SXM sibling, every latency times the slowdown (:data:`SIBLING_GEMMS`),
    each table's provenance saying so."""
    chip, slowdown = SIBLING_GEMMS[hardware_id]
    sibling = load_chip(chip)
    derived = (
        f"{sibling.device}'s measurements x {slowdown:.3f} (how much slower the card ran than the SXM module in MLPerf"
        " Inference v1.1's sustained Offline runs)"
    )
    tables = {
        name: KernelTable(
            name=t.name,
            axes=t.axes,
            grid=t.grid,
            latency_s=t.latency_s * slowdown,
            provenance={**t.provenance, "derived": derived},
        )
        for name, t in sibling.tables.items()
        if name.startswith("gemm.")
    }
    device = f"{sibling.device}, slowed {slowdown:.3f}x to this card's measured sustained rate"
    return ChipKernels(chip=sibling.chip, device=device, licence=sibling.licence, tables=tables)
