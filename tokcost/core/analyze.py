"""Load specs (every problem of every file gathered before reporting) and analyse them into one result."""

from __future__ import annotations

import glob
from pathlib import Path

from tokcost import __version__
from tokcost.io.catalog import Catalog
from tokcost.errors import InputError, Problem, UsageError
from tokcost.core.plan import analyze_spec
from tokcost.records.results import AnalysisResult
from tokcost.records.spec import Spec, load_spec
from tokcost.io.located import Located


def expand_paths(args: list[str]) -> list[str]:
    """Files as given, directories as their *.yaml/*.yml (sorted), globs expanded; a missing path is exit 2."""
    files: list[str] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            files += [str(f) for f in found]
        elif any(ch in arg for ch in "*?["):
            files += sorted(glob.glob(arg, recursive=True))
        elif p.exists() or p.is_symlink():
            files.append(arg)
        else:
            raise InputError([Problem(arg, 0, 0, "(file)", "no such file or directory")])
    if not files:
        raise UsageError(f"no spec files found in: {' '.join(args)}")
    return list(dict.fromkeys(files))


def load_specs(files: list[str], catalog: Catalog) -> list[tuple[str, Spec, Located]]:
    loaded, problems = [], []
    for f in files:
        try:
            spec, doc = load_spec(f, catalog)
            loaded.append((f, spec, doc))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return loaded


def load_calibration_file(path):
    """The calibration at ``path`` (None: none)."""
    if path is None:
        return None
    from tokcost.records.calibration import load_calibration

    return load_calibration(path)


def analyze_loaded(loaded: list[tuple[str, Spec, Located]], catalog: Catalog, calibration=None) -> AnalysisResult:
    """Analyse specs from :func:`load_specs` with a loaded calibration (or None)."""
    results = [analyze_spec(spec, f, catalog, calibration, doc) for f, spec, doc in loaded]
    return AnalysisResult(tool_version=__version__, calibration=calibration.path if calibration is not None else None,
                          specs=results)


def analyze_files(files: list[str], catalog: Catalog, calibration_path=None) -> AnalysisResult:
    calibration = load_calibration_file(calibration_path)  # its problems are reported before the specs'
    return analyze_loaded(load_specs(files, catalog), catalog, calibration)
