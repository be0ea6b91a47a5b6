"""The measured kernel tables (tokcost/data/generated/kernels/, scripts/condense_kernel_tables.py): every table carries its
provenance and licence, the interpolation reproduces the measurements and keeps their order, and the script
regenerates tables from aiconfigurator-core's parquet layout. Load time: benchmarks/kernel_tables.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tokcost.engine.kernels import latency_s
from tokcost.io import kernel_tables
from tokcost.io.catalog import Catalog
from tokcost.io.kernel_tables import TABLE_CHIPS, KernelTableError, available_chips, load_chip
from tokcost.records.kernels import PROVENANCE_FIELDS, KernelTable

CHIPS = available_chips()


def test_tables_ship_for_the_mapped_chips_with_their_licence():
    assert set(TABLE_CHIPS.values()) <= set(CHIPS)
    notice = (kernel_tables.KERNELS_DIR / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "aiconfigurator-core" in notice
    total = sum((kernel_tables.KERNELS_DIR / f"{c}.npz").stat().st_size for c in CHIPS)
    assert total < 5e6  # compact: a few MB at most


@pytest.mark.parametrize("chip", CHIPS)
def test_every_table_names_its_source(chip):
    kernels = load_chip(chip)
    assert {"gemm.bfloat16", "attention.context", "attention.generation"} <= set(kernels.tables)
    for table in kernels.tables.values():
        p = table.provenance
        assert all(p.get(f) for f in PROVENANCE_FIELDS), table.name
        assert p["package"] == "aiconfigurator-core"
        assert p["source"].startswith(f"aiconfigurator_core/systems/data/{chip}/") and p["source"].endswith(".parquet")
        assert p["collection_meta"]["runtime"]["version"] == p["framework_version"]
        assert table.latency_s.shape == tuple(len(g) for g in table.grid)
        assert np.isfinite(table.latency_s).sum() == p["measured_points"] > 0


@pytest.mark.parametrize("hardware_id", sorted(TABLE_CHIPS))
def test_a_preset_maps_to_its_own_chip(hardware_id):
    """The measuring GPU's own name carries the preset's model: the same die at the same clocks, not a relative.
    The one preset priced from another memory size's part, the A100 SXM4 40GB, has the 80GB part's peak rates."""
    catalog = Catalog.default()
    hw = catalog.hardware(hardware_id)
    device = load_chip(TABLE_CHIPS[hardware_id]).device
    model = {
        "a100-80gb-sxm": "A100-SXM4-80GB",
        "a100-40gb-sxm": "A100-SXM4",
        "h100-sxm": "H100 80GB HBM3",
        "h200-sxm": "H200",
        "b200": "B200",
    }
    assert model.get(hardware_id, hw.id.upper()) in device, (hw.id, device)
    if hardware_id == "a100-40gb-sxm":
        assert hw.dense_tflops == catalog.hardware("a100-80gb-sxm").dense_tflops


def _without(chip: str, tmp_path, monkeypatch, drop: str):
    """A copy of ``chip``'s file whose gemm.bfloat16 provenance lacks ``drop``, loaded from ``tmp_path``."""
    src = kernel_tables.KERNELS_DIR
    with np.load(src / f"{chip}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["tables"]["gemm.bfloat16"].pop(drop)
    np.savez(tmp_path / f"{chip}.npz", meta=np.array(json.dumps(meta)), **arrays)
    (tmp_path / "NOTICE").write_text((src / "NOTICE").read_text())
    monkeypatch.setattr(kernel_tables, "KERNELS_DIR", tmp_path)
    load_chip.cache_clear()


@pytest.mark.parametrize("field", PROVENANCE_FIELDS)
def test_a_table_without_provenance_is_refused(field, tmp_path, monkeypatch):
    _without("h100_sxm", tmp_path, monkeypatch, field)
    with pytest.raises(KernelTableError, match=f"gemm.bfloat16 lacks provenance: {field}"):
        load_chip("h100_sxm")
    load_chip.cache_clear()


def test_tables_without_the_licence_notice_are_refused(tmp_path, monkeypatch):
    _without("h100_sxm", tmp_path, monkeypatch, "filter")
    (tmp_path / "NOTICE").unlink()
    with pytest.raises(KernelTableError, match="no licence notice"):
        load_chip("h100_sxm")
    load_chip.cache_clear()


def _measured(table: KernelTable):
    idx = np.nonzero(np.isfinite(table.latency_s))
    return {a: g[i] for a, g, i in zip(table.axes, table.grid, idx)}, table.latency_s[idx]


@pytest.mark.parametrize(
    "name",
    ["gemm.bfloat16", "gemm.fp8", "attention.context", "attention.generation", "nccl.all_reduce", "vllm.all_reduce"],
)
def test_interpolation_reproduces_every_measured_point(name):
    table = load_chip("h100_sxm").tables[name]
    shape, measured = _measured(table)
    np.testing.assert_allclose(latency_s(table, **shape), measured, rtol=1e-6)


def test_gemm_interpolation_is_monotone_wherever_the_measurements_are():
    """Between two grid lines of m, at shapes off the n and k grid, latency never falls where the measurements on
    all four surrounding (n, k) lines rise; and it is a power law between two measured points."""
    table = load_chip("h100_sxm").tables["gemm.bfloat16"]
    m, n, k = table.grid
    rng = np.random.default_rng(0)
    i, j, kq = rng.integers(0, len(m) - 1, 4000), rng.integers(0, len(n) - 1, 4000), rng.integers(0, len(k) - 1, 4000)
    lat = table.latency_s
    rising = np.all([lat[i + 1, j + a, kq + b] >= lat[i, j + a, kq + b] for a in (0, 1) for b in (0, 1)], axis=0)
    u = rng.uniform(size=(3, 4000))
    nn = n[j] * (n[j + 1] / n[j]) ** u[1]
    kk = k[kq] * (k[kq + 1] / k[kq]) ** u[2]
    lo_m = m[i] * (m[i + 1] / m[i]) ** (u[0] * 0.5)
    hi_m = m[i] * (m[i + 1] / m[i]) ** (0.5 + u[0] * 0.5)
    lo, hi = latency_s(table, m=lo_m, n=nn, k=kk), latency_s(table, m=hi_m, n=nn, k=kk)
    assert rising.sum() > 1000
    assert np.all(hi[rising] >= lo[rising] * (1 - 1e-9))
    # on a grid line of n and k, halfway in log m is the geometric mean of the two measurements
    mid = latency_s(table, m=np.sqrt(m[i] * m[i + 1]), n=n[j], k=k[kq])
    np.testing.assert_allclose(mid, np.sqrt(lat[i, j, kq] * lat[i + 1, j, kq]), rtol=1e-6)


def test_beyond_the_grid_latency_scales_with_the_work_and_below_it_holds():
    table = load_chip("h100_sxm").tables["gemm.bfloat16"]
    top_m, n, k = table.grid[0][-1], 4096.0, 4096.0
    at_top = latency_s(table, m=top_m, n=n, k=k)
    assert latency_s(table, m=4 * top_m, n=n, k=k) == pytest.approx(4 * at_top)
    assert latency_s(table, m=0.5, n=n, k=k) == pytest.approx(latency_s(table, m=1, n=n, k=k))
    with pytest.raises(ValueError, match="takes m, n, k"):
        latency_s(table, m=1, n=1)


def _every_corner(table: KernelTable, **shape) -> np.ndarray:
    """The interpolation written out over all 2^d corners of the cell, skipping none: what latency_s, which
    leaves out the sides a shape does not weigh, must equal."""
    points = np.broadcast_arrays(*(np.asarray(shape[a], dtype=float) for a in table.axes))
    log_lat = np.log(table.latency_s.astype(float))
    out, scale, brackets = np.zeros(points[0].shape), np.ones(points[0].shape), []
    for axis, x in zip(table.grid, points):
        lx, la = np.log(x), np.log(axis)
        clamped = np.clip(lx, la[0], la[-1])
        scale = scale * np.exp(lx - clamped).clip(min=1.0)
        if len(axis) == 1:
            brackets.append((np.zeros(x.shape, dtype=int), np.zeros(x.shape)))
            continue
        lo = np.clip(np.searchsorted(la, clamped, side="right") - 1, 0, len(axis) - 2)
        brackets.append((lo, (clamped - la[lo]) / (la[lo + 1] - la[lo])))
    for corner in np.ndindex(*(2,) * len(table.axes)):
        index = tuple(np.minimum(lo + c, n - 1) for (lo, _), c, n in zip(brackets, corner, table.latency_s.shape))
        w = np.prod([wt if c else 1.0 - wt for (_, wt), c in zip(brackets, corner)], axis=0)
        out = out + np.where(w > 0, w * log_lat[index], 0.0)
    return np.exp(out) * scale


@pytest.mark.parametrize("chip", ["a100_sxm", "h100_sxm", "b200_sxm"])
def test_skipping_unweighted_corners_changes_no_latency(chip):
    """latency_s leaves out a side of the cell when every shape sits on a grid line of that axis or beyond it; on
    random shapes (on grid lines, between them and past the top) it equals the full 2^d-corner interpolation."""
    rng = np.random.default_rng(1)
    for table in load_chip(chip).tables.values():
        shape = {}
        for name, axis in zip(table.axes, table.grid):
            kind = rng.integers(0, 3)
            if kind == 0:  # one grid value for every shape: the side that does not weigh is skipped
                shape[name] = float(rng.choice(axis))
            elif kind == 1:  # between grid values
                shape[name] = np.exp(rng.uniform(np.log(axis[0]), np.log(axis[-1]), 50))
            else:  # past the top
                shape[name] = float(axis[-1] * rng.uniform(1.0, 4.0))
        np.testing.assert_allclose(latency_s(table, **shape), _every_corner(table, **shape), rtol=1e-12)


def test_a_cell_with_an_unmeasured_corner_gives_nan_not_a_guess():
    grid = (np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    lat = np.array([[1.0, 2.0], [2.0, np.nan]], dtype=np.float32)
    table = KernelTable("t", ("a", "b"), grid, lat, {})
    assert latency_s(table, a=1, b=2) == pytest.approx(2.0)
    assert np.isnan(latency_s(table, a=1.5, b=1.5))


def test_the_script_regenerates_tables_from_aiconfigurator_parquet(tmp_path, monkeypatch):
    """A tiny tree in aiconfigurator-core's layout: the script writes a table that loads with its provenance and
    reproduces the rows it kept (milliseconds -> seconds; m at powers of two only)."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    import condense_kernel_tables as script

    folder = tmp_path / "data" / "h100_sxm" / "gemm" / "vllm" / "0.24.0"
    folder.mkdir(parents=True)
    (folder / "collection_meta.yaml").write_text("provenance: collected\nruntime: {framework: vllm, version: 0.24.0}\n")
    rows = [
        {
            "gemm_dtype": "bfloat16",
            "kernel_source": "torch.nn.functional.linear",
            "device": "NVIDIA H100 80GB HBM3",
            "m": m,
            "n": n,
            "k": k,
            "latency": 1e-3 * m * n * k / 64,
        }
        for m in (1, 3, 4)
        for n in (2, 4)
        for k in (2, 8)
    ]
    pd.DataFrame(rows).to_parquet(folder / "gemm_perf.parquet")
    out = tmp_path / "out"
    assert script.main(["--data-root", str(tmp_path / "data"), "--out", str(out), "--package-version", "0.12.0"]) == 0
    monkeypatch.setattr(kernel_tables, "KERNELS_DIR", out)
    load_chip.cache_clear()
    try:
        table = load_chip("h100_sxm").tables["gemm.bfloat16"]
    finally:
        load_chip.cache_clear()
    assert table.provenance["source"] == "aiconfigurator_core/systems/data/h100_sxm/gemm/vllm/0.24.0/gemm_perf.parquet"
    assert table.provenance["framework_version"] == "0.24.0" and table.provenance["package_version"] == "0.12.0"
    assert table.grid[0].tolist() == [1.0, 4.0]  # m = 3 is not a power of two
    assert latency_s(table, m=4, n=4, k=8) == pytest.approx(1e-6 * 4 * 4 * 8 / 64)
