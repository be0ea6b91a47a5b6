"""The CI gate: `tokcost check` exit paths, baselines, `tokcost diff`, atomic writes, the PR formats (golden
files under tests/golden/, refreshed with `pytest --update-golden`) and the CI recipes."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tokcost import __version__
from tokcost.cli.app import app
from tokcost.cli.check import default_check_format
from tokcost.core.gate import compare, diff
from tokcost.io.baseline import load_result
from tokcost.io.located import load_file
from tokcost.records.gate import DiffResult, GateResult, Limits
from tokcost.render import registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "specs" / "storefront-images.yaml"
GOLDEN_IN = Path(__file__).parent / "golden" / "inputs"
CHECK_CMD = "tokcost check specs --baseline baseline.json --max-cost-increase 10 --max-latency-increase 20"


@pytest.fixture(autouse=True)
def _not_under_actions(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def spec(tmp_path, monkeypatch) -> Path:
    """specs/storefront-images.yaml copied to an empty working directory as s.yaml."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE, tmp_path / "s.yaml")
    return Path("s.yaml")


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def baseline(spec: Path, name: str = "base.json") -> Path:
    r = cli("analyze", spec, "--format", "json", "--output", name)
    assert r.exit_code in (0, 1), r.output  # 1: a spec without a feasible candidate, its result written all the same
    return Path(name)


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


# ----------------------------------------------------------------------------------------------- exit 0 / 1


def test_valid_spec_within_budget_exits_0(spec):
    r = cli("check", spec)
    assert r.exit_code == 0, r.output
    assert "1 spec passed" in r.stdout


def test_over_budget_exits_1_with_limit_numbers_and_fix(spec):
    edit(spec, "cost_per_item_usd: 0.01", "cost_per_item_usd: 0.0001")
    r = cli("check", spec)
    assert r.exit_code == 1
    line = line_of(spec, "cost_per_item_usd")
    assert f"s.yaml:{line}:" in r.stdout and "[error] cost_per_item_usd" in r.stdout
    assert "$0.0001 budget" in r.stdout and "fix:" in r.stdout


def test_infeasible_exits_1(spec):
    edit(spec, "latency_s: 10", "latency_s: 0.01")
    r = cli("check", spec)
    assert r.exit_code == 1
    assert "[error] feasibility" in r.stdout and "no candidate meets" in r.stdout


def test_baseline_unchanged_exits_0(spec):
    base = baseline(spec)
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10", "--max-latency-increase", "0")
    assert r.exit_code == 0, r.output
    assert "(unchanged)" in r.stdout and "(0%)" in r.stdout


def test_resolution_doubling_crosses_cost_limit_exits_1(spec):
    """The 'done' scenario: 1024 -> 2048 with --max-cost-increase 10 (a cost budget loose enough that 2048 px is
    still feasible, so the baseline limit is what fails)."""
    edit(spec, "cost_per_item_usd: 0.01", "cost_per_item_usd: 1.0")
    base = baseline(spec)
    edit(spec, "width: 1024", "width: 2048")
    edit(spec, "height: 1024", "height: 2048")
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10")
    assert r.exit_code == 1
    out = r.stdout
    assert "FAIL  storefront-images" in out
    assert re.search(r"cost/item  \$[\d.]+ -> \$[\d.]+  \(\+\d+\.\d%\)", out), out
    assert "[error] baseline_cost: cost per item rose +" in out
    assert "over the --max-cost-increase 10% limit" in out
    assert f"s.yaml:{line_of(spec, 'width:')}:" in out  # points at what changed
    assert "revert product.width (1024 -> 2048)" in out


