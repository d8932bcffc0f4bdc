"""The confirmation phase: after the budget, the plan's (candidate, seed) trainings as Ray Tune
proxy trials, journaled through `Ledger.propose_tokens` with ``stage: confirm`` (outside the
budget), for either evaluator.

The plan (`nas.ledger.confirmation.plan`) is recomputed from the journal, so a resumed run, or
the `confirm` verb extending a finished one, trains only what is missing. It is run round by
round: the `within_noise` extras are chosen once the top K's trainings measured the noise. A
`confirm.reference` is one more candidate of the plan, trained alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from nas.config import SearchConfig
from nas.engine.searcher import ControllerSearcher
from nas.engine.trial import TrialSetup
from nas.engine.tuning import fit_trials
from nas.ledger.confirmation import STAGE, Training, done, plan
from nas.ledger.confirmed import reference_key
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
from search_space.errors import SpecError


def confirmations(config: SearchConfig, ledger: Ledger) -> list[Training]:
    """The confirming trainings still to run (none in flight are planned again)."""
    in_flight = [(tuple(t), f["confirm_seed"]) for t, f in ledger.chosen_in_flight()
                 if f.get("stage") == STAGE]
    return plan(ledger.rows, config.confirm, config.proxy, config.objective, in_flight,
                reference_tokens(config, ledger.space))


def reference_tokens(config: SearchConfig, space: Any) -> tuple[int, ...] | None:
    """`confirm.reference` as tokens of the run's space (None without one); one line naming
    it when it is not an architecture of that space."""
    try:
        return reference_key(config, space)
    except SpecError as err:
        arch = config.confirm.reference_arch()
        raise SpecError("confirm.reference", arch.name or "(block table)",
                        f"is not an architecture of the run's space ({err.field} = "
                        f"{err.value!r}: {err.reason}): a reference is trained alike only as "
                        "one of the space's architectures") from None


def run_confirmation(config: SearchConfig, run: RunDir, ledger: Ledger,
                     reference_resolution: int, on_round: Callable[[int, int], None],
                     progress: Callable[[str], None] = print) -> None:
    """Train the plan round by round until nothing is left; `on_round(done, total)` hears of
    each round's size first (confirming trainings journaled, and journaled + planned)."""
    todo = confirmations(config, ledger)
    while todo:
        journaled = len(done(ledger.rows))
        on_round(journaled, journaled + len(todo))
        progress(f"confirm: {len(todo)} trainings ({config.confirm.seeds} seed(s) each, "
                 f"outside the budget)")
        searcher = ConfirmSearcher(ledger, todo, config)
        setup = TrialSetup(config.proxy, config.objective, config.evaluate,
                           reference_resolution)
        fit_trials(config, run, ledger, searcher, len(todo), setup)
        if len(done(ledger.rows)) == journaled:
            return  # Tune ran nothing (stopped): do not spin
        todo = confirmations(config, ledger)


class ConfirmSearcher(ControllerSearcher):
    """Ray Tune's view of a confirmation round: one trial per planned (candidate, seed), its
    proxy recipe `confirm.proxy(proxy, seed)`; completions go through the ledger as usual."""

    def __init__(self, ledger: Ledger, todo: list[Training], config: SearchConfig):
        super().__init__(ledger)
        self.todo, self.config = list(todo), config

    def suggest(self, trial_id: str) -> dict | str | None:
        if not self.todo:
            return ControllerSearcher.FINISHED
        tokens, seed = self.todo.pop(0)
        fields = {"stage": STAGE, "confirm_seed": seed, "evaluator": "proxy"}
        tokens = self.ledger.propose_tokens(trial_id, tokens, fields)
        return {"tokens": tokens, "arch": self.ledger.space.decode(tokens).to_dict(),
                "proxy": self.recipe(seed)}

    def recipe(self, seed: int) -> dict[str, Any]:
        """The confirming recipe's changes to the run's proxy config (what `run_trial` applies)."""
        base = self.config.proxy
        own = self.config.confirm.proxy(base, seed)
        return {f.name: getattr(own, f.name) for f in dataclasses.fields(own)
                if getattr(own, f.name) != getattr(base, f.name)}
