"""Prescription unit files on disk: the bundled, backend, user, project and explicit sets, loaded in order.

``load_prescriptions`` reads them (a unit named like one loaded before it
replaces it), ``add_incompatibility`` records a user's own finding as a unit
file, ``replace_backend_units`` swaps in the set ``prescription sync`` fetched
from a backend in one step.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from ..errors import InputFileError
from ..fs import atomic_write
from ..guidance.incompatibility import incompatibility_file
from ..guidance.prescriptions import parse_document, parse_units
from ..guidance.units import Unit
from .compiled import compiled_document
from .locations import PRESCRIPTIONS, bundled_dir, data_dir, project_dir

__all__ = [
    "BACKEND_DIR", "BACKEND_MANIFEST", "add_incompatibility", "backend_manifest", "bundled_dir", "load_file",
    "load_path", "load_prescriptions", "project_dir", "replace_backend_units", "unit_files", "user_dir",
]

BACKEND_DIR = "backend"  # under the user dir: the units ``thoth-pip prescription sync`` fetched
BACKEND_MANIFEST = "thoth-pip-backend.json"


def user_dir() -> Path:
    """Where ``thoth-pip prescription add`` records a user's own units (the platform's user data dir)."""
    return data_dir({}) / PRESCRIPTIONS


def load_file(path: Path, origin: str = "path") -> tuple[Unit, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read prescriptions: {exc.strerror or exc}", path=str(path)) from exc
    return _parsed(text, str(path), origin)


@functools.lru_cache(maxsize=256)
def _parsed(text: str, path: str, origin: str) -> tuple[Unit, ...]:
    """``parse_units``, once per text: the units are frozen, and a long-lived resolver process
    (the backend's) reads the same files for every job. A changed file is a new text. A bundled
    file's text is found compiled (``knowledge/compiled.py``): no YAML is parsed for it."""
    document = compiled_document(text, bundled_dir())
    if document is not None:
        return parse_document(document, path=path, origin=origin)
    return parse_units(text, path=path, origin=origin)


def unit_files(directory: Path, *, skip: Sequence[str] = ()) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` under ``directory`` (sorted, recursively), but not under
    hidden entries or the top-level entries named in ``skip``."""
    out = []
    for path in directory.rglob("*"):
        parts = path.relative_to(directory).parts
        if path.suffix in (".yaml", ".yml") and path.is_file() and parts[0] not in skip and not any(p.startswith(".") for p in parts):
            out.append(path)
    return sorted(out)


def load_path(path: Path, origin: str = "path", *, skip: Sequence[str] = ()) -> tuple[Unit, ...]:
    """A YAML file, or every unit file under a directory (``unit_files``)."""
    if path.is_dir():
        return tuple(unit for file in unit_files(path, skip=skip) for unit in load_file(file, origin))
    if not path.exists():
        raise InputFileError("no such prescriptions file or directory", path=str(path))
    return load_file(path, origin)


def load_prescriptions(
    *,
    project_root: Optional[Path] = None,
    paths: Sequence[Path] = (),
    bundled: bool = True,
    user: bool = True,
    user_directory: Optional[Path] = None,
) -> tuple[Unit, ...]:
    """Units from the bundled set, the backend's (synced into the user dir's ``backend/``), the
    user dir, the project's ``.thoth/prescriptions`` and ``paths``.

    A unit named like one loaded before it replaces it (bundled < backend < user < project <
    paths), so a project can redefine or disable (``times: 0``) a bundled or backend unit.
    """
    sources: list[tuple[Path, str]] = []
    if bundled:
        sources.append((bundled_dir(), "bundled"))
    if user:
        sources.append(((user_directory or user_dir()) / BACKEND_DIR, "backend"))
        sources.append((user_directory or user_dir(), "user"))
    if project_root is not None:
        sources.append((project_dir(project_root), "project"))
    sources += [(Path(p), "path") for p in paths]
    by_name: dict[str, Unit] = {}
    for path, origin in sources:
        if origin != "path" and not path.is_dir():
            continue
        for unit in load_path(path, origin, skip=(BACKEND_DIR,) if origin == "user" else ()):
            by_name.pop(unit.name, None)
            by_name[unit.name] = unit
    return tuple(by_name.values())




def add_incompatibility(a: str, b: str, reason: str, *, directory: Optional[Path] = None) -> tuple[Path, str]:
    """Record the incompatibility as a unit file in the user prescriptions dir; returns (path, YAML text)."""
    name, text = incompatibility_file(a, b, reason)
    target = (directory or user_dir()) / name
    atomic_write(target, text)
    return target, text




# -- the backend's units ----------------------------------------------------------------------


def replace_backend_units(files: Mapping[str, str], manifest: Mapping[str, Any], *, directory: Optional[Path] = None) -> Path:
    """Make ``<user dir>/backend`` hold exactly ``files`` (relative path -> YAML text), in one step.

    Every text must parse (origin ``backend``) before anything is written. The files go
    to a fresh hidden directory beside ``backend``, which then becomes ``backend`` by an
    atomic symlink swap (a rename where symlinks are not available); a resolution
    running meanwhile reads the old set or the new one, never a mixture.
    """
    for relative, text in files.items():
        parse_units(text, path=f"{BACKEND_DIR}/{relative}", origin="backend")
    root = directory or user_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{BACKEND_DIR}-", dir=root))
    for relative, text in files.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (staging / BACKEND_MANIFEST).write_text(json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _swap_in(staging, root / BACKEND_DIR)
    return root / BACKEND_DIR


def _swap_in(staging: Path, target: Path) -> None:
    previous = target.resolve() if target.is_symlink() else None
    if target.exists() and not target.is_symlink():  # a plain directory: moved aside first
        previous = target.with_name(f".{BACKEND_DIR}-old-{os.getpid()}")
        target.rename(previous)
    link = target.with_name(f".{BACKEND_DIR}-link-{os.getpid()}")
    try:
        link.symlink_to(staging.name, target_is_directory=True)
        os.replace(link, target)
    except OSError:
        link.unlink(missing_ok=True)
        staging.rename(target)  # no symlinks here (Windows without the privilege): a plain rename
    if previous is not None and previous != staging.resolve():
        shutil.rmtree(previous, ignore_errors=True)


def backend_manifest(directory: Optional[Path] = None) -> Optional[dict[str, Any]]:
    """What the last ``prescription sync`` recorded (backend URL, knowledge version, digest), if any."""
    path = (directory or user_dir()) / BACKEND_DIR / BACKEND_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
