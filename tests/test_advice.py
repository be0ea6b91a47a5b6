"""Advice you can act on (issue 31): the core returns facts, :mod:`tokcost.render.advice` writes the sentences, and
every "what would change the answer" is a verified counterfactual: the spec with the suggested changes applied,
analysed again from scratch through the public API, makes the named candidate feasible (or the recommendation)."""

from __future__ import annotations

import ast
import copy
import itertools
import re
from pathlib import Path

import pytest
import yaml

from tokcost import api
from tokcost.core.gate import diff
from tokcost.core.plan import service_high_s
from tokcost.io import engines
from tokcost.records.results import AnalysisResult, SpecResult
from tokcost.render import advice, registry
from tokcost.render.markdown import format_markdown
from tokcost.render.table import format_table
from tokcost.text import secs, sig

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
STOREFRONT = ROOT / "specs" / "storefront-images.yaml"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _analyze(doc: dict) -> SpecResult:
    return api.analyze(copy.deepcopy(doc)).specs[0]


def _applied(doc: dict, changes) -> dict:
    """``doc`` with each dotted field set, as a person would edit the YAML (independent of the core's own)."""
    out = copy.deepcopy(doc)
    for ch in changes:
        *path, last = ch.field.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = ch.value
    return out


def _verify(doc: dict, result: SpecResult) -> int:
    """Re-analyse ``doc`` with each suggestion of ``result`` applied; the named candidate must then be feasible
    (goal feasible) or the recommendation (goal chosen). Returns how many suggestions were checked."""
    for s in result.recommendation.suggestions:
        assert not re.search(r"\d[eE][+-]?\d", advice.suggestion(result, s))  # values as typed into a spec
        after = _analyze(_applied(doc, s.changes))
        named = after.candidate(s.candidate)
        assert named is not None, s
        assert named.feasible, (s, named.violations)
        if s.goal == "chosen":
            assert after.recommendation.choice is not None and after.recommendation.choice.key == s.candidate
        if not s.single:  # the smallest set: dropping any one change leaves the candidate infeasible
            for i in range(len(s.changes)):
                rest = s.changes[:i] + s.changes[i + 1 :]
                again = _analyze(_applied(doc, rest)).candidate(s.candidate)
                assert again is None or not again.feasible, (s, i)
    return len(result.recommendation.suggestions)


@pytest.fixture(scope="module")
def examples() -> dict[str, tuple[dict, SpecResult]]:
    return {p.stem: (_load(p), _analyze(_load(p))) for p in EXAMPLES}


# ------------------------------------------------------------------------------------------- verified counterfactuals


def test_every_suggestion_of_every_example_spec_makes_its_candidate_feasible(examples):
    checked = sum(_verify(doc, result) for doc, result in examples.values())
    assert checked >= len(examples) - 1  # the examples do carry suggestions (one has a single family)


GRID_MODELS = (["sdxl-turbo", "chameleon-7b"], ["sdxl", "flux1-schnell", "emu3-gen"])
GRID = list(
    itertools.product(
        GRID_MODELS,  # candidates
        ("draft", "standard", "premium"),  # quality tiers
        (0.5, 4.0, 30.0),  # latency budgets
        (None, 0.00001, 0.002),  # cost budgets
    )
)


@pytest.mark.parametrize("models, tier, latency, cost", GRID[::3] + GRID[1::7])
def test_generated_specs_suggestions_make_the_named_candidate_feasible(models, tier, latency, cost):
    """Budgets x quality tiers x candidate sets: every suggestion, applied to the spec and re-planned from scratch,
    makes its candidate feasible; a spec with nothing feasible whose candidates have only fixable violations gets a
    suggestion."""
    doc = {
        "version": 1,
        "name": "grid",
        "product": {"kind": "image", "width": 512, "height": 512, "quality_tier": tier},
        "demand": {"requests_per_day": 100_000, "peak_to_mean": 2.0},
        "budget": {"latency_s": latency, **({"cost_per_item_usd": cost} if cost else {})},
        "candidates": {"models": models, "hardware": ["l40s", "h100-sxm", "b200"]},
    }
    result = _analyze(doc)
    _verify(doc, result)
    fixable = {"quality", "memory", "latency", "load", "cost_per_item", "monthly"}
    if result.recommendation.choice is None and any(
        c.violations
        and {v.kind for v in c.violations} <= fixable
        and not any(v.kind == "quality" and tier == "draft" for v in c.violations)
        for c in result.candidates
    ):
        assert result.recommendation.suggestions


