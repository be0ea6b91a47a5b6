"""The one "interactive or CI?" rule (tokcost/cli/environment.py): colour, progress bars and GitHub Actions."""

from __future__ import annotations

import io

from tokcost.cli.environment import github_actions, show_progress, under_ci, use_color


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_ci_and_dumb_terminals_are_plain():
    assert under_ci({"CI": "true"}) and under_ci({"CI": "1"}) and under_ci({"TERM": "dumb"})
    assert not under_ci({}) and not under_ci({"CI": "false"})


def test_progress_only_on_an_interactive_stderr_outside_ci():
    assert show_progress(Tty(), env={}) is True
    assert show_progress(io.StringIO(), env={}) is False
    assert show_progress(Tty(), env={"CI": "true"}) is False
    assert show_progress(Tty(), env={"TERM": "dumb"}) is False


def test_colour_follows_no_color_then_force_color_then_the_terminal():
    assert use_color(io.StringIO(), env={"FORCE_COLOR": "1"}) is True
    assert use_color(Tty(), env={"NO_COLOR": "1", "FORCE_COLOR": "1"}) is False
    assert use_color(Tty(), env={"FORCE_COLOR": "0"}) is True  # 0 does not force, the terminal decides
    assert use_color(io.StringIO(), env={}) is False


def test_github_actions():
    assert github_actions({"GITHUB_ACTIONS": "true"}) is True
    assert github_actions({"GITHUB_ACTIONS": "false"}) is False and github_actions({}) is False
