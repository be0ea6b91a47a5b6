"""A Llama-style decoder from its Hugging Face ``config.json``: the AR backbone of a model that has no preset.

The file is read through the located YAML loader (JSON is YAML 1.2's flow style), so every problem carries its
``file:line:col``. The keys are those of transformers' ``LlamaConfig`` (``num_hidden_layers``, ``hidden_size``,
``num_attention_heads``, ``num_key_value_heads``, ``head_dim``, ``intermediate_size``, ``vocab_size``,
``max_position_embeddings``, ``tie_word_embeddings``), which Mistral, Qwen2 and most decoder-only releases share.
A sliding attention window (``sliding_window``, with the keys that say which layers use it) is read into the
architecture, which prices those layers' attention over the window (tokcost.engine.physics.attended_context).
Parameter counts are derived from the shapes of a Llama block (q, k, v, o projections; a gated MLP of three
matrices; two RMSNorms), as modeling_llama.py builds it.
"""

from __future__ import annotations

import os

from tokcost.errors import InputError, Problem
from tokcost.io.located import Located, YamlProblem, load_file
from tokcost.records.base import MAX_PRESET_INT
from tokcost.records.presets import Architecture

# config key -> (Architecture field, what it is); all required but the KV heads, the head width and tying
_REQUIRED = {
    "num_hidden_layers": "layers",
    "hidden_size": "hidden",
    "num_attention_heads": "heads",
    "intermediate_size": "ffn",
    "vocab_size": "vocab",
    "max_position_embeddings": "context",
}
# keys of a mixture-of-experts config (Mixtral, Qwen-MoE, DeepSeek): a token meets only some experts' weights,
# which a dense-decoder cost model would overcharge; refused rather than priced wrong
_MOE_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_intermediate_size")


def load_architecture(path: str | os.PathLike) -> Architecture:
    """The decoder ``path`` describes; :class:`InputError` lists every problem with its position."""
    try:
        doc = load_file(os.fspath(path))
    except YamlProblem as exc:
        raise InputError(exc.problems) from None
    file = doc.file
    if not isinstance(doc.data, dict):
        raise InputError([Problem(file, 1, 1, "(document)", "expected a JSON object of config fields")])
    data: dict = doc.data
    problems: list[Problem] = []

    def integer(key: str, default: int | None = None) -> int | None:
        if key not in data:
            if default is None:
                problems.append(Problem(file, *doc.where(()), key, "required field is missing"))
            return default
        value = data[key]
        if _integer(value) is None:
            shown = value if isinstance(value, (int, float, str)) and len(str(value)) < 40 else type(value).__name__
            problems.append(
                Problem(
                    file, *doc.where((key,)), key, f"must be a positive integer up to {MAX_PRESET_INT:,} (got {shown})"
                )
            )
            return None
        return value

    for key in _MOE_KEYS:
        if data.get(key):
            problems.append(
                Problem(
                    file,
                    *doc.where((key,)),
                    key,
                    "a mixture-of-experts decoder: each token meets only its routed experts, which this dense-decoder "
                    "cost model does not price",
                )
            )
    values = {field: integer(key) for key, field in _REQUIRED.items()}
    heads = values["heads"]
    kv_heads = integer("num_key_value_heads", heads or 1)
    hidden = values["hidden"]
    head_dim = integer("head_dim", (hidden // heads) if hidden and heads else 1)
    tied = data.get("tie_word_embeddings", False)
    if not isinstance(tied, bool):
        problems.append(
            Problem(file, *doc.where(("tie_word_embeddings",)), "tie_word_embeddings", "must be true or false")
        )
    if heads and kv_heads and heads % kv_heads:
        problems.append(
            Problem(
                file,
                *doc.where(("num_key_value_heads",)),
                "num_key_value_heads",
                f"must divide num_attention_heads ({heads})",
            )
        )
    sliding = sliding_attention(data, doc, values["layers"], problems)
    if problems:
        raise InputError(problems)
    # every missing or bad value became a problem above, so each is a positive integer here
    layers, ffn, vocab, context = (int(values[k] or 0) for k in ("layers", "ffn", "vocab", "context"))
    if sliding is not None and sliding[0] >= context:  # a window as long as the context limits nothing
        sliding = None
    hidden, heads, kv_heads, head_dim = int(hidden or 0), int(heads or 0), int(kv_heads or 0), int(head_dim or 0)
    attention = hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + heads * head_dim * hidden
    block = attention + 3 * hidden * ffn + 2 * hidden  # q, k, v, o; gate, up, down; two RMSNorms
    head = vocab * hidden  # the output projection (lm_head), a matmul every token meets
    embedding = 0 if tied else vocab * hidden  # the input lookup: memory only; tied, it is the head's matrix
    matmul = layers * (block - 2 * hidden) + head
    total = layers * block + hidden + head + embedding
    return Architecture(
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        ffn=ffn,
        vocab=vocab,
        context=context,
        params_b=total / 1e9,
        matmul_params_b=matmul / 1e9,
        sliding_window=None if sliding is None else sliding[0],
        sliding_layers=None if sliding is None else sliding[1],
    )


def sliding_attention(data: dict, doc: Located, layers: int | None, problems: list[Problem]) -> tuple[int, int] | None:
    """(window in tokens, layers that attend over it only) of a config, as transformers' modeling code reads it
    (None: no layer slides):
    ``layer_types`` where the config lists them ("sliding_attention" or "full_attention" per layer, transformers
    4.53 on); else no window where ``sliding_window`` is null or absent, or ``use_sliding_window`` is false
    (Qwen2's default); Qwen2 with it true slides from layer ``max_window_layers`` on; Gemma 3 slides in every layer
    but each ``sliding_window_pattern``-th; Gemma 2 in every other layer, from the first; otherwise (Mistral,
    Phi-3) in every layer. Problems are appended to ``problems``."""
    file = doc.file
    window = data.get("sliding_window")
    types = data.get("layer_types")
    if types is not None:
        if not isinstance(types, list) or not all(t in ("sliding_attention", "full_attention") for t in types):
            problems.append(
                Problem(
                    file,
                    *doc.where(("layer_types",)),
                    "layer_types",
                    'must list "sliding_attention" or "full_attention" for each layer',
                )
            )
            return None
        if layers is not None and len(types) != layers:
            problems.append(
                Problem(
                    file,
                    *doc.where(("layer_types",)),
                    "layer_types",
                    f"lists {len(types)} layers, num_hidden_layers is {layers}",
                )
            )
            return None
        sliding = types.count("sliding_attention")
    elif window is None or data.get("use_sliding_window") is False:
        return None
    elif data.get("use_sliding_window") is True:
        sliding = max((layers or 0) - (_integer(data.get("max_window_layers")) or 0), 0)
    elif pattern := _integer(data.get("sliding_window_pattern")):
        sliding = sum(1 for i in range(layers or 0) if (i + 1) % pattern)
    elif data.get("model_type") == "gemma2":
        sliding = ((layers or 0) + 1) // 2
    else:
        sliding = layers or 0
    if sliding == 0:
        return None
    size = _integer(window)
    if size is None:
        problems.append(
            Problem(
                file,
                *doc.where(("sliding_window",) if "sliding_window" in data else ()),
                "sliding_window",
                f"must be a positive integer up to {MAX_PRESET_INT:,} where {sliding} layers slide",
            )
        )
        return None
    return size, sliding


def _integer(value) -> int | None:
    """``value`` where it is a positive integer up to MAX_PRESET_INT (JSON's true is not one), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_PRESET_INT else None
