"""Find, load and cache presets: the built-in ones and the user's own.

Built-in presets live in ``tokcost/data/hardware/`` and ``tokcost/data/models/`` (:data:`tokcost.io.paths.PRESETS_DIR`),
in a checkout and in the wheel alike. Users add or override presets with ``--presets DIR`` (repeatable) or the environment
variable ``TOKCOST_PRESETS`` (directories separated by ``os.pathsep``); each directory holds ``hardware/``
and/or ``models/`` subfolders of ``<id>.yaml`` files. Later directories override earlier ones, user
directories override the built-ins. Files are parsed only when their id is asked for.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from tokcost.errors import ARGUMENTS, InputError, Problem
from tokcost.io.parse import load_model
from tokcost.io.paths import PRESETS_DIR
from tokcost.records.presets import HardwarePreset, ModelPreset, unsourced_fields
from tokcost.text import quoted

ENV_VAR = "TOKCOST_PRESETS"
ARGUMENT = {"hardware": "hardware", "models": "model"}  # the argument (flag) naming a preset of each kind
MAX_SUGGESTIONS = 50
KINDS: dict[str, type[HardwarePreset] | type[ModelPreset]] = {"hardware": HardwarePreset, "models": ModelPreset}


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL: not a folder it has
        return False


def user_dirs(extra: list[str] | None = None) -> list[Path]:
    env = [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return [Path(p) for p in env + list(extra or [])]


@dataclass
class Catalog:
    roots: list[Path]
    _files: dict[str, dict[str, Path]] = field(default_factory=dict)
    _cache: dict[tuple[str, str], HardwarePreset | ModelPreset] = field(default_factory=dict)
    _folded: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # kind -> lower-case id -> ids
    _suggested: int = 0  # unknown ids given a suggestion so far (each costs a pass over the catalogue)
    _extra: dict[str, ModelPreset] = field(default_factory=dict)  # models with no file: a spec's decoder configs

    @classmethod
    def default(cls, extra_dirs: list[str] | None = None) -> Catalog:
        dirs = user_dirs(extra_dirs)
        missing = [d for d in dirs if not _is_dir(d)]
        if missing:
            raise InputError([Problem(str(d), 0, 0, "presets", "preset directory does not exist") for d in missing])
        return cls([PRESETS_DIR, *dirs])

    def _index(self, kind: str) -> dict[str, Path]:
        if kind not in self._files:
            found: dict[str, Path] = {}
            for root in self.roots:
                folder = root / kind
                if folder.is_dir():
                    for f in sorted(folder.glob("*.yaml")):
                        found[f.stem] = f
            self._files[kind] = found
        return self._files[kind]

    def with_models(self, models: dict[str, ModelPreset]) -> Catalog:
        """This catalogue (sharing its index and cache) in which :meth:`get` also finds ``models`` by their ids:
        models that have no preset file (a spec's decoders read from config files). They are not presets, so
        :meth:`ids` and :meth:`all` leave them out."""
        if not models:
            return self
        return Catalog(self.roots, self._files, self._cache, self._folded, self._suggested, {**self._extra, **models})

    def ids(self, kind: str) -> list[str]:
        return sorted(self._index(kind))

    def resolve(self, kind: str, preset_id: str) -> str | None:
        """The preset id ``preset_id`` names: itself, or the one id equal to it but for letter case (``SDXL`` is
        ``sdxl``); None when there is none."""
        index = self._index(kind)
        if preset_id in index or (kind == "models" and preset_id in self._extra):
            return preset_id
        if kind not in self._folded:
            folded: dict[str, list[str]] = {}
            for i in index:
                folded.setdefault(i.lower(), []).append(i)
            self._folded[kind] = folded
        same = self._folded[kind].get(preset_id.lower(), [])
        return same[0] if len(same) == 1 else None

    def has(self, kind: str, preset_id: str) -> bool:
        return self.resolve(kind, preset_id) is not None

    def family(self, kind: str, name: str) -> list[str]:
        """The ids a family name stands for: ``A100`` -> a100-40gb-sxm, a100-80gb-pcie, a100-80gb-sxm (the ids
        that start with the name, letter case aside, followed by a dash)."""
        prefix = name.lower().rstrip("-") + "-"
        return [i for i in self.ids(kind) if i.lower().startswith(prefix)] if name.strip("-") else []

    def suggest(self, kind: str, preset_id: str) -> str:
        """A hint for an unknown id: its family's members or the closest id. Only the first MAX_SUGGESTIONS unknown
        ids of a catalogue get one, so that checking a list of many unknown ids stays linear in its length."""
        self._suggested += 1
        if self._suggested > MAX_SUGGESTIONS or len(preset_id) > 200:
            return ""
        members = self.family(kind, preset_id)
        if members:
            return f"; {preset_id} is a family: {', '.join(members)}"
        lower = {i.lower(): i for i in self.ids(kind)}
        close = difflib.get_close_matches(preset_id.lower(), list(lower), n=1, cutoff=0.5)
        return f"; did you mean {lower[close[0]]}?" if close else ""

    def unknown_message(self, kind: str, preset_id: str) -> str:
        noun = "hardware" if kind == "hardware" else "model"
        return f"unknown {noun} id {quoted(preset_id)}{self.suggest(kind, preset_id)}"

    def get(self, kind: str, preset_id: str):
        """The preset ``preset_id`` names (letter case aside); an unknown id raises :class:`InputError` naming the
        argument (``hardware`` or ``model``), with a suggestion or the family's members."""
        found = self.resolve(kind, preset_id)
        if found is None:
            raise InputError([Problem(ARGUMENTS, 0, 0, ARGUMENT[kind], self.unknown_message(kind, preset_id))])
        if kind == "models" and found in self._extra:
            return self._extra[found]
        key = (kind, found)
        if key not in self._cache:
            self._cache[key] = load_preset(kind, self._index(kind)[found])
        return self._cache[key]

    def hardware(self, preset_id: str) -> HardwarePreset:
        return self.get("hardware", preset_id)

    def model(self, preset_id: str) -> ModelPreset:
        return self.get("models", preset_id)

    def all(self, kind: str) -> list:
        return [self.get(kind, i) for i in self.ids(kind)]

    def source_of(self, kind: str, preset_id: str) -> Path:
        return self._index(kind)[self.resolve(kind, preset_id) or preset_id]


def load_preset(kind: str, path: Path) -> HardwarePreset | ModelPreset:
    preset, doc = load_model(KINDS[kind], path)
    problems = []
    if preset.id != path.stem:
        problems.append(
            Problem(str(path), *doc.where(("id",)), "id", f"id {preset.id!r} must match the file name {path.stem!r}")
        )
    for field_path in unsourced_fields(preset):
        parts = tuple(int(p) if p.isdigit() else p for p in field_path.split("."))
        problems.append(
            Problem(
                str(path),
                *doc.where(parts),
                field_path,
                "no source: add a citation under 'sources' for this field or its section",
            )
        )
    if problems:
        raise InputError(problems)
    if isinstance(preset, ModelPreset):
        preset = _with_counts(preset)
    return preset


def _with_counts(preset: ModelPreset) -> ModelPreset:
    """Lay the generated counts (element-wise passes, eager launches per layer) over a model preset that does not
    set its own, each with its citation."""
    elementwise = preset.generation.elementwise
    decoder = preset.architecture is not None and preset.decoder_passes is None
    if not elementwise and not decoder and preset.launches_per_layer is not None:
        return preset
    from tokcost.io.elementwise import load_elementwise

    counts = load_elementwise()
    update: dict = {}  # the counts laid over the preset, each cited from the generated file
    own: dict = {}  # the preset's own counts, completed
    passes = preset.elementwise_passes
    if elementwise and passes is None:
        update["elementwise_passes"] = counts.for_preset(preset.id)
    elif elementwise and passes is not None and passes.per_kernel is None:  # its own passes, without a kernel volume
        own["elementwise_passes"] = passes.model_copy(update={"per_kernel": counts.stand_in.per_kernel})
    if decoder:
        update["decoder_passes"] = counts.decoder_passes()
    if preset.launches_per_layer is None:
        launches = counts.launches_for(preset.id, elementwise)
        if launches is not None:
            update["launches_per_layer"] = launches
    if not update and not own:
        return preset
    sources = preset.sources | {field: counts.source(value) for field, value in update.items()}
    if own:
        sources["elementwise_passes.per_kernel"] = f"{counts.stand_in.counted} ({counts.source(counts.stand_in)})"
    return preset.model_copy(update=update | own | {"sources": sources})
