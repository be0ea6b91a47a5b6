"""Token counts against the numbers their sources state, plus properties of the token functions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokcost.engine.families import model_tokens
from tokcost.engine.tokens import TokenGeometryError, grid_tokens, latent_frames, side_tokens
from tokcost.io.catalog import Catalog

CAT = Catalog.default()


@pytest.mark.parametrize(
    "model,w,h,frames,field,expected",
    [
        ("emu3-gen", 512, 512, None, "visual", 4096),  # Emu3 paper / processing_emu3.py
        ("emu3-gen", 512, 512, None, "generated", 4163),  # 64 x 65 + 3
        ("emu3-gen", 720, 720, None, "visual", 8100),  # 90 x 90 (720 / 8)
        ("emu3-gen", 720, 720, None, "generated", 8193),  # 90 x 91 + 3
        ("emu3-gen", 512, 512, 120, "visual", 122880),  # 30 latent frames x 4,096
        ("chameleon-7b", 512, 512, None, "visual", 1024),  # 32 x 32 (512 / 16)
        ("llamagen-xl", 384, 384, None, "visual", 576),  # 24 x 24 (384 / 16)
        ("flux1-dev", 1024, 1024, None, "visual", 4096),  # 64 x 64 (1024 / 8 VAE / 2 patch)
        ("cogvideox-5b", 720, 480, 49, "visual", 17550),  # 13 x 30 x 45
        ("hunyuanvideo", 1280, 720, 129, "visual", 118800),  # 33 x 45 x 80
        ("wan21-14b", 1280, 720, 81, "visual", 75600),  # 21 x 45 x 80
        ("wan21-1.3b", 832, 480, 81, "visual", 32760),  # 21 x 30 x 52 (1 + 80 / 4 frames; 480, 832 / 8 VAE / 2 patch)
        ("ltx-video", 768, 512, 121, "visual", 6144),  # 16 x 16 x 24
    ],
)
def test_token_counts_match_sources(model, w, h, frames, field, expected):
    tc = model_tokens(CAT.model(model), w, h, frames)
    assert getattr(tc, field) == expected


def test_lumina_layout_adds_newline_per_row_and_size_tokens():
    tc = model_tokens(CAT.model("lumina-mgpt-7b"), 768, 768)
    assert tc.visual == 48 * 48 and tc.generated == 48 * 49 + 2


def test_emu3_prompt_counts_size_text_digits():
    tc = model_tokens(CAT.model("emu3-gen"), 720, 720, prompt_tokens=10)
    # BOS + caption + <image start> + "90*90" (5 single-character tokens) + <image token>
    assert tc.prompt == 1 + 10 + 1 + 5 + 1


def test_bad_size_names_sizes_that_work():
    with pytest.raises(TokenGeometryError, match="1000 px is not a multiple of 16.*992 or 1008"):
        model_tokens(CAT.model("flux1-dev"), 1000, 1024)


def test_pad_policy_rounds_up_and_reports_padded_size():
    tc = model_tokens(CAT.model("flux1-dev"), 1000, 1024, pad=True)
    assert (tc.padded_width, tc.padded_height, tc.visual) == (1008, 1024, 63 * 64)


def test_causal_frames_error_suggests_valid_counts():
    with pytest.raises(TokenGeometryError, match="use 49 or 53"):
        model_tokens(CAT.model("cogvideox-5b"), 720, 480, 50)


def test_chunked_frames_error():
    with pytest.raises(TokenGeometryError, match="not a multiple of 4"):
        model_tokens(CAT.model("emu3-gen"), 512, 512, 121)


def test_image_tokenizer_refuses_frames():
    with pytest.raises(TokenGeometryError):
        model_tokens(CAT.model("chameleon-7b"), 512, 512, 16)


def test_vectorised_matches_scalar():
    widths = np.array([256, 512, 720, 1024])
    w, h, t, total = grid_tokens(widths, widths, 8, 49, 4, "causal")
    for i, px in enumerate(widths):
        assert total[i] == grid_tokens(int(px), int(px), 8, 49, 4, "causal")[3]


@given(st.integers(1, 512), st.integers(1, 512), st.sampled_from([8, 14, 16, 32]))
def test_grid_exact_when_divisible(a, b, f):
    w, h, t, total = grid_tokens(a * f, b * f, f)
    assert (w, h, total) == (a, b, a * b)


@given(st.integers(1, 8192), st.sampled_from([8, 16, 32]))
def test_padding_never_shrinks_and_is_minimal(px, f):
    n = side_tokens(px, f, "width", pad=True)
    assert n * f >= px > (n - 1) * f


@given(st.integers(0, 200), st.sampled_from([4, 8]))
def test_causal_and_chunked_rules(k, t):
    assert latent_frames(1 + t * k, t, "causal") == 1 + k
    if k:
        assert latent_frames(t * k, t, "chunked") == k


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_tokens_monotone_in_pixels(a, b):
    lo, hi = sorted((a, b))
    assert side_tokens(lo, 16, "w", pad=True) <= side_tokens(hi, 16, "w", pad=True)
