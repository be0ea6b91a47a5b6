"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader already refuses object tags, but it silently keeps the last of two duplicate keys,
forgets line numbers, and will happily expand an alias bomb into gigabytes. This module composes the node
tree itself so that it can (1) reject duplicate keys and unknown tags, (2) cap the size of what aliases expand
to, and (3) return a map from each value's path to its ``(line, col)`` (1-based) for error messages.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tokcost.errors import Problem
from tokcost.io.reading import read_bounded
from tokcost.text import quoted

MAX_FILE_BYTES = 1_000_000  # a product spec or preset is a few KB; anything this large is a mistake or an attack
MAX_NODES = 50_000  # values after alias expansion (a preset has a few hundred); a billion-laughs file trips it at once
# A validation set holds hundreds of sourced runs (the shipped one passed 1 MB and 30,000 values at 575 runs): its
# bounds are eight times a spec's, still bounded as any input
MAX_MEASUREMENTS_BYTES = 8 * MAX_FILE_BYTES
MAX_MEASUREMENTS_NODES = 8 * MAX_NODES
MAX_DEPTH = 64

Path_ = tuple  # a path into the document: keys and list indices

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

try:  # the C composer is several times faster; fall back silently where libyaml is absent
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader

INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.2 core schema numbers (https://yaml.org/spec/1.2.2/#1032-tag-resolution): decimal integers (a leading 0
# is still decimal: 0512 is 512, not YAML 1.1's octal 330), 0o octal, 0x hex; floats with an optional exponent.
# No YAML 1.1 base-60 (1:30 is text), binary, or '_' separators.
_INT_12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
MAX_INT_DIGITS = 100  # far beyond any count tokcost reads (2**64 has 20 digits); checked before converting


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader with YAML 1.2 core number resolution (strings, booleans and nulls as PyYAML resolves them)."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (INT_TAG, FLOAT_TAG)]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(INT_TAG, re.compile(f"^(?:{_INT_12.pattern})$"), list("-+0123456789"))
_Loader.add_implicit_resolver(FLOAT_TAG, re.compile(f"^(?:{_FLOAT_12.pattern})$"), list("-+.0123456789"))


def yaml12_number(tag: str, text: str) -> int | float:
    """The value of a YAML 1.2 core int or float scalar; ValueError for a form 1.2 does not have or an integer of
    more than MAX_INT_DIGITS digits (before any conversion: Python's int() of a long text is slow, and its repr
    refuses more than 4,300 digits)."""
    if tag == INT_TAG:
        if not _INT_12.fullmatch(text):
            raise ValueError("not a YAML 1.2 integer (decimal, 0o octal or 0x hex; no '_' or ':')")
        digits = text.lstrip("+-")
        base = {"0o": 8, "0x": 16}.get(digits[:2], 10)
        if base != 10:
            digits = digits[2:]
        if len(digits) > MAX_INT_DIGITS:
            raise ValueError(f"an integer of {len(digits):,} digits is out of range (at most {MAX_INT_DIGITS})")
        return int(text, 10) if base == 10 else int(digits, base)
    if not _FLOAT_12.fullmatch(text):
        raise ValueError("not a YAML 1.2 number")
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


@dataclass
class Located:
    """A loaded YAML document plus the position of every value and key in it."""

    data: Any
    file: str
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: tuple, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` or of its nearest ancestor that has one (a missing field points at its parent)."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (1, 1))


class YamlProblem(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class _Builder:
    def __init__(self, file: str, max_nodes: int = MAX_NODES):
        self.file = file
        self.max_nodes = max_nodes
        self.count = 0
        self.problems: list[Problem] = []
        self.out = Located(data=None, file=file)
        self._scalar = yaml.SafeLoader("")  # only its scalar constructors are used

    def _problem(self, node: yaml.Node, path: tuple, msg: str) -> None:
        self.problems.append(
            Problem(self.file, node.start_mark.line + 1, node.start_mark.column + 1, dotted(path), msg)
        )

    def build(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        self.count += 1
        if self.count > self.max_nodes:
            raise YamlProblem(
                [
                    Problem(
                        self.file,
                        node.start_mark.line + 1,
                        node.start_mark.column + 1,
                        dotted(path),
                        f"document expands to more than {self.max_nodes:,} values (alias bomb?)",
                    )
                ]
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(
                [
                    Problem(
                        self.file,
                        node.start_mark.line + 1,
                        node.start_mark.column + 1,
                        dotted(path),
                        f"nesting deeper than {MAX_DEPTH} levels",
                    )
                ]
            )
        self.out.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _PLAIN_TAGS:
            self._problem(node, path, f"YAML tag {quoted(node.tag)} is not allowed (plain values only)")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar_value(node, path)

    def _mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(key_node, path, "merge keys ('<<') are not supported")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, path, "keys must be plain scalars")
                continue
            if key_node.tag not in _PLAIN_TAGS:
                self._problem(key_node, path, f"YAML tag {quoted(key_node.tag)} is not allowed (plain values only)")
                continue
            key = self._scalar_value(key_node, path)
            if isinstance(key, float) or key is None or isinstance(key, bool):
                key = key_node.value  # keep '1.0', 'null', 'yes' keys as written
            child = path + (key,)
            if key in result:
                first = self.out.key_positions.get(child, ("?", "?"))
                self._problem(key_node, child, f"duplicate key {quoted(key)} (first defined at line {first[0]})")
                continue
            self.out.key_positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def _scalar_value(self, node: yaml.ScalarNode, path: tuple) -> Any:
        if node.tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            return node.value  # a string is its text (most keys and values); dates stay strings too
        try:
            if node.tag in (INT_TAG, FLOAT_TAG):
                value = yaml12_number(node.tag, node.value)
            else:
                value = self._scalar.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self._problem(node, path, f"cannot read value {quoted(node.value)}: {exc}")
            return None
        return value  # inf and nan are kept: the schema rejects them with the field's name


def dotted(path: tuple) -> str:
    """``('candidates', 'models', 2)`` -> ``candidates.models[2]``."""
    out = ""
    for part in path:
        if isinstance(part, int) and part.bit_length() > 64:  # a mapping key from code: str() of it may raise
            part = quoted(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _check_event_count(text: str, file: str, max_nodes: int = MAX_NODES) -> None:
    """Refuse documents with more than ``max_nodes`` nodes or MAX_DEPTH levels before composing them: composing a
    1 MB flow list of 300,000 numbers, or 50,000 nested ``[``, takes seconds (libyaml is quadratic in flow depth),
    while the parser's events are produced lazily and this stops at the limit. Aliases are one event each; what
    they expand to is capped later by the builder."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=_Loader), 1):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        if count > max_nodes or depth > MAX_DEPTH:
            mark = event.start_mark
            msg = (
                f"nesting deeper than {MAX_DEPTH} levels"
                if depth > MAX_DEPTH
                else f"document has more than {max_nodes:,} values"
            )
            raise YamlProblem([Problem(file, mark.line + 1, mark.column + 1, "(document)", msg)])


def load_text(text: str, file: str, max_nodes: int = MAX_NODES) -> Located:
    """Parse one YAML document of at most ``max_nodes`` values; raise :class:`YamlProblem` with every problem
    found. The size limit is :func:`load_file`'s (its only caller)."""
    try:
        _check_event_count(text, file, max_nodes)
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = " ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        if "nesting depth" in msg:  # PyYAML >= 6.0.4 stops deep flow collections in its scanner
            msg = f"nesting deeper than {MAX_DEPTH} levels"
        else:
            msg = f"YAML syntax error: {msg}"
        raise YamlProblem([Problem(file, line, col, "(document)", msg)]) from None
    except yaml.YAMLError as exc:
        raise YamlProblem([Problem(file, 1, 1, "(document)", f"YAML error: {exc}")]) from None
    except RecursionError:
        raise YamlProblem([Problem(file, 1, 1, "(document)", f"nesting deeper than {MAX_DEPTH} levels")]) from None
    if len(nodes) > 1:
        n = nodes[1]
        raise YamlProblem(
            [
                Problem(
                    file,
                    n.start_mark.line + 1,
                    n.start_mark.column + 1,
                    "(document)",
                    "expected one YAML document, found several ('---')",
                )
            ]
        )
    if not nodes or nodes[0] is None:
        raise YamlProblem([Problem(file, 1, 1, "(document)", "file is empty")])
    builder = _Builder(file, max_nodes)
    builder.out.data = builder.build(nodes[0], (), 0)
    if builder.problems:
        raise YamlProblem(builder.problems)
    return builder.out


def load_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES, max_nodes: int = MAX_NODES) -> Located:
    """Read and parse a file of at most ``max_bytes`` and ``max_nodes`` values; unreadable or non-UTF-8 files
    become problems, never tracebacks."""
    name = str(path)
    try:
        raw = read_bounded(path, max_bytes)
    except OSError as exc:
        raise YamlProblem([Problem(name, 1, 1, "(document)", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(raw) > max_bytes:  # pragma: no cover - read_bounded already refuses it
        raise YamlProblem([Problem(name, 1, 1, "(document)", f"file is larger than {max_bytes:,} bytes")])
    if b"\x00" in raw:
        raise YamlProblem([Problem(name, 1, 1, "(document)", "file is binary (contains NUL bytes), not YAML")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem([Problem(name, line, 1, "(document)", "file is not valid UTF-8 text")]) from None
    return load_text(text, name, max_nodes)
