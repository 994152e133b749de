"""What an environment has: its ``*.dist-info`` directories, read into frozen values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packaging.utils import NormalizedName, canonicalize_name

from .environment import TargetEnvironment


@dataclass(frozen=True)
class InstalledDistribution:
    """One ``*.dist-info`` directory of the target environment."""

    name: str
    version: str
    dist_info: Path
    installer: Optional[str] = None
    direct_url: Optional[Mapping[str, Any]] = None

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)

    @property
    def record_path(self) -> Path:
        return self.dist_info / "RECORD"


def installed_distributions(env: TargetEnvironment) -> dict[NormalizedName, InstalledDistribution]:
    """Every distribution with a readable METADATA in the target's purelib/platlib."""
    found: dict[NormalizedName, InstalledDistribution] = {}
    for site in env.site_dirs():
        for dist_info in sorted(site.glob("*.dist-info")) if site.is_dir() else ():
            dist = _read_dist_info(dist_info)
            if dist is not None:
                found.setdefault(dist.key, dist)
    return found


def _read_dist_info(dist_info: Path) -> Optional[InstalledDistribution]:
    try:
        head = (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
    except OSError:
        return None
    fields = dict(_header(line) for line in head.splitlines() if ":" in line and not line[:1].isspace())
    if not fields.get("name") or not fields.get("version"):
        return None
    return InstalledDistribution(
        name=fields["name"],
        version=fields["version"],
        dist_info=dist_info,
        installer=_read_text(dist_info / "INSTALLER"),
        direct_url=_read_json(dist_info / "direct_url.json"),
    )


def _header(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip().lower(), value.strip()


def _read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _read_json(path: Path) -> Optional[Mapping[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
