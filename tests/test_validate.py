"""`tokcost validate`: schema, entry -> Config mapping, summary maths, gate, the fit, and the generated doc."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tokcost.core import fit as F
from tokcost.core import validate as V
from tokcost.errors import InputError
from tokcost.io.catalog import Catalog
from tokcost.io.measurements import load_entries, load_thresholds
from tokcost.io.paths import DATA_DIR, ERROR_BANDS_FILE
from tokcost.records.measurements import Thresholds
from tokcost.render.validate import failure_words, unscored_words

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "validation.md"


@pytest.fixture(scope="module")
def cat():
    return Catalog.default()


@pytest.fixture(scope="module")
def entries():
    return load_entries()


@pytest.fixture(scope="module")
def report(entries, cat):
    """The full report with committed values, cross-validated three ways (computed once: ~10 s)."""
    return F.validation_result(entries, cat, refit=False, held_out=True)


# ----------------------------------------------------------------------------------------------- loading


def test_all_entries_load(entries):
    assert len(entries) >= 100  # the issue asks for at least 25
    assert len({e.id for e in entries}) == len(entries)


def test_unknown_field_is_rejected(tmp_path):
    text = (DATA_DIR / "validation" / "measurements.yaml").read_text()
    bad = text.replace("  metric: latency_s\n", "  metric: latency_s\n  colour: blue\n", 1)
    f = tmp_path / "m.yaml"
    f.write_text(bad)
    with pytest.raises(InputError) as exc:
        load_entries(f)
    p = exc.value.problems[0]
    assert p.line > 0 and "colour" in p.field and "unknown field" in p.message


def test_a_validation_set_may_outgrow_a_specs_size_bound_but_stays_bounded(tmp_path):
    # the shipped set passed 1 MB (a spec's bound); its own bound is eight times that, and still refuses beyond it
    shipped = DATA_DIR / "validation" / "measurements.yaml"
    assert shipped.stat().st_size > 1_000_000
    assert len(load_entries(shipped)) >= 500
    huge = tmp_path / "huge.yaml"
    huge.write_text(shipped.read_text() + "# " + "x" * 8_000_000 + "\n")
    with pytest.raises(InputError) as exc:
        load_entries(huge)
    p = exc.value.problems[0]
    assert (p.line, p.col) == (1, 1) and "larger than 8,000,000 bytes" in p.message


def test_source_groups(entries):
    by = {e.id: V.source_group(e) for e in entries}
    # a paper's table and its abstract are one source; different files of one repository are not
    assert by["sana-sprint-t2-sdxl-dmd2-1step-latency"] == by["sana-sprint-abstract-h100-1step"] == "arXiv 2503.09641"
    assert by["hunyuanvideo-720p-h100-1gpu"] == by["hunyuanvideo-720p-h20-1gpu"]
    assert by["flux1-dev-pytorch-devlog-h100-eager"] == by["flux1-dev-pytorch-devlog-h100-compiled"]
    assert by["flux1-dev-xdit-h100-1gpu-eager"] != by["sana-1.6b-4k-xdit-a100-1gpu"]


# ----------------------------------------------------------------------------------------------- mapping


def test_config_mapping(entries, cat):
    e = {x.id: x for x in entries}
    c = V.build_config(e["sana-t7-flux1-dev-1024-throughput"], cat)
    assert (c.cfg, c.batch, c.steps, c.precision, c.engine) == ("off", 16, 50, "fp16", "eager")
    c = V.build_config(e["emu3-gen-720-reference-h100"], cat)
    assert (c.cfg, c.width, c.height) == ("unbatched", 720, 720)
    c = V.build_config(e["cogvideox-5b-torchao-h100-fp8-compiled"], cat)
    assert (c.role, c.frames, c.cfg, c.precision) == ("video", 49, "batched", "fp8")
    c = V.build_config(e["hunyuanvideo-720p-h100-8gpu"], cat)
    assert c.gpus == 8
    assert V.build_config(e["sta-hunyuanvideo-768p-h100-fa3"], cat).attention == "fa3"
    assert V.build_config(e["svg-hunyuanvideo-720p-h100-diffusers"], cat).attention is None  # the engine's (sdpa)


def test_a_run_on_flashattention_3_is_priced_with_it(entries, cat):
    """The STA paper's FA3 baseline (HunyuanVideo, 115K tokens, H100): attention-bound, so pricing it with the
    engine's default SDPA (FlashAttention-2) would make it markedly slower."""
    e = {x.id: x for x in entries}["sta-hunyuanvideo-768p-h100-fa3"]
    fa3 = V.price_entry(e, cat).predicted
    sdpa = V.price_entry(e.model_copy(update={"conditions": e.conditions.model_copy(update={"attention": None})}), cat)
    assert fa3 is not None and sdpa.predicted is not None and sdpa.predicted > 1.4 * fa3


def test_a_run_under_autocast_is_priced_with_its_fp32_softmax(cat):
    """Lambda's October 2022 SD v1.4 benchmark wrapped its fp16 pipeline in torch.autocast (an unentered round):
    the entry says so, build_config carries it, and the run is priced slower than the same run stated without it."""
    entries = {x.id: x for x in load_entries(DATA_DIR / "validation" / "unentered" / "round28.yaml")}
    e = entries["lambda22-sd14-a10080gbpcie-fp16-b8"]
    assert e.conditions.autocast is True and e.conditions.attention == "math"
    assert V.build_config(e, cat).autocast
    plain = e.model_copy(update={"conditions": e.conditions.model_copy(update={"autocast": None})})
    assert not V.build_config(plain, cat).autocast  # not stated: priced as off
    assert V.price_entry(e, cat).predicted > V.price_entry(plain, cat).predicted


