"""Typed dataclasses from plain YAML data; unknown keys, wrong types, bad values: `SpecError`.

One generic reader serves every config section (and `objectives.ProxyConfig`), so a section is just
a frozen dataclass with annotated fields and defaults; its `__post_init__` checks values.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

from search_space.errors import SpecError
from search_space.validators import check_keys

_NUMBER_WORDS = (int, float)


def from_data(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping, checking keys and types against its annotations."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(prefix.rstrip(".") or "(top level)", data, "must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    check_keys(data, fields, prefix)
    values = {key: _coerce(hints[key], value, f"{prefix}{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except SpecError as err:
        raise err.within(prefix) from None


def to_data(obj: Any) -> Any:
    """Plain dicts/lists for YAML (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


def _coerce(hint: Any, value: Any, field: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, field)
            except SpecError:
                continue
        raise SpecError(field, value, f"must be {_describe(hint)}")
    if dataclasses.is_dataclass(hint):
        return from_data(hint, value, f"{field}.")
    if hint is typing.Any:
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise SpecError(field, value, f"must be {_describe(hint)}")
        item = args[0] if args else typing.Any
        return tuple(_coerce(item, v, f"{field}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise SpecError(field, value, "must be a mapping")
        return dict(value)
    return _scalar(hint, value, field)


def _scalar(hint: Any, value: Any, field: str) -> Any:
    if hint is float and isinstance(value, str):
        try:  # YAML 1.1 reads `400e6` as a string; accept it as the number it means
            return float(value)
        except ValueError:
            pass
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, _NUMBER_WORDS) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    if not ok:
        raise SpecError(field, value, f"must be {_describe(hint)}")
    return value


def _describe(hint: Any) -> str:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args and typing.get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args) + " (or null)"
    if typing.get_origin(hint) in (list, tuple):
        return "a list"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint)))
