"""The engine profiles shipped in ``tokcost/data/engines.yaml``, loaded once per process."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from tokcost.io.parse import load_model
from tokcost.io.paths import ENGINES_FILE
from tokcost.records.engines import EngineFile, EngineProfile


@lru_cache(maxsize=1)
def load_engines() -> Mapping[str, EngineProfile]:
    """Engine name -> profile (eager, compiled, vllm), read-only: the table every estimate is priced with."""
    data, _ = load_model(EngineFile, ENGINES_FILE)
    return MappingProxyType({name: getattr(data, name) for name in EngineFile.model_fields})
