"""Quality tiers: which published score a product kind is judged by, and the bar for each tier.

The bars are tokcost's documented policy (docs/methodology.md, "Quality tiers"), anchored on well-known models:
for images GenEval 0.50 sits just below SDXL (0.55) and 0.65 at FLUX.1-dev (0.66); for video VBench total
80 sits at CogVideoX-5B-class models and 83 at Wan2.1-class; for perception MMMU 30 sits at LLaVA-1.5-class
models (Emu3 31.6) and 45 at stronger 7B VLMs. ``draft`` accepts any model that can serve the kind.
"""

from __future__ import annotations

from tokcost.records.presets import ModelPreset

TIERS: dict[str, tuple[str, dict[str, float]]] = {
    "image": ("geneval", {"standard": 0.50, "premium": 0.65}),
    "video": ("vbench", {"standard": 80.0, "premium": 83.0}),
    "perception": ("mmmu", {"standard": 30.0, "premium": 45.0}),
}


def tier_problem(model: ModelPreset, kind: str, tier: str) -> str | None:
    """A sentence saying why ``model`` misses ``tier`` for ``kind``, or None when it qualifies."""
    if kind in ("image", "video") and model.conditioning == "class":
        return "conditioned on class labels, not text prompts"
    if tier == "draft":
        return None
    metric, bars = TIERS[kind]
    score = model.quality.get(metric)
    if score is None:
        return f"no published {metric} score, so only the draft tier accepts it"
    if score < bars[tier]:
        return f"{metric} {score:g} is below the {tier} tier's {bars[tier]:g}"
    return None


def quality_of(model: ModelPreset, kind: str) -> tuple[str, float | None]:
    metric = TIERS[kind][0]
    return metric, model.quality.get(metric)
