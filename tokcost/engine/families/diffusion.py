"""Diffusion: text encoders once, a denoiser forward per step over the latent (both guidance branches batched,
or two passes, or one with distilled guidance), then the VAE decode (docs/methodology.md, "Diffusion step")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tokcost.engine import physics
from tokcost.engine.collectives import collectives_note, replica_collectives
from tokcost.engine.families import OVERHEAD_BOUND_FACTOR, Memory, Priced, TrainingFlops, TrainingWork, Work
from tokcost.engine.kernels import GEMM_TABLES, TableGemms
from tokcost.engine.tokens import TokenCount, diffusion_tokens, latent_frames, side_tokens, text_tokens
from tokcost.errors import UsageError
from tokcost.records.families import FamilySchema
from tokcost.records.families.diffusion import SCHEMA
from tokcost.records.presets import HardwarePreset, ModelPreset

if TYPE_CHECKING:
    from tokcost.engine.config import Config
    from tokcost.records.kernels import KernelTable


def components_run(model: ModelPreset, precision: str, vae_precision: str | None, decoder: str) -> str:
    """The end of a precision note: the type the text encoders (and attention) and the ``decoder`` run in."""
    parts, vae = physics.pipeline_dtype(precision), physics.vae_dtype(model.vae, precision, vae_precision)
    return f"and the {decoder} run {parts}" if vae == parts else f"run {parts} and the {decoder} {vae}"


DENOISER_NAMES = {"unet": "UNet", "dit": "DiT", "mmdit": "MMDiT", "linear-dit": "linear-attention DiT"}
# the model's guidance as a mode: distilled guidance runs one branch
CFG_MODES = {"batched": "batched", "unbatched": "unbatched", "distilled": "off", "none": "off"}


class Diffusion:
    schema: FamilySchema = SCHEMA
    network = "denoiser"  # what the pricing note calls the network that runs every step
    # by (CFG-parallel?, sequence-parallel?)
    parallelism_labels = np.array([["none", "sp"], ["cfg", "cfg+sp"]])
    parallelisms: tuple[str, ...] = ("sp", "cfg", "cfg+sp")
    loop_keeps_cfg = True  # compiled compiles the denoiser; the pipeline still calls it once per branch
    decode_options: frozenset[str] = frozenset()  # no token sequence decoded step by step
    # torch.autocast's fp32 softmax in the unfused attention (physics.UNFUSED_BYTES_PER_SCORE)
    pipeline_options: frozenset[str] = frozenset({"autocast"})

    def cfg_mode(self, model: ModelPreset) -> str:
        return CFG_MODES[model.diffusion.cfg]

    def replica_problem(
        self, model: ModelPreset, gpus: int, parallelism: str | None, cfg_mode: str, ring: int | None = None
    ) -> str | None:
        if parallelism is not None and parallelism not in self.parallelisms:  # another family's (tp: AR)
            *most, last = self.parallelisms
            return f"{model.id} is {self.schema.noun}: it splits by {', '.join(most)} or {last}, not {parallelism}"
        cfg_degree, sp = split_degrees(gpus, parallelism, cfg_mode)
        if cfg_degree is None:
            return (
                f"parallelism {parallelism} on {gpus} GPUs needs batched classifier-free guidance (two branches) and "
                f"{'2' if parallelism == 'cfg' else 'an even number of'} GPUs; {model.id} runs {cfg_mode} guidance "
                "here"
            )
        d = model.denoiser
        if sp > 1 and d.kind == "unet":
            return (
                f"{model.id} is a UNet: sequence parallelism covers transformer denoisers (a UNet splits by cfg only)"
            )
        if ring is not None and ring > 1 and d.kind == "linear-dit":
            return (
                f"{model.id}'s self-attention is linear attention: ring attention is priced as softmax attention's "
                "block-by-block merge, which does not describe it"
            )
        ring = ring_degree(model, sp, ring)
        if sp % ring:
            return f"a ring of {ring} GPUs needs the sequence-parallel GPUs ({sp} here) to divide into rings of {ring}"
        # the heads split over the Ulysses GPUs of a ring's position; a ring passes whole heads round
        ulysses = sp // ring
        if ulysses > 1 and d.attention_heads and d.attention_heads % ulysses:
            hint = (
                "its linear attention takes no ring"
                if d.kind == "linear-dit"
                else f"a ring degree of {ring_degree(model, sp)} would take the rest of the {sp} GPUs"
            )
            return (
                f"{ulysses}-way Ulysses sequence parallelism needs {model.id}'s {d.attention_heads} attention heads to "
                f"divide by {ulysses} ({hint})"
            )
        return None

    def split(
        self, model: ModelPreset, gpus: np.ndarray, parallelism: str | None, mode: str, ring: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if parallelism is None:
            cfg_degree = np.where((mode == "batched") & (gpus % 2 == 0), 2.0, 1.0)
        else:
            cfg_degree = np.full_like(gpus, 2.0 if parallelism.startswith("cfg") else 1.0)
        sp = gpus / cfg_degree
        rings = np.array([ring_degree(model, int(s), ring) for s in np.ravel(sp)], dtype=float).reshape(np.shape(sp))
        return cfg_degree, sp, rings

    def price(self, w: Work) -> Priced:
        cfg, m, eff = w.cfg, w.model, w.eff
        vae = m.vae
        f = vae.spatial_factor * vae.patch
        gw = side_tokens(w.width, f, "width", True)
        gh = side_tokens(w.height, f, "height", True)
        pw, ph = gw * f, gh * f
        video = w.role == "video"
        frames = cfg.frames if (cfg.frames is not None and video) else (m.native.frames if video else 1)
        if video:
            t = np.ceil(latent_frames(frames, vae.temporal_factor, vae.temporal_rule, True) / vae.patch_t)
        else:
            t = np.ones_like(np.asarray(gw))
        latent = t * gw * gh
        steps = np.asarray(cfg.steps if cfg.steps is not None else m.generation.default_steps(m), dtype=float)
        n_items = w.batch * w.branches
        linear, attn = physics.denoiser_flops_split(m, latent, pw, ph)
        per_item = linear + attn
        cfg_degree, sp, passes = w.cfg_degree, w.split, w.passes
        gpus = cfg_degree * sp
        seq = latent + (m.denoiser.joint_text_tokens or 0)
        # per forward: Ulysses all-to-alls within each CFG group, and the guidance all-gather between the groups
        items_per_gpu = n_items / cfg_degree
        collectives = replica_collectives(cfg.kernels, w.chips, w.link, gpus, send=w.send)
        ring = w.ring
        comm = physics.sequence_parallel_comm_s(
            m, items_per_gpu, seq, sp, collectives, ring
        ) + physics.cfg_parallel_comm_s(m, items_per_gpu, latent, cfg_degree, collectives)
        # attention kernels stay 16-bit whatever the weight format (SDPA / flash attention in the pipeline's bf16 or fp16): P_attn
        act = physics.denoiser_activation_elems(m, latent, pw, ph)
        # measured GEMM tables, where the chip has one: one GPU's share of the rows (items or tokens)
        gemms = table_gemms(cfg, w.chips)
        linear_s = physics.denoiser_gemm_s(m, gemms, n_items / gpus, seq, pw, ph) if gemms is not None else None
        step_s, compute, memory, ring_sends = physics.diffusion_step_time(
            m,
            w.P,
            w.BW,
            eff,
            physics.weight_read_bytes(cfg.precision, eff),
            n_items,
            linear,
            attn,
            w.P_attn,
            gpus,
            comm,
            # the host calls each collective: the all-to-alls, the ring's sends, the guidance all-gather once a forward
            physics.sequence_parallel_collectives(m, sp, ring) + np.where(cfg_degree > 1, 1.0, 0.0),
            act,
            w.l2,
            linear_s,
            attn_parts=physics.attention_parts(m, latent, pw, ph),
            score_rate=w.score_rate,
            head_step=w.head_step,
            unfused=unfused_regime(cfg),
            ring=ring,
            ring_send=physics.ring_send_s(m, items_per_gpu, seq, sp, collectives, ring),
            # every GPU converts all the weights; the scale runs over its share of the rows
            dequant=physics.dequant_s(
                cfg.precision,
                eff,
                m.denoiser.active_params_b * 1e9,
                n_items / gpus * physics.gemm_output_elems(m, seq, pw, ph),
                w.BW,
            ),
        )
        denoise_s = passes * steps * step_s
        # --precision is the denoiser's: the text encoders and the VAE run in the pipeline's 16-bit type, as in
        # MLPerf Inference's int8/fp8 SDXL, which quantises the UNet's linear and conv layers only; an fp16 SDXL
        # pipeline decodes in fp32 (physics.vae_dtype)
        text_s = physics.text_encoder_time(m, w.P_text, w.BW, eff, w.batch * (2.0 if w.branches * passes > 1 else 1.0))
        vae_s, vae_flops = physics.vae_decode_time(m, w.P_vae, eff, w.batch, pw, ph, frames)
        request_s = eff.request_fixed_s + 0 * denoise_s
        vae_dtype = physics.vae_dtype(m.vae, cfg.precision, cfg.vae_precision)
        mem = physics.diffusion_memory(m, w.wbytes, n_items, seq, pw, ph, gpus, physics.DTYPE_BYTES[vae_dtype])
        flops = passes * steps * n_items * per_item + vae_flops
        # every GPU reads all the weights of the expert a step runs
        bytes_ = passes * steps * m.denoiser.active_params_b * 1e9 * w.wbytes * gpus + 0 * flops
        return Priced(
            latency_s=text_s + denoise_s + vae_s + request_s,
            breakdown_s={
                "text_encoders": text_s + 0 * denoise_s,
                "denoise": denoise_s,
                "vae_decode": vae_s + 0 * denoise_s,
                "pipeline": request_s,
            },
            breakdown_precision={
                "text_encoders": physics.pipeline_dtype(cfg.precision),
                "denoise": cfg.precision,
                "vae_decode": vae_dtype,
            },
            bound=np.where(compute >= memory, "compute", "memory"),
            overhead_bound=step_s - comm - ring_sends > np.maximum(compute, memory) * OVERHEAD_BOUND_FACTOR,
            communication_s=passes * steps * (comm + ring_sends) + 0 * denoise_s,
            tokens={
                "latent": latent,
                "text": float(text_tokens(m)) + 0 * latent,
                "latent_frames": t,
                "grid_width": gw,
                "grid_height": gh,
                "items_per_forward": n_items,
                "padded_width": pw + 0 * latent,
                "padded_height": ph + 0 * latent,
            },
            flops=flops,
            bytes=bytes_,
            memory=Memory(**mem),
            padded_width=pw + 0 * latent,
            padded_height=ph + 0 * latent,
            steps=steps,
        )

    def tokens(
        self, model: ModelPreset, width: int, height: int, frames: int | None, prompt_tokens: int | None, pad: bool
    ) -> TokenCount:
        return diffusion_tokens(model, width, height, frames, pad)

    def context_excess(self, model: ModelPreset, tokens: Mapping[str, float]) -> tuple[float, int] | None:
        return None  # a denoiser has no trained context length in its preset

    def precision_note(self, model: ModelPreset, precision: str, vae_precision: str | None = None) -> str:
        part = DENOISER_NAMES[model.denoiser.kind]
        encoders = ", ".join(e.name for e in model.text_encoders) or "none"
        return (
            f"{precision} applies to the {part}'s linear and conv layers only; its attention, the text encoders "
            f"({encoders}) {components_run(model, precision, vae_precision, 'VAE')}"
        )

    def pricing_note(self, cfg: Config) -> str:
        note = self.gemm_note(cfg) + "; " + physics.elementwise_note(cfg.model, cfg.profiles[cfg.engine])
        if dequant := physics.dequant_note(cfg.precision, cfg.profiles[cfg.engine]):
            note += "; " + dequant
        kernel, regime = cfg.attention_kernel, unfused_regime(cfg)
        if regime is not None:
            note += "; " + physics.unfused_attention_note(cfg.model.id, physics.attention_head_dims(cfg.model), regime)
            if cfg.autocast:
                note += (
                    " (torch.autocast also runs the norms in fp32, whose casts are not priced: this estimate is "
                    "low by their traffic)"
                )
        elif cfg.autocast:
            note += f"; torch.autocast changes no priced kernel here: {kernel} attention runs in 16 bits under it"
        elif attention := physics.attention_note(cfg.model, cfg.hardware, kernel):
            note += "; " + attention
            backend = physics.sdpa_backend_note(cfg.hardware, kernel)
            if backend:
                note += "; " + backend
        if tiles := physics.vae_tiling_note(cfg.model, cfg.width, cfg.height, cfg.frames):
            note += "; " + tiles
        if np.any(np.asarray(cfg.gpus) > 1):
            note += "; " + collectives_note(
                cfg.kernels, cfg.hardware, "Ulysses' all-to-alls, CFG parallelism's all-gather", gpus=cfg.gpus
            )
            if cfg.model.denoiser.kind not in ("unet", "linear-dit") and cfg.hardware.scale_up is not None:
                note += "; " + ring_send_note(cfg.hardware)
        return note

    def gemm_note(self, cfg: Config) -> str:
        """Which path priced the GEMMs of ``cfg``'s network (one chip), and why."""
        return gemm_note(cfg, self.network)

    def training(self, model: ModelPreset, work: TrainingWork) -> TrainingFlops:
        published = model.training.samples if model.training is not None else None
        notes = []
        if work.samples is not None:
            samples = work.samples
        elif published is not None:
            samples = published
            notes.append(
                f"{model.id}'s published training run: {published:,.0f} samples "
                f"({model.sources.get('training.samples')}); priced at its native size, though early stages may have "
                "trained smaller; --samples to change it."
            )
        else:
            raise UsageError(
                f"{model.id} is {model.generation.noun} and publishes no training sample count (not in its paper or model "
                "card): give the training samples (images or clips seen)",
                param="samples",
            )
        w, h = sample_size(model, work.width, work.height)
        return TrainingFlops(
            flops=diffusion_training_flops(model, samples, work.width, work.height, work.frames),
            notes=notes,
            extra={
                "samples_basis": "given" if work.samples is not None else "published",
                "sample_width": w,
                "sample_height": h,
            },
            samples=samples,
        )


