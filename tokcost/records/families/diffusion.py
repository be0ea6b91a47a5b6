"""Diffusion (SDXL, SD3, FLUX, PixArt, Sana; CogVideoX, HunyuanVideo, Wan, LTX-Video): a denoiser runs a fixed
number of steps over a latent that a VAE decodes."""

from typing import Any

from tokcost.records.families import FamilySchema


class _Diffusion(FamilySchema):
    def default_steps(self, model: Any) -> int | None:
        return model.diffusion.steps


SCHEMA = _Diffusion(
    name="diffusion",
    label="diffusion",
    noun="a diffusion model",
    requires=("denoiser", "vae", "diffusion", "native"),
    size_section="native",
    validation_family="diffusion-image",
    trains_on="samples",
    steps=True,
    attention_kernel=True,
    elementwise=True,
    fitted=True,
)
