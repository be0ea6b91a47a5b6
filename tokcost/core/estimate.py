"""``tokcost estimate`` and ``tokcost train``: one configuration priced (an
:class:`~tokcost.records.estimate.EstimateResult`), one training run costed (a
:class:`~tokcost.records.training.TrainResult`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from tokcost.core.pricing import price_book
from tokcost.engine.estimate import (
    Config,
    calibrated_band,
    error_family,
    estimate,
    host_speed,
    precision_note,
    pricing_note,
)
from tokcost.engine.families import context_problem, family_of
from tokcost.engine.result import MemoryRow
from tokcost.engine.training import training_report
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import REFERENCE_ENGINE, engine_problem, error_band, load_engines
from tokcost.io.kernel_tables import hardware_kernels
from tokcost.io.prices import load_prices
from tokcost.records.engines import EngineProfile
from tokcost.records.estimate import EstimateRequest, EstimateResult, LowHigh
from tokcost.records.presets import Architecture, ModelPreset
from tokcost.records.training import TrainResult


def estimate_one(
    catalog: Catalog,
    request: EstimateRequest,
    *,
    calibration=None,
    prices: Mapping[str, float] | None = None,
    today: dt.date | None = None,
    decoder: Architecture | None = None,
) -> EstimateResult:
    """Price one configuration; ``calibration`` is a loaded calibration (or None), whose measured device serves
    when ``request.hardware`` is None; ``prices`` are ``--price`` overrides (hardware id -> USD per GPU-hour).
    ``decoder`` (read from ``request.architecture``) replaces the AR model's decoder: a model with no preset,
    priced with ``request.model``'s visual tokenizer and sampling, and refused when it does not fit the replica's
    memory."""
    r = request
    m = catalog.model(r.model)
    if decoder is not None:
        m = with_decoder(m, r.architecture or "config.json", decoder)
    if r.hardware is None:
        if calibration is None:
            raise UsageError("give a hardware id, or a calibration to use its measured device", param="hardware")
        hw = calibration.hardware_preset(catalog)
    else:
        hw = catalog.hardware(r.hardware)
    if r.frames not in (None, 1) and "video" not in m.roles:
        raise UsageError(f"{m.id} does not generate video: give no frames", param="frames")
    if r.vae_precision is not None and m.vae is None:
        raise UsageError(f"{m.id} has no VAE decode priced: give no vae_precision", param="vae_precision")
    if r.autocast and "autocast" not in family_of(m).pipeline_options:
        raise UsageError(
            f"{m.id}'s pricing reads no autocast ({m.family}): give no autocast, which prices the unfused attention "
            "of a 16-bit diffusion pipeline run under torch.autocast",
            param="autocast",
        )
    given = {
        "tokens_per_forward": r.tokens_per_forward != 1.0,
        "draft_tokens": r.draft_tokens is not None,
        "kv_dtype": r.kv_dtype != "bf16",
        "answer_tokens": r.answer_tokens is not None,
    }
    unread = [option for option, set_ in given.items() if set_ and option not in family_of(m).decode_options]
    if unread:
        raise UsageError(f"{m.id} decodes no token sequence step by step: give no {unread[0]}", param=unread[0])
    if r.answer_tokens is not None and "perception" not in m.roles:
        raise UsageError(
            f"{m.id} answers no questions (it serves: {', '.join(m.roles)}): give no answer_tokens",
            param="answer_tokens",
        )
    profiles = load_engines()
    engine = r.engine or REFERENCE_ENGINE
    problem = engine_problem(engine, profiles)
    if problem:
        raise UsageError(problem, param="engine")
    book = price_book([hw], load_prices(), overrides=prices)
    native = m.generation.native_size(m)
    defaults: dict[str, str | int] = {}
    if r.engine is None:
        defaults["engine"] = engine
    if r.width is None:
        defaults["width"] = native[0]
    if r.height is None:
        defaults["height"] = native[1]
    default_steps = m.generation.default_steps(m)
    if r.steps is None and default_steps is not None:
        defaults["steps"] = default_steps
    est = estimate(
        Config(
            model=m,
            hardware=hw,
            profiles=profiles,
            engine=engine,
            precision=r.precision,
            vae_precision=r.vae_precision,
            width=r.width,
            height=r.height,
            frames=r.frames,
            batch=r.batch,
            steps=r.steps,
            cfg=r.cfg,
            tokens_per_forward=r.tokens_per_forward,
            verify_tokens=r.draft_tokens,
            prompt_tokens=r.prompt_tokens,
            answer_tokens=r.answer_tokens,
            gpus=r.gpus,
            parallelism=r.parallelism,
            ring=r.ring_degree,
            attention=r.attention,
            autocast=r.autocast,
            kv_dtype=r.kv_dtype,
            host_speed=r.host,
            calibration=calibration,
            prices=book.usd_per_gpu_hour(),
            kernels=hardware_kernels,
        )
    )
    c, lo, hi = est.central.row(0), est.low.row(0), est.high.row(0)  # one configuration
    if decoder is not None and not c.fits_in_memory:
        raise_memory_shortfall(c.memory, hw.memory_gb, profiles[engine], r.gpus)
    tokens = c.tokens
    problem = context_problem(m, tokens)
    if problem:  # blame the option that made the sequence long: a given prompt as long as the output, else the size
        prompt_led = r.prompt_tokens is not None and float(tokens["prompt"]) >= float(tokens["generated"])
        raise UsageError(problem, param="prompt_tokens" if prompt_led else "frames" if r.frames else "width")

    # the latency band widened to the model's own held-out error on its family; throughput and cost follow it
    lat = c.latency_s
    lat_lo, lat_hi = calibrated_band(
        lat, lo.latency_s, hi.latency_s, error_band(error_family(m, c.role, r.gpus)), c.floor_s
    )
    cost = c.cost_usd_per_item
    quote = book.quote(hw.id)
    priced = quote is not None
    return EstimateResult(
        model=m.id,
        family=m.family,
        hardware=hw.id,
        gpus=r.gpus,
        parallelism=c.parallelism,
        attention=(r.attention or profiles[engine].attention) if m.generation.attention_kernel else None,
        kv_dtype=r.kv_dtype if m.generation.kv_cache else None,
        autocast=r.autocast,
        host_speed=host_speed(hw, r.host),
        engine=engine,
        precision=r.precision,
        role=c.role,
        width=r.width or native[0],
        height=r.height or native[1],
        frames=r.frames,
        batch=r.batch,
        cfg=c.cfg_mode,
        steps=None if c.steps is None else int(c.steps),
        latency_s=lat,
        latency_s_band=LowHigh(low=lat_lo, high=lat_hi),
        throughput_items_per_s=c.throughput_items_per_s,
        # the fastest latency gives the highest throughput and the lowest cost
        throughput_items_per_s_band=LowHigh(low=r.batch / lat_hi, high=r.batch / lat_lo),
        cost_usd_per_item=cost if priced else None,
        cost_usd_per_item_band=LowHigh(low=cost * lat_lo / lat, high=cost * lat_hi / lat) if priced else None,
        bound=c.bound,
        overhead_bound=c.overhead_bound,
        floor_s=c.floor_s,
        breakdown_s=c.breakdown_s,
        breakdown_precision=c.breakdown_precision,
        communication_s=c.communication_s,
        tokens=tokens,
        memory_gb={k: v / 1e9 for k, v in c.memory.parts().items()},
        fits_in_memory=c.fits_in_memory,
        flops=c.flops,
        calibration=calibration.path if calibration is not None else None,
        fps=r.fps,
        price=quote,
        price_basis=book.basis,
        unpriced=book.unpriced.get(hw.id),
        stale_prices=book.stale([hw.id], today or dt.date.today()),
        defaults_applied=defaults,
        notes=[pricing_note(est.config), *[n for n in [precision_note(m, r.precision, r.vae_precision)] if n]],
        warnings=[n for n in [calibration.unused_note([hw.id])] if n] if calibration is not None else [],
    )


def with_decoder(base: ModelPreset, name: str, decoder: Architecture, label: str | None = None) -> ModelPreset:
    """``base`` (an AR preset: its visual tokenizer and sampling) with its decoder replaced by ``decoder``, read
    from the config ``name``, as ``label`` (default: ``BASE@FILE``). The decoder is not the preset's model, so
    none of the preset's published quality scores is its own, and whether its weights are released is unknown."""
    if "architecture" not in base.generation.requires:
        raise UsageError(
            f"a decoder config replaces an AR model's decoder; {base.id} is a {base.family} model", param="model"
        )
    return base.model_copy(
        update={
            "architecture": decoder,
            "id": label or f"{base.id}@{Path(name).name}",
            "name": f"{base.name}, decoder from {name}",
            "quality": {},
            "unreleased_roles": [],
        }
    )


