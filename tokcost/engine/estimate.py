"""Price one configuration, or a whole grid of them at once: tokens -> latency, memory, throughput, cost.

:func:`estimate_arrays` is the vectorised core used by sweeps and the planner; :func:`estimate` wraps it for
one configuration and adds the low-high band.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from tokcost.engine import physics
from tokcost.engine.collectives import replica_collectives
from tokcost.engine.config import Config
from tokcost.engine.families import FAMILIES, Work, family_of
from tokcost.engine.families.ar import attention_s_per_token, cache_reads
from tokcost.engine.kernels import ar_attention
from tokcost.engine.physics import tensor_parallel_problem
from tokcost.engine.profiles import BANDS, Band, Efficiency, attention_problem, efficiency
from tokcost.engine.result import EngineResult
from tokcost.errors import UsageError
from tokcost.records.engines import EngineProfile, ErrorBand
from tokcost.records.families import label
from tokcost.records.kernels import ChipKernels
from tokcost.records.presets import Architecture, DecoderPasses, HardwarePreset, KVCacheReads, ModelPreset


def resolve_role(cfg: Config) -> str:
    role = cfg.role or ("video" if cfg.frames not in (None, 1) and "video" in cfg.model.roles else cfg.model.roles[0])
    if role not in cfg.model.roles:
        raise UsageError(f"{cfg.model.id} does not serve {role} (it serves: {', '.join(cfg.model.roles)})")
    return role


def _engine(cfg: Config) -> EngineProfile:
    profile = cfg.profiles.get(cfg.engine)
    if profile is None:
        raise UsageError(f"unknown engine {cfg.engine!r}; choose from {', '.join(cfg.profiles)}")
    if not profile.runs(cfg.model.family):
        others = " or ".join(e for e, p in cfg.profiles.items() if p.runs(cfg.model.family) and not p.superseded_by)
        raise UsageError(
            f"engine {cfg.engine!r} serves {' and '.join(label(f) for f in profile.serves)} models only; "
            f"{cfg.model.id} is a {label(cfg.model.family)} model (use {others})"
        )
    return profile


def _cfg_mode(cfg: Config) -> str:
    return cfg.cfg if cfg.cfg is not None else engine_cfg_mode(cfg.model, cfg.engine)


def engine_cfg_mode(model: ModelPreset, engine: str) -> str:
    """The model's own CFG mode, except that an optimised engine batches the two branches of a reference decoder
    that runs them as separate passes (what LlamaGen's vLLM server and any batched server do), unless every engine
    runs the model's own loop (``loop_keeps_cfg``: a diffusion pipeline around a compiled denoiser)."""
    fam = family_of(model)
    mode = fam.cfg_mode(model)
    return "batched" if mode == "unbatched" and engine != "eager" and not fam.loop_keeps_cfg else mode


@dataclass(frozen=True)
class _Chip:
    """What the formulas need of the hardware (and the efficiency band on it): scalars for one chip, or column
    arrays that price a stack of chips x bands in one pass (:func:`estimate_grid`)."""

    eff: Efficiency
    P: object  # dense FLOP/s at the precision
    P_attn: object  # FLOP/s of the fused attention kernels, in the pipeline's 16-bit type (physics.pipeline_dtype)
    P_text: object  # FLOP/s of the text encoders, in the pipeline's 16-bit type (physics.pipeline_dtype)
    P_vae: object  # FLOP/s of the VAE's convolutions, in its type (physics.vae_dtype)
    score_rate: object  # scores/s through the attention softmax's own work (inf: not known; physics.softmax_rate)
    head_step: object  # head-dim step of SDPA's attention kernel on the chip (physics.flash_head_step)
    BW: object  # bytes/s
    usable_bytes: object  # memory one GPU may fill
    price: object  # USD per GPU-hour (NaN: no price)
    link_latency_s: object  # one small collective on the scale-up link (NaN: no link in the preset)
    link_busbw: object  # bytes/s a large collective moves per GPU (NaN: no link)
    link_send: object  # bytes/s of one send between two GPUs of the link (NaN: no link)
    link_gpus: object  # GPUs the link joins; a larger replica crosses the PCIe fabric (inf: none beyond it)
    pcie_latency_s: object  # one small collective over the server's PCIe fabric (NaN: none beyond the link)
    pcie_busbw: object  # bytes/s a large collective moves per GPU over it (NaN: none)
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
    # attention and the text encoders run in the pipeline's 16-bit type: an fp16 run on a V100 or T4 uses their fp16
    # tensor cores
    sixteen_bit = physics.peak_flops(hw, physics.pipeline_dtype(cfg.precision))
    return _Chip(
        eff=efficiency(
            profile, hw, band, cfg.calibration, cfg.profiles.get("eager"), cfg.attention, host_speed(hw, cfg.host_speed)
        ),
        P=physics.peak_flops(hw, cfg.precision),
        P_attn=sixteen_bit,
        P_text=sixteen_bit,
        P_vae=physics.vae_peak_flops(hw, cfg.model.vae, cfg.precision, cfg.vae_precision),
        score_rate=physics.softmax_rate(hw.exp_tops, hw.dense_tflops.fp32, cfg.attention_kernel),
        head_step=physics.flash_head_step(hw),
        BW=hw.bandwidth_tbps * 1e12,
        usable_bytes=hw.memory_gb * 1e9 * profile.usable_memory_fraction,
        price=cfg.prices.get(hw.id, np.nan),
        **link_figures(hw),
        **_l2(hw),
    )


def l2_figures(hw: HardwarePreset) -> tuple[float, float, float]:
    """The chip's measured element-wise kernels in L2 (:class:`~tokcost.records.presets.L2Cache`) in SI units, as
    :func:`~tokcost.engine.physics.elementwise_s` takes them: (resident bytes, in-cache bytes/s, seconds per
    kernel); without a measurement, no cache and no start cost: the traffic is priced at the memory bandwidth."""
    if hw.l2 is None:
        return 0.0, np.inf, 0.0
    return hw.l2.resident_mb * 1e6, hw.l2.bandwidth_tbps * 1e12, hw.l2.kernel_start_us * 1e-6


def _l2(hw: HardwarePreset) -> dict:
    return dict(zip(("l2_resident", "l2_bw", "kernel_start_s"), l2_figures(hw)))


def scale_up_link(hw: HardwarePreset) -> tuple[float, float]:
    """(seconds of one small collective, bytes/s a large one moves per GPU) on the chip's scale-up link, from its
    preset's ``scale_up``; NaN without one (a replica of one GPU never reads them)."""
    if hw.scale_up is None:
        return np.nan, np.nan
    return hw.scale_up.latency_us * 1e-6, hw.scale_up.busbw_gbps * 1e9


def pcie_link(hw: HardwarePreset) -> tuple[float, float]:
    """(seconds of one small collective, bytes/s of a large one per GPU) over the server's PCIe fabric beyond the
    chip's scale-up link (``scale_up.pcie``: two NVLink-bridged pairs talk over PCIe); NaN where the preset has none."""
    if hw.scale_up is None or hw.scale_up.pcie is None:
        return np.nan, np.nan
    return hw.scale_up.pcie.latency_us * 1e-6, hw.scale_up.pcie.busbw_gbps * 1e9


LINK_FIGURES = ("link_latency_s", "link_busbw", "link_send", "link_gpus", "pcie_latency_s", "pcie_busbw")


def link_figures(hw: HardwarePreset) -> dict[str, float]:
    """What joins a replica of the chip (:data:`LINK_FIGURES`, as :class:`_Chip` holds them): its scale-up link
    (:func:`scale_up_link`, :func:`scale_up_send`), the GPUs that link joins where a PCIe fabric extends it (inf:
    nothing does) and that fabric (:func:`pcie_link`)."""
    up = hw.scale_up
    link_gpus = up.gpus if up is not None and up.pcie is not None else np.inf
    return dict(zip(LINK_FIGURES, (*scale_up_link(hw), scale_up_send(hw), link_gpus, *pcie_link(hw))))


def replica_link(gpus, figures) -> tuple[tuple[object, object], object]:
    """((latency s, busbw bytes/s), send bytes/s) of replicas of ``gpus`` GPUs of a chip whose :func:`link_figures`
    ``figures`` holds (a mapping of them, scalars or columns): its scale-up link's, or its PCIe fabric's beyond the
    link's GPUs (where a ring's sends move at the fabric's bus bandwidth: no send figure is sourced for it)."""
    beyond = np.asarray(gpus) > figures["link_gpus"]
    if not np.any(beyond):
        return (figures["link_latency_s"], figures["link_busbw"]), figures["link_send"]

    def pick(pcie: str, link: str):
        return np.where(beyond, np.asarray(figures[pcie]), np.asarray(figures[link]))

    return (pick("pcie_latency_s", "link_latency_s"), pick("pcie_busbw", "link_busbw")), pick("pcie_busbw", "link_send")


def scale_up_send(hw: HardwarePreset) -> float:
    """Bytes/s of one send and receive between two GPUs on the chip's scale-up link (ring attention's): its preset's
    ``scale_up.send_gbps``, else the link's bus bandwidth; NaN without a link."""
    if hw.scale_up is None:
        return np.nan
    return (hw.scale_up.send_gbps or hw.scale_up.busbw_gbps) * 1e9


PARALLELISMS = tuple(dict.fromkeys(p for f in FAMILIES.values() for p in f.parallelisms))


def replica_problem(
    model: ModelPreset,
    hw: HardwarePreset,
    gpus: int,
    parallelism: str | None = None,
    cfg_mode=None,
    ring: int | None = None,
):
    """Why ``model`` cannot run as one replica of ``gpus`` x ``hw`` split by ``parallelism`` (None: its family's
    default) with rings of ``ring`` GPUs (None: its family's choice), or None. ``cfg_mode`` is the guidance mode
    priced (batched: two branches)."""
    G = int(gpus)
    if G == 1:
        if ring is not None and ring > 1:
            return f"a ring of {ring} GPUs needs a replica of at least {ring} GPUs"
        return None if parallelism in (None, "none") else f"parallelism {parallelism} needs more than one GPU"
    if parallelism not in (None, *PARALLELISMS):
        return f"unknown parallelism {parallelism!r}; choose from {', '.join(PARALLELISMS)}"
    problem = domain_problem(hw, G)
    if problem:
        return problem
    return family_of(model).replica_problem(model, G, parallelism, cfg_mode, ring)


def domain_problem(hw: HardwarePreset, gpus: int) -> str | None:
    """Why ``hw`` cannot join ``gpus`` GPUs into one replica (no scale-up link, or more than one server), or None."""
    if gpus == 1:
        return None
    if hw.scale_up is None:
        return f"{hw.id} has no scale-up link in its preset: a replica is one GPU"
    domain, joined_by = hw.scale_up.gpus, str(hw.scale_up.link)
    if hw.scale_up.pcie is not None:
        domain, joined_by = hw.scale_up.pcie.gpus, f"{hw.scale_up.link} pairs on PCIe"
    if gpus > domain:
        return (
            f"{gpus} GPUs exceed {hw.id}'s scale-up domain of {domain} GPUs (one server's {joined_by}); "
            "splitting a replica across servers is out of scope for serving"
        )
    return None


def _check_replica(cfg: Config, mode: str) -> None:
    for G in np.flatnonzero(np.bincount(np.asarray(cfg.gpus, dtype=int).ravel())):  # the sizes (np.unique: numpy.ma)
        problem = replica_problem(cfg.model, cfg.hardware, int(G), cfg.parallelism, mode, cfg.ring)
        if problem:
            raise UsageError(problem)


def estimate_arrays(cfg: Config, band: Band = "central") -> EngineResult:
    """Vectorised estimate: every numeric field of ``cfg`` may be an array; returns arrays (seconds, bytes)."""
    profile = _engine(cfg)
    _check_replica(cfg, _cfg_mode(cfg))
    problem = attention_problem(cfg.hardware, cfg.attention_kernel)
    if problem:
        raise UsageError(problem)
    chip = _chip(cfg, cfg.hardware, profile, band)
    return _estimate(cfg, profile, chip, np.asarray(cfg.batch, dtype=float), cfg.gpus, ((True, cfg.hardware),))


def estimate_grid(
    cfg: Config, hardware: list[HardwarePreset], bands=BANDS, gpus=(1,)
) -> dict[tuple[str, str, int], EngineResult]:
    """:func:`estimate_arrays` of ``cfg`` on each of ``hardware`` (``cfg.hardware`` is not used) at each band and
    each replica size of ``gpus`` that the model and the chip allow (:func:`replica_problem`, default layout), in
    one vectorised pass: chips x bands x sizes along a leading axis, ``cfg.batch`` (a scalar or a 1-D array)
    along the other. Returns ``{(hardware id, band, gpus): result}``; in each result every number is an array over
    the batches; a size a chip cannot hold is absent, as is a chip that cannot run the attention kernel."""
    keys, full = estimate_stack(cfg, hardware, bands, gpus)
    return {} if full is None else {key: full.take(k) for k, key in enumerate(keys)}


_CHIP_FIGURES = tuple(f.name for f in dataclasses.fields(_Chip) if f.name != "eff")
_EFFICIENCY_FIGURES = tuple(f.name for f in dataclasses.fields(Efficiency))


def estimate_stack(
    cfg: Config, hardware: list[HardwarePreset], bands=BANDS, gpus=(1,), chips: dict | None = None
) -> tuple[list[tuple[str, str, int]], EngineResult | None]:
    """:func:`estimate_grid` as one stacked result: ``(keys, result)``, ``keys[k]`` the (hardware id, band, gpus)
    of row ``k``; every number of ``result`` an array of shape (rows, batches) (None: no row). ``chips``: a store
    a caller keeps over its calls with the same presets (a plan prices every model on the same chips), so that
    each chip's figures under an engine, band and the settings are worked out once."""
    profile = _engine(cfg)
    mode = _cfg_mode(cfg)
    kernel = cfg.attention_kernel
    triples = [
        (hw, b, G)
        for hw in hardware
        if attention_problem(hw, kernel) is None
        for G in gpus
        if replica_problem(cfg.model, hw, G, cfg.parallelism, mode, cfg.ring) is None
        for b in bands
    ]
    if not triples:
        return [], None
    store: dict = {} if chips is None else chips
    # what a chip's figures depend on besides the chip and the band: objects by identity, each entry holding
    # them, so that no identity is reused while the store lives
    eager = cfg.profiles.get("eager")
    vae = physics.vae_dtype(cfg.model.vae, cfg.precision, cfg.vae_precision)  # P_vae follows the VAE's type
    settings = (id(profile), cfg.precision, vae, cfg.attention, cfg.host_speed, id(cfg.calibration), id(eager))
    once: dict[tuple[str, str], int] = {}  # a chip's figures are the same for every replica size
    table: list[list] = []
    for hw, b, _ in triples:
        if (hw.id, b) in once:
            continue
        once[(hw.id, b)] = len(table)
        key = (*settings, id(hw), b, cfg.prices.get(hw.id))
        if key not in store:
            c = _chip(cfg, hw, profile, b)
            row = [getattr(c, f) for f in _CHIP_FIGURES] + [getattr(c.eff, f) for f in _EFFICIENCY_FIGURES]
            store[key] = (row, (profile, hw, cfg.calibration, eager))
        table.append(store[key][0])

    def column(values) -> np.ndarray:
        return np.asarray(values, dtype=float)[:, None]

    # every figure of every chip x band once (None: NaN), then one row per triple
    figures = np.ascontiguousarray(np.array(table, dtype=float)[[once[(hw.id, b)] for hw, b, _ in triples]].T)
    figures.flags.writeable = False  # the columns below share it
    stacked = _Chip(
        **{f: figures[j][:, None] for j, f in enumerate(_CHIP_FIGURES)},
        eff=Efficiency(**{f: figures[len(_CHIP_FIGURES) + j][:, None] for j, f in enumerate(_EFFICIENCY_FIGURES)}),
    )
    batch = np.atleast_1d(np.asarray(cfg.batch, dtype=float))[None, :]
    ids = {hw.id: hw for hw, _, _ in triples}
    rows = tuple((column([h.id == i for h, _, _ in triples]) > 0, hw) for i, hw in ids.items())
    out = _estimate(cfg, profile, stacked, batch, column([G for _, _, G in triples]), rows)
    shape = (len(triples), batch.shape[1])
    full = out.map_arrays(lambda a: np.broadcast_to(a, shape).copy())  # every number over the whole grid
    return [(hw.id, b, G) for hw, b, G in triples], full


def _split(model: ModelPreset, gpus, parallelism: str | None, mode: str, ring: int | None = None):
    """(CFG degree, the other degree: tensor- or sequence-parallel, GPUs per ring within it, label) per replica
    size, vectorised over ``gpus`` (sizes already checked by :func:`replica_problem`); a sequence split in rings
    says so in its label, "sp (ring 2)"."""
    fam = family_of(model)
    cfg_degree, split, rings = fam.split(model, np.asarray(gpus, dtype=float), parallelism, mode, ring)
    labels = fam.parallelism_labels[(cfg_degree > 1).astype(int), (split > 1).astype(int)]
    if np.any(rings > 1):
        suffix = np.char.add(np.char.add(" (ring ", rings.astype(int).astype(str)), ")")
        labels = np.where(rings > 1, np.char.add(labels, suffix), labels)
    return cfg_degree, split, rings, labels  # one label for one replica size, an array of them for several


def _estimate(cfg: Config, profile: EngineProfile, chip: _Chip, batch: np.ndarray, gpus, chips: tuple) -> EngineResult:
    """``chips``: which hardware preset each row prices, as :class:`~tokcost.engine.families.Work` carries it."""
    m = cfg.model
    eff, P, BW = chip.eff, chip.P, chip.BW
    wbytes = physics.WEIGHT_BYTES[cfg.precision]  # memory; the time to read them: physics.weight_read_bytes
    role = resolve_role(cfg)
    mode = _cfg_mode(cfg) if role != "perception" else "off"
    branches = 2.0 if mode == "batched" else 1.0
    passes = 2.0 if mode == "unbatched" else 1.0
    native = m.generation.native_size(m)
    width = cfg.width if cfg.width is not None else native[0]
    height = cfg.height if cfg.height is not None else native[1]
    G = np.asarray(gpus, dtype=float)
    cfg_degree, split, rings, label = _split(m, G, cfg.parallelism, mode, cfg.ring)
    link, send = replica_link(G, {f: getattr(chip, f) for f in LINK_FIGURES})
    work = Work(
        cfg=cfg,
        model=m,
        eff=eff,
        P=P,
        P_attn=chip.P_attn,
        P_text=chip.P_text,
        P_vae=chip.P_vae,
        score_rate=chip.score_rate,
        head_step=chip.head_step,
        BW=BW,
        wbytes=wbytes,
        batch=batch,
        branches=branches,
        passes=passes,
        width=width,
        height=height,
        role=role,
        cfg_degree=cfg_degree,
        split=split,
        ring=rings,
        link=link,
        send=send,
        l2=(chip.l2_resident, chip.l2_bw, chip.kernel_start_s),
        chips=chips,
    )
    priced = family_of(m).price(work)
    total_mem = priced.memory.total
    throughput = batch / priced.latency_s
    return EngineResult(
        latency_s=priced.latency_s,
        breakdown_s=dict(priced.breakdown_s),
        breakdown_precision=dict(priced.breakdown_precision),
        bound=priced.bound,
        overhead_bound=priced.overhead_bound,
        communication_s=priced.communication_s,
        tokens=dict(priced.tokens),
        flops=priced.flops,
        bytes=priced.bytes,
        memory=priced.memory,
        fits_in_memory=total_mem <= chip.usable_bytes,
        throughput_items_per_s=throughput,
        # throughput is of the whole replica of G GPUs; each GPU-hour is paid
        cost_usd_per_item=chip.price * G / 3600.0 / throughput,
        # the floor: the whole replica's FLOPs and bytes at its G GPUs' peak, no collective
        floor_s=np.maximum(priced.flops / (P * G), priced.bytes / (BW * G)),
        padded_width=priced.padded_width,
        padded_height=priced.padded_height,
        steps=priced.steps,
        decode=priced.decode,
        cfg_mode=mode,
        role=role,
        peak_flops=np.asarray(P),
        bandwidth=np.asarray(BW),
        gpus=G + 0 * priced.latency_s,
        parallelism=label,
    )


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
    kernels: Callable[[str], ChipKernels | None] | None = None,
    launches_per_layer: float | None = None,
    kv_cache: KVCacheReads | None = None,
    enforce_eager: bool = False,
    decoder_passes: DecoderPasses | None = None,
):
    """Seconds for a text-only decoder ``arch`` (no visual tokenizer) to prefill ``prompt_tokens`` and to decode
    ``generated_tokens`` more for ``batch`` sequences on ``gpus`` x ``hw`` (tensor parallel), as (prefill, decode):
    the formulas of an AR model's estimate, for published LLM decode figures with no image-model preset
    (``tokcost validate``). ``kernels`` finds the chip's measured NCCL tables (as ``Config.kernels``).
    ``launches_per_layer``: the kernels the decoder's eager code launches per layer (its host time under an engine
    that launches every op, :func:`~tokcost.engine.physics.launch_scale`); None: the reference layer's.
    ``kv_cache``: how the decode loop's code reads its KV cache (:func:`~tokcost.engine.families.ar.cache_reads`,
    whatever the engine: the caller names the code the run used), and with which kernel
    (:func:`~tokcost.engine.families.ar.attention_s_per_token`); None: one read of the tokens so far.
    ``enforce_eager``: an engine whose CUDA graphs replay some decode steps (``decode_graphs``) ran with none, so
    every step runs eager at its fitted host time per layer. ``decoder_passes``: the element-wise passes of the
    decoder's layers in the prefill (:func:`~tokcost.engine.physics.decoder_elementwise_s`); None: none priced."""
    G = int(gpus)
    problem = domain_problem(hw, G) or tensor_parallel_problem("this decoder", arch, G)
    if problem:
        raise UsageError(problem)
    profile = profiles[engine]
    eff = efficiency(profile, hw, band, None, profiles.get("eager"), host_speed=host_speed(hw))
    if enforce_eager:
        if profile.decode_graphs is None or profile.eager_host_per_layer_s is None:
            raise UsageError(
                f"enforce_eager is priced only for an engine whose eager steps are fitted (decode_graphs in "
                f"engines.yaml: vllm-0.4, vllm-0.7); {engine} has none"
            )
        eff = dataclasses.replace(eff, graph_max_context=0.0)  # no step is replayed: each is eager beyond 0 tokens
    P, BW = physics.peak_flops(hw, precision), hw.bandwidth_tbps * 1e12
    comm = replica_collectives(kernels, ((True, hw),), replica_link(G, link_figures(hw))[0], G, profile.all_reduce)
    wread = physics.decode_weight_bytes(precision, eff)
    kv = physics.KV_DTYPE_BYTES[kv_dtype]
    host = 1.0 if launches_per_layer is None else physics.launch_scale(launches_per_layer, eff)
    kv_passes, kv_static = cache_reads(kv_cache, prompt_tokens + generated_tokens)
    P16 = physics.peak_flops(hw, physics.pipeline_dtype(precision))
    attn_s_per_token = attention_s_per_token(kv_cache, arch, P16, batch, G)
    kv_rate, attn = ar_attention(
        kernels,
        ((True, hw),),
        profile.attention_kernels,
        arch,
        batch,
        prompt_tokens,
        generated_tokens,
        G,
        kv,
        BW * eff.mbu,
    )
    act_s = physics.decoder_elementwise_s(
        arch, decoder_passes, eff, batch * prompt_tokens, G, BW, l2_figures(hw), profile.decoder_passes
    )
    prefill, _, _ = physics.ar_prefill_time(
        arch, P, BW, eff, wread, batch, prompt_tokens, 1, G, comm, kv, host, attn_s=attn, act_s=act_s
    )
    decode, _, _, _ = physics.ar_decode_time(
        arch,
        P,
        BW,
        eff,
        wread,
        batch,
        prompt_tokens,
        generated_tokens,
        1,
        1,
        1,
        G,
        comm,
        kv,
        host,
        kv_passes=kv_passes,
        kv_static=kv_static,
        kv_rate=kv_rate,
        attn_s_per_token=attn_s_per_token,
    )
    return prefill, decode  # arrays when the profiles hold arrays (the fit's trial values)


