"""The controller contract, run against every name in `controllers.names()`, plus each one's own.

The contract: asks lie in the space; the same seed gives the same proposals; many asks may be in
flight and none is lost; failed trials (None, NaN, inf) are survived; state survives a restart
in a fresh process and the restored controller proposes exactly what the uninterrupted one
does. On a synthetic landscape, evolution and PPO beat random search at equal budget.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

import controllers
from controllers.base import MISSING, Pending
from controllers.policy import FactorizedPolicy, TokenPolicy
from search_space import Arch, SpecError, load_space

REPO = Path(__file__).resolve().parents[2]
SPACE = load_space("b0")
# Small sizes, so that short runs fill an evolution population and cross PPO updates.
SMALL: dict[str, dict] = {"random": {}, "evolution": {"population_size": 8, "tournament_size": 3},
                          "ppo": {"batch_size": 5}, "reinforce": {"batch_size": 5}}
NAMES = controllers.names()
UNSEEDED = {"grid"}  # proposes in a fixed order: the seed changes nothing


def chain_landscape(seed: int) -> Callable[[Sequence[int]], float]:
    """Mean over decisions of a random U(0, 1) table indexed by (previous token, token).

    Each decision's best choice depends on its neighbour's: interactions, yet cheap.
    """
    rng = np.random.default_rng(seed)
    cards = SPACE.cardinalities
    tables = [rng.random((cards[i - 1] if i else 1, card)) for i, card in enumerate(cards)]

    def reward(tokens: Sequence[int]) -> float:
        return sum(float(table[tokens[i - 1] if i else 0, tokens[i]])
                   for i, table in enumerate(tables)) / len(tables)

    return reward


LANDSCAPE = chain_landscape(0)


def outcome(tokens: Sequence[int]) -> float | None:
    """The landscape's reward, except that about one trial in seven fails (None or NaN)."""
    if sum(tokens) % 7 == 0:
        return None if sum(tokens) % 2 else math.nan
    return LANDSCAPE(tokens)


def drive(ctrl: controllers.Controller, steps: int, in_flight: list[list[int]],
          lag: int = 3) -> list[list[int]]:
    """`steps` asks, keeping up to `lag` in flight and telling the oldest first, as Ray would.

    `in_flight` (tokens of asks not yet told) is updated in place; returns the asked tokens.
    """
    asked = []
    for _ in range(steps):
        tokens = SPACE.encode(ctrl.ask())
        asked.append(tokens)
        in_flight.append(tokens)
        if len(in_flight) > lag:
            told = in_flight.pop(0)
            ctrl.tell(SPACE.decode(told), outcome(told))
    return asked


def resume_and_drive(folder: str) -> None:
    """What the fresh process runs: restore each saved controller (made with another seed), go
    on as the uninterrupted one did, save the asked tokens and final state beside the state."""
    for name in NAMES:
        saved = torch.load(f"{folder}/{name}.pt", weights_only=True)
        ctrl = controllers.make(name, SPACE, seed=12345, **SMALL.get(name, {}))
        ctrl.load_state_dict(saved["controller"])
        asked = drive(ctrl, RESUMED_STEPS, saved["in_flight"])
        torch.save({"asked": asked, "state": ctrl.state_dict()}, f"{folder}/{name}.after.pt")


