"""Start-up stays cheap: importing the CLI pulls in no heavy optional dependency and parses no preset, and
`analyze` parses only the presets its spec names. Figures: `python benchmarks/startup.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "storefront-images.yaml"
HEAVY = ("torch", "matplotlib", "scipy", "pandas", "pyarrow")

PROBE = r"""
import json, sys
import tokcost.io.located as y
def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)

parsed = []
_load = y.load_file
def counting(path):
    parsed.append(str(path))
    return _load(path)
y.load_file = counting            # tokcost.io.parse binds it at import, so this comes first
import tokcost.cli.app
after_import = {"parsed": list(parsed), "modules": sorted(sys.modules)}
from typer.testing import CliRunner
r = CliRunner().invoke(tokcost.cli.app.app, sys.argv[1:])
import pydantic
built = sorted(  # the records whose validator pydantic has built (defer_build ones only once used)
    f"{cls.__module__}.{cls.__name__}" for cls in _subclasses(pydantic.BaseModel) if cls.__pydantic_complete__
)
print(json.dumps({"import": after_import, "exit": r.exit_code, "parsed": parsed, "modules": sorted(sys.modules),
                  "output_ok": r.stdout.lstrip().startswith("{") or r.stdout.startswith("tokcost "), "built": built}))

"""


def _probe(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TOKCOST_PRESETS", None)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_cli_is_light_and_parses_nothing():
    """Without yaml, pydantic or numpy imported, no preset can have been parsed or validated."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import json, sys, tokcost.cli.app; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    mods = set(json.loads(proc.stdout))
    for heavy in HEAVY + ("numpy", "pydantic", "yaml", "tokcost.io.catalog", "tokcost.records.presets"):
        assert heavy not in mods, f"`import tokcost.cli.app` imports {heavy}"


def test_version_parses_no_file():
    r = _probe("--version")
    assert r["exit"] == 0 and r["parsed"] == [] and r["import"]["parsed"] == []


def test_analyze_imports_no_torch_or_matplotlib_and_parses_only_named_presets():
    r = _probe("analyze", str(SPEC), "--format", "json")
    assert r["exit"] == 0 and r["output_ok"]
    mods = set(r["modules"])
    for heavy in HEAVY:
        assert heavy not in mods, f"`tokcost analyze` imports {heavy}"
    presets = sorted(
        Path(p).parent.name + "/" + Path(p).stem for p in r["parsed"] if Path(p).parent.name in ("models", "hardware")
    )
    assert presets == [
        "hardware/a100-80gb-sxm",
        "hardware/h100-sxm",
        "models/emu3-gen",
        "models/flux1-dev",
        "models/sdxl",
    ], presets
    assert len(r["parsed"]) == len(set(r["parsed"])), "a file was parsed twice"


# What `analyze` never uses: other commands' code, and their records (tokcost.api imports the records its checked
# functions name, for their annotations; they are defer_build, so importing them builds no validator).
NOT_ANALYZE = (
    "tokcost.core.simulate",
    "tokcost.core.sweep",
    "tokcost.core.estimate",
    "tokcost.core.fit",
    "tokcost.core.gate",
    "tokcost.io.trace",
    "tokcost.records.simulation",
    "tokcost.records.validation",
    "tokcost.records.gate",
    "numpy.ma",  # ~10 ms: numpy imports it on the first plain np.unique (one without return_index/inverse/counts)
)
UNBUILT = (
    "tokcost.records.estimate.EstimateRequest",
    "tokcost.records.estimate.EstimateResult",
    "tokcost.records.estimate.LowHigh",
    "tokcost.records.training.TrainResult",
    "tokcost.records.training.TrainComparison",
    "tokcost.records.tokens.TokensResult",
)


def test_analyze_imports_and_builds_only_what_it_uses():
    r = _probe("analyze", str(SPEC), "--format", "json")
    assert r["exit"] == 0 and r["output_ok"]
    mods = set(r["modules"])
    for module in NOT_ANALYZE:
        assert module not in mods, f"`tokcost analyze` imports {module}"
    built = set(r["built"])
    assert "tokcost.records.results.AnalysisResult" in built  # the probe sees what analyze builds
    for record in UNBUILT:
        assert record not in built, f"`tokcost analyze` builds the validator of {record}"
    # pydantic (records) and typer (commands) evaluate these modules' annotations on every run: a string
    # annotation costs a compile each (tokcost/records/base.py, tokcost/cli/__init__.py). Not evaluated: the
    # sweep's and the kernel tables' dataclasses' and those of request_options (generated: type aliases only).
    unevaluated = {"tokcost.records.sweep", "tokcost.records.kernels", "tokcost.cli.request_options"}
    for module in sorted(
        m for m in mods if m.startswith(("tokcost.records.", "tokcost.cli.")) and m not in unevaluated
    ):
        path = ROOT / module.replace(".", "/")
        source = (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text()
        assert "\nfrom __future__ import annotations\n" not in source, f"{module}: string annotations"


def test_deferred_records_still_validate():
    """defer_build moves the build to first use: the records still check what they are given."""
    import pydantic

    from tokcost.records.estimate import EstimateRequest
    from tokcost.records.tokens import TokensResult

    assert EstimateRequest(model="sdxl", batch=4).batch == 4
    for record, bad in ((EstimateRequest, {"model": "sdxl", "batch": 0}), (TokensResult, {"nonsense": 1})):
        try:
            record.model_validate(bad)
        except pydantic.ValidationError:
            continue
        raise AssertionError(f"{record.__name__} accepted {bad}")
