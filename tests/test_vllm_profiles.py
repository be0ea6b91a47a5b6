"""Dated vLLM profiles (issue 16 item 6): ``vllm`` is today's vLLM, fitted on published 2026 inter-token latencies
(metric ``itl_s``), ``vllm-0.4`` keeps the 2024 fit for the LlamaGen serving table that used it, ``vllm-0.7`` the
runs of vLLM 0.5-0.7's V0 engine and ``vllm-0.11`` those of 0.8-0.11 (before async scheduling). All batch
continuously; only the current one is offered when a spec or sweep names no engine."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import tokcost
from tokcost.cli.app import app
from tokcost.core import validate as V
from tokcost.core.sweep import SweepRequest, run_sweep
from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate_arrays, host_speed, pricing_note, text_decode_s
from tokcost.engine.profiles import efficiency
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines, offered
from tokcost.io.measurements import load_entries
from tokcost.render import advice

CAT = Catalog.default()
ENGINES = load_engines()


@pytest.fixture(scope="module")
def entries():
    return {e.id: e for e in load_entries()}


def test_the_dated_profile_is_kept_but_not_offered():
    assert ENGINES["vllm-0.4"].superseded_by == "vllm" and ENGINES["vllm"].superseded_by is None
    assert ENGINES["vllm"].continuous and ENGINES["vllm-0.4"].continuous
    assert {ENGINES[e].batching for e in ("eager", "compiled")} == {"static"}
    assert offered(ENGINES, "ar") == ["eager", "compiled", "vllm"]
    assert offered(ENGINES, "diffusion") == ["eager", "compiled"]


def test_a_superseded_profile_names_a_current_one_that_serves_the_same_models():
    for name, p in ENGINES.items():
        if p.superseded_by is not None:
            newer = ENGINES[p.superseded_by]
            assert newer.superseded_by is None and set(p.serves) <= set(newer.serves), name


@pytest.mark.parametrize("model", ["llamagen-b", "llamagen-xl"])
def test_todays_vllm_steps_faster_than_vllm_0_4(model):
    """The same AR image at batch 1 from the models of vLLM 0.4's published table, whose small decoders leave a
    step host-bound: the 2026 release's per-step host work is lower, and so is the latency. (A 7-8B decoder at
    batch 1 is bound by its weight read instead, which the two profiles price alike.)"""
    layers = CAT.model(model).architecture.layers
    host = {e: ENGINES[e].fixed_per_step_s.central + layers * ENGINES[e].host_per_layer_s.central for e in ENGINES}
    assert host["vllm"] < host["vllm-0.4"]
    times = {}
    for engine in ("vllm", "vllm-0.4"):
        cfg = Config(model=CAT.model(model), hardware=CAT.hardware("h100-sxm"), profiles=ENGINES, engine=engine)
        times[engine] = float(estimate_arrays(cfg).latency_s)
    assert times["vllm"] < times["vllm-0.4"]


def test_the_llamagen_vllm_rows_are_priced_with_the_dated_profile(entries):
    rows = [e for e in entries.values() if e.id.startswith("llamagen-serve-") and e.id.endswith("-vllm")]
    assert len(rows) == 5 and {e.engine for e in rows} == {"vllm-0.4"}
    # the published inter-token latencies of vLLM runs are today's releases', never the 2024 profile's
    assert "vllm-0.4" not in {e.engine for e in entries.values() if e.metric == "itl_s"}


def test_the_v0_engine_runs_are_priced_with_their_dated_profile(entries):
    """vLLM 0.5-0.7 ran the V0 engine, whose per-step CPU work is serial with the GPU: its runs (Red Hat's
    vLLM 0.7.2 model cards) are priced with vllm-0.7, which shares today's GEMM, attention and per-sequence terms
    and fits a larger per-step time; no run of today's releases is."""
    v0 = [e for e in entries.values() if "vllm072" in e.id]
    assert len(v0) >= 20 and {e.engine for e in v0} == {"vllm-0.7"}
    assert not {e.engine for e in entries.values() if "vllm019" in e.id} & {"vllm-0.7", "vllm-0.4"}
    old, new = ENGINES["vllm-0.7"], ENGINES["vllm"]
    # serial per-step host work both, as V1 ran it before async scheduling (vllm-0.11 shares today's terms)
    assert old.fixed_per_step_s.central > ENGINES["vllm-0.11"].fixed_per_step_s.central
    for shared in ("mbu", "gpu_per_layer_s", "host_per_sequence_s", "host_per_layer_s", "mfu"):
        assert getattr(old, shared) == getattr(new, shared), shared
    e = entries["nm-r1distill-qwen14b-h100-vllm072-256x1024"]
    as_today = e.model_copy(update={"engine": "vllm"})
    # tokens per second: the V0 engine's larger step time gives fewer
    assert float(V.text_decode_prediction(e, CAT)(None)) < float(V.text_decode_prediction(as_today, CAT)(None))


