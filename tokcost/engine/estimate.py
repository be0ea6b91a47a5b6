"""Price one configuration, or a whole grid of them at once: tokens -> latency, memory, throughput, cost.

:func:`estimate_arrays` is the vectorised core used by sweeps and the planner; :func:`estimate` wraps it for
one configuration and adds the low-high band.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from tokcost.engine import physics
from tokcost.engine.kernels import GEMM_TABLES, TableGemms
from tokcost.engine.profiles import BANDS, Band, Calibrated, Efficiency, attention_problem, efficiency
from tokcost.engine.tokens import ar_layout_tokens, emu3_prompt_overhead, latent_frames, side_tokens, text_tokens
from tokcost.errors import UsageError
from tokcost.records.engines import EngineProfile, ErrorBand
from tokcost.records.kernels import ChipKernels
from tokcost.records.presets import Architecture, HardwarePreset, ModelPreset

# Perception answers when the spec gives no answer_tokens: a few sentences (an assumption, docs/methodology.md).
DEFAULT_ANSWER_TOKENS = 128
# A step is reported overhead-bound when host launches, kernel gaps and fixed costs make it this much slower than
# its FLOPs or bytes (a reporting threshold for the "limited by overheads" remark, not a model parameter).
OVERHEAD_BOUND_FACTOR = 1.5
# What the components --precision does not apply to run at: text encoders and the VAE.
SIXTEEN_BIT = "bf16"


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
    gpus: object = 1  # GPUs in one replica, splitting each forward (replica_layout)
    parallelism: str | None = None  # how they split it: tp (AR) | sp | cfg | cfg+sp (diffusion); None: the default
    attention: str | None = None  # diffusion attention kernel: sdpa | fa2 | fa3 (None: the engine profile's)
    kv_dtype: str = "bf16"  # AR KV cache: bf16 | fp8 (physics.KV_DTYPE_BYTES)
    host_speed: float | None = None  # the server CPU's single-thread speed vs the EPYC 7742 (None: the preset's)
    # USD per GPU-hour by hardware id (tokcost.core.pricing.PriceBook); a chip not in it is not priced (cost NaN)
    prices: Mapping[str, float] = field(default_factory=dict)
    # hardware id -> its measured kernel tables or None (tokcost.io.kernel_tables.hardware_kernels, called only for
    # the chips priced); None: every chip on the roofline
    kernels: Callable[[str], ChipKernels | None] | None = None


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
    return cfg.cfg if cfg.cfg is not None else engine_cfg_mode(cfg.model, cfg.engine)


def engine_cfg_mode(model: ModelPreset, engine: str) -> str:
    """The model's own CFG mode, except that an optimised engine batches the two branches of a reference
    implementation that runs them as separate passes (what LlamaGen's vLLM server and any batched server do)."""
    default = model.sampling.cfg if model.family == "ar" else model.diffusion.cfg
    mode = {"batched": "batched", "unbatched": "unbatched", "off": "off", "distilled": "off", "none": "off"}[default]
    return "batched" if mode == "unbatched" and engine != "eager" else mode


@dataclass(frozen=True)
class _Chip:
    """What the formulas need of the hardware (and the efficiency band on it): scalars for one chip, or column
    arrays that price a stack of chips x bands in one pass (:func:`estimate_grid`)."""

    eff: Efficiency
    P: object  # dense FLOP/s at the precision
    P_attn: object  # 16-bit FLOP/s: the fused attention kernels, text encoders and the VAE
    BW: object  # bytes/s
    usable_bytes: object  # memory one GPU may fill
    price: object  # USD per GPU-hour (NaN: no price)
    link_latency_s: object  # one small collective on the scale-up link (NaN: no link in the preset)
    link_busbw: object  # bytes/s a large collective moves per GPU (NaN: no link)
    l2_resident: object  # bytes an element-wise kernel keeps in L2 (0: not measured)
    l2_bw: object  # bytes/s element-wise kernels move in L2 (inf: not measured)
    kernel_start_s: object  # GPU seconds per element-wise kernel (0: not measured)


def host_speed(hw: HardwarePreset, override: float | None = None) -> float:
    """Single-thread speed of the CPU that launches the kernels, relative to the EPYC 7742 the host terms are
    fitted on: ``override`` (``--host``), else the preset's typical server, else 1."""
    if override is not None:
        return override
    return hw.host.single_thread if hw.host is not None else 1.0


def _chip(cfg: Config, hw: HardwarePreset, profile: EngineProfile, band: Band) -> _Chip:
    return _Chip(
        eff=efficiency(
            profile, hw, band, cfg.calibration, cfg.profiles.get("eager"), cfg.attention, host_speed(hw, cfg.host_speed)
        ),
        P=physics.peak_flops(hw, cfg.precision),
        P_attn=physics.peak_flops(hw, "bf16"),
        BW=hw.bandwidth_tbps * 1e12,
        usable_bytes=hw.memory_gb * 1e9 * profile.usable_memory_fraction,
        price=cfg.prices.get(hw.id, np.nan),
        link_latency_s=scale_up_link(hw)[0],
        link_busbw=scale_up_link(hw)[1],
        **_l2(hw),
    )


def _l2(hw: HardwarePreset) -> dict:
    """The chip's measured element-wise kernels in L2 (:class:`~tokcost.records.presets.L2Cache`) in SI units;
    without a measurement, no cache and no start cost: the traffic is priced at the memory bandwidth."""
    if hw.l2 is None:
        return {"l2_resident": 0.0, "l2_bw": np.inf, "kernel_start_s": 0.0}
    return {
        "l2_resident": hw.l2.resident_mb * 1e6,
        "l2_bw": hw.l2.bandwidth_tbps * 1e12,
        "kernel_start_s": hw.l2.kernel_start_us * 1e-6,
    }


def scale_up_link(hw: HardwarePreset) -> tuple[float, float]:
    """(seconds of one small collective, bytes/s a large one moves per GPU) on the chip's scale-up link, from its
    preset's ``scale_up``; NaN without one (a replica of one GPU never reads them)."""
    if hw.scale_up is None:
        return np.nan, np.nan
    return hw.scale_up.latency_us * 1e-6, hw.scale_up.busbw_gbps * 1e9


PARALLELISMS = ("tp", "sp", "cfg", "cfg+sp")


def replica_problem(model: ModelPreset, hw: HardwarePreset, gpus: int, parallelism: str | None = None, cfg_mode=None):
    """Why ``model`` cannot run as one replica of ``gpus`` x ``hw`` split by ``parallelism`` (None: the default,
    tp for AR models and :func:`_diffusion_split`'s for diffusion), or None. ``cfg_mode`` is the guidance mode
    priced (batched: two branches)."""
    G = int(gpus)
    if G == 1:
        return None if parallelism in (None, "none") else f"parallelism {parallelism} needs more than one GPU"
    if parallelism not in (None, *PARALLELISMS):
        return f"unknown parallelism {parallelism!r}; choose from {', '.join(PARALLELISMS)}"
    problem = domain_problem(hw, G)
    if problem:
        return problem
    if model.family == "ar":
        if parallelism not in (None, "tp"):
            return f"{model.id} is autoregressive: its replicas split by tensor parallelism (tp), not {parallelism}"
        if model.architecture is None:  # not reached: ModelPreset's validator requires it of an AR model
            raise ValueError(f"{model.id} has no architecture: not an AR model")
        return tensor_parallel_problem(model.id, model.architecture, G)
    if parallelism == "tp":
        return (
            f"tensor parallelism (tp) is for AR models; {model.id} is a diffusion model: it splits by sp, cfg or cfg+sp"
        )
    cfg_degree, sp = _diffusion_split(G, parallelism, cfg_mode)
    if cfg_degree is None:
        return (
            f"parallelism {parallelism} on {G} GPUs needs batched classifier-free guidance (two branches) and "
            f"{'2' if parallelism == 'cfg' else 'an even number of'} GPUs; {model.id} runs {cfg_mode} guidance here"
        )
    d = model.denoiser
    if sp > 1 and d.kind == "unet":
        return f"{model.id} is a UNet: sequence parallelism covers transformer denoisers (a UNet splits by cfg only)"
    if sp > 1 and d.attention_heads and d.attention_heads % sp:
        return f"{sp}-way sequence parallelism needs {model.id}'s {d.attention_heads} attention heads to divide by {sp}"
    return None


def domain_problem(hw: HardwarePreset, gpus: int) -> str | None:
    """Why ``hw`` cannot join ``gpus`` GPUs into one replica (no scale-up link, or more than one server), or None."""
    if gpus == 1:
        return None
    if hw.scale_up is None:
        return f"{hw.id} has no scale-up link in its preset: a replica is one GPU"
    if gpus > hw.scale_up.gpus:
        return (
            f"{gpus} GPUs exceed {hw.id}'s scale-up domain of {hw.scale_up.gpus} GPUs (one server's "
            f"{hw.scale_up.link}); splitting a replica across servers is out of scope for serving"
        )
    return None


def tensor_parallel_problem(name: str, arch: Architecture, gpus: int) -> str | None:
    """Why ``arch`` cannot be split ``gpus`` ways by Megatron tensor parallelism (heads per GPU), or None."""
    if arch.heads % gpus:
        return f"{gpus}-way tensor parallelism needs {name}'s {arch.heads} attention heads to divide by {gpus}"
    if arch.kv_heads % gpus and gpus % arch.kv_heads:
        return f"{gpus}-way tensor parallelism cannot share {name}'s {arch.kv_heads} KV heads over {gpus} GPUs"
    return None


def _diffusion_split(G: int, parallelism: str | None, cfg_mode) -> tuple[int | None, int]:
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
    return None, 0  # tp: not a diffusion layout


# How a replica splits its work, by (CFG-parallel?, split further?): AR models split by tensor parallelism only.
LABELS = {"ar": np.array([["none", "tp"], ["none", "tp"]]), "diffusion": np.array([["none", "sp"], ["cfg", "cfg+sp"]])}


def _check_replica(cfg: Config, mode: str) -> None:
    for G in np.flatnonzero(np.bincount(np.asarray(cfg.gpus, dtype=int).ravel())):  # the sizes (np.unique: numpy.ma)
        problem = replica_problem(cfg.model, cfg.hardware, int(G), cfg.parallelism, mode)
        if problem:
            raise UsageError(problem)


def estimate_arrays(cfg: Config, band: Band = "central") -> dict:
    """Vectorised estimate: every numeric field of ``cfg`` may be an array; returns arrays (seconds, bytes)."""
    profile = _engine(cfg)
    _check_replica(cfg, _cfg_mode(cfg))
    problem = attention_problem(cfg.hardware, cfg.attention or profile.attention)
    if problem:
        raise UsageError(problem)
    chip = _chip(cfg, cfg.hardware, profile, band)
    gemms = table_gemms(cfg, [(True, cfg.hardware)])
    return _estimate(cfg, profile, chip, np.asarray(cfg.batch, dtype=float), cfg.gpus, gemms)


def table_gemms(cfg: Config, rows: list[tuple[object, HardwarePreset]]) -> TableGemms | None:
    """The measured GEMM tables that price ``cfg``'s denoiser on each of ``rows`` (a row mask and its chip), or
    None where the roofline prices everything: no table loader in ``cfg``, an AR model, a precision the tables do
    not measure (:data:`~tokcost.engine.kernels.GEMM_TABLES`), or no chip with a table."""
    name = GEMM_TABLES.get(cfg.precision)
    if cfg.kernels is None or name is None or cfg.model.denoiser is None:
        return None
    if cfg.model.denoiser.kind == "unet" and cfg.model.denoiser.unet_config is None:
        return None
    parts = []
    for mask, hw in rows:
        chip = cfg.kernels(hw.id)
        table = chip.tables.get(name) if chip is not None else None
        if table is not None:
            parts.append((mask, table))
    return TableGemms(parts) if parts else None


def pricing_note(cfg: Config) -> str:
    """Which path priced the denoiser's linear and conv layers of ``cfg`` (one chip): a measured kernel table
    (whose) or the sourced roofline (peak x efficiency), and why."""
    gemms = table_gemms(cfg, [(True, cfg.hardware)])
    if gemms is not None:
        info = gemms.parts[0][1].provenance
        return (
            f"denoiser GEMMs{' (convolutions as implicit GEMMs)' if cfg.model.denoiser.kind == 'unet' else ''} "
            f"priced from measured kernel tables: {info['package']} {info['package_version']}, "
            f"{info['framework']} {info['framework_version']} {info['kernel_source']} on {cfg.hardware.name}"
        )
    if cfg.model.family == "ar":
        return "operators priced on the sourced roofline (peak x efficiency); AR does not use the kernel tables"
    why = (
        f"no measured kernel table for {cfg.hardware.name}"
        if cfg.kernels is None or cfg.kernels(cfg.hardware.id) is None
        else f"the kernel tables do not measure {cfg.precision} GEMMs"
    )
    return f"denoiser GEMMs priced on the sourced roofline (peak x efficiency): {why}"


def estimate_grid(
    cfg: Config, hardware: list[HardwarePreset], bands=BANDS, gpus=(1,)
) -> dict[tuple[str, str, int], Mapping]:
    """:func:`estimate_arrays` of ``cfg`` on each of ``hardware`` (``cfg.hardware`` is not used) at each band and
    each replica size of ``gpus`` that the model and the chip allow (:func:`replica_problem`, default layout), in
    one vectorised pass: chips x bands x sizes along a leading axis, ``cfg.batch`` (a scalar or a 1-D array)
    along the other. Returns ``{(hardware id, band, gpus): result}``; in each result every number is an array over
    the batches; a size a chip cannot hold is absent, as is a chip that cannot run the attention kernel."""
    profile = _engine(cfg)
    mode = _cfg_mode(cfg)
    kernel = cfg.attention or profile.attention
    triples = [
        (hw, b, G)
        for hw in hardware
        if attention_problem(hw, kernel) is None
        for G in gpus
        if replica_problem(cfg.model, hw, G, cfg.parallelism, mode) is None
        for b in bands
    ]
    if not triples:
        return {}
    once: dict[tuple[str, str], _Chip] = {}  # a chip's figures are the same for every replica size
    for hw, b, _ in triples:
        if (hw.id, b) not in once:
            once[(hw.id, b)] = _chip(cfg, hw, profile, b)
    chips = [once[(hw.id, b)] for hw, b, _ in triples]

    def column(values) -> np.ndarray:
        return np.asarray(values, dtype=float)[:, None]

    stacked = _Chip(
        **{f.name: column([getattr(c, f.name) for c in chips]) for f in dataclasses.fields(_Chip) if f.name != "eff"},
        eff=Efficiency(
            **{f.name: column([getattr(c.eff, f.name) for c in chips]) for f in dataclasses.fields(Efficiency)}
        ),
    )
    batch = np.atleast_1d(np.asarray(cfg.batch, dtype=float))[None, :]
    ids = {hw.id: hw for hw, _, _ in triples}
    gemms = table_gemms(cfg, [(column([h.id == i for h, _, _ in triples]) > 0, hw) for i, hw in ids.items()])
    out = _estimate(cfg, profile, stacked, batch, column([G for _, _, G in triples]), gemms)
    full = _full(out, (len(triples), batch.shape[1]))
    return {(hw.id, b, G): _Row(full, k) for k, (hw, b, G) in enumerate(triples)}


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


def _split(family: str, gpus, parallelism: str | None, mode: str):
    """(CFG degree, the other degree: tensor- or sequence-parallel, label) per replica size, vectorised over
    ``gpus`` (sizes already checked by :func:`replica_problem`)."""
    G = np.asarray(gpus, dtype=float)
    if family == "ar":
        cfg_degree = np.ones_like(G)
    elif parallelism is None:
        cfg_degree = np.where((mode == "batched") & (G % 2 == 0), 2.0, 1.0)
    else:
        cfg_degree = np.full_like(G, 2.0 if parallelism.startswith("cfg") else 1.0)
    split = G / cfg_degree
    labels = LABELS[family][(cfg_degree > 1).astype(int), (split > 1).astype(int)]
    return cfg_degree, split, labels  # one label for one replica size, an array of them for several


def _estimate(cfg: Config, profile: EngineProfile, chip: _Chip, batch: np.ndarray, gpus, gemms=None) -> dict:
    m = cfg.model
    eff, P, BW = chip.eff, chip.P, chip.BW
    wbytes = physics.WEIGHT_BYTES[cfg.precision]  # memory; the time to read them: physics.weight_read_bytes
    role = resolve_role(cfg)
    mode = _cfg_mode(cfg) if role != "perception" else "off"
    branches = 2.0 if mode == "batched" else 1.0
    passes = 2.0 if mode == "unbatched" else 1.0
    width = cfg.width if cfg.width is not None else (m.tokenizer.native_width if m.family == "ar" else m.native.width)
    height = (
        cfg.height if cfg.height is not None else (m.tokenizer.native_height if m.family == "ar" else m.native.height)
    )
    G = np.asarray(gpus, dtype=float)
    cfg_degree, split, label = _split(m.family, G, cfg.parallelism, mode)
    link = (chip.link_latency_s, chip.link_busbw)
    out = (
        _ar(cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role, split, link)
        if m.family == "ar"
        else _diffusion(
            cfg,
            m,
            P,
            BW,
            eff,
            wbytes,
            batch,
            branches,
            passes,
            width,
            height,
            role,
            chip.P_attn,
            cfg_degree,
            split,
            link,
            (chip.l2_resident, chip.l2_bw, chip.kernel_start_s),
            gemms,
        )
    )
    mem = out.pop("memory")
    total_mem = sum(mem.values())
    out["memory_bytes"] = {**mem, "total": total_mem}
    out["fits_in_memory"] = total_mem <= chip.usable_bytes
    out["throughput_items_per_s"] = batch / out["latency_s"]
    # throughput is of the whole replica of G GPUs; each GPU-hour is paid
    out["cost_usd_per_item"] = chip.price * G / 3600.0 / out["throughput_items_per_s"]
    # the floor: the whole replica's FLOPs and bytes at its G GPUs' peak, no collective
    out["floor_s"] = np.maximum(out["flops"] / (P * G), out["bytes"] / (BW * G))
    out.update(cfg_mode=mode, role=role, peak_flops=P, bandwidth=BW, gpus=G + 0 * out["latency_s"], parallelism=label)
    return out


def _ar(cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role, tp, link) -> dict:
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
    wread = physics.weight_read_bytes(cfg.precision)
    kv = physics.KV_DTYPE_BYTES[cfg.kv_dtype]
    prefill_s, prefill_flops, prefill_comm = physics.ar_prefill_time(
        arch, P, BW, eff, wread, n_seq, prefill_tokens, passes, tp, link, kv
    )
    decode_s, compute_s, memory_s, decode_comm = physics.ar_decode_time(
        arch, P, BW, eff, wread, n_seq, prefill_tokens, n_forwards, k, verify, passes, tp, link, kv
    )
    mem = physics.ar_memory(m, wbytes, n_seq, prefill_tokens + generated, tp, kv)
    # the whole replica's work: compute_s and memory_s are one GPU's share of it; the floor counts the packed weight
    # bytes each forward reads, not their slower-kernel equivalent
    flops = prefill_flops + compute_s * P * eff.mfu * tp
    bytes_ = memory_s * BW * eff.mbu * tp - passes * n_forwards * arch.matmul_params_b * 1e9 * (wread - wbytes)
    return {
        "latency_s": prefill_s + decode_s,
        "breakdown_s": {"prefill": prefill_s, "decode": decode_s},
        "breakdown_precision": {"prefill": cfg.precision, "decode": cfg.precision},
        "bound": np.where(compute_s >= memory_s, "compute", "memory"),
        # compute_s and memory_s already count both passes of unbatched CFG
        "overhead_bound": decode_s - decode_comm > np.maximum(compute_s, memory_s) * OVERHEAD_BOUND_FACTOR,
        "communication_s": prefill_comm + decode_comm,
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


def _diffusion(
    cfg, m, P, BW, eff, wbytes, batch, branches, passes, width, height, role, P_attn, cfg_degree, sp, link, l2, gemms
) -> dict:
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
    gpus = cfg_degree * sp
    seq = latent + (m.denoiser.joint_text_tokens or 0)
    # per forward: Ulysses all-to-alls within each CFG group, and the guidance all-gather between the groups
    items_per_gpu = n_items / cfg_degree
    comm = physics.sequence_parallel_comm_s(m, items_per_gpu, seq, sp, link) + physics.cfg_parallel_comm_s(
        m, items_per_gpu, latent, cfg_degree, link
    )
    # attention kernels stay 16-bit whatever the weight format (SDPA / flash attention in bf16 or fp16): P_attn
    act = physics.denoiser_activation_elems(m, latent, pw, ph)
    # measured GEMM tables, where the chip has one: one GPU's share of the rows (items or tokens)
    linear_s = physics.denoiser_gemm_s(m, gemms, n_items / gpus, seq, pw, ph) if gemms is not None else None
    step_s, compute, memory = physics.diffusion_step_time(
        m,
        P,
        BW,
        eff,
        physics.weight_read_bytes(cfg.precision),
        n_items,
        linear,
        attn,
        P_attn,
        gpus,
        comm,
        act,
        l2,
        linear_s,
    )
    denoise_s = passes * steps * step_s
    # --precision is the denoiser's: the text encoders and the VAE run 16-bit (P_attn, the 16-bit rate), as in
    # MLPerf Inference's int8/fp8 SDXL, which quantises the UNet's linear and conv layers only
    text_s = physics.text_encoder_time(m, P_attn, BW, eff, batch * (2.0 if branches * passes > 1 else 1.0))
    vae_s, vae_flops = physics.vae_decode_time(m, P_attn, eff, batch, pw, ph, frames)
    request_s = eff.request_fixed_s + 0 * denoise_s
    mem = physics.diffusion_memory(m, wbytes, n_items, seq, pw, ph, gpus)
    flops = passes * steps * n_items * per_item + vae_flops
    bytes_ = passes * steps * m.denoiser.params_b * 1e9 * wbytes * gpus + 0 * flops  # every GPU reads all weights
    return {
        "latency_s": text_s + denoise_s + vae_s + request_s,
        "breakdown_s": {
            "text_encoders": text_s + 0 * denoise_s,
            "denoise": denoise_s,
            "vae_decode": vae_s + 0 * denoise_s,
            "pipeline": request_s,
        },
        "breakdown_precision": {
            "text_encoders": SIXTEEN_BIT,
            "denoise": cfg.precision,
            "vae_decode": SIXTEEN_BIT,
        },
        "bound": np.where(compute >= memory, "compute", "memory"),
        "overhead_bound": step_s - comm > np.maximum(compute, memory) * OVERHEAD_BOUND_FACTOR,
        "communication_s": passes * steps * comm + 0 * denoise_s,
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


def text_decode_s(
    arch: Architecture,
    hw: HardwarePreset,
    profiles: Mapping[str, EngineProfile],
    engine: str,
    precision: str,
    prompt_tokens: float,
    generated_tokens: float,
    batch: float = 1,
    gpus: int = 1,
    band: Band = "central",
    kv_dtype: str = "bf16",
):
    """Seconds for a text-only decoder ``arch`` (no visual tokenizer) to prefill ``prompt_tokens`` and to decode
    ``generated_tokens`` more for ``batch`` sequences on ``gpus`` x ``hw`` (tensor parallel), as (prefill, decode):
    the formulas of an AR model's estimate, for published LLM decode figures with no image-model preset
    (``tokcost validate``)."""
    G = int(gpus)
    problem = domain_problem(hw, G) or tensor_parallel_problem("this decoder", arch, G)
    if problem:
        raise UsageError(problem)
    profile = profiles[engine]
    eff = efficiency(profile, hw, band, None, profiles.get("eager"), host_speed=host_speed(hw))
    P, BW = physics.peak_flops(hw, precision), hw.bandwidth_tbps * 1e12
    link = scale_up_link(hw)
    wread = physics.weight_read_bytes(precision)
    kv = physics.KV_DTYPE_BYTES[kv_dtype]
    prefill, _, _ = physics.ar_prefill_time(arch, P, BW, eff, wread, batch, prompt_tokens, 1, G, link, kv)
    decode, _, _, _ = physics.ar_decode_time(
        arch, P, BW, eff, wread, batch, prompt_tokens, generated_tokens, 1, 1, 1, G, link, kv
    )
    return prefill, decode  # arrays when the profiles hold arrays (the fit's trial values)


# ------------------------------------------------------------------------------------------- notes

DENOISER_NAMES = {"unet": "UNet", "dit": "DiT", "mmdit": "MMDiT", "linear-dit": "linear-attention DiT"}


def precision_note(model: ModelPreset, precision: str) -> str | None:
    """What ``precision`` applies to, when it is not 16-bit: the denoiser's (or the AR decoder's) linear and conv
    layers only, as MLPerf Inference's int8/fp8 SDXL quantises them; text encoders, the VAE and attention stay
    16-bit (``breakdown_precision``)."""
    if precision in ("bf16", "fp16", "fp32"):
        return None
    if model.family == "ar":
        return (
            f"{precision} applies to the decoder's linear layers only; attention runs 16-bit and the KV cache keeps "
            "its own type (kv_dtype)"
        )
    part = DENOISER_NAMES[model.denoiser.kind] if model.denoiser is not None else "denoiser"
    encoders = ", ".join(e.name for e in model.text_encoders) or "none"
    return (
        f"{precision} applies to the {part}'s linear and conv layers only; its attention, the text encoders "
        f"({encoders}) and the VAE run {SIXTEEN_BIT}"
    )


# ------------------------------------------------------------------------------------------- calibrated bands


def error_family(model: ModelPreset, role: str, gpus: int) -> str:
    """The validation family whose held-out errors calibrate this estimate's band."""
    if gpus > 1:
        return "multi-gpu"
    if role == "video":
        return "video"
    return "ar" if model.family == "ar" else "diffusion-image"


def calibrated_band(
    central: float, low: float, high: float, band: ErrorBand | None, floor: float = 0.0
) -> tuple[float, float]:
    """A latency band widened to cover the model's own error (the tokcost/data/error_bands.yaml percentiles of
    its family's held-out errors): never narrower than the parameter band (``low``-``high``), at least
    central x exp(band.low) to central x exp(band.high), and never below the roofline ``floor``."""
    if band is None:
        return low, high
    return min(low, max(floor, central * math.exp(band.low))), max(high, central * math.exp(band.high))


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
