"""The counted element-wise passes (tokcost/data/generated/elementwise_passes.yaml, scripts/count_elementwise_passes.py):
the file carries its provenance and is refused without it, it names only real presets of families that price
element-wise traffic, the stand-in is what it says, and the counter counts what a kernel moves."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest
import yaml

from tokcost import api
from tokcost.engine.physics import denoiser_layers
from tokcost.errors import InputError
from tokcost.io import paths
from tokcost.io.catalog import Catalog
from tokcost.io.elementwise import load_elementwise
from tokcost.io.parse import load_model
from tokcost.records.elementwise import ElementwiseFile

CAT = Catalog.default()
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "count_elementwise_passes.py"


def _script():
    spec = importlib.util.spec_from_file_location("count_elementwise_passes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("field", ["generated_by", "date", "torch", "diffusers", "method"])
def test_a_count_file_without_its_provenance_is_refused(field, tmp_path):
    doc = yaml.safe_load(paths.ELEMENTWISE_FILE.read_text())
    del doc[field]
    path = tmp_path / "elementwise_passes.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match=field):
        load_model(ElementwiseFile, path)


def test_the_counts_name_real_presets_of_families_that_price_element_wise_work():
    counted = load_elementwise()
    named = [p for c in counted.counts.values() for p in c.presets]
    assert len(named) == len(set(named)), "a preset is counted twice"
    for preset in named:
        assert CAT.has("models", preset), preset
        assert CAT.model(preset).generation.elementwise, preset
    assert counted.generated_by == "python scripts/count_elementwise_passes.py"


def test_every_preset_gets_its_own_count_or_the_stated_stand_in():
    counted = load_elementwise()
    for preset in CAT.ids("models"):
        m = CAT.model(preset)
        if not m.generation.elementwise:
            assert m.elementwise_passes is None, preset
            continue
        proxy = next((c for c in counted.counts.values() if preset in c.presets), None)
        own = proxy.presets[preset] if proxy is not None else None
        if own is None:
            stand_in = counted.stand_in
            assert (m.elementwise_passes.eager, m.elementwise_passes.fused) == (stand_in.eager, stand_in.fused), preset
            assert m.elementwise_passes.counted == stand_in.counted, preset
            assert m.elementwise_passes.per_kernel == stand_in.per_kernel, preset
            assert m.launches_per_layer.eager == stand_in.launches, preset
        else:
            assert (m.elementwise_passes.eager, m.elementwise_passes.fused) == (own.eager, own.fused), preset
            assert m.elementwise_passes.per_kernel == proxy.per_kernel, preset
            assert m.launches_per_layer.eager == own.launches, preset
    every = [p for c in counted.counts.values() for p in c.presets.values()]
    per_kernel = [c.per_kernel for c in counted.counts.values() for _ in c.presets]  # a preset's is its proxy's
    for i, point in enumerate(counted.stand_in.per_kernel):
        assert point == pytest.approx(statistics.median(v[i] for v in per_kernel), rel=1e-2)
    assert counted.stand_in.eager == pytest.approx(statistics.median(p.eager for p in every), rel=1e-2)
    assert counted.stand_in.fused == pytest.approx(statistics.median(p.fused for p in every), rel=1e-2)
    assert counted.stand_in.launches == pytest.approx(statistics.median(p.launches for p in every), rel=1e-2)
    for preset in counted.decoders.presets:  # Llama-style transformers decoders: the counted decoder layer
        assert (
            CAT.model(preset).family == "ar" and CAT.model(preset).launches_per_layer.eager == counted.decoders.launches
        )


def test_a_presets_passes_are_its_blocks_own_plus_the_forwards_spread_over_its_depth():
    """A deeper model spreads the once-per-forward work (embeddings, RoPE tables, the final norm) thinner."""
    for c in load_elementwise().counts.values():
        for preset, p in c.presets.items():
            d = CAT.model(preset).denoiser
            blocks = d.transformer_geometry()[1] if d.kind != "unet" else 1
            for k in ("eager", "fused"):
                want = getattr(c.per_block, k) + getattr(c.per_forward, k) / blocks
                assert getattr(p, k) == pytest.approx(want, rel=6e-3), (preset, k)
            # launches per tokcost layer: the blocks' own and the forward's (a UNet's: all of it) over its layers
            layers = denoiser_layers(CAT.model(preset))
            want = (c.launches.per_block * (blocks if d.kind != "unet" else 0) + c.launches.per_forward) / layers
            assert p.launches == pytest.approx(want, rel=6e-3), preset


def test_the_script_counts_the_presets_the_file_holds():
    proxies = _script().PROXIES
    counted = load_elementwise().counts
    assert set(proxies) == set(counted)
    assert list(_script().TRANSFORMERS_DECODERS) == load_elementwise().decoders.presets
    by_type = load_elementwise().decoders.by_model_type
    assert list(_script().DECODER_MODEL_TYPES) == list(by_type.launches)
    assert by_type.proxy == _script().DECODER_TYPES_PROXY
    for name, (presets, proxy, _) in proxies.items():
        assert list(presets) == list(counted[name].presets) and proxy == counted[name].proxy


def test_the_eager_counter_charges_each_kernel_its_inputs_and_outputs_and_views_nothing():
    torch = pytest.importorskip("torch")
    script = _script()

    class Block(torch.nn.Module):
        def forward(self, x, w):
            y = torch.nn.functional.layer_norm(x, (x.shape[-1],))  # reads x, writes y
            y = y.view(-1).view(x.shape)  # views: no kernel
            z = y @ w  # a GEMM: the kernel tables price it
            return torch.nn.functional.gelu(z) + x  # gelu reads z, writes; add reads both, writes

    x = torch.randn(64, 32, dtype=torch.bfloat16)
    w = torch.randn(32, 32, dtype=torch.bfloat16)
    moved, launches, kernels = script._count_eager(Block(), {"x": x, "w": w})
    tensor = x.numel() * 2
    assert launches == 4  # layer_norm, the GEMM, gelu, add: the host launches each; the views launch nothing
    big = (1 + 1) * tensor + (1 + 1) * tensor + (2 + 1) * tensor
    row_stats = 2 * x.shape[0] * 4  # layer_norm also writes each row's mean and 1/std (at most fp32)
    assert big <= moved <= big + row_stats
    # per kernel: layer_norm and gelu move 2 tensors, the add 3, and nothing else is an element-wise kernel
    assert len(kernels) == 3 and sum(kernels) == moved
    assert [k / tensor for k in kernels] == pytest.approx([2.0, 2.0, 3.0], rel=0.05)  # layer_norm: + row stats
    # of their 7 tensors' bytes, the 10, 30 and 50% points lie in the two kernels of 2 (4 of 7), 70 and 90% in the add's
    assert script.volume_quintiles(kernels, tensor) == pytest.approx((2.0, 2.0, 2.0, 3.0, 3.0), rel=0.05)


def test_the_volume_quintiles_are_the_volumes_at_the_midpoints_of_five_equal_shares_of_the_bytes():
    q = _script().volume_quintiles
    assert q([5], 1) == (5.0, 5.0, 5.0, 5.0, 5.0)  # one kernel: all its bytes at its volume
    # 2 + 2 + 3 + 8 = 15 bytes; the running total passes 1.5 at the first kernel, 4.5 at the third, 7.5, 10.5 and
    # 13.5 at the last, whose 8 bytes are more than half of them
    assert q([8, 2, 3, 2], 1) == (2.0, 3.0, 8.0, 8.0, 8.0)
    assert q([8, 2, 3, 2], 2) == (1.0, 1.5, 4.0, 4.0, 4.0)  # in units of 2 bytes


def test_the_kernel_volumes_rise_and_no_kernel_moves_more_than_its_blocks_traffic():
    """per_kernel (the passes eager element-wise kernels make at five points of their bytes): ordered from the
    smallest kernels to the largest, the middle one reads a tensor and writes one at least, and no kernel moves
    more than its block's passes."""
    for c in load_elementwise().counts.values():
        assert len(c.per_kernel) == 5 and list(c.per_kernel) == sorted(c.per_kernel), c.proxy
        for preset, p in c.presets.items():
            assert 1.0 <= c.per_kernel[2] and c.per_kernel[-1] <= p.eager, preset


