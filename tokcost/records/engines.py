"""Engine profiles (the registry ``tokcost/data/engines.yaml``, loaded by :func:`tokcost.io.engines.load_engines`):
how a software stack turns the hardware's achievable ceilings into step times. The formulas that use them are in
:mod:`tokcost.engine.profiles` and :mod:`tokcost.engine.physics`."""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, RootModel, field_validator

from tokcost.records.base import NOT_BOOL, AttentionKernel, Fraction, NonNegative, Range, Strict
from tokcost.records.families import FAMILIES, check_known
from tokcost.records.presets import LayerPasses


class DecodeGraphs(Strict):
    """An engine whose CUDA graphs replay decode steps only, and only up to a context length (vLLM's V0 engine): its
    prefill and its longer decode steps run eager, the host launching every kernel of every layer
    (``eager_host_per_layer_s``)."""

    max_context: Annotated[int, Field(ge=1), NOT_BOOL] = Field(
        description="The longest context (prompt and tokens so far) a replayed decode step covers; a longer one runs "
        "eager."
    )
    eager_ops_per_layer: Annotated[int, Field(ge=1), NOT_BOOL] = Field(
        description="Operator calls the host makes for one decoder layer when it runs eager (each launches a kernel, "
        "or a few from C++), counted from the engine's model code."
    )
    eager_ops_per_collective: Annotated[int, Field(ge=1), NOT_BOOL] = Field(
        description="Operator calls each tensor-parallel all-reduce makes when it runs eager: each costs the host "
        "eager_host_per_layer_s x these / eager_ops_per_layer."
    )


