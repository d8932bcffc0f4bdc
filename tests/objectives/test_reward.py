"""The MnasNet reward: soft, hard and general forms, deployment FLOPs, re-scoring from arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from objectives import analytic_flops, deployment_flops, mnas_reward, mnas_reward_hard
from search_space import SpecError, preset

T = 400e6


def test_b0_at_386m_gets_acc_times_1_0025():
    flops = deployment_flops(preset("efficientnet-b0"))
    assert flops == pytest.approx(386e6, abs=1e6)
    for acc in (0.25, 0.5, 0.771):
        assert mnas_reward(acc, flops) / acc == pytest.approx(1.0025, abs=0.0005)


@given(flops=st.floats(1e6, 1e11), acc=st.floats(0.01, 1.0))
def test_doubling_flops_divides_soft_reward_by_2_pow_0_07(flops, acc):
    assert mnas_reward(acc, flops) / mnas_reward(acc, 2 * flops) == pytest.approx(2 ** 0.07)


def test_hard_form_is_acc_below_target_and_falls_steeply_above():
    assert mnas_reward_hard(0.7, 100e6) == 0.7
    assert mnas_reward_hard(0.7, T) == 0.7
    assert mnas_reward_hard(0.7, 2 * T) == pytest.approx(0.35)
    # 10% over the target costs ~9% under the hard form, under 1% under the soft one
    assert mnas_reward_hard(0.7, 1.1 * T) == pytest.approx(0.7 / 1.1)
    assert mnas_reward(0.7, 1.1 * T) > 0.99 * 0.7


def test_general_form_uses_alpha_below_and_beta_above():
    assert mnas_reward(0.5, T / 2, alpha=-0.2, beta=-3.0) == pytest.approx(0.5 * 0.5 ** -0.2)
    assert mnas_reward(0.5, 2 * T, alpha=-0.2, beta=-3.0) == pytest.approx(0.5 * 2.0 ** -3.0)
    assert mnas_reward(0.5, 2 * T, w=-0.3) == mnas_reward(0.5, 2 * T, alpha=-0.3, beta=-0.3)
    assert mnas_reward(0.5, 2 * T, target=2 * T) == 0.5


def test_rescoring_a_finished_run_needs_only_accuracy_and_flops():
    runs = pd.DataFrame({"accuracy": [0.6, 0.7, 0.8], "flops": [200e6, 400e6, 900e6]})
    soft = mnas_reward(runs.accuracy, runs.flops, target=300e6, w=-0.1)
    hard = mnas_reward_hard(runs.accuracy.to_numpy(), runs.flops.to_numpy(), target=300e6)
    for i, row in runs.iterrows():
        assert soft[i] == pytest.approx(mnas_reward(row.accuracy, row.flops, 300e6, -0.1))
        assert hard[i] == pytest.approx(mnas_reward_hard(row.accuracy, row.flops, 300e6))
    assert isinstance(mnas_reward(0.5, 1e8), float)


def test_deployment_flops_use_the_arch_resolution_and_class_count():
    b0 = preset("efficientnet-b0")
    at_32 = b0.replace(resolution=32)
    assert deployment_flops(b0) == analytic_flops(b0, 224, 1000)
    assert deployment_flops(at_32) == analytic_flops(b0, 32, 1000) < deployment_flops(b0) / 30
    assert deployment_flops(b0) - deployment_flops(b0, num_classes=10) == 1280 * 990


@pytest.mark.parametrize("kwargs, field", [
    (dict(flops=0.0), "flops"), (dict(flops=-1e6), "flops"),
    (dict(target=0.0), "target"), (dict(target=float("nan")), "target"),
    (dict(w=float("nan")), "alpha"),
])
def test_bad_inputs_are_spec_errors(kwargs, field):
    args = {"accuracy": 0.5, "flops": 1e8, **kwargs}
    with pytest.raises(SpecError) as err:
        mnas_reward(**args)
    assert err.value.field == field


def test_reward_rejects_an_array_with_a_zero_flops_entry():
    with pytest.raises(SpecError):
        mnas_reward(np.array([0.5, 0.5]), np.array([1e8, 0.0]))
