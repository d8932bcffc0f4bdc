"""The one adapter from a `Ledger` to Ray Tune's `Searcher`.

Ray pulls: `suggest(trial_id)` is `ledger.propose`, `on_trial_complete` is `ledger.complete` of
the trial's outcome. The books (journal, controller state, replay after a crash) are the
ledger's, so this glue holds nothing of its own.
"""

from __future__ import annotations

from ray.tune.search import Searcher

from nas.ledger.ledger import Ledger
from nas.ledger.trial_outcome import trial_outcome


class ControllerSearcher(Searcher):
    """Ray Tune's view of `ledger`: one trial per proposal, until the budget is covered."""

    def __init__(self, ledger: Ledger):
        super().__init__(metric=None, mode=None)
        self.ledger = ledger

    def suggest(self, trial_id: str) -> dict | str | None:
        tokens = self.ledger.propose(trial_id)
        if tokens is None:
            return Searcher.FINISHED
        space = self.ledger.space
        config = {"tokens": tokens, "arch": space.decode(tokens).to_dict()}
        if hasattr(space, "trial_config"):  # a study's entry: its own proxy changes
            config.update(space.trial_config(tokens))
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        self.ledger.complete(trial_id, trial_outcome(result, error, self.ledger.epochs))

    def save(self, checkpoint_path: str) -> None:
        """Ray's periodic experiment checkpoint; the ledger's own is saved on every change."""
        import torch

        torch.save(self.ledger.state(), checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        """Ray's restore: the ledger continues from the run directory, not from Ray's copy."""
        self.ledger.restore()