# ------------------------------------------------------------------------------------------- notes


def precision_note(model: ModelPreset, precision: str, vae_precision: str | None = None) -> str | None:
    """What ``precision`` applies to, when it is not 16-bit: the network that runs every pass, its linear (and
    conv) layers only, as MLPerf Inference's int8/fp8 SDXL quantises them (``breakdown_precision``); in 16 bits,
    only a VAE decoded in fp32 (``vae_precision`` not chosen) is worth a note: the model's own type (the preset's
    ``vae.dtype``) or the pipeline's upcast."""
    if precision in ("bf16", "fp16", "fp32"):
        if vae_precision is None and model.vae is not None and model.vae.dtype == "fp32":
            return (
                "the VAE decodes in fp32 (TF32 convolutions where the GPU has them), the type the model's own "
                "pipelines load it in (the preset's vae.dtype); --vae-precision bf16 prices a 16-bit decode"
            )
        if vae_precision is None and physics.vae_dtype(model.vae, precision) == "fp32":
            return (
                "the VAE decodes in fp32 (TF32 convolutions where the GPU has them): diffusers upcasts an fp16 "
                "VAE whose config sets force_upcast, as SDXL's does (its activations overflow fp16); bf16, or "
                "--vae-precision fp16 for a 16-bit VAE such as madebyollin/sdxl-vae-fp16-fix, keeps it 16-bit"
            )
        return None
    return family_of(model).precision_note(model, precision, vae_precision)


