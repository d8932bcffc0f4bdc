"""`atomic_write`: the old file or the new one, never half of one, and no stray temporary."""

from __future__ import annotations

import pytest

from search_space.atomic_file import atomic_write


def test_replaces_the_file_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "table.json"
    path.write_text("old")
    atomic_write(path, lambda tmp: tmp.write_text("new"), fsync=True)
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]


def test_the_temporary_keeps_the_suffix_writers_pick_the_format_from(tmp_path):
    seen = []
    atomic_write(tmp_path / "front.png", lambda tmp: (seen.append(tmp), tmp.write_bytes(b"x")))
    assert seen[0].suffix == ".png" and seen[0].parent == tmp_path


def test_anything_but_a_regular_file_is_refused_not_replaced(tmp_path):
    folder = tmp_path / "trials.csv"
    folder.mkdir()
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write(folder, lambda tmp: tmp.write_text("x"))
    assert folder.is_dir() and list(tmp_path.iterdir()) == [folder]