def test_suggestion_respects_the_cost_budget_as_well_as_latency(examples):
    """Item 1: a latency budget alone does not make Emu3 feasible on the storefront (its cost breaks the $0.01
    budget), so the suggestion names both changes, and says no single change suffices."""
    doc, result = examples["storefront-images"]
    (s,) = [s for s in result.recommendation.suggestions if s.candidate.model == "emu3-gen"]
    assert {c.field for c in s.changes} == {"budget.latency_s", "budget.cost_per_item_usd"} and not s.single
    text = advice.suggestion(result, s)
    assert "no single change suffices" in text and "budget.cost_per_item_usd" in text
    latency_only = _analyze(_applied(doc, [c for c in s.changes if c.field == "budget.latency_s"]))
    assert not latency_only.candidate(s.candidate).feasible  # the first change alone is not enough
    for name in ("storefront-images", "thumbnails-512-fast"):
        doc, result = examples[name]
        for line in advice.what_would_change(result):
            assert "becomes feasible with" in line or "becomes the recommendation with" in line


def test_no_budget_is_suggested_that_the_candidate_already_meets():
    """Item 3: with a 0.5 s budget that FLUX.1-schnell on B200 already meets, the blocker is cost and the monthly
    cap, so no suggestion raises the latency budget to its own latency."""
    doc = {
        "version": 1,
        "name": "tight",
        "product": {"kind": "image", "width": 1024, "height": 1024, "quality_tier": "draft"},
        "demand": {"requests_per_day": 100_000, "peak_to_mean": 2.0},
        "budget": {"latency_s": 0.5, "cost_per_item_usd": 0.00001, "monthly_usd": 1000},
        "candidates": {"models": ["flux1-schnell"], "hardware": ["b200"]},
    }
    result = _analyze(doc)
    assert result.recommendation.choice is None
    assert result.recommendation.suggestions
    for s in result.recommendation.suggestions:
        fields = {c.field for c in s.changes}
        assert "budget.latency_s" not in fields, s
        assert fields <= {"budget.cost_per_item_usd", "budget.monthly_usd"}
    assert _verify(doc, result)
    text = " ".join(advice.why(result))
    assert "cost more" in text and "a budget of that much" not in text


def test_no_feasible_option_names_the_missing_score_and_the_draft_tier():
    """Item 4: sdxl-turbo publishes no GenEval score, so the standard tier blocks it: the summary says so (not
    "conditioned on class labels", not "relax the budget") and the fix is product.quality_tier: draft."""
    doc = {
        "version": 1,
        "name": "thumbs",
        "product": {"kind": "image", "width": 512, "height": 512},
        "demand": {"requests_per_day": 50_000},
        "budget": {"latency_s": 5},
        "candidates": {"models": ["sdxl-turbo", "llamagen-xl"], "hardware": ["l40s"]},
    }
    result = _analyze(doc)
    assert result.recommendation.choice is None
    (fix,) = result.recommendation.suggestions
    assert fix.candidate.model == "sdxl-turbo" and [(c.field, c.value) for c in fix.changes] == [
        ("product.quality_tier", "draft")
    ]
    why = " ".join(advice.why(result))
    assert "sdxl-turbo (no published geneval score)" in why and "standard tier (the default)" in why
    (v,) = result.violations
    message, hint = advice.gate_problem(v)
    assert v.field == "product.quality_tier" and "product.quality_tier: draft" in hint
    assert "relax the budget" not in hint
    _verify(doc, result)


# ------------------------------------------------------------------------------------------- the sentences


def test_fastest_ar_sentence_quotes_batch_1_latency(examples):
    """Item 2: the sentence names the candidate fastest at batch 1 and its batch-1 service time, not the service of
    the batch its fleet would run."""
    _, result = examples["storefront-images"]
    (ar,) = [f for f in result.recommendation.families if f.family == "ar"]
    c = result.candidate(ar.candidate)
    ars = [x for x in result.candidates if x.family == "ar"]
    assert c.latency_b1_s == min(x.latency_at_batch_1 for x in ars)
    line = advice.family(result, ar)
    assert f"takes {secs(c.latency_b1_s)} per image at batch 1" in line
    assert c.hardware == "h100-sxm" and c.gpus_per_replica == 8