def gemm_note(cfg: Config, network: str) -> str:
    """Which path priced the GEMMs of ``cfg``'s ``network`` (one chip), and why."""
    gemms = table_gemms(cfg, ((True, cfg.hardware),))
    chip = cfg.kernels(cfg.hardware.id) if cfg.kernels is not None else None
    unet = cfg.model.denoiser is not None and cfg.model.denoiser.kind == "unet"
    if gemms is not None and chip is not None:
        table = gemms.parts[0][1]
        info = table.provenance
        convs = " (convolutions as implicit GEMMs)" if unet else ""
        if table.name != GEMM_TABLES.get(cfg.precision):
            how = f"; {cfg.precision} computes in 16 bits on this chip (weights dequantised), from the 16-bit table"
        else:
            how = ""
        return (
            f"{network} GEMMs{convs} priced from measured kernel tables: {info['package']} "
            f"{info['package_version']}, {info['framework']} {info['framework_version']} {info['kernel_source']} "
            f"measured on {chip.device}{how}"
        )
    if chip is None:
        why = f"no measured kernel table for {cfg.hardware.name}"
    elif unet and cfg.model.denoiser.unet_config is None:
        why = f"{cfg.model.id} gives no unet_config (the shapes of its convolutions' GEMMs)"
    elif cfg.precision == "fp8":
        why = (
            "fp8 GEMMs at the fp8 peak, as diffusion stacks run them (the tables' fp8 linears, an LLM server's "
            "kernels with their activation quantisation, gain less: docs/methodology.md)"
        )
    else:
        why = f"the kernel tables do not measure {cfg.precision} GEMMs"
    return f"{network} GEMMs priced on the sourced roofline (peak x efficiency): {why}"


