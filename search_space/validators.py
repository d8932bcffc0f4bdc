"""The shared checks behind every config, block table and space file: each returns the value
or raises one `SpecError` naming the field, so the messages read the same everywhere."""

from __future__ import annotations

import math
from typing import Any

from search_space.errors import SpecError


def integer(field: str, value: Any, minimum: int | None = None, maximum: int | None = None,
            choices: tuple[int, ...] = ()) -> int:
    """An int (not a bool: `kernel: true` is a typo, not a 1) in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, value, "must be an integer")
    if choices and value not in choices:
        raise SpecError(field, value, f"must be one of {', '.join(map(str, choices))}")
    if minimum is not None and value < minimum:
        raise SpecError(field, value, f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise SpecError(field, value, f"must be <= {maximum:,}")
    return value


def number(field: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite int or float in the interval from `low` to `high` (closed unless open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
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


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if high == math.inf:
        return f"{'>' if low_open else '>='} {low:g}"
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
