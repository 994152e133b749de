"""The isolated environment of a benchmark run: work directory, each tool's virtualenv and private HOME.

Every tool runs in its own virtualenv under the work directory with a private HOME and
cache directories, ``PIP_CONFIG_FILE=/dev/null``, ``UV_NO_CONFIG=1`` and no inherited
``PIP_*``/``UV_*``/``PIPENV_*`` variables, so this machine's pip configuration plays no
part. Set-up commands run here with their output in a log under the work directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from report import family

ROOT = Path(__file__).resolve().parent.parent

PEER_DISTRIBUTIONS = {"pipenv": "pipenv", "micropipenv": "micropipenv", "pip-tools": "pip-tools", "uv": "uv"}
SCRUBBED_PREFIXES = ("PIP_", "UV_", "PIPENV_", "THOTH_", "THAMOS_", "MICROPIPENV_", "PYTHON", "VIRTUAL_ENV", "CONDA")


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class Workspace:
    """Where tools, their homes (caches) and the per-run project copies live.

    ``mounts`` holds, under ``--fresh-fs``, the file system each tool has this round: its home
    and project copies live there instead of under ``root``."""

    root: Path
    python: str
    mounts: dict[str, Path] = field(default_factory=dict, compare=False)

    def tool_venv(self, tool: str) -> Path:
        return self.root / "tools" / tool

    def home(self, tool: str) -> Path:
        return self.mounts[tool] / "home" if tool in self.mounts else self.root / "home" / tool

    def cache(self, tool: str) -> Path:
        return self.home(tool) / ".cache"

    def project_dir(self, benchmark: str, project: str, tool: str) -> Path:
        if tool in self.mounts:
            return self.mounts[tool] / "runs" / benchmark / project
        return self.root / "runs" / benchmark / project / tool

    def log(self, name: str) -> Path:
        path = self.root / "logs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def bin_path(venv: Path, name: str) -> Path:
    """A console script of a POSIX virtualenv."""
    return venv / "bin" / name


def isolated_environ(workspace: Workspace, tool: str) -> dict[str, str]:
    """This process's environment without pip/uv/pipenv settings, with a private HOME and caches."""
    tool_family = family(tool)  # a variant runs its tool's program with caches of its own
    home, cache = workspace.home(tool), workspace.cache(tool)
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # tools run as installed, from bytecode and caches they may write
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(cache),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        THOTH_PIP_CACHE_DIR=str(cache / "thoth-pip"),
        PIPENV_CACHE_DIR=str(cache / "pipenv"),
        PIPENV_VENV_IN_PROJECT="1",
        PIPENV_IGNORE_VIRTUALENVS="1",
        PIPENV_NOSPIN="1",
        PIPENV_YES="1",
        PIPENV_VERBOSITY="-1",
        PATH=os.pathsep.join([str(bin_path(workspace.tool_venv(tool_family), "")), os.environ.get("PATH", "")]),
    )
    return env


def run_logged(cmd: Sequence[object], *, cwd: Path, env: dict[str, str], log: Path, timeout: float) -> int:
    """Run a command with its output appended to ``log``; the exit code (124 on timeout)."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}   (cwd {cwd})\n")
        out.flush()
        try:
            return subprocess.run(list(map(str, cmd)), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\n!!! timed out after {timeout}s\n")
            return 124


def must_run(cmd: Sequence[object], *, cwd: Path, env: dict[str, str], log: Path, timeout: float = 1800) -> None:
    """Run a set-up step; stop the benchmark with the log's tail when it fails."""
    if run_logged(cmd, cwd=cwd, env=env, log=log, timeout=timeout) != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise SystemExit(f"set-up step failed: {' '.join(map(str, cmd))}\n--- {log} ---\n{tail}")


# --------------------------------------------------------------------------- tools


def make_venv(python: str, target: Path, *, with_pip: bool, env: dict[str, str], log: Path) -> None:
    """A fresh stdlib virtualenv at ``target`` (the old one removed)."""
    shutil.rmtree(target, ignore_errors=True)
    cmd = [python, "-m", "venv", str(target)] + ([] if with_pip else ["--without-pip"])
    must_run(cmd, cwd=target.parent, env=env, log=log)


def install_tools(workspace: Workspace, tools: set[str], *, reinstall: bool) -> dict[str, str]:
    """A virtualenv per tool (peers from the default index, thoth-pip from this checkout); their versions."""
    versions = {}
    for tool in sorted(tools):
        venv, env = workspace.tool_venv(tool), isolated_environ(workspace, tool)
        log = workspace.log(f"setup-{tool}.log")
        pip = [str(bin_path(venv, "python")), "-m", "pip", "install", "-q"]
        if reinstall or not (venv / ".ready").exists():
            venv.parent.mkdir(parents=True, exist_ok=True)
            make_venv(workspace.python, venv, with_pip=True, env=env, log=log)
            requirement = str(ROOT) if tool == "thoth-pip" else PEER_DISTRIBUTIONS[tool]
            must_run(pip + [requirement] + (["pyinstrument"] if tool == "thoth-pip" else []), cwd=workspace.root, env=env, log=log)
            (venv / ".ready").write_text("")
        elif tool == "thoth-pip":  # always the checkout as it is now
            must_run([*pip, "--no-deps", "--force-reinstall", str(ROOT)], cwd=workspace.root, env=env, log=log)
        distribution = "micro-thoth" if tool == "thoth-pip" else PEER_DISTRIBUTIONS[tool]
        versions[tool] = distribution_version(venv, distribution)
        if tool == "thoth-pip":  # the checkout as it was installed, not as it is when the runs end
            versions[tool] += f" (checkout {checkout_revision()})"
    return versions


def distribution_version(venv: Path, distribution: str) -> str:
    """The installed version of ``distribution`` in ``venv``."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    out = subprocess.run([str(bin_path(venv, "python")), "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def checkout_revision() -> str:
    """The commit of this checkout, marked ``+dirty`` when the tree has changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
