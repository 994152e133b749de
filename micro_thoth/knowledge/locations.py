"""Where knowledge lives on this machine: the user data dir, or a project's own knowledge dir."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "thoth-pip"
PRESCRIPTIONS = "prescriptions"  # under the knowledge dir: the user's own unit files


def data_dir(environ: Mapping[str, str]) -> Path:
    """Where imported knowledge lives: THOTH_PIP_DATA_DIR, else the platform's user data dir."""
    if environ.get("THOTH_PIP_DATA_DIR"):
        return Path(environ["THOTH_PIP_DATA_DIR"])
    return Path(platformdirs.user_data_dir(APP_NAME))


def user_prescriptions_dir(environ: Mapping[str, str]) -> Path:
    """Where ``thoth-pip prescription add`` records a user's own units."""
    return data_dir(environ) / PRESCRIPTIONS


def bundled_dir() -> Path:
    """Our own small set of prescriptions, shipped in the package."""
    return Path(__file__).resolve().parent.parent / "data" / PRESCRIPTIONS


def project_dir(project_root: Path) -> Path:
    """A project's own units: ``.thoth/prescriptions``."""
    return project_root / ".thoth" / PRESCRIPTIONS
