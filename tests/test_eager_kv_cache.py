"""Reference decodes that read their KV cache more than once a step (KVCacheReads): LlamaGen's reads its whole
preallocated cache four times, transformers' DynamicCache (Emu3, the bare text decoders of the validation set)
copies the tokens so far with torch.cat before attention reads them. The eager estimate charges those bytes, other
engines read the tokens so far once, and small batches stay host-bound."""

from __future__ import annotations

import numpy as np
import pytest

from tokcost.core.validate import (
    TRANSFORMERS_DYNAMIC_CACHE,
    bare_decoder_cache,
    gpt_fast_cache,
    transformers_eager_attention_cache,
)
from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate_arrays, text_decode_s
from tokcost.engine.families.ar import cache_reads, eager_cache_reads
from tokcost.engine.profiles import efficiency
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.paths import DATA_DIR

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
    passes, static = eager_cache_reads(XXL.eager_kv_cache, eager, np.array([577.0, 1.0 + 256]))
    assert float(passes) == 4 and static.tolist() == [584.0, 264.0]  # find_multiple(577, 8), find_multiple(257, 8)
    for engine in ("compiled", "vllm-0.4"):
        passes, static = eager_cache_reads(XXL.eager_kv_cache, _eff(engine), np.array([577.0]))
        assert float(passes) == 1 and np.isnan(static).all()  # the tokens so far, once
    assert eager_cache_reads(None, eager, np.array([577.0])) == (1.0, None)


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


@pytest.mark.parametrize("mid", ["emu3-gen", "emu3-chat", "janus-pro-7b"])
def test_transformers_cache_users_read_the_tokens_so_far_three_times_under_eager(mid):
    """transformers' DynamicCache (Emu3's reference code, Janus's LlamaModel) appends with torch.cat (a read and a
    write of K and V) before attention reads them: 3 reads of the tokens so far, eager only."""
    cache = CAT.model(mid).eager_kv_cache
    assert cache.passes == TRANSFORMERS_DYNAMIC_CACHE.passes and cache.static_multiple is None
    # Emu3's reference code calls flash_attn_func (attn_implementation="flash_attention_2"); Janus's LlamaModel, SDPA
    assert cache.kernel == ("fa2" if mid.startswith("emu3") else None)
    assert "DynamicLayer.update" in CAT.model(mid).sources["eager_kv_cache"]
    passes, static = eager_cache_reads(cache, _eff("eager"), np.array([8192.0]))
    assert float(passes) == 3 and static is None
    for engine in ("compiled", "vllm"):
        assert float(eager_cache_reads(cache, _eff(engine), np.array([8192.0]))[0]) == 1


def _bare_decode_s(engine: str, batch: int, cache) -> float:
    arch = CAT.model("emu3-gen").architecture
    _, decode = text_decode_s(arch, A100, ENGINES, engine, "bf16", 1, 2048, batch, kv_cache=cache)
    return float(decode)


def test_a_bare_eager_decode_pays_the_cache_copies_where_they_bind():
    """The copies cost nothing at batch 1, where the eager decode waits on the host, and cost the extra KV bytes
    at a large batch with a long context."""
    cache = TRANSFORMERS_DYNAMIC_CACHE
    assert _bare_decode_s("eager", 1, cache) == pytest.approx(_bare_decode_s("eager", 1, None))
    assert _bare_decode_s("eager", 64, cache) > 1.2 * _bare_decode_s("eager", 64, None)