def test_a_new_choice_alone_passes_the_gate_and_limits_still_fail_it(spec):
    """Item 8: a changed recommendation is reported, not failed (a 60% cheaper choice must be mergeable); the
    budgets and the --max-*-increase limits decide."""
    base = baseline(spec)
    edit(spec, "hardware: [h100-sxm, a100-80gb-sxm]", "hardware: [a100-80gb-sxm]")
    r = cli("check", spec, "--baseline", base)  # no percentage limits: nothing to fail on
    assert r.exit_code == 0, r.output
    assert "choice     sdxl on h100-sxm (compiled) -> sdxl on a100-80gb-sxm (compiled)" in r.stdout
    assert "candidates.hardware" in r.stdout and "baseline_choice" not in r.stdout
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10")  # a100 costs more per item
    assert r.exit_code == 1 and "[error] baseline_cost" in r.stdout
    assert "revert candidates.hardware" in r.stdout


def test_gate_names_every_changed_input_not_an_unchanged_spec(spec):
    """Item 8: pricing, gpus_per_replica and demand.hourly are inputs: a change there is named (and reverting it
    is the fix), never "the spec is unchanged, so a preset or the estimator changed"."""
    edit(spec, "cost_per_item_usd: 0.01", "cost_per_item_usd: 1.0")
    base = baseline(spec)
    text = spec.read_text()
    spec.write_text(text + "pricing:\n  usd_per_gpu_hour: {h100-sxm: 9.0, a100-80gb-sxm: 9.0}\n")
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10")
    assert r.exit_code == 1, r.output
    assert "pricing.usd_per_gpu_hour.h100-sxm unset -> 9" in r.stdout
    assert "revert pricing.usd_per_gpu_hour.h100-sxm (unset -> 9)" in r.stdout
    assert "a preset or the estimator changed" not in r.stdout
    edit(spec, "a100-80gb-sxm]\npricing", "a100-80gb-sxm]\n  gpus_per_replica: [1]\npricing")
    r = cli("check", spec, "--baseline", base)
    assert "candidates.gpus_per_replica [1, 2, 4, 8] -> [1]" in r.stdout, r.stdout
    spec.write_text(text.replace("  peak_to_mean: 3.0", "  hourly: [" + ", ".join(["1"] * 23 + ["5"]) + "]"))
    r = cli("check", spec, "--baseline", base)
    assert "demand.hourly unset -> [1, 1," in r.stdout, r.stdout


def test_cost_decrease_exits_0(spec):
    base = baseline(spec)
    # a cheaper GPU-hour: the same fleet and latency at a lower cost (less demand would also cost less, but its
    # smaller fleet runs busier, so its p95 rises: a latency regression the gate reports)
    r = cli(
        "check",
        spec,
        "--baseline",
        base,
        "--max-cost-increase",
        "0",
        "--max-latency-increase",
        "0",
        "--price",
        "h100-sxm=2.00",
    )
    assert r.exit_code == 0, r.output
    assert re.search(r"cost/item .*\(-\d+\.\d%\)", r.stdout), r.stdout


def test_spec_missing_from_baseline_is_new_not_a_failure(spec, tmp_path):
    other = tmp_path / "other.yaml"
    shutil.copy(EXAMPLE, other)
    edit(other, "name: storefront-images", "name: other")
    base = baseline(Path("other.yaml"))
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10")
    assert r.exit_code == 0, r.output
    assert "NEW   storefront-images" in r.stdout and "not in the baseline" in r.stdout
    assert "in the baseline but not checked: other" in r.stdout


def test_specs_matched_by_name_then_by_path(spec):
    base = baseline(spec)
    edit(spec, "name: storefront-images", "name: renamed")  # same file: matched by path
    r = cli("check", spec, "--baseline", base, "--format", "json")
    data = json.loads(r.stdout)
    assert data["specs"][0]["baseline"] == "matched"


# ----------------------------------------------------------------------------------------------- exit 2


def test_invalid_spec_exits_2(spec):
    spec.write_text("version: 1\nname: [\n")
    r = cli("check", spec)
    assert r.exit_code == 2
    assert "s.yaml:" in r.stderr and "YAML syntax error" in r.stderr


