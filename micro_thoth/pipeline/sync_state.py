"""The recorded state of an environment after a sync, so that a sync with nothing to do answers from it.

After a sync of the project's ``.venv`` succeeds, the environment keeps a stamp
(``.venv/.thoth-pip-sync.json``): the digest of what was asked (the lock and
Pipfile bytes, the settings, this tool's version) and the stat of what makes the
environment what it is -- the interpreter and ``pyvenv.cfg``, each site-packages
directory, and every ``*.dist-info``'s ``RECORD`` and ``INSTALLER``. A later sync
asking the same of an environment whose stamps all hold, and whose installed files are
all as their RECORD left them (integrity.py: one stat per file), has nothing to do, and
says so without reading the lock or importing the planner, the resolver or the
HTTP stack. Whatever changes the environment (this tool, pip, an uninstall, a
new interpreter) changes a stamp, and the full path runs: an install's first step
(its backup directory in site-packages) already changes that directory's stamp, so
an install killed half-way is never taken for a finished one.

This module imports the standard library, settings, fs and project files only: it runs before the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Optional

from .. import __version__
from ..fs import atomic_write
from ..integrity import damaged_files
from ..settings import Settings
from .project import ProjectFiles, discover

STAMP_NAME = ".thoth-pip-sync.json"
_STAMPED = ("RECORD", "INSTALLER")
_UNASKED = frozenset({"verbosity", "json_output", "extra"})  # how to report, not what to do


def project_venv(settings: Settings) -> Optional[Path]:
    """The environment a sync with these settings goes to when it is the project's ``.venv``
    (the only one stamped: ``--system``, ``--python`` and an active virtualenv take the full path)."""
    if settings.system or settings.python or settings.use_active_virtualenv:
        return None
    return settings.project_dir / ".venv"


def inputs_of(files: ProjectFiles) -> tuple[Optional[Path], ...]:
    """The files a sync reads to know what to install."""
    return (files.pipfile, files.pipfile_lock, files.poetry_lock, files.requirements_txt)


def already_synced(settings: Settings) -> Optional[int]:
    """How many packages the project's environment has, if a sync with these settings has
    nothing to do there (None: take the full path). Reads the stamp and a few stats only."""
    venv = project_venv(settings)
    if venv is None or settings.dry_run or settings.json_output or settings.clear:
        return None
    return nothing_to_do(venv, request_digest(settings, inputs_of(discover(settings))))


def request_digest(settings: Settings, inputs: Iterable[Optional[Path]]) -> Optional[str]:
    """What a sync is asked to do: the input files' bytes, the settings and this version
    (None when an input cannot be read: the full path says why)."""
    digest = hashlib.sha256(f"thoth-pip {__version__}\n".encode())
    asked = {f.name: repr(getattr(settings, f.name)) for f in fields(settings) if f.name not in _UNASKED}
    digest.update(json.dumps(asked, sort_keys=True).encode())
    for path in inputs:
        if path is None:
            digest.update(b"\0-")
            continue
        try:
            digest.update(f"\0{path}\0".encode() + path.read_bytes())
        except OSError:
            return None
    return digest.hexdigest()


def environment_stamps(prefix: Path, site_dirs: Sequence[Path]) -> Optional[dict[str, list[int]]]:
    """path -> [mtime_ns, size, inode] of what a change to the environment touches (None: gone)."""
    watched = [prefix / "pyvenv.cfg", prefix / "bin" / "python", *site_dirs]
    try:
        for site in site_dirs:
            with os.scandir(site) as entries:
                infos = [Path(e.path) for e in entries if e.name.endswith(".dist-info") and e.is_dir()]
            watched += [info / name for info in sorted(infos) for name in _STAMPED]
        return {str(path): _stat(path) for path in watched}
    except OSError:
        return None


def _stat(path: Path) -> list[int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return []
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def record(prefix: Path, site_dirs: Sequence[Path], digest: Optional[str], packages: int) -> None:
    """Stamp the environment after a sync that left it as asked (``packages`` installed by the lock)."""
    stamps = environment_stamps(prefix, site_dirs)
    if digest is None or stamps is None:
        return
    state = {"request": digest, "site_dirs": [str(s) for s in site_dirs], "packages": packages, "stamps": stamps}
    try:
        atomic_write(prefix / STAMP_NAME, json.dumps(state), durable=False)  # lost: a full sync
    except OSError:
        pass  # no stamp: the next sync takes the full path


def nothing_to_do(prefix: Path, digest: Optional[str]) -> Optional[int]:
    """The number of packages a stamped environment already has, if it is exactly as the
    same request left it; None when the full path must look."""
    try:
        state = json.loads((prefix / STAMP_NAME).read_text(encoding="utf-8"))
        if digest is None or state["request"] != digest:
            return None
        site_dirs = [Path(s) for s in state["site_dirs"]]
        packages = int(state["packages"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if environment_stamps(prefix, site_dirs) != state["stamps"]:
        return None
    records = [Path(path) for path in state["stamps"] if path.endswith(f".dist-info{os.sep}RECORD")]
    if any(damaged_files(record.parent, record.parent.parent) for record in records):
        return None  # an installed file was edited or deleted: the full path repairs it
    return packages
