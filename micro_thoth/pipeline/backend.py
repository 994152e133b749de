"""Which resolver backend a project names, if any, and the prescription files that travel to it.

The backend is chosen by ``--backend URL`` > ``THOTH_HOST`` > ``.thoth.yaml``'s
``host`` (with its ``tls_verify``); none means the embedded resolver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..knowledge.locations import project_dir as project_prescriptions_dir
from ..knowledge.locations import user_prescriptions_dir
from ..settings import Settings
from .environment import load_project_config
from .project import read_text

RETIRED_DOMAIN = "thoth-station.ninja"  # the public Thoth deployments (thamos' default host)


@dataclass(frozen=True)
class Backend:
    """Where to resolve: the backend's URL, the bearer token, TLS verification."""

    url: str
    token: Optional[str] = None
    verify: bool = True


def configured_backend(settings: Settings, environ: Mapping[str, str]) -> Optional[Backend]:
    """``--backend`` / ``THOTH_HOST`` (in ``settings``), else ``.thoth.yaml``'s ``host``; None: embedded."""
    config = load_project_config(settings.project_dir, environ)
    url = settings.backend_url or (config.host if config is not None and not retired_host(config.host) else None)
    if not url or not url.strip():
        return None
    verify = config.tls_verify if config is not None else True
    return Backend(url.strip(), token=environ.get("THAMOS_TOKEN") or None, verify=verify)


def retired_host(host: Optional[str]) -> bool:
    """A host of the retired public Thoth service, which thamos writes into every ``.thoth.yaml`` it generates.

    Such a ``host:`` says where thamos used to send requests, not that a backend
    is wanted: honouring it would break every project migrated from thamos.
    Named explicitly (``--backend``, ``THOTH_HOST``), it is still used.
    """
    if not host:
        return False
    name = host.strip().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return name == RETIRED_DOMAIN or name.endswith("." + RETIRED_DOMAIN)


def prescription_texts(project_dir: Path, environ: Mapping[str, str], paths: Sequence[Path]) -> list[str]:
    """The user's, the project's and the explicit prescription files, in the order the embedded lock loads them."""
    places = [user_prescriptions_dir(environ), project_prescriptions_dir(project_dir)]
    files = [f for place in places if place.is_dir() for f in _yaml_files(place)]
    files += [f for path in paths for f in _yaml_files(Path(path))]
    return [read_text(f) for f in files]


def _yaml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]
