"""Seconds of the collectives a multi-GPU replica runs (docs/methodology.md, "Multi-GPU replicas"): from the chip's
measured NCCL tables where it has them (nccl-tests runs condensed from aiconfigurator-core,
:mod:`tokcost.io.kernel_tables`), the all-reduce from the table of the implementation the engine runs (vLLM's own:
``all_reduce: vllm`` in its profile) where the chip has one, else alpha-beta over the hardware preset's sourced
scale-up link (:func:`~tokcost.engine.physics.allreduce_s` and its siblings).

Vectorised like the GEMM tables (:class:`~tokcost.engine.kernels.TableGemms`): ``parts`` pairs each chip's tables
with the rows it prices (True for one chip, a boolean column when chips are stacked), so a sweep over chips prices
each row with its own chip's measurements, and the rows of chips without tables with their link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tokcost.engine import physics
from tokcost.engine.kernels import fastest_at_or_above, latency_s, per_table
from tokcost.records.kernels import ChipKernels, KernelTable

# collective -> the table that measured it. The tables' bytes are nccl-tests' message size: for an all-reduce the
# buffer every GPU reduces, for an all-gather the gathered whole (G x what each GPU holds), for an all-to-all the
# buffer each GPU sends (G slices, one per GPU, its own included).
NCCL_TABLES = {"all_reduce": "nccl.all_reduce", "all_gather": "nccl.all_gather", "all_to_all": "nccl.alltoall"}
# an engine profile's all_reduce -> the table of that implementation's all-reduce (same axes and sizes as NCCL's);
# a chip without it keeps NCCL's
ALL_REDUCE_TABLES = {"nccl": "nccl.all_reduce", "vllm": "vllm.all_reduce"}


class Collectives:
    """Seconds of one collective over ``gpus`` GPUs, vectorised over sizes, GPU counts and stacked chips; 0 on one
    GPU. ``link`` = (latency s, busbw bytes/s), scalars or columns, prices the rows no table covers (a chip without
    tables, more GPUs than its tables measured, an unmeasured cell: :func:`collective_s`'s NaN); ``parts`` =
    [(rows, {collective: table})] the rows of each chip with NCCL tables; ``send``: bytes/s of one send between two
    GPUs (a scalar or a column; None: the link's bus bandwidth)."""

    def __init__(self, link, parts: Sequence[tuple[Any, Mapping[str, KernelTable]]] = (), send=None):
        self.link = link
        self.parts = list(parts)
        self.send = link[1] if send is None else send

    def all_reduce_s(self, bytes_, gpus) -> np.ndarray:
        """An all-reduce of ``bytes_`` on every GPU (Megatron's tensor parallelism, after attention and the MLP)."""
        return self._price("all_reduce", bytes_, gpus, bytes_, physics.allreduce_s)

    def all_gather_s(self, held, gpus) -> np.ndarray:
        """An all-gather in which each GPU contributes ``held`` bytes and receives the G x ``held`` whole."""
        size = np.asarray(held, dtype=float) * np.asarray(gpus, dtype=float)
        return self._price("all_gather", size, gpus, held, physics.allgather_s)

    def all_to_all_s(self, held, gpus) -> np.ndarray:
        """An all-to-all in which each GPU holds ``held`` bytes and sends (G-1)/G of them (Ulysses' re-sharding)."""
        return self._price("all_to_all", held, gpus, held, physics.alltoall_s)

    def send_recv_s(self, bytes_, gpus) -> np.ndarray:
        """A GPU of a ring of ``gpus`` sends ``bytes_`` to the next while the previous one's arrive (a step of ring
        attention): the link's latency, and the bytes at the send bandwidth (``send``: nccl-tests' sendrecv_perf
        where the preset has it, :func:`~tokcost.engine.physics.sendrecv_s`); the NCCL tables hold no send and
        receive."""
        return physics.sendrecv_s(bytes_, gpus, (self.link[0], self.send))

    def _price(self, name: str, size, gpus, held, link_s) -> np.ndarray:
        G = np.asarray(gpus, dtype=float)
        size = np.asarray(size, dtype=float)
        linked = link_s(held, G, self.link)
        if not self.parts:
            return linked
        if len(self.parts) == 1 and self.parts[0][0] is True:  # one chip, all rows
            priced = collective_s(self.parts[0][1][name], size, G)
            return np.where((G > 1) & np.isfinite(priced), priced, linked)
        shape = np.broadcast_shapes(np.shape(linked), size.shape, G.shape, *(np.shape(m) for m, _ in self.parts))
        out = np.broadcast_to(linked, shape).copy()
        sizes, counts = np.broadcast_to(size, shape), np.broadcast_to(G, shape)
        for mask, tables in self.parts:
            rows = np.broadcast_to(mask, shape) & (counts > 1)
            priced = collective_s(tables[name], sizes[rows], counts[rows])
            out[rows] = np.where(np.isfinite(priced), priced, out[rows])
        return out


def collective_s(table: KernelTable, size, gpus) -> np.ndarray:
    """Seconds of ``table``'s collective for a message of ``size`` bytes over ``gpus`` GPUs:
    :func:`~tokcost.engine.kernels.latency_s` (log-log between measured points, in proportion to the size beyond
    the largest, the smallest size's time below it) over the table lowered, along the size axis, to the fastest
    time measured at the same or a larger size (:func:`~tokcost.engine.kernels.fastest_at_or_above`; at small
    sizes the measurements' noise is several microseconds). NaN where the table does not cover the collective:
    more GPUs than it measured (a larger group may span another link; growing in proportion to the GPUs, the rule
    beyond the largest size, would be a guess) or an unmeasured cell with nothing measured above it."""
    size = np.maximum(np.asarray(size, dtype=float), 1.0)  # an empty message still pays the launch
    gpus = np.asarray(gpus, dtype=float)
    measured_gpus = table.grid[table.axes.index("gpus")]
    return np.where(gpus > measured_gpus[-1], np.nan, latency_s(_padded(table), gpus=gpus, bytes=size))


# id(table) -> (table, the table lowered to the fastest at the same or a larger size); a chip has four tables
_PADDED: dict[tuple, tuple[KernelTable, KernelTable]] = {}


def _padded(table: KernelTable) -> KernelTable:
    def lowered() -> KernelTable:
        lat = fastest_at_or_above(table.latency_s.astype(float), table.axes.index("bytes"))
        return KernelTable(table.name, table.axes, table.grid, lat, table.provenance)

    return per_table(_PADDED, (id(table),), table, lowered)


def collective_tables(chip: ChipKernels | None, all_reduce: str = "nccl") -> dict[str, KernelTable] | None:
    """The chip's table of every collective tokcost prices, the all-reduce that of the ``all_reduce``
    implementation (an engine profile's ``all_reduce``) where the chip measured it, else NCCL's; None when the chip
    lacks any of NCCL's."""
    if chip is None or any(t not in chip.tables for t in NCCL_TABLES.values()):
        return None
    tables = {name: chip.tables[t] for name, t in NCCL_TABLES.items()}
    own = chip.tables.get(ALL_REDUCE_TABLES[all_reduce])
    if own is not None:
        tables["all_reduce"] = own
    return tables


def replica_collectives(
    kernels, chips: Sequence[tuple[Any, Any]], link, gpus, all_reduce: str = "nccl", send=None
) -> Collectives | None:
    """The collectives of a replica of ``gpus`` GPUs on each of ``chips`` ((rows, hardware preset), as
    :class:`~tokcost.engine.families.Work` has them): each chip's tables (:func:`collective_tables`, the all-reduce
    of the engine's ``all_reduce`` implementation) where ``kernels`` (hardware id ->
    :class:`~tokcost.records.kernels.ChipKernels` or None; None: no tables) has them, else ``link``; ``send`` the
    bytes/s of one send between two GPUs (ring attention's; None: the link's bus bandwidth). None when no replica
    has more than one GPU (nothing to price, no table loaded)."""
    if not np.any(np.asarray(gpus) > 1):
        return None
    parts = []
    if kernels is not None:
        for mask, hw in chips:
            tables = collective_tables(kernels(hw.id), all_reduce)
            if tables is not None:
                parts.append((mask, tables))
    return Collectives(link, parts, send)


def collectives_note(kernels, hardware, uses: str, all_reduce: str = "nccl", gpus=1) -> str:
    """Which path prices ``hardware``'s collectives (``uses``: which collectives, for what; ``all_reduce``: the
    engine's implementation) in replicas of ``gpus`` GPUs (one size or several), for an estimate's notes."""
    chip = kernels(hardware.id) if kernels is not None else None
    tables = collective_tables(chip, all_reduce)
    if chip is None or tables is None:
        note = (
            f"collectives ({uses}) priced alpha-beta on {hardware.name}'s sourced scale-up link (no measured NCCL "
            "table for this chip)"
        )
        up = hardware.scale_up
        if up is not None and up.pcie is not None and np.any(np.asarray(gpus) > up.gpus):
            note += (
                f"; a replica of more than {up.gpus} GPUs crosses the server's PCIe fabric beyond the {up.link} "
                f"(scale_up.pcie: {up.pcie.busbw_gbps:g} GB/s all-reduce bus bandwidth, {up.pcie.latency_us:g} us a "
                "small all-reduce), at whose rates its collectives and ring sends are priced"
            )
        return note
    info = tables["all_gather"].provenance
    note = (
        f"collectives ({uses}) priced from measured NCCL tables: {info['package']} {info['package_version']}, "
        f"{info['framework']} {info['framework_version']}, measured on {chip.device}"
    )
    own = tables["all_reduce"].provenance
    if own["framework"] != info["framework"]:
        note += f"; the all-reduce from {own['framework']} {own['framework_version']}'s own ({own['kernel_source']})"
    elif all_reduce != "nccl":
        note += f" (no measured {all_reduce} all-reduce for this chip: NCCL's)"
    return note
