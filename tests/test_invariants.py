"""Properties the cost model must hold for every valid input (hypothesis over the presets).

- latency and cost never below the roofline floor (floor_s = max(FLOPs / peak, bytes / bandwidth));
- latency non-decreasing in resolution, frames, steps and (AR) prompt length;
- GPUs needed non-decreasing in requests per day (the planner);
- throughput per GPU never above batch / latency;
- memory non-decreasing in batch and in context (AR prompt, diffusion resolution);
- no NaN or infinity anywhere for a valid input;
- the band contains the central value: low <= central <= high for latency.

Examples are drawn with a fixed seed so CI is reproducible; TOKCOST_FUZZ_EXAMPLES raises the count.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokcost.core.plan import evaluate
from tokcost.core.pricing import price_book
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.profiles import BANDS
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.prices import load_prices
from tokcost.records.spec import Spec

EXAMPLES = int(os.environ.get("TOKCOST_FUZZ_EXAMPLES", "60"))
PROPS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="TOKCOST_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
CAT = Catalog.default()
MODELS = {m.id: m for m in CAT.all("models")}
HARDWARE = {h.id: h for h in CAT.all("hardware")}
ENGINES = load_engines()
PRICES = price_book(HARDWARE.values(), load_prices()).usd_per_gpu_hour()  # the default basis
RTOL = 1e-9


@st.composite
def configs(draw, role: str | None = None) -> dict:
    """Keyword arguments of a valid :class:`Config` (scalars), drawn from the presets."""
    pool = [m for m in MODELS.values() if role is None or role in m.roles]
    m = draw(st.sampled_from(sorted(pool, key=lambda x: x.id)))
    r = role or draw(st.sampled_from(m.roles))
    hw = HARDWARE[draw(st.sampled_from(sorted(HARDWARE)))]
    engine = draw(st.sampled_from([e for e, p in ENGINES.items() if p.runs(m.family)]))
    lo, hi = m.side_limits()
    kw = dict(
        model=m,
        hardware=hw,
        profiles=ENGINES,
        prices=PRICES,
        engine=engine,
        role=r,
        precision=draw(st.sampled_from(["bf16", "fp16", "fp8", "int8", "int4"])),
        width=draw(st.integers(lo, hi)),
        height=draw(st.integers(lo, hi)),
        batch=draw(st.sampled_from([1, 2, 3, 4, 8, 16, 64, 256])),
        cfg=draw(st.sampled_from([None, "batched", "unbatched", "off"])) if m.family == "ar" else None,
    )
    if r == "video":
        max_frames = (m.native.max_frames if m.family == "diffusion" else None) or 256
        kw["frames"] = draw(st.integers(1, max_frames))
    if m.family == "diffusion":
        kw["steps"] = draw(st.integers(1, 100))
    else:
        kw["prompt_tokens"] = draw(st.integers(1, 4096))
        kw["tokens_per_forward"] = draw(st.sampled_from([1.0, 1.5, 4.0]))
    if r == "perception":
        kw["answer_tokens"] = draw(st.integers(1, 1024))
    return kw


def _all(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _nondecreasing(values, what: str, kw: dict) -> None:
    v = _all(values)
    assert np.all(np.diff(v) >= -RTOL * np.abs(v[:-1])), f"{what} decreases: {v.tolist()} for {_show(kw)}"


def _show(kw: dict) -> dict:
    return {k: (v.id if hasattr(v, "id") else v) for k, v in kw.items() if k != "profiles"}


def _as_dict(value):
    """An engine result's fields (and their parts: memory, decode, tokens) as nested dicts."""
    if dataclasses.is_dataclass(value):
        return {f.name: _as_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _as_dict(v) for k, v in value.items()}
    return value


def _finite_leaves(d: dict, kw: dict, skip=("cost_usd_per_item",)) -> None:
    for key, value in d.items():
        if isinstance(value, dict):
            _finite_leaves(value, kw, ())
        elif key in skip or isinstance(value, str) or value is None:
            continue
        else:
            a = np.asarray(value)
            if a.dtype.kind in "fiu":
                assert np.all(np.isfinite(a)), f"{key} = {a} not finite for {_show(kw)}"


# ------------------------------------------------------------------------------------------------ properties


@PROPS
@given(configs())
def test_never_below_the_roofline_floor_and_never_nan(kw):
    cfg = Config(**kw)
    for band in BANDS:
        r = estimate_arrays(cfg, band)
        _finite_leaves(_as_dict(r), kw)
        assert _all(r.latency_s) >= _all(r.floor_s) * (1 - RTOL), (band, _show(kw))
        floor = max(float(r.flops) / r.peak_flops, float(r.bytes) / r.bandwidth)
        assert np.isclose(float(r.floor_s), floor)
        if kw["hardware"].id in PRICES:
            cost = float(r.cost_usd_per_item)
            assert np.isfinite(cost)
            floor_cost = PRICES[kw["hardware"].id] / 3600.0 * floor / kw["batch"]
            assert cost >= floor_cost * (1 - RTOL), (band, _show(kw))


