"""``thoth-pip run``: the command (a Pipfile ``[scripts]`` entry or a program) and the environment to exec it in,
with the project's ``.env`` loaded as pipenv loads it (``project_env.py``)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputFileError, UsageError
from ..formats import dotenv
from ..formats import pipfile as pipfile_format
from ..reporting import Reporter
from ..settings import Settings, env_flag
from .project import ProjectFiles, discover, read_text
from .project_env import dotenv_file
from .where import no_venv, venv_location


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
        raise no_venv(settings)
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
