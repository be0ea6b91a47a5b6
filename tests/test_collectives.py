"""Collectives priced from the chips' measured NCCL tables (tokcost.engine.collectives), or alpha-beta on the
sourced scale-up link for a chip without them (docs/methodology.md, "Multi-GPU replicas")."""

from dataclasses import replace

import numpy as np
import pytest

from tokcost.engine import physics
from tokcost.engine.collectives import NCCL_TABLES, Collectives, collective_s, replica_collectives
from tokcost.engine.estimate import Config, estimate_arrays, estimate_grid, pricing_note, scale_up_link
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import TABLE_CHIPS, hardware_kernels, load_chip
from tokcost.records.kernels import ChipKernels, KernelTable

CAT = Catalog.default()
ENGINES = load_engines()
TABLED = sorted(TABLE_CHIPS)  # the presets whose collectives the tables price
SIZES = np.geomspace(1, 4 * 2**30, 400)  # 1 B .. 4 GiB: below, across and beyond the measured 512 B .. 512 MiB
GPUS = (2, 3, 4, 5, 6, 7, 8)  # the measured 2, 4, 8 and the counts between them


def tables(hardware):
    chip = hardware_kernels(hardware)
    return [chip.tables[t] for t in NCCL_TABLES.values()]


@pytest.mark.parametrize("hardware", TABLED)
def test_a_collective_is_its_table_at_every_measured_point_no_slower_than_a_larger_message(hardware):
    """Exact at a measured point unless a larger message was measured faster (noise at small sizes: the message
    is then priced as that larger one, padded); never above the point's own measurement."""
    for table in tables(hardware):
        gpus, sizes = table.grid
        G, B = np.meshgrid(gpus, sizes, indexing="ij")
        priced = collective_s(table, B, G)
        measured = table.latency_s.astype(float)
        fastest_above = np.flip(np.minimum.accumulate(np.flip(measured, 1), axis=1), 1)
        # exact up to the rounding of exp(log(t))
        assert np.allclose(priced, fastest_above, rtol=1e-12, atol=0), table.name
        assert np.all(priced <= measured * (1 + 1e-12))
        clean = measured == fastest_above  # 75-100% of a table's points
        assert clean.any(axis=1).all()
        assert np.allclose(priced[clean], measured[clean], rtol=1e-12, atol=0)


@pytest.mark.parametrize("hardware", TABLED)
def test_a_collective_grows_with_its_bytes_and_never_beats_its_smallest_measurement(hardware):
    for table in tables(hardware):
        floor = float(np.nanmin(table.latency_s))
        for G in GPUS:
            t = collective_s(table, SIZES, G)
            assert np.all(np.isfinite(t))
            assert np.all(np.diff(t) >= -1e-12 * t[1:]), (table.name, G)  # flat where padded, up to rounding
            assert np.all(t >= floor * (1 - 1e-12)), (table.name, G)
        # beyond the largest measured message the time grows in proportion to the bytes (bandwidth-bound)
        top = table.grid[1][-1]
        assert collective_s(table, 4 * top, 8) == pytest.approx(4 * collective_s(table, top, 8), rel=1e-12)


@pytest.mark.parametrize("hardware", [h for h in TABLED if CAT.hardware(h).interconnect_gbps])
def test_no_collective_beats_the_datasheet_nvlink(hardware):
    """Each GPU must receive at least (G-1)/G of the message (the others' parts of an all-gather or an
    all-to-all; for an all-reduce at least the others' contribution to its result, even reduced in the switch),
    over one direction of its NVLink (the datasheet figure counts both)."""
    per_direction = CAT.hardware(hardware).interconnect_gbps / 2 * 1e9
    for table in tables(hardware):
        for G in GPUS:
            received = (G - 1) / G * SIZES
            assert np.all(collective_s(table, SIZES, G) >= received / per_direction), (table.name, G)


