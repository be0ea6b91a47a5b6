"""Problems found in user input, reported as ``file:line:col: field: message``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.field}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col, "field": self.field, "message": self.message}


class InputError(Exception):
    """Bad user input (a spec, preset, calibration or flag). The CLI turns it into exit code 2."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("(input)", 0, 0, "", problems)]
        self.problems = list(dict.fromkeys(sorted(problems)))  # a bad preset named by two specs: report once
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """A bad command-line request that is not tied to a file position (exit code 2)."""


class TokenGeometryError(ValueError):
    """A size a tokenizer or VAE cannot take exactly (exit code 2). Lives here, not in tokcost.engine.tokens, so that
    the CLI can catch it without importing numpy."""
