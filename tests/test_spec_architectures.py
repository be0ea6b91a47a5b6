"""A spec's ``candidates.architectures``: a Llama-style decoder from its Hugging Face config, priced in ``analyze``
with an AR preset's visual tokenizer and sampling exactly as ``estimate --architecture`` prices it, sized and ranked
like a preset, refused at the spec's ``file:line:col`` when its file or preset is wrong."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.core.plan import replan_candidates, spec_catalog
from tokcost.errors import InputError
from tokcost.io.architecture import load_architecture
from tokcost.io.engines import load_engines
from tokcost.records.results import CandidateKey

runner = CliRunner()

CONFIGS = Path(__file__).resolve().parent / "configs"  # published decoder configs, sources in its README.md
LLAMA31_8B = json.loads((CONFIGS / "llama-3.1-8b.json").read_text())  # safetensors index: 8,030,261,248 parameters
LLAMA2_70B = json.loads((CONFIGS / "llama-2-70b.json").read_text())
MISTRAL_7B = json.loads((CONFIGS / "mistral-7b-v0.1.json").read_text())  # a 4,096-token window in every layer


def spec_text(candidates: str, tier: str = "draft", side: int = 512) -> str:
    return textwrap.dedent(
        f"""\
        version: 1
        name: decoders
        product: {{kind: image, width: {side}, height: {side}, quality_tier: {tier}}}
        demand: {{requests_per_day: 20000}}
        budget: {{latency_s: 120}}
        candidates:
        """
    ) + textwrap.indent(textwrap.dedent(candidates), "  ")


def write_spec(tmp_path, candidates: str, **kw):
    """The spec in ``tmp_path/specs/`` with its decoders in ``tmp_path/specs/decoders/``: relative to the spec."""
    folder = tmp_path / "specs"
    for name, config in (("llama-3.1-8b", LLAMA31_8B), ("llama-2-70b", LLAMA2_70B), ("mistral-7b", MISTRAL_7B)):
        (folder / "decoders" / name).mkdir(parents=True, exist_ok=True)
        (folder / "decoders" / name / "config.json").write_text(json.dumps(config, indent=2))
    path = folder / "spec.yaml"
    path.write_text(spec_text(candidates, **kw))
    return path


EIGHT_B = """\
    models: [emu3-gen]
    hardware: [h100-sxm]
    engines: [vllm]
    gpus_per_replica: [1]
    architectures:
      - config: decoders/llama-3.1-8b/config.json
        model: emu3-gen
