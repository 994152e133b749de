"""Fixtures for end-to-end pipeline tests: projects copied from fixtures, a CLI runner."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from micro_thoth.cli import main
from tests.support.index_server import LocalIndex

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _load_make():
    """The index contents the pipenv-made locks were made against (fixtures/pipenv-made/make.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pipenv_made", FIXTURES / "pipenv-made" / "make.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_MAKE = _load_make()
first_index, second_index = _MAKE.first_index, _MAKE.second_index


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def thoth(capsys: pytest.CaptureFixture[str]):
    """Run ``thoth-pip ARGS`` in-process; returns exit code and captured output."""

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def thoth_subprocess(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "micro_thoth", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture
def indexes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalIndex, LocalIndex]]:
    """The two local indexes the pipenv-made fixture locks were made against."""
    one, two = LocalIndex(), LocalIndex()
    first_index(one)
    second_index(two)
    monkeypatch.setenv("THOTH_TEST_INDEX", one.url)
    monkeypatch.setenv("THOTH_TEST_INDEX_2", two.url)
    yield one, two
    one.close()
    two.close()


@pytest.fixture
def project(tmp_path: Path):
    """Copy a fixture project (``pipenv-made/small`` ...) into a fresh directory."""

    def make(name: str) -> Path:
        dest = tmp_path / name.replace("/", "-")
        dest.mkdir()
        for item in ("Pipfile", "Pipfile.lock"):
            source = FIXTURES / name / item
            if source.exists():
                shutil.copy(source, dest / item)
        return dest

    return make


def venv_python(project: Path) -> Path:
    return project / ".venv" / "bin" / "python"


def venv_import(project: Path, code: str) -> str:
    proc = subprocess.run([str(venv_python(project)), "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()
