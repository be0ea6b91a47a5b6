"""Compiling never makes the same work slower (issue 27 item 5): torch.compile removes host time and element-wise
passes but runs the same GEMM and attention kernels, so compiled <= eager for every model x hardware preset at
default settings, and the profiles say so term by term."""

from __future__ import annotations

import pytest

from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.engine.profiles import efficiency
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels

CAT = Catalog.default()
ENGINES = load_engines()
HARDWARE = CAT.ids("hardware")


def latency(model, hardware, engine) -> float | None:
    # priced as the product prices it: GEMMs from the measured kernel tables where the chip has one
    cfg = Config(
        model=CAT.model(model),
        hardware=CAT.hardware(hardware),
        profiles=ENGINES,
        engine=engine,
        kernels=hardware_kernels,
    )
    try:
        return float(estimate_arrays(cfg).latency_s)
    except UsageError:  # a combination the chip cannot run (FlashAttention-3 off Hopper, ...)
        return None


@pytest.mark.parametrize("model", CAT.ids("models"))
def test_compiled_is_never_slower_than_eager_at_default_settings(model):
    slower = []
    for hw in HARDWARE:
        eager, compiled = latency(model, hw, "eager"), latency(model, hw, "compiled")
        if eager is not None and compiled is not None and compiled > eager * (1 + 1e-12):
            slower.append(f"{hw}: compiled {compiled:.4g} s > eager {eager:.4g} s")
    assert not slower, f"{model}: " + "; ".join(slower)


@pytest.mark.parametrize("band", ["low", "central", "high"])
@pytest.mark.parametrize("hw", HARDWARE)
def test_every_term_of_the_compiled_profile_is_no_worse_than_eagers(hw, band):
    """The GPU's own speed (matmul, attention, kernel gaps) is the same; host terms and element-wise passes no
    larger; the weights stream no slower."""
    preset = CAT.hardware(hw)
    e = efficiency(ENGINES["eager"], preset, band)
    c = efficiency(ENGINES["compiled"], preset, band)
    assert c.mfu == e.mfu and c.attention_mfu == e.attention_mfu and c.gpu_per_layer_s == e.gpu_per_layer_s
    assert c.mbu >= e.mbu
    terms = ("host_per_layer_s", "fixed_per_step_s", "denoise_step_s", "request_fixed_s")
    for term in terms:
        assert getattr(c, term) <= getattr(e, term), term
    assert c.vae_efficiency == e.vae_efficiency and c.act_scale == e.act_scale
    assert c.fused_elementwise and not e.fused_elementwise


def test_fusing_never_adds_a_pass():
    """Every model that prices element-wise traffic has a count (its own, or the stand-in), and fusing a chain of
    element-wise ops into one kernel never moves more than running them one by one."""
    priced = [CAT.model(m) for m in CAT.ids("models") if CAT.model(m).generation.elementwise]
    assert priced
    for m in priced:
        p = m.elementwise_passes
        assert p is not None and 0 < p.fused <= p.eager, m.id


def test_each_engine_moves_its_own_count_of_the_models_passes():
    """physics.act_passes: eager moves the model's eager count, compiled its fused count, each times act_scale;
    act_scale moves every denoiser's element-wise time."""
    from tokcost.core.fit import profiles_with
    from tokcost.engine import physics

    hw = CAT.hardware("h100-sxm")
    e = efficiency(ENGINES["eager"], hw)
    c = efficiency(ENGINES["compiled"], hw)
    for name in ("sdxl", "flux1-dev"):
        m = CAT.model(name)
        assert physics.act_passes(m, e) == m.elementwise_passes.eager * e.act_scale
        assert physics.act_passes(m, c) == m.elementwise_passes.fused * c.act_scale

    def latency(model, engine, scale) -> float:
        cfg = Config(
            model=CAT.model(model),
            hardware=hw,
            profiles=profiles_with({(("eager", "compiled"), "act_scale"): scale}),
            engine=engine,
            kernels=hardware_kernels,
        )
        return float(estimate_arrays(cfg).latency_s)

    for model in ("sdxl", "flux1-dev"):
        for engine in ("eager", "compiled"):
            assert latency(model, engine, 2.0) > latency(model, engine, 1.0), (model, engine)
