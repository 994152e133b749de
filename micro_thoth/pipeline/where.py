"""Where things are: the project (``--where``), its environment (``--venv``, ``--py``), the environment to inspect."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from .. import install
from ..environment import interpreter
from ..errors import EnvironmentError_, InputFileError
from ..settings import Settings

IGNORED = install.PROTECTED | {"pipenv"}  # never reported as extraneous, never cleaned


def venv_location(settings: Settings) -> Optional[Path]:
    """The environment commands use: the active virtualenv, else the project's ``.venv`` if made."""
    if settings.use_active_virtualenv:
        return settings.virtual_env
    venv = settings.project_dir / ".venv"
    return venv if (venv / "pyvenv.cfg").is_file() else None


def no_venv(settings: Settings) -> EnvironmentError_:
    return EnvironmentError_(
        f"No virtualenv has been created for this project {settings.project_dir} yet!",
        hint="run `thoth-pip sync` (or `thoth-pip install`) to create it",
    )


def existing_environment(settings: Settings) -> install.TargetEnvironment:
    """The environment to inspect or change; never creates one (``--system``: python3 or --python)."""
    if settings.system:
        python = str(interpreter.find_python(settings.python)) if settings.python else "python3"
        return install.system_environment(python)
    venv = venv_location(settings)
    if venv is None:
        raise no_venv(settings)
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
        raise no_venv(settings)
    return venv if what == "venv" else venv / "bin" / "python"