def test_invalid_spec_takes_precedence_over_budget_failure(spec, tmp_path):
    over = tmp_path / "over.yaml"
    shutil.copy(EXAMPLE, over)
    edit(over, "latency_s: 10", "latency_s: 0.01")
    edit(spec, "width: 1024", "width: wide")
    assert cli("check", spec, "over.yaml").exit_code == 2


def test_missing_baseline_exits_2(spec):
    r = cli("check", spec, "--baseline", "nope.json")
    assert r.exit_code == 2
    assert "baseline nope.json: no such file" in r.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ("[]", "not a tokcost analysis result"),
        ('{"schema_version": 99, "tool_version": "9", "specs": []}', "schema_version 99 but this tokcost reads"),
        ('{"schema_version": 3, "specs": [{"name": "x"}]}', "invalid result: tool_version: Field required"),
        ('{"schema_version": 1, "tool_version": "0.1", "specs": []}', "schema_version 1 but this tokcost reads"),
    ],
)
def test_corrupt_baseline_exits_2(spec, content, message):
    Path("base.json").write_text(content)
    r = cli("check", spec, "--baseline", "base.json")
    assert r.exit_code == 2
    assert message in r.stderr


def test_unreadable_baseline_exits_2(spec):
    Path("base.json").write_bytes(b"\xff\xfe\x00")
    r = cli("check", spec, "--baseline", "base.json")
    assert r.exit_code == 2 and "cannot read" in r.stderr


def test_limit_without_baseline_is_usage_error(spec):
    r = cli("check", spec, "--max-cost-increase", "10")
    assert r.exit_code == 2 and "need --baseline" in r.stderr


def test_negative_limit_is_usage_error(spec):
    assert cli("check", spec, "--baseline", "b.json", "--max-cost-increase", "-1").exit_code == 2


# ----------------------------------------------------------------------------------------------- pure compare


def _load(name: str):
    return load_result(GOLDEN_IN / name)


def _scaled(result, cost: float = 1.0, latency: float = 1.0):
    out = result.model_copy(deep=True)
    for s in out.specs:
        c = s.recommendation.choice
        if c is not None:
            c.fleet_cost_usd_per_item *= cost
            c.latency_s.central *= latency
            if c.latency_objective_s is not None:  # the gated latency: end to end at the percentile
                c.latency_objective_s *= latency
    return out


@pytest.mark.parametrize(
    "cost, latency, code, limits",
    [
        (1.05, 1.0, 0, []),  # +5% under a 10% limit
        (1.15, 1.0, 1, ["baseline_cost"]),
        (0.50, 1.0, 0, []),  # a decrease never fails
        (1.0, 1.30, 1, ["baseline_latency"]),  # +30% over a 20% limit
        (1.0, 0.70, 0, []),
        (1.15, 1.30, 1, ["baseline_cost", "baseline_latency"]),
    ],
)
def test_compare_both_directions(cost, latency, code, limits):
    base = _load("base.json")
    hero = base.model_copy(update={"specs": [s for s in base.specs if s.name == "storefront-hero"]})
    g = compare(_scaled(hero, cost, latency), base, Limits(max_cost_increase_pct=10, max_latency_increase_pct=20))
    assert g.exit_code == code
    assert [v.limit for v in g.specs[0].violations] == limits
    assert g.specs[0].cost_per_item_usd.change_pct == pytest.approx((cost - 1) * 100)


def test_compare_is_symmetric_in_direction():
    base, head = _load("base.json"), _load("head.json")
    limits = Limits(max_cost_increase_pct=10)
    forward = {s.name: s for s in compare(head, base, limits).specs}
    backward = {s.name: s for s in compare(base, head, limits).specs}
    assert "baseline_cost" in [v.limit for v in forward["storefront-thumbs"].violations]
    assert backward["storefront-thumbs"].passed  # a100 alone -> h100 again is a decrease
    assert (
        forward["storefront-thumbs"].cost_per_item_usd.change_pct
        > 0
        > backward["storefront-thumbs"].cost_per_item_usd.change_pct
    )