def test_same_code_path_as_estimate(entries, cat):
    """A scored latency entry's prediction is what `tokcost estimate` reports for the same flags."""
    from tokcost.core.estimate import estimate_one
    from tokcost.records.estimate import EstimateRequest

    e = next(x for x in entries if x.id == "sana-t7-sdxl-1024-latency")
    row = V.price_entry(e, cat)
    c = e.conditions
    request = EstimateRequest(
        model=e.model,
        hardware=e.hardware,
        width=c.width,
        height=c.height,
        steps=c.steps,
        batch=c.batch,
        cfg="batched",
        engine=e.engine,
        precision=c.precision,
    )
    rep = estimate_one(cat, request)
    assert math.isclose(row.predicted, rep.latency_s, rel_tol=1e-12)
    assert row.overhead_bound == rep.overhead_bound  # the regime the JSON reports is the estimate's


def test_the_json_says_which_regime_priced_an_image_run_and_nothing_for_a_text_decoder(entries, cat):
    """An image model's row says whether its step was overhead-bound: a small model at batch 1 is, Wan2.1-14B's
    video step is not; a text decoder's pricing does not report it, so its row has no such field."""
    rows = {e.id: V.price_entry(e, cat) for e in entries}
    small = rows["open-muse-amused-256-4090-b1-12step"]
    assert small.overhead_bound is True and small.to_dict()["overhead_bound"] is True
    video = next(r for r in rows.values() if r.scored and r.model == "wan21-14b")
    assert video.overhead_bound is False
    decoder = next(r for r in rows.values() if r.scored and r.metric in V.TEXT_DECODE_METRICS)
    assert decoder.overhead_bound is None and "overhead_bound" not in decoder.to_dict()


def test_a_steps_per_s_entry_is_scored_as_sampling_steps_over_the_denoising_time(entries, cat):
    """A progress bar's it/s: the sampling steps over the predicted denoising loop (text encoders, VAE and set-up
    excluded); a model without a denoising loop cannot be scored on it."""
    by_id = {e.id: e for e in entries}
    e = by_id["sd15-diffusers-pt2-a100-b1-eager"]
    assert e.metric == "steps_per_s" and e.conditions.steps == 50
    row = V.price_entry(e, cat)
    assert row.scored and row.predicted == pytest.approx(50 / row.breakdown["denoise"], rel=1e-12)
    assert row.predicted > 50 / (row.breakdown["denoise"] + row.breakdown["vae_decode"])  # VAE time is not counted
    ar = by_id["llamagen-serve-b-reference"].model_copy(update={"metric": "steps_per_s"})
    assert V.price_entry(ar, cat).reason.kind == "steps_outside_diffusion"


def test_a_loop_s_entry_is_scored_as_the_call_less_its_text_encoders_and_vae_decode(entries, cat):
    """A source that times the generation loop alone (FastVAR's Infinity-2B scales): the predicted latency less the
    text encoders, the VAE decode and the set-up; for diffusion that is the denoising time; a token-by-token AR
    call has no loop before a VAE decode to isolate and is not scored on it."""
    by_id = {e.id: e for e in entries}
    e = by_id["fastvar-t1-infinity-2b-1024-rtx3090-flashattn"]
    assert e.metric == "loop_s" and e.family == "next-scale"
    row = V.price_entry(e, cat)
    b = row.breakdown
    assert row.scored and row.predicted == pytest.approx(b["scales"], rel=1e-12)
    latency = V.price_entry(e.model_copy(update={"metric": "latency_s"}), cat).predicted
    assert row.predicted == pytest.approx(latency - b["text_encoders"] - b["vae_decode"], rel=1e-12)
    assert V.latency_log_error(row) == pytest.approx(-math.log(row.ratio))  # seconds: slower than predicted is +
    sd = by_id["sd15-diffusers-pt2-a100-b1-eager"].model_copy(update={"metric": "loop_s", "measured": 1.0})
    sd_row = V.price_entry(sd, cat)
    assert sd_row.predicted == pytest.approx(sd_row.breakdown["denoise"], rel=1e-12)
    ar = by_id["llamagen-serve-b-reference"].model_copy(update={"metric": "loop_s"})
    assert V.price_entry(ar, cat).reason.kind == "loop_without_decode"
    assert "loop_s" in unscored_words({"kind": "loop_without_decode"})


def test_unscored_entries_have_reasons(entries, cat):
    rows = V.run(entries, cat)
    not_scored = {r.id: r.reason for r in rows if not r.scored}
    assert all(not_scored.values())
    assert not_scored["hunyuanvideo-720p-l20-1gpu"].kind == "no_hardware"  # no L20 preset
    assert "llama2-7b-pretraining" not in not_scored  # a bare decoder architecture is priced with 6ND
    assert not_scored["sd1-training-a100-pcie-hours"].kind == "training_samples_unstated"
    assert not_scored["janus-pro-7b-training"].kind == "training_tokens_unstated"
    excluded = not_scored["ltx-video-paper-h100-768x512-121f"]
    assert excluded.kind == "excluded" and len(excluded.detail) > 40
    # the renderer words each kind; the words name what is missing
    words = {i: unscored_words(r.model_dump(exclude_none=True)) for i, r in not_scored.items()}
    assert "hardware null" in words["hunyuanvideo-720p-l20-1gpu"]
    assert "samples" in words["sd1-training-a100-pcie-hours"] and "tokens" in words["janus-pro-7b-training"]
    assert words["ltx-video-paper-h100-768x512-121f"] == f"excluded: {excluded.detail}"
    # multi-GPU diffusion is priced (sequence parallelism), not skipped
    assert "hunyuanvideo-720p-h100-8gpu" not in not_scored
    training = {r.id: r for r in rows if r.family == "training" and r.scored}
    assert len(training) >= 4 and all(0.4 < r.ratio < 2.5 for r in training.values())
    # exclusions are rare and each carries its reason in the data file (10: six unmodelled mechanisms or withdrawn
    # figures, and torchao's four B200 FLUX.1-schnell calls, a third of whose time is per-image work outside the
    # denoising loop that runs ~0.1 s an image slower than priced on that chip: docs/validation.md, round 8)
    excluded = [e for e in entries if e.exclude_reason]
    assert len(excluded) <= 10 and all(len(e.exclude_reason) > 40 for e in excluded)


# ----------------------------------------------------------------------------------------------- maths


