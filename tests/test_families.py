"""Generation families are plug-ins: each is one module of tokcost.records.families (its preset sections and
words) and one of tokcost.engine.families (its physics). No other file of the package names a family, and a new
family added as those two modules and a preset is priced by estimate, sweep and analyze with no other edit."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tokcost.engine.families import FAMILIES as PHYSICS
from tokcost.engine.families import Family
from tokcost.records.families import FAMILIES

PACKAGE = Path(__file__).resolve().parent.parent / "tokcost"
FAMILY_DIRS = (PACKAGE / "records" / "families", PACKAGE / "engine" / "families")


def _outside_family_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not any(d in p.parents for d in FAMILY_DIRS)]


def _family_mentions(path: Path, names: set[str]) -> list[str]:
    """Where ``path`` names a family: a string constant that is one of ``names``, or a comparison of a ``.family``
    attribute (or a ``family`` variable) with one."""
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(PACKAGE.parent) if PACKAGE.parent in path.parents else path
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in names:
            found.append(f"{where}:{node.lineno}: {node.value!r}")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            names_family = any(
                isinstance(s, ast.Attribute) and s.attr == "family" or isinstance(s, ast.Name) and s.id == "family"
                for s in sides
            )
            if names_family and any(isinstance(s, ast.Constant) and s.value in names for s in sides):
                found.append(f"{where}:{node.lineno}: a family compared with a name")
    return found


def test_no_file_outside_the_family_modules_names_a_family():
    files = _outside_family_modules()
    assert len(files) > 80  # the whole package is scanned, not an empty list
    names = set(FAMILIES) | {s.validation_family for s in FAMILIES.values()}
    mentions = [m for p in files for m in _family_mentions(p, names)]
    assert mentions == []


def test_the_scan_finds_a_family_check(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(m):\n    return m.family == "ar" or m.kind in {"diffusion"} or m.family != "training"\n')
    assert len(_family_mentions(bad, {"ar", "diffusion"})) == 3  # the constant and the comparison of "ar"


def test_each_family_has_a_schema_and_physics_that_follow_the_protocol():
    assert set(FAMILIES) == set(PHYSICS) and {"ar", "diffusion"} <= set(FAMILIES)
    for name, fam in PHYSICS.items():
        assert fam.schema is FAMILIES[name]
        for member in [m for m in dir(Family) if not m.startswith("_")]:
            assert hasattr(fam, member), f"{name} lacks {member}"
        assert fam.parallelism_labels.shape == (2, 2)


# A family that is not in tokcost: a one-pass generator (one forward of a convolutional generator per image),
# with its own preset section. It is added to a copy of the package as two new modules and one preset.
TOY_SCHEMA = '''
from pydantic import Field

from tokcost.records.base import Strict
from tokcost.records.families import FamilySchema


class Generator(Strict):
    """A network that makes an image in one forward."""

    params_b: float = Field(gt=0)
    pixels_per_token: int = Field(gt=0)
    native_width: int = Field(gt=0)
    native_height: int = Field(gt=0)
    min_side_px: int = Field(gt=0)
    max_side_px: int = Field(gt=0)


SCHEMA = FamilySchema(
    name="one-shot",
    label="one-shot",
    noun="a one-shot model",
    requires=(),
    size_section="generator",
    validation_family="one-shot",
    trains_on="samples",
    section="generator",
    section_model=Generator,
)
'''

TOY_PHYSICS = """
import numpy as np

from tokcost.engine import physics
from tokcost.engine.families import Memory, Priced
from tokcost.engine.tokens import TokenCount, side_tokens
from tokcost.errors import UsageError
from tokcost.records.families.one_shot import SCHEMA


