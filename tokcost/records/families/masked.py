"""Masked parallel decoding (MaskGIT, Muse, aMUSEd, Meissonic): a bidirectional transformer predicts every
masked token of a discrete (VQ) token grid at once and keeps the most confident, over a fixed number of steps;
each step re-runs the whole grid, with no KV cache."""

from typing import Any, Literal

from pydantic import Field

from tokcost.records.base import NonNegative, PosInt, Strict
from tokcost.records.families import FamilySchema


class MaskedSampling(Strict):
    """Masked decoding: the steps, and classifier-free guidance (both branches in one batch, or none)."""

    steps: PosInt = Field(description="Decoding steps: full-grid transformer forwards per image.")
    cfg: Literal["batched", "none"] = Field(description="Classifier-free guidance: both branches batched, or none.")
    cfg_scale: NonNegative | None = Field(default=None, description="Guidance scale.")


class _Masked(FamilySchema):
    def default_steps(self, model: Any) -> int | None:
        return self.section_of(model).steps


SCHEMA = _Masked(
    name="masked",
    label="masked-token",
    noun="a masked-token model",
    # the grid transformer (a denoiser of masked tokens), the VQ-GAN that decodes the tokens, the sizes it serves
    requires=("denoiser", "vae", "native"),
    size_section="native",
    validation_family="masked",
    trains_on="samples",
    steps=True,
    elementwise=True,
    section="masked",
    section_model=MaskedSampling,
)