def _row(i, fam, pred, meas):
    r = V.Row(i, fam, "latency_s", meas, "src", "eager", "m", "h")
    r.predicted = pred
    return r


def test_summary_and_gate():
    rows = [
        _row("a", "ar", 1.1, 1.0),
        _row("b", "ar", 0.5, 1.0),
        _row("c", "ar", 3.0, 1.0),
        _row("d", "video", 1.0, 1.0),
    ]
    s = V.summary_by_family(rows)
    assert s["ar"]["n"] == 3 and math.isclose(s["ar"]["median_rel_err"], 0.5)
    assert math.isclose(s["ar"]["worst_factor"], 3.0) and s["ar"]["worst_id"] == "c"
    assert math.isclose(s["all"]["median_rel_err"], (0.1 + 0.5) / 2)
    assert s["training"] == {"n": 0}
    th = Thresholds(median_rel_err=0.3, worst_factor=2.5, apply_to=["all", "ar", "video", "training"])
    fails = V.gate(s, th)
    assert {(f.family, f.measure) for f in fails} >= {("ar", "median_rel_err"), ("ar", "worst_factor")}
    (worst,) = [f for f in fails if f.family == "ar" and f.measure == "worst_factor"]
    assert (worst.value, worst.limit, worst.worst_id) == (3.0, 2.5, "c")
    assert not any(f.family in ("video", "training") for f in fails)
    words = [failure_words(f.model_dump()) for f in fails]
    assert "in-sample ar: median relative error 50.0% > 30%" in words
    assert "in-sample ar: worst case c off by 3.00x > 2.5x" in words


def test_thresholds_file():
    th = load_thresholds()
    # never looser than issue 6's starting point (30%, 2.5x)
    assert th.median_rel_err <= 0.30 and th.worst_factor <= 2.5 and th.held_out


# ----------------------------------------------------------------------------------------------- physics


def test_attention_stays_16_bit(cat):
    """fp8 weights speed up the linear part only: the attention part keeps the bf16 rate."""
    from tokcost.engine.estimate import Config, estimate_arrays
    from tokcost.io.engines import load_engines

    m, hw = cat.model("cogvideox-5b"), cat.hardware("h100-sxm")
    bf = estimate_arrays(
        Config(profiles=load_engines(), model=m, hardware=hw, engine="compiled", precision="bf16", frames=49)
    )
    f8 = estimate_arrays(
        Config(profiles=load_engines(), model=m, hardware=hw, engine="compiled", precision="fp8", frames=49)
    )
    speedup = bf.breakdown_s["denoise"] / f8.breakdown_s["denoise"]
    assert 1.05 < speedup < 1.6  # a 2x rate on the linear half only


def test_sequence_parallel_splits_compute_only(cat):
    from tokcost.engine.estimate import Config, estimate_arrays
    from tokcost.io.engines import load_engines

    m, hw = cat.model("hunyuanvideo"), cat.hardware("h100-sxm")
    one = estimate_arrays(Config(profiles=load_engines(), model=m, hardware=hw))
    g = estimate_arrays(Config(profiles=load_engines(), model=m, hardware=hw, gpus=np.array([1, 2, 4, 8])))
    assert math.isclose(float(g.latency_s[0]), float(one.latency_s), rel_tol=1e-12)
    speed = float(one.breakdown_s["denoise"]) / g.breakdown_s["denoise"]
    assert np.all(np.diff(speed) > 0) and np.all(speed < np.array([1, 2, 4, 8]) + 1e-9)
    assert math.isclose(float(g.breakdown_s["vae_decode"][3]), float(one.breakdown_s["vae_decode"]))


def test_ar_tensor_parallel_is_priced(cat):
    """AR models on several GPUs are priced by tensor parallelism (the multi-gpu family scores them): compiled
    decoding gains from it; eager decoding, bound by the host launching every layer on every GPU, does not."""
    from tokcost.engine.estimate import Config, estimate_arrays
    from tokcost.io.engines import load_engines

    cfg = dict(profiles=load_engines(), model=cat.model("emu3-gen"), hardware=cat.hardware("h100-sxm"))
    one, two = (
        estimate_arrays(Config(**cfg, engine="compiled")),
        estimate_arrays(Config(**cfg, engine="compiled", gpus=2)),
    )
    assert two.parallelism == "tp" and two.latency_s < one.latency_s
    one, two = estimate_arrays(Config(**cfg)), estimate_arrays(Config(**cfg, gpus=2))
    assert two.overhead_bound and two.latency_s >= one.latency_s


def test_multi_gpu_family_meets_its_thresholds(entries, cat):
    """Issue 14's gate for the family: held-out median <= 20%, worst <= 2x (tokcost/data/validation_thresholds.yaml)."""
    from tokcost.io.measurements import load_thresholds

    th = load_thresholds()
    assert "multi-gpu" in th.apply_to and th.families["multi-gpu"].worst_factor == 2.0
    rows = [r for r in V.run(entries, cat) if r.family == "multi-gpu" and r.scored]
    assert len(rows) >= 25
    scored = {r.id for r in rows}
    assert {e.conditions.parallelism for e in entries if e.id in scored} >= {"tp", "sp", "cfg", "cfg+sp"}


# ----------------------------------------------------------------------------------------------- fit


def test_refit_reproduces_the_generated_engine_file(entries, cat, report):
    """tokcost/data/generated/engines.fitted.yaml (written by scripts/fit_engines.py) holds what the whole-set fit gives (3
    significant figures), under every engine that shares a parameter, and its bands are the spread of the
    leave-one-source-out refits."""
    from tokcost.io.engines import load_fitted_engines

    fitted = load_fitted_engines()
    vals = F.fit(F._cases(entries, cat))
    held = {p["name"]: p for p in report.parameters}
    for k, v in vals.items():
        engines, field = k
        for name in engines:
            r = getattr(fitted.engines[name], field)
            assert math.isclose(F.sig(v), r.central, rel_tol=F.COMMITTED_REL_TOL, abs_tol=1e-9), (name, field, v)
            spread = (held[F.param_name(k)]["held_out_low"], held[F.param_name(k)]["held_out_high"])
            assert (r.low, r.high) == pytest.approx(spread, rel=F.COMMITTED_REL_TOL, abs=1e-9), (name, field)
    assert fitted.fitted_runs == len(F._cases(entries, cat))


