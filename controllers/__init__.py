"""Plain ask/tell controllers over a `SearchSpace`: random, aging evolution, PPO, REINFORCE.

No Ray here: `nas.ray_searcher` is the one adapter.
"""

from controllers.base import Controller
from controllers.registry import make, names, options

__all__ = ["Controller", "make", "names", "options"]
