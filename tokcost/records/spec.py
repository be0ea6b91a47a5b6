"""The product spec: what a team wants to build, its demand and its budget (``version: 1``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from tokcost.io.catalog import Catalog
from tokcost.errors import InputError, Problem
from tokcost.io.parse import load_model
from tokcost.records.presets import Strict
from tokcost.records.schema import Field
from tokcost.io.located import Located, dotted

SPEC_VERSION = 1
MAX_SIDE_PX = 8192  # larger than any preset serves; per-model limits are checked against the presets
Engine = Literal["eager", "compiled", "vllm"]
Precision = Literal["bf16", "fp16", "fp8", "int8", "int4"]


def _num(gt=None, ge=None, le=None):
    return Field(gt=gt, ge=ge, le=le, allow_inf_nan=False)


class Product(Strict):
    kind: Literal["image", "video", "perception"]
    width: Annotated[int, Field(ge=16, le=MAX_SIDE_PX)]
    height: Annotated[int, Field(ge=16, le=MAX_SIDE_PX)]
    frames: Annotated[int, Field(ge=1, le=10_000)] | None = None
    fps: Annotated[float, _num(gt=0, le=240)] | None = None
    seconds: Annotated[float, _num(gt=0, le=600)] | None = None
    prompt_tokens: Annotated[int, Field(ge=1, le=131_072)] | None = None
    answer_tokens: Annotated[int, Field(ge=1, le=32_768)] | None = None
    quality_tier: Literal["draft", "standard", "premium"] = "standard"
    steps: Annotated[int, Field(ge=1, le=1000)] | None = None  # diffusion steps; default: each model's own

    def frame_count(self) -> int | None:
        if self.kind != "video":
            return None
        if self.frames is not None:
            return self.frames
        return max(1, round(self.seconds * self.fps))


class Demand(Strict):
    requests_per_day: Annotated[float, _num(gt=0, le=1e11)]
    peak_to_mean: Annotated[float, _num(ge=1, le=100)] = 1.0


class Budget(Strict):
    latency_s: Annotated[float, _num(gt=0, le=1e6)]
    cost_per_item_usd: Annotated[float, _num(gt=0, le=1e6)] | None = None
    monthly_usd: Annotated[float, _num(gt=0, le=1e12)] | None = None


class Candidates(Strict):
    models: list[str] | None = Field(default=None, min_length=1)
    hardware: list[str] | None = Field(default=None, min_length=1)
    engines: list[Engine] | None = Field(default=None, min_length=1)
    precision: Precision = "bf16"


class Spec(Strict):
    version: int
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    product: Product
    demand: Demand
    budget: Budget
    candidates: Candidates = Candidates()


def semantic_problems(spec: Spec, doc: Located, catalog: Catalog) -> list[Problem]:
    """Checks that need more than one field or the presets: kind-specific fields, ids, resolutions."""
    out: list[Problem] = []

    def add(path: tuple, msg: str, key: bool = False):
        out.append(Problem(doc.file, *doc.where(path, key=key), dotted(path), msg))

    if spec.version != SPEC_VERSION:
        add(("version",), f"unsupported spec version {spec.version}; this tokcost reads version {SPEC_VERSION}")
    p = spec.product
    if p.kind == "video":
        if p.frames is None and (p.seconds is None or p.fps is None):
            add(("product",), "a video product needs frames, or seconds with fps")
        if p.frames is not None and p.seconds is not None:
            add(("product", "seconds"), "give frames or seconds (with fps), not both")
    else:
        for f in ("frames", "seconds", "fps"):
            if getattr(p, f) is not None:
                add(("product", f), f"only a video product has {f}", key=True)
    if p.kind == "perception":
        for f in ("prompt_tokens", "answer_tokens"):
            if getattr(p, f) is None:
                add(("product", f), f"a perception product needs {f}")
    elif p.answer_tokens is not None:
        add(("product", "answer_tokens"), "only a perception product has answer_tokens", key=True)
    for kind, field in (("models", "models"), ("hardware", "hardware")):
        for i, pid in enumerate(getattr(spec.candidates, field) or []):
            if not catalog.has(kind, pid):
                add(("candidates", field, i), catalog.unknown_message(kind, pid))
            elif (getattr(spec.candidates, field) or []).index(pid) != i:
                add(("candidates", field, i), f"{pid!r} is listed twice")
            else:
                try:  # a user's preset gets the same checks as the spec, reported at its own file:line:col
                    preset = catalog.get(kind, pid)
                except InputError as exc:
                    add(("candidates", field, i), f"preset {pid!r} ({catalog.source_of(kind, pid)}) is invalid")
                    out.extend(exc.problems)
                    continue
                if kind == "models" and p.kind not in preset.roles:
                    add(("candidates", field, i), f"{pid} cannot serve this {p.kind} product "
                                                   f"(it serves: {', '.join(preset.roles)})")
    return out


def load_spec(path: str | Path, catalog: Catalog) -> tuple[Spec, Located]:
    spec, doc = load_model(Spec, path)
    problems = semantic_problems(spec, doc, catalog)
    if problems:
        raise InputError(problems)
    return spec, doc


def spec_json_schema() -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **Spec.model_json_schema(),
            "title": f"tokcost product spec (version {SPEC_VERSION})"}
