"""Price one configuration, or a whole grid of them at once: tokens -> latency, memory, throughput, cost.

:func:`estimate_arrays` is the vectorised core used by sweeps and the planner; :func:`estimate` wraps it for
one configuration and adds the low-high band.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tokcost.engine import physics
from tokcost.engine.profiles import BANDS, Band, Calibrated, Efficiency, efficiency
from tokcost.engine.tokens import ar_layout_tokens, emu3_prompt_overhead, latent_frames, side_tokens, text_tokens
from tokcost.errors import UsageError
from tokcost.records.engines import EngineProfile
from tokcost.records.presets import HardwarePreset, ModelPreset

# Perception answers when the spec gives no answer_tokens: a few sentences (an assumption, docs/methodology.md).
DEFAULT_ANSWER_TOKENS = 128
# A step is reported overhead-bound when host launch and fixed costs make it this much slower than its GPU work
# (a reporting threshold for the "limited by host launch overhead" remark, not a model parameter).
OVERHEAD_BOUND_FACTOR = 1.5


@dataclass(frozen=True, kw_only=True)
class Config:
    """What to price. ``None`` means the model's own default (steps, CFG mode) or its native size.

    ``profiles`` is the engine table to price with (:func:`tokcost.io.engines.load_engines`, or profiles changed
    for a what-if study or a fit): ``engine`` names the one used, and ``eager`` is the reference a calibration
    scales the others by."""

    model: ModelPreset
    hardware: HardwarePreset
    profiles: Mapping[str, EngineProfile]
    engine: str = "eager"
    precision: str = "bf16"
    width: object = None
    height: object = None
    frames: object = None  # video frames; None for images
    batch: object = 1
    steps: object = None
    cfg: str | None = None  # batched | unbatched | off
    tokens_per_forward: float = 1.0  # accepted tokens per forward (speculative / parallel decoding)
    verify_tokens: float | None = None  # positions computed per forward (defaults to tokens_per_forward)
    prompt_tokens: object = None  # AR conditioning prompt; perception: the question
    answer_tokens: object = None  # perception only
    role: str | None = None  # image | video | perception (default: the model's first role)
    calibration: Calibrated | None = None
    gpus: object = 1  # diffusion: GPUs splitting each denoiser forward by sequence parallelism (Ulysses)
    # USD per GPU-hour by hardware id (tokcost.core.pricing.PriceBook); a chip not in it is not priced (cost NaN)
    prices: Mapping[str, float] = field(default_factory=dict)


def resolve_role(cfg: Config) -> str:
    role = cfg.role or ("video" if cfg.frames not in (None, 1) and "video" in cfg.model.roles else cfg.model.roles[0])
    if role not in cfg.model.roles:
        raise UsageError(f"{cfg.model.id} does not serve {role} (it serves: {', '.join(cfg.model.roles)})")
    return role


def _engine(cfg: Config) -> EngineProfile:
    profile = cfg.profiles.get(cfg.engine)
    if profile is None:
        raise UsageError(f"unknown engine {cfg.engine!r}; choose from {', '.join(cfg.profiles)}")
    if cfg.model.family not in profile.serves:
        raise UsageError(
            f"engine {cfg.engine!r} serves AR models only; {cfg.model.id} is a diffusion model (use eager or compiled)"
        )
    return profile


def _cfg_mode(cfg: Config) -> str:
    """The model's own CFG mode, except that an optimised engine batches the two branches of a reference
    implementation that runs them as separate passes (what LlamaGen's vLLM server and any batched server do)."""
    if cfg.cfg is not None:
        return cfg.cfg
    default = cfg.model.sampling.cfg if cfg.model.family == "ar" else cfg.model.diffusion.cfg
    mode = {"batched": "batched", "unbatched": "unbatched", "off": "off", "distilled": "off", "none": "off"}[default]
    return "batched" if mode == "unbatched" and cfg.engine != "eager" else mode


@dataclass(frozen=True)
class _Chip:
    """What the formulas need of the hardware (and the efficiency band on it): scalars for one chip, or column
    arrays that price a stack of chips x bands in one pass (:func:`estimate_grid`)."""

    eff: Efficiency
    P: object  # dense FLOP/s at the precision
    P_attn: object  # 16-bit FLOP/s of the fused attention kernels
    BW: object  # bytes/s
    usable_bytes: object  # memory a replica may fill
    price: object  # USD per GPU-hour (NaN: no price)


def _chip(cfg: Config, hw: HardwarePreset, profile: EngineProfile, band: Band) -> _Chip:
    return _Chip(
        eff=efficiency(profile, hw, band, cfg.calibration, cfg.profiles.get("eager")),
        P=physics.peak_flops(hw, cfg.precision),
        P_attn=physics.peak_flops(hw, "bf16"),
        BW=hw.bandwidth_tbps * 1e12,
        usable_bytes=hw.memory_gb * 1e9 * profile.usable_memory_fraction,
        price=cfg.prices.get(hw.id, np.nan),
    )


def estimate_arrays(cfg: Config, band: Band = "central") -> dict:
    """Vectorised estimate: every numeric field of ``cfg`` may be an array; returns arrays (seconds, bytes)."""
    profile = _engine(cfg)
    return _estimate(cfg, profile, _chip(cfg, cfg.hardware, profile, band), np.asarray(cfg.batch, dtype=float))


def estimate_grid(cfg: Config, hardware: list[HardwarePreset], bands=BANDS) -> dict[tuple[str, str], Mapping]:
    """:func:`estimate_arrays` of ``cfg`` on each of ``hardware`` (``cfg.hardware`` is not used) at each band,
    in one vectorised pass: chips x bands along a leading axis, ``cfg.batch`` (a scalar or a 1-D array) along
    the other. Returns ``{(hardware id, band): result}``; in each result every number is an array over the
    batches. One GPU per replica (sequence parallelism needs :func:`estimate_arrays`)."""
    if np.any(np.asarray(cfg.gpus) != 1):
        raise UsageError("estimate_grid prices one GPU per replica; use estimate_arrays for sequence parallelism")
    profile = _engine(cfg)
    pairs = [(hw, b) for hw in hardware for b in bands]
    chips = [_chip(cfg, hw, profile, b) for hw, b in pairs]

    def column(values) -> np.ndarray:
        return np.asarray(values, dtype=float)[:, None]

    stacked = _Chip(
        **{f.name: column([getattr(c, f.name) for c in chips]) for f in dataclasses.fields(_Chip) if f.name != "eff"},
        eff=Efficiency(
            **{f.name: column([getattr(c.eff, f.name) for c in chips]) for f in dataclasses.fields(Efficiency)}
        ),
    )
    batch = np.atleast_1d(np.asarray(cfg.batch, dtype=float))[None, :]
    out = _estimate(cfg, profile, stacked, batch)
    full = _full(out, (len(pairs), batch.shape[1]))
    return {(hw.id, b): _Row(full, k) for k, (hw, b) in enumerate(pairs)}


def _full(value, shape: tuple):
    """Every number of a (nested) result as an array of the whole grid's shape."""
    if isinstance(value, dict):
        return {key: _full(v, shape) for key, v in value.items()}
    if isinstance(value, np.ndarray) or isinstance(value, (float, int)) and not isinstance(value, bool):
        return np.broadcast_to(np.asarray(value), shape).copy()
    return value  # strings (cfg mode, role) and None (steps of an AR model)


class _Row(Mapping):
    """Row ``k`` of a grid result, sliced when read (a planner reads a few of its ~35 arrays per row)."""

    __slots__ = ("_full", "_k")

    def __init__(self, full: dict, k: int):
        self._full, self._k = full, k

    def __getitem__(self, key):
        value = self._full[key]
        if isinstance(value, dict):
            return _Row(value, self._k)
        return value[self._k] if isinstance(value, np.ndarray) else value

    def __iter__(self):
        return iter(self._full)

    def __len__(self):
        return len(self._full)


def _estimate(cfg: Config, profile: EngineProfile, chip: _Chip, batch: np.ndarray) -> dict:
    m = cfg.model
    eff, P, BW = chip.eff, chip.P, chip.BW
    wbytes = physics.WEIGHT_BYTES[cfg.precision]
    role = resolve_role(cfg)
    mode = _cfg_mode(cfg) if role != "perception" else "off"
    branches = 2.0 if mode == "batched" else 1.0
    passes = 2.0 if mode == "unbatched" else 1.0
    width = cfg.width if cfg.width is not None else (m.tokenizer.native_width if m.family == "ar" else m.native.width)
    height = (
        cfg.height if cfg.height is not None else (m.tokenizer.native_height if m.family == "ar" else m.native.height)
    )
    if m.family == "ar" and np.any(np.asarray(cfg.gpus) != 1):
        raise UsageError("multi-GPU estimates cover diffusion sequence parallelism only; AR models run on one GPU")
    out = (
        _ar(cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role)
        if m.family == "ar"
        else _diffusion(cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role, chip.P_attn)
    )
    mem = out.pop("memory")
    total_mem = sum(mem.values())
    out["memory_bytes"] = {**mem, "total": total_mem}
    out["fits_in_memory"] = total_mem <= chip.usable_bytes
    out["throughput_items_per_s"] = batch / out["latency_s"]
    # throughput is of the whole group of ``gpus`` GPUs serving one request (sequence parallelism)
    out["cost_usd_per_item"] = chip.price * np.asarray(cfg.gpus, dtype=float) / 3600.0 / out["throughput_items_per_s"]
    out["floor_s"] = np.maximum(out["flops"] / P, out["bytes"] / BW)
    out.update(cfg_mode=mode, role=role, peak_flops=P, bandwidth=BW)
    return out


def _ar(cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role) -> dict:
    arch, tok = m.architecture, m.tokenizer
    w = side_tokens(width, tok.spatial_factor, "width", True)
    h = side_tokens(height, tok.spatial_factor, "height", True)
    if cfg.frames is not None and role == "video":
        t = latent_frames(cfg.frames, tok.temporal_factor, tok.temporal_rule, True)
    else:
        t = np.ones_like(np.asarray(w))
    image_positions = ar_layout_tokens(w, h, t, tok.layout)
    visual = t * w * h
    layout_prompt = emu3_prompt_overhead(w, h) if tok.layout == "emu3" else 0
    prompt = np.asarray(cfg.prompt_tokens if cfg.prompt_tokens is not None else m.sampling.prompt_tokens, dtype=float)
    if role == "perception":
        prefill_tokens = image_positions + prompt + layout_prompt
        generated = np.asarray(
            cfg.answer_tokens if cfg.answer_tokens is not None else DEFAULT_ANSWER_TOKENS, dtype=float
        )
    else:
        prefill_tokens = prompt + layout_prompt
        generated = np.asarray(image_positions, dtype=float)
    k = float(cfg.tokens_per_forward)
    if k < 1:
        raise UsageError("tokens_per_forward must be at least 1")
    verify = float(cfg.verify_tokens or k)
    n_forwards = np.ceil(generated / k)
    n_seq = batch * branches
    prefill_s, prefill_flops = physics.ar_prefill_time(arch, P, BW, eff, wbytes, n_seq, prefill_tokens, passes)
    decode_s, compute_s, memory_s = physics.ar_decode_time(
        arch, P, BW, eff, wbytes, n_seq, prefill_tokens, n_forwards, k, verify, passes
    )
    mem = physics.ar_memory(m, wbytes, n_seq, prefill_tokens + generated)
    flops = prefill_flops + compute_s * P * eff.mfu
    bytes_ = memory_s * BW * eff.mbu
    return {
        "latency_s": prefill_s + decode_s,
        "breakdown_s": {"prefill": prefill_s, "decode": decode_s},
        "bound": np.where(compute_s >= memory_s, "compute", "memory"),
        # compute_s and memory_s already count both passes of unbatched CFG
        "overhead_bound": decode_s > np.maximum(compute_s, memory_s) * OVERHEAD_BOUND_FACTOR,
        "tokens": {
            "visual": visual,
            "generated": generated,
            "prompt": prefill_tokens,
            "sequences_per_forward": n_seq,
            "forwards": n_forwards * passes,
            "grid_width": w,
            "grid_height": h,
            "latent_frames": t,
            "padded_width": w * tok.spatial_factor,
            "padded_height": h * tok.spatial_factor,
        },
        "flops": flops,
        "bytes": bytes_,
        "memory": mem,
        "steps": None,
    }


def _diffusion(cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role, P_attn) -> dict:
    vae = m.vae
    f = vae.spatial_factor * vae.patch
    w = side_tokens(width, f, "width", True)
    h = side_tokens(height, f, "height", True)
    pw, ph = w * f, h * f
    frames = cfg.frames if (cfg.frames is not None and role == "video") else (m.native.frames if role == "video" else 1)
    if role == "video":
        t = np.ceil(latent_frames(frames, vae.temporal_factor, vae.temporal_rule, True) / vae.patch_t)
    else:
        t = np.ones_like(np.asarray(w))
    latent = t * w * h
    steps = np.asarray(cfg.steps if cfg.steps is not None else m.diffusion.steps, dtype=float)
    n_items = batch * branches
    linear, attn = physics.denoiser_flops_split(m, latent, pw, ph)
    per_item = linear + attn
    gpus = np.asarray(cfg.gpus, dtype=float)
    seq = latent + (m.denoiser.joint_text_tokens or 0)
    link = hw_link_bytes(cfg.hardware) if np.any(gpus > 1) else 1.0
    comm = physics.sequence_parallel_comm_s(m, n_items, seq, gpus, link)
    # attention kernels stay 16-bit whatever the weight format (SDPA / flash attention in bf16 or fp16): P_attn
    act = physics.denoiser_activation_elems(m, latent, pw, ph)
    step_s, compute, memory = physics.diffusion_step_time(
        m, P, BW, eff, wbytes, n_items, linear, attn, P_attn, gpus, comm, act
    )
    denoise_s = passes * steps * step_s
    text_s = physics.text_encoder_time(m, P, BW, eff, batch * (2.0 if branches * passes > 1 else 1.0))
    vae_s, vae_flops = physics.vae_decode_time(m, P, eff, batch, pw, ph, frames)
    request_s = eff.request_fixed_s + 0 * denoise_s
    mem = physics.diffusion_memory(m, wbytes, n_items, seq, pw, ph)
    flops = passes * steps * n_items * per_item + vae_flops
    bytes_ = passes * steps * m.denoiser.params_b * 1e9 * wbytes + 0 * flops
    return {
        "latency_s": text_s + denoise_s + vae_s + request_s,
        "breakdown_s": {
            "text_encoders": text_s + 0 * denoise_s,
            "denoise": denoise_s,
            "vae_decode": vae_s + 0 * denoise_s,
            "pipeline": request_s,
        },
        "bound": np.where(compute >= memory, "compute", "memory"),
        "overhead_bound": step_s > np.maximum(compute, memory) * OVERHEAD_BOUND_FACTOR,
        "tokens": {
            "latent": latent,
            "text": float(text_tokens(m)) + 0 * latent,
            "latent_frames": t,
            "grid_width": w,
            "grid_height": h,
            "items_per_forward": n_items,
            "padded_width": pw + 0 * latent,
            "padded_height": ph + 0 * latent,
        },
        "flops": flops,
        "bytes": bytes_,
        "memory": mem,
        "steps": steps,
    }


def hw_link_bytes(hw: HardwarePreset) -> float:
    """One direction of the GPU's scale-up link in bytes/s, at the all-to-all efficiency LINK_EFFICIENCY."""
    if hw.interconnect_gbps is None:
        raise UsageError(f"{hw.id} has no scale-up link in its preset; sequence parallelism needs one")
    return hw.interconnect_gbps * 1e9 / 2.0 * LINK_EFFICIENCY


# NCCL all-to-all reaches well under the link's line rate for the few-MB messages of one layer (assumption: 0.6
# of one direction; the term is a few percent of a step for the validated cases, see docs/validation.md).
LINK_EFFICIENCY = 0.6


# ------------------------------------------------------------------------------------------- one configuration


@dataclass
class Estimate:
    config: Config
    central: dict
    low: dict  # optimistic end of the band (lowest latency)
    high: dict

    def scalar(self, key: str, band: str = "central"):
        value = getattr(self, band)[key]
        return value.item() if isinstance(value, np.ndarray) else value


def estimate(cfg: Config) -> Estimate:
    results = {b: estimate_arrays(cfg, b) for b in BANDS}
    return Estimate(cfg, results["central"], results["low"], results["high"])


def to_float(x):
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a.tolist()