def test_a_chip_without_tables_keeps_the_link_exactly():
    hw = CAT.hardware("h800-sxm")
    assert hardware_kernels(hw.id) is None
    link = scale_up_link(hw)
    comm = replica_collectives(hardware_kernels, ((True, hw),), link, 8)
    G = np.array([1, 2, 4, 8])[:, None]
    assert np.array_equal(comm.all_reduce_s(SIZES, G), physics.allreduce_s(SIZES, G, link))
    assert np.array_equal(comm.all_to_all_s(SIZES, G), physics.alltoall_s(SIZES, G, link))
    assert np.array_equal(comm.all_gather_s(SIZES, G), physics.allgather_s(SIZES, G, link))
    # no kernel tables at all (Config.kernels None): the link, even on a chip that has tables
    h100 = CAT.hardware("h100-sxm")
    plain = replica_collectives(None, ((True, h100),), scale_up_link(h100), 8)
    assert np.array_equal(plain.all_reduce_s(SIZES, 8), physics.allreduce_s(SIZES, 8, scale_up_link(h100)))


def test_what_a_table_does_not_cover_keeps_the_link():
    """More GPUs than the table measured (a group that may span another link) and an unmeasured cell with nothing
    measured above it are priced on the chip's link: neither extrapolated in proportion to the GPUs nor NaN."""
    link = scale_up_link(CAT.hardware("h100-sxm"))
    measured = dict(zip(NCCL_TABLES, tables("h100-sxm"), strict=True))
    G = np.array([2, 8, 16])[:, None]
    got = Collectives(link, [(True, measured)]).all_reduce_s(SIZES, G)
    assert np.all(np.isnan(collective_s(measured["all_reduce"], SIZES, 16)))
    assert np.array_equal(got[2], physics.allreduce_s(SIZES, 16, link))
    assert np.array_equal(got[:2], collective_s(measured["all_reduce"], SIZES, G[:2]))
    # the 8-GPU all-to-all unmeasured at its three largest sizes: sizes whose cell touches them take the link
    t = measured["all_to_all"]
    latency = t.latency_s.astype(float)
    latency[-1, -3:] = np.nan
    holed = dict(measured, all_to_all=KernelTable(t.name, t.axes, t.grid, latency, t.provenance))
    uncovered = SIZES > t.grid[1][-4]
    assert uncovered.any() and not uncovered.all()
    expected = np.where(uncovered, physics.alltoall_s(SIZES, 8, link), collective_s(t, SIZES, 8))
    for rows in (True, np.array([[True]])):  # one chip, and a stacked sweep's column
        got = Collectives(link, [(rows, holed)]).all_to_all_s(SIZES, 8)
        assert np.array_equal(np.ravel(got), expected)


def test_one_gpu_pays_nothing_and_loads_no_table():
    assert replica_collectives(hardware_kernels, ((True, CAT.hardware("h100-sxm")),), (1e-5, 1e11), 1) is None
    table = Collectives((1e-5, 1e11), [(True, dict(zip(NCCL_TABLES, tables("h100-sxm"), strict=True)))])
    assert np.array_equal(table.all_reduce_s(SIZES, 1), np.zeros(SIZES.shape))


def test_stacked_chips_price_each_row_with_its_own_chip():
    """A sweep stacks chips along rows (boolean columns, as estimate_grid builds them): each row is priced as that
    chip alone would price it, tables or link."""
    chips = [CAT.hardware(h) for h in ("h100-sxm", "h800-sxm", "a100-80gb-sxm", "b200", "h100-sxm")]
    ids = list(dict.fromkeys(hw.id for hw in chips))
    rows = tuple((np.array([[hw.id == i] for hw in chips]), CAT.hardware(i)) for i in ids)
    link = tuple(np.array([[scale_up_link(hw)[k]] for hw in chips]) for k in (0, 1))
    G = np.array([[2], [4], [8], [4], [8]])
    stacked = replica_collectives(hardware_kernels, rows, link, G)
    for name in ("all_reduce_s", "all_gather_s", "all_to_all_s"):
        got = getattr(stacked, name)(SIZES[None, :], G)
        for r, hw in enumerate(chips):
            alone = replica_collectives(hardware_kernels, ((True, hw),), scale_up_link(hw), int(G[r, 0]))
            assert np.array_equal(got[r], getattr(alone, name)(SIZES, int(G[r, 0]))), (name, hw.id)


