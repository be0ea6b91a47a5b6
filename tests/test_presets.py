"""Every preset id the foundation promises resolves, parses, and cites a source for every number."""

import pytest

from tokcost.errors import InputError
from tokcost.io.catalog import Catalog
from tokcost.records.presets import unsourced_fields

CAT = Catalog.default()
HARDWARE = [
    "a100-40gb-sxm",
    "a100-80gb-sxm",
    "a100-80gb-pcie",
    "h100-sxm",
    "h100-pcie",
    "h100-nvl",
    "h200-sxm",
    "b200",
    "l40s",
    "l4",
    "a10g",
    "rtx-4090",
    "mi300x",
    "mi325x",
]
MODELS = [
    "emu3-gen",
    "emu3-chat",
    "emu3.5-image",
    "chameleon-7b",
    "llamagen-b",
    "llamagen-l",
    "llamagen-xl",
    "llamagen-xxl",
    "llamagen-3b",
    "janus-pro-7b",
    "lumina-mgpt-7b",
    "sd15",
    "sdxl",
    "sdxl-turbo",
    "sd3-medium",
    "sd35-large",
    "flux1-dev",
    "flux1-schnell",
    "pixart-sigma",
    "sana-0.6b",
    "sana-1.6b",
    "cogvideox-2b",
    "cogvideox-5b",
    "hunyuanvideo",
    "wan21-1.3b",
    "wan21-14b",
    "ltx-video",
]


@pytest.mark.parametrize("pid", HARDWARE)
def test_hardware_preset_resolves_with_sources(pid):
    hw = CAT.hardware(pid)
    assert unsourced_fields(hw) == []


@pytest.mark.parametrize("pid", MODELS)
def test_model_preset_resolves_with_sources(pid):
    assert unsourced_fields(CAT.model(pid)) == []


def test_emu3_gen_serves_image_and_video_and_says_no_video_checkpoint():
    m = CAT.model("emu3-gen")
    assert set(m.roles) == {"image", "video"}
    assert "no video checkpoint" in m.notes.lower()


def test_emu3_architecture_matches_config():
    a = CAT.model("emu3-gen").architecture
    assert (a.layers, a.hidden, a.heads, a.kv_heads, a.head_dim, a.ffn, a.vocab) == (
        32,
        4096,
        32,
        8,
        128,
        14336,
        184622,
    )


def test_dense_rates_are_dense_not_sparse():
    assert CAT.hardware("h100-sxm").dense_tflops.bf16 == 989
    assert CAT.hardware("a100-80gb-sxm").dense_tflops.bf16 == 312


def test_unsourced_user_preset_is_rejected(tmp_path):
    (tmp_path / "hardware").mkdir()
    text = (CAT.source_of("hardware", "h100-sxm")).read_text().replace("  tdp_w:", "  tdp_w_removed:")
    (tmp_path / "hardware" / "h100-sxm.yaml").write_text(text)
    cat = Catalog([*CAT.roots, tmp_path])
    with pytest.raises(InputError) as exc:
        cat.hardware("h100-sxm")
    assert any(p.field == "tdp_w" and "no source" in p.message for p in exc.value.problems)


def test_user_preset_overrides_builtin(tmp_path):
    (tmp_path / "hardware").mkdir()
    text = CAT.source_of("hardware", "h100-sxm").read_text().replace("memory_gb: 80", "memory_gb: 96")
    (tmp_path / "hardware" / "h100-sxm.yaml").write_text(text)
    assert Catalog([*CAT.roots, tmp_path]).hardware("h100-sxm").memory_gb == 96


def test_a_pcie_fabric_that_joins_no_more_gpus_than_its_link_is_reported_where_it_is(tmp_path):
    """scale_up.pcie extends a link that joins fewer GPUs (NVLink-bridged pairs): a fabric of no more GPUs than
    the link is a mistake, reported at the file, line and field of the scale-up block."""
    (tmp_path / "hardware").mkdir()
    text = CAT.source_of("hardware", "a100-80gb-pcie").read_text()
    assert text.count("    gpus: 4\n") == 1  # the fabric's size, indented under scale_up.pcie
    path = tmp_path / "hardware" / "a100-80gb-pcie.yaml"
    path.write_text(text.replace("    gpus: 4\n", "    gpus: 2\n"))
    with pytest.raises(InputError) as exc:
        Catalog([*CAT.roots, tmp_path]).hardware("a100-80gb-pcie")
    (problem,) = exc.value.problems
    assert problem.file.endswith("a100-80gb-pcie.yaml") and problem.field == "scale_up"
    lines = text.splitlines()
    block = (lines.index("scale_up:"), next(i for i, line in enumerate(lines) if line.startswith("host:")))
    assert block[0] < problem.line <= block[1]  # a line of the scale-up block (1-based)
    assert "must join more GPUs than the link it extends" in problem.message and "pcie.gpus 2" in problem.message
