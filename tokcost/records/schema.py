"""Typed records validated by pydantic-core: the part of pydantic tokcost uses, without its start-up cost.

Why not pydantic's ``BaseModel``: importing it loads pydantic's model machinery (50-100 ms), and each model then
builds its schema in Python on first use; together that was half of what ``tokcost analyze`` spent beyond
importing its dependencies (issue #8). ``import pydantic`` already loads pydantic-core, the Rust validator that
does the real work, and a validator built from a plain core-schema dict costs about 0.1 ms. So a :class:`Record`
declares its fields the pydantic way (annotations, :func:`Field`, :func:`model_validator`, :func:`field_validator`)
and compiles them into a pydantic-core schema on first use: validation, error types, messages and locations are
pydantic's own. One deliberate difference: a number field refuses a boolean (``must be a number, not true``)
where pydantic would read it as 1 or 0.

Annotations understood: ``bool``, ``int``, ``float``, ``str``, ``typing.Any``, ``dict``, ``Literal[...]``,
``X | None``, unions, ``list[X]``, ``dict[K, V]``, ``Annotated[X, Field(...)]`` and Record subclasses. Anything
else is a ``TypeError`` when the class is first used (a test compiles every record).
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from typing import Any, Literal

from pydantic_core import PydanticCustomError, SchemaValidator, ValidationError, to_json, to_jsonable_python

__all__ = ["Record", "Field", "model_validator", "field_validator", "ValidationError",
           "validator_for", "json_schema"]

_MISSING: Any = object()


class FieldInfo:
    """A field's default and constraints (from ``Field``), and once compiled its name and resolved annotation."""

    __slots__ = ("default", "constraints", "name", "annotation")

    def __init__(self, default=_MISSING, constraints=None):
        self.default = default
        self.constraints = constraints or {}
        self.name = ""
        self.annotation: Any = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def make_default(self):
        # a fresh copy per record, as pydantic does: two records never share one default list
        return copy.deepcopy(self.default) if isinstance(self.default, (list, dict, Record)) else self.default


def Field(default: Any = _MISSING, *, gt=None, ge=None, lt=None, le=None, min_length=None,
          max_length=None, pattern=None, allow_inf_nan=None) -> Any:
    """pydantic's ``Field``: as a default value (``x: list[str] = Field(min_length=1)``) or inside ``Annotated``."""
    values = dict(gt=gt, ge=ge, lt=lt, le=le, min_length=min_length, max_length=max_length, pattern=pattern,
                  allow_inf_nan=allow_inf_nan)
    return FieldInfo(default, {k: v for k, v in values.items() if v is not None})


class _Decorated:
    __slots__ = ("func", "mode", "fields")

    def __init__(self, func, mode: str, fields: tuple = ()):
        self.func, self.mode, self.fields = func, mode, fields


def model_validator(*, mode: Literal["after"]):
    """Decorate ``def check(self) -> self`` to run on the built record; a ValueError becomes a validation error
    located at the record."""
    if mode != "after":
        raise ValueError("only mode='after' model validators are supported")
    return lambda func: _Decorated(func, mode)


def field_validator(*fields: str, mode: Literal["before", "after"] = "after"):
    """Decorate a classmethod ``check(cls, value) -> value`` run before or after the named fields' validation."""
    return lambda func: _Decorated(func, mode, fields)


class _FieldsOf:
    """``Record.model_fields`` on the class: the compiled fields of exactly that class."""

    def __get__(self, obj, owner):
        return (owner if obj is None else type(obj))._compiled()["fields"]


