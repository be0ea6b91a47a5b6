"""Sweeps: one row per combination, the same numbers as a single estimate, padded sizes, skipped combinations
noted (not crashed on), and every output format. Speed is measured by benchmarks/sweep_speed.py, not here."""

from __future__ import annotations

import csv
import io
import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.cli.sweep import sizes
from tokcost.core.sweep import SweepRequest, run_sweep
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.records.sweep import COLUMN_KINDS, COLUMNS
from tokcost.render.sweep import format_csv, format_json, format_table, sweep_notes

CAT = Catalog.default()


def _req(**kw) -> SweepRequest:
    base = dict(
        models=[CAT.model("sdxl"), CAT.model("emu3-gen")],
        hardware=[CAT.hardware("h100-sxm"), CAT.hardware("a100-80gb-sxm")],
        resolutions=[(512, 512), (768, 768), (1024, 1024)],
        batches=[1, 4],
        engines=["eager", "compiled"],
    )
    base.update(kw)
    return SweepRequest(**base)


def test_every_combination_is_one_row():
    result = run_sweep(_req())
    assert result.rows == 2 * 2 * 2 * 3 * 2  # models x hardware x engines x resolutions x batches
    assert set(result.columns) == set(COLUMNS)
    assert {len(v) for v in result.columns.values()} == {result.rows}
    assert result.prices is None and result.skipped == []


def test_rows_match_a_single_estimate():
    result = run_sweep(_req(steps=[20, 50]))
    c = result.columns
    for i in (0, 7, result.rows - 1):
        m, hw = CAT.model(c["model"][i]), CAT.hardware(c["hardware"][i])
        steps = None if np.isnan(c["steps"][i]) else int(c["steps"][i])
        one = estimate_arrays(
            Config(
                profiles=load_engines(),
                model=m,
                hardware=hw,
                engine=c["engine"][i],
                width=int(c["width"][i]),
                height=int(c["height"][i]),
                batch=int(c["batch"][i]),
                steps=steps,
                role="image",
                kernels=hardware_kernels,  # a sweep prices GEMMs from the measured tables, as estimate does
            )
        )
        assert c["latency_s"][i] == pytest.approx(float(one.latency_s))
        assert c["memory_gb"][i] == pytest.approx(float(one.memory.total) / 1e9)
        assert bool(c["fits_in_memory"][i]) == bool(one.fits_in_memory)


def test_ar_models_have_no_steps_and_diffusion_steps_multiply_rows():
    result = run_sweep(_req(steps=[20, 30, 50], engines=["eager"], hardware=[CAT.hardware("h100-sxm")]))
    c = result.columns
    ar = c["model"] == "emu3-gen"
    assert np.isnan(c["steps"][ar]).all()
    assert sorted(set(c["steps"][~ar])) == [20, 30, 50]
    assert (~ar).sum() == 3 * (ar.sum())


def test_padded_sizes_are_reported():
    result = run_sweep(
        _req(
            models=[CAT.model("emu3-gen")],
            resolutions=[(500, 500)],
            batches=[1],
            engines=["eager"],
            hardware=[CAT.hardware("h100-sxm")],
        )
    )
    c = result.columns
    assert c["width"][0] == 500 and c["padded_width"][0] == 504 and c["padded_height"][0] == 504
    assert c["resolution"][0] == "500x500"


def test_unservable_combinations_are_skipped_with_a_note():
    req = _req(
        engines=["eager", "vllm"],
        frames=[17, 33],
        models=[CAT.model("sdxl"), CAT.model("emu3-gen"), CAT.model("wan21-1.3b")],
    )
    result = run_sweep(req)
    assert "sdxl" not in set(result.columns["model"])  # an image model asked for video frames
    skips = {(s.kind, s.model): s for s in result.skipped}
    assert skips["role", "sdxl"].video_asked and skips["role", "sdxl"].serves == ("image",)
    assert skips["engine", "wan21-1.3b"].engine == "vllm"  # a diffusion model on an AR server
    assert "1024x1024" in skips["sizes", "wan21-1.3b"].values  # outside its sizes
    notes = sweep_notes(result)  # worded by the renderer
    assert "skipped sdxl: it does not generate video (frames were given) (it serves image)" in notes
    assert any(n.startswith("skipped engine vllm for wan21-1.3b: vllm serves ar models only") for n in notes)
    assert any("1024x1024" in n and "wan21-1.3b" in n and "px per side" in n for n in notes)
    assert set(result.columns["frames"]) == {17.0, 33.0}


