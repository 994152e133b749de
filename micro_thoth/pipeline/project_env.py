"""The variables a project's ``.env`` adds for every command, by pipenv's rules.

Kept apart from the heavier pipeline modules: every command (a no-op sync too)
reads it before anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from ..formats.dotenv import parse_dotenv, resolve
from ..reporting import Reporter
from ..settings import CONFIG_NAME, Settings, env_flag
from .project import read_text


def dotenv_file(settings: Settings, environ: Mapping[str, str], reporter: Reporter) -> Optional[Path]:
    """PIPENV_DOTENV_LOCATION, else the runtime environment overlay's ``.env``, else the project's."""
    if env_flag(environ, "PIPENV_DONT_LOAD_ENV"):
        return None
    explicit = environ.get("PIPENV_DOTENV_LOCATION")
    if explicit:
        if not Path(explicit).is_file():
            reporter.message(f"PIPENV_DOTENV_LOCATION={explicit} does not exist; not loading environment variables",
                             "warning")
            return None
        return Path(explicit)
    for directory in (_overlay_dir(settings.project_dir, environ), settings.project_dir):
        if directory is not None and (directory / ".env").is_file():
            return directory / ".env"
    return None


def dotenv_values(settings: Settings, environ: Mapping[str, str], reporter: Reporter) -> dict[str, str]:
    """What the project's ``.env`` adds for every command, as pipenv loads it: variables
    already set win (so credentials for an index can live in ``.env``, and CI can override)."""
    path = dotenv_file(settings, environ, reporter)
    if path is None:
        return {}
    values = resolve(parse_dotenv(read_text(path), str(path)), environ, override=False)
    return {key: value for key, value in values.items() if key not in environ}


def _overlay_dir(project_dir: Path, environ: Mapping[str, str]) -> Optional[Path]:
    if not (project_dir / CONFIG_NAME).is_file():
        return None
    from .environment import load_project_config  # only a project with a .thoth.yaml pays for it

    config = load_project_config(project_dir, environ)
    if config is None or not config.runtime_environments:
        return None
    return config.overlay_directory(project_dir, config.select(None, environ))
