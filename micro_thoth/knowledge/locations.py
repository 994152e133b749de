"""Where knowledge lives on this machine: the user data dir, or a knowledge dir a project or CI job pins.

``THOTH_PIP_KNOWLEDGE_DIR`` (``--knowledge-dir``) names the directory holding the
compiled store (``knowledge-v1.sqlite3``: synced units and imported advisories)
and the user's own units (``prescriptions/``); without it, the user data dir
(``THOTH_PIP_DATA_DIR``, else the platform's) holds them, shared by every project.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

APP_NAME = "thoth-pip"
PRESCRIPTIONS = "prescriptions"  # under the knowledge dir: the user's own unit files
KNOWLEDGE_DIR_ENV = "THOTH_PIP_KNOWLEDGE_DIR"


def data_dir(environ: Mapping[str, str]) -> Path:
    """Where imported knowledge lives: THOTH_PIP_DATA_DIR, else the platform's user data dir."""
    if environ.get("THOTH_PIP_DATA_DIR"):
        return Path(environ["THOTH_PIP_DATA_DIR"])
    import platformdirs  # here: every command's options read KNOWLEDGE_DIR_ENV, few need the data dir

    return Path(platformdirs.user_data_dir(APP_NAME))


def knowledge_dir(environ: Mapping[str, str]) -> Path:
    """THOTH_PIP_KNOWLEDGE_DIR when set, else the data dir."""
    pinned = environ.get(KNOWLEDGE_DIR_ENV)
    return Path(pinned).expanduser() if pinned else data_dir(environ)


def user_prescriptions_dir(environ: Mapping[str, str]) -> Path:
    """Where ``thoth-pip prescription add`` records a user's own units."""
    return knowledge_dir(environ) / PRESCRIPTIONS


def bundled_dir() -> Path:
    """Our own small set of prescriptions, shipped in the package."""
    return Path(__file__).resolve().parent.parent / "data" / PRESCRIPTIONS


def project_dir(project_root: Path) -> Path:
    """A project's own units: ``.thoth/prescriptions``."""
    return project_root / ".thoth" / PRESCRIPTIONS
