"""Every output format of every command, in one table: the CLI builds each command's ``--format`` choices, their
help text and its dispatch from :data:`FORMATS`, and a test checks that every choice has a formatter and every
formatter a choice.

A formatter is a pure function ``format(result, **opts) -> str``, named here as ``"module:function"`` and imported
only when it is used (so ``tokcost --help`` imports no renderer, and ``--format json`` no rich or matplotlib).
``options`` lists the keyword arguments it takes beyond the result; :func:`render` passes those and drops the
rest (a terminal width means nothing to JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from importlib import import_module
from typing import cast


@dataclass(frozen=True)
class Formatter:
    name: str  # the --format value
    target: str  # "package.module:function"
    note: str = ""  # shown in --help after the name, e.g. "needs --output"
    options: tuple[str, ...] = ()  # keyword arguments the function takes beyond the result

    def load(self) -> Callable[..., str]:
        module, _, function = self.target.partition(":")
        return getattr(import_module(module), function)


def _f(name: str, target: str, note: str = "", options: tuple[str, ...] = ()) -> Formatter:
    return Formatter(name, "tokcost.render." + target, note, options)


_RECORD_JSON = "json:format_record"  # a pydantic result record as its own JSON
_DOCUMENT_JSON = "json:format_document"  # a small result record through json.dumps
_DATA_JSON = "json:dumps"  # plain data (a dict or list) as JSON

FORMATS: dict[str, tuple[Formatter, ...]] = {
    "analyze": (
        _f("table", "table:format_table", options=("width", "color", "top")),
        _f("markdown", "markdown:format_markdown", options=("top",)),
        _f("json", _RECORD_JSON),
        _f("html", "html:format_html", "needs --output"),
    ),
    "check": (
        _f("table", "check:format_table"),
        _f("markdown", "check:format_markdown", "PR comment"),
        _f("json", _RECORD_JSON),
        _f("github", "github:format_github", "Actions annotations"),
    ),
    "diff": (
        _f("table", "diff:format_table", options=("every",)),
        _f("markdown", "diff:format_markdown", options=("every",)),
        _f("json", _RECORD_JSON),
    ),
    "sweep": (
        _f("table", "sweep:format_table"),
        _f("csv", "sweep:format_csv", "streams"),
        _f("jsonl", "sweep:format_jsonl", "JSON Lines; streams"),
        _f("parquet", "parquet:format_parquet", "streams; needs --output and pip install 'tokcost[parquet]'"),
        _f("json", "sweep:format_json"),
        _f("html", "html:format_sweep_html", "needs --output"),
    ),
    "simulate": (
        _f("table", "simulate:format_table"),
        _f("markdown", "simulate:format_markdown"),
        _f("json", _RECORD_JSON),
    ),
    "validate": (
        _f("table", "validate:format_table"),
        _f("markdown", "validate:format_markdown"),
        _f("json", _DOCUMENT_JSON),
    ),
    "bench": (
        _f("table", "bench:format_table"),
        _f("json", _DATA_JSON, "JSON alone on stdout"),
    ),
    "tokens": (_f("table", "simple:format_tokens"), _f("json", _DOCUMENT_JSON)),
    "estimate": (_f("table", "simple:format_estimate"), _f("json", _DOCUMENT_JSON)),
    "train": (_f("table", "simple:format_training"), _f("json", _DOCUMENT_JSON)),
    "hardware list": (_f("table", "simple:format_hardware_list"), _f("json", "simple:format_hardware_list_json")),
    "prices": (_f("table", "simple:format_prices", options=("today",)), _f("json", "simple:format_prices_json")),
    "models list": (_f("table", "simple:format_model_list"), _f("json", "simple:format_model_list_json")),
    "hardware show": (
        _f("table", "simple:preset_show", options=("file",)),
        _f("json", "simple:format_preset_json", options=("file",)),
    ),
    "schema": (_f("json", _DATA_JSON, "the only format: a JSON Schema"),),
    "models show": (
        _f("table", "simple:preset_show", options=("file",)),
        _f("json", "simple:format_preset_json", options=("file",)),
    ),
}


def formats(command: str) -> tuple[str, ...]:
    """The ``--format`` values of ``command``, in the order --help lists them."""
    return tuple(f.name for f in FORMATS[command])


def formatter(command: str, fmt: str) -> Formatter:
    name = getattr(fmt, "value", fmt)  # the CLI passes the choice as a str-valued Enum member
    for f in FORMATS[command]:
        if f.name == name:
            return f
    raise ValueError(f"{command} has no format {name!r}; choose from {', '.join(formats(command))}")


def render(command: str, fmt: str, result, **opts) -> str:
    """``result`` in ``command``'s format ``fmt``; of ``opts``, only those the formatter takes are passed."""
    f = formatter(command, fmt)
    return f.load()(result, **{k: v for k, v in opts.items() if k in f.options})


def choices_help(command: str) -> str:
    """``table | markdown (PR comment) | json``: the choices with their notes, for --help."""
    return " | ".join(f"{f.name} ({f.note})" if f.note else f.name for f in FORMATS[command]) + "."


def choice_enum(command: str) -> type[Enum]:
    """A str-valued Enum of ``command``'s formats: what typer takes for a fixed set of choices."""
    name = "".join(w.capitalize() for w in command.split()) + "Format"
    # Enum's functional API returns a new Enum class; mypy checks the call against Enum's constructor instead
    # (an instance), and accepts the functional form only with a literal name assigned to a variable.
    return cast("type[Enum]", Enum(name, [(n, n) for n in formats(command)], type=str))