def test_the_generated_engine_file_holds_exactly_the_fitted_parameters():
    """Every parameter of fit.PARAMS is in engines.fitted.yaml under each engine sharing it, and nothing else is;
    the hand-written engines.yaml holds none of them (the loader refuses one written in both)."""
    import yaml

    from tokcost.io.engines import load_fitted_engines

    fitted = load_fitted_engines()
    want = {(name, field) for engines, field, *_ in F.PARAMS for name in engines}
    have = {(name, f) for name, prof in fitted.engines.items() for f in prof.model_dump(exclude_none=True)}
    assert have == want
    hand = yaml.safe_load((ROOT / "tokcost" / "data" / "engines.yaml").read_text())
    assert not {(name, f) for name, prof in hand.items() for f in prof} & want
    assert fitted.generated_by == "python scripts/fit_engines.py" and len(fitted.inputs_sha256) == 64


def test_folds_fitted_together_get_exactly_the_values_of_fitting_each_alone(entries, cat):
    """fit_subsets (the cross-validation's lockstep fit) gives every subset what fit() gives it alone: a subset
    that settles early only repeats sweeps that move nothing. On a small set: the vLLM entries and a few eager and
    compiled ones, left out a source at a time (one fold keeps no vllm-0.4 entry: the prior)."""
    cases = F._cases(entries, cat)
    small = [c for c in cases if c.entry.engine in ("vllm", "vllm-0.4")]
    small += [c for c in cases if c.entry.engine == "eager"][:4] + [c for c in cases if c.entry.engine == "compiled"][
        :2
    ]
    sources = [V.source_group(c.entry) for c in small]
    left_out = sorted({s for c, s in zip(small, sources) if c.entry.engine != "eager"})
    keep = np.array([[s != g for s in sources] for g in left_out])
    assert len(left_out) >= 4 and not all(keep[:, [c.entry.engine == "vllm-0.4" for c in small]].any(axis=1))
    start = {k: F.sig(v) for k, v in F.committed_values().items()}
    together = F.fit_subsets(small, keep, start=start)
    for row, got in zip(keep, together):
        assert got == F.fit([c for c, k in zip(small, row) if k], start=start)


def test_every_held_out_fold_excludes_exactly_its_group_and_prices_only_its_group(entries, cat, monkeypatch):
    """A spy on the folds' fit: each fold leaves out every case of one group of one way (source, GPU, engine) and
    nothing else, every group of every way has its fold, and each held-out prediction is priced with the values of
    the fold that left its entry out (each fold gets its own kernel gap here, so the price shows which fold it came from)."""
    calls = []
    key = (("eager", "compiled"), "gpu_per_layer_s")

    def spy(cases, keep, start=None, progress=None):
        calls.append((cases, keep.copy()))
        return [dict(start) | {key: 1e-5 * (1 + i)} for i in range(keep.shape[0])]

    monkeypatch.setattr(F, "fit_subsets", spy)
    rep = F.cross_validate(entries, cat, refit=False)
    (cases, keep), *more = calls
    assert not more  # one lockstep fit for the three ways
    labels = {kind: [group(c.entry) for c in cases] for kind, group in V.HELD_OUT_BY.items()}
    assert set(labels) == {"source", "hardware", "engine"}
    assert labels["hardware"] == [c.entry.hardware for c in cases]  # a multi-GPU run counts for its chip
    assert any(c.entry.family == "multi-gpu" for c in cases)
    # (way, group) -> the folds that leave out exactly its cases (a one-entry source on a GPU of its own is both a
    # source and a GPU group: two equal folds)
    folds_of: dict = {}
    for i, row in enumerate(keep):
        out = {j for j, k in enumerate(row) if not k}
        found = [
            (kind, g) for kind, ls in labels.items() for g in set(ls) if {j for j, x in enumerate(ls) if x == g} == out
        ]
        assert found, f"fold {i} leaves out no whole group"
        for f in found:
            folds_of.setdefault(f, []).append(i)
    for kind, ls in labels.items():
        assert {(kind, g) for g in ls} <= set(folds_of), kind
    assert keep.shape[0] == sum(len(set(ls)) for ls in labels.values())
    in_ids = {c.entry.id: j for j, c in enumerate(cases)}
    by_id = {e.id: e for e in entries}
    committed = {k: F.sig(v) for k, v in F.committed_values().items()}
    for kind, rows in rep.held_out_by.items():
        for r in rows:
            if r.id not in in_ids:
                continue
            prices = [
                V.price_entry(by_id[r.id], cat, F.profiles_with(committed | {key: 1e-5 * (1 + i)})).predicted
                for i in folds_of[(kind, labels[kind][in_ids[r.id]])]
            ]
            assert any(r.predicted == pytest.approx(p, rel=1e-9) for p in prices), (kind, r.id)


