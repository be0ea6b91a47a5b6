"""The same shapes through transformers' ``LlamaForCausalLM.generate`` (random weights from a ``LlamaConfig``, no
download), with unbatched CFG as Emu3's reference code runs it (``guidance_scale`` + ``negative_prompt_ids``:
transformers' ``UnbatchedClassifierFreeGuidanceLogitsProcessor``), top-k sampling and temperature.

Time per token = (time of ``generate`` with ``n0 + new_tokens`` tokens - time with ``n0``) / ``new_tokens``: the
prefill and set-up cancel out.
"""

from __future__ import annotations

import time
import warnings

import torch

from tokcost.bench.decoder import DTYPES, Shape, fill_random
from tokcost.bench.timing import sync


def build_model(shape: Shape, device: torch.device, dtype: str, max_positions: int, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.ffn,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        rms_norm_eps=1e-5,
    )
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers
        from transformers.modeling_utils import no_init_weights
    with no_init_weights():
        model = LlamaForCausalLM._from_config(cfg, dtype=DTYPES[dtype])
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                fill_random(p.data, shape.hidden**-0.5, gen)
    return model.to(device).eval()


def generate_s(model, ids, neg, new_tokens: int, cfg_scale: float, top_k: int, temperature: float) -> float:
    """Wall seconds of one ``generate`` of ``new_tokens`` tokens after ``ids`` (greedy at temperature 0, top-k
    sampling otherwise; unbatched CFG against ``neg`` when ``cfg_scale`` > 1), synchronised on both ends."""
    kwargs = dict(
        max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=0, eos_token_id=None, use_cache=True
    )
    if temperature > 0:
        kwargs.update(do_sample=True, top_k=top_k, temperature=temperature)
    else:
        kwargs.update(do_sample=False)
    if cfg_scale > 1:
        kwargs.update(guidance_scale=cfg_scale, negative_prompt_ids=neg)
    sync(ids.device)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)
    sync(ids.device)
    return time.perf_counter() - t0


def time_per_token(
    model,
    batch: int,
    prompt: int,
    new_tokens: int,
    cfg_scale: float,
    top_k: int,
    temperature: float,
    seed: int = 0,
    repeats: int = 3,
) -> float:
    """Seconds per generated token: a generate of 1 + ``new_tokens`` tokens less one of 1 token, each the fastest of
    ``repeats`` runs (a busy machine only ever adds time, and the difference of two noisy single runs can come out
    negative)."""
    vocab = model.config.vocab_size
    dev = next(model.parameters()).device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    ids = torch.randint(3, vocab, (batch, prompt), generator=gen).to(dev)
    neg = torch.randint(3, vocab, (batch, prompt), generator=gen).to(dev)
    with torch.inference_mode():
        generate_s(model, ids, neg, 1, cfg_scale, top_k, temperature)  # warm-up
        short = min(generate_s(model, ids, neg, 1, cfg_scale, top_k, temperature) for _ in range(repeats))
        long = min(generate_s(model, ids, neg, 1 + new_tokens, cfg_scale, top_k, temperature) for _ in range(repeats))
    return max(long - short, 0.0) / new_tokens
