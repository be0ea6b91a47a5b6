"""tokcost: plan the latency, memory, throughput and cost of image and video generation products.

The Python API (see docs/api.md): :func:`analyze`, :func:`estimate`, :func:`train`, :func:`tokens`,
:func:`sweep` (and :func:`sweep_stream` for sweeps of any size), :func:`simulate` (a discrete-event check of a
spec's fleet), :func:`load_spec`, and the CI's :func:`check`, :func:`diff` and :func:`validate`; what
:func:`estimate` prices is one :class:`EstimateRequest` (or its fields as keyword arguments); bad input raises
:class:`InputError`. The functions load on first use, so that
``import tokcost`` (which every ``tokcost`` command does) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokcost.errors import InputError, Problem
from tokcost.version import __version__

API = (
    "analyze",
    "estimate",
    "train",
    "tokens",
    "sweep",
    "sweep_stream",
    "simulate",
    "load_spec",
    "catalog",
    "check",
    "diff",
    "validate",
    "EstimateRequest",
)
__all__ = [*API, "InputError", "Problem", "__version__"]

if TYPE_CHECKING:
    from tokcost.api import EstimateRequest as EstimateRequest
    from tokcost.api import analyze as analyze
    from tokcost.api import catalog as catalog
    from tokcost.api import check as check
    from tokcost.api import diff as diff
    from tokcost.api import estimate as estimate
    from tokcost.api import load_spec as load_spec
    from tokcost.api import simulate as simulate
    from tokcost.api import sweep as sweep
    from tokcost.api import sweep_stream as sweep_stream
    from tokcost.api import tokens as tokens
    from tokcost.api import train as train
    from tokcost.api import validate as validate


def __getattr__(name: str):
    if name in API:
        from tokcost import api

        return getattr(api, name)
    raise AttributeError(f"module 'tokcost' has no attribute {name!r}")
