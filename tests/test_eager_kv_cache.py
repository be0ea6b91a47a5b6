"""LlamaGen's reference decode reads its whole preallocated KV cache four times a step (EagerKVCache): the eager
estimate charges those bytes, other engines read the tokens so far once, and small batches stay host-bound."""

from __future__ import annotations

import numpy as np
import pytest

from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.families.ar import eager_cache_reads
from tokcost.engine.profiles import efficiency
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines

CAT = Catalog.default()
ENGINES = load_engines()
A100 = CAT.hardware("a100-80gb-sxm")
XXL = CAT.model("llamagen-xxl")
WITHOUT = XXL.model_copy(update={"eager_kv_cache": None})


def _eff(engine: str):
    return efficiency(ENGINES[engine], A100, eager=ENGINES["eager"])


def _latency(model, engine: str, batch: int) -> float:
    cfg = Config(profiles=ENGINES, model=model, hardware=A100, engine=engine, batch=np.array([batch]))
    return float(estimate_arrays(cfg).latency_s[0])


def test_every_llamagen_preset_counts_its_reference_cache_reads():
    for mid in ("llamagen-b", "llamagen-l", "llamagen-xl", "llamagen-xxl", "llamagen-3b"):
        cache = CAT.model(mid).eager_kv_cache
        assert cache is not None and cache.passes == 4 and cache.static_multiple == 8
        assert "find_multiple" in CAT.model(mid).sources["eager_kv_cache"]


def test_the_static_cache_is_the_generation_rounded_up_to_eight_under_eager_only():
    eager = _eff("eager")
    passes, static = eager_cache_reads(XXL, eager, np.array([577.0, 1.0 + 256]))
    assert float(passes) == 4 and static.tolist() == [584.0, 264.0]  # find_multiple(577, 8), find_multiple(257, 8)
    for engine in ("compiled", "vllm-0.4"):
        passes, static = eager_cache_reads(XXL, _eff(engine), np.array([577.0]))
        assert float(passes) == 1 and np.isnan(static).all()  # the tokens so far, once
    assert eager_cache_reads(CAT.model("emu3-gen"), eager, np.array([577.0])) == (1.0, None)


def test_the_decode_reads_the_whole_cache_every_step():
    """Memory term of ar_decode_time: weights + passes x sequences x static length x bytes per token, the same at
    every forward, where the default reads the context so far (a line in the forward)."""
    arch, eff = XXL.architecture, _eff("eager")
    bw, wbytes, n, t0, forwards = 2.0e12, 2.0, 128.0, 1.0, 576.0
    per_token = physics.kv_bytes_per_token(arch, 2.0)
    _, _, memory, _ = physics.ar_decode_time(
        arch, 312e12, bw, eff, wbytes, n, t0, forwards, kv_passes=4.0, kv_static=584.0
    )
    weights = arch.matmul_params_b * 1e9 * wbytes
    assert float(memory) == pytest.approx(forwards * (weights + 4 * n * 584 * per_token) / (bw * eff.mbu))
    _, _, plain, _ = physics.ar_decode_time(arch, 312e12, bw, eff, wbytes, n, t0, forwards)
    context = sum(t0 + j for j in range(int(forwards)))  # the context read at each forward
    assert float(plain) == pytest.approx((forwards * weights + n * context * per_token) / (bw * eff.mbu))


def test_batch_64_is_memory_bound_and_batch_8_host_bound():
    """At LlamaGen's serving batch (8 images, 16 sequences with CFG) the reference decode waits on the host, so the
    cache reads change nothing; at 64 images they bind, and only under eager."""
    assert _latency(XXL, "eager", 8) == pytest.approx(_latency(WITHOUT, "eager", 8))
    assert _latency(XXL, "eager", 64) > 1.2 * _latency(WITHOUT, "eager", 64)
    assert _latency(XXL, "compiled", 64) == _latency(WITHOUT, "compiled", 64)