def test_a_sweep_over_chips_charges_each_chip_its_own_collectives():
    cfg = Config(
        model=CAT.model("flux1-dev"),
        hardware=CAT.hardware("h100-sxm"),
        profiles=ENGINES,
        kernels=hardware_kernels,
        batch=np.array([1.0, 4.0]),
    )
    hardware = [CAT.hardware(h) for h in ("h100-sxm", "h800-sxm", "a100-80gb-sxm")]
    grid = estimate_grid(cfg, hardware, bands=("central",), gpus=(2, 4))
    for hw in hardware:
        for G in (2, 4):
            alone = estimate_arrays(replace(cfg, hardware=hw, gpus=G))
            assert np.allclose(grid[(hw.id, "central", G)].communication_s, alone.communication_s, rtol=1e-12)


def test_tensor_and_sequence_parallel_collectives_grow_with_their_bytes():
    hw = CAT.hardware("h100-sxm")
    comm = replica_collectives(hardware_kernels, ((True, hw),), scale_up_link(hw), 8)
    arch = CAT.model("emu3-gen").architecture
    positions = np.geomspace(1, 1e6, 200)
    for G in (2, 4, 8):
        tp = physics.tensor_parallel_comm_s(arch, positions, G, comm)
        assert np.all(np.diff(tp) >= -1e-12 * tp[1:]) and tp[-1] > tp[0]
        # never below 2 L launches of the table's fastest all-reduce
        fastest = float(np.nanmin(hardware_kernels(hw.id).tables["nccl.all_reduce"].latency_s))
        assert np.all(tp >= 2 * arch.layers * fastest * (1 - 1e-12))
    flux = CAT.model("flux1-dev")
    tokens = np.geomspace(256, 1e6, 200)
    for sp in (2, 4, 8):
        ulysses = physics.sequence_parallel_comm_s(flux, 1, tokens, sp, comm)
        assert np.all(np.diff(ulysses) >= -1e-12 * ulysses[1:]) and ulysses[-1] > ulysses[0]


def test_cfg_parallel_gathers_both_noise_predictions():
    """xDiT's CFG parallel all-gathers the two branches' noise predictions: the table's all-gather of the
    2 x (items x latent tokens x output channels x 2 bytes) gathered."""
    hw, m = CAT.hardware("h100-sxm"), CAT.model("sd3-medium")
    comm = replica_collectives(hardware_kernels, ((True, hw),), scale_up_link(hw), 2)
    latent = 4096.0
    held = latent * m.vae.channels * m.vae.patch**2 * m.vae.patch_t * 2
    expected = collective_s(hardware_kernels(hw.id).tables["nccl.all_gather"], 2 * held, 2)
    assert physics.cfg_parallel_comm_s(m, 1, latent, 2, comm) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize(
    ("model", "hardware", "needle"),
    [
        ("flux1-dev", "h100-sxm", "priced from measured NCCL tables: aiconfigurator-core"),
        ("emu3-gen", "a100-80gb-sxm", "priced from measured NCCL tables: aiconfigurator-core"),
        ("flux1-dev", "h800-sxm", "sourced scale-up link (no measured NCCL table"),
        ("emu3-gen", "h800-sxm", "sourced scale-up link (no measured NCCL table"),
    ],
)
def test_the_notes_say_which_path_priced_the_collectives(model, hardware, needle):
    cfg = Config(model=CAT.model(model), hardware=CAT.hardware(hardware), profiles=ENGINES, kernels=hardware_kernels)
    assert "collectives" not in pricing_note(cfg)  # one GPU: none
    note = pricing_note(replace(cfg, gpus=2))
    assert needle in note
    if "NCCL tables" in needle:
        chip = hardware_kernels(hardware)
        assert f"nccl {chip.tables['nccl.all_reduce'].provenance['framework_version']}" in note


