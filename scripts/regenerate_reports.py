"""Example reports: for every spec in a directory, write ``<reports>/<stem>.md``, ``.json`` and ``.html``.

All specs are loaded (and every problem of every file reported) before anything is written; each file is
written atomically. The spec paths are recorded as given (call it with relative paths from the repository
root so that the committed reports do not carry a machine's absolute paths).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tokcost.io.atomic import write_atomic

EXTENSIONS = {"markdown": "md", "json": "json", "html": "html"}
# The date the example reports are computed as of: their notes on prices older than 6 months are relative to it,
# so that the committed reports do not go stale by the calendar alone. Move it when the price catalogue is refreshed.
REPORTS_AS_OF = "2026-12-01"


def build_reports(
    specs_dir: str | Path = "specs", formats: tuple[str, ...] | list[str] = ("markdown", "json", "html"), catalog=None
) -> dict[str, str]:
    """Render every spec's reports: ``{file name: text}`` in spec then format order. Nothing is written."""
    from tokcost.core.analyze import analyze_loaded
    from tokcost.errors import UsageError
    from tokcost.io.catalog import Catalog
    from tokcost.io.specs import expand_paths, load_specs
    from tokcost.render import registry

    unknown = [f for f in formats if f not in EXTENSIONS]
    if unknown:
        raise UsageError(f"unknown report format {unknown[0]!r}; choose from {', '.join(EXTENSIONS)}")
    catalog = catalog or Catalog.default()
    out: dict[str, str] = {}
    for loaded in load_specs(expand_paths([str(specs_dir)]), catalog):
        result = analyze_loaded([loaded], catalog, today=dt.date.fromisoformat(REPORTS_AS_OF))  # one per spec
        for fmt in formats:
            out[f"{Path(loaded[0]).stem}.{EXTENSIONS[fmt]}"] = registry.render("analyze", fmt, result)
    return out


def regenerate(
    specs_dir: str | Path = "specs",
    reports_dir: str | Path = "reports",
    formats: tuple[str, ...] | list[str] = ("markdown", "json", "html"),
    catalog=None,
) -> list[Path]:
    """Write the reports (each atomically, after every spec has been analysed) and return their paths."""
    rendered = build_reports(specs_dir, formats, catalog)
    out_dir = Path(reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered.items():
        write_atomic(out_dir / name, text)
        written.append(out_dir / name)
    return written


def main() -> int:
    """``python scripts/regenerate_reports.py``: regenerate reports/ from specs/ (run from anywhere in a source checkout)."""
    import os
    import sys

    from tokcost.errors import InputError

    root = Path(__file__).resolve().parent.parent
    if not (root / "specs").is_dir():
        print("error: no specs/ folder next to the tokcost package (run from a source checkout)", file=sys.stderr)
        return 2
    os.chdir(root)  # reports record spec paths relative to the repository root
    try:
        for path in regenerate("specs", "reports"):
            print(f"wrote {path}", file=sys.stderr)
    except InputError as exc:  # every problem, one a line
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
