"""The result of ``tokcost tokens``: exact token counts of one image or clip, for a model or model-free."""

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


# defer_build: pydantic builds these records' validators on first use, not when tokcost.api imports this module
# for its annotations (`tokcost analyze` imports it and never uses them: tests/test_startup.py)
class TokensResult(BaseModel):
    """Fields that do not apply to the request (a model's layout counts in a model-free count, or the
    model-free factors in a model's count) are null."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: int = SCHEMA_VERSION
    model: str | None = Field(default=None, description="Model preset id (null: model-free count).")
    family: str | None = Field(default=None, description="The generation family (tokcost.records.families).")
    width: int = Field(description="Width in pixels.")
    height: int = Field(description="Height in pixels.")
    frames: int | None = Field(description="Video frames (null for an image).")
    spatial_factor: int | None = Field(default=None, description="Model-free: pixels per token side.")
    temporal_factor: int | None = Field(default=None, description="Model-free: frames per latent frame.")
    grid_width: int = Field(description="Tokens per row.")
    grid_height: int = Field(description="Tokens per column.")
    latent_frames: int = Field(description="Latent (token) frames.")
    visual: int = Field(description="Codebook tokens (AR) or latent patches (diffusion).")
    generated: int | None = Field(default=None, description="AR: positions decoded (visual plus layout tokens).")
    prompt: int | None = Field(default=None, description="AR prompt tokens, or a diffusion model's text tokens.")
    padded_width: int | None = Field(default=None, description="Width the tokenizer or VAE takes, in pixels.")
    padded_height: int | None = Field(default=None, description="Height the tokenizer or VAE takes, in pixels.")
    padded_frames: int | None = Field(default=None, description="Frames the tokenizer or VAE takes.")
    fps: float | None = Field(default=None, description="Frames per second (as given).")
    seconds: float | None = Field(default=None, description="Clip length: frames / fps.")
