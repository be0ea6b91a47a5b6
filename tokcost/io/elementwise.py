"""The counts of the built-in presets, element-wise passes and eager kernel launches per layer
(tokcost/data/generated/elementwise_passes.yaml, written by scripts/count_elementwise_passes.py), read once per
process. :func:`tokcost.io.catalog.load_preset` lays them over a model preset that does not set its own."""

from __future__ import annotations

from functools import lru_cache

from tokcost.io import paths
from tokcost.io.parse import load_model
from tokcost.records.elementwise import ElementwiseFile


@lru_cache(maxsize=1)
def load_elementwise() -> ElementwiseFile:
    """The generated counts, with how they were counted."""
    return load_model(ElementwiseFile, paths.ELEMENTWISE_FILE)[0]