def test_resolutions_flag_is_parsed_into_sizes():
    assert sizes("256, 512,1280x720") == [(256, 256), (512, 512), (1280, 720)]


def test_csv_json_table_have_every_row():
    result = run_sweep(_req(steps=[20, 50]))
    rows = list(csv.DictReader(io.StringIO(format_csv(result))))
    assert len(rows) == result.rows and list(rows[0]) == list(COLUMNS)
    ar = next(r for r in rows if r["model"] == "emu3-gen")
    assert ar["steps"] == "" and ar["frames"] == ""
    doc = json.loads(format_json(result))
    assert doc["count"] == result.rows == len(doc["rows"])
    assert doc["rows"][0]["latency_s"] == pytest.approx(result.columns["latency_s"][0], rel=1e-5)
    assert next(r for r in doc["rows"] if r["model"] == "emu3-gen")["steps"] is None
    table = format_table(result)
    assert len(table.splitlines()) == result.rows + 3


def test_a_50k_sweep_runs_and_formats():
    req = SweepRequest(
        models=[CAT.model(m) for m in ("sdxl", "flux1-dev", "sd3-medium", "pixart-sigma", "emu3-gen")],
        hardware=[CAT.hardware(h) for h in ("h100-sxm", "a100-80gb-sxm", "l40s", "h200-sxm", "b200", "h100-pcie")],
        resolutions=[(r, r) for r in range(256, 2049, 64)],
        batches=[1, 2, 4, 8, 16, 32, 64, 128],
        steps=[4, 8, 12, 20, 30, 50],
    )
    result = run_sweep(req)
    assert result.rows > 50_000
    assert format_csv(result).count("\n") == result.rows + 1
    assert np.isfinite(result.columns["latency_s"]).all()


runner = CliRunner()


def test_cli_csv_and_json():
    args = [
        "sweep",
        "--models",
        "sdxl,emu3-gen",
        "--hardware",
        "h100-sxm",
        "--resolutions",
        "512,1024",
        "--batches",
        "1,8",
        "--engine",
        "eager",
    ]
    res = runner.invoke(app, [*args, "--format", "csv"])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stdout.splitlines() if line]
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 1 + 2 * 2 * 2
    res = runner.invoke(app, [*args, "--format", "json"])
    assert json.loads(res.stdout)["count"] == 8


def test_cli_notes_go_to_stderr_and_bad_input_exits_2(tmp_path):
    res = runner.invoke(
        app, ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "1024", "--engine", "vllm"]
    )
    assert res.exit_code == 2 and "vllm" in res.output  # nothing left to price
    res = runner.invoke(app, ["sweep", "--models", "sdxx", "--hardware", "h100-sxm", "--resolutions", "512"])
    assert res.exit_code == 2 and "did you mean sdxl" in res.output
    res = runner.invoke(app, ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "big"])
    assert res.exit_code == 2
    res = runner.invoke(
        app, ["sweep", "--models", "sdxl", "--hardware", "h100-sxm", "--resolutions", "512", "--format", "html"]
    )
    assert res.exit_code == 2 and "--output" in res.output