def test_a_presets_own_kernel_volume_may_be_one_number_for_every_kernel(tmp_path):
    """A user's preset may give per_kernel as one number (every kernel streams that volume) or as points of its
    bytes; one number prices as a single point, so a larger volume never leaves more bytes in the cache."""
    doc = yaml.safe_load(CAT.source_of("models", "sana-0.6b").read_text())
    (tmp_path / "models").mkdir()
    steps = {}
    for volume in (2.0, 40.0):
        doc |= {"id": f"my-dit-{volume:g}", "elementwise_passes": {"eager": 50.0, "fused": 20.0, "per_kernel": volume}}
        doc["sources"] = doc.get("sources", {}) | {"elementwise_passes": "my own count of my model's code"}
        (tmp_path / "models" / f"my-dit-{volume:g}.yaml").write_text(yaml.safe_dump(doc))
        m = Catalog([*CAT.roots, tmp_path]).model(f"my-dit-{volume:g}")
        assert m.elementwise_passes.per_kernel == (volume,)
        steps[volume] = api.estimate(model=m.id, hardware="rtx-4090", presets=[tmp_path]).latency_s
    assert steps[40.0] > steps[2.0]


def test_a_presets_own_passes_without_a_kernel_volume_get_the_stand_ins_with_its_citation(tmp_path):
    doc = yaml.safe_load(CAT.source_of("models", "sana-0.6b").read_text())
    doc |= {"id": "my-dit", "elementwise_passes": {"eager": 50.0, "fused": 20.0, "counted": "my count"}}
    doc["sources"] = doc.get("sources", {}) | {"elementwise_passes": "my own count of my model's code"}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "my-dit.yaml").write_text(yaml.safe_dump(doc))
    m = Catalog([*CAT.roots, tmp_path]).model("my-dit")
    stand_in = load_elementwise().stand_in
    assert (m.elementwise_passes.eager, m.elementwise_passes.fused) == (50.0, 20.0)
    assert m.elementwise_passes.per_kernel == stand_in.per_kernel
    assert m.sources["elementwise_passes"] == "my own count of my model's code"
    assert stand_in.counted in m.sources["elementwise_passes.per_kernel"]


