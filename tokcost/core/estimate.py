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
    to_float,
)
from tokcost.engine.tokens import context_problem
from tokcost.engine.training import training_report
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import REFERENCE_ENGINE, engine_problem, load_engines, load_error_bands
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
    profiles = load_engines()
    engine = r.engine or REFERENCE_ENGINE
    problem = engine_problem(engine, profiles)
    if problem:
        raise UsageError(problem, param="engine")
    book = price_book([hw], load_prices(), overrides=prices)
    native = (
        (m.tokenizer.native_width, m.tokenizer.native_height) if m.family == "ar" else (m.native.width, m.native.height)
    )
    defaults: dict[str, str | int] = {}
    if r.engine is None:
        defaults["engine"] = engine
    if r.width is None:
        defaults["width"] = native[0]
    if r.height is None:
        defaults["height"] = native[1]
    if r.steps is None and m.family == "diffusion":
        defaults["steps"] = m.diffusion.steps
    est = estimate(
        Config(
            model=m,
            hardware=hw,
            profiles=profiles,
            engine=engine,
            precision=r.precision,
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
            attention=r.attention,
            kv_dtype=r.kv_dtype,
            host_speed=r.host,
            calibration=calibration,
            prices=book.usd_per_gpu_hour(),
            kernels=hardware_kernels,
        )
    )
    c, lo, hi = est.central, est.low, est.high
    if decoder is not None and not bool(to_float(c["fits_in_memory"])):
        raise_memory_shortfall(c["memory_bytes"], hw.memory_gb, profiles[engine], r.gpus)
    tokens = {k: to_float(v) for k, v in c["tokens"].items()}
    problem = context_problem(m, tokens)
    if problem:
        raise UsageError(problem, param="frames" if r.frames else "width")

    # the latency band widened to the model's own held-out error on its family; throughput and cost follow it
    lat = to_float(c["latency_s"])
    lat_lo, lat_hi = calibrated_band(
        lat,
        to_float(lo["latency_s"]),
        to_float(hi["latency_s"]),
        load_error_bands().get(error_family(m, c["role"], r.gpus)),
        to_float(c["floor_s"]),
    )
    cost = to_float(c["cost_usd_per_item"])
    quote = book.quote(hw.id)
    priced = quote is not None
    return EstimateResult(
        model=m.id,
        family=m.family,
        hardware=hw.id,
        gpus=r.gpus,
        parallelism=str(c["parallelism"]),
        attention=(r.attention or profiles[engine].attention) if m.family == "diffusion" else None,
        kv_dtype=r.kv_dtype if m.family == "ar" else None,
        host_speed=host_speed(hw, r.host),
        engine=engine,
        precision=r.precision,
        role=c["role"],
        width=r.width or native[0],
        height=r.height or native[1],
        frames=r.frames,
        batch=r.batch,
        cfg=c["cfg_mode"],
        steps=None if c["steps"] is None else int(to_float(c["steps"])),
        latency_s=lat,
        latency_s_band=LowHigh(low=lat_lo, high=lat_hi),
        throughput_items_per_s=to_float(c["throughput_items_per_s"]),
        # the fastest latency gives the highest throughput and the lowest cost
        throughput_items_per_s_band=LowHigh(low=r.batch / lat_hi, high=r.batch / lat_lo),
        cost_usd_per_item=cost if priced else None,
        cost_usd_per_item_band=LowHigh(low=cost * lat_lo / lat, high=cost * lat_hi / lat) if priced else None,
        bound=str(to_float(c["bound"])),
        overhead_bound=bool(to_float(c["overhead_bound"])),
        floor_s=to_float(c["floor_s"]),
        breakdown_s={k: to_float(v) for k, v in c["breakdown_s"].items()},
        breakdown_precision=dict(c["breakdown_precision"]),
        communication_s=to_float(c["communication_s"]),
        tokens=tokens,
        memory_gb={k: to_float(v) / 1e9 for k, v in c["memory_bytes"].items()},
        fits_in_memory=bool(to_float(c["fits_in_memory"])),
        flops=to_float(c["flops"]),
        calibration=calibration.path if calibration is not None else None,
        fps=r.fps,
        price=quote,
        price_basis=book.basis,
        unpriced=book.unpriced.get(hw.id),
        stale_prices=book.stale([hw.id], today or dt.date.today()),
        defaults_applied=defaults,
        notes=[pricing_note(est.config), *[n for n in [precision_note(m, r.precision)] if n]],
        warnings=[n for n in [calibration.unused_note([hw.id])] if n] if calibration is not None else [],
    )


def with_decoder(base: ModelPreset, name: str, decoder: Architecture) -> ModelPreset:
    """``base`` (an AR preset: its visual tokenizer and sampling) with its decoder replaced by ``decoder``."""
    if base.family != "ar":
        raise UsageError(
            f"a decoder config replaces an AR model's decoder; {base.id} is a {base.family} model", param="model"
        )
    label = f"{base.id}@{Path(name).name}"
    return base.model_copy(update={"architecture": decoder, "id": label, "name": f"{base.name}, decoder from {name}"})


def raise_memory_shortfall(memory_bytes: Mapping, memory_gb: float, profile: EngineProfile, gpus: int) -> None:
    """Refuse a decoder that does not fit: what one GPU of the replica needs, part by part, against what it holds."""
    parts = {k.replace("_", " "): to_float(v) / 1e9 for k, v in memory_bytes.items() if k != "total"}
    need = to_float(memory_bytes["total"]) / 1e9
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