def table_gemms(cfg: Config, chips: Sequence[tuple[Any, HardwarePreset]]) -> TableGemms | None:
    """The measured GEMM tables that price ``cfg``'s denoiser on each of ``chips`` ((a row mask, its chip), as
    :class:`~tokcost.engine.families.Work` has them), or None where the roofline prices everything: no table
    loader in ``cfg``, a precision no table prices (:data:`~tokcost.engine.kernels.GEMM_TABLES`), a UNet
    without its ``unet_config``, or no chip with a table."""
    sixteen = GEMM_TABLES["bf16"]
    name = GEMM_TABLES.get(cfg.precision)
    if cfg.kernels is None:
        return None
    denoiser = cfg.model.denoiser
    if denoiser is not None and denoiser.kind == "unet" and denoiser.unet_config is None:
        return None
    parts: list[tuple[Any, KernelTable]] = []
    for mask, hw in chips:
        chip = cfg.kernels(hw.id)
        if chip is None:
            continue
        if name is not None and name in chip.tables:
            parts.append((mask, chip.tables[name]))
        elif sixteen in chip.tables and physics.peak_flops(hw, cfg.precision) == physics.peak_flops(hw, "bf16"):
            # a format this chip computes in 16 bits (weights dequantised: fp8 without fp8 units, int8-wo, int4)
            parts.append((mask, chip.tables[sixteen]))
    return TableGemms(parts) if parts else None


