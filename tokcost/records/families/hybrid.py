"""Continuous-token masked autoregression with a diffusion head (MAR, Fluid): a bidirectional encoder-decoder
transformer predicts, over a fixed number of iterations, a conditioning vector for each token it unmasks, and a
small MLP denoises each such token's continuous latent over many diffusion steps; a VAE decodes the latents."""

from typing import Any, Literal

from pydantic import Field

from tokcost.records.base import NonNegative, PosFloat, PosInt, Strict
from tokcost.records.families import FamilySchema


class Stack(Strict):
    """A stack of pre-norm transformer blocks (attention, then an MLP of ``mlp_ratio`` x width)."""

    layers: PosInt = Field(description="Blocks.")
    width: PosInt = Field(description="Model width.")
    heads: PosInt = Field(description="Attention heads.")


class DiffusionHead(Strict):
    """The per-token denoiser: an MLP of residual blocks (two linear layers and an adaLN modulation each)."""

    blocks: PosInt = Field(description="Residual MLP blocks.")
    width: PosInt = Field(description="Width of the blocks.")
    steps: PosInt = Field(description="Diffusion sampling steps per token.")


class Hybrid(Strict):
    """The masked-autoregressive transformer, its diffusion head and how they sample."""

    params_b: PosFloat = Field(description="Every parameter of transformer and head, in billions (memory).")
    encoder: Stack = Field(description="The encoder: it sees the known tokens and the buffer.")
    decoder: Stack = Field(description="The decoder: it sees every position.")
    mlp_ratio: PosFloat = Field(description="MLP width over model width.")
    buffer_tokens: PosInt = Field(description="Condition (class) tokens prepended to the sequence.")
    head: DiffusionHead = Field(description="The diffusion head.")
    iterations: PosInt = Field(description="Autoregressive iterations (default; steps sets it).")
    cfg: Literal["batched", "none"] = Field(description="Classifier-free guidance: both branches batched, or none.")
    cfg_scale: NonNegative | None = Field(default=None, description="Guidance scale.")


class _Hybrid(FamilySchema):
    def default_steps(self, model: Any) -> int | None:
        return self.section_of(model).iterations


SCHEMA = _Hybrid(
    name="hybrid",
    label="masked-autoregressive (diffusion head)",
    noun="a masked-autoregressive model",
    requires=("vae", "native"),
    size_section="native",
    validation_family="hybrid",
    trains_on="samples",
    steps=True,
    attention_kernel=True,
    section="hybrid",
    section_model=Hybrid,
)
