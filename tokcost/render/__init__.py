"""Formatters: each is a pure ``format(result) -> str``; the CLI picks one by ``--format``."""

from __future__ import annotations

import json

from tokcost.records.results import AnalysisResult

def render_analysis(result: AnalysisResult, fmt: str, width: int = 100, color: bool | None = None,
                    catalog=None, calibration=None) -> str:
    """``color`` None decides from the environment; ``catalog`` lets the HTML charts re-price user presets and
    ``calibration`` (the loaded file the result names) spares them parsing it again."""
    if fmt == "json":
        return result.model_dump_json(indent=2) + "\n"
    if fmt == "markdown":
        from tokcost.render.markdown import format_markdown
        return format_markdown(result)
    if fmt == "table":
        from tokcost.render.table import format_table
        return format_table(result, width=width, color=color)
    if fmt == "html":
        from tokcost.render.html import format_html
        return format_html(result, catalog=catalog, calibration=calibration)
    raise ValueError(f"unknown format {fmt!r}")


def dumps(data) -> str:
    return json.dumps(data, indent=2, default=_default) + "\n"


def _default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)