def test_no_baseline_no_baseline_violations():
    g = compare(_load("head.json"))
    assert all(s.baseline == "none" for s in g.specs)
    assert not any(v.limit.startswith("baseline") for s in g.specs for v in s.violations)


# ----------------------------------------------------------------------------------------------- baselines and analyze


def test_analyze_accepts_directory_and_writes_one_result(tmp_path, monkeypatch):
    monkeypatch.chdir(GOLDEN_IN / "head")
    out = tmp_path / "all.json"
    r = cli("analyze", "specs", "--format", "json", "--output", out)
    assert r.exit_code == 1, r.output  # two of the head specs have no feasible candidate: exit 1, result written
    names = [s.name for s in load_result(out).specs]
    assert [s.name for s in load_result(out).specs if s.recommendation.choice is None] == [
        "storefront-images",
        "storefront-realtime",
    ]
    assert sorted(names) == ["storefront-hero", "storefront-images", "storefront-realtime", "storefront-thumbs"]


def test_analyze_accepts_several_specs(spec, tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "b.yaml")
    edit(Path("b.yaml"), "name: storefront-images", "name: b")
    r = cli("analyze", spec, "b.yaml", "--format", "json")
    assert [s["name"] for s in json.loads(r.stdout)["specs"]] == ["storefront-images", "b"]


def test_failed_analyze_leaves_existing_output_untouched(spec):
    Path("base.json").write_text("OLD")
    spec.write_text("version: 1\nname: broken\nproduct: {kind: image}\n")
    r = cli("analyze", spec, "--format", "json", "--output", "base.json")
    assert r.exit_code == 2
    assert Path("base.json").read_text() == "OLD"


def test_interrupted_write_keeps_old_file_and_no_temp(spec, tmp_path, monkeypatch):
    Path("base.json").write_text("OLD")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    r = cli("analyze", spec, "--format", "json", "--output", "base.json")
    assert r.exit_code == 3 and "cannot write base.json" in r.stderr  # a full disk is an I/O failure: exit 3
    assert Path("base.json").read_text() == "OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.json", "s.yaml"]


# ----------------------------------------------------------------------------------------------- formats


def test_every_format_has_a_formatter():
    g = compare(_load("head.json"), _load("base.json"), Limits(max_cost_increase_pct=10))
    for fmt in registry.formats("check"):
        assert registry.render("check", fmt, g)
    d = diff(_load("base.json"), _load("head.json"))
    for fmt in registry.formats("diff"):
        assert registry.render("diff", fmt, d)


def test_github_format_is_default_under_actions(spec):
    assert default_check_format(None, {"GITHUB_ACTIONS": "true"}) == "github"
    assert default_check_format(None, {}) == "table"
    assert default_check_format("markdown", {"GITHUB_ACTIONS": "true"}) == "markdown"
    edit(spec, "cost_per_item_usd: 0.01", "cost_per_item_usd: 1.0")  # 2048 px stays feasible
    base = baseline(spec)
    edit(spec, "width: 1024", "width: 2048")
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10", env={"GITHUB_ACTIONS": "true"})
    assert r.exit_code == 1
    line = line_of(spec, "width:")
    assert f"::error file=s.yaml,line={line},col=10,title=tokcost baseline_cost (product.width)::" in r.stdout
    assert "%25" in r.stdout  # '%' escaped as GitHub requires


def test_json_format_is_the_gate_result(spec):
    base = baseline(spec)
    edit(spec, "width: 1024", "width: 2048")
    r = cli("check", spec, "--baseline", base, "--max-cost-increase", "10", "--format", "json")
    g = GateResult.model_validate_json(r.stdout)
    assert g.exit_code == 1 == r.exit_code
    assert g.specs[0].changes[0].field == "product.width"


