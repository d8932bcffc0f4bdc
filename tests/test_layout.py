"""The house plan as tests (DESIGN.md): import arrows, how many modules `nas/` holds, sizes.

Pure static checks: every file is parsed with `ast`, nothing of the project is imported, so an
import inside a function counts as much as one at the top. Each test names every offender as
file:line, so one run lists all there is to fix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_space", "objectives", "controllers")
SKIP_DIRS = {"__pycache__", "fixtures"}  # at any depth
SKIP_TOP = {"build", "dist", "runs", "data"}  # at the root: outputs, not the project
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_NAS_MODULES = 400, 40, 8

# nas/'s rooms, lowest first: a module may import its own room and those below it only
ROOMS = ("nas.ledger", "nas.outputs", "nas.engine", "nas.studies", "nas.api", "nas.commands")
TOP = ("nas.cli", "nas.__main__", "nas")  # the CLI and the package's public names: the top
BASE = ("nas.config", "nas.schema")  # imported by every room, so they import none
# packages (or files) and the top-level packages they must never import
FORBIDDEN = {
    "search_space": ("objectives", "controllers", "nas"),
    "objectives": ("controllers", "nas"),
    "controllers": ("objectives", "nas", "ray"),
    "nas.ledger": ("ray",),
    **{base: (*ROOMS, "nas.cli") for base in BASE},
}


def python_files(*tops: str, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    """The .py files under `tops` (all of the repository when none), less the `skip` folders."""
    for top in [ROOT / t for t in tops] or [ROOT]:
        for path in sorted(top.rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            hidden = any(p in SKIP_DIRS or p.startswith(".") for p in parts)
            if not hidden and parts[0] not in (*skip, *SKIP_TOP):
                yield path


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def project_modules() -> frozenset[str]:
    return frozenset(module_name(p) for p in python_files(*PACKAGES))


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every import in the file, at any depth, relative ones resolved."""
    return imports_in(tree(path), module_name(path), path.name == "__init__.py")


def imports_in(module: ast.Module, name: str, package: bool) -> Iterator[tuple[int, str]]:
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(name, package, node)
            # `from nas import config` imports the module nas.config; `from x import a, b` is x
            full = (f"{base}.{alias.name}" for alias in node.names)
            targets = {f if f in project_modules() else base for f in full}
            yield from ((node.lineno, target) for target in sorted(targets))


def absolute(name: str, package: bool, node: ast.ImportFrom) -> str:
    """The dotted name `node` imports from, for a file of module `name` (a package's or not)."""
    if not node.level:
        return node.module or ""
    parts = name.split(".") if package else name.split(".")[:-1]
    parts = parts[:len(parts) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def rank(name: str) -> int | None:
    """The room's place in the order (the top above every room); None outside the rooms."""
    for i, room in enumerate(ROOMS):
        if within(name, room):
            return i
    return len(ROOMS) if name in TOP else None


def upward_imports() -> Iterator[str]:
    for path in python_files("nas"):
        mine = rank(module_name(path))
        if mine is None:
            continue
        for line, name in imported(path):
            theirs = rank(name)
            if theirs is not None and theirs > mine:
                yield f"{where(path, line)} ({module_name(path)} -> {name})"


def forbidden_imports() -> Iterator[str]:
    for path in python_files(*PACKAGES):
        importer = module_name(path)
        for owner, banned in FORBIDDEN.items():
            if not within(importer, owner):
                continue
            for line, name in imported(path):
                if any(within(name, b) for b in banned) and not within(name, owner):
                    yield f"{where(path, line)} ({importer} -> {name})"


def functions(path: Path) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def report(offenders: list[str], what: str) -> str:
    return f"{len(offenders)} {what}:\n  " + "\n  ".join(offenders)


def test_no_room_imports_a_room_above_it() -> None:
    offenders = list(upward_imports())
    assert not offenders, report(offenders, "imports of a room above the importer's "
                                 f"(order: {' < '.join(ROOMS)} < cli)")


def test_packages_import_only_what_the_plan_allows() -> None:
    # the ledger without ray, config/schema without rooms, the floor packages without those above
    offenders = list(forbidden_imports())
    assert not offenders, report(offenders, "imports the house plan forbids")


def test_nas_top_level_holds_few_modules() -> None:
    modules = sorted(p.name for p in (ROOT / "nas").glob("*.py"))
    assert len(modules) <= MAX_NAS_MODULES, (
        f"nas/ holds {len(modules)} modules besides its rooms (at most {MAX_NAS_MODULES}): "
        + ", ".join(modules))


def test_no_module_is_too_long() -> None:
    offenders = []
    for path in python_files(skip=("benchmarks",)):
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{where(path, 1)} ({lines} lines)")
    assert not offenders, report(offenders, f"modules over {MAX_MODULE_LINES} lines")


def test_no_function_is_too_long() -> None:
    # counted from `def` to the function's last line, docstring included; tests count too
    offenders = []
    for path in python_files(skip=("benchmarks",)):
        for node in functions(path):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                offenders.append(f"{where(path, node.lineno)} {node.name} ({lines} lines)")
    assert not offenders, report(offenders, f"functions over {MAX_FUNCTION_LINES} lines")


def test_the_checks_see_nested_and_relative_imports() -> None:
    source = ("def f():\n    import ray.tune\n    from nas import config\n"
              "from ..engine import runner\nfrom . import results\n")
    found = [name for _, name in imports_in(ast.parse(source), "nas.ledger.example", False)]
    assert found == ["nas.engine.runner", "nas.ledger.results", "ray.tune", "nas.config"]
