"""The generated file of element-wise pass counts (tokcost/data/generated/elementwise_passes.yaml, written by
scripts/count_elementwise_passes.py): one :class:`~tokcost.records.presets.ElementwisePasses` per built-in
preset, the stand-in for a preset without a count, and how they were counted."""

from pydantic import Field

from tokcost.records.base import NonNegative, Strict
from tokcost.records.presets import ElementwisePasses


class Counted(Strict):
    eager: NonNegative = Field(description="Passes per block, every element-wise op its own kernel.")
    fused: NonNegative = Field(description="Passes per block after torch.compile's fusion.")
    proxy: str = Field(description="The counting proxy (a diffusers class at the preset's structure).")
    presets: list[str] = Field(min_length=1, description="The model presets this proxy stands for.")


class ElementwiseFile(Strict):
    generated_by: str
    date: str
    torch: str = Field(description="The PyTorch release whose dispatcher and inductor were counted.")
    diffusers: str = Field(description="The diffusers release whose model code was counted.")
    method: str
    counts: dict[str, Counted] = Field(description="Proxy name -> its counts.")
    stand_in: ElementwisePasses = Field(
        description="For a preset without a count: the median of the counted proxies, eager and fused."
    )

    def for_preset(self, preset_id: str) -> ElementwisePasses:
        """The counted passes of a built-in preset, or the stand-in."""
        for c in self.counts.values():
            if preset_id in c.presets:
                return ElementwisePasses(eager=c.eager, fused=c.fused, counted=f"counted from diffusers' {c.proxy}")
        return self.stand_in

    def source(self, passes: ElementwisePasses) -> str:
        """The citation of ``passes`` for a preset's sources."""
        return (
            f"derived: {passes.counted}, counted from the diffusers {self.diffusers} model code with torch "
            f"{self.torch} by {self.generated_by} ({self.date}); method: docs/methodology.md, 'Element-wise passes, "
            "counted from the model code'"
        )