def test_runner_up_sentence_says_it_skips_the_same_model_and_hardware():
    """Item 5: the runner-up rule is stated, with how many options of the choice's model and hardware it passed."""
    doc = _load(ROOT / "specs" / "thumbnails-512-fast.yaml")
    result = _analyze(doc)
    rec = result.recommendation
    assert rec.runner_up is not None and rec.runner_up_rule == "cheapest_other_model_or_hardware"
    runner = result.candidate(rec.runner_up)
    assert (runner.model, runner.hardware) != (rec.choice.model, rec.choice.hardware)
    line = next(r for r in advice.why(result) if r.startswith("Runner-up"))
    assert "the cheapest feasible option with another model or hardware" in line
    if rec.runner_up_skipped:
        assert f"{rec.runner_up_skipped} option" in line and "skipped" in line


def test_prices_read_dates_are_the_quotes_not_the_run_date(examples):
    """Item 6: "prices read 2026-01-21 to 2026-09-25", the oldest and newest quote the candidates use."""
    _, result = examples["thumbnails-512-fast"]
    dates = sorted(c.price.date for c in result.candidates if c.price is not None and c.price.date)
    assert (result.pricing.read_from, result.pricing.read_to) == (dates[0], dates[-1])
    text = " ".join(format_table(AnalysisResult(tool_version="t", specs=[result]), width=200).split())
    assert f"prices read {dates[0]} to {dates[-1]}" in text
    assert "prices as of" not in text


def test_throughput_column_is_per_gpu_and_the_replica_figure_is_labelled(examples):
    """Item 7: an 8-GPU replica's items/s/GPU is its replica figure over 8; the sentence gives both, labelled."""
    _, result = examples["storefront-images"]
    multi = next(c for c in result.candidates if c.gpus_per_replica > 1)
    assert multi.throughput_per_gpu == pytest.approx(multi.throughput_items_per_s.central / multi.gpus_per_replica)
    md = format_markdown(AnalysisResult(tool_version="t", specs=[result]), top=len(result.candidates))
    row = next(line for line in md.splitlines() if line.startswith(f"| {multi.model} | {multi.replica} |"))
    assert f"| {sig(multi.throughput_per_gpu)} |" in row
    video = _analyze(_load(ROOT / "specs" / "video-clips-5s.yaml"))
    c = video.recommendation.choice
    if c.gpus_per_replica > 1:
        assert f"({c.throughput_per_gpu:.3g} per GPU)" in advice.why(video)[1]


def test_diff_prints_plain_seconds_and_the_replica_shape(examples):
    """Item 9: no exponent in a latency (1,070 s, not 1.07e+03 s) and the replica as "8 x h100-sxm, tp"."""
    _, result = examples["storefront-images"]
    slow = result.model_copy(deep=True)
    for c in slow.candidates:
        if c.latency_objective_s is not None:
            c.latency_objective_s *= 150
    base, head = AnalysisResult(tool_version="t", specs=[result]), AnalysisResult(tool_version="t", specs=[slow])
    for fmt in ("table", "markdown"):
        text = registry.render("diff", fmt, diff(base, head), every=True)
        assert not re.search(r"\d[eE][+-]\d", text), text
        assert "8 x h100-sxm, tp" in text
        assert re.search(r"1,\d{3} s", text)


def test_peak_to_mean_default_and_the_tier_exclusion_are_stated():
    """Item 13: a spec without peak_to_mean says the default it applied; a tier that rules a model out says so."""
    doc = {
        "version": 1,
        "name": "flat",
        "product": {"kind": "image", "width": 512, "height": 512},
        "demand": {"requests_per_day": 50_000},
        "budget": {"latency_s": 5},
        "candidates": {"models": ["sdxl-turbo", "sdxl"], "hardware": ["l40s"]},
    }
    result = _analyze(doc)
    assert result.defaults == ["product.quality_tier", "demand.peak_to_mean"]
    text = " ".join(format_table(AnalysisResult(tool_version="t", specs=[result]), width=200).split())
    assert "demand.peak_to_mean 1 (no peak above the mean)" in text
    assert "The standard tier (the default) rules out sdxl-turbo (no published geneval score)" in text
    assert advice.status(result.candidate(result.candidates[-1].key)) in ("no quality score", "yes")