def test_a_parameter_no_kept_case_identifies_takes_its_stated_prior_never_its_start(entries, cat):
    """Leave-one-engine-out on a small set: a fold without an engine's cases cannot fit the parameters only that
    engine has, so they take PRIORS (another engine's value in the same fold x its factor), or the middle of their
    search range where that engine is out too; the start (standing in for the whole-set fit) never leaks in."""
    cases = F._cases(entries, cat)
    engines = ("eager", "compiled", "vllm", "vllm-0.4")
    small = [c for e in engines for c in [c for c in cases if c.entry.engine == e][:3]]
    outs = [{e} for e in engines] + [{"eager", "compiled"}]
    keep = np.array([[c.entry.engine not in out for c in small] for out in outs])
    start = {k: F.sig(v) * 0.987654 for k, v in F.committed_values().items()}  # no grid lands on these
    middle = F.initial_values()
    folds = F.fit_subsets(small, keep, start=start)
    for out, vals in zip(outs, folds, strict=True):
        for e, f, *_ in F.PARAMS:
            if not set(e) <= out:
                continue
            src, factor = F.PRIORS.get((e, f), (None, 1.0))
            if src is not None and not set(src[0]) <= out:
                assert vals[(e, f)] == pytest.approx(vals[src] * factor, rel=1e-12), (out, e, f)
            else:
                assert vals[(e, f)] == middle[(e, f)], (out, e, f)
            assert vals[(e, f)] != start[(e, f)]
    assert F.PRIORS[(("vllm-0.4",), "host_per_layer_s")][1] == 1 / F.VLLM_PRIOR
    assert F.PRIORS[(("eager",), "host_per_layer_s")] == ((("vllm-0.4",), "host_per_layer_s"), F.VLLM_PRIOR)
    # today's vLLM replays one CUDA graph per decode step: its per-layer host cost is stated, not fitted
    assert all(not (e == ("vllm",) and f == "host_per_layer_s") for e, f, *_ in F.PARAMS)
    for key, (src, _) in F.PRIORS.items():  # a prior comes from another engine's parameter of the same kind
        # UNet passes: passes; a layer's host time in the steps vLLM V0 runs eager: eager's per layer
        kind = key[1].removesuffix("_unet").removeprefix("eager_")
        assert kind == src[1] and not set(key[0]) & set(src[0])


def test_the_element_wise_scale_is_identified_by_denoiser_and_decoder_runs_of_its_engines(entries, cat):
    """act_scale prices a denoiser's counted passes, eager's and compiled's alike, and an eager or compiled AR
    decoder's prefill passes; a vLLM run prices its own kernels' passes at no fitted scale (a fold with only vLLM
    runs must not claim to identify it)."""
    cases = F._cases(entries, cat)

    def case(engine, kind):
        return next(
            c
            for c in cases
            if c.entry.engine == engine
            and (c.config.model.denoiser.kind if c.config is not None and c.config.model.denoiser else "ar") == kind
        )

    key = (("eager", "compiled"), "act_scale")
    for engine in ("eager", "compiled"):
        assert F._depends(key, case(engine, "unet")) and F._depends(key, case(engine, "mmdit"))
        assert F._depends(key, case(engine, "ar"))
    assert not F._depends(key, case("vllm", "ar"))


def test_a_case_a_parameter_does_not_move_is_priced_the_same_at_both_ends_of_its_range(entries, cat):
    """The fit's sweeps price only the cases a parameter moves (fit._depends), so every "does not depend" must be
    true: such a case is priced identically at the bottom and the top of the parameter's search range. And each
    parameter moves some case (a diffusion term is not switched off for every run)."""
    cases = F._cases(entries, cat)
    start = F.committed_values()
    skipped = 0
    for engines, field, lo, hi, _ in F.PARAMS:
        key = (engines, field)
        assert any(F._depends(key, c) for c in cases), key
        for c in cases:
            if F._depends(key, c) or c.entry.engine not in engines:
                continue
            low, high = (F._predict(c, F.profiles_with(start | {key: v})) for v in (lo, hi))
            assert np.array_equal(low, high), (c.entry.id, field)
            skipped += 1
    assert skipped > 100  # AR and text-decode runs for the diffusion terms, steps/s runs for the pipeline's


def test_every_fitted_parameter_has_a_stated_basis():
    from tokcost.io.engines import load_engines

    for es, f, *_ in F.PARAMS:
        for e in es:
            src = load_engines()[e].sources.get(f, "")
            assert "fit" in src, (e, f, src)


# ----------------------------------------------------------------------------------------------- results


def test_headline_errors_within_thresholds(report):
    th = load_thresholds()
    for kind in ("in_sample", "held_out"):
        for fam, s in report.summary[kind].items():
            if s.get("n"):
                assert s["median_rel_err"] <= th.median_rel_err, (kind, fam, s)
                assert s["worst_factor"] <= th.worst_factor, (kind, fam, s)
    assert report.passed


def test_validate_holds_out_three_ways(report):
    """held_out_by has the source, hardware and engine summaries, each per family like the held-out summary; the
    source one is that summary; in-sample-only runs have none."""
    data = json.loads(report.model_dump_json())
    by = data["held_out_by"]
    assert set(by) == {"source", "hardware", "engine"}
    assert by["source"] == data["summary"]["held_out"]
    for kind, summary in by.items():
        assert set(summary) == set(data["summary"]["in_sample"]), kind
        for fam, s in summary.items():
            assert s["n"] == data["summary"]["in_sample"][fam]["n"], (kind, fam)
            if s["n"]:
                assert {"median_rel_err", "worst_factor", "worst_id"} <= set(s)
    scored = [d for d in data["entries"] if "predicted" in d and d["metric"] != "gpu_hours"]
    assert scored and all(set(d["held_out_ratios"]) == set(by) for d in scored)
    # the ways differ: leaving a whole GPU or engine out is not leaving a source out
    assert by["hardware"]["all"]["median_rel_err"] != by["source"]["all"]["median_rel_err"]
    assert by["engine"]["all"]["median_rel_err"] != by["source"]["all"]["median_rel_err"]


def test_the_summary_and_readme_show_the_worst_of_the_three_ways(report):
    from write_validation_docs import readme_block

    from tokcost.records.validation import HELD_OUT_NAMES
    from tokcost.text import pct

    worst, by = report.summary["held_out_worst"], report.held_out_by
    block = readme_block(report)
    assert "worst of 3" in block and "leave-one-GPU-out" in block and "leave-one-engine-out" in block
    for fam, w in worst.items():
        if not w["n"]:
            continue
        medians = {k: s[fam]["median_rel_err"] for k, s in by.items()}
        factors = {k: s[fam]["worst_factor"] for k, s in by.items()}
        assert w["median_rel_err"] == max(medians.values()) == medians[w["median_by"]]
        assert w["worst_factor"] == max(factors.values()) == factors[w["worst_by"]]
        line = next(x for x in block.splitlines() if x.startswith(f"| {fam} |"))
        assert f"{pct(w['median_rel_err'])} ({HELD_OUT_NAMES[w['median_by']]} out)" in line
        assert f"{w['worst_factor']:.2f}x ({w['worst_id']}, {HELD_OUT_NAMES[w['worst_by']]} out)" in line


