"""The user's pages stay true: the config reference is generated, every verb is documented,
README stays a first page, no machine paths, and no link points nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nas import config_doc
from nas.cli import VERBS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:tmp|work|root|home)\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_config_page_is_generated_from_the_classes():
    committed = (DOCS / "config.md").read_text(encoding="utf-8")
    assert committed == config_doc.render(), \
        "docs/config.md is stale: run python -m nas.config_doc > docs/config.md"


def test_every_config_key_is_on_the_page():
    page = (DOCS / "config.md").read_text(encoding="utf-8")
    for path, cls in config_doc.sections():
        for key in config_doc.keys(cls, path):
            assert f"`{key.path}`" in page


def test_an_undocumented_field_stops_the_generator():
    from dataclasses import dataclass

    @dataclass
    class Section:
        """A section.

        Attributes:
            told: a documented key.
        """

        told: int = 0
        untold: int = 1

    rows = config_doc.keys(Section, "section.")
    with pytest.raises(SystemExit, match="section.untold"):
        config_doc.check_documented([("section.", Section, rows)])


def test_every_verb_is_in_the_cli_page():
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    for verb in VERBS:
        assert f"## `{verb}`" in page, verb


def test_readme_is_a_first_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 300


@pytest.mark.parametrize("page", [*PAGES, *sorted((ROOT / "benchmarks" / "results").glob("*.md"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_paths(page):
    found = MACHINE_PATH.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{page.relative_to(ROOT)} names a machine path"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)} links to missing {target}"