def test_gpt_fast_reads_its_whole_static_cache_once_per_kv_head_copy():
    """gpt-fast's decode repeat_interleaves K and V to every query head (a read, a write of r copies) before SDPA
    reads them: 1 + 2r reads of the static cache (prompt + new tokens rounded up to 8); a view at r = 1."""
    arch = CAT.model("emu3-gen").architecture  # 32 heads over 8 KV heads: r = 4
    cache = gpt_fast_cache(arch)
    assert cache.passes == 1 + 2 * (arch.heads // arch.kv_heads) == 9 and cache.static_multiple == 8
    mha = arch.model_copy(update={"kv_heads": arch.heads})
    assert gpt_fast_cache(mha).passes == 1
    assert cache_reads(cache, np.array([1024.0 + 512.0, 205.0]))[1].tolist() == [1536.0, 208.0]
    assert bare_decoder_cache("eager", arch) == TRANSFORMERS_DYNAMIC_CACHE
    assert bare_decoder_cache("compiled", arch) == cache
    assert bare_decoder_cache("vllm", arch) is None


def test_a_compiled_bare_decode_grows_with_batch_by_its_cache_reads():
    """At batch 16 over a 1,536-token static cache the repeated K and V outweigh the weights' read per GPU; at
    batch 1 they are a few percent of it."""
    arch = CAT.model("emu3-gen").architecture
    cache = gpt_fast_cache(arch)

    def decode(batch, kv):
        return float(text_decode_s(arch, A100, ENGINES, "compiled", "bf16", 1024, 512, batch, kv_cache=kv)[1])

    assert decode(1, cache) < 1.1 * decode(1, None)
    assert decode(16, cache) > 1.3 * decode(16, None)


def test_transformers_own_attention_copies_the_cache_to_every_query_head():
    """With attn_implementation="eager" (an entry's attention "math") repeat_kv copies K and V from the KV heads to
    every query head before the matmuls read them: 2 (the DynamicCache copy) + 1 + 2r reads; nothing more at r = 1,
    and SDPA or FlashAttention-2 runs keep the cache's 3, both through a kernel that computes a tile of query rows
    (unstated attention: the reads alone)."""
    arch = CAT.model("emu3-gen").architecture  # r = 4
    assert transformers_eager_attention_cache(arch).passes == 3 + 2 * 4 == 11
    assert bare_decoder_cache("eager", arch, "math") == transformers_eager_attention_cache(arch)
    mha = arch.model_copy(update={"kv_heads": arch.heads})
    assert bare_decoder_cache("eager", mha, "math") == TRANSFORMERS_DYNAMIC_CACHE
    assert bare_decoder_cache("eager", arch, None) == TRANSFORMERS_DYNAMIC_CACHE
    for attention in ("fa2", "sdpa"):
        tiled = bare_decoder_cache("eager", arch, attention)
        assert tiled.passes == TRANSFORMERS_DYNAMIC_CACHE.passes and tiled.kernel == "fa2"
    assert bare_decoder_cache("compiled", arch, "fa2").kernel is None  # gpt-fast's code: SDPA
    # where the cache binds (a long context at a large batch) the copies slow the decode
    math = _bare_decode_s("eager", 64, transformers_eager_attention_cache(arch))
    assert math > 1.5 * _bare_decode_s("eager", 64, TRANSFORMERS_DYNAMIC_CACHE)


# ------------------------------------------------------------------------ flash-attn 2's decode tile


def _fa2_decode_s(arch, hw, prompt: int, batch: int = 1, engine: str = "eager", fa2: bool = True) -> float:
    cache = TRANSFORMERS_DYNAMIC_CACHE.model_copy(update={"kernel": "fa2" if fa2 else None})
    _, decode = text_decode_s(arch, hw, ENGINES, engine, "bf16", prompt, 2048, batch, kv_cache=cache)
    return float(decode)


def test_fa2_decode_work_grows_with_query_heads_context_and_a_slower_tensor_rate():
    """A decode step through flash_attn_func pays a tile of query rows per sequence and query head: its time beyond
    the reads is FA2_DECODE_ROW_COST x 4 L H d per token of context over the 16-bit peak, the KV heads aside."""
    arch = CAT.model("emu3-gen").architecture
    per_token = physics.fa2_decode_s_per_token(arch, 312e12, 1)
    assert per_token == pytest.approx(physics.FA2_DECODE_ROW_COST * 4 * 32 * 32 * 128 / 312e12)
    fewer_kv = arch.model_copy(update={"kv_heads": 1})
    more_q = arch.model_copy(update={"heads": 64})
    assert physics.fa2_decode_s_per_token(fewer_kv, 312e12, 1) == per_token
    assert physics.fa2_decode_s_per_token(more_q, 312e12, 1) == pytest.approx(2 * per_token)
    assert physics.fa2_decode_s_per_token(arch, 148e12, 1) > 2 * per_token  # an H20's 148 TFLOPS
    assert physics.fa2_decode_s_per_token(arch, 312e12, 4) == pytest.approx(4 * per_token)  # one tile per sequence
    assert physics.fa2_decode_s_per_token(arch, 312e12, 1, tp=2) == pytest.approx(per_token / 2)


def test_fa2_decode_costs_nothing_where_the_host_binds_and_more_as_the_context_grows():
    """At a short context an eager decode waits on the host and the tile hides under it; at 30k tokens of context
    it binds, more on a chip with less 16-bit compute (H20) than on an A100."""
    arch = CAT.model("emu3-gen").architecture
    h20 = CAT.hardware("h20")
    assert _fa2_decode_s(arch, A100, 1) == pytest.approx(_fa2_decode_s(arch, A100, 1, fa2=False), rel=1e-3)
    a100_long = _fa2_decode_s(arch, A100, 30720) / _fa2_decode_s(arch, A100, 30720, fa2=False)
    h20_long = _fa2_decode_s(arch, h20, 30720) / _fa2_decode_s(arch, h20, 30720, fa2=False)
    assert 1.2 < a100_long < h20_long
    assert _fa2_decode_s(arch, A100, 14336) < _fa2_decode_s(arch, A100, 30720)


def test_only_eager_runs_emu3s_flash_attn_decode():
    """The Emu3 presets' reference code (eager) pays the tile; compiled and serving engines run their own kernels."""
    emu3 = CAT.model("emu3-gen")
    without = emu3.model_copy(update={"eager_kv_cache": emu3.eager_kv_cache.model_copy(update={"kernel": None})})
    rtx = CAT.hardware("rtx-4090")

    def latency(model, engine):
        cfg = Config(profiles=ENGINES, model=model, hardware=rtx, engine=engine, batch=np.array([1]))
        return float(estimate_arrays(cfg).latency_s[0])

    assert latency(emu3, "eager") > 1.1 * latency(without, "eager")
    for engine in ("compiled", "vllm"):
        assert latency(emu3, engine) == latency(without, engine)
    # and the estimate says which kernel priced it
    from tokcost import api

    def notes(engine):
        return " ".join(api.estimate(model="emu3-gen", hardware="rtx-4090", engine=engine).notes)

    assert "flash_attn_func" in notes("eager") and "FA2_DECODE_ROW_COST" in notes("eager")
    assert "flash_attn_func" not in notes("vllm")


def test_the_fa2_row_cost_is_the_median_that_reproduces_the_qwen15_page():
    """FA2_DECODE_ROW_COST's derivation (its comment in physics.py): on the Qwen1.5 transformers speed page's rows at
    14,336 and 30,720 input tokens (tokcost/data/validation/unentered/round32.yaml), the cost that makes each row's
    priced decode match its measured tokens per second, the median of them, to 3 significant figures."""
    from tokcost.core.validate import text_decode_prediction
    from tokcost.io.measurements import load_entries

    rows = [
        e
        for e in load_entries(DATA_DIR / "validation" / "unentered" / "round32.yaml")
        if e.id.startswith("r32-qwen15") and e.conditions.prompt_tokens in (14336, 30720)
    ]
    assert len(rows) >= 8

    def priced(e, cost: float) -> float:
        kept = physics.FA2_DECODE_ROW_COST
        physics.FA2_DECODE_ROW_COST = cost
        try:
            return float(text_decode_prediction(e, CAT)(None))
        finally:
            physics.FA2_DECODE_ROW_COST = kept

    costs = []
    for e in rows:
        lo, hi = 0.0, 5000.0  # tokens per second fall as the cost grows
        if priced(e, lo) < e.measured:
            costs.append(lo)
            continue
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if priced(e, mid) > e.measured else (lo, mid)
        costs.append((lo + hi) / 2)
    assert float(np.median(costs)) == pytest.approx(physics.FA2_DECODE_ROW_COST, rel=0.005)


# ------------------------------------------------------------------- a bare decoder's layer, by model type


def test_each_counted_model_types_layer_launches_more_with_transformers_own_attention():
    """The decoder layers counted per transformers model type: Llama's with SDPA is the presets' layer, which an
    entry without a model type is charged whatever its attention, and the matmul-softmax-matmul attention launches
    more kernels than SDPA's one."""
    from tokcost.io.elementwise import load_elementwise

    counts = load_elementwise()
    by_type = counts.decoders.by_model_type.launches
    assert by_type["llama"].sdpa == counts.decoders.launches
    for attention in (None, "sdpa", "math"):
        assert counts.bare_decoder_launches(None, attention) == counts.decoders.launches
    for model_type, n in by_type.items():
        assert n.math > n.sdpa > 0, model_type
        assert counts.bare_decoder_launches(model_type, "fa2") == n.sdpa  # one attention kernel either way
    # OPT's layer (LayerNorm, learned positions, a ReLU MLP) launches far fewer kernels than Llama's (RMSNorm in
    # several ops, rotary embedding, SwiGLU); Qwen3's adds an RMSNorm on the queries and one on the keys
    assert by_type["opt"].sdpa < 0.5 * by_type["llama"].sdpa < by_type["qwen3"].sdpa


def test_a_bare_decoders_model_type_sets_its_eager_host_time_only():
    """An eager decode that waits on the host is faster for a layer that launches fewer kernels; an engine that
    replays CUDA graphs does not launch them, so its price does not depend on the model type."""
    from tokcost.core.validate import text_decode_prediction
    from tokcost.io.measurements import load_entries

    opt = next(e for e in load_entries(DATA_DIR / "validation" / "unentered" / "round35.yaml") if e.model_type == "opt")
    as_llama = opt.model_copy(update={"model_type": None})

    def speed(e) -> float:  # tokens per second
        return float(text_decode_prediction(e, CAT)(None))

    assert speed(opt) > 1.3 * speed(as_llama)
    vllm = opt.model_copy(update={"engine": "vllm"})
    assert speed(vllm) == speed(vllm.model_copy(update={"model_type": None}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_type": "gpt-j"}, "unknown transformers model_type 'gpt-j'; counted: "),
        ({"model_type": "opt", "architecture": None}, "model_type names a bare decoder's transformers code"),
    ],
)
def test_a_model_type_that_cannot_price_the_entry_is_refused_with_its_position(tmp_path, change, message):
    import yaml

    from tokcost.errors import InputError
    from tokcost.io.measurements import load_entries

    runs = yaml.safe_load((DATA_DIR / "validation" / "unentered" / "round35.yaml").read_text())
    opt = next(r for r in runs if r.get("model_type") == "opt")
    opt.update(change)
    if opt["architecture"] is None:
        del opt["architecture"], opt["architecture_source"]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump([runs[0], opt], sort_keys=False))
    with pytest.raises(InputError) as info:
        load_entries(path)
    (problem,) = info.value.problems
    assert problem.field == "[1].model_type" and problem.line > 1 and problem.message.startswith(message)
