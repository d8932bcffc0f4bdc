"""A fixed list of trainings seen as a search space of one decision: which entry.

The scaling grid and `nas-search fidelity` train known architectures
under known settings, through the search machinery (Ray trials, run directory, journal,
`status`, `load_results`, resuming a killed run). `EnumeratedSpace` is what that machinery sees:
`controllers.grid.GridSearch` proposes the entries in order; each row gets the entry's columns
(`row_fields`: a grid point's alpha, beta, gamma; a job's seed and setting); and the trial
config carries the entry's changes to the run's proxy config (`trial_config`: a seed, a longer
schedule, a supernet to score with), which `nas.engine.trial.run_trial` applies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from objectives import ProxyConfig
from search_space import Arch
from search_space.errors import SpecError


@dataclass(frozen=True)
class Entry:
    """One training: the arch (its name unique among the entries), columns, proxy config."""

    arch: Arch
    fields: dict[str, Any] = field(default_factory=dict)
    proxy: ProxyConfig | None = None  # None: the run's proxy config as it is
    supernet: dict[str, Any] | None = None  # score with this trained supernet (`supernet_score`)


class EnumeratedSpace:
    """Entries seen as a space of one decision; decodes to each entry's architecture.

    Args:
        entries: the trainings, in the order they are proposed.
        reference: the architecture a run directory records as its reference.
        proxy: the run's proxy config, which each entry's `proxy` is told apart from.
    """

    flops_band = (None, None)

    def __init__(self, entries: list[Entry], reference: Arch, proxy: ProxyConfig | None = None):
        self.entries, self.reference, self.proxy = list(entries), reference, proxy
        self.cardinalities = (len(self.entries),)
        # several entries may train one arch: Arch equality ignores the name, so key by both
        self._index = {(e.arch, e.arch.name): i for i, e in enumerate(self.entries)}
        if len(self._index) != len(self.entries):
            raise ValueError("entry architectures need unique names")

    def __len__(self) -> int:
        return len(self.entries)

    def decode(self, tokens: list[int]) -> Arch:
        return self.entries[tokens[0]].arch

    def encode(self, arch: Arch) -> list[int]:
        if (arch, arch.name) not in self._index:
            raise SpecError("arch", arch.name, "is not one of this run's trainings")
        return [self._index[(arch, arch.name)]]

    def in_band(self, arch: Arch) -> bool:
        return True

    def row_fields(self, tokens: list[int]) -> dict[str, Any]:
        return dict(self.entries[tokens[0]].fields)

    def trial_config(self, tokens: list[int]) -> dict[str, Any]:
        """The entry's changes to the run's proxy config, and its supernet if it is scored by
        one, applied inside the trial."""
        entry = self.entries[tokens[0]]
        config = {"supernet": dict(entry.supernet)} if entry.supernet else {}
        if entry.proxy is None or self.proxy is None:
            return config
        base, own = dataclasses.asdict(self.proxy), dataclasses.asdict(entry.proxy)
        return {**config, "proxy": {k: v for k, v in own.items() if base[k] != v}}
