"""The engine profiles shipped in ``tokcost/data/engines.yaml`` and the calibrated error bands in
``tokcost/data/error_bands.yaml``, each loaded once per process."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from tokcost.io.parse import load_model
from tokcost.io.paths import ENGINES_FILE, ERROR_BANDS_FILE
from tokcost.records.engines import EngineFile, EngineProfile, ErrorBand, ErrorBandFile


@lru_cache(maxsize=1)
def load_engines() -> Mapping[str, EngineProfile]:
    """Engine name -> profile (eager, compiled, vllm, vllm-0.4), read-only: the table every estimate is priced
    with. A profile's name is its key in the file (the field's alias where the key is not a Python name)."""
    data, _ = load_model(EngineFile, ENGINES_FILE)
    return MappingProxyType({f.alias or name: getattr(data, name) for name, f in EngineFile.model_fields.items()})


def offered(profiles: Mapping[str, EngineProfile], family: str) -> list[str]:
    """The engines analyze and sweep price for a model family when none is asked for: those that serve it, less
    the dated profiles that a newer one supersedes."""
    return [name for name, p in profiles.items() if p.runs(family) and p.superseded_by is None]


@lru_cache(maxsize=1)
def load_error_bands() -> Mapping[str, ErrorBand]:
    """Validation family -> its calibrated band (ar, diffusion-image, video, multi-gpu), read-only."""
    data, _ = load_model(ErrorBandFile, ERROR_BANDS_FILE)
    return MappingProxyType({str(family): band for family, band in data.families.items()})
