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
    terms = (
        "host_per_layer_s",
        "fixed_per_step_s",
        "act_passes",
        "act_passes_unet",
        "denoise_step_s",
        "request_fixed_s",
    )
    for term in terms:
        assert getattr(c, term) <= getattr(e, term), term
    assert c.vae_efficiency == e.vae_efficiency


def test_compiling_fuses_less_of_a_unet_block_than_of_a_transformer_block():
    """Eager runs every element-wise op as its own kernel: one figure for every denoiser. Compiled keeps more of a
    UNet's passes (cuDNN convolutions and GroupNorm reductions are kernel boundaries inductor does not fuse across)
    than of a DiT's (LayerNorm, modulation, RoPE, GELU and residual chains between GEMMs)."""
    hw = CAT.hardware("h100-sxm")
    e = efficiency(ENGINES["eager"], hw)
    c = efficiency(ENGINES["compiled"], hw)
    assert ENGINES["eager"].act_passes_unet is None and e.act_passes_unet == e.act_passes
    assert c.act_passes < c.act_passes_unet <= e.act_passes


def test_each_denoiser_kind_is_priced_with_its_own_passes():
    """physics.act_passes picks the kind's figure: changing the transformer figure moves FLUX, never SDXL, and the
    UNet figure the reverse."""
    from tokcost.core.fit import profiles_with
    from tokcost.engine import physics

    hw = CAT.hardware("h100-sxm")
    c = efficiency(ENGINES["compiled"], hw)
    assert physics.act_passes(CAT.model("sdxl"), c) == c.act_passes_unet
    assert physics.act_passes(CAT.model("flux1-dev"), c) == c.act_passes

    def compiled_latency(model, values) -> float:
        cfg = Config(
            model=CAT.model(model),
            hardware=hw,
            profiles=profiles_with(values),
            engine="compiled",
            kernels=hardware_kernels,
        )
        return float(estimate_arrays(cfg).latency_s)

    base = {(("compiled",), "act_passes"): 40.0, (("compiled",), "act_passes_unet"): 90.0}
    more_dit = base | {(("compiled",), "act_passes"): 80.0}
    more_unet = base | {(("compiled",), "act_passes_unet"): 110.0}
    assert compiled_latency("sdxl", more_dit) == compiled_latency("sdxl", base)
    assert compiled_latency("flux1-dev", more_dit) > compiled_latency("flux1-dev", base)
    assert compiled_latency("sdxl", more_unet) > compiled_latency("sdxl", base)
    assert compiled_latency("flux1-dev", more_unet) == compiled_latency("flux1-dev", base)
