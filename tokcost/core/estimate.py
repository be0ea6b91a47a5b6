"""`tokcost estimate`: one configuration priced, as the JSON-ready dict whose keys are a contract."""

from __future__ import annotations

from tokcost.io.catalog import Catalog
from tokcost.engine.estimate import Config, estimate, to_float
from tokcost.errors import UsageError


def estimate_report(cat: Catalog, *, model, hardware, width, height, frames, steps, batch, cfg, engine, precision,
                    tokens_per_forward, prompt_tokens, answer_tokens, calibration, draft_tokens=None) -> dict:
    cal = None
    if calibration is not None:
        from tokcost.records.calibration import load_calibration

        cal = load_calibration(calibration)
    m = cat.model(model)
    if hardware is None:
        if cal is None:
            raise UsageError("give --hardware, or --calibration to use its measured device")
        hw = cal.hardware_preset(cat)
    else:
        hw = cat.hardware(hardware)
    if frames not in (None, 1) and "video" not in m.roles:
        raise UsageError(f"{m.id} does not generate video; drop --frames")
    est = estimate(Config(model=m, hardware=hw, engine=engine, precision=precision, width=width, height=height,
                          frames=frames, batch=batch, steps=steps, cfg=cfg, tokens_per_forward=tokens_per_forward,
                          verify_tokens=draft_tokens,
                          prompt_tokens=prompt_tokens, answer_tokens=answer_tokens, calibration=cal))
    c, lo, hi = est.central, est.low, est.high

    def band(key):
        return {"low": to_float(lo[key]), "high": to_float(hi[key])}

    thr_band = {"low": to_float(hi["throughput_items_per_s"]), "high": to_float(lo["throughput_items_per_s"])}
    return {
        "model": m.id, "family": m.family, "hardware": hw.id, "engine": engine, "precision": precision,
        "role": c["role"], "width": width or (m.tokenizer.native_width if m.family == "ar" else m.native.width),
        "height": height or (m.tokenizer.native_height if m.family == "ar" else m.native.height),
        "frames": frames, "batch": batch, "cfg": c["cfg_mode"],
        "steps": None if c["steps"] is None else int(to_float(c["steps"])),
        "latency_s": to_float(c["latency_s"]), "latency_s_band": band("latency_s"),
        "throughput_items_per_s": to_float(c["throughput_items_per_s"]), "throughput_items_per_s_band": thr_band,
        "cost_usd_per_item": to_float(c["cost_usd_per_item"]) if hw.price else None,
        "cost_usd_per_item_band": band("cost_usd_per_item") if hw.price else None,
        "bound": str(to_float(c["bound"])), "overhead_bound": bool(to_float(c["overhead_bound"])),
        "floor_s": to_float(c["floor_s"]),
        "breakdown_s": {k: to_float(v) for k, v in c["breakdown_s"].items()},
        "tokens": {k: to_float(v) for k, v in c["tokens"].items()},
        "memory_gb": {k: to_float(v) / 1e9 for k, v in c["memory_bytes"].items()},
        "fits_in_memory": bool(to_float(c["fits_in_memory"])),
        "flops": to_float(c["flops"]),
        "calibration": str(calibration) if calibration else None,
    }