class Record:
    """Base of every typed record. ``model_config`` keys: ``extra`` ("forbid" or "ignore", the default) and
    ``frozen`` (assignment refused)."""

    model_config: typing.ClassVar[dict] = {}
    model_fields = _FieldsOf()

    def __init__(self, **data):
        # code-built records are validated too (numpy scalars become ints and floats, as pydantic would make them)
        built = type(self)._validator().validate_python(data)
        object.__setattr__(self, "__dict__", built.__dict__)

    # ------------------------------------------------------------------------------------------- compilation

    @classmethod
    def _compiled(cls) -> dict:
        done = cls.__dict__.get("_record_compiled")
        if done is None:
            done = _compile(cls)
            type.__setattr__(cls, "_record_compiled", done)
        return done

    @classmethod
    def _core_schema(cls) -> dict:
        return cls._compiled()["schema"]

    @classmethod
    def _validator(cls) -> SchemaValidator:
        compiled = cls._compiled()
        if "validator" not in compiled:
            compiled["validator"] = SchemaValidator(compiled["schema"])
        return compiled["validator"]

    @classmethod
    def _accept(cls, value, handler):
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise PydanticCustomError("model_type", "Input should be a valid dictionary or instance of {class_name}",
                                      {"class_name": cls.__name__})
        return handler(value)

    @classmethod
    def _build(cls, values: dict):
        obj = cls.__new__(cls)
        fields = cls._compiled()["fields"]
        state = {name: values[name] if name in values else f.make_default() for name, f in fields.items()}
        object.__setattr__(obj, "__dict__", state)
        for check in cls._compiled()["model_validators"]:
            obj = check(obj)
        return obj

    # ------------------------------------------------------------------------------------------- pydantic API

    @classmethod
    def model_validate(cls, data):
        return cls._validator().validate_python(data)

    @classmethod
    def model_validate_json(cls, text: str | bytes):
        return cls._validator().validate_json(text)

    def model_dump(self, *, mode: Literal["python", "json"] = "python", exclude: set | None = None,
                   exclude_none: bool = False) -> dict:
        out = {k: _dump(v, exclude_none) for k, v in self.__dict__.items()
               if not (exclude and k in exclude) and not (exclude_none and v is None)}
        return to_jsonable_python(out) if mode == "json" else out

    def model_dump_json(self, *, indent: int | None = None) -> str:
        # pydantic-core walks the lists, dicts and numbers itself and asks back only for each record's fields
        return to_json(self, indent=indent, inf_nan_mode="null", fallback=_fields_for_json).decode()

    def model_copy(self, *, update: dict | None = None, deep: bool = False):
        state = copy.deepcopy(self.__dict__) if deep else dict(self.__dict__)
        unknown = set(update or {}) - set(self.__dict__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        state.update(update or {})
        obj = type(self).__new__(type(self))
        object.__setattr__(obj, "__dict__", state)
        return obj

    @classmethod
    def model_json_schema(cls) -> dict:
        return json_schema(cls)

    # ------------------------------------------------------------------------------------------- object protocol

    def __setattr__(self, name, value):
        if type(self).model_config.get("frozen"):
            raise TypeError(f"{type(self).__name__} is frozen: {name} cannot be assigned")
        if name not in type(self).model_fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self.__dict__[name] = value

    def __eq__(self, other):
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self):
        if not type(self).model_config.get("frozen"):
            raise TypeError(f"unhashable type: {type(self).__name__!r} (not frozen)")
        return hash((type(self), *(_hashable(v) for v in self.__dict__.values())))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _fields_for_json(value):
    if isinstance(value, Record):
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _hashable(x)) for k, x in v.items())
    return v


def _dump(v, exclude_none: bool):
    if isinstance(v, Record):
        return v.model_dump(exclude_none=exclude_none)
    if isinstance(v, (list, tuple)):
        return [_dump(x, exclude_none) for x in v]
    if isinstance(v, dict):
        return {k: _dump(x, exclude_none) for k, x in v.items() if not (exclude_none and x is None)}
    return v


# ----------------------------------------------------------------------------------------------- compiling


def _compile(cls: type[Record]) -> dict:
    hints = typing.get_type_hints(cls, include_extras=True)  # each class's annotations in its own module
    fields: dict[str, FieldInfo] = {}
    for name, annotation in hints.items():
        if name.startswith("_") or typing.get_origin(annotation) is typing.ClassVar or annotation is typing.ClassVar:
            continue
        default = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), _MISSING)
        if isinstance(default, FieldInfo):  # one FieldInfo object may be shared: copy before naming it
            info = FieldInfo(default.default, dict(default.constraints))
        else:
            info = FieldInfo(default)
        info.name, info.annotation = name, annotation
        fields[name] = info

    decorated = {}
    for klass in reversed(cls.__mro__):
        decorated.update({k: v for k, v in vars(klass).items() if isinstance(v, _Decorated)})
    before: dict[str, list] = {}
    after: dict[str, list] = {}
    model_checks = []
    for d in decorated.values():
        if not d.fields:
            model_checks.append(d.func)
            continue
        bound = d.func.__get__(None, cls)  # a classmethod, bound to this class
        for f in d.fields:
            if f not in fields:
                raise TypeError(f"{cls.__name__}: a validator names unknown field {f!r}")
            (before if d.mode == "before" else after).setdefault(f, []).append(bound)

    td_fields = {}
    for name, info in fields.items():
        s = _constrain(core_schema_of(info.annotation), info.constraints)
        for fn in after.get(name, []):
            s = _wrap("function-after", fn, s)
        for fn in before.get(name, []):
            s = _wrap("function-before", fn, s)
        td_fields[name] = {"type": "typed-dict-field", "schema": s, "required": info.required}
    extra = "forbid" if cls.model_config.get("extra") == "forbid" else "ignore"
    typed_dict = {"type": "typed-dict", "fields": td_fields, "extra_behavior": extra}
    built = _wrap("function-after", cls._build, typed_dict)
    return {"fields": fields, "schema": _wrap("function-wrap", cls._accept, built), "model_validators": model_checks}


def _wrap(kind: str, fn, schema: dict) -> dict:
    return {"type": kind, "function": {"type": "no-info", "function": fn}, "schema": schema}


_PLAIN = {bool: "bool", int: "int", float: "float", str: "str"}


