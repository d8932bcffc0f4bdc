"""The shared checks behind every config, block table and space file: each returns the value
or raises one `SpecError` naming the field, so the messages read the same everywhere."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

from search_space.errors import SpecError


def integer(field: str, value: Any, minimum: int | None = None, maximum: int | None = None,
            choices: tuple[int, ...] = ()) -> int:
    """An int (not a bool: `kernel: true` is a typo, not a 1) in [minimum, maximum]; numpy's
    integers count (a seed drawn by numpy), and come back as a plain int."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise SpecError(field, value, "must be an integer")
    if choices and value not in choices:
        raise SpecError(field, value, f"must be one of {', '.join(map(str, choices))}")
    if minimum is not None and value < minimum:
        raise SpecError(field, value, f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise SpecError(field, value, f"must be <= {maximum:,}")
    return int(value)


def number(field: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite int or float (numpy's too) in the interval from `low` to `high` (closed unless
    open), as a plain float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        hint = " (YAML reads 4e8 as text: write 4.0e+8)" if isinstance(value, str) else ""
        raise SpecError(field, value, f"must be a number{hint}")
    if not math.isfinite(value):
        raise SpecError(field, value, "must be a finite number")
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        raise SpecError(field, value, f"must be in {_interval(low, high, low_open, high_open)}")
    return float(value)


def positive(field: str, value: Any) -> float:
    """A finite number > 0."""
    return number(field, value, 0.0, low_open=True)


def fraction(field: str, value: Any, upper: float = 1.0) -> float:
    """A finite number in [0, upper)."""
    return number(field, value, 0.0, upper, high_open=True)


def choice(field: str, value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        raise SpecError(field, value, f"must be one of {', '.join(choices)}")
    return value


def check_keys(data: Mapping[str, Any], known: Iterable[str], prefix: str = "") -> None:
    """Every key of `data` is one of `known`; else one wording everywhere (configs, block
    tables, space files, controller and tracking options): ``PREFIXkey = value: unknown key
    (known: a, b)``, for the first stranger in the order written."""
    known = tuple(known)
    for key, value in data.items():
        if key not in known:
            raise SpecError(f"{prefix}{key}", value,
                            f"unknown key (known: {', '.join(known) or 'none'})")


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if high == math.inf:
        return f"{'>' if low_open else '>='} {low:g}"
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
