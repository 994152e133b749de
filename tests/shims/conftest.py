"""Fixtures for the shims: the scripts themselves, a thoth-pip on PATH, scratch environments."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.pipeline.conftest import indexes, project, thoth  # noqa: F401 - shared fixtures

ROOT = Path(__file__).resolve().parent.parent.parent
SHIMS = ROOT / "shims"



def load_shim(name: str) -> ModuleType:
    """A shim script imported as a module (they have no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader(f"shim_{name}", str(SHIMS / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    loader.exec_module(module)
    return module


@pytest.fixture
def tool_bin(tmp_path: Path) -> Path:
    """A directory with a ``thoth-pip`` that runs this checkout, and the shims beside it."""
    bin_dir = tmp_path / "tool-bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "thoth-pip"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m micro_thoth "$@"\n')
    wrapper.chmod(0o755)
    for name in ("pipenv", "micropipenv"):
        (bin_dir / name).write_bytes((SHIMS / name).read_bytes())
        (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.fixture
def shell_env(tool_bin: Path) -> dict[str, str]:
    """The test's environment with the tool directory first on PATH and this checkout importable."""
    env = dict(os.environ)
    env["PATH"] = f"{tool_bin}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture
def scratch_venv(tmp_path: Path) -> Path:
    """An empty virtual environment (no pip) standing in for an image's Python."""
    venv = tmp_path / "image-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def run(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def imports(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True)
