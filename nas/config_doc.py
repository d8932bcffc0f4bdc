"""docs/config.md, generated from the config classes so the page cannot drift from the code.

    python -m nas.config_doc > docs/config.md     # write the page
    python -m nas.config_doc --check docs/config.md   # exit 1 when the page is stale

Every key of `SearchConfig` and of the sections it nests (dataclasses, followed through
`X | None` too) gets its dotted path, type, default and meaning. A meaning is the field's entry
in its class docstring's Google-style ``Attributes:`` (or ``Args:``) section; a field without one
stops the script with the list of every undocumented key.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

from nas.config import SearchConfig

SECTIONS = ("Attributes:", "Args:")

HEADER = """# Config reference

Every key of an experiment config (`nas-search run CONFIG`, `--set KEY=VALUE`), with its type,
default and meaning. An unknown key, a wrong type or a bad value is one line naming the file,
the key and the value (exit 2), before Ray starts. FLOPs are multiply-adds.

Generated from the config classes' docstrings by `python -m nas.config_doc > docs/config.md`;
do not edit by hand (a test fails when this page and the classes differ).
"""


@dataclasses.dataclass(frozen=True)
class Key:
    """One row of the page: a config key and what the code says about it."""

    path: str
    type: str
    default: str
    meaning: str | None


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> meaning, from the ``Attributes:``/``Args:`` section of `cls`'s docstring."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() in SECTIONS]
    docs: dict[str, list[str]] = {}
    name = None
    for line in lines[starts[0] + 1:] if starts else []:
        entry = re.match(r"^    (\w+)(?: \([^)]*\))?: ?(.*)$", line)
        if entry:
            name = entry.group(1)
            docs[name] = [entry.group(2)]
        elif line.startswith("        ") and name:
            docs[name].append(line.strip())
        elif line.strip():  # the section ends at the first line back at its own indent
            break
    return {key: _markdown(" ".join(words)) for key, words in docs.items()}


def summary(cls: type) -> str:
    """The docstring's prose before its field section, on one line."""
    text = inspect.cleandoc(cls.__doc__ or "")
    for section in SECTIONS:
        text = text.split(f"\n{section}")[0]
    return _markdown(" ".join(text.split()))


def _markdown(text: str) -> str:
    """reST's ``literal`` as Markdown's `literal`."""
    return text.replace("``", "`").strip()


def section_class(cls: type, name: str) -> type | None:
    """The dataclass a field holds (through `X | None`), or None for a plain value."""
    hint = typing.get_type_hints(cls)[name]
    for candidate in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(candidate):
            return candidate
    return None


def sections(cls: type = SearchConfig, prefix: str = "") -> Iterator[tuple[str, type]]:
    """(dotted path, class) of the config and every section it nests, depth first."""
    yield prefix, cls
    for item in dataclasses.fields(cls):
        nested = section_class(cls, item.name)
        if nested is not None:
            yield from sections(nested, f"{prefix}{item.name}.")


def default_text(item: dataclasses.Field) -> str:
    """A field's default as it would be written in YAML."""
    if item.default_factory is not dataclasses.MISSING:
        value = item.default_factory()
    else:
        value = item.default
    if dataclasses.is_dataclass(value):
        return "(section)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value) if value != {} else "{}"


def keys(cls: type, prefix: str) -> list[Key]:
    """The rows of one section."""
    docs = {}
    for base in reversed(cls.__mro__):  # a subclass's entry wins over its base's
        docs.update(field_docs(base) if dataclasses.is_dataclass(base) else {})
    return [Key(prefix + item.name, str(item.type), default_text(item), docs.get(item.name))
            for item in dataclasses.fields(cls)]


def check_documented(found: list[tuple[str, type, list[Key]]]) -> None:
    """Fail loudly on keys without a description."""
    missing = [key.path for _, _, rows in found for key in rows if not key.meaning]
    if missing:
        raise SystemExit("config_doc: no description in the class docstring's Attributes "
                         "section for: " + ", ".join(missing))


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def section_text(path: str, cls: type, rows: list[Key]) -> str:
    """One section: a heading, what the class says about itself, the table of its keys."""
    title = f"`{path.rstrip('.')}`" if path else "Top level"
    lines = [f"## {title}", "", summary(cls), "",
             "| key | type | default | meaning |", "|---|---|---|---|"]
    for key in rows:
        lines.append(f"| `{key.path}` | `{cell(key.type)}` | `{cell(key.default)}` | "
                     f"{cell(key.meaning)} |")
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole page."""
    found = [(path, cls, keys(cls, path)) for path, cls in sections()]
    check_documented(found)
    parts = [HEADER] + [section_text(path, cls, rows) for path, cls, rows in found]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nas.config_doc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", metavar="PAGE", help="compare PAGE with the generated page")
    args = parser.parse_args(argv)
    page = render()
    if args.check is None:
        sys.stdout.write(page)
        return 0
    if Path(args.check).read_text(encoding="utf-8") != page:
        print(f"{args.check} is stale: run python -m nas.config_doc > {args.check}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
