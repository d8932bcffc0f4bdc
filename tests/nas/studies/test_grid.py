"""Compound scaling step 1: the alpha/beta/gamma grid on Ray, coefficients, families."""

from __future__ import annotations

import math

import pytest
import yaml

from nas import load_config, load_results, search
from nas.cli import main
from nas.outputs.coefficients import read_coefficients
from nas.studies.grid import GridConfig, grid_parts, grid_points
from objectives import analytic_flops
from search_space import Arch, preset, scale
from search_space.errors import SpecError


def test_grid_keeps_only_points_within_tolerance():
    grid = GridConfig(step=0.05, product=2.0, tolerance=0.1)
    points = grid_points(grid)
    assert (1.2, 1.1, 1.15) in points  # the paper's choice (product 1.92) lies on the grid
    assert all(abs(a * b * b * g * g - 2.0) <= 0.1 for a, b, g in points)
    all_points = 9 ** 3
    assert 0 < len(points) < all_points


def test_grid_space_trains_each_distinct_model_once():
    space, controller = grid_parts(GridConfig())
    archs = [controller.ask() for _ in range(len(space))]
    assert len(set(archs)) == len(archs)
    assert all(space.encode(a) == [i] for i, a in enumerate(archs))
    with pytest.raises(SpecError, match="proposed all"):
        controller.ask()


def test_grid_state_saved_before_the_controller_moved_still_loads():
    space, controller = grid_parts(GridConfig())
    controller.load_state_dict({"next": 2})  # what nas.studies.grid.GridController saved
    assert space.encode(controller.ask()) == [2]


def test_empty_grid_is_a_clear_error():
    with pytest.raises(SpecError, match="tolerance"):
        grid_points(GridConfig(alpha=(1.0, 1.0), beta=(1.0, 1.0), gamma=(1.0, 1.0)))


@pytest.fixture(scope="module")
def grid_run(ray_local, tmp_path_factory):
    config = load_config("scaling-grid", [
        "grid.step=0.2", "grid.tolerance=0.3", "proxy.resolution=16", "proxy.train_size=128",
        "proxy.val_size=64", "proxy.batch_size=32"])
    return search(config, tmp_path_factory.mktemp("grid") / "run", progress=lambda line: None)


def test_tiny_grid_runs_end_to_end(grid_run, capsys):
    from nas.outputs.summary import summarize

    df = load_results(grid_run.path)
    assert len(df) == len(grid_parts(GridConfig(step=0.2, tolerance=0.3))[0])
    assert set(df["status"]) == {"ok"}
    products = df["alpha"] * df["beta"] ** 2 * df["gamma"] ** 2
    assert ((products - 2.0).abs() <= 0.3).all()  # every evaluated point meets the constraint
    # each point trained at the proxy resolution scaled by its gamma
    for row in df.itertuples():
        assert row.proxy_resolution == max(8, round(16 * Arch.from_yaml(row.arch).resolution
                                                    / 224))
    summarize(grid_run)
    assert "chosen: alpha" in capsys.readouterr().out
    alpha, beta, gamma = read_coefficients(grid_run.path / "coefficients.yaml")
    best = df.loc[df["accuracy"].idxmax()]
    assert (alpha, beta, gamma) == (best["alpha"], best["beta"], best["gamma"])


def test_grid_shares_status_and_pareto(grid_run, capsys):
    points = len(load_results(grid_run.path))
    assert main(["status", str(grid_run.path)]) == 0
    assert f"trials: {points} done, 0 failed, 0 running, budget {points}" in \
        capsys.readouterr().out
    assert main(["pareto", str(grid_run.path)]) == 0
    assert f"Pareto front of {points} trials" in capsys.readouterr().out


def test_scale_with_coefficients_file(tmp_path):
    coefficients = tmp_path / "c.yaml"
    coefficients.write_text(yaml.safe_dump({"alpha": 1.3, "beta": 1.05, "gamma": 1.1}))
    out = tmp_path / "s.yaml"
    assert main(["scale", "efficientnet-b0", "--phi", "2", "--coefficients", str(coefficients),
                 "--out", str(out)]) == 0
    assert Arch.from_yaml(out) == scale(preset("efficientnet-b0"), 2, 1.3, 1.05, 1.1)


def test_bad_coefficients_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "c.yaml"
    bad.write_text("alpha: 1.2\nbeta: fast\ngamma: 1.15\n")
    assert main(["scale", "efficientnet-b0", "--phi", "1", "--coefficients", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "beta" in err and str(bad) in err


def test_family_grows_about_2x_per_phi(tmp_path, capsys):
    out = tmp_path / "family"
    assert main(["scale", "efficientnet-b0", "--family", "1..7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    base = preset("efficientnet-b0")
    flops = [analytic_flops(base)]
    for phi in range(1, 8):
        arch = Arch.from_yaml(out / f"efficientnet-b0-phi{phi}.yaml")
        assert arch == scale(base, phi)
        flops.append(analytic_flops(arch))
        assert f"{arch.resolution}" in printed
    steps = [b / a for a, b in zip(flops, flops[1:])]
    # alpha*beta^2*gamma^2 = 1.92; ceil on 1-layer stages makes phi=1 overshoot (2.57)
    assert all(1.6 <= s <= 2.7 for s in steps), steps
    assert math.prod(steps) ** (1 / len(steps)) == pytest.approx(1.94, abs=0.1)
