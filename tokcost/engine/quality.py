"""Quality tiers: which published score a product kind is judged by, and the bar for each tier.

The bars are tokcost's documented policy (docs/methodology.md, "Quality tiers"), anchored on well-known models:
for images GenEval 0.50 sits just below SDXL (0.55) and 0.65 at FLUX.1-dev (0.66); for video VBench total
80 sits at CogVideoX-5B-class models and 83 at Wan2.1-class; for perception MMMU 30 sits at LLaVA-1.5-class
models (Emu3 31.6) and 45 at stronger 7B VLMs. ``draft`` accepts any model that can serve the kind.
"""

from __future__ import annotations

from tokcost.records.presets import ModelPreset
from tokcost.records.results import Violation

TIERS: dict[str, tuple[str, dict[str, float]]] = {
    "image": ("geneval", {"standard": 0.50, "premium": 0.65}),
    "video": ("vbench", {"standard": 80.0, "premium": 83.0}),
    "perception": ("mmmu", {"standard": 30.0, "premium": 45.0}),
}


def tier_problem(model: ModelPreset, kind: str, tier: str) -> Violation | None:
    """Why ``model`` misses ``tier`` for ``kind`` (no published score, a score below the bar, or conditioned on
    class labels), or None when it qualifies."""
    if kind in ("image", "video") and model.conditioning == "class":
        return Violation(kind="conditioning")
    if tier == "draft":
        return None
    metric, bars = TIERS[kind]
    score = model.quality.get(metric)
    if score is None or score < bars[tier]:
        return Violation(kind="quality", name=metric, tier=tier, value=score, limit=bars[tier])
    return None


def passing_tier(model: ModelPreset, kind: str) -> str:
    """The highest tier ``model`` passes for ``kind`` (draft when it has no published score)."""
    metric, bars = TIERS[kind]
    score = model.quality.get(metric)
    passed = [t for t, bar in bars.items() if score is not None and score >= bar]
    return max(passed, key=bars.__getitem__) if passed else "draft"


def quality_of(model: ModelPreset, kind: str) -> tuple[str, float | None]:
    metric = TIERS[kind][0]
    return metric, model.quality.get(metric)