def core_schema_of(tp) -> dict:
    """The pydantic-core schema of an annotation (see the module docstring for what is understood)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        schema = core_schema_of(args[0])
        for meta in args[1:]:
            if isinstance(meta, FieldInfo):
                schema = _constrain(schema, meta.constraints)
            else:
                raise TypeError(f"unsupported Annotated metadata {meta!r}")
        return schema
    if origin is Literal:
        return {"type": "literal", "expected": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = (core_schema_of(options[0]) if len(options) == 1
                 else {"type": "union", "choices": [core_schema_of(a) for a in options]})
        return {"type": "nullable", "schema": inner} if len(options) < len(args) else inner
    if origin is list:
        return {"type": "list", "items_schema": core_schema_of(args[0]) if args else {"type": "any"}}
    if origin is dict:
        return {"type": "dict", "keys_schema": core_schema_of(args[0]), "values_schema": core_schema_of(args[1])}
    if tp in (int, float):
        return _wrap("function-before", _refuse_bool, {"type": _PLAIN[tp]})
    if tp in _PLAIN:
        return {"type": _PLAIN[tp]}
    if tp is Any:
        return {"type": "any"}
    if tp is dict:
        return {"type": "dict"}
    if tp is list:
        return {"type": "list"}
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp._core_schema()
    raise TypeError(f"unsupported annotation {tp!r}")


def _refuse_bool(value):
    """YAML 1.1 reads ``yes``/``on``/``true`` as booleans, and pydantic would quietly take them as 1 for a number."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


def _constrain(schema: dict, constraints: dict) -> dict:
    """``schema`` with ``constraints`` applied, through ``X | None`` and validators to the type they constrain."""
    if not constraints:
        return schema
    kind = schema["type"]
    if kind in ("nullable", "function-before", "function-after"):
        return {**schema, "schema": _constrain(schema["schema"], constraints)}
    if kind == "union":
        return {**schema, "choices": [_constrain(c, constraints) for c in schema["choices"]]}
    return {**schema, **constraints}


def validator_for(tp) -> SchemaValidator:
    """A validator of any annotation (``list[Entry]``), as pydantic's ``TypeAdapter(tp)``."""
    return SchemaValidator(core_schema_of(tp))


# ----------------------------------------------------------------------------------------------- JSON Schema


def json_schema(cls: type[Record]) -> dict:
    """The JSON Schema (draft 2020-12) of a record, in the shape pydantic gives: nested records under ``$defs``."""
    defs: dict = {}
    top = _object_schema(cls, defs)
    defs.pop(cls.__name__, None)
    return {**top, "$defs": dict(sorted(defs.items()))} if defs else top


def _object_schema(cls: type[Record], defs: dict) -> dict:
    props, required = {}, []
    for name, info in cls.model_fields.items():
        prop = _json_of(info.annotation, defs, info.constraints)
        if "$ref" not in prop:
            prop["title"] = name.replace("_", " ").title()
        if info.required:
            required.append(name)
        else:
            default = info.make_default()
            prop["default"] = _dump(default, False)
        props[name] = prop
    out: dict = {"properties": props, "title": cls.__name__, "type": "object"}
    if cls.__doc__:
        out["description"] = inspect.cleandoc(cls.__doc__)
    if required:
        out["required"] = required
    if cls.model_config.get("extra") == "forbid":
        out["additionalProperties"] = False
    return out


_JSON_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


def _json_of(tp, defs: dict, constraints: dict | None = None) -> dict:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        merged = dict(constraints or {})
        for meta in args[1:]:
            if isinstance(meta, FieldInfo):
                merged.update(meta.constraints)
        return _json_of(args[0], defs, merged)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        any_of = [_json_of(a, defs, constraints) for a in options]
        if len(options) < len(args):
            any_of.append({"type": "null"})
        return {"anyOf": any_of} if len(any_of) > 1 else any_of[0]
    c = constraints or {}
    if origin is Literal:
        out: dict = {"enum": list(args)}
        kinds = {type(a) for a in args}
        if kinds <= {str}:
            out["type"] = "string"
        elif kinds <= {int}:
            out["type"] = "integer"
        return out
    if origin is list or tp is list:
        out = {"items": _json_of(args[0], defs) if args else {}, "type": "array"}
        if "min_length" in c:
            out["minItems"] = c["min_length"]
        if "max_length" in c:
            out["maxItems"] = c["max_length"]
        return out
    if origin is dict or tp is dict:
        out = {"type": "object"}
        if args:
            out["additionalProperties"] = _json_of(args[1], defs)
        return out
    if tp in (int, float):
        out = {"type": "integer" if tp is int else "number"}
        out.update({_JSON_BOUNDS[k]: v for k, v in c.items() if k in _JSON_BOUNDS})
        return out
    if tp is str:
        out = {"type": "string"}
        if "min_length" in c:
            out["minLength"] = c["min_length"]
        if "max_length" in c:
            out["maxLength"] = c["max_length"]
        if "pattern" in c:
            out["pattern"] = c["pattern"]
        return out
    if tp is bool:
        return {"type": "boolean"}
    if tp is Any:
        return {}
    if isinstance(tp, type) and issubclass(tp, Record):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # placeholder: a record that refers to itself does not recurse forever
            defs[tp.__name__] = _object_schema(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    raise TypeError(f"unsupported annotation {tp!r}")
