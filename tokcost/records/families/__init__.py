"""Generation families as the records see them: the preset sections each one needs, the section it owns, and
the words and groupings the other layers use for it (its label, its validation family, how it trains).

One module of this package per family, each defining ``SCHEMA``, a :class:`FamilySchema`; :data:`FAMILIES` finds
them with :mod:`pkgutil`, so a new family is a new module here (and its physics in
:mod:`tokcost.engine.families`): nothing else names a family. ``tests/test_families.py`` checks that.
"""

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

# The validation summaries that are not a generation family's own: video (any family's clips), training runs,
# and every run on more than one GPU.
SHARED_VALIDATION_FAMILIES = ("video", "training", "multi-gpu")


@dataclass(frozen=True)
class FamilySchema:
    """What a family's presets hold and how the rest of tokcost words and groups it.

    ``requires``: the :class:`~tokcost.records.presets.ModelPreset` sections a preset of the family must have;
    ``section``/``section_model``: the section the family owns (its key in the YAML and its pydantic model), or
    None; ``size_section``: the required section that holds ``min_side_px``/``max_side_px``."""

    name: str  # the value of a preset's ``family:``
    label: str  # in sentences: "the best autoregressive option"
    noun: str  # "an AR model"
    requires: tuple[str, ...]
    size_section: str
    validation_family: str  # the summary its single-GPU images count in (tokcost validate, the error bands)
    trains_on: Literal["tokens", "samples"]  # tokcost train: tokens seen (a decoder) or samples seen
    perception: bool = False  # may serve the perception role (read images)
    steps: bool = False  # takes a number of sampling steps (a spec's or sweep's steps apply)
    kv_cache: bool = False  # holds a KV cache (--kv-dtype applies)
    attention_kernel: bool = False  # its attention kernel is chosen (--attention applies)
    bench_decoder: bool = False  # its passes are the decoder steps `tokcost bench` measures
    elementwise: bool = False  # prices its blocks' element-wise traffic (a preset's elementwise_passes)
    # its validation entries train the engine profiles' fitted parameters (tokcost validate --fit); a family added
    # later is scored with them as fitted, so its errors are out of sample and the other families' numbers stay
    fitted: bool = False
    section: str | None = None
    section_model: type[BaseModel] | None = None

    def section_of(self, model: Any) -> Any:
        """The model's own section of this family (``section_model``), which its validator requires."""
        if self.section is None:
            raise ValueError(f"the {self.name} family owns no preset section")
        return getattr(model, self.section)

    def native_size(self, model: Any) -> tuple[int, int]:
        """The width and height the model generates at by default."""
        sec = getattr(model, self.size_section)
        return (sec.native_width, sec.native_height) if hasattr(sec, "native_width") else (sec.width, sec.height)

    def side_limits(self, model: Any) -> tuple[int, int]:
        """The smallest and largest side in pixels the model serves."""
        sec = getattr(model, self.size_section)
        return sec.min_side_px, sec.max_side_px

    def max_frames(self, model: Any) -> int | None:
        """The most frames it generates in one clip (None: no limit in its preset)."""
        return getattr(getattr(model, self.size_section), "max_frames", None)

    def params_b(self, model: Any) -> float:
        """Billions of parameters of the network that runs every pass: the first of its sections with a
        ``params_b``, its own section first (next-scale's transformer, MAR's; else the decoder, the denoiser: a
        required VAE also has one)."""
        sections = (*((self.section,) if self.section else ()), *self.requires)
        return next(getattr(model, s).params_b for s in sections if hasattr(getattr(model, s), "params_b"))

    def native_frames(self, model: Any) -> int:
        """Frames of a clip when none are given (1: the family makes images, or its preset gives none)."""
        return getattr(getattr(model, self.size_section), "frames", None) or 1

    def default_steps(self, model: Any) -> int | None:
        """Sampling steps when none are given (None: the family takes none)."""
        return None


def _discover() -> dict[str, FamilySchema]:
    found: dict[str, FamilySchema] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        schema = importlib.import_module(f"{__name__}.{info.name}").SCHEMA
        if schema.name in found:
            raise ValueError(f"two modules define the family {schema.name!r}")
        found[schema.name] = schema
    return found


FAMILIES: dict[str, FamilySchema] = _discover()
VALIDATION_FAMILIES: tuple[str, ...] = tuple(
    dict.fromkeys([*(s.validation_family for s in FAMILIES.values()), *SHARED_VALIDATION_FAMILIES])
)


def check_known(names: Iterable[str], known: Iterable[str], wildcard: str | None = None) -> None:
    """Refuse the first of ``names`` that is neither one of ``known`` (generation or validation families) nor
    ``wildcard`` ("any", "all"), naming the choices: the one wording of an unknown family in every record."""
    choices = [*([wildcard] if wildcard else []), *known]
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise ValueError(f"unknown family {unknown[0]!r}; choose from {', '.join(choices)}")


def schema(name: str) -> FamilySchema:
    """The family named ``name`` (a preset's ``family:``, validated on load)."""
    return FAMILIES[name]


def label(name: str) -> str:
    """A family's name in sentences (a family not known here, in a saved result: its own name)."""
    return FAMILIES[name].label if name in FAMILIES else name