class OneShot:
    schema = SCHEMA
    parallelism_labels = np.array([["none", "none"], ["none", "none"]])
    parallelisms = ()

    def cfg_mode(self, model):
        return "off"

    def replica_problem(self, model, gpus, parallelism, cfg_mode, ring=1):
        return f"{model.id} runs on one GPU"

    def split(self, model, gpus, parallelism, mode, ring=None):
        return np.ones_like(gpus), gpus, np.ones_like(gpus)

    def price(self, w):
        g = w.model.generator
        tokens = side_tokens(w.width, g.pixels_per_token, "width", True) * side_tokens(
            w.height, g.pixels_per_token, "height", True
        )
        flops = 2 * g.params_b * 1e9 * tokens * w.batch
        weights = g.params_b * 1e9 * w.wbytes
        compute, memory = flops / (w.P * w.eff.mfu), weights / (w.BW * w.eff.mbu)
        latency = np.maximum(compute, memory) + w.eff.fixed_per_step_s
        return Priced(
            latency_s=latency,
            breakdown_s={"forward": latency},
            breakdown_precision={"forward": w.cfg.precision},
            bound=np.where(compute >= memory, "compute", "memory"),
            overhead_bound=np.zeros_like(latency, dtype=bool),
            communication_s=0 * latency,
            tokens={"latent": tokens + 0 * latency},
            padded_width=-(-w.width // g.pixels_per_token) * g.pixels_per_token + 0 * latency,
            padded_height=-(-w.height // g.pixels_per_token) * g.pixels_per_token + 0 * latency,
            flops=flops,
            bytes=weights + 0 * latency,
            memory=Memory(weights=weights + 0 * latency, kv_cache=0 * latency, activations=0 * latency,
                          workspace=physics.WORKSPACE_BYTES + 0 * latency),
        )

    def tokens(self, model, width, height, frames, prompt_tokens, pad):
        f = model.generator.pixels_per_token
        w, h = side_tokens(width, f, "width", pad), side_tokens(height, f, "height", pad)
        return TokenCount(w, h, 1, w * h, w * h, 0, w * f, h * f, 1)

    def context_excess(self, model, tokens):
        return None

    def precision_note(self, model, precision):
        return f"{precision} applies to the generator"

    def pricing_note(self, cfg):
        return "operators priced on the sourced roofline (peak x efficiency)"

    def training(self, model, work):
        raise UsageError("no training formula for a one-shot generator")


FAMILY = OneShot()
"""

TOY_PRESET = """
id: toy-gen
name: Toy one-shot generator
family: one-shot
roles: [image]
repository: https://example.org/toy-gen
generator: {params_b: 1.0, pixels_per_token: 16, native_width: 512, native_height: 512, min_side_px: 256,
            max_side_px: 1024}
sources: {generator: "a test fixture"}
"""

SCRIPT = """
import json, tokcost
est = tokcost.estimate(model="toy-gen", hardware="h100-sxm", width=1024, height=1024, presets=[PRESETS])
rows = tokcost.sweep(models=["toy-gen", "sdxl"], hardware=["h100-sxm"], resolutions=[(512, 512), (1024, 1024)],
                     presets=[PRESETS])
spec = {"version": 1, "name": "toy", "product": {"kind": "image", "width": 512, "height": 512, "quality_tier": "draft"},
        "demand": {"requests_per_day": 10000}, "budget": {"latency_s": 5},
        "candidates": {"models": ["toy-gen", "sdxl"], "hardware": ["h100-sxm"]}}
plan = tokcost.analyze(spec, presets=[PRESETS]).specs[0]
toy = [c for c in plan.candidates if c.model == "toy-gen"]
print(json.dumps({"family": est.family, "latency_s": est.latency_s, "tokens": est.tokens, "flops": est.flops,
                  "notes": est.notes,
                  "bound": est.bound, "sweep_models": sorted(set(rows.columns["model"].tolist())),
                  "analyze_families": sorted({c.family for c in plan.candidates}),
                  "analyze_toy_feasible": any(c.feasible for c in toy)}))
"""


def test_a_new_family_is_two_modules_and_a_preset(tmp_path):
    copy = tmp_path / "src" / "tokcost"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for data in ("hardware", "models", "validation", "prices"):  # the checkout's presets, beside the package
        if (PACKAGE.parent / data).is_dir():
            (copy.parent / data).symlink_to(PACKAGE.parent / data)
    (copy / "records" / "families" / "one_shot.py").write_text(textwrap.dedent(TOY_SCHEMA))
    (copy / "engine" / "families" / "one_shot.py").write_text(textwrap.dedent(TOY_PHYSICS))
    presets = tmp_path / "presets"
    (presets / "models").mkdir(parents=True)
    (presets / "models" / "toy-gen.yaml").write_text(TOY_PRESET)
    script = SCRIPT.replace("PRESETS", repr(str(presets)))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path / "src", capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["family"] == "one-shot" and got["sweep_models"] == ["sdxl", "toy-gen"]
    # one forward over (1024 / 16)^2 tokens of a 1B-parameter network: 2 N T FLOPs
    assert got["tokens"]["latent"] == 64 * 64
    assert got["flops"] == pytest.approx(2 * 1e9 * 64 * 64)
    assert got["latency_s"] > 0 and got["bound"] in ("compute", "memory")
    assert got["notes"][0] == "operators priced on the sourced roofline (peak x efficiency)"  # the family's word
    # the planner ranks it with the others, and the recommendation words its family from the schema's label
    assert got["analyze_families"] == ["diffusion", "one-shot"] and got["analyze_toy_feasible"]


# ------------------------------------------------------------------------------------------------ masked decoding


def _masked(**kw):
    import tokcost

    return tokcost.estimate(model="amused-256", hardware="a100-80gb-sxm", precision="fp16", **kw)


def test_masked_decoding_reruns_the_whole_grid_every_step_with_both_guidance_branches():
    """aMUSEd-256: 12 steps over the 16 x 16 grid, each a forward of the U-ViT over all 256 tokens for the
    conditional and unconditional prompt at once (2 N T + attention per item), no KV cache."""
    from tokcost.api import catalog
    from tokcost.engine import physics

    m = catalog(None).model("amused-256")
    r = _masked(batch=4)
    assert r.family == "masked" and r.steps == 12 and r.cfg == "batched"
    assert r.tokens["latent"] == 256 and r.tokens["items_per_forward"] == 8  # 4 prompts x 2 guidance branches
    assert r.memory_gb["kv_cache"] == 0
    linear, attn = physics.denoiser_flops_split(m, 256, 256, 256)
    assert linear == pytest.approx(2 * 0.387e9 * 256)
    assert attn == pytest.approx(4 * 22 * 1024 * (256 * 256 + 256 * 77))
    vq = 7.28e12 * 256 * 256 / 1e6 * 4  # the VQ-GAN decodes each of the 4 images once
    assert r.flops == pytest.approx(12 * 8 * (linear + attn) + vq)


def test_masked_decoding_latency_is_linear_in_the_steps():
    twelve, twenty = _masked(), _masked(steps=20)
    step = twelve.breakdown_s["denoise"] / 12
    assert twenty.breakdown_s["denoise"] == pytest.approx(20 * step)
    assert twenty.latency_s - twelve.latency_s == pytest.approx(8 * step)


def test_masked_decoding_runs_on_one_gpu_and_takes_part_in_sweep_and_analyze():
    import tokcost
    from tokcost.errors import InputError, UsageError

    with pytest.raises((UsageError, InputError), match="one GPU"):
        _masked(gpus=2)
    rows = tokcost.sweep(models=["amused-256"], hardware=["a100-80gb-sxm"], resolutions=[(256, 256)], batches=[1, 8])
    assert set(rows.columns["model"]) == {"amused-256"} and rows.rows == 4  # eager and compiled x 2 batches
    assert set(rows.columns["steps"]) == {12.0} and (rows.columns["latency_s"] > 0).all()
    spec = {
        "version": 1,
        "name": "previews-256",
        "product": {"kind": "image", "width": 256, "height": 256, "quality_tier": "draft"},
        "demand": {"requests_per_day": 10000},
        "budget": {"latency_s": 5},
        "candidates": {"models": ["amused-256", "sd15"], "hardware": ["a100-80gb-sxm"]},
    }
    result = tokcost.analyze(spec).specs[0]
    mine = [c for c in result.candidates if c.model == "amused-256"]
    assert mine and all(c.family == "masked" and c.steps == 12 for c in mine)
    assert {f.family for f in result.recommendation.families} | {result.recommendation.choice.family} == {
        "masked",
        "diffusion",
    }


def scored_out_of_sample(family: str) -> list:
    """``family``'s published runs, after checking that there are at least 3 (issue 28), that the fit learns
    nothing from them (no fit case: the families that train the engine profiles do), that every one is scored,
    and that their median error, the held-out figure docs/validation.md reports, is at most 15%."""
    from tokcost.api import catalog
    from tokcost.core import fit as F
    from tokcost.core import validate as V
    from tokcost.io.measurements import load_entries

    cat = catalog(None)
    runs = [e for e in load_entries() if e.family == family]
    assert len(runs) >= 3
    assert not F._cases(runs, cat)
    rows = [V.price_entry(e, cat) for e in runs]
    assert all(r.scored for r in rows)
    assert V.summarise(rows)["median_rel_err"] <= 0.15
    return runs


def test_masked_entries_are_scored_out_of_sample():
    masked = scored_out_of_sample("masked")
    assert {e.hardware for e in masked} == {"a100-80gb-sxm", "rtx-4090"}


# ------------------------------------------------------------------------------------------------ next-scale


def test_next_scale_runs_one_forward_per_scale_over_a_growing_cached_prefix():
    """Infinity-2B at 1024 px: 13 scales, 10,521 tokens; scale k's n_k tokens attend to the S_k tokens of every
    scale so far (KV cache), plus the text; both guidance branches in one batch."""
    import tokcost
    from tokcost.api import catalog

    m = catalog(None).model("infinity-2b")
    s = m.generation.section_of(m)
    r = tokcost.estimate(model="infinity-2b", hardware="h100-sxm")
    assert r.family == "next-scale" and r.cfg == "batched" and r.steps is None
    assert r.tokens["scales"] == 13 and r.tokens["generated"] == 10521 and r.tokens["latent"] == 64 * 64
    L, d, X, N = s.layers, s.width, s.cross_attention_text_tokens, s.matmul_params_b * 1e9
    flops, prefix = 0.0, 0
    for side in s.scales:
        prefix += side * side
        flops += 2 * (2 * N * side * side + 4 * L * d * side * side * (prefix + X))  # x 2 guidance branches
    vae = m.vae.decode_tflops_per_mpixel * 1e12 * 1024 * 1024 / 1e6
    assert r.flops == pytest.approx(flops + vae)
    # the cache holds both branches' keys and values of every token: 2 x 10,521 x 2 L d x 2 bytes
    assert r.memory_gb["kv_cache"] == pytest.approx(2 * 10521 * 2 * L * d * 2 / 1e9)


def test_next_scale_entries_are_scored_out_of_sample():
    """The next-scale runs come from three sources and three GPUs."""
    from tokcost.core import validate as V

    runs = scored_out_of_sample("next-scale")
    assert len({V.source_group(e) for e in runs}) >= 3 and len({e.hardware for e in runs}) >= 3


def test_next_scale_costs_grow_with_the_batch_and_its_cache_with_it():
    import tokcost

    one = tokcost.estimate(model="infinity-2b", hardware="a100-80gb-sxm")
    eight = tokcost.estimate(model="infinity-2b", hardware="a100-80gb-sxm", batch=8)
    assert eight.latency_s > one.latency_s and eight.throughput_items_per_s > one.throughput_items_per_s
    assert eight.memory_gb["kv_cache"] == pytest.approx(8 * one.memory_gb["kv_cache"])


# ------------------------------------------------------------------------------------------------ hybrid (MAR)


def _mar(model="mar-l", **kw):
    import tokcost

    return tokcost.estimate(model=model, hardware="rtx-3090", precision="fp16", **kw)


def test_mar_unmasks_every_token_on_the_cosine_schedule():
    from tokcost.engine.families.hybrid import schedule

    masked, predicted = schedule(256, 64)
    assert predicted.sum() == 256 and masked[0] == 256 and (predicted >= 1).all()
    assert predicted[0] == 1  # floor(256 cos(pi / 128)) = 255 left masked after the first round
    assert (masked[1:] == masked[:-1] - predicted[:-1]).all() and predicted[-1] == masked[-1]


def test_mar_flops_are_its_encoder_decoder_and_head_passes_per_round():
    """MAR-L at batch 128, 64 rounds: per round the encoder over the buffer and the known tokens, the decoder over
    all 320 positions, 100 head steps over the tokens unmasked in the round, both guidance branches batched; the
    total is within 6% of the FLOPs LazyMAR publishes for the same run (35.05 TFLOP per image)."""
    from tokcost.api import catalog
    from tokcost.engine.families.hybrid import schedule

    m = catalog(None).model("mar-l")
    h = m.generation.section_of(m)
    r = _mar(batch=128)
    assert r.family == "hybrid" and r.steps == 64 and r.tokens["items_per_forward"] == 256
    n, T, B = 256, 256, h.buffer_tokens
    d, w, D, C = h.encoder.width, h.head.width, h.head.blocks, m.vae.channels
    head_params = 5 * D * w * w + C * w + 256 * w + w * w + d * w + 2 * w * w + 2 * C * w
    flops = 0.0
    for m_k, p_k in zip(*schedule(T, 64), strict=True):
        e = B + T - m_k
        flops += h.encoder.layers * (2 * 12 * d * d * n * e + 4 * n * e * e * d) + 2 * n * e * d * d
        flops += h.decoder.layers * (2 * 12 * d * d * n * (B + T) + 4 * n * (B + T) ** 2 * d)
        flops += 100 * 2 * n * p_k * head_params
    flops += m.vae.decode_tflops_per_mpixel * 1e12 * 256 * 256 / 1e6 * 128
    assert r.flops == pytest.approx(flops)
    assert r.flops / 128 == pytest.approx(35.05e12, rel=0.06)


@pytest.mark.parametrize("model", ["mar-b", "mar-l", "mar-h"])
def test_mar_reads_every_weight_once_per_round_and_per_head_step(model):
    """The bytes an estimate moves: each round reads the encoder's, decoder_embed's and decoder's GEMM weights
    once, each of the 64 x 100 head steps the head's, 2 bytes each at fp16, whatever the batch. At batch 1 those
    reads outweigh the arithmetic (the head rereads its weights for a few rows a step); at batch 128 they do not."""
    from tokcost.api import catalog
    from tokcost.engine.estimate import Config, estimate_arrays
    from tokcost.io.engines import load_engines

    cat = catalog(None)
    m = cat.model(model)
    h = m.generation.section_of(m)
    w, C, ratio = h.head.width, m.vae.channels, h.mlp_ratio
    per_round = sum(s.layers * (4 + 2 * ratio) * s.width**2 for s in (h.encoder, h.decoder))
    per_round += h.encoder.width * h.decoder.width  # decoder_embed
    per_step = h.head.blocks * 5 * w * w + C * w + 256 * w + w * w + h.decoder.width * w + 2 * w * w + 2 * C * w
    for batch, bound in ((1, "memory"), (128, "compute")):
        cfg = Config(profiles=load_engines(), model=m, hardware=cat.hardware("rtx-3090"), precision="fp16", batch=batch)
        est = estimate_arrays(cfg)
        assert float(est.bytes) == pytest.approx(2.0 * (64 * per_round + 64 * 100 * per_step), rel=1e-12)
        assert str(est.bound) == bound, batch


def test_mar_head_step_launches_are_counted_from_its_code():
    """docs/methodology.md itemises one head step: 95 launches plus 13 per residual block."""
    from tokcost.engine.families.hybrid import head_launches

    assert [head_launches(d) for d in (6, 8, 12)] == [95 + 13 * 6, 95 + 13 * 8, 95 + 13 * 12]


def test_mar_head_costs_at_least_a_launch_per_kernel_and_binds_at_batch_one():
    """Each of the 6,400 sequential head steps launches 199 kernels (MAR-L); a launch is the eager profile's
    fitted host time per block over the 63 kernels of the LlamaGen block it is fitted on. At batch 1 the
    launches are most of the head's time; at batch 128 its GEMMs take longer than their launches."""
    from tokcost.engine.estimate import host_speed
    from tokcost.engine.families.hybrid import head_launches
    from tokcost.engine.physics import REFERENCE_LAUNCHES
    from tokcost.engine.profiles import efficiency
    from tokcost.io.catalog import Catalog
    from tokcost.io.engines import load_engines

    hw = Catalog.default().hardware("rtx-3090")  # its workstation host launches faster than the reference
    eff = efficiency(load_engines()["eager"], hw, host_speed=host_speed(hw))
    floor = 64 * 100 * head_launches(8) * eff.host_per_layer_s / REFERENCE_LAUNCHES
    one, big = _mar(batch=1), _mar(batch=128)
    assert floor <= one.breakdown_s["diffusion_head"] <= 1.25 * floor
    assert one.overhead_bound and not big.overhead_bound
    assert big.breakdown_s["diffusion_head"] > 1.5 * floor
    # a faster host shortens the launch-bound head, not the GPU-bound transformer passes at batch 128
    slow, fast = _mar(batch=1, host=1.0), _mar(batch=1, host=2.0)
    assert fast.breakdown_s["diffusion_head"] < 0.6 * slow.breakdown_s["diffusion_head"]
    assert _mar(batch=128, host=2.0).breakdown_s["transformer"] == pytest.approx(
        big.breakdown_s["transformer"], rel=0.02
    )


def test_mar_runs_on_one_gpu_and_takes_part_in_sweep_and_analyze():
    import tokcost
    from tokcost.errors import InputError, UsageError

    with pytest.raises((UsageError, InputError), match="one GPU"):
        _mar(gpus=2)
    rows = tokcost.sweep(models=["mar-b"], hardware=["rtx-3090"], resolutions=[(256, 256)], batches=[1, 32, 128])
    assert set(rows.columns["model"]) == {"mar-b"} and rows.rows == 6  # eager and compiled x 3 batches
    eager = rows.columns["engine"] == "eager"
    per_s = rows.columns["throughput_items_per_s"][eager]
    assert set(rows.columns["steps"]) == {64.0} and (per_s[1:] > per_s[:-1]).all()
    spec = {
        "version": 1,
        "name": "imagenet-256",
        "product": {"kind": "image", "width": 256, "height": 256, "quality_tier": "draft"},
        "demand": {"requests_per_day": 10000},
        "budget": {"latency_s": 120},
        "candidates": {"models": ["mar-b", "amused-256"], "hardware": ["h100-sxm"]},
    }
    result = tokcost.analyze(spec).specs[0]
    mine = [c for c in result.candidates if c.model == "mar-b"]
    # priced, then set aside: MAR is conditioned on ImageNet classes, not prompts
    assert mine and all(c.family == "hybrid" and c.steps == 64 and c.latency_s.central > 0 for c in mine)
    assert all(not c.feasible for c in mine) and result.recommendation.choice.model == "amused-256"


def test_mar_entries_are_scored_out_of_sample():
    """MAR's runs price each of its three sizes."""
    assert {e.model for e in scored_out_of_sample("hybrid")} == {"mar-b", "mar-l", "mar-h"}
