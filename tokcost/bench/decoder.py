"""A Llama-style decoder in plain torch, with random weights, for timing: RMSNorm, rotary embeddings, grouped-query
attention through ``scaled_dot_product_attention``, a SwiGLU MLP and the output head; a preallocated KV cache;
and the sampler of classifier-free-guided AR image generation (CFG mix, temperature, top-k).

The input embedding is tied to the output head (one ``vocab x hidden`` matrix): the lookup of one row per token
costs nothing next to the matmuls and the cost model excludes it (``matmul_params_b``), and tying halves the
memory a 184,622-token vocabulary takes on a small machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass(frozen=True)
class Shape:
    """The decoder's shapes (from a model preset's ``architecture``); ``layers`` is the number actually built."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int

    @property
    def layer_params(self) -> int:
        """Matmul parameters of one block: q, k, v, o projections and the three SwiGLU matrices."""
        d_attn, d_kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return self.hidden * (2 * d_attn + 2 * d_kv) + 3 * self.hidden * self.ffn

    @property
    def head_params(self) -> int:
        return self.vocab * self.hidden


# ----------------------------------------------------------------------------------------------- sampling


def cfg_mix(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance on logits: ``uncond + scale * (cond - uncond)``."""
    return uncond + scale * (cond - uncond)


def sample_top_k(
    logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One token per row: divide by ``temperature``, keep the ``top_k`` largest logits, softmax, draw.

    ``temperature == 0`` is greedy (the arg-max). Returns token ids of shape ``logits.shape[:-1]``."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    k = max(1, min(int(top_k), logits.shape[-1]))
    values, index = torch.topk(logits.float() / temperature, k, dim=-1)
    probs = torch.softmax(values, dim=-1)
    choice = torch.multinomial(probs, 1, generator=generator)
    return index.gather(-1, choice).squeeze(-1)


# ----------------------------------------------------------------------------------------------- weights


def fill_random(t: torch.Tensor, std: float, generator: torch.Generator | None = None) -> None:
    """Fill ``t`` with random values of scale ``std`` quickly: one random block of up to 16M values, copied
    into every chunk with a random sign and shift. Initialising a 0.76e9-value head with ``normal_`` takes
    10+ s on a small CPU; the values only have to be non-degenerate for timing and sampling."""
    flat = t.view(-1)
    n = flat.numel()
    block = min(n, 1 << 24)
    base = torch.randn(block, generator=generator, device="cpu").mul_(std).to(device=t.device, dtype=t.dtype)
    for start in range(0, n, block):
        stop = min(n, start + block)
        shift = int(torch.randint(0, block, (1,), generator=generator))
        flat[start:stop].copy_(torch.roll(base, shift)[: stop - start])


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    var = x.float().pow(2).mean(-1, keepdim=True)
    return (x.float() * torch.rsqrt(var + eps)).to(x.dtype) * weight


def rope_tables(head_dim: int, positions: int, device, dtype, theta: float = 10000.0):
    """cos and sin of shape [positions, head_dim] for the rotate-half convention."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(positions, device=device, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Block:
    """One transformer block's weights and its forward with a slice of the KV cache."""

    def __init__(self, s: Shape, device, dtype, gen):
        d_attn, d_kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
        std = s.hidden**-0.5
        self.s = s
        self.wqkv = torch.empty(d_attn + 2 * d_kv, s.hidden, device=device, dtype=dtype)
        self.wo = torch.empty(s.hidden, d_attn, device=device, dtype=dtype)
        self.w13 = torch.empty(2 * s.ffn, s.hidden, device=device, dtype=dtype)
        self.w2 = torch.empty(s.hidden, s.ffn, device=device, dtype=dtype)
        for w in (self.wqkv, self.wo, self.w13, self.w2):
            fill_random(w, std, gen)
        self.norm1 = torch.ones(s.hidden, device=device, dtype=dtype)
        self.norm2 = torch.ones(s.hidden, device=device, dtype=dtype)

    def forward(self, x, k_cache, v_cache, pos: int, cos, sin):
        s = self.s
        n, q_len, _ = x.shape
        d_attn, d_kv = s.heads * s.head_dim, s.kv_heads * s.head_dim
        qkv = F.linear(rms_norm(x, self.norm1), self.wqkv)
        q, k, v = qkv.split([d_attn, d_kv, d_kv], dim=-1)
        q = q.view(n, q_len, s.heads, s.head_dim).transpose(1, 2)
        k = k.view(n, q_len, s.kv_heads, s.head_dim).transpose(1, 2)
        v = v.view(n, q_len, s.kv_heads, s.head_dim).transpose(1, 2)
        c, si = cos[pos : pos + q_len], sin[pos : pos + q_len]
        q, k = apply_rope(q, c, si), apply_rope(k, c, si)
        k_cache[:, :, pos : pos + q_len] = k
        v_cache[:, :, pos : pos + q_len] = v
        keys, values = k_cache[:, :, : pos + q_len], v_cache[:, :, : pos + q_len]
        attn = _sdpa(q, keys, values, causal=q_len > 1, groups=s.heads // s.kv_heads)
        x = x + F.linear(attn.transpose(1, 2).reshape(n, q_len, d_attn), self.wo)
        gate, up = F.linear(rms_norm(x, self.norm2), self.w13).chunk(2, dim=-1)
        return x + F.linear(F.silu(gate) * up, self.w2)


def _sdpa(q, k, v, causal: bool, groups: int):
    """GQA attention; ``causal`` only for a prefill from position 0 (query length == key length)."""
    try:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=groups > 1)
    except TypeError:  # torch < 2.5 has no enable_gqa
        if groups > 1:
            k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


class Decoder:
    """``shape.layers`` blocks + final norm + output head, and a KV cache for ``max_seq`` sequences of up to
    ``max_ctx`` positions (allocated by :meth:`allocate_cache`)."""

    def __init__(self, shape: Shape, device="cpu", dtype: str = "bf16", seed: int = 0):
        self.shape, self.device, self.dtype = shape, torch.device(device), DTYPES[dtype]
        gen = torch.Generator(device="cpu").manual_seed(seed)
        self.blocks = [Block(shape, self.device, self.dtype, gen) for _ in range(shape.layers)]
        self.head = torch.empty(shape.vocab, shape.hidden, device=self.device, dtype=self.dtype)
        fill_random(self.head, shape.hidden**-0.5, gen)
        self.norm = torch.ones(shape.hidden, device=self.device, dtype=self.dtype)
        self.k_cache: list[torch.Tensor] = []
        self.v_cache: list[torch.Tensor] = []
        self.cos = self.sin = None

    def allocate_cache(self, max_seq: int, max_ctx: int) -> None:
        self.free_cache()
        s = self.shape
        dims = (max_seq, s.kv_heads, max_ctx, s.head_dim)
        for _ in self.blocks:
            self.k_cache.append(torch.zeros(dims, device=self.device, dtype=self.dtype))
            self.v_cache.append(torch.zeros(dims, device=self.device, dtype=self.dtype))
        self.cos, self.sin = rope_tables(s.head_dim, max_ctx, self.device, self.dtype)

    def free_cache(self) -> None:
        self.k_cache, self.v_cache = [], []

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head[tokens]

    def layers(self, x: torch.Tensor, pos: int, rows: slice) -> torch.Tensor:
        """Run every block on ``x`` [n, q_len, hidden] for cache rows ``rows`` at position ``pos``."""
        for blk, kc, vc in zip(self.blocks, self.k_cache, self.v_cache):
            x = blk.forward(x, kc[rows], vc[rows], pos, self.cos, self.sin)
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output head on the last position: fp32 logits [n, vocab]."""
        return F.linear(rms_norm(x[:, -1], self.norm), self.head).float()