def test_async_scheduling_hides_the_step_host_work_under_the_forward(entries):
    """Today's vLLM schedules a step while the GPU computes the one before (overlapped_step); vLLM 0.8-0.11 ran the
    same engine with that work serial (vllm-0.11, every term shared). The same run therefore steps faster on the
    current profile, by at most the host work, and never faster than its host work alone."""
    current, serial = ENGINES["vllm"], ENGINES["vllm-0.11"]
    assert current.overlapped_step and not serial.overlapped_step
    for field in ("mbu", "fixed_per_step_s", "host_per_sequence_s", "gpu_per_layer_s", "host_per_layer_s"):
        assert getattr(current, field) == getattr(serial, field), field
    arch = CAT.model("llamagen-xl").architecture
    hw = CAT.hardware("h100-sxm")
    for batch in (1, 8, 64, 256):
        t = {
            e: text_decode_s(arch, hw, ENGINES, e, "bf16", 64, 256, batch, 1, kernels=None)[1]
            for e in ("vllm", "vllm-0.11")
        }
        step_host = current.fixed_per_step_s.central + batch * current.host_per_sequence_s.central
        host = 256 * step_host / host_speed(hw)  # the host terms run on the preset's typical server
        assert t["vllm"] < t["vllm-0.11"] <= t["vllm"] + host * (1 + 1e-9)
        assert t["vllm"] >= host * (1 - 1e-9)


@pytest.mark.parametrize(("engine", "words"), [("vllm", "beside the GPU's forward"), ("vllm-0.11", "serial with")])
def test_an_estimate_says_whether_the_step_host_work_overlaps_the_forward(engine, words):
    est = tokcost.estimate(model="llamagen-xl", hardware="h100-sxm", engine=engine)
    (host,) = [n for n in est.notes if "per running sequence" in n]
    assert words in host


def _itl(entry_id, entries, **conditions):
    e = entries[entry_id]
    if conditions:
        e = e.model_copy(update={"conditions": e.conditions.model_copy(update=conditions)})
    return float(V.text_decode_prediction(e, CAT)(None))


def test_itl_is_the_decode_step_without_the_prefill(entries):
    """An itl_s prediction is decode seconds / decode steps: the prefill of a long prompt does not enter it."""
    e = entries["vllm019-llama31-8b-h100-bs1-in125k"]
    c = e.conditions
    prefill, decode = text_decode_s(
        e.architecture, CAT.hardware(e.hardware), ENGINES, "vllm", "bf16", c.prompt_tokens + 1, c.generated_tokens - 1
    )
    assert prefill > decode / (c.generated_tokens - 1)  # a 125k prefill is far longer than one step
    assert _itl(e.id, entries) == pytest.approx(float(decode) / (c.generated_tokens - 1))


def test_itl_is_above_the_weight_read_floor_and_grows_with_context(entries):
    e = entries["vllm019-llama31-8b-h100-bs1-in256"]
    hw = CAT.hardware(e.hardware)
    floor = e.architecture.matmul_params_b * 1e9 * 2 / (hw.bandwidth_tbps * 1e12)  # bf16 weights at peak bandwidth
    short, long = _itl(e.id, entries), _itl(e.id, entries, prompt_tokens=125_000)
    assert floor < short < long


def test_an_fp8_kv_cache_halves_the_context_slope(entries):
    """Memory-bound decode: the KV cache's bytes per token halve in fp8, so ITL grows half as fast with context
    (the vLLM blog measures 54% on H100 and B200)."""
    slopes = {}
    for kv in ("bf16", "fp8"):
        short = _itl("vllm019-llama31-8b-h100-bs1-in256", entries, kv_dtype=kv)
        long = _itl("vllm019-llama31-8b-h100-bs1-in256", entries, kv_dtype=kv, prompt_tokens=125_000)
        slopes[kv] = long - short
    assert physics.KV_DTYPE_BYTES["fp8"] / physics.KV_DTYPE_BYTES["bf16"] == 0.5
    assert slopes["fp8"] == pytest.approx(slopes["bf16"] / 2, rel=0.02)