def test_cli_html(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.html"
    res = runner.invoke(
        app,
        [
            "sweep",
            "--models",
            "sdxl,emu3-gen",
            "--hardware",
            "h100-sxm,l40s",
            "--resolutions",
            "512,768,1024",
            "--format",
            "html",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert html.count("<svg") >= 2 and "Latency vs resolution" in html


# ------------------------------------------------------------------------------------------------ streaming (#17)


def test_chunks_in_any_size_give_the_same_rows_as_the_whole():
    from tokcost.core.sweep import plan_sweep

    req = _req(steps=[20, 30, 50])
    whole = run_sweep(req).columns
    for chunk_rows in (1, 7, 50, 10_000):
        parts = list(plan_sweep(req, chunk_rows=chunk_rows).chunks())
        assert all(len(p["model"]) <= chunk_rows for p in parts)
        joined = {c: np.concatenate([p[c] for p in parts]) for c in COLUMNS}
        for c in COLUMNS:
            a, b = whole[c], joined[c]
            if a.dtype.kind == "f":
                np.testing.assert_array_equal(np.nan_to_num(a, nan=-1.0), np.nan_to_num(b, nan=-1.0))
            else:
                assert a.tolist() == b.tolist(), c


def test_chunk_slices_cover_the_grid_in_order_within_the_limit():
    from tokcost.core.sweep import chunk_slices

    for shape, limit in [
        ((3, 1, 2, 1, 3), 7),
        ((29, 1, 8, 1, 270), 250_000),
        ((2, 3, 4, 5, 6), 50),
        ((4, 1, 1, 1, 9), 1),
    ]:
        slices = list(chunk_slices(shape, limit))
        assert [s.start for s in slices] == [0, *[s.stop for s in slices[:-1]]]  # consecutive, in order
        assert slices[-1].stop == int(np.prod(shape)) and all(0 < s.stop - s.start <= limit for s in slices)


def test_any_slice_of_a_group_prices_the_rows_of_the_whole_grid():
    from tokcost.core.sweep import plan_sweep, price_group

    req = _req(steps=[20, 30, 50], batches=[1, 2, 4], gpus=[1, 2])
    stream = plan_sweep(req)
    g = stream.groups[0]
    batches = np.asarray(req.batches, dtype=float)
    whole = price_group(g, batches, req.precision)
    n = len(whole["width"])
    for rows in (slice(0, n), slice(5, 23), slice(7, 8), slice(n - 4, n), slice(3, 3)):
        part = price_group(g, batches, req.precision, rows=rows)
        for c, values in whole.items():
            assert part[c].tolist() == values[rows].tolist() or np.array_equal(part[c], values[rows], equal_nan=True)


def _csv_value(kind: str, v) -> str:
    if kind == "text":
        return v
    if kind == "bool":
        return "true" if v else "false"
    return "" if v != v else str(int(v)) if kind == "int" else f"{v:.6g}"


def _json_value(kind: str, v):
    if kind == "text":
        return v
    if kind == "bool":
        return bool(v)
    if v != v:
        return None
    return int(v) if kind == "int" else _round6(v)


def _round6(v: float) -> float:
    from tokcost.render.bulk import round_sig

    return float(round_sig(np.array([v]))[0])


def test_sweep_csv_and_jsonl_are_the_row_by_row_text(monkeypatch):
    # the bulk writer (column-wise, in slices, parts and blocks) against each row written by Python on its own
    from tokcost.core.sweep import plan_sweep
    from tokcost.render import bulk
    from tokcost.render.sweep import csv_pieces, jsonl_pieces

    monkeypatch.setattr(bulk, "SLICE_ROWS", 700)
    monkeypatch.setattr(bulk, "_BLOCK_BYTES", 9_000)
    req = _req(
        models=[CAT.model("sdxl"), CAT.model("emu3-gen"), CAT.model("flux1-dev")],
        resolutions=[(512, 512), (1024, 1024), (1280, 720), (384, 384)],
        steps=[1, 9, 10, 99, 100, 250],
        batches=[1, 8, 16, 128],
        gpus=[1, 2],
    )
    for chunk in plan_sweep(req, chunk_rows=1000).chunks():
        rows = list(zip(*(chunk[c].tolist() for c in COLUMNS)))
        csv_rows = [",".join(_csv_value(COLUMN_KINDS[c], v) for c, v in zip(COLUMNS, r)) + "\n" for r in rows]
        assert b"".join(csv_pieces(chunk)).decode() == "".join(csv_rows)
        objects = [{c: _json_value(COLUMN_KINDS[c], v) for c, v in zip(COLUMNS, r)} for r in rows]
        json_rows = [json.dumps(o, separators=(",", ":")) + "\n" for o in objects]
        assert b"".join(jsonl_pieces(chunk)).decode() == "".join(json_rows)


ARGS = ["sweep", "--models", "sdxl,emu3-gen", "--hardware", "h100-sxm", "--resolutions", "512,768", "--batches", "1,4"]


def test_streamed_csv_and_jsonl_match_the_in_memory_formats(tmp_path):
    from tokcost import api

    result = api.sweep(
        models=["sdxl", "emu3-gen"], hardware=["h100-sxm"], resolutions=[(512, 512), (768, 768)], batches=[1, 4]
    )
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(app, [*ARGS, "--format", "csv", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text() == format_csv(result)
    lines = CliRunner().invoke(app, [*ARGS, "--format", "jsonl"]).stdout.splitlines()
    assert len(lines) == result.rows
    rows = [json.loads(line, parse_constant=lambda t: pytest.fail(t)) for line in lines]
    assert list(rows[0]) == list(COLUMNS) and rows[0]["frames"] is None


def test_a_stream_that_fails_midway_leaves_the_old_output(tmp_path, monkeypatch):
    import tokcost.core.sweep as core

    out = tmp_path / "s.csv"
    out.write_text("old\n")
    calls = {"n": 0}
    real = core.price_group

    def flaky(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError("out of memory in the second chunk")
        return real(*a, **kw)

    monkeypatch.setattr(core, "price_group", flaky)
    r = CliRunner().invoke(app, [*ARGS, "--format", "csv", "--output", str(out)], catch_exceptions=False)
    assert r.exit_code == 3 and "out of memory" in r.output  # a clear exit, not a traceback (issue 32)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"]  # no temporary file left behind


def test_formats_that_hold_every_row_refuse_a_sweep_too_large_for_memory(monkeypatch):
    import tokcost.core.sweep as core

    monkeypatch.setattr(core, "MAX_IN_MEMORY_ROWS", 3)
    r = CliRunner().invoke(app, [*ARGS, "--format", "json"])
    assert r.exit_code == 2 and "csv or jsonl" in r.output
    assert CliRunner().invoke(app, [*ARGS, "--format", "jsonl"]).exit_code == 0


def test_sweep_prices_cfg_parallel_for_a_unet_at_2_gpus_like_estimate():
    """Issue 31 item 10: SDXL batches its two guidance branches, so 2 GPUs split it by cfg, as `estimate --gpus 2`
    and analyze price it (the sweep used to skip it as sequence-parallel and then find nothing to price); the
    parallelism is a column."""
    import tokcost

    result = tokcost.sweep(models=["sdxl"], hardware=["h100-sxm"], resolutions=[(1024, 1024)], gpus=[2])
    assert result.rows == 2 and list(result.columns["parallelism"]) == ["cfg", "cfg"]
    assert not any(s.kind == "gpus" for s in result.skipped)
    for engine, latency in zip(result.columns["engine"], result.columns["latency_s"], strict=True):
        one = tokcost.estimate(model="sdxl", hardware="h100-sxm", gpus=2, engine=engine)
        assert one.parallelism == "cfg" and latency == pytest.approx(one.latency_s)
    assert "parallelism" in COLUMNS and "split" in format_table(result).splitlines()[0]
    assert format_csv(result).splitlines()[0].split(",")[COLUMNS.index("parallelism")] == "parallelism"


# ------------------------------------------------------------------------------------------------ parquet (#29)


def test_parquet_holds_the_same_rows_as_the_in_memory_result(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from tokcost import api

    result = api.sweep(
        models=["sdxl", "emu3-gen"], hardware=["h100-sxm"], resolutions=[(512, 512), (768, 768)], batches=[1, 4]
    )
    out = tmp_path / "s.parquet"
    r = CliRunner().invoke(app, [*ARGS, "--format", "parquet", "--output", str(out)])
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.column_names == list(COLUMNS) and table.num_rows == result.rows
    assert pq.ParquetFile(out).num_row_groups > 1  # a row group per chunk: one per model x engine here
    for c in COLUMNS:
        got, want = table.column(c).to_pylist(), result.columns[c].tolist()
        want = [None if isinstance(v, float) and v != v else v for v in want]  # NaN: null in Parquet
        assert got == want, c


def test_parquet_needs_an_output_file_and_pyarrow(tmp_path, monkeypatch):
    r = CliRunner().invoke(app, [*ARGS, "--format", "parquet"])
    assert r.exit_code == 2 and "--format parquet needs --output FILE" in r.output
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    out = tmp_path / "s.parquet"
    r = CliRunner().invoke(app, [*ARGS, "--format", "parquet", "--output", str(out)])
    assert r.exit_code == 2 and "pip install 'tokcost[parquet]'" in r.output
    assert not out.exists()
