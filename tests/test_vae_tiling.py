"""A tiled VAE decode (``vae.tiling``) decodes its overlaps more than once: the closed form of
physics.vae_tiling_factor against the loops of the code it models, and the estimate it changes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from tokcost.cli.app import app
from tokcost.engine import physics
from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels

CAT = Catalog.default()
HUNYUAN = CAT.model("hunyuanvideo")


def loops(width: int, height: int, frames: int) -> float:
    """The work of Tencent/HunyuanVideo's tiled decode over one whole decode, by running its loops
    (hyvideo/vae/autoencoder_kl_causal_3d.py: temporal_tiled_decode, spatial_tiled_decode) on the shapes."""
    lw, lh, latents = width // 8, height // 8, 1 + (frames - 1) // 4
    tile, stride = 256 // 8, int(256 // 8 * 0.75)
    area = lw * lh
    if lw > tile or lh > tile:
        area = sum(min(tile, lh - i) for i in range(0, lh, stride)) * sum(
            min(tile, lw - j) for j in range(0, lw, stride)
        )
    span, step = 64 // 4, int(64 // 4 * 0.75)
    decoded = 1 + 4 * (latents - 1)
    if latents > span:
        decoded = sum(1 + 4 * (min(span + 1, latents - i) - 1) for i in range(0, latents, step))
    return area / (lw * lh) * decoded / (1 + 4 * (latents - 1))


SIZES = [
    (w, h, f)
    for w in (256, 544, 848, 960, 1280, 1920)
    for h in (256, 480, 544, 720, 1088)
    for f in (1, 33, 61, 65, 77, 129, 201)
]


def test_the_closed_form_counts_what_the_code_s_loops_decode():
    w, h, f = (np.array(x) for x in zip(*SIZES, strict=True))
    got = physics.vae_tiling_factor(HUNYUAN.vae, w, h, f)
    want = np.array([loops(*s) for s in SIZES])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_native_clip_decodes_2_08_times_the_work():
    # 720 px: latent rows at 0, 24, 48, 72 (32, 32, 32, 18 = 114 of 90); 1280 px: 7 columns (208 of 160);
    # 33 latent frames: tiles at 0, 12, 24 of 17, 17, 9 latents (65 + 65 + 33 = 163 frames of 129)
    factor = physics.vae_tiling_factor(HUNYUAN.vae, 1280, 720, 129)
    assert factor == pytest.approx(114 / 90 * 208 / 160 * 163 / 129, rel=1e-12)
    assert factor == pytest.approx(2.0807, abs=1e-4)


def test_no_tiling_below_a_tile_or_without_one():
    assert physics.vae_tiling_factor(HUNYUAN.vae, 256, 256, 61) == 1.0  # 32 x 32 x 16 latents: one tile
    assert physics.vae_tiling_factor(HUNYUAN.vae, 1280, 720, 61) == pytest.approx(114 / 90 * 208 / 160)  # space only
    wan = CAT.model("wan21-14b").vae
    assert wan.tiling is None
    assert np.all(physics.vae_tiling_factor(wan, np.array([832, 1280]), np.array([480, 720]), 81) == 1.0)


def test_more_overlap_never_decodes_less():
    loose = HUNYUAN.vae.model_copy(update={"tiling": HUNYUAN.vae.tiling.model_copy(update={"overlap": 0.0})})
    for w, h, f in SIZES:
        assert physics.vae_tiling_factor(loose, w, h, f) <= physics.vae_tiling_factor(HUNYUAN.vae, w, h, f)
    assert physics.vae_tiling_factor(loose, 1024, 1024, 1) == 1.0  # tiles that do not overlap decode each latent once


def price(model) -> dict:
    cfg = Config(model=model, hardware=CAT.hardware("h100-sxm"), profiles=load_engines(), kernels=hardware_kernels)
    return estimate_arrays(cfg)


def test_the_decode_s_flops_and_seconds_scale_by_the_factor():
    whole = HUNYUAN.model_copy(update={"vae": HUNYUAN.vae.model_copy(update={"tiling": None})})
    eff = SimpleNamespace(mfu=1.0, vae_efficiency=0.5, fixed_per_step_s=0.0)
    w, h, f = np.array([1280, 960, 256]), np.array([720, 544, 256]), np.array([129, 61, 61])
    tiled_s, tiled_flops = physics.vae_decode_time(HUNYUAN, 1e15, eff, 2, w, h, f)
    whole_s, whole_flops = physics.vae_decode_time(whole, 1e15, eff, 2, w, h, f)
    factor = physics.vae_tiling_factor(HUNYUAN.vae, w, h, f)
    np.testing.assert_allclose(tiled_flops, whole_flops * factor, rtol=1e-12)
    np.testing.assert_allclose(tiled_s, whole_s * factor, rtol=1e-12)
    assert factor[-1] == 1.0


def test_the_estimate_changes_the_vae_decode_only():
    whole = HUNYUAN.model_copy(update={"vae": HUNYUAN.vae.model_copy(update={"tiling": None})})
    tiled, untiled = price(HUNYUAN), price(whole)
    assert float(tiled.breakdown_s["vae_decode"]) > 2.0 * float(untiled.breakdown_s["vae_decode"]) - 1e-3
    for part in ("text_encoders", "denoise", "pipeline"):
        assert float(tiled.breakdown_s[part]) == float(untiled.breakdown_s[part])


def test_the_notes_say_how_the_decode_is_tiled():
    def notes(model: str, *options: str) -> str:
        r = CliRunner().invoke(
            app, ["estimate", "--model", model, "--hardware", "h100-sxm", *options, "--format", "json"]
        )
        assert r.exit_code == 0, r.output
        return " ".join(json.loads(r.stdout)["notes"])

    assert "256 px and 64-frame tiles overlapping by 25%" in notes("hunyuanvideo")
    assert "2.08x the work of one whole decode" in notes("hunyuanvideo")
    assert "1.56x the work" in notes("hunyuanvideo", "--width", "960", "--height", "544", "--frames", "61")
    assert "tiles overlapping" not in notes("wan21-14b")
