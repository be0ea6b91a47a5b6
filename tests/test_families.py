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

    def replica_problem(self, model, gpus, parallelism, cfg_mode):
        return f"{model.id} runs on one GPU"

    def split(self, gpus, parallelism, mode):
        return np.ones_like(gpus), gpus

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
print(json.dumps({"family": est.family, "latency_s": est.latency_s, "tokens": est.tokens, "flops": est.flops,
                  "bound": est.bound, "sweep_models": sorted(set(rows.columns["model"].tolist()))}))
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
