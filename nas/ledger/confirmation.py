"""The confirmation plan: which (candidate, seed) trainings are still to run. Pure; no Ray.

The plan is recomputed from the journal every time (after a crash, on `resume`, when the
`confirm` verb extends a run), so nothing journaled is trained twice and nothing is lost: a
confirming training is done once a row with ``stage: confirm`` and its ``confirm_seed`` is
journaled for its candidate, whatever its status (a failed one is not retried).

A candidate is its token tuple; its search reward is the best reward of its scored search rows
(rows without ``stage``). The plan takes the top K candidates by search reward, each with S
seeds, then, once all of those are journaled, up to ``within_noise`` more (`noise`). A
reference (`confirm.reference`, as tokens of the run's space) is trained with the same seeds and
recipe; when the search found it among its top K, those trainings serve both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nas.ledger.run_dir import SCORED, RunDir

if TYPE_CHECKING:
    from nas.config import ConfirmConfig, ObjectiveConfig
    from objectives import ProxyConfig

STAGE = "confirm"  # the `stage` column of a confirming row
Tokens = tuple[int, ...]
Training = tuple[Tokens, int]  # (candidate, proxy seed)


def is_confirmation(row: dict[str, Any]) -> bool:
    return row.get("stage") == STAGE


def candidate_key(tokens: Any, arch: str) -> tuple:
    """A candidate's identity: its tokens as a tuple (its block table's text for a row that has
    none). Lists, tuples and numpy arrays (a parquet round trip) alike."""
    if tokens is not None and not isinstance(tokens, (str, float)) and len(tokens):
        return tuple(int(t) for t in tokens)
    return (arch,)


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The best scored search row of each distinct candidate, best search reward first: the
    choice confirmation (and so `compare`) makes."""
    best: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        reward = row.get("reward")
        if is_confirmation(row) or row["status"] not in SCORED or not _finite(reward):
            continue
        key = candidate_key(row.get("tokens"), row["arch"])
        if key not in best or reward > best[key]["reward"]:
            best[key] = row
    return sorted(best.values(), key=lambda r: -r["reward"])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def done(rows: list[dict[str, Any]]) -> set[Training]:
    """The confirming trainings already journaled (failed ones too: never trained twice)."""
    return {(tuple(r["tokens"]), r["confirm_seed"]) for r in rows if is_confirmation(r)}


def plan(rows: list[dict[str, Any]], confirm: ConfirmConfig, proxy: ProxyConfig,
         objective: ObjectiveConfig, in_flight: Iterable[Training] = (),
         reference: Tokens | None = None) -> list[Training]:
    """The trainings still to run, best candidate first, seed by seed, then the `reference`'s;
    [] when none are left (or `confirm.top` is 0)."""
    candidates = ranked(rows)
    if not confirm.top or not candidates:
        return []
    seeds = [confirm.seed(proxy, i) for i in range(confirm.seeds)]
    skip = done(rows) | set(in_flight)
    top = [tuple(r["tokens"]) for r in candidates[:confirm.top]]
    if reference is not None and reference not in top:
        top.append(reference)
    todo = [(t, s) for t in top for s in seeds if (t, s) not in skip]
    if todo or not confirm.within_noise:
        return todo
    extra = [tuple(r["tokens"]) for r in within_noise(rows, candidates, confirm, objective)]
    return [(t, s) for t in extra for s in seeds if (t, s) not in skip]


def noise(rows: list[dict[str, Any]], top: list[dict[str, Any]],
          objective: ObjectiveConfig) -> float | None:
    """The search's measured noise, as a reward: the pooled standard deviation of accuracy
    over the scored confirming trainings of the `top` candidates (those with two or more),
    converted to reward at the K-th candidate's cost and accuracy. None: not measured yet
    (fewer than two trainings of any candidate, e.g. ``seeds: 1``)."""
    by_candidate: dict[Tokens, list[float]] = {tuple(r["tokens"]): [] for r in top}
    for row in rows:
        if is_confirmation(row) and row["status"] in SCORED:
            by_candidate.get(tuple(row["tokens"]), []).append(row["accuracy"])
    groups = [accs for accs in by_candidate.values() if len(accs) >= 2]
    if not groups:
        return None
    squares = sum(sum((a - sum(g) / len(g)) ** 2 for a in g) for g in groups)
    std = math.sqrt(squares / sum(len(g) - 1 for g in groups))
    kth = top[-1]
    cost = kth[objective.column]
    return abs(objective.reward(kth["accuracy"], cost)
               - objective.reward(kth["accuracy"] - std, cost))


def within_noise(rows: list[dict[str, Any]], candidates: list[dict[str, Any]],
                 confirm: ConfirmConfig, objective: ObjectiveConfig) -> list[dict[str, Any]]:
    """Up to `confirm.within_noise` candidates after the top K whose search reward is within
    `noise` of the K-th's, best first."""
    top = candidates[:confirm.top]
    spread = noise(rows, top, objective)
    if spread is None:
        return []
    floor = top[-1]["reward"] - spread
    return [r for r in candidates[confirm.top:] if r["reward"] >= floor][:confirm.within_noise]


def record(run: RunDir, settings: dict[str, Any]) -> None:
    """Write `settings` as the `confirm` section of the run's config.yaml (atomically; the
    rest of the file as it was, but an old `supernet.retrain_top`, which it replaces)."""
    import yaml

    from search_space.atomic_file import atomic_write
    from search_space.yaml_file import read_yaml

    path = run.path / "config.yaml"
    data = read_yaml(path, "config")
    if isinstance(data.get("supernet"), dict) and data["supernet"].get("retrain_top"):
        data["supernet"] = {**data["supernet"], "retrain_top": 0}  # now in `settings`
    data["confirm"] = settings
    text = yaml.safe_dump(data, sort_keys=False)
    atomic_write(path, lambda tmp: tmp.write_text(text), fsync=True)
