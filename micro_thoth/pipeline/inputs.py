"""Reading the project's inputs into models: the lock to install, the Pipfile, their sources, staleness."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import InputFileError, UsageError
from ..formats import pipfile as pipfile_format
from ..formats import pipfile_lock, poetry_lock, requirements
from ..models import Lock, Pipfile, Source, Target
from ..reporting import Reporter
from ..settings import Settings
from .export import load_any_lock
from .project import ProjectFiles, read_text
from .services import Services


def load_pipfile(files: ProjectFiles, services: Services) -> Optional[Pipfile]:
    """The Pipfile, parsed (a missing ``[[source]]`` means pip's default index, as in pipenv)."""
    if files.pipfile is None:
        return None
    text = read_text(files.pipfile)
    parsed = pipfile_format.parse_pipfile(text, str(files.pipfile))
    if parsed.sources:
        return parsed
    return pipfile_format.parse_pipfile(text, str(files.pipfile), default_index_url=services.default_index_url())


def load_lock(files: ProjectFiles, settings: Settings, services: Services) -> tuple[Lock, Optional[Pipfile]]:
    """The lock to install, by priority (Pipfile.lock, poetry.lock, requirements.txt), checked for --deploy."""
    if files.pipfile_lock is not None:
        lock = pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
        pipfile = load_pipfile(files, services) if (settings.deploy or files.pipfile) else None
        if settings.deploy:
            if pipfile is None:
                raise InputFileError("--deploy needs the Pipfile beside the lock", path=str(files.directory / "Pipfile"))
            pipfile_lock.check_lock_current(lock, pipfile)
        return lock, pipfile
    if files.poetry_lock is not None:
        return poetry_lock.parse_poetry_lock(read_text(files.poetry_lock), str(files.poetry_lock)), None
    if files.requirements_txt is not None:
        return load_requirements_lock(files.requirements_txt), None
    raise InputFileError(
        "no lock found (looked for Pipfile.lock, poetry.lock, requirements.txt)",
        path=str(files.directory),
        hint="run `thoth-pip lock` first, or `thoth-pip install` without --deploy",
    )


def load_requirements_lock(path: object) -> Lock:
    """A requirements.txt that is fully pinned and hashed, as a Lock (else NotLockedError)."""
    file = Path(str(path))
    parsed = requirements.parse_requirements(read_text(file), str(file), read=lambda p: read_text(Path(p)))
    return requirements.to_lock(parsed)


def check_deploy_python(lock: Lock, target: Target) -> None:
    """--deploy: the lock's ``[requires]`` Python must be the target's."""
    pipfile_lock.check_python_version(lock.requires, target.python_full_version, path=lock.path)


def sources_for(lock: Lock, services: Services) -> tuple[Source, ...]:
    """The lock's own sources; pip's configuration (and default index) when it names none."""
    if lock.sources:
        return lock.sources
    sources = services.pip_sources()
    if not sources:
        raise UsageError("no package index is configured (pip's config says --no-index) and the lock names none")
    return sources


def load_project_lock(files: ProjectFiles) -> Lock:
    """Pipfile.lock, poetry.lock or a hashed requirements.txt, by that priority."""
    lock = load_any_lock(files)
    if lock is not None:
        return lock
    if files.requirements_txt is not None:
        return load_requirements_lock(files.requirements_txt)
    raise InputFileError(
        "no lock found (looked for Pipfile.lock, poetry.lock, requirements.txt)",
        path=str(files.directory), hint="run `thoth-pip lock` first",
    )


def plain_pipfile(files: ProjectFiles) -> Optional[Pipfile]:
    """The Pipfile for its names and markers (no default index needed), or None."""
    if files.pipfile is None:
        return None
    return pipfile_format.parse_pipfile(read_text(files.pipfile), str(files.pipfile))


def warn_if_stale(files: ProjectFiles, lock: Lock, reporter: Reporter) -> None:
    pipfile = plain_pipfile(files) if lock.kind == "pipfile" else None
    if pipfile is not None and pipfile.sources and lock.pipfile_hash not in pipfile.hashes:
        reporter.message(f"Pipfile.lock ({(lock.pipfile_hash or '')[-6:]}) out of date. Run `thoth-pip lock` to update.",
                         "warning")
