"""``thoth-pip clean``: uninstall what no section of the lock names (thoth-pip's own tool kept when it runs there)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from .. import install
from ..reporting import Reporter
from ..settings import Settings
from . import export
from .graph import build_graph, closure
from .inputs import load_project_lock, warn_if_stale
from .project import discover
from .where import IGNORED, existing_environment


@dataclass(frozen=True)
class CleanOutcome:
    """What clean removed (or, with ``dry_run``, would remove)."""

    environment: Path
    extraneous: tuple[str, ...]
    removed: tuple[str, ...]
    dry_run: bool


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
    return set(closure(build_graph(installed.values(), env.interpreter.markers), "micro-thoth"))
