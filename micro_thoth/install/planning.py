"""The plan: wanted pins against installed distributions -> unchanged, new, replaced, extraneous.

Pure data, printable for ``--dry-run``; ``actions.execute`` carries it out.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..integrity import damaged_files
from ..models import DirectReference, strip_credentials
from .environment import TargetEnvironment
from .installed import InstalledDistribution, installed_distributions

PROTECTED = frozenset({"pip", "setuptools", "wheel", "distribute", "micro-thoth"})


@dataclass(frozen=True)
class WantedPackage:
    """A pin to have in the environment; ``requested`` marks the user's own (REQUESTED file)."""

    name: str
    version: Optional[str]
    direct: Optional[DirectReference] = None
    requested: bool = False

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)

    def describe(self) -> str:
        if self.direct is not None:
            return f"{self.name} @ {strip_credentials(self.direct.pip_url())}"
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Plan:
    """What ``execute`` will do; printable for ``--dry-run`` before anything happens."""

    unchanged: tuple[WantedPackage, ...] = ()
    to_install: tuple[WantedPackage, ...] = ()
    to_replace: tuple[tuple[WantedPackage, InstalledDistribution], ...] = ()
    extraneous: tuple[InstalledDistribution, ...] = ()
    clean: bool = False
    reinstall: bool = False
    damaged: tuple[NormalizedName, ...] = ()  # installed at the wanted version, but files edited or missing

    @property
    def wheels_needed(self) -> tuple[WantedPackage, ...]:
        """The packages ``execute`` needs a wheel for (new and replacing, editables excepted)."""
        return tuple(wanted for wanted in self.changed if not _is_editable(wanted))

    @property
    def editables(self) -> tuple[WantedPackage, ...]:
        """New or replacing editable references: ``execute`` removes what they replace, and
        ``build.install_editable`` installs them afterwards (PEP 660 needs the build backend)."""
        return tuple(wanted for wanted in self.changed if _is_editable(wanted))

    @property
    def changed(self) -> tuple[WantedPackage, ...]:
        return self.to_install + tuple(wanted for wanted, _ in self.to_replace)

    @property
    def to_remove(self) -> tuple[InstalledDistribution, ...]:
        removed = tuple(old for _, old in self.to_replace)
        return removed + (self.extraneous if self.clean else ())

    @property
    def is_empty(self) -> bool:
        return not self.changed and not (self.clean and self.extraneous)

    def describe(self) -> list[str]:
        lines = [f"install {wanted.describe()}" for wanted in self.to_install]
        lines += [
            f"repair {new.describe()} (installed files edited or missing)" if new.key in self.damaged
            else f"replace {old.name}=={old.version} by {new.describe()}"
            for new, old in self.to_replace
        ]
        verb = "remove" if self.clean else "extraneous (kept)"
        lines += [f"{verb} {dist.name}=={dist.version}" for dist in self.extraneous]
        lines.append(f"{len(self.unchanged)} already installed")
        return lines


def _is_editable(wanted: WantedPackage) -> bool:
    return wanted.direct is not None and wanted.direct.editable


def plan(
    wanted: Sequence[WantedPackage],
    env: TargetEnvironment,
    *,
    reinstall: bool = False,
    clean: bool = False,
    installed: Optional[Mapping[NormalizedName, InstalledDistribution]] = None,
) -> Plan:
    """Compare ``wanted`` with what ``env`` has; installs nothing."""
    have = dict(installed_distributions(env) if installed is None else installed)
    unchanged: list[WantedPackage] = []
    new: list[WantedPackage] = []
    replace: list[tuple[WantedPackage, InstalledDistribution]] = []
    damaged: list[NormalizedName] = []
    for package in wanted:
        current = have.pop(package.key, None)
        if current is None:
            new.append(package)
        elif not reinstall and _satisfies(current, package):
            if not damaged_files(current.dist_info, current.dist_info.parent):
                unchanged.append(package)
                continue
            damaged.append(package.key)
            replace.append((package, current))
        else:
            replace.append((package, current))
    extraneous = tuple(d for key, d in sorted(have.items()) if key not in PROTECTED)
    return Plan(tuple(unchanged), tuple(new), tuple(replace), extraneous, clean, reinstall, tuple(damaged))


def _satisfies(current: InstalledDistribution, wanted: WantedPackage) -> bool:
    if wanted.direct is not None:
        return current.direct_url is not None and _direct_identity(current.direct_url) == _direct_identity(
            direct_url_data(wanted.direct)
        )
    if current.direct_url is not None and ("vcs_info" in current.direct_url or "dir_info" in current.direct_url):
        return False  # built from a checkout or a directory: not the index's file
    return wanted.version is not None and _same_version(current.version, wanted.version)


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def _direct_identity(data: Mapping[str, Any]) -> tuple[Any, ...]:
    vcs = data.get("vcs_info") or {}
    directory = data.get("dir_info") or {}
    return (data.get("url"), vcs.get("commit_id"), data.get("subdirectory"), bool(directory.get("editable")))


def direct_url_data(reference: DirectReference) -> dict[str, Any]:
    """PEP 610 ``direct_url.json`` for a direct reference (credentials removed)."""
    data: dict[str, Any]
    if reference.is_vcs:
        url = reference.location.removeprefix(f"{reference.kind}+")
        vcs: dict[str, Any] = {"vcs": reference.kind}
        if reference.ref:
            vcs["commit_id"] = reference.ref
        data = {"url": strip_credentials(url), "vcs_info": vcs}
    elif reference.kind == "path" or reference.location.startswith("file:"):
        path = _local_path(reference.location)
        info = {"editable": True} if reference.editable else {}
        data = {"url": path.as_uri(), "dir_info": info} if path.is_dir() else {"url": path.as_uri(), "archive_info": {}}
    else:
        data = {"url": strip_credentials(reference.location), "archive_info": {}}
    if reference.subdirectory:
        data["subdirectory"] = reference.subdirectory
    return data


def _local_path(location: str) -> Path:
    if location.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(location).path)).resolve()
    return Path(location).expanduser().resolve()
