"""``thoth-pip verify``: whether Pipfile.lock was made from this Pipfile (its ``_meta`` hash)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputFileError
from ..formats import pipfile_lock
from ..reporting import Reporter
from ..settings import Settings
from . import inputs
from .project import discover, read_text
from .services import open_services


@dataclass(frozen=True)
class VerifyOutcome:
    """Whether the lock was made from this Pipfile."""

    up_to_date: bool
    lock_hash: str
    pipfile_hash: str
    lock_path: Path


def verify(settings: Settings, environ: Mapping[str, str], reporter: Reporter) -> VerifyOutcome:
    """Compare Pipfile.lock's ``_meta.hash`` with the Pipfile's hash (pipenv verify)."""
    files = discover(settings)
    if files.pipfile is None:
        raise InputFileError("No Pipfile present at project home.", path=str(files.directory))
    if files.pipfile_lock is None:
        raise InputFileError("Pipfile.lock not found", path=str(settings.lock_path),
                             hint="run `thoth-pip lock` to create it")
    lock = pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
    with open_services(settings, environ, reporter) as services:
        pipfile = inputs.load_pipfile(files, services)
    assert pipfile is not None
    current = bool(lock.pipfile_hash) and lock.pipfile_hash in pipfile.hashes
    return VerifyOutcome(current, lock.pipfile_hash or "", pipfile.hash, files.pipfile_lock)
