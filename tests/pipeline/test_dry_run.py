"""A dry run writes nothing in the project: not a .venv, not a lock, not a Pipfile (tree snapshots)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

from .conftest import Run


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every path under ``root``: content digest (or 'dir') and modification time."""
    found = {}
    for path in sorted(root.rglob("*")):
        kind = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(root))] = (kind, path.stat().st_mtime_ns)
    return found


@pytest.fixture
def project(index: LocalIndex, tmp_path: Path) -> Path:
    index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    index.add(Dist("beta", "2.0"))
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pipfile").write_text(f'[[source]]\nname = "local"\nurl = "{index.url}"\nverify_ssl = false\n\n[packages]\nalpha = "*"\n')
    return root


def _locked(thoth: Callable[..., Run], project: Path) -> None:
    assert thoth("lock", "-C", str(project)).code == 0


@pytest.mark.parametrize(
    ("name", "prepare", "command", "says"),
    [
        ("sync without a venv", _locked, ("sync", "--dry-run"), "alpha"),
        ("install --deploy without a venv", _locked, ("install", "--deploy", "--dry-run"), "alpha"),
        ("install without a lock", None, ("install", "--dry-run"), "alpha"),
        ("install a new package", _locked, ("install", "beta", "--dry-run"), "beta"),
        ("lock", None, ("lock", "--dry-run"), "Resolved"),
        ("update", _locked, ("update", "--dry-run"), ""),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_dry_run_writes_nothing(
    thoth: Callable[..., Run], project: Path, name: str, prepare: Callable[..., None] | None, command: tuple[str, ...], says: str
) -> None:
    if prepare is not None:
        prepare(thoth, project)
    before = _snapshot(project)

    run = thoth(*command, "-C", str(project))

    assert run.code == 0, run.err
    assert says in run.err + run.out
    assert _snapshot(project) == before
    assert not (project / ".venv").exists()


def test_a_dry_run_plans_against_an_existing_venv(thoth: Callable[..., Run], project: Path) -> None:
    _locked(thoth, project)
    assert thoth("sync", "-C", str(project)).code == 0
    before = _snapshot(project)
    for command in (("sync", "--dry-run"), ("clean", "--dry-run"), ("install", "--dry-run")):
        run = thoth(*command, "-C", str(project))
        assert run.code == 0 and _snapshot(project) == before, command


def test_uninstall_without_a_pipfile_creates_nothing(thoth: Callable[..., Run], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = thoth("uninstall", "alpha", "-C", str(empty))
    assert run.code == 0, run.err
    assert "Nothing was installed" in run.err
    assert list(empty.iterdir()) == []
