"""The one way nas-search reads YAML: configs, block tables, space files, coefficient files.

Whatever the bytes, the outcome is either plain data (safe loader: no objects, no code) or one
`SpecError` naming the file: missing or unreadable, too large, not UTF-8 text, a control
character, a syntax error on any line (the last included), or nesting too deep or too large to
be a hand-written file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from search_space.errors import SpecError

MAX_BYTES = 4 << 20  # every file the project reads is hand-sized; a bigger one is a mistake
MAX_DEPTH = 64  # the deepest real file nests about 4 levels
MAX_NODES = 1_000_000  # aliases can make a small file expand into a huge tree


class YamlSyntaxError(SpecError):
    """Text that is not YAML at all (as opposed to YAML that is too deep, too large, ...)."""


def read_yaml(path: str | Path, field: str = "path") -> Any:
    """The data in the YAML file at `path`; `field` names the option the path came from."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(field, str(path), "no such file") from None
    except OSError as err:
        raise SpecError(field, str(path), f"cannot read it ({err.strerror or err})") from None
    if len(raw) > MAX_BYTES:
        raise SpecError(field, str(path), f"larger than {MAX_BYTES >> 20} MiB; not a "
                        "nas-search YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise SpecError(f"line {line}", raw[err.start:err.start + 8], "not UTF-8 text (a "
                        "binary file?)", str(path)) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str | None = None) -> Any:
    """The data in YAML `text`; errors name `source` (a file, or e.g. ``--set key``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise YamlSyntaxError(*_where(text, mark), f"not valid YAML: "
                              f"{err.problem or err.context}", source) from None
    except yaml.reader.ReaderError as err:  # a control character or a NUL byte
        line = text.count("\n", 0, err.position) + 1
        raise SpecError(f"line {line}", chr(err.character), "control character not allowed "
                        "in YAML", source) from None
    except (yaml.YAMLError, ValueError) as err:  # ValueError: e.g. the date 2020-13-45
        raise SpecError("(file)", source, f"not valid YAML: {err}", source) from None
    except RecursionError:
        raise SpecError("(file)", source, f"nested more than {MAX_DEPTH} levels deep",
                        source) from None
    _check_shape(data, source)
    return data


def _where(text: str, mark: Any) -> tuple[str, str]:
    """("line N", that line's text) for a parser mark; the mark may sit past the last line."""
    if mark is None:
        return "(file)", ""
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else (lines[-1] if lines else "")
    number = min(mark.line, max(len(lines) - 1, 0)) + 1
    return f"line {number}", line[:80]


def _check_shape(data: Any, source: str | None) -> None:
    """Refuse trees deeper than MAX_DEPTH or larger than MAX_NODES, without recursing."""
    stack, seen = [(data, 1)], 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise SpecError("(file)", source, f"nested more than {MAX_DEPTH} levels deep",
                            source)
        if seen > MAX_NODES:
            raise SpecError("(file)", source, f"more than {MAX_NODES:,} values (an alias "
                            "bomb?)", source)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for kv in node.items() for v in kv)
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
