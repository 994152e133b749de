"""Resolutions -> a pipenv lock (or pip-compile entries): pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

from packaging.utils import NormalizedName, canonicalize_name

from ..formats.requirements import ResolvedEntry
from ..models import DEFAULT_CATEGORY, DEVELOP_CATEGORY, Hash, Lock, Pin, Pipfile, Source
from ..resolve import Resolution, ResolvedPin


def lock_name(name: str) -> str:
    """The key pipenv writes for a package: lower case, ``_`` as ``-`` (dots kept)."""
    return name.lower().replace("_", "-")


def pin_hashes(pin: ResolvedPin) -> tuple[Hash, ...]:
    """Every file of the pinned version on its index, sha256, sorted (pipenv's ``hashes``)."""
    digests = {f"sha256:{a.sha256}" for a in pin.artifacts if a.sha256}
    return tuple(Hash.parse(d) for d in sorted(digests))


def to_pin(pin: ResolvedPin) -> Pin:
    return Pin(
        name=lock_name(pin.name),
        version=None if pin.direct is not None and pin.direct.kind != "file" else pin.version,
        hashes=pin_hashes(pin),
        index=pin.index.name if pin.index is not None and pin.direct is None else None,
        markers=pin.markers,
        extras=tuple(sorted(pin.extras)),
        direct=pin.direct,
    )


def build_lock(
    pipfile: Pipfile,
    resolutions: Mapping[str, Resolution],
    sources: Sequence[Source],
) -> Lock:
    """The Pipfile.lock of ``pipfile``: every category pipenv writes, ``develop`` always present."""
    categories: dict[str, tuple[Pin, ...]] = {DEFAULT_CATEGORY: (), DEVELOP_CATEGORY: ()}
    for category, resolution in resolutions.items():
        categories[category] = tuple(sorted((to_pin(p) for p in resolution.pins.values()), key=lambda p: p.name))
    return Lock(
        categories=categories,
        sources=tuple(sources),
        requires=dict(pipfile.requires),
        pipfile_hash=pipfile.hash,
        kind="pipfile",
    )


def preferences(lock: Optional[Lock]) -> dict[str, dict[NormalizedName, str]]:
    """A previous lock's versions per category: what a re-lock keeps unless asked to upgrade."""
    if lock is None:
        return {}
    return {
        category: {pin.key: pin.version for pin in pins if pin.version and pin.direct is None}
        for category, pins in lock.categories.items()
    }


def requirement_entries(resolution: Resolution, roots_label: str) -> list[ResolvedEntry]:
    """pip-compile entries: ``# via`` names parents, or the input file for requested packages."""
    roots = set(resolution.roots)
    entries = []
    for key, pin in resolution.pins.items():
        via = tuple(sorted(pin.via))
        if key in roots:
            via = (*via, f"-r {roots_label}")
        entries.append(
            ResolvedEntry(
                name=lock_name(pin.name) if pin.direct is None else pin.name,
                version=pin.version,
                hashes=pin_hashes(pin),
                markers=pin.path_markers,  # pip-compile writes dependency-path markers only
                via=via,
                extras=tuple(sorted(pin.extras)),
                direct=pin.direct,
            )
        )
    return entries


def pinned_indexes(dependencies: Mapping[str, Sequence[object]]) -> dict[NormalizedName, str]:
    """name -> index name for every Pipfile entry with ``index = "..."`` (pinned everywhere)."""
    pinned: dict[NormalizedName, str] = {}
    for deps in dependencies.values():
        for dep in deps:
            index = getattr(dep, "index", None)
            if index:
                pinned[canonicalize_name(dep.name)] = index  # type: ignore[attr-defined]
    return pinned


def requirements_lock(resolution: Resolution, sources: Sequence[Source], path: Optional[str] = None) -> Lock:
    """An in-memory lock of a resolved requirements file (installed, not written)."""
    pins = tuple(sorted((to_pin(p) for p in resolution.pins.values()), key=lambda p: p.name))
    return Lock(categories={DEFAULT_CATEGORY: pins}, sources=tuple(sources), kind="requirements", path=path)