def test_worst_of_takes_each_family_its_largest_median_and_worst():
    def s(med, fac, wid):
        return {"n": 3, "median_rel_err": med, "worst_factor": fac, "worst_id": wid}

    fams = ("all", *V.FAMILIES)
    summaries = {
        "source": {f: s(0.05, 1.9, "a") for f in fams},
        "hardware": {f: s(0.12, 1.2, "b") for f in fams} | {"video": {"n": 0}},
        "engine": {f: s(0.08, 1.5, "c") for f in fams},
    }
    w = V.worst_of(summaries)
    assert w["ar"] == {
        "n": 3,
        "median_rel_err": 0.12,
        "median_by": "hardware",
        "worst_factor": 1.9,
        "worst_id": "a",
        "worst_by": "source",
    }
    assert w["video"]["median_rel_err"] == 0.08 and w["video"]["median_by"] == "engine"


def _loso_coverage(rows_logs, level):
    """Share of runs inside the conformal band (at ``level``) of the other sources' errors."""
    inside = []
    for src, x in rows_logs:
        others = [y for s, y in rows_logs if s != src]
        if len(others) >= V.MIN_BAND_ENTRIES:
            lo, hi = V.conformal_band(others, level)
            inside.append(lo <= x <= hi)
    return sum(inside) / len(inside) if inside else None


def test_the_calibrated_bands_are_the_widest_of_the_three_ways_on_each_side(report):
    """Each family's committed band reaches, on each side, as far as the widest of the conformal bands (each at
    the lowest level from 85% whose leave-one-source-out coverage reaches 80%) that the three ways' held-out
    errors give, recomputed here from the entries' held-out ratios: it holds each of them whole."""
    assert report.bands
    for fam, b in report.bands.items():
        bands = {}
        for kind in ("source", "hardware", "engine"):
            rows_logs = [
                (d["source"], (-1 if d["metric"] in V.LATENCY_METRICS else 1) * math.log(d["held_out_ratios"][kind]))
                for d in report.entries
                if d["family"] == fam and "held_out_ratios" in d
            ]
            level = next(
                (lv for lv in V.BAND_LEVELS if (_loso_coverage(rows_logs, lv) or 1.0) >= V.BAND_COVERAGE),
                V.BAND_LEVELS[-1],
            )
            bands[kind] = (*V.conformal_band([x for _, x in rows_logs], level), level)
        low = min(bands, key=lambda k: bands[k][0])
        high = max(bands, key=lambda k: bands[k][1])
        assert b["held_out_by"] == {"low": low, "high": high}
        assert (b["low"], b["high"]) == (round(bands[low][0], 4), round(bands[high][1], 4))
        assert b["level"] == max(bands[low][2], bands[high][2])
        assert all(b["low"] <= round(lo, 4) and round(hi, 4) <= b["high"] for lo, hi, _ in bands.values())
        assert b["coverage"] is None or b["coverage"] >= V.BAND_COVERAGE or b["level"] == V.BAND_LEVELS[-1]
    band = {"n": 9, "level": 0.85, "coverage": 0.8}
    wide = V.widest_bands(
        {
            "source": {"ar": band | {"low": -0.1, "high": 0.1}},
            "hardware": {"ar": band | {"low": -0.3, "high": 0.0}, "video": band | {"low": -0.1, "high": 0.2}},
            "engine": {"ar": band | {"low": -0.05, "high": 0.2, "level": 0.9, "coverage": 0.85}},
        }
    )
    # the widest band overall (hardware's, 0.3 wide) is the narrower on the slow side: engine's reaches 0.2
    assert wide == {
        "ar": band
        | {"low": -0.3, "high": 0.2, "level": 0.9, "width": round(math.exp(0.5), 4)}
        | {"held_out_by": {"low": "hardware", "high": "engine"}},
        "video": band
        | {"low": -0.1, "high": 0.2, "width": round(math.exp(0.3), 4)}
        | {"held_out_by": {"low": "hardware", "high": "hardware"}},
    }


def test_readme_summary_is_fresh(report):
    from write_validation_docs import readme_block

    from tokcost.render.validate import REGEN

    readme = (ROOT / "README.md").read_text()
    assert readme_block(report) in readme, f"README.md's validation summary is stale: run `{REGEN}`"


def test_docs_validation_md_is_fresh(report):
    from tokcost.render.validate import REGEN, format_markdown

    text = format_markdown(report)
    assert DOC.exists(), f"docs/validation.md missing: run `{REGEN}`"
    assert DOC.read_text() == text, f"docs/validation.md is stale: run `{REGEN}`"


