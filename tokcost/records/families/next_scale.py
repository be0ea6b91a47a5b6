"""Next-scale prediction (VAR, Infinity, Switti-AR, HART): a transformer predicts whole token maps coarse to fine,
one forward per scale; each scale's tokens attend to every token of the scales before it (block-causal), whose
keys and values stay in a KV cache across scales."""

from typing import Literal

from pydantic import Field, model_validator

from tokcost.records.base import Count, NonNegative, PosFloat, PosInt, Strict
from tokcost.records.families import FamilySchema


class NextScale(Strict):
    """The scale-wise transformer and its schedule of token maps."""

    layers: PosInt = Field(description="Transformer blocks.")
    width: PosInt = Field(description="Model width.")
    heads: PosInt = Field(description="Attention heads.")
    params_b: PosFloat = Field(description="Every parameter of the transformer, in billions (memory).")
    matmul_params_b: PosFloat = Field(
        description="Parameters an image token meets in matmuls (self-attention, cross-attention q and o, MLP, "
        "output head), in billions."
    )
    scales: list[PosInt] = Field(
        min_length=1, description="Side of each scale's token map, coarse to fine; the last is the image's grid."
    )
    cross_attention_text_tokens: Count = Field(description="Text tokens every block cross-attends to.")
    cfg: Literal["batched", "none"] = Field(description="Classifier-free guidance: both branches batched, or none.")
    cfg_scale: NonNegative | None = Field(default=None, description="Guidance scale.")

    @model_validator(mode="after")
    def _coarse_to_fine(self):
        if any(b <= a for a, b in zip(self.scales, self.scales[1:], strict=False)):
            raise ValueError("scales must grow from coarse to fine")
        return self


# no default_steps: the scales are the passes, there are no steps to choose
SCHEMA = FamilySchema(
    name="next-scale",
    label="next-scale",
    noun="a next-scale model",
    requires=("vae", "native"),
    size_section="native",
    validation_family="next-scale",
    trains_on="samples",
    kv_cache=True,
    elementwise=True,
    section="next_scale",
    section_model=NextScale,
)
