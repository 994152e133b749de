"""``thoth-pip install / update / uninstall``: edit the Pipfile, re-lock when needed, sync."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .. import install as installer
from ..errors import InputFileError, NotInProject, StaleLockError, UsageError
from ..formats import pipfile_edit, pipfile_lock
from ..fs import atomic_write
from ..index.suggest import suggest
from ..models import DEFAULT_CATEGORY, DEVELOP_CATEGORY, Lock, Pipfile
from ..reporting import Reporter
from ..settings import Settings
from . import inputs, local_paths, lockfile
from .lock import (
    DEFAULT_REQUEST,
    LockOutcome,
    LockRequest,
    pipfile_input,
    previous_lock,
    requirements_input,
    run_lock,
)
from .lock_input import CompileRequest
from .project import ProjectFiles, discover, read_text
from .services import Services, open_services
from .sync import SyncOutcome, install_lock, select_environment


@dataclass(frozen=True)
class InstallOutcome:
    """A lock (when one was made) and the sync that followed."""

    locked: Optional[LockOutcome]
    synced: SyncOutcome


def install(
    settings: Settings,
    environ: Mapping[str, str],
    reporter: Reporter,
    *,
    packages: Sequence[str] = (),
    index: Optional[str] = None,
    request: LockRequest = DEFAULT_REQUEST,
    on_locked: Callable[[LockOutcome], object] = lambda locked: None,
) -> InstallOutcome:
    """pipenv install: add ``packages`` to the Pipfile; lock if the lock is missing or stale; sync.
    ``on_locked`` hears of a lock as soon as it is made, before the sync starts (its lines first)."""
    started = time.monotonic()
    files = discover(settings)
    with open_services(settings, environ, reporter) as services:
        if packages:
            entries = _entries(packages, index, settings, files, services)
            with _pipfile_edit(settings, files, _adder(entries, _category(settings))) as files:
                locked = _told(on_locked, _relock(files, services, request))
                return InstallOutcome(locked, _sync_locked(locked, files, settings, services, started))
        if settings.deploy or (files.pipfile is None and files.lock is not None and files.requirements_in is None):
            return InstallOutcome(None, _sync_existing(files, settings, services, started))
        if files.pipfile is None and files.requirements_in is not None:
            compiled = requirements_input(services, CompileRequest(src=files.requirements_in), request)
            locked = _told(on_locked, run_lock(compiled, services, request))
            return InstallOutcome(locked, _sync_requirements(locked, files, settings, services, started))
        current = _current_lock(files, services)
        if current is not None:
            return InstallOutcome(None, install_lock(*current, files, settings, services, started))
        locked = _told(on_locked, _relock(files, services, request))
        return InstallOutcome(locked, _sync_locked(locked, files, settings, services, started))


def _told(on_locked: Callable[[LockOutcome], object], locked: LockOutcome) -> LockOutcome:
    on_locked(locked)
    return locked


def update(
    settings: Settings,
    environ: Mapping[str, str],
    reporter: Reporter,
    *,
    packages: Sequence[str] = (),
    request: LockRequest = DEFAULT_REQUEST,
    lock_only: bool = False,
) -> InstallOutcome:
    """pipenv update/upgrade: re-lock letting ``packages`` (or all) move; everything else stays."""
    started = time.monotonic()
    files = discover(settings)
    upgrade = {canonicalize_name(_name_of(p)) for p in packages} if packages else True
    with open_services(settings, environ, reporter) as services:
        if files.pipfile is None:
            raise UsageError("update needs a Pipfile", hint="run `thoth-pip install PACKAGE` to create one")
        if not isinstance(upgrade, bool):
            _check_known(upgrade, files, services)
        locked = _relock(files, services, replace(request, upgrade=upgrade))
        if lock_only or settings.dry_run:
            return InstallOutcome(locked, _no_sync(settings, started))
        return InstallOutcome(locked, _sync_locked(locked, files, settings, services, started))


def _check_known(names: Iterable[str], files: ProjectFiles, services: Services) -> None:
    """Refuse names neither the Pipfile nor its lock has, as pipenv does (exit 1, did-you-mean)."""
    pipfile = inputs.load_pipfile(files, services)
    previous = previous_lock(files)
    known = {canonicalize_name(d.name) for deps in (pipfile.categories.values() if pipfile else ()) for d in deps}
    known |= {canonicalize_name(p.name) for pins in (previous.categories.values() if previous else ()) for p in pins}
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        pool = tuple(sorted(known))
        raise NotInProject(unknown, {n: suggest(n, candidates=pool) for n in unknown})


def uninstall(
    settings: Settings,
    environ: Mapping[str, str],
    reporter: Reporter,
    *,
    packages: Sequence[str],
    request: LockRequest = DEFAULT_REQUEST,
) -> tuple[tuple[str, ...], Optional[LockOutcome]]:
    """pipenv uninstall: drop ``packages`` from the Pipfile and the environment, then re-lock."""
    files = discover(settings)
    names = [_name_of(p) for p in packages]
    with open_services(settings, environ, reporter) as services:
        locked = None
        if files.pipfile is not None:
            with _pipfile_edit(settings, files, _remover(names)) as files:
                locked = _relock(files, services, request)
        env = select_environment(settings, files, Lock(categories={}), services, create=False)
        if not env.prefix.exists():  # no environment: nothing to remove, and none to create
            return (), locked
        removed = installer.uninstall(names, env, reporter=reporter, lock_timeout=settings.install_timeout)
        return removed, locked


# --- helpers ------------------------------------------------------------------------------------


def _relock(files: ProjectFiles, services: Services, request: LockRequest) -> LockOutcome:
    return run_lock(pipfile_input(files, services, request), services, request)


def _category(settings: Settings) -> str:
    if settings.categories:
        if len(settings.categories) > 1:
            raise UsageError("install PACKAGE takes one --categories value")
        return settings.categories[0]
    return DEVELOP_CATEGORY if settings.dev else DEFAULT_CATEGORY


def _name_of(spec: str) -> str:
    try:
        return Requirement(spec).name
    except InvalidRequirement:
        raise UsageError(f"{spec!r} is not a package name or requirement (like 'requests>=2')") from None


def _remover(names: Sequence[str]):  # type: ignore[no-untyped-def]
    def remove(text: str) -> str:
        for name in names:
            text = pipfile_edit.remove_package(text, name)
        return text

    return remove


def _entries(
    packages: Sequence[str], index: Optional[str], settings: Settings, files: ProjectFiles, services: Services
) -> list[tuple[str, local_paths.Entry]]:
    """The Pipfile key and entry of each requirement (``name>=1``, ``name[extra]``) or local path (``./sub``, ``-e ./sub``)."""
    if not any(local_paths.is_local(spec) for spec in packages):
        return [_entry(spec, index) for spec in packages]
    pipfile = inputs.load_pipfile(files, services)
    index_urls = services.index_urls(pipfile.sources if pipfile is not None else services.pip_sources())
    return [
        local_paths.pipfile_entry(spec, settings.pipfile_path.parent, index=index, environ=services.environ, index_urls=index_urls)
        if local_paths.is_local(spec) else _entry(spec, index)
        for spec in packages
    ]


def _adder(entries: Sequence[tuple[str, local_paths.Entry]], category: str):  # type: ignore[no-untyped-def]
    """A Pipfile text transformation adding each entry."""

    def add(text: str) -> str:
        for name, entry in entries:
            text = pipfile_edit.add_package(text, category, name, entry)
        return text

    return add


def _entry(spec: str, index: Optional[str]) -> tuple[str, local_paths.Entry]:
    try:
        req = Requirement(spec)
    except InvalidRequirement:
        raise UsageError(f"{spec!r} is not a valid requirement (like 'requests>=2' or 'flask[async]')") from None
    if req.url:
        raise UsageError(f"{spec}: add URL and VCS requirements to the Pipfile by hand (file/git keys)")
    version = str(req.specifier) or "*"
    table: dict[str, object] = {}
    if req.extras:
        table["extras"] = sorted(req.extras)
    if req.marker:
        table["markers"] = str(req.marker)
    if index:
        table["index"] = index
    if not table:
        return req.name, version
    return req.name, {"version": version, **table}


@contextmanager
def _pipfile_edit(settings: Settings, files: ProjectFiles, change) -> Iterator[ProjectFiles]:  # type: ignore[no-untyped-def]
    """Apply ``change`` to the Pipfile text; put the old text back if anything after it fails.

    Under ``--dry-run`` the changed Pipfile goes to a scratch directory and the project's
    stays as it is (a dry run writes nothing in the project).
    """
    path = settings.pipfile_path
    original = read_text(path) if files.pipfile is not None else None
    base = original if original is not None else pipfile_edit.new_pipfile_text(_python_version())
    if settings.dry_run:
        with tempfile.TemporaryDirectory(prefix="thoth-pip-dry-run-") as scratch:
            copy = Path(scratch) / path.name
            copy.write_text(change(base), encoding="utf-8")
            yield replace(files, pipfile=copy)
        return
    atomic_write(path, change(base))
    try:
        yield discover(settings)
    except BaseException:
        if original is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, original)
        raise


def _python_version() -> str:
    import sys

    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _current_lock(files: ProjectFiles, services: Services) -> Optional[tuple[Lock, Pipfile]]:
    """The lock and Pipfile, parsed once, if the lock is up to date with the Pipfile; None if stale.

    A lock that cannot be read (not JSON, no ``_meta`` hash...) is refused, never overwritten:
    it is the user's file, and what is wrong with it may be worth seeing.
    """
    pipfile = inputs.load_pipfile(files, services)
    if files.pipfile_lock is None or pipfile is None:
        return None
    try:
        lock = pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
        if not lock.pipfile_hash:
            raise InputFileError("no _meta hash, so nothing says which Pipfile the lock was made from", path=lock.path, key_path="_meta.hash.sha256")
        pipfile_lock.check_lock_current(lock, pipfile)
    except StaleLockError:
        return None
    except InputFileError as exc:
        exc.hint = "install leaves it as it is: fix it, or replace it with a new lock of the Pipfile (`thoth-pip lock`)"
        raise
    return lock, pipfile


def _sync_existing(files: ProjectFiles, settings: Settings, services: Services, started: float) -> SyncOutcome:
    lock, pipfile = inputs.load_lock(files, settings, services)
    return install_lock(lock, pipfile, files, settings, services, started)


def _sync_locked(locked: LockOutcome, files: ProjectFiles, settings: Settings, services: Services, started: float) -> SyncOutcome:
    pipfile = inputs.load_pipfile(files, services)
    assert locked.lock is not None
    lock = locked.lock if locked.path is None else replace(locked.lock, path=str(locked.path))
    return install_lock(lock, pipfile, files, settings, services, started)


def _sync_requirements(locked: LockOutcome, files: ProjectFiles, settings: Settings, services: Services, started: float) -> SyncOutcome:
    if locked.lock is not None:  # a backend's requirements.txt, parsed (lock_input.py)
        return install_lock(locked.lock, None, files, settings, services, started)
    resolution = locked.resolutions["default"]
    sources = tuple({p.index.name: p.index for p in resolution.pins.values() if p.index is not None}.values())
    lock = lockfile.requirements_lock(resolution, sources, str(locked.path) if locked.path else None)
    return install_lock(lock, None, files, settings, services, started)


def _no_sync(settings: Settings, started: float) -> SyncOutcome:
    return SyncOutcome(installer.Plan(), None, settings.project_dir, time.monotonic() - started, dry_run=True)
