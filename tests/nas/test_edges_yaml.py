"""One YAML reader: every malformed file the project reads is one error line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from edges_cli import cli_error, main_error

from search_space import preset

B0 = preset("efficientnet-b0").to_yaml()
BAD_FILES = {
    "syntax error on the last line": B0 + "- {block: mbconv, kernel: [\n",
    "syntax error in the middle": "resolution: 224\nstages: [\n  {a: }}\nhead: 1280\n",
    "not UTF-8": b"resolution: 224\nname: \xff\xfe\x00\x01\n",
    "binary": bytes(range(256)) * 4,
    "control character": "resolution: 224\nname: bell\x07\n",
    "absurdly deep nesting": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "alias nesting": "a: &x [1]\n" + "".join(f"a{i}: &x{i} [*x, *x]\n" for i in range(1)) +
                     "b: &b [&c [&d [&e [*x]]]]\n" + "c: " + "[" * 70 + "1" + "]" * 70 + "\n",
    "impossible date": "resolution: 2020-13-45\n",
}
# (verb arguments, how the file is passed): each reader the project has
READERS = {
    "block table": lambda p: ["flops", str(p)],
    "space file": lambda p: ["space", str(p)],
    "config": lambda p: ["run", str(p), "--output", str(p.parent / "never")],
    "coefficients": lambda p: ["scale", "efficientnet-b0", "--phi", "1", "--coefficients",
                               str(p)],
}


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_syntax_error_on_the_last_line_of_a_block_table_is_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, BAD_FILES["syntax error on the last line"])
    line = cli_error("flops", str(path))
    assert str(path) in line and f"line {len(B0.splitlines()) + 1}" in line
    assert "not valid YAML" in line


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("case", BAD_FILES)
def test_every_reader_names_the_file(case: str, reader: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, BAD_FILES[case])
    line = main_error(capsys, *READERS[reader](path))
    assert str(path) in line
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("reader", READERS)
def test_a_missing_or_unreadable_path_is_one_line(reader: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    for path in (tmp_path / "missing.yaml", folder):
        assert str(path) in main_error(capsys, *READERS[reader](path))


def test_deep_nesting_through_the_cli(tmp_path: Path) -> None:
    path = _write(tmp_path, BAD_FILES["absurdly deep nesting"])
    assert "nested more than" in cli_error("space", str(path))
