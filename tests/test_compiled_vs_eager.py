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

CAT = Catalog.default()
ENGINES = load_engines()
HARDWARE = CAT.ids("hardware")


def latency(model, hardware, engine) -> float | None:
    cfg = Config(model=CAT.model(model), hardware=CAT.hardware(hardware), profiles=ENGINES, engine=engine)
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
    for term in ("host_per_layer_s", "fixed_per_step_s", "act_passes", "denoise_step_s", "request_fixed_s"):
        assert getattr(c, term) <= getattr(e, term), term
    assert c.vae_efficiency == e.vae_efficiency