def same(a: object, b: object) -> bool:
    """Equal plain data, tensors compared exactly."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# --- make ------------------------------------------------------------------------------------

def test_make_rejects_an_unknown_name() -> None:
    with pytest.raises(SpecError, match="nope") as err:
        controllers.make("nope", SPACE)
    assert err.value.field == "controller"


@pytest.mark.parametrize("name", NAMES)
def test_make_rejects_an_unknown_option(name: str) -> None:
    with pytest.raises(SpecError, match="popsize") as err:
        controllers.make(name, SPACE, popsize=3)
    assert err.value.field == "controller.popsize"


@pytest.mark.parametrize(("name", "options", "field"), [
    ("evolution", {"population_size": 10, "tournament_size": 11}, "tournament_size"),
    ("evolution", {"population_size": "10"}, "population_size"),
    ("evolution", {"population_size": 0}, "population_size"),
    ("ppo", {"lr": 0.0}, "lr"),
    ("ppo", {"batch_size": 2.5}, "batch_size"),
    ("ppo", {"clip": 1.5}, "clip"),
    ("random", {"failure_reward": math.nan}, "failure_reward"),
])
def test_make_rejects_bad_option_values(name: str, options: dict, field: str) -> None:
    with pytest.raises(SpecError) as err:
        controllers.make(name, SPACE, **options)
    assert err.value.field == f"controller.{field}"


# --- the contract, for every controller ---------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_asks_lie_in_the_space(name: str) -> None:
    ctrl = controllers.make(name, SPACE, seed=1, **SMALL.get(name, {}))
    for _ in range(30):  # past the random start and a policy update
        arch = ctrl.ask()
        assert isinstance(arch, Arch) and SPACE.contains(arch)
        ctrl.tell(arch, LANDSCAPE(SPACE.encode(arch)))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_proposals(name: str) -> None:
    runs = [drive(controllers.make(name, SPACE, seed=seed, **SMALL.get(name, {})), 25, [])
            for seed in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert (runs[0] == runs[2]) == (name in UNSEEDED)


@pytest.mark.parametrize("name", NAMES)
def test_many_asks_in_flight_lose_none(name: str) -> None:
    ctrl = controllers.make(name, SPACE, seed=0, **SMALL.get(name, {}))
    archs = [ctrl.ask() for _ in range(40)]
    assert ctrl.num_pending == 40
    order = np.random.default_rng(0).permutation(40)
    rewards = [None, math.nan, math.inf, -math.inf] + [0.5] * 36
    for i in order:
        ctrl.tell(archs[i], rewards[i])
    assert (ctrl.num_pending, ctrl.num_told, ctrl.num_failed) == (0, 40, 4)
    drive(ctrl, 10, [])  # and it goes on proposing
    assert ctrl.num_told == 40 + 10 - 3


@pytest.mark.parametrize("name", NAMES)
def test_identical_pending_asks_are_matched_one_by_one(name: str) -> None:
    ctrl = controllers.make(name, SPACE, seed=0, **SMALL.get(name, {}))
    arch = ctrl.ask()
    ctrl.tell(arch, 0.5)
    ctrl.tell(arch, 0.6)  # never asked a second time: a warm start, accepted
    assert (ctrl.num_pending, ctrl.num_told) == (0, 2)


def test_pending_queues_identical_tokens_oldest_first() -> None:
    pending = Pending()
    pending.add((1, 2), 0.1)
    pending.add((3, 4), 0.3)
    pending.add((1, 2), 0.2)
    assert Pending.from_list(pending.to_list()).to_list() == pending.to_list()
    assert [pending.pop((1, 2)), pending.pop((1, 2)), pending.pop((1, 2))] == [0.1, 0.2, MISSING]
    assert len(pending) == 1


@pytest.mark.parametrize("name", NAMES)
def test_tell_of_an_arch_outside_the_space_raises(name: str) -> None:
    ctrl = controllers.make(name, SPACE, seed=0, **SMALL.get(name, {}))
    with pytest.raises(SpecError, match="resolution"):
        ctrl.tell(SPACE.reference.replace(resolution=300), 0.5)


RESUMED_STEPS = 12  # crosses a PPO update and evolution aging


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """Per controller: (what the uninterrupted one did, what a fresh process did after
    restoring it), each as {"asked": tokens, "state": final state}. One process for all."""
    folder = tmp_path_factory.mktemp("states")
    uninterrupted = {}
    for name in NAMES:
        ctrl = controllers.make(name, SPACE, seed=7, **SMALL.get(name, {}))
        in_flight: list[list[int]] = []
        drive(ctrl, 22, in_flight)  # 19 told (some failed), 3 pending, a batch 4/5 full
        torch.save({"controller": ctrl.state_dict(), "in_flight": in_flight},
                   folder / f"{name}.pt")
        asked = drive(ctrl, RESUMED_STEPS, in_flight)
        uninterrupted[name] = {"asked": asked, "state": ctrl.state_dict()}
    code = (f"import sys, torch; sys.path.insert(0, {str(REPO / 'tests' / 'controllers')!r}); "
            f"torch.set_num_threads(1); import test_controllers as t; "
            f"t.resume_and_drive({str(folder)!r})")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return {name: (uninterrupted[name],
                   torch.load(folder / f"{name}.after.pt", weights_only=True))
            for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip_in_a_fresh_process(name: str, round_trips: dict) -> None:
    uninterrupted, resumed = round_trips[name]
    assert resumed["asked"] == uninterrupted["asked"]
    assert same(resumed["state"], uninterrupted["state"])


@pytest.mark.parametrize("name", NAMES)
def test_load_state_rejects_another_controllers_state(name: str) -> None:
    other = "random" if name != "random" else "evolution"
    state = controllers.make(other, SPACE, **SMALL.get(other, {})).state_dict()
    with pytest.raises(SpecError, match="state.controller"):
        controllers.make(name, SPACE, **SMALL.get(name, {})).load_state_dict(state)


def test_load_state_rejects_other_options() -> None:
    state = controllers.make("evolution", SPACE, population_size=8, tournament_size=3).state_dict()
    ctrl = controllers.make("evolution", SPACE, population_size=9, tournament_size=3)
    with pytest.raises(SpecError) as err:
        ctrl.load_state_dict(state)
    assert err.value.field == "state.options.population_size"


# --- grid --------------------------------------------------------------------------------------

def test_grid_enumerates_the_space_last_decision_fastest() -> None:
    ctrl = controllers.make("grid", SPACE)
    last = SPACE.cardinalities[-1]
    asked = [SPACE.encode(ctrl.ask()) for _ in range(last + 1)]
    zeros = [0] * (len(SPACE.cardinalities) - 1)
    assert asked[:last] == [zeros + [i] for i in range(last)]
    assert asked[last] == zeros[:-1] + [1, 0]  # the carry


# --- evolution ---------------------------------------------------------------------------------

def _distance(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x != y for x, y in zip(a, b))


def test_evolution_counts_pending_asks_toward_the_first_population() -> None:
    ctrl = controllers.make("evolution", SPACE, seed=0, population_size=8, tournament_size=3)
    archs = [ctrl.ask() for _ in range(7)]
    for arch in archs[:2]:
        ctrl.tell(arch, LANDSCAPE(SPACE.encode(arch)))
    members = [SPACE.encode(a) for a in archs[:2]]
    # 2 results + 5 pending < 8: still the random start (a sample lies far from both members)
    child = SPACE.encode(ctrl.ask())
    assert min(_distance(child, m) for m in members) > 1
    # 2 results + 6 pending = 8: from now on, every ask mutates one decision of a member
    for _ in range(20):
        child = SPACE.encode(ctrl.ask())
        assert min(_distance(child, m) for m in members) == 1


def test_evolution_ages_out_the_oldest_whatever_its_reward() -> None:
    ctrl = controllers.make("evolution", SPACE, seed=0, population_size=8, tournament_size=3)
    rng = np.random.default_rng(1)
    archs = [SPACE.sample(rng) for _ in range(11)]
    for i, arch in enumerate(archs):  # warm starts; the oldest are the best
        ctrl.tell(arch, 1.0 - i / 20)
    assert [list(tokens) for tokens, _ in ctrl.population] == [SPACE.encode(a)
                                                               for a in archs[3:]]


def test_evolution_parent_is_the_tournament_best() -> None:
    ctrl = controllers.make("evolution", SPACE, seed=0, population_size=8, tournament_size=8)
    rng = np.random.default_rng(2)
    members = [SPACE.sample(rng) for _ in range(8)]
    for i, arch in enumerate(members):
        ctrl.tell(arch, None if i == 5 else 0.1 + i / 100)  # failed: counts as 0.0
    tokens = [SPACE.encode(arch) for arch in members]
    children = [SPACE.encode(ctrl.ask()) for _ in range(200)]
    parents = [min(range(8), key=lambda i: _distance(child, tokens[i])) for child in children]
    # 8 draws with replacement include the best member with probability 1 - (7/8)^8 = 0.66,
    # and the failed one wins only if all 8 draws are it.
    assert parents.count(7) > 100
    assert parents.count(5) == 0


@pytest.mark.parametrize("name", ["evolution", "ppo", "reinforce"])
def test_failures_count_as_failure_reward(name: str) -> None:
    ctrl = controllers.make(name, SPACE, failure_reward=-1.0, **SMALL.get(name, {}))
    for reward in (None, math.nan, math.inf):
        ctrl.tell(ctrl.ask(), reward)
    learnt = ctrl.population if name == "evolution" else ctrl.batch
    assert [row[-1] for row in learnt] == [-1.0] * 3


# --- policy gradient ---------------------------------------------------------------------------

@pytest.mark.parametrize("make_policy", [
    lambda: TokenPolicy(SPACE.cardinalities, 100, torch.Generator().manual_seed(0)),
    lambda: _trained(FactorizedPolicy(SPACE.cardinalities)),
], ids=["lstm", "factorized"])
def test_policy_sampling_matches_its_training_log_prob(make_policy: Callable) -> None:
    policy = make_policy()
    rng = np.random.default_rng(0)
    samples = [policy.sample(rng) for _ in range(8)]
    logp, entropy = policy.log_prob(torch.tensor([tokens for tokens, _ in samples]))
    assert logp.tolist() == pytest.approx([lp for _, lp in samples], abs=1e-4)
    assert all(0 < e <= sum(math.log(c) for c in SPACE.cardinalities) for e in entropy.tolist())
    for tokens, _ in samples:
        assert all(0 <= t < c for t, c in zip(tokens, SPACE.cardinalities))


def _trained(policy: FactorizedPolicy) -> FactorizedPolicy:
    """`policy` with random logits instead of the uniform start."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        policy.logits.copy_(torch.randn(policy.logits.shape, generator=generator))
    return policy


