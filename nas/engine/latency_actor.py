"""Latency for a search: the per-block table built alone on its device, then cheap lookups.

Timing beside training measures the contention, not the model. So before any trial starts,
one Ray actor that reserves the whole device (every CPU of a node, or a whole GPU) times every
part the space can make into the table, and a few whole networks to calibrate its sums
(`LatencyTable.calibrate`); it is killed before the trials start, and from then on the driver
predicts each candidate's latency from table entries (no timing at all).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from objectives.latency import LatencySetup
from objectives.latency_table import LatencyTable, Part, arch_parts, calibration_archs, space_parts
from search_space import Arch, SearchSpace, SpecError


def table_parts(space: Any, num_classes: int = 1000) -> list[Part]:
    """Every part a search over `space` can meet (a `SearchSpace`, or a grid's `archs`)."""
    if isinstance(space, SearchSpace):
        return space_parts(space, num_classes=num_classes)
    return [p for arch in space.archs for p in arch_parts(arch, num_classes=num_classes)]


def table_archs(space: Any, seed: int = 0) -> list[Arch]:
    """The whole networks that calibrate a search's table: seeded samples of a space; every
    arch of a grid (each scaled arch is a skeleton of its own)."""
    if isinstance(space, SearchSpace):
        return calibration_archs(space, seed)
    return list(space.archs)


class _TableBuilder:
    """The actor: times parts and calibrating networks under `setup`, alone on its device."""

    def __init__(self, setup: LatencySetup, num_classes: int):
        self.setup, self.num_classes = setup, num_classes

    def build(self, entries: dict[str, float], parts: list[Part], archs: list[Arch]
              ) -> tuple[dict[str, float], dict[str, float]]:
        table = LatencyTable(self.setup, num_classes=self.num_classes, persist=False)
        table.entries.update(entries)
        table.fill(parts)
        table.calibrate(archs)
        return table.entries, table.scales


def device_resources(setup: LatencySetup) -> dict[str, float]:
    """Ray resources that make the actor the device's only user while it times."""
    import ray

    if setup.device.startswith("cuda"):
        if not ray.cluster_resources().get("GPU"):
            raise SpecError("objective.latency.device", setup.device, "the Ray cluster has no "
                            "GPU to time on")
        return {"num_gpus": 1, "num_cpus": 1}
    cpus = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]),
               default=1)
    return {"num_cpus": cpus}


def build_table(table: LatencyTable, parts: list[Part], archs: list[Arch],
                progress: Callable[[str], None] = print) -> int:
    """Time the `parts` missing from `table`, and calibrate it on `archs` unless their
    skeletons are calibrated already, in one device-holding actor; save the table.

    Call inside a Ray session, before trials start. Returns how many parts were timed.
    """
    import ray

    todo = table.missing(parts)
    uncalibrated = [a for a in archs if table.skeleton(a) not in table.scales]
    if not todo and not uncalibrated:
        return 0
    resources = device_resources(table.setup)
    progress(f"timing {len(todo)} blocks and {len(uncalibrated)} whole networks for the "
             f"latency table alone on {table.setup.device} ({resources})")
    actor = ray.remote(**resources)(_TableBuilder).remote(table.setup, table.num_classes)
    try:
        entries, scales = ray.get(actor.build.remote(table.entries, todo, uncalibrated))
    finally:
        ray.kill(actor)  # frees the device for the trials
    table.entries.update(entries)
    table.scales.update(scales)
    table.save()
    return len(todo)


class WithLatency:
    """A candidate space whose rows also get `latency_ms`, looked up in a filled table.

    Wraps what the ledger proposes from (encode, decode, in_band, ... pass through) and adds
    `row_fields`, which the ledger merges into each row before scoring it.
    """

    def __init__(self, space: Any, table: LatencyTable):
        self._space, self.table = space, table
        # the environment the number belongs to, in the row: export writes it out
        self.fingerprint = json.dumps(table.fingerprint, sort_keys=True)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not set yet (unpickling): no recursion through _space
            raise AttributeError(name)
        return getattr(self._space, name)

    def latency_ms(self, arch: Arch) -> float:
        ms = self.table.lookup(arch)
        if ms is None:
            raise RuntimeError(f"the latency table lacks parts of {arch.name}: build it first")
        return ms

    def row_fields(self, tokens: list[int]) -> dict[str, Any]:
        fields = self._space.row_fields(tokens) if hasattr(self._space, "row_fields") else {}
        return {**fields, "latency_ms": self.latency_ms(self._space.decode(tokens)),
                "latency_fingerprint": self.fingerprint}
