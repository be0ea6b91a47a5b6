"""The one rule for "interactive terminal or CI?": every decision that depends on the environment (colour, progress
bars, terminal width, GitHub Actions) is taken here, and the renderers receive it as a parameter.

- colour: ``NO_COLOR`` (any non-empty value, no-color.org) turns it off, then ``FORCE_COLOR`` (not empty or 0)
  turns it on; otherwise only on a terminal, and never under CI or on a dumb terminal;
- progress bars (stderr): only on a terminal, never under CI or on a dumb terminal;
- GitHub Actions (``GITHUB_ACTIONS=true``): ``check`` defaults to annotations, and invalid input is annotated too.

Every function takes ``env`` (default ``os.environ``) and the stream it decides for (default the real one), so
tests pass their own.
"""

import os
import sys
from collections.abc import Mapping
from typing import TextIO


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _is_terminal(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def under_ci(env: Mapping[str, str] | None = None) -> bool:
    """Under CI (``CI`` = 1, true or yes) or on a dumb terminal: plain output, no colour or progress."""
    env = _env(env)
    return env.get("CI", "").lower() in ("1", "true", "yes") or env.get("TERM") == "dumb"


def use_color(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> bool:
    """The no-color.org and FORCE_COLOR conventions, then: a terminal, and not under CI."""
    env = _env(env)
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR") not in (None, "", "0"):
        return True
    if under_ci(env):
        return False
    return _is_terminal(sys.stdout if stream is None else stream)


def show_progress(stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Progress only on an interactive stderr, never under CI."""
    return not under_ci(env) and _is_terminal(sys.stderr if stream is None else stream)


def github_actions(env: Mapping[str, str] | None = None) -> bool:
    """Running as a GitHub Actions step."""
    return _env(env).get("GITHUB_ACTIONS") == "true"


def terminal_width(default: int = 100, low: int = 80, high: int = 140) -> int:
    """The terminal's width clamped to [low, high] (a readable table), or ``default`` when there is none."""
    try:
        return max(low, min(high, os.get_terminal_size().columns))
    except OSError:
        return default