@pytest.mark.parametrize("chip", ["a100_sxm", "h100_sxm", "h200_sxm", "b200_sxm"])
def test_vllm_all_reduce_beats_nccl_below_its_limit_and_is_nccl_above_it(chip):
    """vLLM's own all-reduce (one-/two-shot over NVLink, replayed in CUDA graphs) against NCCL's, both measured on
    NVLink parts: 1.5-3.5x faster for a decode step's messages (kilobytes), the same at 256 MiB, far beyond the
    sizes vLLM keeps from NCCL (a check of the tables' units too: both axes are bytes)."""
    tables = load_chip(chip).tables
    vllm, nccl = tables["vllm.all_reduce"], tables["nccl.all_reduce"]
    for G in (2, 4, 8):
        small = np.array([8192.0, 65536.0])  # 4,096 and 32,768 bf16 activations: batch-1 to -4 decode
        assert np.all(collective_s(vllm, small, G) < 0.75 * collective_s(nccl, small, G))
        big = float(collective_s(vllm, 256 * 2**20, G)) / float(collective_s(nccl, 256 * 2**20, G))
        assert big == pytest.approx(1.0, abs=0.05)


def test_only_the_vllm_engine_prices_vllms_all_reduce():
    """engines.yaml: vllm runs its own all-reduce (all_reduce: vllm), eager and compiled PyTorch call NCCL; a chip
    without vLLM's table keeps NCCL's, and the all-to-all and all-gather stay NCCL's for every engine."""
    assert ENGINES["vllm"].all_reduce == "vllm"
    assert ENGINES["eager"].all_reduce == ENGINES["compiled"].all_reduce == "nccl"
    hw = CAT.hardware("h100-sxm")
    chip = hardware_kernels(hw.id)
    size = 16384.0
    for engine, table in (("vllm", "vllm.all_reduce"), ("compiled", "nccl.all_reduce")):
        comm = replica_collectives(hardware_kernels, ((True, hw),), scale_up_link(hw), 8, ENGINES[engine].all_reduce)
        assert float(comm.all_reduce_s(size, 8)) == pytest.approx(float(collective_s(chip.tables[table], size, 8)))
        expected = collective_s(chip.tables["nccl.alltoall"], size, 8)
        assert float(comm.all_to_all_s(size, 8)) == pytest.approx(float(expected))
    without = ChipKernels(
        chip=chip.chip,
        device=chip.device,
        licence=chip.licence,
        tables={k: v for k, v in chip.tables.items() if k != "vllm.all_reduce"},
    )
    comm = replica_collectives(lambda _: without, ((True, hw),), scale_up_link(hw), 8, "vllm")
    assert float(comm.all_reduce_s(size, 8)) == pytest.approx(
        float(collective_s(chip.tables["nccl.all_reduce"], size, 8))
    )


def test_the_notes_name_vllms_own_all_reduce():
    cfg = Config(
        model=CAT.model("emu3-gen"),
        hardware=CAT.hardware("h100-sxm"),
        profiles=ENGINES,
        kernels=hardware_kernels,
        engine="vllm",
        gpus=2,
    )
    own = hardware_kernels("h100-sxm").tables["vllm.all_reduce"].provenance
    assert f"the all-reduce from vllm {own['framework_version']}'s own (vLLM_custom_graph)" in pricing_note(cfg)
    assert "the all-reduce from" not in pricing_note(replace(cfg, engine="compiled"))