# ------------------------------------------------------------------------------------------- facts, not words


def test_violations_are_typed_facts_and_nothing_reads_message_text(examples):
    for _, result in examples.values():
        for c in result.candidates:
            assert c.feasible == (not c.violations)
            for v in c.violations:
                assert v.kind in advice.SHORT or v.kind == "quality"
                assert advice.violation(v, c, result)  # every kind has words


CORE = ROOT / "tokcost" / "core"


def _words(text: str) -> int:
    return sum(1 for w in text.split() if any(ch.isalpha() for ch in w))


def english_strings(path: Path) -> list[tuple[int, str]]:
    """String literals and f-strings of three words or more, docstrings and exception messages aside."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.Raise):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node) if n is not node)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _words(text) >= 3:
            out.append((node.lineno, text))
    return out


def test_no_module_under_core_builds_english_sentences():
    """Every module under core/ returns typed facts; the words are render/'s (chart titles and captions, sweep
    skips, prices, validation gate failures included)."""
    found = {p.name: english_strings(p) for p in sorted(CORE.glob("*.py"))}
    assert len(found) > 10 and {"plan.py", "charts.py", "pricing.py", "validate.py"} <= set(found)
    assert {name: strings for name, strings in found.items() if strings} == {}
    assert english_strings.__doc__  # the scan itself finds a sentence where there is one:
    assert english_strings(Path(__file__))  # this file is full of them


# ------------------------------------------------------------------------------------------- presets (item 11)


def test_emu3_video_says_baai_released_no_video_checkpoint(examples):
    _, result = examples["video-clips-5s"]
    emu3 = [c for c in result.candidates if c.model == "emu3-gen"]
    assert emu3 and all(c.unreleased and c.publisher == "BAAI" for c in emu3)
    assert "BAAI released no video checkpoint of emu3-gen" in " ".join(advice.why(result))
    assert "BAAI released no video checkpoint of emu3-gen" in advice.notes(emu3[0])[0]
    _, images = examples["storefront-images"]
    assert not any(c.unreleased for c in images.candidates)  # Emu3-Gen's image checkpoint is public


def test_janus_pro_is_judged_by_its_published_mmmu_score(examples):
    """The Janus-Pro paper (arXiv 2501.17811, table 3) reports MMMU 41.0 for the 7B model: the standard tier's 30
    accepts it, the premium tier's 45 does not (and says by how much), never "no published mmmu score"."""
    from tokcost.io.catalog import Catalog

    assert Catalog.default().model("janus-pro-7b").quality["mmmu"] == 41.0
    doc, result = examples["photo-qa"]
    janus = [c for c in result.candidates if c.model == "janus-pro-7b"]
    assert janus and not any(v.kind == "quality" for c in janus for v in c.violations)
    premium = _analyze({**doc, "product": {**doc["product"], "quality_tier": "premium"}})
    (v,) = {
        (v.kind, v.value, v.limit)
        for c in premium.candidates
        if c.model == "janus-pro-7b"
        for v in c.violations
        if v.kind == "quality"
    }
    assert v == ("quality", 41.0, 45.0)


# ------------------------------------------------------------------------------------------- estimate (item 12)


def test_estimate_says_it_is_one_busy_replica_and_names_defaults_and_padding():
    result = api.estimate(model="flux1-dev", hardware="h100-sxm", width=1000, height=1000)
    assert result.scope == "single_busy_replica"
    assert result.defaults_applied == {"engine": "eager", "steps": 28}
    assert (result.tokens["padded_width"], result.tokens["padded_height"]) == (1008, 1008)
    text = registry.render("estimate", "table", result)
    assert "note: one replica busy all the time" in text
    assert "note: defaults applied: engine eager (analyze prices every engine), steps 28 (the model's)" in text
    assert "1000x1000 is padded to 1008x1008" in text
    given = api.estimate(model="flux1-dev", hardware="h100-sxm", engine="compiled", steps=28)
    assert given.defaults_applied == {"width": 1024, "height": 1024}  # what was given is not a default


# ------------------------------------------------------------------------------------------- charts (item 14)


def _tick_texts(fig, axis: str) -> list[str]:
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


def _legend_right_of_plot(fig) -> bool:
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    return legend.x0 >= ax.get_window_extent().x1