# ------------------------------------------------------------------------------- an AR decoder's prefill passes


def test_every_ar_preset_gets_the_counted_decoder_layers_prefill_passes_with_their_citation():
    counted = load_elementwise()
    want = counted.decoder_passes()
    for preset in CAT.ids("models"):
        m = CAT.model(preset)
        if m.architecture is None:
            assert m.decoder_passes is None, preset
            continue
        assert m.decoder_passes == want, preset
        assert counted.decoders.prefill.proxy in m.sources["decoder_passes"], preset
        assert "scripts/count_elementwise_passes.py" in m.sources["decoder_passes"], preset
    assert counted.decoders.prefill.proxy == _script().PREFILL_PROXY


def test_the_prefill_passes_are_the_counted_layer_split_by_its_widths():
    """The parts reproduce the proxy's own layer at each width it was counted at (hidden 256), fusing never adds
    bytes, and a wider FFN or KV only adds passes."""
    p = load_elementwise().decoders.prefill
    for layer in (p.eager, p.fused):
        assert min(layer.width, layer.ffn, layer.kv) >= 0
    for part in ("width", "ffn", "kv"):
        assert getattr(p.fused, part) <= getattr(p.eager, part), part
    for ffn, kv_heads in _script().PREFILL_WIDTHS:
        arch = CAT.model("emu3-gen").architecture.model_copy(
            update={"hidden": 256, "heads": 2, "kv_heads": kv_heads, "head_dim": 128, "ffn": ffn}
        )
        assert p.eager.of(arch) == pytest.approx(p.eager.width + p.eager.ffn * ffn / 256 + p.eager.kv * kv_heads / 2)
        assert p.fused.of(arch) < p.eager.of(arch)
