"""`confirm:`: after the budget, retrain the search's best candidates with several seeds.

A search's single training per candidate is partly luck: two seeds of one recipe rank the same
architectures only loosely (docs/findings.md). The confirmation phase retrains the top K
distinct candidates S times each, with proxy seeds the search never used, so the answer is a
mean with an interval instead of the luckiest seed (`nas.ledger.confirmation` plans it).
A `reference` (e.g. the space's EfficientNet-B0) is trained alike, so the answer also says
whether the search beat it (`nas-search compare`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from nas.schema import from_data
from objectives import ProxyConfig
from search_space import Arch, load_arch
from search_space.errors import SpecError
from search_space.validators import integer

CONFIRM_SEED_BASE = 1000  # confirming seed i of a run is proxy.seed + 1000 + i
PREFIX = "proxy."  # `set` keys may be spelled with it, as on the command line


@dataclass(frozen=True)
class ConfirmConfig:
    """The confirmation phase, run after the search's budget (outside it).

    Attributes:
        top: K distinct candidates, best search reward first, to retrain; 0: no confirmation.
        seeds: S trainings of each, with proxy seeds ``proxy.seed + 1000 + i`` (i < S),
            distinct from the search's.
        set: proxy settings of the confirming trainings, e.g. ``{epochs: 6}`` (keys are
            ``proxy`` fields); empty: the search's own recipe.
        within_noise: also confirm up to this many more candidates whose search reward lies
            within the search's measured noise of the K-th (see
            `nas.ledger.confirmation.noise`); 0: none.
        reference: an architecture trained alike (same recipe and seeds) to compare against:
            a preset name (e.g. ``efficientnet-b0``), a block-table YAML path or the block
            table itself; it must be an architecture of the run's space. None: no reference.
    """

    top: int = 0
    seeds: int = 2
    set: dict = field(default_factory=dict)
    within_noise: int = 0
    reference: Any = None

    def __post_init__(self) -> None:
        integer("top", self.top, 0)
        integer("seeds", self.seeds, 1)
        integer("within_noise", self.within_noise, 0)
        if self.reference is not None:
            self.reference_arch()  # a bad table is named here, before anything runs
            if not self.top:
                raise SpecError("reference", _shown(self.reference), "is trained beside the "
                                "confirmed candidates: set top >= 1")
        settings = {str(k).removeprefix(PREFIX): v for k, v in self.set.items()}
        if "seed" in settings:
            raise SpecError("set.seed", settings["seed"], "confirming seeds are proxy.seed + "
                            f"{CONFIRM_SEED_BASE} + i: set `seeds` (how many) instead")
        from_data(ProxyConfig, settings, "set.")  # unknown keys and bad values, named here
        object.__setattr__(self, "set", settings)

    def reference_arch(self) -> Arch | None:
        """The reference's block table (None without one)."""
        if self.reference is None:
            return None
        try:
            if isinstance(self.reference, str):
                return load_arch(self.reference)
            if isinstance(self.reference, dict):
                return Arch.from_dict(self.reference)
        except SpecError as err:  # a table's own field, unless the error is the whole table's
            reason = err.reason if err.field in ("arch", "path") else f"{err.field}: {err.reason}"
            raise SpecError("reference", _shown(self.reference), reason) from None
        raise SpecError("reference", _shown(self.reference),
                        "must be a preset name, a .yaml path or a block table")

    def seed(self, base: ProxyConfig, i: int) -> int:
        """The proxy seed of the i-th confirming training of a candidate."""
        return base.seed + CONFIRM_SEED_BASE + i

    def proxy(self, base: ProxyConfig, seed: int) -> ProxyConfig:
        """The confirming recipe: `base` with `set` applied, training with proxy seed `seed`,
        one training per row (the search's `proxy.seeds` averaging does not apply unless `set`
        asks for it: the confirmation's seeds are its own average)."""
        return dataclasses.replace(from_data(ProxyConfig, {**_fields(base), "seeds": 1,
                                                           **self.set}), seed=seed)


def _fields(proxy: ProxyConfig) -> dict:
    return {f.name: getattr(proxy, f.name) for f in dataclasses.fields(proxy) if f.init}


def _shown(reference: Any) -> str:
    return reference if isinstance(reference, str) else f"<{type(reference).__name__}>"
