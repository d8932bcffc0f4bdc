"""A study's folder: where a new one goes, finding a recorded one, and resuming it as recorded.

A study's folder holds what it was asked for (`fidelity-study.yaml`).
Re-running it resumes it; a flag, `--set` or `--output` that asks for another study is refused
naming that flag, never silently dropped. Only `--address` may change: it moves the study to a
cluster.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nas.config import without_address
from search_space.errors import SpecError
from search_space.yaml_file import read_yaml

# a study's config overrides: `key=value` from --set, or (flag, `key=value`) from another flag
Overrides = list[str | tuple[str, str]]


def default_output(kind: str, run_dir: Path | None, name: str = "") -> Path:
    """A new study's folder: KIND inside the run it studies, else runs/KIND-NAME-TIMESTAMP."""
    if run_dir is not None:
        return run_dir / kind
    return Path("runs") / f"{kind}-{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def recorded_in(study_file: str, places: Iterable[str | Path | None]) -> Path | None:
    """The first of `places` (None: skipped) that holds a recorded study, or None."""
    return next((Path(p) for p in places if p and (Path(p) / study_file).is_file()), None)


def read_study(path: Path, build: Callable[[Any], Any]) -> Any:
    """`build(data)` of the study file at `path` (YAML, safe loader); a file it cannot build
    from (emptied, hand-edited, another program's) is one error line naming it."""
    data = read_yaml(path, path.name)
    try:
        return build(data)
    except SpecError as err:  # a field of the saved config: say which file holds it
        raise SpecError(err.field, err.value, err.reason, err.source or str(path)) from None
    except (TypeError, KeyError, ValueError, AttributeError, IndexError):
        raise SpecError(path.name, str(path), "damaged: not a study nas-search saved") from None


def reopen(recorded, args: argparse.Namespace, source: str | Path, resume_dir: Path,
           flags: dict[str, tuple[Any, Any]], asked: Callable[[], Any] | None,
           same: Callable[[Any, Any, Path], Any]):
    """The recorded study in `resume_dir`, as a rerun may resume it. Named as the source (or
    with nothing else to compare, `asked` None), flags may only agree with it (`resumed`);
    else the command that started it, again, must ask for it: `same(recorded, asked(), dir)`."""
    if asked is None or same_place(source, resume_dir):
        refuse_other_output(args.output, resume_dir)
        return resumed(recorded, args, flags)
    return same(recorded, asked(), resume_dir)


def resumed(study, args: argparse.Namespace, recorded: dict[str, tuple[Any, Any]]):
    """A recorded study resumes as recorded: `--set` cannot change what
    it trains, nor can a flag in `recorded` (flag -> (given or None, recorded value)) that
    differs; `--address` may move it to a cluster."""
    if args.overrides:
        raise SpecError("--set", args.overrides[0], "a recorded study resumes as it was "
                        "recorded; start a new one with another --output")
    for flag, (given, kept) in recorded.items():
        if given is not None and given != kept:
            raise SpecError(flag, given, f"this study was recorded with {kept} and resumes as "
                            "recorded; start a new one with another --output")
    if not args.address:
        return study
    return dataclasses.replace(study, config=dataclasses.replace(study.config,
                                                                 address=args.address))


def same_place(a, b) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def refuse_other_output(output: str | None, resume_dir) -> None:
    """Resuming the study in `resume_dir` writes there: another --output would be dropped."""
    if output is not None and not same_place(output, resume_dir):
        raise SpecError("--output", output, f"the study resumed is in {resume_dir} and "
                        "writes there; leave --output out, or start a new study from its source")


def same_study(recorded, asked, verb: str, output, flags: dict[str, tuple[Any, Any]]):
    """`asked` when it is `recorded` but for the cluster (`config.address`); else a SpecError
    naming the first flag in `flags` (flag -> (asked, recorded)) that differs."""
    def unaddressed(study):
        return dataclasses.replace(study, config=without_address(study.config))

    if unaddressed(asked) == unaddressed(recorded):
        return asked
    differs = next((flag for flag, (a, r) in flags.items() if a != r), "config or --set")
    raise SpecError("--output", str(output), f"holds a {verb} study recorded with another "
                    f"{differs}; resume it with `nas-search {verb} {output}`, or start a new "
                    "one with another --output")