class EngineProfile(Strict):
    description: str = Field(description="What the engine is.")
    serves: list[str] = Field(
        description=f"The generation families it runs ({', '.join(FAMILIES)}), or any: every family."
    )
    mfu: Range[Fraction] = Field(
        description="Fraction of the hardware's achievable matmul rate (hardware efficiency.matmul) it reaches."
    )
    mbu: Range[Fraction] = Field(
        description="Fraction of the hardware's achievable bandwidth (hardware efficiency.bandwidth) it reaches."
    )
    host_per_layer_s: Range[NonNegative] = Field(
        description="Seconds of CPU time to launch one block's kernels (overlaps with GPU work)."
    )
    fixed_per_step_s: Range[NonNegative] = Field(
        description="Seconds of serialised cost per AR forward (sampling, host-device sync); also once per text "
        "encoder or VAE call."
    )
    gpu_per_layer_s: Range[NonNegative] | None = Field(
        default=None,
        description="Seconds of GPU time per layer that add to its matmuls rather than overlap them: the ramp-up "
        "and tail of each of the layer's kernels (none: 0).",
    )
    request_fixed_s: Range[NonNegative] | None = Field(
        default=None, description="Diffusion: seconds of per-request pipeline overhead outside the denoiser loop."
    )
    host_per_collective_s: Range[NonNegative] | None = Field(
        default=None,
        description="Seconds of CPU time each collective a multi-GPU replica calls costs its host on top of the "
        "layer's launches (tensor parallelism's all-reduces, sequence parallelism's all-to-alls; none: 0).",
    )
    host_per_sequence_s: Range[NonNegative] | None = Field(
        default=None,
        description="AR: seconds of CPU work per running sequence per decode step (a serving engine's "
        "scheduling, input preparation and output processing; none: 0).",
    )
    host_per_launch: bool = Field(
        default=False,
        description="Its host launches every op of a layer itself (eager PyTorch), so host_per_layer_s is charged per "
        "kernel launch: times the model's counted eager launches per layer over the 63 of the layer it is fitted on. "
        "False: a per-layer figure whatever the ops (CUDA graphs replay a step).",
    )
    overlapped_step: bool = Field(
        default=False,
        description="AR: its per-step host work (fixed_per_step_s and host_per_sequence_s: scheduling, input "
        "preparation, output processing) runs while the GPU computes the step before (vLLM's async scheduling), so "
        "a decode step takes the longer of the two, not their sum. False: the host work is serial with the GPU.",
    )
    eager_host_per_layer_s: Range[NonNegative] | None = Field(
        default=None,
        description="AR, with decode_graphs: seconds of CPU time to launch one decoder layer's kernels in a step its "
        "CUDA graphs do not cover.",
    )
    decode_graphs: DecodeGraphs | None = Field(
        default=None,
        description="AR: where its CUDA graphs stop (vLLM V0: decode steps only, up to max_seq_len_to_capture); "
        "none: its graphs, or its host's launches, cover every step as host_per_layer_s says.",
    )
    attention_kernels: list[str] = Field(
        default=[],
        description="AR: the flash-attention kernels its prefill and decode run, as aiconfigurator-core's tables "
        "name them (kernel_source); where the chip's measured context- or generation-attention table timed one of "
        "them, the prefill's attention and a decode step's KV-cache read are priced from it. Empty: the roofline.",
    )
    elementwise: Literal["eager", "fused"] = Field(
        default="eager",
        description="How its element-wise ops run, which of a denoiser's elementwise_passes (and an AR decoder's "
        "prefill decoder_passes) it moves: eager (each op its own kernel) or fused (torch.compile fuses the chains "
        "between GEMMs and attention).",
    )
    decoder_passes: LayerPasses | None = Field(
        default=None,
        description="AR prefill: the element-wise passes per decoder layer (over tokens x hidden) of the engine's own "
        "fused kernels, counted from its model code; None: the model's counted decoder_passes, eager or fused as "
        "elementwise says.",
    )
    act_scale: Range[NonNegative] | None = Field(
        default=None,
        description="Diffusion: measured element-wise time over the time the counted passes take at the chip's "
        "bandwidth (none: 1).",
    )
    vae_efficiency: Range[Fraction] | None = Field(
        default=None, description="Diffusion: VAE decoder rate as a fraction of the engine's matmul rate."
    )
    denoise_step_s: Range[NonNegative] | None = Field(
        default=None, description="Diffusion: seconds per step outside the denoiser (scheduler, CFG mix)."
    )
    usable_memory_fraction: Annotated[float, Field(gt=0, le=1), NOT_BOOL] = Field(
        description="Fraction of device memory a replica may fill."
    )
    attention: AttentionKernel = Field(
        default="sdpa",
        description="Diffusion: the attention kernel it calls by default (sdpa: PyTorch's scaled_dot_product_"
        "attention, whose flash backend is FlashAttention-2).",
    )
    all_reduce: Literal["nccl", "vllm"] = Field(
        default="nccl",
        description="Which all-reduce its tensor parallelism runs: nccl (NCCL through torch.distributed) or vllm "
        "(vLLM's own one-/two-shot kernel, replayed in its CUDA graphs, below 8 MiB; NCCL above). Priced from the "
        "chip's measured table of that implementation where it has one, else NCCL's table, else the link.",
    )
    window_prefill: Literal["skips", "masks"] = Field(
        default="masks",
        description="AR, a decoder with a sliding attention window: what its prefill's attention does with the keys "
        "outside the window. skips: its flash kernel takes the window and never computes them (vLLM); masks: PyTorch "
        "SDPA takes the window as a mask and still computes the whole causal square (transformers). A decode step "
        "reads and keeps the window's keys only under either (vLLM's paged cache; transformers' sliding-window cache "
        "layers).",
    )
    batching: Literal["static", "continuous"] = Field(
        default="static",
        description="How it batches requests: static (a batch starts when it is full or its timeout fires) or "
        "continuous (a request joins the running batch at the next step).",
    )
    superseded_by: str | None = Field(
        default=None,
        description="A dated profile kept for the published runs that used it: the profile that replaces it. "
        "analyze and sweep price it only when it is asked for by name.",
    )
    sources: dict[str, str] = Field(description="Citation for each number, by field.")

    @property
    def continuous(self) -> bool:
        """Whether a request joins the running batch (the capacity model's continuous-batching queue)."""
        return self.batching == "continuous"

    @field_validator("serves")
    @classmethod
    def _families(cls, v: list[str]) -> list[str]:
        check_known(v, FAMILIES, wildcard="any")
        return v

    def runs(self, family: str) -> bool:
        """Whether it runs models of ``family``."""
        return "any" in self.serves or family in self.serves


