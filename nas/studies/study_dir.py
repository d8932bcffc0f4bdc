"""Resuming a recorded fidelity or compare study: the same study, or one line saying why not.

A study's folder holds what it was asked for (`fidelity-study.yaml`, `compare-study.yaml`).
Re-running it resumes it; a flag, `--set` or `--output` that asks for another study is refused
naming that flag, never silently dropped. Only `--address` may change: it moves the study to a
cluster.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from nas.config import without_address
from search_space.errors import SpecError


def resumed(study, args: argparse.Namespace, recorded: dict[str, tuple[Any, Any]]):
    """A recorded study (fidelity or compare) resumes as recorded: `--set` cannot change what
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
