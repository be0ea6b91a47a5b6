"""Analyse loaded specs (:func:`tokcost.io.specs.load_specs`) into one result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from tokcost.core.plan import analyze_spec
from tokcost.io.catalog import Catalog
from tokcost.io.located import Located
from tokcost.io.specs import load_calibration_file, load_specs
from tokcost.records.results import AnalysisResult
from tokcost.records.spec import Spec
from tokcost.version import __version__


def analyze_loaded(
    loaded: list[tuple[str, Spec, Located]],
    catalog: Catalog,
    calibration=None,
    prices: Mapping[str, float] | None = None,
    today: dt.date | None = None,
    progress=None,
) -> AnalysisResult:
    """Analyse specs from :func:`load_specs` with a loaded calibration (or None) and ``--price`` overrides;
    ``today`` (default: the clock) dates the notes on old prices; ``progress(done, total)``, when given, is
    called after each spec."""
    results = []
    for f, spec, doc in loaded:
        results.append(analyze_spec(spec, f, catalog, calibration, doc, prices, today))
        if progress is not None:
            progress(len(results), len(loaded))
    return AnalysisResult(
        tool_version=__version__, calibration=calibration.path if calibration is not None else None, specs=results
    )


def analyze_files(files: list[str], catalog: Catalog, calibration_path=None) -> AnalysisResult:
    calibration = load_calibration_file(calibration_path, catalog)  # its problems are reported before the specs'
    return analyze_loaded(load_specs(files, catalog), catalog, calibration)
