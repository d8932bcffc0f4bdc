"""Hostile input to the data verbs (issue 24): a user's OUT.tmp, non-regular cache files,
bad split flags and decompression bombs each end in one line, exit 2, nothing changed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from edges_cli import cli_error, main_error

from objectives.data import prepare_data as prep
from objectives.data.cache import MARKER
from search_space import Arch, Stage

Image = pytest.importorskip("PIL.Image")
TINY = Arch(stages=(Stage("mbconv", 1, 3, 2, 8, 1, 0.0),), stem=8, head=16, name="tiny")


def _tree(root: Path, side: int = 10) -> Path:
    """2 classes of 4 small PNGs."""
    rng = np.random.default_rng(0)
    for name in ("ant", "bee"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def tree(tmp_path) -> Path:
    return _tree(tmp_path / "tree")


def _prepare(tree: Path, out: Path, *flags: str) -> list[str]:
    return ["prepare-data", str(tree), "--resolution", "8", "--out", str(out), *flags]


def _within(seconds: float, call):
    """`call()`'s result; fails (instead of hanging the suite) if it blocks past `seconds`."""
    result = {}

    def target():
        try:
            result["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed back to the test's thread
            result["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result["value"]


# case 1: OUT.tmp that prepare-data did not make is never removed

def _users_tmp(home: Path, tmp: Path, kind: str) -> None:
    (home / "mine").mkdir()
    (home / "mine" / "thesis.txt").write_text("years of work")
    if kind == "folder":
        tmp.mkdir()
        (tmp / "notes.txt").write_text("keep me")
    elif kind == "folder with a plan.json":  # a plan.json that is not prepare-data's
        tmp.mkdir()
        (tmp / "plan.json").write_text(json.dumps({"trip": "alps"}))
    elif kind == "empty folder":
        tmp.mkdir()
    elif kind == "file":
        tmp.write_text("a file")
    elif kind == "link to a folder":
        tmp.symlink_to(home / "mine")
    elif kind == "link to a file":
        tmp.symlink_to(home / "mine" / "thesis.txt")


@pytest.mark.parametrize("kind", ["folder", "folder with a plan.json", "empty folder", "file",
                                  "link to a folder", "link to a file"])
def test_a_users_out_tmp_is_refused_untouched(tree, tmp_path, capsys, kind):
    home = tmp_path / "home"
    home.mkdir()
    _users_tmp(home, home / "c.tmp", kind)
    line = main_error(capsys, *_prepare(tree, home / "c"), run_dir=home)
    assert f"--out = '{home / 'c.tmp'}'" in line and "remove it" in line
    assert not (home / "c").exists() and (home / "mine" / "thesis.txt").read_text()


def _interrupt(tree: Path, out: Path, monkeypatch) -> None:
    """A prepare-data stopped after its first chunk: its own OUT.tmp, half written."""
    monkeypatch.setattr(prep, "CHUNK", 3)

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prep.prepare(tree, 8, out, progress=stop)
    assert (out.with_name(out.name + ".tmp") / MARKER).is_file()


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "older-prepare-data"])
def test_prepare_datas_own_tmp_of_another_plan_is_started_over(tree, tmp_path, capsys,
                                                                monkeypatch, marked):
    out = tmp_path / "c"
    _interrupt(tree, out, monkeypatch)
    if not marked:  # written before markers: its plan.json says it is prepare-data's
        (tmp_path / "c.tmp" / MARKER).unlink()
    from nas.cli import main

    assert main(["prepare-data", str(tree), "--resolution", "12", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["images.npy", "index.npy", "labels.npy",
                                                     "manifest.json"]
    assert not (tmp_path / "c.tmp").exists()


def test_the_same_plan_still_resumes(tree, tmp_path, monkeypatch):
    out = tmp_path / "c"
    _interrupt(tree, out, monkeypatch)
    resumed = []
    prep.prepare(tree, 8, out, progress=lambda done, total: resumed.append(done))
    assert resumed == [6, 8]  # the first chunk was not decoded again


# case 2: a cache file that is not a regular file is refused before it is opened

def _cache(tree: Path, tmp_path: Path) -> Path:
    prep.prepare(tree, 8, tmp_path / "cache")
    (tmp_path / "t.yaml").write_text(TINY.to_yaml())
    return tmp_path / "cache"


def _train(tmp_path: Path) -> list[str]:
    return ["train", str(tmp_path / "t.yaml"), "--dataset", str(tmp_path / "cache"),
            "--resolution", "8", "--val-size", "2"]


def test_a_fifo_in_a_cache_is_refused_not_waited_on(tree, tmp_path):
    cache = _cache(tree, tmp_path)
    (cache / "images.npy").unlink()
    os.mkfifo(cache / "images.npy")  # opening it would block until a writer comes
    line = cli_error(*_train(tmp_path))  # a subprocess, with a timeout: a hang fails the test
    assert f"dataset = '{cache / 'images.npy'}'" in line and "not a regular file" in line


@pytest.mark.parametrize("name, how", [("verified.json", "fifo"), ("index.npy", "fifo"),
                                       ("manifest.json", "folder"), ("labels.npy", "link")])
def test_any_non_regular_cache_file_is_named(tree, tmp_path, capsys, name, how):
    cache = _cache(tree, tmp_path)
    (cache / name).unlink(missing_ok=True)
    {"fifo": os.mkfifo, "folder": Path.mkdir,
     "link": lambda p: p.symlink_to(tmp_path / "gone")}[how](cache / name)
    line = _within(30, lambda: main_error(capsys, *_train(tmp_path)))
    assert f"dataset = '{cache / name}'" in line and "not a regular file" in line


# case 3: split flags that numpy would trip over

@pytest.mark.parametrize("flags, named", [
    (["--val-size", "nan"], "--val-size = nan: must be a finite number"),
    (["--val-size", "inf"], "--val-size = inf: must be a finite number"),
    (["--data-seed", "-1", "--val-size", "4"], "--data-seed = -1: must be >= 0"),
    (["--val-size", "7"], "--val-size = 7: leaves under 2 train"),
    (["--val-size", "2", "--train-size", "99"], "--train-size = 99: must be 2..6"),
])
def test_bad_split_flags_are_one_line_naming_the_flag(tree, tmp_path, capsys, flags, named):
    line = main_error(capsys, *_prepare(tree, tmp_path / "c", *flags), run_dir=tmp_path)
    assert named in line


# case 4: decompression bombs stop the reading, named

def test_a_decompression_bomb_is_named_and_stops_prepare_data(tree, tmp_path, capsys,
                                                               monkeypatch):
    bomb = tree / "bee" / "3.png"
    Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8)).save(bomb)  # 1600 px > 2 * 300
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # the other images hold 100 px
    line = main_error(capsys, *_prepare(tree, tmp_path / "c"), run_dir=tree)
    assert f"dataset = '{bomb}': refused as a decompression bomb" in line
    assert not (tmp_path / "c").exists()
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(bomb)  # the fix: a small one
    from nas.cli import main

    assert main(_prepare(tree, tmp_path / "c")) == 0
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["count"] == 8