def test_itl_entries_are_scored_and_print_in_milliseconds(entries):
    rows = [V.price_entry(e, CAT) for e in entries.values() if e.metric == "itl_s"]
    assert len(rows) >= 10 and all(r.scored for r in rows)
    assert all(0.1 < r.ratio < 10 for r in rows)
    from tokcost.render.validate import _entry_cells

    cells = _entry_cells(rows[0].to_dict())
    assert cells[4].endswith(" ms/token") and float(cells[4].split()[0]) == pytest.approx(
        rows[0].measured * 1e3, rel=0.01
    )


def test_sweep_prices_the_dated_profile_only_when_named():
    req = dict(
        models=[CAT.model("emu3-gen")], hardware=[CAT.hardware("h100-sxm")], resolutions=[(512, 512)], batches=[1]
    )
    default = run_sweep(SweepRequest(**req))
    assert set(default.columns["engine"]) == {"eager", "compiled", "vllm"}
    named = run_sweep(SweepRequest(**req, engines=["vllm-0.4"]))
    assert set(named.columns["engine"]) == {"vllm-0.4"}


def _spec(tmp_path, engines=None):
    doc = {
        "version": 1,
        "name": "ar-images",
        "product": {"kind": "image", "width": 512, "height": 512, "quality_tier": "draft"},
        "demand": {"requests_per_day": 2000},
        "budget": {"latency_s": 600},
        "candidates": {"models": ["emu3-gen"], "hardware": ["h100-sxm"]},
    }
    if engines:
        doc["candidates"]["engines"] = engines
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    return tokcost.analyze(str(path)).specs[0]


def test_analyze_offers_todays_vllm_and_prices_the_old_one_when_listed(tmp_path):
    default = _spec(tmp_path)
    assert {c.engine for c in default.candidates} == {"eager", "compiled", "vllm"}
    old = _spec(tmp_path, ["vllm-0.4"])
    assert [c.engine for c in old.candidates] == ["vllm-0.4"]
    best = old.candidates[0]
    assert best.feasible, best.violations
    assert any("continuous batching" in r for r in advice.why(old))  # the dated profile batches too


