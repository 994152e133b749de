"""pipenv's everyday commands around a lock: verify, clean, run, and where things are.

``verify`` compares the lock's ``_meta`` hash with the Pipfile's; ``clean``
removes what the lock does not name from the environment; ``prepare_run``
computes the command and environment ``pipenv run`` would use (the CLI execs
it); ``locate`` answers ``--where``/``--venv``/``--py``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from packaging.utils import NormalizedName

from .. import install
from ..errors import EnvironmentError_, InputFileError, UsageError
from ..formats import dotenv, pipfile_lock
from ..formats import pipfile as pipfile_format
from ..models import Lock, Pipfile
from ..reporting import Reporter
from ..settings import Settings, env_flag
from . import export, inputs
from .project import ProjectFiles, discover, read_text
from .project_env import dotenv_file
from .services import open_services

IGNORED = install.PROTECTED | {"pipenv"}


# --- where things are --------------------------------------------------------------------------


def venv_location(settings: Settings) -> Optional[Path]:
    """The environment commands use: the active virtualenv, else the project's ``.venv`` if made."""
    if settings.use_active_virtualenv:
        return settings.virtual_env
    venv = settings.project_dir / ".venv"
    return venv if (venv / "pyvenv.cfg").is_file() else None


def _no_venv(settings: Settings) -> EnvironmentError_:
    return EnvironmentError_(
        f"No virtualenv has been created for this project {settings.project_dir} yet!",
        hint="run `thoth-pip sync` (or `thoth-pip install`) to create it",
    )


def existing_environment(settings: Settings) -> install.TargetEnvironment:
    """The environment to inspect or change; never creates one (``--system``: python3 or --python)."""
    if settings.system:
        from ..environment import interpreter

        python = str(interpreter.find_python(settings.python)) if settings.python else "python3"
        return install.system_environment(python)
    venv = venv_location(settings)
    if venv is None:
        raise _no_venv(settings)
    return install.environment_for(venv / "bin" / "python")


def locate(settings: Settings, what: Literal["where", "venv", "py"]) -> Path:
    """``--where`` (the project), ``--venv`` (its environment) or ``--py`` (that environment's python)."""
    if what == "where":
        if not settings.pipfile_path.is_file():
            raise InputFileError(
                "No Pipfile present at project home.", path=str(settings.project_dir),
                hint="run `thoth-pip install PACKAGE` to create one",
            )
        return settings.project_dir
    venv = venv_location(settings)
    if venv is None:
        raise _no_venv(settings)
    return venv if what == "venv" else venv / "bin" / "python"


# --- verify ----------------------------------------------------------------------------------


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


# --- clean -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanOutcome:
    """What clean removed (or, with ``dry_run``, would remove)."""

    environment: Path
    extraneous: tuple[str, ...]
    removed: tuple[str, ...]
    dry_run: bool


def load_project_lock(files: ProjectFiles) -> Lock:
    """Pipfile.lock, poetry.lock or a hashed requirements.txt, by that priority."""
    lock = export.load_any_lock(files)
    if lock is not None:
        return lock
    if files.requirements_txt is not None:
        return inputs.load_requirements_lock(files.requirements_txt)
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


def clean(settings: Settings, reporter: Reporter) -> CleanOutcome:
    """Uninstall every distribution that no section of the lock names (pipenv clean)."""
    files = discover(settings)
    lock = load_project_lock(files)
    warn_if_stale(files, lock, reporter)
    env = existing_environment(settings)
    installed = install.installed_distributions(env)
    keep = export.lock_names(lock) | _running_tool(env, installed)
    extraneous = tuple(d.name for key, d in sorted(installed.items()) if key not in keep and key not in IGNORED)
    if settings.dry_run or not extraneous:
        return CleanOutcome(env.prefix, extraneous, (), settings.dry_run)
    removed = install.uninstall(extraneous, env, reporter=reporter, lock_timeout=settings.install_timeout)
    return CleanOutcome(env.prefix, extraneous, removed, False)


def _running_tool(
    env: install.TargetEnvironment, installed: Mapping[NormalizedName, install.InstalledDistribution]
) -> set[NormalizedName]:
    """thoth-pip's own distribution and dependencies, when it runs from the environment being cleaned."""
    if "micro-thoth" not in installed or Path(sys.prefix).resolve() != env.prefix.resolve():
        return set()
    from .graph import build_graph, closure

    return set(closure(build_graph(installed.values(), env.interpreter.markers), "micro-thoth"))


# --- run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """The process ``thoth-pip run`` execs."""

    argv: tuple[str, ...]
    environ: Mapping[str, str]
    dotenv: Optional[Path]


def prepare_run(settings: Settings, environ: Mapping[str, str], command: Sequence[str], reporter: Reporter) -> RunPlan:
    """The command (a Pipfile ``[scripts]`` entry or a program) and the environment to run it in."""
    if not command:
        raise UsageError("Missing argument 'command'.")
    files = discover(settings)
    env = dict(environ)
    dotenv_path = dotenv_file(settings, environ, reporter)
    if dotenv_path is not None:
        if not env_flag(environ, "PIPENV_QUIET") and not environ.get("PIPENV_ACTIVE") and settings.verbosity >= 0:
            reporter.message("Loading .env environment variables...")
        entries = dotenv.parse_dotenv(read_text(dotenv_path), str(dotenv_path))
        env.update(dotenv.resolve(entries, env, override=True))
    if not settings.system:
        _activate(env, settings)
    env["PIPENV_ACTIVE"] = "1"
    env["PIPENV_PROJECT_DIR"] = str(files.directory)
    argv = _script(files, command)
    return RunPlan(_resolved(argv, env), env, dotenv_path)


def _activate(env: dict[str, str], settings: Settings) -> None:
    venv = venv_location(settings)
    if venv is None:
        raise _no_venv(settings)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *([env["PATH"]] if env.get("PATH") else [])])
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONHOME", None)


def _script(files: ProjectFiles, command: Sequence[str]) -> list[str]:
    scripts = _scripts(files)
    script = scripts.get(command[0])
    if script is None:
        return list(command)
    if not isinstance(script, str) or not script.strip():
        raise InputFileError("only a non-empty string is supported as a script", path=str(files.pipfile),
                             key_path=f"scripts.{command[0]}")
    return [*shlex.split(script), *command[1:]]


def _scripts(files: ProjectFiles) -> Mapping[str, object]:
    if files.pipfile is None:
        return {}
    data = pipfile_format.parse_toml(read_text(files.pipfile), str(files.pipfile))
    scripts = data.get("scripts", {})
    return scripts if isinstance(scripts, dict) else {}


_ENV_REF = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def _resolved(argv: list[str], env: Mapping[str, str]) -> tuple[str, ...]:
    """Arguments with ``$VAR`` expanded from ``env``; a name not on PATH goes through ``sh -c``."""
    expanded = [_ENV_REF.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), arg) for arg in argv]
    program = shutil.which(expanded[0], path=env.get("PATH", ""))
    if program is None:
        return ("/bin/sh", "-c", shlex.join(expanded))
    return (program, *expanded[1:])