def unfused_regime(cfg: Config) -> str | None:
    """How ``cfg``'s attention runs unfused (a regime of :data:`~tokcost.engine.physics.UNFUSED_BYTES_PER_SCORE`):
    None for a fused kernel, "autocast" for the math kernel under torch.autocast, else "16-bit"."""
    if cfg.attention_kernel != "math":
        return None
    return "autocast" if cfg.autocast else "16-bit"


def ring_send_note(hw: HardwarePreset) -> str:
    """How a ring's sends are priced on ``hw`` (a preset with a scale-up link), for an estimate's notes."""
    up = hw.scale_up
    rate = (
        f"{up.send_gbps:g} GB/s, nccl-tests' sendrecv_perf between two GPUs (scale_up.send_gbps)"
        if up.send_gbps is not None
        else f"the link's all-reduce bus bandwidth, {up.busbw_gbps:g} GB/s (no send figure for {hw.name}: optimistic)"
    )
    within = f" (within the {up.link}'s {up.gpus} GPUs)" if up.pcie is not None else ""
    return f"ring attention's K and V sends, where a ring runs, after each block's attention at {rate}{within}"


def ring_degree(model: ModelPreset, sp: int, ring: int | None = None) -> int:
    """GPUs per ring of ring attention among ``sp`` sequence-parallel GPUs: ``ring`` where given; else the fewest
    that let the attention heads divide over the rest, which split them Ulysses-style (1 where the heads divide by
    sp). Each further ring step costs a send and receive, a merge and launches (physics.ring_send_s), while a
    layer's four all-to-alls do not multiply with the Ulysses degree, so the fewest ring steps is the cheaper
    layout; a ring of 8 is how Wan2.1's README runs its 12-head 1.3B model on 8 GPUs. A linear-attention DiT, a
    UNet or a model without a head count takes no ring (1)."""
    if ring is not None:
        return ring
    d = model.denoiser
    heads = d.attention_heads
    if sp <= 1 or not heads or d.kind in ("unet", "linear-dit"):
        return 1
    return next(r for r in range(1, sp + 1) if sp % r == 0 and heads % (sp // r) == 0)


def split_degrees(G: int, parallelism: str | None, cfg_mode) -> tuple[int | None, int]:
    """(CFG degree, sequence-parallel degree) of a diffusion replica of G GPUs; (None, 0) when impossible.
    Default: CFG parallelism first when guidance is batched and G is even (one all-gather per step instead of
    four all-to-alls per layer, xDiT's recommended order), the rest sequence parallel."""
    two = cfg_mode == "batched"
    if parallelism is None:
        return (2, G // 2) if two and G % 2 == 0 else (1, G)
    if parallelism == "sp":
        return 1, G
    if parallelism == "cfg":
        return (2, 1) if two and G == 2 else (None, 0)
    if parallelism == "cfg+sp":
        return (2, G // 2) if two and G % 2 == 0 and G >= 4 else (None, 0)
    return None, 0


def diffusion_training_flops(model: ModelPreset, samples: float, width=None, height=None, frames=None) -> float:
    """3 x one forward (forward + backward = 3 forwards) per sample, one noise level per sample, no CFG."""
    w, h = sample_size(model, width, height)
    f = frames or (model.native.frames if "video" in model.roles else None)
    tc = diffusion_tokens(model, w, h, f, pad=True)
    return 3 * float(physics.denoiser_flops(model, tc.visual, tc.padded_width, tc.padded_height)) * samples


def sample_size(model: ModelPreset, width=None, height=None) -> tuple[int, int]:
    """The size a diffusion training sample is priced at: the given one, else the model's native."""
    return width or model.native.width, height or model.native.height


FAMILY = Diffusion()