@pytest.mark.parametrize(("name", "options"), [("ppo", {"lr": 0.05, "batch_size": 10}),
                                               ("reinforce", {"lr": 0.05})])
def test_policy_gradient_learns_the_rewarded_choice(name: str, options: dict) -> None:
    ctrl = controllers.make(name, SPACE, seed=0, **options)
    for _ in range(120):
        arch = ctrl.ask()
        ctrl.tell(arch, float(SPACE.encode(arch)[0] == 2))  # stage1.op = mbconv3 pays
    first = [SPACE.encode(ctrl.ask())[0] for _ in range(40)]
    assert first.count(2) >= 30  # from 1 in 4 at the start


# --- search quality ----------------------------------------------------------------------------

def _median_best(name: str, options: dict, budget: int, seeds: range) -> float:
    bests = []
    for seed in seeds:
        ctrl = controllers.make(name, SPACE, seed=seed, **options)
        best = -math.inf
        for _ in range(budget):
            arch = ctrl.ask()
            reward = LANDSCAPE(SPACE.encode(arch))
            ctrl.tell(arch, reward)
            best = max(best, reward)
        bests.append(best)
    return float(np.median(bests))


@pytest.mark.slow  # seconds of compute, no Ray: out of the quick loop
def test_evolution_and_ppo_beat_random_at_equal_budget() -> None:
    # 300 samples, 5 seeds; evolution at the paper's P=100, S=25. PPO's paper lr (3.5e-4) is
    # meant for ~8K samples: at 300 it takes the documented `lr` option, 3e-3.
    budget, seeds = 300, range(5)
    random = _median_best("random", {}, budget, seeds)
    evolution = _median_best("evolution", {}, budget, seeds)
    ppo = _median_best("ppo", {"lr": 3e-3}, budget, seeds)
    assert evolution > random + 0.05, (evolution, random)
    assert ppo > random + 0.05, (ppo, random)