def test_charts_read_plainly_with_distinct_colours_and_the_legend_outside(examples):
    """Item 14: a linear cost axis (a 1.4x gap looks 1.4x), plain tick labels (no 6x10^-1), at least 10 pt, one
    colour per series however many, the legend right of the plot, and no series dropped from a sweep chart."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from tokcost.core.charts import sweep_charts
    from tokcost.render.html import FONT_PT, bar_figure, line_figure, throughput_figure

    _, result = examples["storefront-images"]
    charts = {c.id: c for c in result.charts}
    cost = charts["cost"]
    assert not cost.log_y and cost.total_series == sum(c.fleet_cost_usd_per_item is not None for c in result.candidates)
    for make, chart, axis in (
        (bar_figure, cost, "x"),
        (throughput_figure, charts["throughput"], "y"),
        (throughput_figure, charts["throughput"], "x"),
        (line_figure, charts["latency"], "y"),
    ):
        fig = make(chart)
        if make is bar_figure:
            assert fig.axes[0].get_xscale() == "linear" and fig.axes[0].get_xlim()[0] == 0
        texts = _tick_texts(fig, axis)
        assert texts and not any(re.search(r"\^|mathdefault|\\times|e[+-]\d", t) for t in texts), texts
        assert all(t.get_fontsize() >= FONT_PT - 1 for t in fig.axes[0].get_xticklabels())
        assert _legend_right_of_plot(fig)
        plt.close(fig)
    # the throughput chart is per GPU: an 8-GPU replica's curve is its replica figure over 8
    multi = next(s for s in charts["throughput"].series if " x " in s.label)
    assert max(v for v in multi.y if v is not None) < 10

    sweep = api.sweep(
        models=["sdxl", "sd3-medium", "flux1-schnell", "pixart-sigma", "sana-1.6b", "sdxl-turbo", "sd15"],
        hardware=["h100-sxm", "a100-80gb-sxm", "l40s"],
        resolutions=[(512, 512), (1024, 1024)],
    )
    lines = {(m, h, e) for m, h, e in zip(sweep.columns["model"], sweep.columns["hardware"], sweep.columns["engine"])}
    latency = sweep_charts(sweep.columns)[0]
    assert len(latency.series) == len(lines) > 20  # every line, none dropped
    fig = line_figure(latency)
    colours = {
        tuple(line.get_color())
        for line in fig.axes[0].get_lines()
        if line.get_label() in {s.label for s in latency.series}
    }
    assert len(colours) == len(latency.series)  # no colour reused
    assert _legend_right_of_plot(fig)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- training (item 15)


def test_train_emu3_against_sd3_answers_with_the_break_even_sample_count():
    """SD3-medium publishes no sample count: compared with Emu3 it is priced at the samples that match Emu3's
    training compute, stated as such, in the API, the JSON and the table (models as a comma list)."""
    from typer.testing import CliRunner

    from tokcost.cli.app import app
    from tokcost.engine.training import diffusion_training_flops
    from tokcost.io.catalog import Catalog

    comparison = api.compare_training(models=["emu3-gen", "sd3-medium"], hardware="h100-sxm", tokens=300e9)
    emu3, sd3 = comparison.runs
    assert (sd3.samples_basis, sd3.break_even_with, sd3.sample_width, sd3.sample_height) == (
        "break_even",
        "emu3-gen",
        1024,
        1024,
    )
    assert sd3.flops == pytest.approx(emu3.flops, rel=1e-9)
    per_sample = diffusion_training_flops(Catalog.default().model("sd3-medium"), 1.0)
    assert sd3.samples == pytest.approx(emu3.flops / per_sample, rel=1e-9)
    r = CliRunner().invoke(
        app, ["train", "--model", "emu3-gen,sd3-medium", "--hardware", "h100-sxm", "--tokens", "300e9"]
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "sd3-medium publishes no training sample count: it matches emu3-gen's training compute" in text
    assert "samples of 1024x1024 px" in text
    js = CliRunner().invoke(
        app,
        ["train", "--model", "emu3-gen,sd3-medium", "--hardware", "h100-sxm", "--tokens", "300e9", "--format", "json"],
    )
    assert '"samples_basis": "break_even"' in js.stdout and '"break_even_with": "emu3-gen"' in js.stdout
    given = api.compare_training(models=["emu3-gen", "sd3-medium"], hardware="h100-sxm", tokens=300e9, samples=1e9)
    assert given.runs[1].samples_basis == "given" and given.runs[1].samples == 1e9
    published = api.compare_training(models=["emu3-gen", "sd15"], hardware="h100-sxm", tokens=300e9)
    assert published.runs[1].samples_basis == "published"


def test_suggestions_replan_only_the_named_candidates_a_bounded_number_of_times(monkeypatch):
    """The counterfactuals re-price the candidates they name, not the whole spec, and a few times each (an
    operation count, not a timing): the storefront's analysis re-plans at most 12 times, each for one candidate."""
    import tokcost.core.plan as plan

    calls = []
    original = plan.replan_candidates

    def counted(spec, keys, *args, **kwargs):
        calls.append(list(keys))
        return original(spec, keys, *args, **kwargs)

    monkeypatch.setattr(plan, "replan_candidates", counted)
    result = _analyze(_load(STOREFRONT))
    assert result.recommendation.suggestions
    assert 0 < len(calls) <= 12 and all(len(keys) == 1 for keys in calls)
    assert {k[0].model for k in calls} == {"emu3-gen"}  # the only family without a feasible option


