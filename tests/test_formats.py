"""One format registry (tokcost/render/registry.py): every `--format` value of every command has a formatter, every
formatter is reachable from a `--format` value, and each formatter takes the options the registry passes it."""

from __future__ import annotations

import inspect
import typing
from enum import Enum

import pytest

from tokcost.cli.app import app
from tokcost.render import registry


def _commands(typer_app, prefix: tuple[str, ...] = ()):
    """(command name as typed, its function) for every command of the app, groups included."""
    for info in typer_app.registered_commands:
        yield " ".join((*prefix, info.name or info.callback.__name__.replace("_", "-"))), info.callback
    for group in typer_app.registered_groups:
        yield from _commands(group.typer_instance, (*prefix, group.name))


def _declarations(info) -> tuple:
    """The flag names of a typer.Option: in ``Annotated`` form the first one is passed as its ``default``."""
    if not hasattr(info, "param_decls"):
        return ()
    return (info.default, *(info.param_decls or ()))


def _format_choices(fn) -> tuple[str, ...] | None:
    """The values of ``fn``'s --format option (None when it has none)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    for name, param in inspect.signature(fn).parameters.items():
        hint = hints.get(name)
        infos = list(typing.get_args(hint)[1:]) if typing.get_origin(hint) is typing.Annotated else []
        infos.append(param.default)
        if not any("--format" in _declarations(i) for i in infos):
            continue
        base = typing.get_args(hint)[0]
        enums = [t for t in (base, *typing.get_args(base)) if isinstance(t, type) and issubclass(t, Enum)]
        assert enums, f"{fn.__name__}: --format is not a choice"
        return tuple(m.value for m in enums[0])
    return None


COMMANDS = dict(_commands(app))
WITH_FORMAT = {name: _format_choices(fn) for name, fn in COMMANDS.items() if _format_choices(fn) is not None}


def test_the_commands_are_found():
    assert {
        "analyze",
        "check",
        "diff",
        "sweep",
        "validate",
        "bench",
        "tokens",
        "estimate",
        "train",
        "hardware list",
        "hardware show",
        "models list",
        "models show",
        "schema",
    } <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(WITH_FORMAT))
def test_every_format_value_has_a_formatter(command):
    assert WITH_FORMAT[command] == registry.formats(command)
    for fmt in WITH_FORMAT[command]:
        f = registry.formatter(command, fmt)
        fn = f.load()
        assert callable(fn), f.target
        params = inspect.signature(fn).parameters
        assert set(f.options) <= set(params), f"{f.target} does not take {set(f.options) - set(params)}"


def test_every_formatter_is_reachable():
    assert set(registry.FORMATS) == set(WITH_FORMAT), "a registry entry no command's --format reaches"


def test_help_lists_the_choices():
    assert registry.choices_help("check") == ("table | markdown (PR comment) | json | github (Actions annotations).")


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="choose from table, json"):
        registry.render("tokens", "xml", {})
