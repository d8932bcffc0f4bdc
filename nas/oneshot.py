"""`evaluator: supernet`: train the run's supernet once, then score candidates with its weights.

The supernet is trained (or finished, or just loaded) at RUN_DIR/supernet.pt, which holds a
checkpoint per epoch, so a killed run resumes training from its last epoch. Scoring then runs in
`supernet.actors` long-lived Ray actors, each holding the supernet and the data: the driver
proposes `supernet.batch` candidates at a time through the ledger, an actor scores the batch
(inherited weights, BN recalibration, held-out top-1), and each result is completed through the
ledger, so rows land in the same journal (with ``evaluator: supernet``), the controller learns
as in a proxy search, and `resume` requeues the batches that were in flight.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from nas.config import SearchConfig
from nas.ledger import Ledger
from nas.run_dir import RunDir
from nas.supernet_trainer import fit_supernet
from objectives import ProxyConfig, SupernetConfig, load_supernet
from objectives.supernet_training import load_checkpoint
from search_space import SearchSpace, Supernet

SUPERNET_FILE = "supernet.pt"
EVALUATOR = "supernet"


def run_oneshot(config: SearchConfig, run: RunDir, ledger: Ledger, space: SearchSpace,
                progress: Callable[[str], None] = print) -> None:
    """Train or load the run's supernet, then score candidates until the budget is covered."""
    supernet = trained_supernet(config, run, space, progress)
    progress(f"supernet: scoring {ledger.remaining} candidates with inherited weights, "
             f"{config.supernet.batch} per call, {config.supernet.actors} actor(s)")
    _score_with_actors(config, ledger, space, supernet)


def trained_supernet(config: SearchConfig, run: RunDir, space: SearchSpace,
                     progress: Callable[[str], None] = print) -> Supernet:
    """The run's supernet: loaded if fully trained, else trained from its last epoch on."""
    cfg, checkpoint = config.supernet, run.path / SUPERNET_FILE
    done = load_checkpoint(checkpoint)["epoch"] if checkpoint.is_file() else 0
    if done >= cfg.epochs:
        progress(f"supernet: loaded {checkpoint} ({done} epochs)")
        return load_supernet(space, checkpoint)
    start = "training" if done == 0 else f"resuming after epoch {done}:"
    progress(f"supernet: {start} epochs {done + 1}..{cfg.epochs} ({cfg.sampling} sampling, "
             f"{cfg.workers} worker(s))")

    def on_epoch(entry: dict[str, Any]) -> None:
        progress(f"supernet: epoch {entry['epoch']}/{cfg.epochs}  loss {entry['loss']:.3f}  "
                 f"{entry['seconds']:.1f}s")

    resources = (config.resources.cpu, config.resources.gpu)
    # one torch thread per CPU asked for, as trials get: more threads than free cores spin
    threads = config.proxy.threads or max(1, int(resources[0]))
    proxy = dataclasses.replace(config.proxy, threads=threads)
    return fit_supernet(space, proxy, cfg, checkpoint, resources, on_epoch=on_epoch)


class SupernetScorer:
    """A long-lived Ray actor: holds the supernet and the data, scores batches of candidates."""

    def __init__(self, space: SearchSpace, state: dict, proxy: ProxyConfig,
                 cfg: SupernetConfig, threads: int):
        import torch

        from objectives import load_dataset

        torch.set_num_threads(threads)
        self.space, self.proxy, self.cfg = space, proxy, cfg
        self.data = load_dataset(proxy)
        self.supernet = Supernet(space, self.data.num_classes)
        self.supernet.load_state_dict(state)
        self.supernet.eval()

    def score(self, batch: list[list[int]]) -> list[dict[str, Any]]:
        """One outcome per token list; a candidate that fails is a failed row, not a crash."""
        from objectives import score_candidates

        outcomes = []
        for tokens in batch:
            try:
                [score] = score_candidates(self.supernet, [self.space.decode(tokens)],
                                           self.proxy, self.cfg, self.data)
                outcome = {"status": "ok", "reason": "", "accuracy": score["accuracy"],
                           "train_seconds": score["seconds"]}
            except Exception as err:  # noqa: BLE001 - a failed candidate is a result
                outcome = {"status": "failed", "reason": f"{type(err).__name__}: {err}"}
            outcomes.append({**outcome, "epochs": 0, "evaluator": EVALUATOR,
                             "proxy_resolution": self.proxy.resolution})
        return outcomes


def _score_with_actors(config: SearchConfig, ledger: Ledger, space: SearchSpace,
                       supernet: Supernet) -> None:
    """Keep every actor busy with a batch until the ledger proposes nothing more."""
    import ray
    from ray.exceptions import RayError

    cpu, gpu = config.resources.cpu, config.resources.gpu
    state = ray.put({k: v.cpu() for k, v in supernet.state_dict().items()})
    remote = ray.remote(num_cpus=cpu, num_gpus=gpu)(SupernetScorer)

    def start_actor():
        return remote.remote(space, state, config.proxy, config.supernet, max(1, int(cpu)))

    pending: dict[Any, tuple[Any, list[tuple[str, list[int]]]]] = {}

    def submit(actor) -> None:
        batch = []
        while len(batch) < config.supernet.batch:
            key = f"{EVALUATOR}-{uuid.uuid4().hex[:8]}"
            tokens = ledger.propose(key)
            if tokens is None:
                break
            batch.append((key, tokens))
        if batch:
            pending[actor.score.remote([tokens for _, tokens in batch])] = (actor, batch)

    for _ in range(config.supernet.actors):
        submit(start_actor())
    while pending:
        [ref], _ = ray.wait(list(pending), num_returns=1)
        actor, batch = pending.pop(ref)
        try:
            outcomes = ray.get(ref)
        except RayError as err:  # the actor died: fail its batch, carry on with a new one
            reason = f"the scoring actor failed: {type(err).__name__}"
            outcomes = [{"status": "failed", "reason": reason, "evaluator": EVALUATOR}
                        for _ in batch]
            actor = start_actor()
        for (key, _), outcome in zip(batch, outcomes, strict=True):
            ledger.complete(key, outcome)
        submit(actor)
