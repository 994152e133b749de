"""Interop with the real pipenv: it installs our locks, we install its locks, and `requirements` agree.

pipenv comes from /work/tools/pipenv when present, else it is installed from the default index
into a scratch virtual environment under /work/tools (hence ``network``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from micro_thoth.formats.pipfile_lock import dump_lock, parse_lock
from tests.shims.conftest import imports

pytestmark = [pytest.mark.network, pytest.mark.slow]

TOOLS = Path("/work/tools")


def _works(pipenv: Path) -> bool:
    try:
        return subprocess.run([str(pipenv), "--version"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def real_pipenv() -> Path:
    """A working pipenv executable (installed from the default index if this machine has none)."""
    for candidate in (TOOLS / "pipenv" / "bin" / "pipenv", TOOLS / "pipenv-interop" / "bin" / "pipenv"):
        if _works(candidate):
            return candidate
    venv = TOOLS / "pipenv-interop"
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pipenv"], env=env, capture_output=True,
                               text=True, timeout=600)
    if installed.returncode != 0 or not _works(venv / "bin" / "pipenv"):
        pytest.skip(f"pipenv could not be installed: {installed.stderr[-500:]}")
    return venv / "bin" / "pipenv"


def pipenv_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HOME": str(home),
        "PIPENV_CACHE_DIR": str(home / ".cache" / "pipenv"),
        "PIPENV_IGNORE_VIRTUALENVS": "1",
        "PIPENV_VENV_IN_PROJECT": "1",
        "PIPENV_NOSPIN": "1",
        "PIPENV_YES": "1",
        "PIPENV_VERBOSITY": "-1",
        "PYTHONUTF8": "1",
    }


def pipenv(real_pipenv: Path, app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(real_pipenv), *args], cwd=app, env=pipenv_env(app.parent / "pipenv-home"),
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("made_by", ["thoth-pip lock", "round trip of a pipenv lock"])
def test_pipenv_install_deploy_accepts_our_lock(made_by, real_pipenv, indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    lock = app / "Pipfile.lock"
    if made_by == "thoth-pip lock":
        lock.unlink()
        result = thoth("lock", "-C", str(app))
        assert result.code == 0, result.err
    else:
        lock.write_text(dump_lock(parse_lock(lock.read_text())))
    assert pipenv(real_pipenv, app, "verify").returncode == 0
    installed = pipenv(real_pipenv, app, "install", "--deploy")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert imports(app / ".venv" / "bin" / "python", "import alpha, beta, gamma, delta").returncode == 0


def test_thoth_install_deploy_accepts_a_fresh_pipenv_lock(real_pipenv, indexes, project, thoth) -> None:
    app = project("pipenv-made/two-sources")
    (app / "Pipfile.lock").unlink()
    locked = pipenv(real_pipenv, app, "lock")
    assert locked.returncode == 0, locked.stderr
    result = thoth("install", "--deploy", "-C", str(app))
    assert result.code == 0, result.err
    python = app / ".venv" / "bin" / "python"
    assert imports(python, "import shadowed; assert shadowed.__version__ == '1.0'").returncode == 0


FLAG_SETS = [(), ("--dev",), ("--dev-only",), ("--hash",), ("--dev", "--hash", "--exclude-markers"),
             ("--exclude-index",), ("--no-lock",)]
CASES = [("pipenv-made/small", ()), ("pipenv-made/two-sources", ()), ("pipenv-made/local-path", ()),
         ("pipenv-made/custom-category", ("--categories", "docs")),
         ("pipenv-made/custom-category", ("--categories", "default docs", "--hash"))]


@pytest.mark.parametrize(("case", "extra"), CASES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v)
def test_requirements_agree_with_pipenv(case, extra, real_pipenv, project, thoth) -> None:
    app = project(case)
    if case.endswith("local-path"):
        (app / "app").mkdir()
    for flags in FLAG_SETS if not extra else [extra]:
        theirs = pipenv(real_pipenv, app, "requirements", *flags)
        assert theirs.returncode == 0, theirs.stderr
        ours = thoth("requirements", *flags, "-C", str(app))
        assert ours.code == 0, ours.err
        assert ours.out == theirs.stdout, f"pipenv requirements {' '.join(flags)}"


def test_requirements_agree_on_a_lock_we_wrote(real_pipenv, indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    (app / "Pipfile.lock").unlink()
    assert thoth("lock", "-C", str(app)).code == 0
    for flags in FLAG_SETS:
        assert thoth("requirements", *flags, "-C", str(app)).out == pipenv(real_pipenv, app, "requirements", *flags).stdout

