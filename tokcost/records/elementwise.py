"""The generated file of element-wise pass counts (tokcost/data/generated/elementwise_passes.yaml, written by
scripts/count_elementwise_passes.py): each counting proxy's passes per block and per forward and its eager kernel
launches, each built-in preset's passes per block and launches per layer, the transformers decoders' launches per
layer and a decoder layer's prefill passes, the stand-in for a preset without a count, and how they were counted."""

from pydantic import Field

from tokcost.records.base import NonNegative, PosFloat, Strict
from tokcost.records.presets import DecoderPasses, ElementwisePasses, LaunchCount, Passes


class Launches(Strict):
    per_block: NonNegative = Field(description="Eager kernel launches each transformer block adds (0: a UNet, U-ViT).")
    per_forward: NonNegative = Field(description="Eager kernel launches once per forward (a UNet's: all of them).")


class PresetCount(Passes):
    launches: NonNegative = Field(description="Eager kernel launches per layer of the preset (denoiser_layers).")


class DecoderPrefill(DecoderPasses):
    proxy: str = Field(description="The counting proxy (a transformers decoder's prefill, at several widths).")


class AttentionLaunches(Strict):
    sdpa: NonNegative = Field(
        description="Eager kernel launches per decoder layer with SDPA (FlashAttention runs also launch one kernel)."
    )
    math: NonNegative = Field(
        description="Eager kernel launches per decoder layer with transformers' own matmul-softmax-matmul attention."
    )


class DecodersByModelType(Strict):
    proxy: str = Field(description="The counting proxies (each model type's transformers causal LM, one decode step).")
    launches: dict[str, AttentionLaunches] = Field(
        min_length=1, description="transformers model_type -> its decoder layer's eager launches, by attention."
    )


class Decoders(Strict):
    proxy: str = Field(description="The counting proxy (a transformers decoder, one decode step).")
    launches: NonNegative = Field(description="Eager kernel launches per decoder layer.")
    presets: list[str] = Field(description="The AR presets whose eager stack runs transformers' decoder code.")
    by_model_type: DecodersByModelType = Field(
        description="The decoder layer of each transformers model type a bare decoder's run can name."
    )
    prefill: DecoderPrefill = Field(description="Element-wise passes per decoder layer of a prefill.")


class StandIn(ElementwisePasses):
    per_kernel: tuple[PosFloat, ...] = Field(
        min_length=1,
        description="Passes eager element-wise kernels make: the counted denoisers' median, point by point.",
    )
    launches: NonNegative = Field(description="Eager kernel launches per layer: the median of the counted denoisers.")


class Counted(Strict):
    proxy: str = Field(description="The counting proxy (a diffusers class at the presets' block structure).")
    per_block: Passes = Field(description="Passes over a block's activations that each block makes.")
    per_forward: Passes = Field(
        description="Passes over one block's activations made once per forward (embeddings, RoPE tables, final norm)."
    )
    per_kernel: tuple[PosFloat, ...] = Field(
        min_length=1,
        description="Passes one eager element-wise kernel makes (its reads plus writes over one block's activations) "
        "at the midpoints of five equal shares of the bytes (the kernels sorted by volume, at 10, 30, 50, 70 and 90% "
        "of the bytes): the volumes kernels stream through L2 or memory.",
    )
    launches: Launches = Field(description="Eager kernel launches, GEMMs, convolutions and attention included.")
    presets: dict[str, PresetCount] = Field(
        min_length=1,
        description="Each preset's passes per block (per_block + per_forward / its blocks) and launches per layer.",
    )


class ElementwiseFile(Strict):
    generated_by: str
    date: str
    torch: str = Field(description="The PyTorch release whose dispatcher and inductor were counted.")
    diffusers: str = Field(description="The diffusers release whose model code was counted.")
    transformers: str = Field(description="The transformers release whose decoder code was counted.")
    method: str
    counts: dict[str, Counted] = Field(description="Proxy name -> its counts.")
    decoders: Decoders = Field(description="The AR decoders that run transformers' code: launches per layer.")
    stand_in: StandIn = Field(
        description="For a preset without a count: the median of the counted presets, eager, fused and launches."
    )

    def for_preset(self, preset_id: str) -> ElementwisePasses:
        """The counted passes of a built-in preset, or the stand-in."""
        for c in self.counts.values():
            if preset_id in c.presets:
                p = c.presets[preset_id]
                return ElementwisePasses(
                    eager=p.eager, fused=p.fused, per_kernel=c.per_kernel, counted=f"counted from diffusers' {c.proxy}"
                )
        s = self.stand_in
        return ElementwisePasses(eager=s.eager, fused=s.fused, per_kernel=s.per_kernel, counted=s.counted)

    def decoder_passes(self) -> DecoderPasses:
        """A decoder layer's prefill passes, counted from transformers' Llama layer (RMSNorm, rotary embedding,
        SwiGLU, residual adds): the layer of Llama, Emu3, Janus-Pro and LlamaGen, and the stand-in for the other AR
        decoders (Chameleon-style per-head qk norms are not in it)."""
        p = self.decoders.prefill
        return DecoderPasses(eager=p.eager, fused=p.fused, per_kernel=p.per_kernel, counted=f"counted from {p.proxy}")

    def bare_decoder_launches(self, model_type: str | None, attention: str | None) -> float:
        """Eager launches per layer of a bare decoder run through transformers: its model type's layer, with
        transformers' own attention for ``attention`` "math" and SDPA's count for any other (SDPA, or FlashAttention's
        one kernel in its place). ``model_type`` None (not stated): the presets' reference layer (Llama's with SDPA),
        whatever the attention, as the validation set's fit was made with. An unknown model type is a KeyError
        (tokcost.io.measurements rejects it on load)."""
        if model_type is None:
            return self.decoders.launches
        counted = self.decoders.by_model_type.launches[model_type]
        return counted.math if attention == "math" else counted.sdpa

    def launches_for(self, preset_id: str, elementwise: bool) -> LaunchCount | None:
        """A built-in preset's counted eager launches per layer; a transformers decoder's; for another preset of a
        family that prices element-wise work (``elementwise``), the stand-in; else None (no count: the engine
        prices the layer host_per_layer_s is fitted on)."""
        for c in self.counts.values():
            if preset_id in c.presets:
                return LaunchCount(eager=c.presets[preset_id].launches, counted=f"counted from diffusers' {c.proxy}")
        if preset_id in self.decoders.presets:
            return LaunchCount(eager=self.decoders.launches, counted=f"counted from {self.decoders.proxy}")
        if elementwise:
            return LaunchCount(eager=self.stand_in.launches, counted=self.stand_in.counted)
        return None

    def source(self, count: ElementwisePasses | LaunchCount | DecoderPasses) -> str:
        """The citation of a count (passes or launches) for a preset's sources."""
        return (
            f"derived: {count.counted}, counted from the diffusers {self.diffusers} / transformers {self.transformers} "
            f"model code with torch {self.torch} by {self.generated_by} ({self.date}); method: docs/methodology.md, "
            "'Element-wise passes, counted from the model code'"
        )
