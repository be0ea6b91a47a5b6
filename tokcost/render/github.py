"""GitHub Actions workflow commands for ``tokcost check --format github``: one ``::error`` annotation per
violation, at the spec line that matters (the budget field, or the input that changed), and a ``::notice`` for
specs that are new to the baseline. Pure: ``format_github(GateResult) -> str``."""

from __future__ import annotations

from tokcost.records.gate import GateResult
from tokcost.render.advice import gate_problem
from tokcost.render.check import sentence, summary
from tokcost.text import escape_line, visible


def _data(text: str) -> str:
    """A workflow command's message: % CR LF encoded as the runner decodes them, every other control character
    (ESC, OSC) shown as an escape so that none reaches the log."""
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, file: str, line: int, col: int, title: str, message: str) -> str:
    props = [f"file={_prop(file)}"]
    if line:
        props += [f"line={line}", f"col={col or 1}"]
    props.append(f"title={_prop(title)}")
    return f"::{level} {','.join(props)}::{_data(message)}"


def format_github(result: GateResult) -> str:
    out = []
    for s in result.specs:
        for v in s.violations:
            message, fix = gate_problem(v, s)
            msg = f"{escape_line(s.name)}: {sentence(message)}" + (f" Fix: {sentence(fix)}" if fix else "")
            out.append(annotation("error", s.file, v.line, v.col, f"tokcost {v.limit} ({v.field})", msg))
        if s.baseline == "new":
            out.append(
                annotation(
                    "notice",
                    s.file,
                    1,
                    1,
                    "tokcost new spec",
                    f"{escape_line(s.name)} is not in the baseline; only its budgets were checked",
                )
            )
    out.append(f"tokcost check: {summary(result)}.")
    return "\n".join(out) + "\n"
