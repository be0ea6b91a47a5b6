"""A decoder with a sliding attention window (Mistral-7B-v0.1: 4,096 tokens in every layer; Gemma 3: 1,024 in five
layers of six): past the window its layers' decode steps read and keep the window's keys only, and its prefill
skips the keys outside the window under an engine whose kernel takes it (vLLM), not under SDPA's mask (eager)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tokcost.engine import physics
from tokcost.engine.profiles import efficiency
from tokcost.io.architecture import load_architecture
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines

CAT = Catalog.default()
ENGINES = load_engines()
H100 = CAT.hardware("h100-sxm")
CONFIGS = Path(__file__).resolve().parent / "configs"  # published decoder configs, sources in its README.md


@pytest.fixture(scope="module")
def mistral(tmp_path_factory):
    """Mistral-7B-v0.1 as its published config sets it: a 4,096-token window in all 32 layers."""
    path = tmp_path_factory.mktemp("configs") / "mistral.json"
    path.write_text((CONFIGS / "mistral-7b-v0.1.json").read_text())
    return load_architecture(path)


def windowed(arch, window, layers):
    return arch.model_copy(update={"sliding_window": window, "sliding_layers": layers})


def full(arch):
    return windowed(arch, None, None)


def eff(engine, **changes):
    return dataclasses.replace(efficiency(ENGINES[engine], H100, eager=ENGINES["eager"]), **changes)


def decode(arch, e, t0, forwards, n_seq=4.0, **kw):
    P, BW = physics.peak_flops(H100, "bf16"), H100.bandwidth_tbps * 1e12
    return physics.ar_decode_time(arch, P, BW, e, 2.0, n_seq, t0, forwards, **kw)[0]


def prefill(arch, e, p, n_seq=2.0):
    P, BW = physics.peak_flops(H100, "bf16"), H100.bandwidth_tbps * 1e12
    return physics.ar_prefill_time(arch, P, BW, e, 2.0, n_seq, p)[0]


def test_attended_context_caps_the_windowed_layers_only(mistral):
    gemma_like = windowed(mistral, 1024, 24)  # half the 32 layers slide
    t = np.array([10.0, 1024.0, 5000.0])
    assert physics.attended_context(full(mistral), t) == pytest.approx(t)
    assert physics.attended_context(mistral, t) == pytest.approx([10.0, 1024.0, 4096.0])
    assert physics.attended_context(gemma_like, t) == pytest.approx([10.0, 1024.0, 0.25 * 5000 + 0.75 * 1024])


@pytest.mark.parametrize(
    "engine, graph_stop",
    [
        ("eager", np.inf),  # every forward launched op by op
        ("vllm", np.inf),  # every forward replayed, host beside the GPU
        ("vllm-0.4", 2500.0),  # graphs stop after the window is reached
        ("vllm-0.4", 900.0),  # graphs stop before it
    ],
)
@pytest.mark.parametrize(
    "decoding",
    [
        {},
        {"advance": 3, "verify": 4},  # speculative: 4 positions computed, 3 accepted per forward
        {"kv_static": 9000.0, "kv_passes": 2.0},  # a preallocated cache read whole, twice, at every forward
        {"tp": 2},
    ],
)
def test_the_split_decode_sum_equals_pricing_each_forward_alone(mistral, engine, graph_stop, decoding):
    """The closed form splits the decode where the window is reached and where the graphs stop; summing the
    forwards one by one, each at its own context, must give the same seconds."""
    arch = windowed(mistral, 1024, 20)
    e = eff(engine) if engine != "vllm-0.4" else eff(engine, graph_max_context=graph_stop)
    t0, forwards, step = 300.0, 2600, decoding.get("advance", 1)
    whole = decode(arch, e, t0, forwards, **decoding)
    one_by_one = sum(float(decode(arch, e, t0 + step * j, 1, **decoding)) for j in range(forwards))
    assert float(whole) == pytest.approx(one_by_one, rel=1e-9)


def test_a_fully_windowed_decoder_s_step_stops_growing_at_the_window(mistral):
    e = eff("vllm")
    one = float(decode(mistral, e, 6000.0, 1, n_seq=64.0))
    assert float(decode(mistral, e, 6000.0, 500, n_seq=64.0)) == pytest.approx(500 * one, rel=1e-9)
    # without the window the same steps keep growing with the context
    assert float(decode(full(mistral), e, 6000.0, 500, n_seq=64.0)) > 500 * float(
        decode(full(mistral), e, 6000.0, 1, n_seq=64.0)
    )


@pytest.mark.parametrize("engine", ["eager", "compiled", "vllm", "vllm-0.4", "vllm-0.7", "vllm-0.11"])
@pytest.mark.parametrize("t0, forwards", [(100.0, 500), (100.0, 20000), (9000.0, 4000)])
@pytest.mark.parametrize("n_seq", [1.0, 64.0])
def test_a_window_never_costs_more_and_changes_nothing_inside_it(mistral, engine, t0, forwards, n_seq):
    e = eff(engine)
    with_window = float(decode(mistral, e, t0, forwards, n_seq=n_seq))
    without = float(decode(full(mistral), e, t0, forwards, n_seq=n_seq))
    if t0 + forwards <= 4096:
        assert with_window == without
    elif n_seq > 1:  # 64 sequences' cache reads bind the GPU, so reading less of it is faster
        assert with_window < without
    else:  # one sequence: the weights or the host may set every step, the window saving nothing
        assert with_window <= without


def test_the_prefill_skips_the_keys_outside_the_window_only_where_the_kernel_takes_it(mistral):
    long, short = 16384.0, 2048.0
    vllm, eager = eff("vllm"), eff("eager")
    assert ENGINES["vllm"].window_prefill == "skips" and ENGINES["eager"].window_prefill == "masks"
    assert float(prefill(mistral, vllm, long)) < float(prefill(full(mistral), vllm, long))
    # SDPA given the window as a mask computes the whole causal square
    assert float(prefill(mistral, eager, long)) == float(prefill(full(mistral), eager, long))
    # a prompt inside the window is the same work either way
    assert float(prefill(mistral, vllm, short)) == float(prefill(full(mistral), vllm, short))


def test_the_prefill_share_counts_the_query_key_pairs(mistral):
    W = 4096
    # p = 2W: the first W queries see W(W+1)/2 pairs, the next W see W each; out of p^2/2 (continuous counts)
    assert float(physics.prefill_attention_share(mistral, 2 * W)) == pytest.approx(
        (2 * W * 2 * W - W * W) / (2 * W) ** 2
    )
    assert float(physics.prefill_attention_share(mistral, W)) == 1.0
    shares = physics.prefill_attention_share(mistral, np.array([W, 2 * W, 8 * W, 64 * W]))
    assert np.all(np.diff(shares) < 0)  # the longer the prompt, the more of it lies outside the window
    half = windowed(mistral, W, 16)
    assert float(physics.prefill_attention_share(half, 2 * W)) == pytest.approx(0.5 + 0.5 * 0.75)


def test_the_cache_held_is_the_window_s(mistral):
    model = CAT.model("emu3-gen").model_copy(update={"architecture": mistral})
    flat = CAT.model("emu3-gen").model_copy(update={"architecture": full(mistral)})
    for context in (1000.0, 4096.0, 10000.0):
        kv = physics.ar_memory(model, 2.0, 8.0, context)["kv_cache"]
        assert float(kv) == pytest.approx(float(physics.ar_memory(flat, 2.0, 8.0, min(context, 4096.0))["kv_cache"]))
