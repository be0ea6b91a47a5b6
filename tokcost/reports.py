"""Example reports: for every spec in a directory, write ``<reports>/<stem>.md``, ``.json`` and ``.html``.

All specs are loaded (and every problem of every file reported) before anything is written; each file is
written atomically. The spec paths are recorded as given (call it with relative paths from the repository
root so that the committed reports do not carry a machine's absolute paths).
"""

from __future__ import annotations

from pathlib import Path

from tokcost.atomic import write_atomic

EXTENSIONS = {"markdown": "md", "json": "json", "html": "html"}


def regenerate(specs_dir: str | Path = "specs", reports_dir: str | Path = "reports",
               formats: tuple[str, ...] | list[str] = ("markdown", "json", "html"), catalog=None,
               calibration=None) -> list[Path]:
    """Write the reports and return their paths, in spec then format order."""
    from tokcost.analysis import expand_paths, load_specs
    from tokcost.catalog import Catalog
    from tokcost.errors import UsageError
    from tokcost.plan import analyze_spec
    from tokcost.render import render_analysis
    from tokcost.result import AnalysisResult
    from tokcost import __version__

    unknown = [f for f in formats if f not in EXTENSIONS]
    if unknown:
        raise UsageError(f"unknown report format {unknown[0]!r}; choose from {', '.join(EXTENSIONS)}")
    catalog = catalog or Catalog.default()
    loaded = load_specs(expand_paths([str(specs_dir)]), catalog)
    out_dir = Path(reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file, spec, doc in loaded:
        result = AnalysisResult(tool_version=__version__, specs=[analyze_spec(spec, file, catalog, calibration, doc)])
        for fmt in formats:
            if fmt == "html":
                from tokcost.render.html import format_html

                text = format_html(result, catalog=catalog, calibration=calibration)
            else:
                text = render_analysis(result, fmt)
            path = out_dir / f"{Path(file).stem}.{EXTENSIONS[fmt]}"
            write_atomic(path, text)
            written.append(path)
    return written
