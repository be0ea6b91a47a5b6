"""Next-scale prediction: text encoders once, then one transformer forward per scale over that scale's token map
(n_k = s_k^2 tokens), attending to the S_k = n_1 + ... + n_k tokens of every scale so far, whose keys and values
are cached (docs/methodology.md, "Next-scale prediction"); both guidance branches batched; then the VAE decode.

Per scale and sequence: FLOPs = 2 N n_k + 4 L d n_k S_k + 4 L d n_k X (X text tokens); bytes = the weights + the
KV cache read, S_k x 2 L d x 2 bytes; the element-wise passes between the matmuls as for a DiT block; time =
max(max(compute, bytes) + L x gap, L x host) + the per-forward fixed cost (sampling the scale's tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from tokcost.engine import physics
from tokcost.engine.families import (
    OVERHEAD_BOUND_FACTOR,
    Memory,
    OneGpu,
    Priced,
    TrainingFlops,
    TrainingWork,
    Work,
    roofline_note,
)
from tokcost.engine.tokens import TokenCount, side_tokens
from tokcost.errors import UsageError
from tokcost.records.families import FamilySchema
from tokcost.records.families.next_scale import SCHEMA
from tokcost.records.presets import ModelPreset

if TYPE_CHECKING:
    from tokcost.engine.config import Config

KV_BYTES = physics.KV_BYTES  # 16-bit keys and values


class NextScalePrediction(OneGpu):
    schema: FamilySchema = SCHEMA
    one_gpu_work = "predicts its scales"

    def price(self, w: Work) -> Priced:
        cfg, m, eff = w.cfg, w.model, w.eff
        s = SCHEMA.section_of(m)
        f = m.vae.spatial_factor * m.vae.patch
        gw = side_tokens(w.width, f, "width", True)
        gh = side_tokens(w.height, f, "height", True)
        last = s.scales[-1]
        # another size (a chart's axis; the preset's size limits keep plans at the native one): the schedule's
        # sides scaled to the grid, as the model's per-size schedules roughly are
        ratio_w, ratio_h = np.asarray(gw, dtype=float) / last, np.asarray(gh, dtype=float) / last
        n = np.asarray(w.batch * w.branches, dtype=float)  # sequences
        L, d, X = s.layers, s.width, float(s.cross_attention_text_tokens)
        N = s.matmul_params_b * 1e9
        wread = physics.weight_read_bytes(cfg.precision)
        kv_token = 2.0 * L * d * KV_BYTES
        attn_mfu = eff.attention_mfu if eff.attention_mfu is not None else eff.mfu
        total_s = comp_sum = mem_sum = flops = 0.0 * n
        host = physics.host_scale(m, eff)
        prefix = 0.0
        for side in s.scales:
            tokens = np.maximum(1.0, np.round(side * ratio_w)) * np.maximum(1.0, np.round(side * ratio_h))
            prefix = prefix + tokens
            linear = 2 * N * n * tokens
            attn = 4 * L * d * n * tokens * (prefix + X)
            acts = L * d * n * tokens * 2.0  # bytes of one element-wise pass over every block
            passes, per_kernel = physics.act_passes(m, eff), physics.kernel_passes(m)
            act_s = physics.stack_elementwise_s(passes, acts, L, per_kernel, w.BW * eff.mbu, w.l2)
            compute = linear / (w.P * eff.mfu) + attn / (w.P_attn * attn_mfu) + act_s
            memory = (s.params_b * 1e9 * wread + n * prefix * kv_token) / (w.BW * eff.mbu)
            gpu = np.maximum(compute, memory) + L * eff.gpu_per_layer_s
            total_s = total_s + np.maximum(gpu, L * eff.host_per_layer_s * host) + eff.fixed_per_step_s
            comp_sum, mem_sum = comp_sum + compute, mem_sum + memory
            flops = flops + linear + attn
        text_s = physics.text_encoder_time(m, w.P_text, w.BW, eff, w.batch * (2.0 if w.branches > 1 else 1.0))
        pw, ph = gw * f, gh * f
        vae_s, vae_flops = physics.vae_decode_time(m, w.P_vae, eff, w.batch, pw, ph, 1)
        vae_type = physics.vae_dtype(m.vae, cfg.precision, cfg.vae_precision)
        latency = text_s + total_s + vae_s
        weights = s.params_b * 1e9 * w.wbytes + sum(e.params_b for e in m.text_encoders) * 1e9 * 2.0
        weights = weights + m.vae.params_b * 1e9 * physics.DTYPE_BYTES[vae_type]
        return Priced(
            latency_s=latency,
            breakdown_s={"text_encoders": text_s + 0 * latency, "scales": total_s, "vae_decode": vae_s + 0 * latency},
            breakdown_precision={
                "text_encoders": physics.pipeline_dtype(cfg.precision),
                "scales": cfg.precision,
                "vae_decode": vae_type,
            },
            bound=np.where(comp_sum >= mem_sum, "compute", "memory"),
            overhead_bound=total_s > np.maximum(comp_sum, mem_sum) * OVERHEAD_BOUND_FACTOR,
            communication_s=0 * latency,
            tokens={
                "latent": gw * gh + 0 * latency,
                "generated": prefix + 0 * latency,
                "scales": len(s.scales) + 0 * latency,
                "items_per_forward": n + 0 * latency,
                "grid_width": gw + 0 * latency,
                "grid_height": gh + 0 * latency,
                "padded_width": pw + 0 * latency,
                "padded_height": ph + 0 * latency,
            },
            flops=flops + vae_flops,
            bytes=mem_sum * w.BW * eff.mbu,
            memory=Memory(
                weights=weights + 0 * latency,
                kv_cache=n * prefix * kv_token + 0 * latency,
                activations=n * gw * gh * d * 2.0 * physics.BLOCK_LIVE_TENSORS
                + physics.vae_decode_buffer_bytes(w.batch, pw, ph, physics.DTYPE_BYTES[vae_type]),
                workspace=physics.WORKSPACE_BYTES + 0 * latency,
            ),
            padded_width=pw + 0 * latency,
            padded_height=ph + 0 * latency,
        )

    def tokens(
        self, model: ModelPreset, width: int, height: int, frames: int | None, prompt_tokens: int | None, pad: bool
    ) -> TokenCount:
        f = model.vae.spatial_factor * model.vae.patch
        gw, gh = side_tokens(width, f, "width", pad), side_tokens(height, f, "height", pad)
        total = sum(side * side for side in SCHEMA.section_of(model).scales)
        text = SCHEMA.section_of(model).cross_attention_text_tokens
        return TokenCount(int(gw), int(gh), 1, int(gw * gh), int(total), int(text), int(gw * f), int(gh * f), 1)

    def context_excess(self, model: ModelPreset, tokens: Mapping[str, float]) -> tuple[float, int] | None:
        return None  # the schedule fixes the sequence

    def precision_note(self, model: ModelPreset, precision: str, vae_precision: str | None = None) -> str:
        vae = physics.vae_dtype(model.vae, precision, vae_precision)
        return (
            f"{precision} applies to the transformer's linear layers; attention, the KV cache and the text encoders "
            f"run {physics.pipeline_dtype(precision)}, the VAE {vae}"
        )

    def pricing_note(self, cfg: Config) -> str:
        return (
            roofline_note("next-scale prediction")
            + "; "
            + physics.elementwise_note(cfg.model, cfg.profiles[cfg.engine])
        )

    def training(self, model: ModelPreset, work: TrainingWork) -> TrainingFlops:
        raise UsageError(f"tokcost has no training formula for {model.generation.label} models such as {model.id}")


FAMILY = NextScalePrediction()
