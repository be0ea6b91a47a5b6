"""Masked parallel decoding: text encoders once, then ``steps`` forwards of a bidirectional transformer over the
whole token grid (every position, masked or not, every step: no KV cache; both guidance branches in one batch),
then the VQ-GAN decode (docs/methodology.md, "Masked decoding").

A step costs what a DiT step over the same grid costs (linear 2 N T, attention 4 L d T^2 plus cross-attention to
the text, the element-wise passes between them, the weights read once, launches per block): the formulas are the
diffusion family's (:mod:`tokcost.engine.families.diffusion`), with the token grid of the VQ-GAN and the steps and
guidance of the ``masked`` section. Per-step sampling (the confidence sort and re-masking over the codebook
logits) is the serialised per-step work ``denoise_step_s`` of the engine profile."""

from __future__ import annotations

from tokcost.engine.families import OneGpu
from tokcost.engine.families.diffusion import Diffusion, components_run
from tokcost.records.families.masked import SCHEMA
from tokcost.records.presets import ModelPreset


class Masked(OneGpu, Diffusion):
    schema = SCHEMA
    network = "token transformer"
    # reference code runs a replica on one GPU (no sequence- or CFG-parallel implementation is published)
    one_gpu_work = "decodes masked tokens"

    def precision_note(self, model: ModelPreset, precision: str, vae_precision: str | None = None) -> str:
        encoders = ", ".join(e.name for e in model.text_encoders) or "none"
        return (
            f"{precision} applies to the token transformer's linear layers only; its attention, the text encoders "
            f"({encoders}) {components_run(model, precision, vae_precision, 'VQ-GAN decoder')}"
        )


FAMILY = Masked()