def pricing_note(cfg: Config) -> str:
    """Which path priced ``cfg``'s operators (one chip): a measured kernel table (whose) or the sourced roofline
    (peak x efficiency), and why (its family's answer); under an engine that launches every op from the host, what
    a layer's launches cost it."""
    note = family_of(cfg.model).pricing_note(cfg)
    host = physics.host_note(cfg.model, cfg.profiles[cfg.engine])
    return f"{note}; {host}" if note and host else note or host


# ------------------------------------------------------------------------------------------- calibrated bands


def error_family(model: ModelPreset, role: str, gpus: int) -> str:
    """The validation family whose held-out errors calibrate this estimate's band."""
    if gpus > 1:
        return "multi-gpu"
    if role == "video":
        return "video"
    return model.generation.validation_family


def calibrated_band(
    central: float, low: float, high: float, band: ErrorBand | None, floor: float = 0.0
) -> tuple[float, float]:
    """A latency band widened to cover the model's own error (the tokcost/data/generated/error_bands.yaml band of
    its family's held-out errors): never narrower than the parameter band (``low``-``high``), at least
    central x exp(band.low) to central x exp(band.high), and never below the roofline ``floor``."""
    if band is None:
        return low, high
    return min(low, max(floor, central * math.exp(band.low))), max(high, central * math.exp(band.high))


# ------------------------------------------------------------------------------------------- one configuration


@dataclass
class Estimate:
    config: Config
    central: EngineResult
    low: EngineResult  # optimistic end of the band (lowest latency)
    high: EngineResult


def estimate(cfg: Config) -> Estimate:
    results = {b: estimate_arrays(cfg, b) for b in BANDS}
    return Estimate(cfg, results["central"], results["low"], results["high"])