# ------------------------------------------------------------------------------------------- the error band's margin


def _band_risk_checked(doc: dict, result: SpecResult) -> int:
    """Check that ``result`` names a band risk exactly when its choice's band-high service exceeds the budget, and
    how; returns 1 when it names one."""
    rec = result.recommendation
    if rec.choice is None:
        assert rec.band_risk is None
        return 0
    limit = doc["budget"]["latency_s"]
    high = service_high_s(rec.choice)
    assert high > 0
    if high <= limit:
        assert rec.band_risk is None
        assert not any("slow end of its error band" in line for line in advice.why(result))
        return 0
    assert rec.band_risk is not None and rec.band_risk.service_high_s == pytest.approx(high)
    line = next(line for line in advice.why(result) if "slow end of its error band" in line)
    assert secs(high) in line and f"{limit:g} s" in line
    safer = result.candidate(rec.band_risk.safer) if rec.band_risk.safer is not None else None
    if safer is not None:  # feasible, no cheaper than the choice, and within the budget at its band's high end
        assert safer.feasible and service_high_s(safer) <= limit
        assert safer.fleet_cost_usd_per_item >= rec.choice.fleet_cost_usd_per_item
        assert f"{safer.model} on {safer.replica}" in line
    else:
        assert "no feasible option stays within the budget" in line
    return 1


def test_band_risk_is_named_exactly_when_the_choices_band_high_service_exceeds_the_budget(examples, monkeypatch):
    named = sum(_band_risk_checked(doc, result) for doc, result in examples.values())
    # fleets are sized at the central estimate to 90% of the budget, so a choice's band-high service passes the
    # budget only where its family's band reaches well past 1/0.9 of it: with every band reaching 1.65x slow, and
    # photo-qa's budget brought down towards its choice's central service, one of these budgets names a risk
    bands = engines.load_error_bands()
    wide = {family: band.model_copy(update={"high": max(band.high, 0.5)}) for family, band in bands.items()}
    monkeypatch.setattr(engines, "load_error_bands", lambda: wide)
    doc = copy.deepcopy(examples["photo-qa"][0])
    named += _band_risk_checked(doc, result := _analyze(doc))
    service = result.recommendation.choice.latency_s.central
    for factor in (1.5, 1.3, 1.15):
        if named:
            break
        doc["budget"]["latency_s"] = service * factor
        named += _band_risk_checked(doc, _analyze(doc))
    assert named >= 1


def test_a_tighter_budget_names_a_band_risk_or_changes_the_choice():
    doc = _load(EXAMPLES[0])
    before = _analyze(doc).recommendation
    if before.choice is None:
        pytest.skip("no choice")
    limit = service_high_s(before.choice) * 0.99
    doc["budget"]["latency_s"] = limit
    after = _analyze(doc).recommendation
    if after.choice is None or after.band_risk is not None:
        return
    # no risk named: the plan met the tighter budget at the band's high end, with another option or another batch
    assert service_high_s(after.choice) <= limit
    assert (after.choice.key, after.choice.batch) != (before.choice.key, before.choice.batch)