@PROPS
@given(configs())
def test_band_contains_central_and_throughput_at_most_batch_over_latency(kw):
    cfg = Config(**kw)
    res = {b: estimate_arrays(cfg, b) for b in BANDS}
    lo, c, hi = (float(res[b].latency_s) for b in ("low", "central", "high"))
    assert lo <= c * (1 + RTOL) and c <= hi * (1 + RTOL), (lo, c, hi, _show(kw))
    for b in BANDS:
        thr, lat = float(res[b].throughput_items_per_s), float(res[b].latency_s)
        assert thr <= kw["batch"] / lat * (1 + RTOL)


@PROPS
@given(configs(), st.lists(st.integers(16, 8192), min_size=2, max_size=6))
def test_latency_and_memory_nondecreasing_in_resolution(kw, sides):
    lo, hi = kw["model"].side_limits()
    sides = np.array(sorted(min(max(s, lo), hi) for s in sides), dtype=float)
    kw = {**kw, "width": sides, "height": sides}
    r = estimate_arrays(Config(**kw))
    _nondecreasing(r.latency_s, "latency vs resolution", kw)
    _nondecreasing(r.cost_usd_per_item if kw["hardware"].id in PRICES else r.latency_s, "cost vs resolution", kw)
    _nondecreasing(np.broadcast_to(r.memory.total, sides.shape), "memory vs resolution", kw)


@PROPS
@given(configs(role="video"), st.lists(st.integers(1, 400), min_size=2, max_size=6))
def test_latency_nondecreasing_in_frames(kw, frames):
    m = kw["model"]
    top = (m.native.max_frames if m.family == "diffusion" else None) or 400
    kw = {**kw, "frames": np.array(sorted(min(f, top) for f in frames), dtype=float)}
    r = estimate_arrays(Config(**kw))
    _nondecreasing(r.latency_s, "latency vs frames", kw)


@PROPS
@given(
    configs().filter(lambda kw: kw["model"].family == "diffusion"),
    st.lists(st.integers(1, 200), min_size=2, max_size=6),
)
def test_latency_nondecreasing_in_steps(kw, steps):
    kw = {**kw, "steps": np.array(sorted(steps), dtype=float)}
    _nondecreasing(estimate_arrays(Config(**kw)).latency_s, "latency vs steps", kw)


@PROPS
@given(configs().filter(lambda kw: kw["model"].family == "ar"), st.lists(st.integers(1, 8192), min_size=2, max_size=6))
def test_latency_and_memory_nondecreasing_in_prompt_length(kw, prompts):
    kw = {**kw, "prompt_tokens": np.array(sorted(prompts), dtype=float)}
    r = estimate_arrays(Config(**kw))
    _nondecreasing(r.latency_s, "latency vs prompt tokens", kw)
    _nondecreasing(np.broadcast_to(r.memory.total, kw["prompt_tokens"].shape), "memory vs prompt tokens", kw)


@PROPS
@given(configs(), st.lists(st.sampled_from([1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 1024]), min_size=2, max_size=6))
def test_memory_nondecreasing_in_batch(kw, batches):
    kw = {**kw, "batch": np.array(sorted(batches), dtype=float)}
    r = estimate_arrays(Config(**kw))
    _nondecreasing(r.memory.total, "memory vs batch", kw)
    thr, lat = _all(r.throughput_items_per_s), _all(r.latency_s)
    assert np.all(thr <= kw["batch"] / lat * (1 + RTOL))


def _spec(kind: str, model: str, hardware: str, requests: float) -> Spec:
    product = {"kind": kind, "width": 512, "height": 512}
    if kind == "video":
        product["frames"] = 17
    if kind == "perception":
        product.update(prompt_tokens=64, answer_tokens=32)
    return Spec.model_validate(
        {
            "version": 1,
            "name": "p",
            "product": product,
            "demand": {"requests_per_day": requests},
            "budget": {"latency_s": 60},
            "candidates": {"models": [model], "hardware": [hardware]},
        }
    )


@settings(
    max_examples=max(10, EXAMPLES // 3),
    deadline=None,
    derandomize="TOKCOST_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.sampled_from(sorted(MODELS)),
    st.sampled_from(sorted(PRICES)),
    st.lists(st.floats(1, 1e10), min_size=2, max_size=4),
)
def test_gpus_needed_nondecreasing_in_requests(model, hardware, requests):
    m = MODELS[model]
    kind = m.roles[0]
    previous: dict = {}
    for rpd in sorted(requests):
        for c in evaluate(_spec(kind, model, hardware, rpd), CAT):
            key = (c.model, c.hardware, c.engine)
            if c.gpus is None:  # no fleet meets the latency objective: the service alone breaks the budget
                assert c.violations and not c.feasible
                continue
            assert c.gpus >= 1
            assert c.gpus >= previous.get(key, 0), (key, rpd, c.gpus, previous.get(key))
            previous[key] = c.gpus