"""


def test_the_llama31_8b_config_gives_its_published_parameter_count(tmp_path):
    path = write_spec(tmp_path, EIGHT_B).parent / "decoders" / "llama-3.1-8b" / "config.json"
    assert round(load_architecture(path).params_b * 1e9) == 8_030_261_248


def test_a_config_candidate_is_priced_like_estimate_architecture(tmp_path, monkeypatch):
    spec = write_spec(tmp_path, EIGHT_B)
    monkeypatch.chdir(tmp_path)  # the config resolves against the spec's folder, not the working directory
    result = tokcost.analyze(spec)
    (ours,) = [c for c in result.specs[0].candidates if c.decoder is not None]
    assert ours.model == "emu3-gen@llama-3.1-8b"  # the default label: the preset and the config's folder
    assert (ours.decoder.config, ours.decoder.model) == ("decoders/llama-3.1-8b/config.json", "emu3-gen")
    assert ours.family == "ar" and ours.quality_score is None
    same = tokcost.estimate(
        model="emu3-gen",
        hardware="h100-sxm",
        engine="vllm",
        width=512,
        height=512,
        batch=ours.batch,
        architecture=spec.parent / "decoders" / "llama-3.1-8b" / "config.json",
    )
    assert ours.latency_s.central == pytest.approx(same.latency_s, rel=1e-9)
    assert ours.throughput_items_per_s.central == pytest.approx(same.throughput_items_per_s, rel=1e-9)
    assert ours.cost_usd_per_item.central == pytest.approx(same.cost_usd_per_item, rel=1e-9)
    assert ours.memory_gb["weights"] == pytest.approx(same.memory_gb["weights"], rel=1e-9)
    # bf16 weights: the 8.03e9 parameters less the input embedding (memory only)... all of them are held in memory
    assert ours.memory_gb["weights"] == pytest.approx(2 * 8.030261248, rel=0.01)
    # a smaller vocabulary and the same blocks as Emu3-Gen's 8.49e9: a little faster than the preset itself
    (preset,) = [c for c in result.specs[0].candidates if c.model == "emu3-gen"]
    assert preset.decoder is None
    assert ours.latency_b1_s < preset.latency_b1_s


def test_a_named_config_candidate_is_ranked_and_can_be_recommended(tmp_path):
    spec = write_spec(
        tmp_path,
        """\
        models: []
        hardware: [h100-sxm]
        engines: [vllm]
        gpus_per_replica: [1]
        architectures:
          - config: decoders/llama-3.1-8b/config.json
            model: emu3-gen
            name: my-8b
        """,
    )
    s = tokcost.analyze(spec).specs[0]
    assert [c.model for c in s.candidates] == ["my-8b"]
    assert s.recommendation.choice is not None and s.recommendation.choice.model == "my-8b"
    assert s.candidates[0].monthly_usd and s.candidates[0].replicas_at_peak
    r = runner.invoke(app, ["analyze", str(spec), "--format", "markdown"])
    assert r.exit_code == 0, r.output
    assert "Use my-8b on h100-sxm" in r.output
    assert (
        "my-8b's decoder is read from decoders/llama-3.1-8b/config.json, priced with emu3-gen's visual tokenizer "
        "and sampling; it has no published quality score" in r.output
    )


def test_a_config_decoder_has_no_quality_score_so_only_draft_accepts_it(tmp_path):
    spec = write_spec(tmp_path, EIGHT_B, tier="standard")
    s = tokcost.analyze(spec).specs[0]
    (ours,) = [c for c in s.candidates if c.decoder is not None]
    (preset,) = [c for c in s.candidates if c.decoder is None]
    assert not ours.feasible
    assert [(v.kind, v.name, v.value) for v in ours.violations] == [("quality", "geneval", None)]
    assert preset.feasible and preset.quality_score == 0.54  # Emu3-Gen's own GenEval is not the decoder's
    assert s.recommendation.tier_excluded["emu3-gen@llama-3.1-8b"].kind == "quality"
    r = runner.invoke(app, ["analyze", str(spec), "--format", "markdown"])
    assert "The standard tier rules out emu3-gen@llama-3.1-8b (no published geneval score)" in r.output


def test_a_70b_config_in_bf16_on_a_24_gb_card_is_a_memory_violation(tmp_path):
    spec = write_spec(
        tmp_path,
        """\
        models: [emu3-gen]
        hardware: [rtx-4090]
        engines: [compiled]
        gpus_per_replica: [1, 2]
        architectures:
          - config: decoders/llama-2-70b/config.json
            model: emu3-gen
            name: llama-2-70b
        """,
        side=256,  # about 1,100 image tokens: within Llama-2's 4,096 positions
    )
    s = tokcost.analyze(spec).specs[0]
    (big,) = [c for c in s.candidates if c.model == "llama-2-70b"]
    usable = 24.0 * load_engines()["compiled"].usable_memory_fraction
    assert not big.feasible and not big.fits_in_memory
    (memory,) = [v for v in big.violations if v.kind == "memory"]
    # 138 GB of bf16 weights split over the largest replica, 2 GPUs: 69 GB each, against 21.6 usable
    assert memory.limit == pytest.approx(usable) and memory.value > 69 > usable
    (preset,) = [c for c in s.candidates if c.model == "emu3-gen"]
    assert preset.fits_in_memory  # Emu3-Gen's own 8.5e9 parameters fit on one card
    r = runner.invoke(app, ["analyze", str(spec)])
    assert r.exit_code in (0, 1), r.output  # a verdict on the budget, not a refusal of the spec
    assert "Traceback" not in r.output
    assert re.search(r"llama-2-70b / 2 x rtx-4090, tp / compiled: needs \d+ GB per GPU on 2 GPUs", r.output)


def test_a_larger_replica_suggestion_is_verified_for_a_config_candidate(tmp_path):
    spec = write_spec(
        tmp_path,
        """\
        models: []
        hardware: [h100-sxm]
        engines: [compiled]
        gpus_per_replica: [1]
        architectures:
          - config: decoders/llama-2-70b/config.json
            model: emu3-gen
        """,
        side=256,
        tier="draft",
    ).as_posix()
    s = tokcost.analyze(spec).specs[0]
    assert s.recommendation.choice is None
    (fix,) = s.recommendation.suggestions[:1]
    assert fix.changes[0].field == "candidates.gpus_per_replica"
    assert fix.candidate.model == "emu3-gen@llama-2-70b"


def test_replanning_narrows_to_the_config_candidates_named(tmp_path):
    spec_path = write_spec(tmp_path, EIGHT_B)
    cat = tokcost.catalog()
    from tokcost.io.specs import load_spec

    spec, _ = load_spec(spec_path, cat)
    overlay = spec_catalog(spec, cat)
    key = CandidateKey(model="emu3-gen@llama-3.1-8b", hardware="h100-sxm", engine="vllm")
    (only,) = replan_candidates(spec, [key], overlay)
    assert only.key == key and only.decoder is not None
    (preset,) = replan_candidates(spec, [key.model_copy(update={"model": "emu3-gen"})], overlay)
    assert preset.model == "emu3-gen" and preset.decoder is None


def problems_of(tmp_path, candidates: str, extra_files: dict[str, str] | None = None):
    spec = write_spec(tmp_path, candidates)
    for name, text in (extra_files or {}).items():
        (spec.parent / name).write_text(text)
    r = runner.invoke(app, ["analyze", str(spec)])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    return spec, r.output


def test_bad_paths_configs_and_presets_are_all_reported_at_their_positions(tmp_path):
    spec, out = problems_of(
        tmp_path,
        """\
        models: [emu3-gen]
        architectures:
          - config: decoders/missing/config.json
            model: emu3-gen
          - config: broken.json
            model: emu3-gen
          - config: decoders/llama-3.1-8b/config.json
            model: sdxl
          - config: decoders
            model: emu3-gen
          - config: decoders/llama-3.1-8b/config.json
            model: emu3-chat
          - config: moe.json
            model: emu3-gen
        """,
        {
            "broken.json": '{"hidden_size": 4096,\n  "num_hidden_layers": [32\n',
            "moe.json": json.dumps({**LLAMA31_8B, "num_local_experts": 8}, indent=2),
        },
    )
    f = re.escape(str(spec))
    folder = re.escape(str(spec.parent))
    # every problem of the spec at once, each at the line and column of its entry (lines 9-21 of the spec)
    assert re.search(
        f
        + r":9:15: candidates\.architectures\[0\]\.config: "
        + folder
        + r"/decoders/missing/config\.json: no such file",
        out,
    )
    assert re.search(
        f + r":11:15: candidates\.architectures\[1\]\.config: .*broken\.json is not a Llama-style decoder config", out
    )
    assert re.search(folder + r"/broken\.json:3:1: \(document\): YAML syntax error", out)  # the JSON's own position
    assert re.search(f + r":14:14: candidates\.architectures\[2\]\.model: .*sdxl is a diffusion model", out)
    assert re.search(f + r":15:15: candidates\.architectures\[3\]\.config: .*decoders: not a file", out)
    assert re.search(
        f + r":18:14: candidates\.architectures\[4\]\.model: emu3-chat cannot serve this image product", out
    )
    assert re.search(f + r":19:15: candidates\.architectures\[5\]\.config: .*moe\.json is not a Llama-style", out)
    assert re.search(folder + r"/moe\.json:\d+:\d+: num_local_experts: a mixture-of-experts decoder", out)


def test_names_must_tell_the_candidates_apart(tmp_path):
    spec, out = problems_of(
        tmp_path,
        """\
        models: [emu3-gen]
        architectures:
          - config: decoders/llama-3.1-8b/config.json
            model: emu3-gen
          - config: decoders/llama-3.1-8b/config.json
            model: EMU3-GEN
          - config: decoders/llama-2-70b/config.json
            model: emu3-gen
            name: sdxl
        """,
    )
    f = re.escape(str(spec))
    assert re.search(
        f + r":11:15: candidates\.architectures\[1\]\.config: 'emu3-gen@llama-3\.1-8b' names architectures\[0\]", out
    )
    assert re.search(f + r":15:13: candidates\.architectures\[2\]\.name: 'sdxl' is a model preset's id", out)


def test_a_name_with_a_slash_is_refused(tmp_path):
    # simulate --candidate names a candidate as MODEL/HARDWARE/ENGINE
    spec, out = problems_of(
        tmp_path,
        """        architectures:
          - config: decoders/llama-2-70b/config.json
            model: emu3-gen
            name: a/b
        """,
    )
    assert re.search(
        re.escape(str(spec)) + r":10:13: candidates\.architectures\[0\]\.name: String should match pattern", out
    )


def test_an_unknown_preset_is_refused_with_a_suggestion(tmp_path):
    spec, out = problems_of(
        tmp_path,
        """\
        architectures:
          - config: decoders/llama-2-70b/config.json
            model: emu3-gn
        """,
    )
    assert re.search(
        re.escape(str(spec))
        + r":9:14: candidates\.architectures\[0\]\.model: unknown model id 'emu3-gn'; did you mean emu3-gen\?",
        out,
    )


def test_no_models_and_no_architectures_is_refused(tmp_path):
    spec, out = problems_of(tmp_path, "models: []\n")
    assert re.search(re.escape(str(spec)) + r":7:11: candidates\.models: no candidates", out)


def test_a_spec_given_as_data_reads_its_configs_from_the_working_directory(tmp_path, monkeypatch):
    write_spec(tmp_path, EIGHT_B)
    monkeypatch.chdir(tmp_path / "specs")
    data = {
        "version": 1,
        "name": "d",
        "product": {"kind": "image", "width": 512, "height": 512, "quality_tier": "draft"},
        "demand": {"requests_per_day": 1000},
        "budget": {"latency_s": 120},
        "candidates": {
            "models": [],
            "hardware": ["h100-sxm"],
            "engines": ["vllm"],
            "gpus_per_replica": [1],
            "architectures": [{"config": "decoders/llama-3.1-8b/config.json", "model": "emu3-gen"}],
        },
    }
    (c,) = tokcost.analyze(data).specs[0].candidates
    assert c.model == "emu3-gen@llama-3.1-8b" and c.feasible
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"candidates\.architectures\[0\]\.config: .*no such file"):
        tokcost.analyze(data)


def test_a_config_candidate_s_sliding_window_is_reported_in_the_plan(tmp_path):
    spec = write_spec(
        tmp_path,
        """\
        models: []
        hardware: [h100-sxm]
        engines: [vllm]
        gpus_per_replica: [1]
        architectures:
          - config: decoders/mistral-7b/config.json
            model: emu3-gen
            name: mistral-7b
        """,
    )
    r = runner.invoke(app, ["analyze", str(spec), "--format", "markdown"])
    assert r.exit_code == 0, r.output
    assert "4,096-token sliding attention window in 32 of its 32 layers" in r.output
    s = tokcost.analyze(spec).specs[0]
    note = s.candidates[0].decoder.sliding_window_note
    # how the engines the spec prices it under (vllm only) take the window
    assert note is not None and "skips the keys outside it under vllm" in note
    assert "causal square" not in note
