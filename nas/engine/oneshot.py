"""`evaluator: supernet`: train the run's supernet once, then score candidates with its weights.

The supernet is trained (or finished, or just loaded) at RUN_DIR/supernet.pt, which holds a
checkpoint per epoch, so a killed run resumes training from its last epoch. Scoring then runs in
`supernet.actors` long-lived Ray actors, each holding the supernet and the data: the driver
proposes `supernet.batch` candidates at a time through the ledger, an actor scores the batch
(inherited weights, BN recalibration, held-out top-1), and each result is completed through the
ledger, so rows land in the same journal (with ``evaluator: supernet``), the controller learns
as in a proxy search, and `resume` requeues the batches that were in flight.

Once the budget is covered, `confirm:` retrains the best candidates as proxy trials
(`nas.engine.confirming`), as for a proxy search.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from nas.config import SearchConfig
from nas.engine.supernet_fit import fit_supernet
from nas.ledger.ledger import Ledger
from nas.ledger.run_dir import RunDir
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


def check_supernet(config: SearchConfig, run: RunDir, space: SearchSpace) -> None:
    """A resumed run's supernet.pt must load into its space (a `SpecError` naming the file and
    key otherwise): found out before Ray starts, not once the search is under way."""
    checkpoint = run.path / SUPERNET_FILE
    if config.evaluator == EVALUATOR and checkpoint.is_file():
        load_checkpoint(checkpoint, space)


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
    scoring = _Scoring(config, ledger, space, supernet)
    scoring.fill()
    while scoring.pending:
        scoring.collect()
        scoring.fill()


Job = list[tuple[str, list[int]]]  # (ledger key, tokens) of the candidates an actor works on


class _Scoring:
    """The driver's side of scoring: idle actors and calls in flight."""

    def __init__(self, config: SearchConfig, ledger: Ledger, space: SearchSpace,
                 supernet: Supernet):
        import ray

        self.config, self.ledger, self.space = config, ledger, space
        resources = config.resources
        self.state = ray.put({k: v.cpu() for k, v in supernet.state_dict().items()})
        self.remote = ray.remote(num_cpus=resources.cpu, num_gpus=resources.gpu)(SupernetScorer)
        self.pending: dict[Any, tuple[Any, Job]] = {}  # call -> (actor, job)
        self.idle = [self.start_actor() for _ in range(config.supernet.actors)]

    def start_actor(self) -> Any:
        return self.remote.remote(self.space, self.state, self.config.proxy,
                                  self.config.supernet, max(1, int(self.config.resources.cpu)))

    def scoring_batch(self) -> Job:
        batch = []
        while len(batch) < self.config.supernet.batch:
            key = f"{EVALUATOR}-{uuid.uuid4().hex[:8]}"
            tokens = self.ledger.propose(key)
            if tokens is None:
                break
            batch.append((key, tokens))
        return batch

    def fill(self) -> None:
        """Give each idle actor a scoring batch while the ledger proposes candidates."""
        while self.idle:
            batch = self.scoring_batch()
            if not batch:
                return
            actor = self.idle.pop(0)
            self.pending[actor.score.remote([tokens for _, tokens in batch])] = (actor, batch)

    def collect(self) -> None:
        """Complete the first call to finish through the ledger; its actor is idle again."""
        import ray
        from ray.exceptions import RayError

        [ref], _ = ray.wait(list(self.pending), num_returns=1)
        actor, batch = self.pending.pop(ref)
        try:
            outcomes = ray.get(ref)
        except RayError as err:  # the actor died: fail its batch, carry on with a new one
            reason = f"the scoring actor failed: {type(err).__name__}"
            outcomes = [{"status": "failed", "reason": reason, "evaluator": EVALUATOR}
                        for _ in batch]
            actor = self.start_actor()
        for (key, _), outcome in zip(batch, outcomes, strict=True):
            self.ledger.complete(key, outcome)
        self.idle.append(actor)