def test_diff_command_past_now_delta(spec):
    edit(spec, "cost_per_item_usd: 0.01", "cost_per_item_usd: 1.0")  # 2048 px stays feasible
    base = baseline(spec)
    edit(spec, "width: 1024", "width: 2048")
    head = baseline(spec, "head.json")
    r = cli("diff", base, head, "--format", "json")
    assert r.exit_code == 0
    d = DiffResult.model_validate_json(r.stdout)
    s = d.specs[0]
    assert s.status == "matched" and s.cost_per_item_usd.change_pct > 0
    assert len(s.candidates) == len(load_result(head).specs[0].candidates)
    assert all(c.status == "matched" for c in s.candidates)
    # a fleet cost wherever some fleet meets the latency objective, on both sides
    assert any(c.cost_per_item_usd.before is not None and c.cost_per_item_usd.after is not None for c in s.candidates)
    table = cli("diff", base, head)
    assert table.exit_code == 0 and "inputs changed: product.width 1024 -> 2048" in table.stdout


def test_diff_with_missing_file_exits_2(spec):
    base = baseline(spec)
    assert cli("diff", base, "nope.json").exit_code == 2


def test_diff_candidates_added_and_removed():
    d = diff(_load("base.json"), _load("head.json"))
    thumbs = next(s for s in d.specs if s.name == "storefront-thumbs")
    assert {c.status for c in thumbs.candidates} == {"matched", "removed"}
    realtime = next(s for s in d.specs if s.name == "storefront-realtime")
    assert realtime.status == "added" and all(c.status == "added" for c in realtime.candidates)


# ----------------------------------------------------------------------------------------------- golden files


def normalize(text: str) -> str:
    """Strip what varies between machines and releases: paths, versions, timestamps."""
    text = text.replace(str(ROOT), "<ROOT>").replace(__version__, "<VERSION>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<TIME>", text)
    return re.sub(r"(/tmp|/private/var)/[^\s'\"`),]+", "<TMP>", text)


def _golden_gate() -> GateResult:
    docs: dict[str, object] = {}

    def locate(file: str, path: tuple):
        doc = docs.setdefault(file, load_file(GOLDEN_IN / "head" / file))
        return doc.where(path)

    return compare(
        _load("head.json"),
        _load("base.json"),
        Limits(max_cost_increase_pct=10, max_latency_increase_pct=20),
        locate,
        "baseline.json",
    )


@pytest.mark.parametrize(
    "fmt, name",
    [("markdown", "check.md"), ("github", "check.github.txt"), ("table", "check.table.txt"), ("json", "check.json")],
)
def test_check_golden(golden, fmt, name):
    golden(name, normalize(registry.render("check", fmt, _golden_gate())))


@pytest.mark.parametrize("fmt, name", [("markdown", "diff.md"), ("table", "diff.table.txt")])
def test_diff_golden(golden, fmt, name):
    golden(name, normalize(registry.render("diff", fmt, diff(_load("base.json"), _load("head.json")))))


def test_golden_scenario_covers_every_outcome():
    g = _golden_gate()
    by = {s.name: s for s in g.specs}
    assert [v.limit for v in by["storefront-images"].violations] == ["cost_per_item_usd"]  # 2048 px: over budget
    assert [v.limit for v in by["storefront-thumbs"].violations] == ["baseline_cost"]
    thumbs = by["storefront-thumbs"]  # its choice changed: reported, and the limits decide
    assert (thumbs.choice_before, thumbs.choice_after) != (None, None)
    assert thumbs.choice_before != thumbs.choice_after
    assert all(v.limit != "baseline_choice" for s in g.specs for v in s.violations)
    assert by["storefront-hero"].passed and by["storefront-hero"].cost_per_item_usd.change_pct < 0
    assert (
        by["storefront-realtime"].baseline == "new" and by["storefront-realtime"].violations[0].limit == "feasibility"
    )
    assert g.exit_code == 1