# An engine's name: its key in the engine table, as --engine, a spec's candidates.engines and a measurement's engine
# give it. Which names exist is the loaded table's to say (tokcost.io.engines), not a fixed list.
EngineName = Annotated[str, Field(min_length=1, max_length=64)]


class EngineTable(RootModel[dict[EngineName, EngineProfile]]):
    """The engine table (``tokcost/data/engines.yaml``): engine name -> profile, every profile checked by the one
    :class:`EngineProfile` schema. A new engine is a new entry; its name is then accepted wherever an engine is
    named. The checks across entries (``superseded_by`` names another entry, ``eager`` is present) are
    :func:`tokcost.io.engines.table_problems`'s, with positions."""

    model_config = ConfigDict(frozen=True)


class ErrorBand(Strict):
    """A family's calibrated band: the split-conformal band (:func:`tokcost.core.validate.conformal_band`, at ``level``) of
    ln(measured / predicted latency) over its held-out validation entries (``tokcost/data/generated/error_bands.yaml``,
    written by scripts/write_validation_docs.py)."""

    low: float = Field(description="Lower end: ln(measured / predicted latency).")
    high: float = Field(description="Upper end: ln(measured / predicted latency).")
    n: Annotated[int, Field(gt=0), NOT_BOOL] = Field(description="Held-out entries it is taken over.")
    level: Fraction = Field(
        description="The conformal level it is built at: the lowest from 0.85 (tokcost.core.validate.BAND_FLOOR) "
        "whose leave-one-source-out coverage reaches 80% (tokcost.core.validate.error_bands).",
    )
    coverage: Fraction | None = Field(
        default=None, description="Share of entries inside the band built from the other sources' errors."
    )
    width: float = Field(description="exp(high - low): the band's width as a factor.")


class ErrorBandFile(Strict):
    families: dict[str, ErrorBand] = Field(description="The band of each family with enough held-out entries.")


class FittedProfile(Strict):
    """One engine's fitted parameters (``tokcost/data/generated/engines.fitted.yaml``): central = the whole-set fit, low/high
    = the spread of the leave-one-source-out refits. Each overlays the hand-written profile's field of that name."""

    mfu: Range[Fraction] | None = Field(default=None, description="Fitted: as the profile's mfu.")
    mbu: Range[Fraction] | None = Field(default=None, description="Fitted: as the profile's mbu.")
    host_per_layer_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's host_per_layer_s."
    )
    fixed_per_step_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's fixed_per_step_s."
    )
    gpu_per_layer_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's gpu_per_layer_s."
    )
    host_per_collective_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's host_per_collective_s."
    )
    host_per_sequence_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's host_per_sequence_s."
    )
    request_fixed_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's request_fixed_s."
    )
    eager_host_per_layer_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's eager_host_per_layer_s."
    )
    act_scale: Range[NonNegative] | None = Field(default=None, description="Fitted: as the profile's act_scale.")
    vae_efficiency: Range[Fraction] | None = Field(default=None, description="Fitted: as the profile's vae_efficiency.")
    denoise_step_s: Range[NonNegative] | None = Field(
        default=None, description="Fitted: as the profile's denoise_step_s."
    )


class FittedEngineFile(Strict):
    """``tokcost/data/generated/engines.fitted.yaml``: written by ``scripts/fit_engines.py``, never by hand."""

    generated_by: str = Field(description="The command that wrote the file.")
    date: str = Field(description="When it was written (UTC, ISO date).")
    inputs_sha256: str = Field(
        description="SHA-256 of what the fit read: the measurements, the hand-written engine profiles, the presets, "
        "the kernel tables."
    )
    fitted_runs: Annotated[int, Field(ge=0), NOT_BOOL] = Field(
        description="Scored runs the fit was made over (the training GPU-hour runs are scored, not fitted)."
    )
    engines: dict[str, FittedProfile] = Field(description="Engine name -> its fitted parameters.")
