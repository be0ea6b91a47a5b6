"""Exact token arithmetic for discrete visual tokenizers (AR) and diffusion latents.

Every function works on Python ints or numpy integer arrays (a sweep passes arrays of resolutions). Sizes a
tokenizer cannot take exactly raise :class:`TokenGeometryError` naming sizes that would work, unless the caller
chose ``pad=True``: then each side is rounded up to the next multiple and the padded size is returned so that
the caller can report it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tokcost.errors import TokenGeometryError
from tokcost.records.presets import ModelPreset


def _as_int(x):
    a = np.asarray(x)
    return a.astype(np.int64) if a.ndim else int(a)


def _nearest_multiples(value: int, step: int) -> str:
    lo = (value // step) * step
    hi = lo + step
    options = [v for v in (lo, hi) if v > 0]
    return " or ".join(str(v) for v in options)


def side_tokens(pixels, factor: int, what: str, pad: bool = False):
    """Tokens along one side: pixels / factor, exact or (with ``pad``) rounded up."""
    p = _as_int(pixels)
    rem = np.asarray(p) % factor
    if np.any(rem):
        if not pad:
            bad = int(np.asarray(p).flat[int(np.flatnonzero(rem)[0])])
            raise TokenGeometryError(
                f"{what} {bad} px is not a multiple of {factor} (the tokenizer's pixels per token); "
                f"use {_nearest_multiples(bad, factor)}"
            )
        return -(-p // factor)
    return p // factor


def latent_frames(frames, factor: int, rule: str, pad: bool = False):
    """Latent frames after temporal compression.

    ``causal`` (CogVideoX, HunyuanVideo, Wan, LTX): the first frame alone, then groups of ``factor``:
    1 + (F - 1) / t. ``chunked`` (Emu3): groups of ``factor`` frames, F / t. ``none``: one frame.
    """
    f = _as_int(frames)
    if rule == "none" or factor == 1:
        return f
    if np.any(np.asarray(f) < 1):
        raise TokenGeometryError("frames must be at least 1")
    if rule == "causal":
        rem = (np.asarray(f) - 1) % factor
        if np.any(rem):
            bad = int(np.asarray(f).flat[int(np.flatnonzero(rem)[0])])
            if not pad:
                k = (bad - 1) // factor
                raise TokenGeometryError(
                    f"{bad} frames do not fit causal {factor}x compression (1 + {factor}k "
                    f"frames); use {1 + factor * k} or {1 + factor * (k + 1)}"
                )
            return 1 + -(-(f - 1) // factor)
        return 1 + (f - 1) // factor
    if rule == "chunked":
        rem = np.asarray(f) % factor
        if np.any(rem):
            bad = int(np.asarray(f).flat[int(np.flatnonzero(rem)[0])])
            if not pad:
                raise TokenGeometryError(
                    f"{bad} frames are not a multiple of {factor} (chunks of {factor} frames); "
                    f"use {_nearest_multiples(bad, factor)}"
                )
            return -(-f // factor)
        return f // factor
    raise ValueError(f"unknown temporal rule {rule!r}")


@dataclass(frozen=True)
class TokenCount:
    """Token counts of one item. ``generated``: positions an AR model decodes (visual + layout tokens);
    ``latent``: tokens a diffusion denoiser attends over (without text)."""

    grid_width: int
    grid_height: int
    latent_frames: int
    visual: int  # codebook tokens (AR) or latent patches (diffusion)
    generated: int  # AR: positions decoded; diffusion: equal to visual
    prompt: int  # conditioning tokens before generation (AR prefill) or text tokens (diffusion)
    padded_width: int
    padded_height: int
    padded_frames: int

    def to_dict(self) -> dict:
        return asdict(self)


def grid_tokens(
    width,
    height,
    spatial_factor: int,
    frames=1,
    temporal_factor: int = 1,
    temporal_rule: str = "causal",
    pad: bool = False,
):
    """Model-free count: (latent frames) x (width / f) x (height / f). Returns (w, h, t, total)."""
    w = side_tokens(width, spatial_factor, "width", pad)
    h = side_tokens(height, spatial_factor, "height", pad)
    t = latent_frames(frames, temporal_factor, temporal_rule, pad) if temporal_factor > 1 else _as_int(frames)
    return w, h, t, t * w * h


def ar_layout_tokens(w, h, t, layout: str):
    """Positions decoded for a ``t``-frame grid of ``w`` x ``h`` visual tokens under a sequence layout.

    emu3 (processing_emu3.py): each row ends with an end-of-line token, each frame with end-of-frame, then
    <image end> and EOS: t x (h (w + 1) + 1) + 2; for one frame h (w + 1) + 3 (720^2: 90 x 91 + 3 = 8,193).
    lumina (Lumina-mGPT): a newline per row plus 2 size tokens: h (w + 1) + 2 per frame.
    plain (LlamaGen, Chameleon, Janus): w x h.
    """
    if layout == "emu3":
        return t * (h * (w + 1) + 1) + 2
    if layout == "lumina":
        return t * (h * (w + 1) + 2)
    return t * w * h


def _digits(x):
    """Decimal digits of positive integers (scalar or array)."""
    return np.floor(np.log10(np.maximum(np.asarray(x, dtype=float), 1))).astype(np.int64) + 1


def emu3_prompt_overhead(w, h):
    """Prompt tokens Emu3 adds around the caption: BOS, <image start>, the size text "H*W" (one token per digit
    and one for '*'), and the <image token> marker. Works on arrays of grid sizes."""
    return 1 + 1 + (_digits(h) + _digits(w) + 1) + 1


def ar_tokens(
    model: ModelPreset,
    width: int,
    height: int,
    frames: int | None = None,
    prompt_tokens: int | None = None,
    pad: bool = False,
) -> TokenCount:
    tok = model.tokenizer
    w = side_tokens(width, tok.spatial_factor, "width", pad)
    h = side_tokens(height, tok.spatial_factor, "height", pad)
    if frames is None or frames == 1 and tok.temporal_rule == "none":
        t, padded_frames = 1, 1
    else:
        if tok.kind != "vq3d":
            raise TokenGeometryError(f"{model.id} has a 2D image tokenizer and cannot take {frames} frames")
        t = latent_frames(frames, tok.temporal_factor, tok.temporal_rule, pad)
        padded_frames = t * tok.temporal_factor if tok.temporal_rule == "chunked" else 1 + (t - 1) * tok.temporal_factor
    prompt = model.sampling.prompt_tokens if prompt_tokens is None else prompt_tokens
    if tok.layout == "emu3":
        prompt += int(emu3_prompt_overhead(w, h))
    return TokenCount(
        int(w),
        int(h),
        int(t),
        int(t * w * h),
        int(ar_layout_tokens(w, h, t, tok.layout)),
        int(prompt),
        int(w * tok.spatial_factor),
        int(h * tok.spatial_factor),
        int(padded_frames),
    )


def text_tokens(model: ModelPreset) -> int:
    """Text tokens the denoiser attends to: MMDiT's joint text tokens, a DiT's cross-attention tokens, else (UNets)
    the longest text encoder's context (77 for CLIP)."""
    d = model.denoiser
    return int(
        d.joint_text_tokens or d.cross_attention_text_tokens or max((e.tokens for e in model.text_encoders), default=0)
    )


def diffusion_tokens(
    model: ModelPreset, width: int, height: int, frames: int | None = None, pad: bool = False
) -> TokenCount:
    vae = model.vae
    f = vae.spatial_factor * vae.patch
    w = side_tokens(width, f, "width", pad)
    h = side_tokens(height, f, "height", pad)
    if frames is None or vae.temporal_factor == 1:
        if frames not in (None, 1) and "video" not in model.roles:
            raise TokenGeometryError(f"{model.id} generates images and cannot take {frames} frames")
        t, padded_frames = 1, (frames or 1)
    else:
        t = latent_frames(frames, vae.temporal_factor, vae.temporal_rule, pad)
        t = -(-t // vae.patch_t)
        padded_frames = 1 + (t * vae.patch_t - 1) * vae.temporal_factor
    visual = int(t * w * h)
    return TokenCount(
        int(w), int(h), int(t), visual, visual, text_tokens(model), int(w * f), int(h * f), int(padded_frames)
    )
