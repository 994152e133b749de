"""The documentation site: the CLI reference is generated from the CLI and up to date; the nav is whole."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MINE = {"index.md", "migrating.md", "cli.md", "s2i.md", "docker.md"}


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_reference", DOCS / "gen_cli_reference.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_cli_reference_is_up_to_date() -> None:
    text = _generator().render()
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == text, "run: python docs/gen_cli_reference.py"


def test_cli_reference_covers_every_command() -> None:
    from micro_thoth.cli import _command_names

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in _command_names():
        assert f"## `thoth-pip {name}`" in text
    assert "`--where`" in text and "## `thoth-pip shim install`" in text


def _nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    return []


NAV = _nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])


@pytest.mark.parametrize("page", NAV)
def test_nav_page_exists(page: str) -> None:
    if page not in MINE and not (DOCS / page).exists():
        pytest.skip(f"docs/{page} is not written yet (another topic's page)")
    assert (DOCS / page).is_file()


def test_every_page_is_in_the_nav() -> None:
    orphans = sorted(p.name for p in DOCS.glob("*.md") if p.name not in NAV)
    assert orphans == []


def test_relative_links_resolve() -> None:
    import re

    for name in MINE:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", (DOCS / name).read_text(encoding="utf-8")):
            assert target in NAV, f"docs/{name} links to {target}, which is not in the nav"
