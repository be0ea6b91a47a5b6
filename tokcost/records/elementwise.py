"""The generated file of element-wise pass counts (tokcost/data/generated/elementwise_passes.yaml, written by
scripts/count_elementwise_passes.py): each counting proxy's passes per block and per forward, each built-in
preset's passes per block, the stand-in for a preset without a count, and how they were counted."""

from pydantic import Field

from tokcost.records.base import Strict
from tokcost.records.presets import ElementwisePasses, Passes


class Counted(Strict):
    proxy: str = Field(description="The counting proxy (a diffusers class at the presets' block structure).")
    per_block: Passes = Field(description="Passes over a block's activations that each block makes.")
    per_forward: Passes = Field(
        description="Passes over one block's activations made once per forward (embeddings, RoPE tables, final norm)."
    )
    presets: dict[str, Passes] = Field(
        min_length=1, description="Each preset's passes per block: per_block + per_forward / its blocks."
    )


class ElementwiseFile(Strict):
    generated_by: str
    date: str
    torch: str = Field(description="The PyTorch release whose dispatcher and inductor were counted.")
    diffusers: str = Field(description="The diffusers release whose model code was counted.")
    method: str
    counts: dict[str, Counted] = Field(description="Proxy name -> its counts.")
    stand_in: ElementwisePasses = Field(
        description="For a preset without a count: the median of the counted presets, eager and fused."
    )

    def for_preset(self, preset_id: str) -> ElementwisePasses:
        """The counted passes of a built-in preset, or the stand-in."""
        for c in self.counts.values():
            if preset_id in c.presets:
                p = c.presets[preset_id]
                return ElementwisePasses(eager=p.eager, fused=p.fused, counted=f"counted from diffusers' {c.proxy}")
        return self.stand_in

    def source(self, passes: ElementwisePasses) -> str:
        """The citation of ``passes`` for a preset's sources."""
        return (
            f"derived: {passes.counted}, counted from the diffusers {self.diffusers} model code with torch "
            f"{self.torch} by {self.generated_by} ({self.date}); method: docs/methodology.md, 'Element-wise passes, "
            "counted from the model code'"
        )