def test_estimate_takes_either_vllm_and_refuses_diffusion():
    r = CliRunner().invoke(
        app, ["estimate", "--model", "emu3-gen", "--hardware", "h100-sxm", "--engine", "vllm-0.4", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["engine"] == "vllm-0.4"
    r = CliRunner().invoke(app, ["estimate", "--model", "sdxl", "--hardware", "h100-sxm", "--engine", "vllm-0.4"])
    assert r.exit_code == 2 and "vllm-0.4" in r.output


def test_an_itl_error_counts_as_a_latency_in_the_bands(entries):
    """A measured inter-token latency above the prediction is a run slower than predicted, as for latency_s."""
    row = V.price_entry(entries["inferencebench-llama31-8b-h100-c16"], CAT)
    assert row.ratio < 1 and V.latency_log_error(row) > 0


def test_an_eager_bare_decoder_launches_the_transformers_decoders_kernels(entries):
    """A bare decoder run eager is transformers' code: its host time per layer is the counted launches of
    transformers' LlamaForCausalLM decode step over the reference layer's 63, which a CUDA-graph engine does not
    pay (its host term does not launch per op)."""
    from tokcost.io.elementwise import load_elementwise

    counted = load_elementwise().decoders.launches
    assert 20 < counted < physics.REFERENCE_LAUNCHES
    e = entries["hf-optimum-llama2-13b-a100-eager-decode-b1"]
    assert e.engine == "eager" and e.architecture is not None
    c, hw = e.conditions, CAT.hardware(e.hardware)

    def decode(engine, launches):
        _, d = text_decode_s(
            e.architecture, hw, ENGINES, engine, "fp16", c.prompt_tokens, 64, launches_per_layer=launches
        )
        return float(d)

    ref, counted_s = decode("eager", None), decode("eager", counted)
    assert counted_s < ref  # fewer launches than the reference layer: less host time at a host-bound step
    eager = ENGINES["eager"]
    host_gap = (
        e.architecture.layers * float(eager.host_per_layer_s.central) * (1 - counted / physics.REFERENCE_LAUNCHES)
    )
    assert ref - counted_s == pytest.approx(64 * host_gap / host_speed(hw), rel=0.02)
    assert decode("compiled", counted) == decode("compiled", None)
    # the validation set prices the entry with that count
    steps = c.generated_tokens - 1
    _, d = text_decode_s(
        e.architecture, hw, ENGINES, "eager", "fp16", c.prompt_tokens + 1, steps, launches_per_layer=counted
    )
    assert _itl(e.id, entries) == pytest.approx(float(d) / steps)


# a host-bound decoder (Qwen2-0.5B's block, Qwen/Qwen2-0.5B config.json) and a 72B one to split four ways
QWEN2_05B = physics.Architecture(
    layers=24, hidden=896, heads=14, kv_heads=2, head_dim=64, ffn=4864, vocab=151936, context=32768,
    params_b=0.494, matmul_params_b=0.494,
)  # fmt: skip


def _per_token(engine, prompt, arch=QWEN2_05B, gpus=1, generated=64):
    """Seconds per decoded token of ``generated`` tokens after a ``prompt``-token prefill on H100s."""
    _, decode = text_decode_s(arch, CAT.hardware("h100-sxm"), ENGINES, engine, "bf16", prompt, generated, gpus=gpus)
    return float(decode) / generated


@pytest.mark.parametrize("engine", ["vllm-0.4", "vllm-0.7"])
def test_v0_decodes_eager_beyond_the_context_its_graphs_cover(engine):
    """vLLM V0 replays a decode step's CUDA graph only while the context is within max_seq_len_to_capture (8192):
    past it a small decoder's step is the host's eager launches, layer by layer, where today's engine (V1, graphs
    by token count) steps as it did. The KV cache read between the two contexts adds well under 1%."""
    graphs = ENGINES[engine].decode_graphs
    assert graphs is not None and graphs.max_context == 8192
    within, beyond = (_per_token(engine, p) for p in (6000, 9000))
    eager_host = (
        QWEN2_05B.layers * ENGINES[engine].eager_host_per_layer_s.central / host_speed(CAT.hardware("h100-sxm"))
    )
    assert beyond > within * 1.5 and beyond >= eager_host
    today = [_per_token("vllm", p) for p in (6000, 9000)]
    assert today[1] < today[0] * 1.05
    # the step that crosses 8192 splits the decode: 64 tokens from 8160 are half graphs, half eager
    assert within < _per_token(engine, 8160) < beyond


def test_v0_prefills_eager_and_its_eager_all_reduces_are_host_calls():
    """V0's graphs cover decode only, so a prefill costs at least its layers' eager host time; an eager
    tensor-parallel step adds one operator call per all-reduce (two a layer) to the layer's 11."""
    hw = CAT.hardware("h100-sxm")
    graphs = ENGINES["vllm-0.7"].decode_graphs
    per_layer = ENGINES["vllm-0.7"].eager_host_per_layer_s.central / host_speed(hw)
    prefill, _ = text_decode_s(QWEN2_05B, hw, ENGINES, "vllm-0.7", "bf16", 16, 1)
    assert float(prefill) >= QWEN2_05B.layers * per_layer
    today, _ = text_decode_s(QWEN2_05B, hw, ENGINES, "vllm", "bf16", 16, 1)
    assert float(today) < float(prefill)
    eff = efficiency(ENGINES["vllm-0.7"], hw, "central", None, ENGINES["eager"], host_speed=host_speed(hw))
    assert eff.graph_max_context == graphs.max_context
    assert eff.eager_host_per_collective_s == pytest.approx(
        per_layer * graphs.eager_ops_per_collective / graphs.eager_ops_per_layer
    )
    assert physics.ar_eager_host_s(QWEN2_05B, eff, 4) == pytest.approx(
        QWEN2_05B.layers * per_layer * (1 + 2 * graphs.eager_ops_per_collective / graphs.eager_ops_per_layer)
    )


def test_every_profile_with_decode_graphs_has_its_eager_layer_cost_fitted():
    """A profile whose graphs stop somewhere prices the steps beyond at its fitted eager_host_per_layer_s (an unfitted
    one would price them as replayed): scripts/fit_engines.py writes it."""
    from tokcost.core.fit import PARAMS

    fitted = {e for engines, field, *_ in PARAMS if field == "eager_host_per_layer_s" for e in engines}
    with_graphs = {name for name, p in ENGINES.items() if p.decode_graphs is not None}
    assert with_graphs == fitted == {"vllm-0.4", "vllm-0.7"}
    assert all(ENGINES[e].eager_host_per_layer_s is not None for e in with_graphs)


def test_the_estimate_says_where_v0s_graphs_stop():
    hw = CAT.hardware("h100-sxm")
    for engine, says in (("vllm-0.7", True), ("vllm", False)):
        cfg = Config(model=CAT.model("llamagen-xl"), hardware=hw, profiles=ENGINES, engine=engine)
        assert ("up to 8192 tokens of context" in pricing_note(cfg)) == says


def test_the_v0_eager_prior_is_the_counted_calls_at_eagers_cost_per_launch():
    """The prior a fold without V0 runs past 8192 tokens takes (fit.PRIORS) restates the profiles' counted calls per
    layer over the reference layer's launches: the two must not drift apart."""
    from tokcost.core.fit import PRIORS

    source, factor = PRIORS[(("vllm-0.4", "vllm-0.7"), "eager_host_per_layer_s")]
    assert source == (("eager",), "host_per_layer_s")
    for engine in ("vllm-0.4", "vllm-0.7"):
        assert factor == ENGINES[engine].decode_graphs.eager_ops_per_layer / physics.REFERENCE_LAUNCHES


@pytest.mark.parametrize("engine", ["vllm-0.4", "vllm-0.7"])
def test_enforce_eager_prices_every_v0_step_eager(engine):
    """With no CUDA graphs (enforce_eager=True, or a vLLM before 0.2.6) a small decoder's step at a short context
    costs what a graph-less step beyond 8192 tokens does: at least its layers' eager host time."""
    hw = CAT.hardware("h100-sxm")
    per_layer = ENGINES[engine].eager_host_per_layer_s.central / host_speed(hw)
    graphs = _per_token(engine, 512)
    _, decode = text_decode_s(QWEN2_05B, hw, ENGINES, engine, "bf16", 512, 64, enforce_eager=True)
    eager = float(decode) / 64
    assert eager >= QWEN2_05B.layers * per_layer > graphs
    assert eager == pytest.approx(_per_token(engine, 9000), rel=0.02)  # the KV cache read is all that differs


def test_enforce_eager_is_refused_where_no_eager_step_is_fitted_and_outside_bare_decoders(tmp_path):
    from tokcost.errors import UsageError

    with pytest.raises(UsageError, match="enforce_eager is priced only for"):
        text_decode_s(QWEN2_05B, CAT.hardware("h100-sxm"), ENGINES, "vllm", "bf16", 512, 64, enforce_eager=True)
    entry = {
        "id": "x", "family": "ar", "metric": "tokens_per_s", "measured": 100.0, "model": None,
        "hardware": "h100-sxm", "engine": "vllm", "source": "s",
        "conditions": {"batch": 1, "prompt_tokens": 512, "generated_tokens": 64, "enforce_eager": True},
        "architecture": QWEN2_05B.model_dump(),
    }  # fmt: skip
    image = dict(entry, id="y", model="llamagen-b", architecture=None, engine="vllm-0.4", metric="latency_s")
    image["conditions"] = {"batch": 1, "enforce_eager": True}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump([entry, image]))
    rows = {r["id"]: r for r in tokcost.validate(measurements=path, in_sample_only=True).model_dump()["entries"]}
    assert rows["x"]["reason"]["kind"] == "cannot_price" and "vllm has none" in rows["x"]["reason"]["detail"]
    assert rows["y"]["reason"] == {"kind": "enforce_eager_outside_bare_decoder"}
    from tokcost.render.validate import unscored_words

    assert unscored_words(rows["y"]["reason"]) == "enforce_eager is priced for a bare text decoder's runs only"


def test_a_run_of_one_generated_token_is_its_prefill_alone(entries):
    """The prefill makes the first token: a tokens_per_s run of G tokens is a prefill and G - 1 decode steps, so one
    token is the prefill's time alone, and each further token adds one decode step."""
    from tokcost.engine.estimate import text_decode_s
    from tokcost.io.elementwise import load_elementwise
    from tokcost.io.engines import load_engines
    from tokcost.io.kernel_tables import hardware_kernels

    e = entries["optbench1031-llama2-7b-a100-eager-fp16-b8-p512-g1000"]
    c = e.conditions
    one = e.model_copy(update={"conditions": c.model_copy(update={"generated_tokens": 1})})
    prefill, none = text_decode_s(
        e.architecture,
        CAT.hardware(e.hardware),
        load_engines(),
        e.engine,
        c.precision,
        c.prompt_tokens,
        0,
        c.batch,
        kernels=hardware_kernels,
        launches_per_layer=load_elementwise().decoders.launches,
        kv_cache=V.bare_decoder_cache(e.engine, e.architecture, c.attention),
        decoder_passes=load_elementwise().decoder_passes(),
    )
    assert float(none) == 0.0
    assert float(V.text_decode_prediction(one, CAT)(None)) == pytest.approx(c.batch / float(prefill))
    two = e.model_copy(update={"conditions": c.model_copy(update={"generated_tokens": 2})})
    assert 2 * c.batch / float(V.text_decode_prediction(two, CAT)(None)) > float(prefill)
