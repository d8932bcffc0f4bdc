"""The one error type for bad user input, shared by every room above `search_space`.

The CLI turns a `SpecError` into one line on stderr and exit status 2; everything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class SpecError(ValueError):
    """Bad user input: names where it came from, which field, which value and why.

    Args:
        field: dotted path of the offending field, e.g. ``stages[3].kernel``.
        value: the value found there.
        reason: what was expected instead.
        source: the file (or other origin) the value came from, if any.
    """

    def __init__(self, field: str, value: Any, reason: str, source: str | None = None):
        self.field, self.value, self.reason, self.source = field, value, reason, source
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.field} = {self.value!r}: {self.reason}"

    def with_source(self, source: str) -> SpecError:
        """The same error, attributed to `source` (keeps an existing attribution)."""
        if self.source:
            return self
        return type(self)(self.field, self.value, self.reason, source)

    def within(self, prefix: str) -> SpecError:
        """The same error with its field nested under `prefix` (e.g. ``base.`` + field)."""
        return type(self)(f"{prefix}{self.field}", self.value, self.reason, self.source)


def require(module: str, field: str, value: Any, reason: str) -> ModuleType:
    """`import module`, or, where an optional package is missing, the `SpecError` saying how
    to install it (e.g. ``backend = 'onnxruntime': is not installed: pip install ...``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SpecError(field, value, reason) from None


class RunFailed(RuntimeError):
    """A search that cannot go on through no fault of its input (e.g. its run directory can no
    longer be written): the CLI prints one line and exits 1."""