def test_cli_json_and_exit_code(tmp_path):
    from typer.testing import CliRunner

    from tokcost.cli.app import app

    res = CliRunner().invoke(app, ["validate", "--in-sample-only", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["summary"]["held_out"] is None and data["passed"]
    assert data["held_out_by"] is None and data["summary"]["held_out_worst"] is None and data["bands"] == {}
    # a gate breach exits 1: a measurement file whose one entry is 10x off
    text = (DATA_DIR / "validation" / "measurements.yaml").read_text()
    head = text.split("\n- id: llamagen-serve-b-vllm\n")[0].replace("measured: 7.8\n", "measured: 78\n")
    f = tmp_path / "one.yaml"
    f.write_text(head + "\n")
    res = CliRunner().invoke(app, ["validate", "--in-sample-only", "--measurements", str(f)])
    assert res.exit_code == 1, res.output
    assert "FAILED" in res.output


def test_the_docs_script_documents_the_report_the_tests_check(entries, cat, monkeypatch):
    """scripts/write_validation_docs.py prices the same committed set the freshness tests above compare with: the
    same call as the ``report`` fixture (recorded here rather than recomputed)."""
    from write_validation_docs import committed_report, with_readme_block

    signature, calls = inspect.signature(F.validation_result), []
    monkeypatch.setattr(F, "validation_result", lambda *a, **k: calls.append(signature.bind(*a, **k)) or "result")
    assert committed_report() == "result"
    call = calls[0]
    call.apply_defaults()
    assert call.arguments["entries"] == entries and call.arguments["catalog"].roots == cat.roots
    assert (call.arguments["refit"], call.arguments["held_out"]) == (False, True)
    assert (
        with_readme_block("a\n<!-- validation-summary: old -->\nx\n<!-- /validation-summary -->\nb", "NEW")
        == "a\nNEW\nb"
    )


def test_error_bands_are_committed_fresh_and_widen_every_estimate(report):
    """tokcost/data/generated/error_bands.yaml is what the held-out errors give (regenerated with the docs), and every
    estimate's band covers at least central x exp(low) .. central x exp(high) of its family."""
    from write_validation_docs import error_bands_yaml

    import tokcost
    from tokcost.io.engines import load_error_bands

    committed = (ERROR_BANDS_FILE).read_text()
    assert committed == error_bands_yaml(report), (
        "tokcost/data/generated/error_bands.yaml is stale: run the docs script"
    )
    bands = load_error_bands()
    assert set(bands) == {"ar", "diffusion-image", "masked", "video", "multi-gpu"}
    for fam, b in bands.items():
        # a family of one source may sit on one side of its estimates (masked: every open-muse run is measured
        # faster than predicted); the band still only widens an estimate's own range (checked below)
        assert b.low < b.high and b.width == pytest.approx(math.exp(b.high - b.low), rel=1e-3)
        assert b.low < 0 < b.high or fam == "masked", fam
        # coverage needs other sources to build the band from: none for a family of one source (masked: open-muse)
        assert b.coverage is None if fam == "masked" else 0.3 < b.coverage <= 1.0
    for kw, fam in (
        (dict(model="sdxl"), "diffusion-image"),
        (dict(model="emu3-gen", engine="compiled"), "ar"),
        (dict(model="hunyuanvideo", width=1280, height=720, frames=129), "video"),
        (dict(model="flux1-dev", gpus=4), "multi-gpu"),
    ):
        r = tokcost.estimate(hardware="h100-sxm", prices={"h100-sxm": 3.0}, **kw)
        b = bands[fam]
        assert r.latency_s_band.low <= max(r.floor_s, r.latency_s * math.exp(b.low)) * (1 + 1e-9)
        assert r.latency_s_band.high >= r.latency_s * math.exp(b.high) * (1 - 1e-9)
        assert r.latency_s_band.low >= r.floor_s  # never below the roofline floor
        assert r.throughput_items_per_s_band.low == pytest.approx(r.batch / r.latency_s_band.high)
        assert r.cost_usd_per_item_band.high / r.cost_usd_per_item == pytest.approx(r.latency_s_band.high / r.latency_s)


def test_a_family_with_too_few_held_out_runs_for_a_band_takes_the_widest():
    """next-scale and hybrid have fewer held-out runs than a band needs (V.MIN_BAND_ENTRIES): their estimates are
    widened to the widest family band, not left at the parameter band alone (their error is not known to be
    smaller than any measured family's)."""
    import tokcost
    from tokcost.io.engines import error_band, load_error_bands

    bands = load_error_bands()
    widest = max(bands.values(), key=lambda b: b.high - b.low)
    assert "next-scale" not in bands and "hybrid" not in bands
    assert error_band("next-scale") == widest and error_band("hybrid") == widest and error_band("ar") == bands["ar"]
    r = tokcost.estimate(model="infinity-2b", hardware="h100-sxm", prices={"h100-sxm": 3.0})
    assert r.latency_s_band.low <= max(r.floor_s, r.latency_s * math.exp(widest.low)) * (1 + 1e-9)
    assert r.latency_s_band.high >= r.latency_s * math.exp(widest.high) * (1 - 1e-9)


def test_error_band_coverage_is_leave_one_source_out():
    """Coverage counts an entry inside only against the percentiles of the other sources' errors."""
    rows = []
    for k, err in enumerate([0.0, 0.1, -0.1, 0.2, -0.2, 0.05, -0.05, 1.0]):
        r = V.Row(f"e{k}", "ar", "latency_s", math.exp(err), f"s{k}", "eager", "m", "h", predicted=1.0)
        rows.append(r)
    b = V.error_bands(rows)["ar"]
    assert b["n"] == 8 and b["low"] < 0 < b["high"]
    assert b["coverage"] < 1.0  # the outlier (1.0) is outside the band of the others


def test_a_band_widens_until_it_holds_eighty_percent_of_new_sources_runs():
    """Runs of one source share an error: a band built for 80% of exchangeable runs holds fewer of a new
    source's, so the level rises until the leave-one-source-out coverage reaches 80% (or the last level)."""
    rows = []
    errs = [0.0, 0.02, -0.02, 0.04, -0.04, 0.06, -0.06, 0.08, -0.08, 0.1]
    for k, err in enumerate(errs):  # ten sources of one run each, and one source of four runs 0.3 off
        rows.append(V.Row(f"e{k}", "ar", "latency_s", math.exp(err), f"s{k}", "eager", "m", "h", predicted=1.0))
    for k in range(4):
        rows.append(V.Row(f"x{k}", "ar", "latency_s", math.exp(0.3), "shared", "eager", "m", "h", predicted=1.0))
    b = V.error_bands(rows)["ar"]
    assert b["level"] > V.BAND_COVERAGE
    assert b["coverage"] >= V.BAND_COVERAGE or b["level"] == V.BAND_LEVELS[-1]
    at_80 = V.conformal_band([math.log(r.measured) for r in rows], V.BAND_COVERAGE)
    assert b["high"] - b["low"] >= round(at_80[1] - at_80[0], 4) - 1e-4


def test_conformal_band_holds_its_coverage_at_small_n_where_interpolated_percentiles_fall_short():
    """The split-conformal band of n errors holds a new exchangeable error with probability >= 80% at any n;
    numpy's interpolated 10th/90th percentiles hold ~0.8 (n - 1) / (n + 1) (about 73% at n = 20)."""
    assert V.conformal_band([5.0, 1.0, 3.0, 2.0, 4.0, 9.0, 7.0, 8.0, 6.0]) == (1.0, 9.0)  # n = 9: ranks 1 and 9
    assert V.conformal_band(list(range(1, 20))) == (2.0, 18.0)  # n = 19: ranks floor(2.0) and ceil(18.0)
    rng = np.random.default_rng(0)
    n, trials = 20, 20000
    draws = rng.standard_normal((trials, n + 1))
    bands = np.array([V.conformal_band(row[:n]) for row in draws])
    new = draws[:, n]
    conformal = np.mean((bands[:, 0] <= new) & (new <= bands[:, 1]))
    lo, hi = np.percentile(draws[:, :n], [10, 90], axis=1)
    interpolated = np.mean((lo <= new) & (new <= hi))
    assert conformal >= 0.80 - 0.01  # (19 - 2) / 21 = 0.81 in expectation
    assert interpolated < 0.76  # 0.8 x 19 / 21 = 0.72 in expectation


# ----------------------------------------------------------------------------------------------- the result cache


def _validate_counting(monkeypatch, cache_dir: Path):
    """``run(*args)``: `tokcost validate --in-sample-only --format json ARGS` in-process with its cache in
    ``cache_dir``; returns (output, how many times the result was computed so far)."""
    from typer.testing import CliRunner

    from tokcost.cli.app import app

    monkeypatch.setenv("TOKCOST_CACHE_DIR", str(cache_dir))
    real, computed = F.validation_result, []

    def counting(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "validation_result", counting)

    def run(*args: str) -> tuple[str, int]:
        res = CliRunner().invoke(app, ["validate", "--in-sample-only", "--format", "json", *args])
        assert res.exit_code == 0, res.output
        return res.stdout, len(computed)

    return run


def test_an_unchanged_validate_reads_its_result_from_the_cache(monkeypatch, tmp_path):
    run = _validate_counting(monkeypatch, tmp_path / "cache")
    first, n = run()
    assert n == 1 and len(list((tmp_path / "cache").glob("*.json"))) == 1
    again, n = run()
    assert n == 1 and again == first  # not recomputed, and the same JSON
    assert run("--no-cache") == (first, 2)  # recomputed on request


def test_a_cached_result_renders_exactly_as_the_computed_one(report):
    """What the cache stores (the result's JSON) reads back into a result every format renders identically."""
    from tokcost.records.validation import ValidationResult
    from tokcost.render import registry

    back = ValidationResult.model_validate_json(report.model_dump_json())
    for fmt in ("json", "table", "markdown"):
        assert registry.render("validate", fmt, back) == registry.render("validate", fmt, report), fmt


def test_changed_measurements_or_presets_are_recomputed(monkeypatch, tmp_path):
    run = _validate_counting(monkeypatch, tmp_path / "cache")
    measurements = tmp_path / "m.yaml"
    text = (DATA_DIR / "validation" / "measurements.yaml").read_text()
    measurements.write_text(text)
    first, n = run("--measurements", str(measurements))
    assert run("--measurements", str(measurements)) == (first, 1)
    measurements.write_text(text.replace("measured: 7.8\n", "measured: 7.9\n", 1))
    changed, n = run("--measurements", str(measurements))
    assert n == 2 and changed != first
    # a user preset overriding a built-in one the measurements use
    presets = tmp_path / "presets" / "hardware"
    presets.mkdir(parents=True)
    h100 = (DATA_DIR / "hardware" / "h100-sxm.yaml").read_text()
    (presets / "h100-sxm.yaml").write_text(h100.replace("memory_gb: 80", "memory_gb: 81", 1))
    assert "memory_gb: 81" in (presets / "h100-sxm.yaml").read_text()
    _, n = run("--measurements", str(measurements), "--presets", str(tmp_path / "presets"))
    assert n == 3


def test_the_cache_directory_follows_its_variable_then_xdg_then_home():
    from tokcost.io.cache import cache_dir

    assert cache_dir({"TOKCOST_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}) == Path("/c")
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/tokcost")
    assert cache_dir({"TOKCOST_CACHE_DIR": "", "XDG_CACHE_HOME": ""}) == Path.home() / ".cache" / "tokcost"


def test_a_change_to_any_package_file_changes_the_code_fingerprint(monkeypatch, tmp_path):
    from tokcost.io import cache

    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "physics.py").write_text("A = 1\n")
    (tmp_path / "data.yaml").write_text("mfu: 0.5\n")
    monkeypatch.setattr(cache, "PACKAGE_DIR", tmp_path)
    prints = []
    for change in (None, ("engine/physics.py", "A = 2\n"), ("data.yaml", "mfu: 0.6\n"), ("new.py", "")):
        if change:
            (tmp_path / change[0]).write_text(change[1])
        cache.code_fingerprint.cache_clear()
        prints.append(cache.code_fingerprint())
    cache.code_fingerprint.cache_clear()
    assert len(set(prints)) == len(prints)


def test_a_corrupt_or_foreign_cache_file_is_recomputed(monkeypatch, tmp_path):
    run = _validate_counting(monkeypatch, tmp_path / "cache")
    first, _ = run()
    (path,) = (tmp_path / "cache").glob("*.json")
    stored = json.loads(path.read_text())
    bad_files = [
        path.read_bytes()[:100],  # cut short
        b"\xff\xfe not json",
        json.dumps({**stored, "text": stored["text"][:-10]}).encode(),  # the right key, a broken result
        json.dumps({**stored, "format": 99}).encode(),  # another layout
    ]
    for k, bad in enumerate(bad_files, start=2):
        path.write_bytes(bad)
        assert run() == (first, k)  # recomputed, and the cache file repaired:
        assert run() == (first, k)


def test_an_unwritable_cache_directory_is_skipped(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = _validate_counting(monkeypatch, blocker / "cache")  # cannot be created: its parent is a file
    first, n = run()
    assert run() == (first, 2)  # computed each time, never an error
