"""What a new user runs into (issue #18): forgiving ids, flags named in errors, consistent report lengths, honest
training answers, perception photos resized as VQA pipelines do, one summary from `check`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tokcost import api
from tokcost.cli.app import app
from tokcost.errors import InputError
from tokcost.render import advice

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "storefront-images.yaml"
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------------------------------------ ids


def test_ids_match_letter_case_aside():
    r = cli("estimate", "--model", "SDXL", "--hardware", "H100-SXM", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["model"], data["hardware"]) == ("sdxl", "h100-sxm")


@pytest.mark.parametrize("name", ["A100", "a100", "H100"])
def test_a_family_name_lists_its_presets_under_the_flag(name):
    r = cli("estimate", "--model", "sdxl", "--hardware", name)
    assert r.exit_code == 2
    line = next(ln for ln in r.output.splitlines() if ln.startswith("error:"))
    assert line.startswith("error: --hardware: unknown hardware id") and f"{name} is a family:" in line
    family = (
        ["a100-40gb-sxm", "a100-80gb-pcie", "a100-80gb-sxm"]
        if name.lower() == "a100"
        else ["h100-nvl", "h100-pcie", "h100-sxm"]
    )
    assert all(i in line for i in family)
    assert "(command line)" not in r.output


def test_a_misspelt_id_is_suggested_and_sweep_names_its_own_flags():
    r = cli("sweep", "--models", "SDX", "--hardware", "l4", "--resolutions", "512")
    assert r.exit_code == 2 and "error: --models: unknown model id 'SDX'; did you mean sdxl" in r.output


def test_spec_ids_are_forgiven_and_made_canonical_but_duplicates_still_refused():
    spec = yaml.safe_load(SPEC.read_text())
    spec["candidates"] = {"models": ["SDXL"], "hardware": ["H100-SXM"]}
    spec["pricing"] = {"usd_per_gpu_hour": {"H100-SXM": 2.0}}
    result = api.analyze(spec).specs[0]
    assert {(c.model, c.hardware) for c in result.candidates} == {("sdxl", "h100-sxm")}
    assert all(c.price.usd_per_gpu_hour == 2.0 for c in result.candidates)
    spec["candidates"]["models"] = ["sdxl", "SDXL"]
    with pytest.raises(InputError, match="listed twice"):
        api.analyze(spec)


# ------------------------------------------------------------------------------------------------ consistency


def test_top_sets_both_reports_and_they_say_the_same_about_the_rest():
    total = len(api.analyze(str(SPEC)).specs[0].candidates)
    table = cli("analyze", SPEC, "--top", 3).stdout
    markdown = cli("analyze", SPEC, "--top", 3, "--format", "markdown").stdout
    line = f"{total - 3} more candidates: --top {total} shows every one, as do the JSON and HTML reports."
    assert line in table and line in markdown
    assert (
        sum(
            1
            for ln in markdown.splitlines()
            if ln.startswith("| sdxl") or ln.startswith("| flux") or ln.startswith("| emu3")
        )
        == 3
    )


def test_schema_takes_format_json():
    r = cli("schema", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["title"].startswith("tokcost product spec")


def test_a_frame_rate_without_frames_is_refused():
    r = cli("tokens", "--model", "emu3-gen", "--width", 512, "--height", 512, "--fps", 24)
    assert r.exit_code == 2 and "error: --fps: a frame rate describes a clip: give frames too" in r.output
    assert "--seconds" not in cli("tokens", "--help").stdout


def test_check_prints_its_summary_once_and_names_baseline_limits_only():
    r = cli("check", SPEC)
    assert r.exit_code == 0
    assert r.output.count("tokcost check: 1 spec passed") == 1
    assert "(no baseline limits)" in r.output and "not gated" not in r.output


# ------------------------------------------------------------------------------------------------ training


def test_train_states_the_context_and_its_attention_share():
    full = api.train(model="emu3-gen", hardware="h100-sxm", tokens=300e9)
    short = api.train(model="emu3-gen", hardware="h100-sxm", tokens=300e9, context=4096)
    assert full.context == 131_072 and short.context == 4096
    assert full.attention_share > 0.5 > short.attention_share > 0
    # the attention share is what the longer context adds: the matmul FLOPs are the same
    assert full.flops * (1 - full.attention_share) == pytest.approx(short.flops * (1 - short.attention_share))
    assert any("longest context, 131,072 tokens" in n and "--context" in n for n in full.notes)
    assert not any("--context" in n for n in short.notes)


def test_train_compares_models_of_both_families_in_one_table():
    r = cli(
        "train", "--model", "emu3-gen", "--model", "sd3-medium", "--hardware", "h100-sxm",
        "--tokens", "300e9", "--samples", "1e9", "--format", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert [(x["model"], x["tokens"], x["samples"]) for x in runs] == [
        ("emu3-gen", 3e11, None),
        ("sd3-medium", None, 1e9),
    ]
    table = cli(
        "train",
        "--model",
        "emu3-gen",
        "--model",
        "sd3-medium",
        "--hardware",
        "h100-sxm",
        "--tokens",
        "3e11",
        "--samples",
        "1e9",
    )
    assert table.exit_code == 0 and "emu3-gen" in table.stdout and "sd3-medium" in table.stdout
    # without --samples, SD3 (no published count) is priced at its break-even with Emu3 (issue 31 item 15)
    missing = cli("train", "--model", "emu3-gen", "--model", "sd3-medium", "--hardware", "h100-sxm", "--tokens", "3e11")
    assert missing.exit_code == 0 and "matches emu3-gen's training compute" in " ".join(missing.stdout.split())
    alone = cli("train", "--model", "sd3-medium", "--model", "sd35-large", "--hardware", "h100-sxm")
    assert alone.exit_code == 2 and "error: --samples:" in alone.output


# ------------------------------------------------------------------------------------------------ perception


def test_a_large_photo_is_resized_for_fixed_size_vqa_models_not_refused():
    spec = yaml.safe_load((ROOT / "specs" / "photo-qa.yaml").read_text())
    spec["product"].update(width=768, height=768)
    spec["product"]["quality_tier"] = "draft"
    result = api.analyze(spec).specs[0]
    janus = [c for c in result.candidates if c.model == "janus-pro-7b"]
    assert janus and not any(v.kind == "size" for c in janus for v in c.violations)
    assert all("resized to 384x384" in " ".join(advice.notes(c)) for c in janus)
    assert all((c.width, c.height) == (768, 768) for c in janus)  # the product's size, as asked
    small = dict(spec, product={**spec["product"], "width": 384, "height": 384})
    janus_small = [c for c in api.analyze(small).specs[0].candidates if c.model == "janus-pro-7b"]
    assert janus_small[0].tokens == janus[0].tokens  # the same 384x384 input is priced


# ------------------------------------------------------------------------------------------------ numbers

EXPONENT = __import__("re").compile(r"\d\.?\d*e[+-]\d")


@pytest.mark.parametrize(
    "args",
    [
        ("train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens", "3e11"),
        (
            "train",
            "--model",
            "emu3-gen",
            "--model",
            "sdxl",
            "--hardware",
            "h100-sxm",
            "--tokens",
            "3e11",
            "--samples",
            "1e9",
        ),
        (
            "estimate",
            "--model",
            "wan21-14b",
            "--hardware",
            "h100-sxm",
            "--frames",
            "81",
            "--width",
            "1280",
            "--height",
            "720",
        ),
        ("estimate", "--model", "emu3-gen", "--hardware", "a100-80gb-sxm", "--width", "1024", "--height", "1024"),
        ("tokens", "--model", "emu3-gen", "--width", "1024", "--height", "1024"),
        ("sweep", "--models", "sdxl,emu3-gen", "--hardware", "h100-sxm", "--resolutions", "512,1024"),
        ("analyze", str(SPEC), "--format", "markdown"),
    ],
)
def test_human_formats_print_no_exponents_and_no_python_none(args):
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert not EXPONENT.search(r.stdout), EXPONENT.search(r.stdout)
    assert "None" not in r.stdout


def test_money_and_durations_read_as_such():
    r = cli("train", "--model", "emu3-gen", "--hardware", "h100-sxm", "--tokens", "3e11")
    assert re.search(r"\$\d{1,3},\d{3}\b", r.stdout) and "ZFLOP" in r.stdout and "300,000,000,000" in r.stdout
    r = cli(
        "estimate",
        "--model",
        "wan21-14b",
        "--hardware",
        "h100-sxm",
        "--frames",
        "81",
        "--width",
        "1280",
        "--height",
        "720",
    )
    assert " min" in r.stdout and "$1." in r.stdout


# ------------------------------------------------------------------------------------------------ charts


def test_cost_chart_labels_name_the_hardware_and_the_legend_matches_the_bars():
    from matplotlib.colors import to_hex

    from tokcost.core.charts import cost_chart
    from tokcost.render.html import bar_figure

    spec = api.analyze(str(ROOT / "specs" / "premium-1024.yaml")).specs[0]
    chart = cost_chart(spec)

    def chip(label: str) -> str:  # "sdxl / 2 x h100-sxm, cfg / compiled" -> "h100-sxm"
        return label.split(" / ")[1].split(" x ", 1)[-1].split(",")[0]

    assert all(chip(s.label) == s.group for s in chart.series)
    hardware = list(dict.fromkeys(s.group for s in chart.series))
    assert len(hardware) > 1
    ax = bar_figure(chart).axes[0]
    legend = {
        t.get_text(): to_hex(h.get_facecolor())
        for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)
        if t.get_text() in hardware
    }
    assert sorted(legend) == sorted(hardware) and len(set(legend.values())) == len(hardware)  # one colour each
    rows = ax.get_yticklabels()
    bars = ax.patches
    for label, bar in zip(reversed([r.get_text() for r in rows]), reversed(bars)):
        assert to_hex(bar.get_facecolor()) == legend[chip(label)]  # each bar in its hardware's legend colour


def test_analyze_chart_draws_the_family_candidate_the_text_names():
    from tokcost.core.charts import chart_candidates

    spec = api.analyze(str(SPEC)).specs[0]
    ar = [c for c in chart_candidates(spec) if c.family == "ar"]
    assert len(ar) == 1
    named = f"{ar[0].model} on {ar[0].replica} ({ar[0].engine})"
    assert any(named in line for line in advice.why(spec))


def test_sweep_chart_keeps_each_model_at_its_own_steps():
    from tokcost.core.charts import sweep_charts
    from tokcost.render.html import chart_words

    res = api.sweep(models=["sdxl", "sd3-medium"], hardware=["h100-sxm"], resolutions=[(512, 512), (1024, 1024)])
    latency = sweep_charts(res.columns)[0]
    models = {s.label.split(" / ")[0] for s in latency.series}
    assert models == {"sdxl", "sd3-medium"}
    assert latency.fixed_steps == {"sdxl": 50.0, "sd3-medium": 28.0}
    assert any("sdxl 50" in n and "sd3-medium 28" in n for n in chart_words(latency).notes)


def test_diffusion_training_defaults_to_the_published_run_where_there_is_one():
    r = cli("train", "--model", "sd15", "--hardware", "a100-80gb-sxm", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["samples"] == 1_541_000 * 2048  # the model card's steps x batch
    assert any("published training run" in n for n in data["notes"])
    r = cli("train", "--model", "sdxl", "--hardware", "a100-80gb-sxm")
    assert r.exit_code == 2 and "--samples" in r.output and "publishes no training sample count" in r.output


# ------------------------------------------------------------------------------------------------ progress


def test_long_commands_report_progress_to_their_hook_and_print_none_when_piped():
    from tokcost.core.analyze import analyze_loaded
    from tokcost.io.catalog import Catalog
    from tokcost.io.specs import load_specs

    cat = Catalog.default()
    loaded = load_specs([str(p) for p in sorted((ROOT / "specs").glob("*.yaml"))[:2]], cat)
    ticks = []
    analyze_loaded(loaded, cat, progress=lambda done, total: ticks.append((done, total)))
    assert ticks == [(1, 2), (2, 2)]
    r = cli("check", ROOT / "specs" / "storefront-images.yaml", ROOT / "specs" / "photo-qa.yaml", "--format", "json")
    assert r.exit_code == 0 and "check: specs analysed" not in r.output  # not a terminal: no bar
