"""The environment to install into: its interpreter, scheme paths and install lock; venv creation."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from ..environment.interpreter import InterpreterInfo, query
from ..errors import TargetInterpreterError

LOCK_NAME = ".thoth-pip.lock"


@dataclass(frozen=True)
class TargetEnvironment:
    """An environment to install into: its interpreter, scheme paths and install lock."""

    interpreter: InterpreterInfo
    paths: Mapping[str, str]
    lock_path: Path

    @property
    def python(self) -> str:
        return self.interpreter.executable

    @property
    def prefix(self) -> Path:
        return Path(self.interpreter.prefix)

    def site_dirs(self) -> list[Path]:
        return list(dict.fromkeys(Path(self.paths[key]) for key in ("purelib", "platlib")))

    @property
    def externally_managed(self) -> Optional[str]:
        """PEP 668: the distributor's message when a system interpreter must not be installed into."""
        stdlib = self.interpreter.paths.get("stdlib")
        if self.interpreter.is_venv or not stdlib:
            return None
        try:
            text = (Path(stdlib) / "EXTERNALLY-MANAGED").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        match = re.search(r"^Error\s*=\s*(.+(?:\n[ \t]+.+)*)", text, re.MULTILINE)
        return " ".join(match.group(1).split()) if match else "this Python is managed by the system's package manager"

    def scheme_for(self, distribution: str) -> dict[str, str]:
        """installer's scheme dictionary for one distribution (headers are per distribution)."""
        scheme = {key: self.paths[key] for key in ("purelib", "platlib", "scripts", "data")}
        scheme["headers"] = self.interpreter.headers_dir(distribution)
        return scheme


def environment_for(python: Union[str, Path], *, cache_dir: Optional[Path] = None) -> TargetEnvironment:
    """The environment ``python`` installs into (a venv's or the system's site-packages)."""
    info = query(python, cache_dir=cache_dir)
    paths = {key: info.paths[key] for key in ("purelib", "platlib", "scripts", "data")}
    lock_dir = Path(info.prefix) if info.is_venv else Path(paths["purelib"])
    return TargetEnvironment(interpreter=info, paths=paths, lock_path=lock_dir / LOCK_NAME)


def ensure_venv(path: Path, python: str, *, cache_dir: Optional[Path] = None, create: bool = True) -> TargetEnvironment:
    """The venv at ``path``, created without pip (we install packages ourselves) if missing;
    with ``create=False`` (a dry run) a missing one is only planned: nothing is written."""
    executable = path / "bin" / "python"
    if not (path / "pyvenv.cfg").exists() or not executable.exists():
        if not create:
            return planned_venv(path, python, cache_dir=cache_dir)
        _create_venv(path, python)
    return environment_for(executable, cache_dir=cache_dir)


def planned_venv(path: Path, python: str, *, cache_dir: Optional[Path] = None) -> TargetEnvironment:
    """The empty venv ``python -m venv path`` would make, described without making it."""
    info = query(python, cache_dir=cache_dir)
    site = str(path / "lib" / f"python{info.python_version}" / "site-packages")
    paths = {"purelib": site, "platlib": site, "scripts": str(path / "bin"), "data": str(path)}
    planned = replace(info, executable=str(path / "bin" / "python"), prefix=str(path), paths={**info.paths, **paths})
    return TargetEnvironment(interpreter=planned, paths=paths, lock_path=path / LOCK_NAME)


def _create_venv(path: Path, python: str) -> None:
    command = [python, "-m", "venv", "--without-pip", str(path)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise TargetInterpreterError(f"cannot run {python} to create {path}: {exc}") from exc
    if proc.returncode != 0:
        raise TargetInterpreterError(
            f"creating the virtual environment {path} failed: {proc.stderr.strip()[-500:]}",
            hint="on Debian/Ubuntu install the python3-venv package",
        )


def system_environment(python: str = "python3", *, cache_dir: Optional[Path] = None) -> TargetEnvironment:
    """The interpreter's own site-packages (``--system``)."""
    return environment_for(python, cache_dir=cache_dir)