def raise_memory_shortfall(memory: MemoryRow, memory_gb: float, profile: EngineProfile, gpus: int) -> None:
    """Refuse a decoder that does not fit: what one GPU of the replica needs, part by part, against what it holds."""
    parts = {k.replace("_", " "): v / 1e9 for k, v in memory.parts().items() if k != "total"}
    need = memory.total / 1e9
    fraction = profile.usable_memory_fraction
    raise UsageError(
        f"does not fit: each of the replica's {gpus} GPU(s) needs {need:,.1f} GB "
        f"({', '.join(f'{k} {v:,.1f}' for k, v in parts.items())}) but holds {memory_gb:,.1f} GB, "
        f"{memory_gb * fraction:,.1f} GB usable ({fraction:.0%}); give more GPUs or a larger GPU",
        param="architecture",
    )


def train_one(
    catalog: Catalog,
    *,
    model: str,
    hardware: str,
    prices: Mapping[str, float] | None = None,
    today: dt.date | None = None,
    **work,
) -> TrainResult:
    """Training compute, time and cost of ``model`` on ``hardware``, costed under the same price basis as
    ``estimate`` and ``analyze``; ``work`` is :func:`~tokcost.engine.training.training_report`'s keywords."""
    hw = catalog.hardware(hardware)
    book = price_book([hw], load_prices(), overrides=prices)
    quote = book.quote(hw.id)
    report = training_report(
        catalog.model(model), hw, usd_per_gpu_hour=quote.usd_per_gpu_hour if quote else None, **work
    )
    return report.model_copy(
        update={
            "price": quote,
            "price_basis": book.basis,
            "unpriced": book.unpriced.get(hw.id),
            "stale_prices": book.stale([hw.id], today or dt.date.today()),
        }
    )
