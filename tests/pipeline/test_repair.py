"""sync repairs what check finds: an installed file edited or deleted, whatever the link mode."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

from .conftest import Run

DIST = Dist("mod", "1.0", files={"mod/core.py": "VALUE = 1\n"})


def _edit(path: Path, text: str) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+") as fh:
        fh.write(text)


def _project(root: Path, index: LocalIndex) -> Path:
    root.mkdir()
    (root / "Pipfile").write_text(f'[[source]]\nname = "local"\nurl = "{index.url}"\nverify_ssl = false\n\n[packages]\nmod = "*"\n')
    return root


@pytest.mark.parametrize("mode", ["clone", "hardlink"])
def test_check_finds_an_edit_and_sync_repairs_it(
    thoth: Callable[..., Run], index: LocalIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("THOTH_PIP_LINK_MODE", mode)
    index.add(DIST)
    one = _project(tmp_path / "one", index)
    assert thoth("install", "-C", str(one)).code == 0
    edited = next((one / ".venv").glob("lib/python*/site-packages/mod/core.py"))
    _edit(edited, "VALUE = 7\n")
    assert thoth("check", "-C", str(one)).code != 0

    two = _project(tmp_path / "two", index)
    assert thoth("install", "-C", str(two)).code == 0
    installed = next((two / ".venv").glob("lib/python*/site-packages/mod/core.py"))
    assert installed.read_text() == "VALUE = 1\n"  # the edit did not travel through the cache

    run = thoth("sync", "-C", str(one))
    assert run.code == 0 and "Repaired mod" in run.err
    assert edited.read_text() == "VALUE = 1\n"
    assert thoth("check", "-C", str(one)).code == 0
    edited.unlink()
    assert thoth("sync", "-C", str(one)).code == 0 and edited.read_text() == "VALUE = 1\n"
