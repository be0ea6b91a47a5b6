"""Problems found in user input, reported as ``file:line:col: field: message``."""

from __future__ import annotations

from dataclasses import dataclass

from tokcost.text import escape_line


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        # user text (a YAML key, a path) shows its control characters: one problem is one line
        return (
            f"{escape_line(self.file)}:{self.line}:{self.col}: {escape_line(self.field)}: {escape_line(self.message)}"
        )

    def to_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col, "field": self.field, "message": self.message}


ARGUMENTS = "(arguments)"  # the file of a problem with an argument (a flag, a keyword) rather than a file


class InputError(Exception):
    """Bad input: a spec, preset, calibration, baseline or argument. Carries every problem found, each with its
    position; the CLI prints them and exits 2, the Python API raises it as it is."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("(input)", 0, 0, "", problems)]
        self.problems = list(dict.fromkeys(sorted(problems)))  # a bad preset named by two specs: report once
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(InputError):
    """A bad request that is not tied to a file position. ``param`` names the argument it concerns, as the
    Python API spells it (``hardware``, ``tokens_per_forward``); the CLI shows it as its flag. Messages name no
    flag themselves: the core serves the CLI and the API alike."""

    def __init__(self, message: str, param: str | None = None):
        self.message = message
        self.param = param
        super().__init__([Problem(ARGUMENTS, 0, 0, param or "", message)])

    def __str__(self) -> str:
        return escape_line(f"{self.param}: {self.message}" if self.param else self.message)


class TokenGeometryError(UsageError, ValueError):
    """A size a tokenizer or VAE cannot take exactly (exit 2). Lives here, not in tokcost.engine.tokens, so
    that the CLI can catch it without importing numpy."""
