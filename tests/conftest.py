"""Shared test setup. The test machines' few cores are shared, so torch uses one thread.

Tests that start Ray or a subprocess are marked `slow` here, so `pytest -m "not slow"` is a quick
loop; CI runs everything. A test is slow when it uses the `ray_local` fixture, or when its code
(or a test helper it calls, or a fixture it uses, followed through) touches `subprocess`, Ray or
`nas.engine.runner.search`. A test this cannot see, or one that computes for seconds, is
marked by hand with `@pytest.mark.slow`.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

TESTS = Path(__file__).resolve().parent
SLOW_FIXTURES = {"ray_local"}
SLOW_MODULES = ("subprocess", "ray")  # a reference to these (or into them) starts a process/Ray
# a whole search: starts Ray when none is up
SLOW_FUNCTIONS = {"nas.engine.runner.search", "nas.api.search"}


def pytest_configure(config: pytest.Config) -> None:
    # fvcore traces with torch.jit, which warns about its own deprecation on every trace
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit.script` is deprecated")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray on 127.0.0.1 for every in-process search test; stopped at the end."""
    from nas.engine.ray_session import ray_session

    with ray_session(None, num_cpus=2):
        yield


def _is_slow(item: pytest.Item) -> bool:
    """True when the test uses Ray's fixture, or its code or its fixtures' reach a slow name."""
    names = set(getattr(item, "fixturenames", ()))
    if names & SLOW_FIXTURES:
        return True
    functions = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)  # the fixtures' own functions, by name
    for name in names if info is not None else ():
        functions += [d.func for d in info.name2fixturedefs.get(name, ())]
    seen: set[types.FunctionType] = set()
    return any(_reaches_slow(f, seen) for f in functions if isinstance(f, types.FunctionType))


def _reaches_slow(function: types.FunctionType, seen: set[types.FunctionType]) -> bool:
    """Whether `function` names a slow thing, directly or through a test helper it calls."""
    if function in seen:
        return False
    seen.add(function)
    for obj in _globals_used(function):
        where = getattr(obj, "__name__", "") if isinstance(obj, types.ModuleType) \
            else getattr(obj, "__module__", None) or ""
        if where.split(".")[0] in SLOW_MODULES or _qualified(obj) in SLOW_FUNCTIONS:
            return True
        if _is_test_helper(obj) and _reaches_slow(obj, seen):
            return True
    return False


def _globals_used(function: types.FunctionType) -> list[object]:
    """The module-level objects `function`'s code (nested functions included) refers to."""
    codes, names = [function.__code__], set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return [function.__globals__[n] for n in sorted(names) if n in function.__globals__]


def _qualified(obj: object) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


def _is_test_helper(obj: object) -> bool:
    return (isinstance(obj, types.FunctionType)
            and Path(obj.__code__.co_filename).resolve().is_relative_to(TESTS))
