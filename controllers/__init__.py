"""Plain ask/tell controllers over a `SearchSpace`: random, aging evolution, PPO, REINFORCE, grid.

No Ray here: `nas.ledger` drives them (and `nas.engine.searcher` connects the ledger to Ray).
"""

from controllers.base import AskTell, Controller, TokenSpace
from controllers.registry import make, names, options

__all__ = ["AskTell", "Controller", "TokenSpace", "make", "names", "options"]
