"""``thoth-pip shim install``: put the ``pipenv`` and ``micropipenv`` shims on PATH.

The shims ship as package data (``micro_thoth/data/shims``; the repository's
top-level ``shims/`` is their source) and are copied, executable, next to the
running ``thoth-pip`` unless told where. An existing file that is not one of
our shims (a real pipenv, say) is left alone unless ``force``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

from ..errors import UsageError
from ..fs import atomic_write

SHIMS = ("pipenv", "micropipenv")
MARKER = "thoth-pip shim"


@dataclass(frozen=True)
class ShimOutcome:
    """Where each shim was written (or was already, unchanged)."""

    directory: Path
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]


def shim_text(name: str) -> str:
    return (resources.files("micro_thoth") / "data" / "shims" / name).read_text(encoding="utf-8")


def default_directory(argv0: Optional[str] = None) -> Path:
    """The directory of the running ``thoth-pip`` script, else this interpreter's scripts directory."""
    script = Path(argv0 or sys.argv[0])
    if script.name == "thoth-pip" and script.absolute().parent.is_dir():
        return script.absolute().parent
    import sysconfig

    return Path(sysconfig.get_path("scripts"))


def install_shims(directory: Optional[Path] = None, *, force: bool = False, names: tuple[str, ...] = SHIMS) -> ShimOutcome:
    """Copy the shims into ``directory`` (made if missing) with mode 0755."""
    target = directory or default_directory()
    target.mkdir(parents=True, exist_ok=True)
    written, unchanged = [], []
    for name in names:
        text, path = shim_text(name), target / name
        if path.exists() and path.read_text(encoding="utf-8", errors="replace") == text:
            unchanged.append(path)
            continue
        if path.exists() and not force and MARKER not in path.read_text(encoding="utf-8", errors="replace"):
            raise UsageError(f"{path} exists and is not a thoth-pip shim", hint="pass --force to replace it")
        atomic_write(path, text, mode=0o755)
        written.append(path)
    return ShimOutcome(target, tuple(written), tuple(unchanged))