def test_normalize_strips_paths_versions_and_times():
    assert (
        normalize(f"{ROOT}/specs v{__version__} at 2025-01-02T03:04:05Z in /tmp/pytest-1/x.yaml")
        == "<ROOT>/specs v<VERSION> at <TIME> in <TMP>"
    )


# ----------------------------------------------------------------------------------------------- CI recipes


def _workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "tokcost.yml").read_text())


def test_workflow_parses_and_runs_the_documented_command():
    wf = _workflow()
    trigger = wf.get("on", wf.get(True))  # PyYAML reads the bare key `on` as True
    assert trigger["pull_request"]["paths"] == ["specs/**"]
    steps = wf["jobs"]["check"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert any("git worktree add" in r and "tokcost analyze specs --format json --output" in r for r in runs)
    checks = [r for r in runs if "tokcost check" in r]
    assert len(checks) == 2 and all(CHECK_CMD in r for r in checks)
    assert any(f"{CHECK_CMD} --format markdown" in r and "GITHUB_STEP_SUMMARY" in r for r in checks)
    assert any("gh pr comment" in r for r in runs)
    assert wf["permissions"]["pull-requests"] == "write"
    docs = (ROOT / "docs" / "ci.md").read_text()
    assert CHECK_CMD in docs
    for block in re.findall(r"```yaml\n(.*?)```", docs, re.S):
        yaml.safe_load(block)


@pytest.mark.parametrize("analyze_exit, step_ok", [(0, True), (1, True), (2, False)])
def test_baseline_step_accepts_an_infeasible_target_branch_but_not_bad_input(tmp_path, analyze_exit, step_ok):
    """The workflow's baseline step run by bash -e with stand-ins for git and tokcost: `analyze` exit 1 (a spec
    with no feasible candidate, its result written) keeps the job going; exit 2 (bad input) stops it."""
    step = next(s for s in _workflow()["jobs"]["check"]["steps"] if "git worktree add" in s.get("run", ""))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text('#!/bin/sh\nmkdir -p "$4/specs" && touch "$4/specs/a.yaml"\n')
    (bin_dir / "tokcost").write_text(f'#!/bin/sh\necho {{}} > "$6"\nexit {analyze_exit}\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_WORKSPACE": str(tmp_path),
        "BASE_REF": "main",
    }
    r = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (r.returncode == 0) == step_ok, r.stderr
    assert (tmp_path / "baseline.json").exists()


def test_documented_command_passes_on_unchanged_specs(tmp_path, monkeypatch):
    """What the workflow does on a pull request that changes nothing that matters."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    assert cli("analyze", "specs", "--format", "json", "--output", "baseline.json").exit_code == 0
    r = cli(*shlex.split(CHECK_CMD)[1:])
    assert r.exit_code == 0, r.output


def test_pre_commit_hook():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "tokcost-check")
    assert hook["entry"] == "tokcost check"
    assert hook["files"] == r"^specs/.*\.ya?ml$"
    pattern = re.compile(hook["files"])
    assert pattern.search("specs/a.yaml") and pattern.search("specs/b.yml") and not pattern.search("docs/a.yaml")


def test_diff_shows_changed_candidates_unless_all():
    """A result against itself: nothing changed, so no candidate rows unless --all; batch and GPUs are shown."""
    base = _load("base.json")
    d = diff(base, base)
    n = len(d.specs[0].candidates)
    assert n and not any(c.changed for c in d.specs[0].candidates)
    table = registry.render("diff", "table", d)
    assert f"{n} unchanged candidates not shown (--all shows them)." in table
    every = registry.render("diff", "table", d, every=True)
    assert "batch" in every and "GPUs" in every and "unchanged candidates not shown" not in every
    changed = diff(base, _load("head.json"))
    shown = [c for s in changed.specs for c in s.candidates if c.changed]
    assert shown and all(c.model in registry.render("diff", "markdown", changed) for c in shown)
