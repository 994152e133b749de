"""The project on disk: which input files exist, reading them, writing them atomically."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputFileError, UsageError
from ..settings import CONFIG_NAME, Settings


@dataclass(frozen=True)
class ProjectFiles:
    """The inputs found in the project directory (None: absent)."""

    directory: Path
    pipfile: Optional[Path]
    pipfile_lock: Optional[Path]
    poetry_lock: Optional[Path]
    requirements_txt: Optional[Path]
    requirements_in: Optional[Path]

    @property
    def lock(self) -> Optional[Path]:
        """The lock to install from, by priority: Pipfile.lock, poetry.lock, requirements.txt."""
        return self.pipfile_lock or self.poetry_lock or self.requirements_txt


def _existing(path: Path) -> Optional[Path]:
    return path if path.is_file() else None


def apply_overlay(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """With ``overlays_dir`` in .thoth.yaml, the selected runtime environment's inputs live in
    ``<overlays_dir>/<name>/`` (Thamos's layout); an explicit PIPENV_PIPFILE wins, and an
    overlay holding no Pipfile, lock or requirements file leaves the project's in use."""
    path = settings.project_dir / CONFIG_NAME
    if settings.pipfile is not None or not path.is_file():
        return settings
    # YAML is loaded only for a project with a .thoth.yaml (a no-op sync must start fast).
    from ..environment import config as thoth_config

    config = thoth_config.load_config(path, environ)
    if config.overlays_dir is None or not config.runtime_environments:
        return settings
    entry = config.select(settings.runtime_environment, environ)
    overlay = config.overlay_directory(settings.project_dir, entry)
    if not overlay.is_dir():
        raise InputFileError(
            f"the overlay of runtime environment '{entry.name}' ({overlay}) does not exist",
            path=str(path),
            key_path="overlays_dir",
            hint=f"create it with the Pipfile for '{entry.name}', or pick another with --runtime-environment",
        )
    if not any((overlay / name).is_file() for name in _INPUTS):
        return settings  # an overlay with only a .env: the project's own files are the inputs
    return settings.with_changes(input_dir=overlay)


_INPUTS = ("Pipfile", "Pipfile.lock", "poetry.lock", "requirements.txt", "requirements.in")


def discover(settings: Settings) -> ProjectFiles:
    directory = settings.project_dir
    inputs = settings.inputs
    pipfile = settings.pipfile_path
    if settings.pipfile is not None and not pipfile.is_file():
        raise UsageError(f"PIPENV_PIPFILE names {pipfile}, which does not exist")
    return ProjectFiles(
        directory=directory,
        pipfile=_existing(pipfile),
        pipfile_lock=_existing(settings.lock_path),
        poetry_lock=_existing(inputs / "poetry.lock"),
        requirements_txt=_existing(inputs / "requirements.txt"),
        requirements_in=_existing(inputs / "requirements.in"),
    )


def read_text(path: Path) -> str:
    """A file's text, or an InputFileError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError("file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read: {exc}", path=str(path)) from exc

