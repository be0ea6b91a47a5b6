"""Fuzzing the CLI in-process: whatever a spec file holds, `check` and `analyze --format json` either succeed
(exit 0 or 1) or exit 2 with a message naming the file; they never raise an uncaught exception, and JSON on
stdout is always strict JSON (no NaN or Infinity).

CI runs a small number of examples; set TOKCOST_FUZZ_EXAMPLES for a long run (docs/fuzzing.md):

    TOKCOST_FUZZ_EXAMPLES=5000 PYTHONPATH=. python -m pytest tests/test_fuzz.py -q
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.io.catalog import Catalog

EXAMPLES = int(os.environ.get("TOKCOST_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="TOKCOST_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CATALOG = Catalog.default()
MODELS = CATALOG.ids("models")
HARDWARE = CATALOG.ids("hardware")
runner = CliRunner()

# ------------------------------------------------------------------------------------------------ strategies

EXTREME_NUMBERS = st.sampled_from(
    [
        0,
        -1,
        1,
        15,
        16,
        8192,
        8193,
        10**30,
        -(10**30),
        1e-300,
        1e308,
        0.5,
        2**63,
        math.nan,
        math.inf,
        -math.inf,
        1e11,
        1e12,
        600.0001,
    ]
)
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.floats(),
)


def _product(kind: str, draw) -> dict:
    p: dict = {
        "kind": kind,
        "width": draw(st.sampled_from([256, 512, 720, 1024, 1280, 2048])),
        "height": draw(st.sampled_from([256, 512, 720, 1024])),
    }
    if kind == "video":
        if draw(st.booleans()):
            p["frames"] = draw(st.integers(1, 400))
        else:
            p["seconds"], p["fps"] = draw(st.floats(0.1, 20)), draw(st.sampled_from([8, 16, 24, 30]))
    if kind == "perception":
        p["prompt_tokens"], p["answer_tokens"] = draw(st.integers(1, 4096)), draw(st.integers(1, 2048))
    if draw(st.booleans()):
        p["steps"] = draw(st.integers(1, 100))
    p["quality_tier"] = draw(st.sampled_from(["draft", "standard", "premium"]))
    return p


@st.composite
def valid_ish_specs(draw) -> dict:
    kind = draw(st.sampled_from(["image", "video", "perception"]))
    spec: dict = {
        "version": 1,
        "name": draw(st.text(min_size=1, max_size=20)),
        "product": _product(kind, draw),
        "demand": {"requests_per_day": draw(st.floats(1, 1e9)), "peak_to_mean": draw(st.floats(1, 10))},
        "budget": {"latency_s": draw(st.floats(0.01, 1e4))},
    }
    if draw(st.booleans()):
        spec["budget"]["cost_per_item_usd"] = draw(st.floats(1e-5, 10))
    if draw(st.booleans()):
        spec["budget"]["monthly_usd"] = draw(st.floats(1, 1e7))
    cand: dict = {
        "models": draw(st.lists(st.sampled_from(MODELS), min_size=1, max_size=2, unique=True)),
        "hardware": draw(st.lists(st.sampled_from(HARDWARE), min_size=1, max_size=2, unique=True)),
    }
    if draw(st.booleans()):
        cand["engines"] = draw(
            st.lists(st.sampled_from(["eager", "compiled", "vllm"]), min_size=1, max_size=3, unique=True)
        )
    if draw(st.booleans()):
        cand["precision"] = draw(st.sampled_from(["bf16", "fp16", "fp8", "int8", "int4"]))
    spec["candidates"] = cand
    for _ in range(draw(st.integers(0, 3))):
        _perturb(spec, draw)
    return spec


def _paths(obj, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _perturb(spec: dict, draw) -> None:
    paths = _paths(spec)
    if not paths:
        return
    path = draw(st.sampled_from(paths))
    parent = spec
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    action = draw(st.sampled_from(["number", "type", "delete", "unknown", "typo", "id"]))
    if action == "number":
        parent[key] = draw(EXTREME_NUMBERS)
    elif action == "type":
        parent[key] = draw(WRONG_TYPES)
    elif action == "delete":
        del parent[key]
    elif action == "unknown" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=10))] = draw(WRONG_TYPES)
    elif action == "typo" and isinstance(parent, dict) and isinstance(key, str) and len(key) > 2:
        parent[key[1] + key[0] + key[2:]] = parent.pop(key)
    elif action == "id":
        parent[key] = draw(st.sampled_from(MODELS + HARDWARE)) + draw(st.sampled_from(["", "x", "-2"]))


YAML_TEXT = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.lists(
        st.sampled_from(
            [
                "version: 1",
                "name: x",
                "product:",
                "  kind: image",
                "  width: 1024",
                "  - a",
                "&a [1, 2]",
                "*a",
                "<<: *a",
                "!!python/object/apply:os.system ['true']",
                "---",
                "\t",
                "  height: .nan",
                "? [a]",
                ": b",
                "{",
                "]",
                "'",
                "|",
                ">-",
                "~: ~",
                "budget: {latency_s: -1}",
                "demand: {requests_per_day: .inf}",
            ]
        ),
        max_size=12,
    ).map("\n".join),
)

# ------------------------------------------------------------------------------------------------ the checks


def _strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name} in output")

    return json.loads(text, parse_constant=refuse)


def _invoke_on(text: str | bytes, args_for) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        for args in args_for(str(path)):
            r = runner.invoke(app, args)
            assert r.exception is None or isinstance(r.exception, SystemExit), (
                f"{args}: uncaught {r.exception!r}\n{text!r}"
            )
            assert r.exit_code in (0, 1, 2), (args, r.exit_code, r.output)
            if r.exit_code == 2:
                assert re.search(re.escape(str(path)) + r":\d+:\d+: |^error: ", r.stderr, re.M), (
                    f"exit 2 without a positioned message: {r.stderr!r}"
                )
            elif "json" in args:
                _strict_json(r.stdout)
            assert not (Path(tmp) / "tokcost-pwned-marker").exists()


def _both(path: str) -> list[list[str]]:
    return [["check", path], ["analyze", path, "--format", "json"]]


@FUZZ
@given(valid_ish_specs())
def test_fuzzed_specs_never_crash(spec):
    _invoke_on(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), _both)


@FUZZ
@given(YAML_TEXT)
def test_random_yaml_text_never_crashes(text):
    _invoke_on(text, _both)


@FUZZ
@given(
    valid_ish_specs(),
    st.integers(0, 400),
    st.sampled_from(["\t", "\x00", "\xff", "!!", "&", "*", "<<", ":", "- ", "\n---\n", "{", "'", "%YAML 1.1\n"]),
)
def test_spliced_junk_never_crashes(spec, at, junk):
    text = yaml.safe_dump(spec, sort_keys=False)
    at = min(at, len(text))
    _invoke_on(text[:at] + junk + text[at:], lambda p: [["check", p]])


# ------------------------------------------------------------------ issue 32: trees near the schema, files kept

TREE_EXAMPLES = max(10, EXAMPLES // 3)
TREES = settings(FUZZ, max_examples=TREE_EXAMPLES)
ROOT = Path(__file__).resolve().parent.parent
GOOD_SPEC = ROOT / "specs" / "storefront-images.yaml"
# plain YAML scalars written as they are (not quoted by the dumper): YAML 1.1 forms, huge integers, specials
RAW_SCALARS = [
    "0512",
    "0o777",
    "0x1F",
    "1:30",
    "1_000",
    "0b11",
    "1e3",
    ".nan",
    "-.inf",
    "0x" + "f" * 5000,
    "9" * 5000,
    "1:" * 2000 + "1",
    "yes",
    "~",
    "2026-12-05",
]
HOSTILE_TEXT = st.sampled_from(
    [
        "::error::x",
        "\x1b]8;;https://e\x07x",
        "FLUX.1 [dev]",
        "![i](https://e/x.png)",
        "@user #1",
        "<!-- tokcost-check -->",
    ]
)
SCALARS = st.one_of(
    EXTREME_NUMBERS,
    st.integers(),
    st.text(max_size=8),
    HOSTILE_TEXT,
    st.booleans(),
    st.none(),
    st.sampled_from([f"RAW{i}RAW" for i in range(len(RAW_SCALARS))]),
)
KEYS = st.one_of(
    st.sampled_from(["name", "width", "hourly", "models", "latency_s", "kind", "preset", "id"]), st.text(max_size=6)
)
TREES_NEAR = st.recursive(
    SCALARS, lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(KEYS, kids, max_size=4)), max_leaves=12
)


def _graft(doc, draw) -> None:
    """Replace a random value of ``doc`` (or add one under a random mapping) with a random tree."""
    paths = _paths(doc)
    path = draw(st.sampled_from(paths))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and draw(st.booleans()):
        parent[draw(KEYS)] = draw(TREES_NEAR)
    else:
        parent[path[-1]] = draw(TREES_NEAR)


def _dump(doc) -> str:
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10**9)
    for i, raw in enumerate(RAW_SCALARS):
        text = text.replace(f"RAW{i}RAW", raw)
    return text


@st.composite
def spec_trees(draw) -> str:
    doc = yaml.safe_load(GOOD_SPEC.read_text())
    for _ in range(draw(st.integers(1, 3))):
        _graft(doc, draw)
    return _dump(doc)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _run_kept(tmp: Path, args: list[str], output: Path | None = None):
    """Run ``args``; no traceback, exit 0/1/2 (3, a failed write, has no cause here), and no file in ``tmp``
    changed but ``output``."""
    before = _snapshot(tmp)
    r = runner.invoke(app, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), f"{args}: uncaught {r.exception!r}"
    assert r.exit_code in (0, 1, 2), (args, r.exit_code, r.output[:500])
    after = _snapshot(tmp)
    changed = {n for n in set(before) | set(after) if before.get(n) != after.get(n)}
    assert changed <= ({output.name} if output is not None else set()), changed
    assert not [n for n in after if n.endswith(".tmp")]
    return r


@TREES
@given(spec_trees())
def test_spec_trees_near_the_schema_never_crash_or_touch_other_files(text):
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec = tmp / "spec.yaml"
        spec.write_text(text, encoding="utf-8")
        out = tmp / "out.json"
        r = _run_kept(tmp, ["check", str(spec), "--format", "markdown"])
        assert r.stdout.count("<!-- tokcost-check -->") <= 1
        r = _run_kept(tmp, ["analyze", str(spec), "--format", "json", "-o", str(out)], output=out)
        if r.exit_code in (0, 1):
            _strict_json(out.read_text())
        else:
            assert not out.exists()


_BASELINE: dict = {}


def _baseline_doc() -> dict:
    if not _BASELINE:
        r = runner.invoke(app, ["analyze", str(GOOD_SPEC), "--format", "json"])
        _BASELINE.update(json.loads(r.stdout))
    return json.loads(json.dumps(_BASELINE))


@st.composite
def baseline_trees(draw) -> str:
    doc = _baseline_doc()
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        value = draw(st.one_of(EXTREME_NUMBERS, WRONG_TYPES, HOSTILE_TEXT, st.just(0), st.just(-0.5)))
        parent[path[-1]] = value
    return json.dumps(doc, allow_nan=True)


@TREES
@given(baseline_trees())
def test_baseline_trees_never_crash_or_touch_other_files(text):
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = tmp / "base.json"
        base.write_text(text)
        for fmt in ("table", "markdown", "github"):
            args = ["check", str(GOOD_SPEC), "--baseline", str(base), "--format", fmt, "--max-cost-increase", "5"]
            r = _run_kept(tmp, args)
            assert "\x1b" not in r.stdout and r.stdout.count("<!-- tokcost-check -->") <= 1
        r = _run_kept(tmp, ["diff", str(base), str(base), "--format", "markdown"])
        assert r.exit_code in (0, 2)


CALIBRATION_TEXT = (ROOT / "tests" / "bad_input" / "calibrations" / "unknown-key.yaml").read_text()


@st.composite
def calibration_trees(draw) -> str:
    doc = yaml.safe_load(CALIBRATION_TEXT)
    doc.pop("fitted")
    for _ in range(draw(st.integers(0, 3))):
        _graft(doc, draw)
    return _dump(doc)


@TREES
@given(calibration_trees())
def test_calibration_trees_never_crash_or_touch_other_files(text):
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cal = tmp / "cal.yaml"
        cal.write_text(text, encoding="utf-8")
        for args in (
            ["estimate", "--model", "emu3-gen", "--calibration", str(cal)],
            ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--calibration", str(cal), "--format", "json"],
        ):
            r = _run_kept(tmp, args)
            assert r.exit_code in (0, 2)
            if r.exit_code == 2:
                assert re.search(re.escape(str(cal)) + r":\d+:\d+: |^error: ", r.stderr, re.M), r.stderr[:500]
