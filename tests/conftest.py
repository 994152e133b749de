"""Test isolation and the shared fixtures: a local index, built wheels, a clean environment.

Every test runs with no pip configuration of this machine (PIP_CONFIG_FILE is
/dev/null and every PIP_* variable is removed), a private HOME and cache, and
no active virtualenv. A test that wants pip.conf writes its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

_SCRUB_PREFIXES = ("PIP_", "PIPENV_", "THAMOS_", "THOTH_", "UV_", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    saved = dict(os.environ)  # the in-process CLI loads a project's .env into os.environ, as pipenv does
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(_SCRUB_PREFIXES) or key in ("CUDA_VERSION", "NETRC"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(home / "etc-xdg"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("THOTH_PIP_CACHE_DIR", str(home / "thoth-cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def index() -> Iterator[LocalIndex]:
    server = LocalIndex()
    yield server
    server.close()


@pytest.fixture
def index_factory() -> Iterator[type[LocalIndex]]:
    servers: list[LocalIndex] = []

    class Factory(LocalIndex):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            servers.append(self)

    yield Factory
    for server in servers:
        server.close()


@pytest.fixture
def python() -> str:
    return sys.executable


__all__ = ["Dist"]
