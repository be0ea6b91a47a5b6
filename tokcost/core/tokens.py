"""``tokcost tokens``: exact token counts of an image or clip, with a model's tokenizer or VAE or model-free."""

from __future__ import annotations

from tokcost.engine.families import context_problem, model_tokens
from tokcost.engine.tokens import grid_tokens
from tokcost.errors import UsageError
from tokcost.records.presets import ModelPreset
from tokcost.records.tokens import TokensResult

TEMPORAL_RULES = ("causal", "chunked")


def count_tokens(
    model: ModelPreset | None,
    *,
    width: int,
    height: int,
    frames: int | None = None,
    fps: float | None = None,
    spatial_factor: int | None = None,
    temporal_factor: int = 1,
    temporal_rule: str = "causal",
    pad: bool = False,
) -> TokensResult:
    """With ``model``, its own tokenizer or VAE; without one, ``spatial_factor`` pixels per token side and
    ``temporal_factor`` frames per latent frame (``causal``: 1 + (F - 1) / t, ``chunked``: F / t)."""
    if (model is None) == (spatial_factor is None):
        raise UsageError("give exactly one of a model or a spatial factor", param="spatial_factor")
    if fps is not None and frames is None:  # an image has no frame rate: a lone --fps is a clip without its length
        raise UsageError("a frame rate describes a clip: give frames too (frames = seconds x fps)", param="fps")
    clip = {"fps": fps, "seconds": frames / fps if fps is not None and frames else None}
    if model is not None:
        tc = model_tokens(model, width, height, frames, pad=pad)
        problem = context_problem(model, tc.to_dict())
        if problem:
            raise UsageError(problem, param="frames" if frames else "width")
        return TokensResult(
            model=model.id, family=model.family, width=width, height=height, frames=frames, **tc.to_dict(), **clip
        )
    if spatial_factor is None:  # not reached: without a model the check above requires a spatial factor
        raise UsageError("give exactly one of a model or a spatial factor", param="spatial_factor")
    if temporal_rule not in TEMPORAL_RULES:
        raise UsageError("the temporal rule must be causal or chunked", param="temporal_rule")
    w, h, t, total = grid_tokens(width, height, spatial_factor, frames or 1, temporal_factor, temporal_rule, pad)
    return TokensResult(
        width=width,
        height=height,
        frames=frames,
        spatial_factor=spatial_factor,
        temporal_factor=temporal_factor,
        grid_width=int(w),
        grid_height=int(h),
        latent_frames=int(t),
        visual=int(total),
        **clip,
    )
