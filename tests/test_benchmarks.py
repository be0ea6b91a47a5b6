"""benchmarks/run_all.py runs and prints every figure with its yardstick (a smoke test on a tiny sweep: the figures
themselves are measurements, never asserted here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sweep_figures_run_on_a_tiny_grid(capsys):
    run_all = _run_all()
    tiny = "--models sdxl --hardware h100-sxm --resolutions 512,768 --batches 1,2 --steps 1,2,3"
    assert run_all.main(["--skip-analyze", "--sweep-runs", "1", "--sweep-args", tiny]) == 0
    out = capsys.readouterr().out
    for fmt in ("csv", "jsonl"):
        assert f"{fmt} rows/s by CPU time" in out and f"{fmt} peak RSS (MB)" in out
    assert "1,000,000" in out and "300" in out  # the yardsticks printed beside the figures


def test_the_report_puts_each_ratio_beside_its_target():
    run_all = _run_all()
    figures = {
        "analyze": {
            "runs": 3,
            "cpu_s": {"floor": 0.2, "storefront-images": 0.38, "thumbnails-512-fast": 0.9, "llm-analysis": 0.45},
            "ratios": {
                "storefront-images/floor": 1.9,
                "storefront-images/llm-analysis": 0.85,
                "thumbnails-512-fast/llm-analysis": 2.0,
            },
        }
    }
    lines = run_all.report(figures).splitlines()
    row = {line.split()[0] + " " + line.split()[2]: line for line in lines if " / " in line}
    assert row["storefront-images floor"].split()[-4:] == ["1.90x", "<=", "2.0x", "ok"]
    assert row["storefront-images llm-analysis"].split()[-1] == "MISSED"
    assert row["thumbnails-512-fast llm-analysis"].split()[-4:] == ["2.00x", "<=", "1.0x", "MISSED"]


def test_the_profile_report_lists_where_analyze_spends_its_time():
    run_all = _run_all()
    figures = {
        "profile": {
            "storefront-images": {
                "total_s": 1.5,
                "imports_s": 1.1,
                "top": [
                    (0.02, 73, "tokcost/core/capacity.py:erlang_c"),
                    (0.01, 288, "tokcost/core/queueing.py:exceeds"),
                ],
            }
        }
    }
    lines = run_all.report(figures).splitlines()
    assert any("storefront-images" in line and "1.10 s importing" in line for line in lines)
    assert any("capacity.py:erlang_c" in line and "73 calls" in line for line in lines)
