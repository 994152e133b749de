"""What the resolver reasons about: requirements by identifier, and the candidates that meet them.

An identifier is a canonical name with sorted extras in brackets (``a[x,y]``);
``PYTHON`` (``<python>``) stands for the target's Python. A requirement comes
from a root ``Dependency`` or from a candidate's ``Requires-Dist``; a direct
reference (URL, path, VCS) is satisfied only by a candidate from the same place.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifacts import Artifact, CoreMetadata, requires_dist_entry
from ..errors import UsageError
from ..models import Dependency, DirectReference, Justification, Source
from .finder import Release

PYTHON = NormalizedName("<python>")


def identifier(name: str, extras: Iterable[str] = ()) -> str:
    """``name`` or ``name[x,y]`` with canonical names."""
    keys = sorted({canonicalize_name(e) for e in extras})
    base = canonicalize_name(name)
    return f"{base}[{','.join(keys)}]" if keys else base


@dataclass(frozen=True)
class Requirement:
    """One requirement as the resolver sees it; ``parent`` is None for a root."""

    name: NormalizedName
    specifier: SpecifierSet
    text: str  # as written, without the marker: "a[x]>=2", "b @ git+https://..."
    extras: frozenset[str] = frozenset()
    markers: Optional[str] = None
    index: Optional[str] = None
    direct: Optional[DirectReference] = None
    allow_prereleases: bool = False
    parent: Optional[Candidate] = field(default=None, compare=False)
    _admits: dict[Version, bool] = field(default_factory=dict, compare=False, repr=False)

    def admits(self, version: Version) -> bool:
        """Does the specifier admit ``version`` (pre-releases included; memoised)?"""
        found = self._admits.get(version)
        if found is None:
            found = self._admits[version] = self.specifier.contains(version, prereleases=True)
        return found

    @property
    def key(self) -> str:
        return PYTHON if self.name == PYTHON else identifier(self.name, self.extras)

    def pinned_versions(self) -> list[Version]:
        versions = []
        for spec in self.specifier:
            if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
                try:
                    versions.append(Version(spec.version))
                except InvalidVersion:
                    pass
        return versions

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Candidate:
    """A concrete choice: a release on an index, a direct reference, or the target Python.

    A *stand-in* (``stands_for`` set) is another project's release offered by a
    pseudonym in place of ``stands_for``'s release: it answers the requirements
    on the replaced name and depends only on its own release (``name==version``).
    """

    name: NormalizedName
    version: Version
    extras: frozenset[str] = frozenset()
    index: Optional[Source] = None
    direct: Optional[DirectReference] = None  # as locked (VCS ref resolved to a commit)
    stands_for: Optional[tuple[NormalizedName, Version]] = None
    requested: Optional[DirectReference] = field(default=None, compare=False)  # as asked
    release: Optional[Release] = field(default=None, compare=False, repr=False)
    metadata: Optional[CoreMetadata] = field(default=None, compare=False, repr=False)
    reason: Optional[Justification] = field(default=None, compare=False, repr=False)  # why a pseudonym offered it
    files: tuple[Artifact, ...] = field(default=(), compare=False, repr=False)  # a direct archive, hashed

    @property
    def key(self) -> str:
        if self.stands_for is not None:
            return identifier(self.stands_for[0], self.extras)
        return PYTHON if self.is_python else identifier(self.name, self.extras)

    @property
    def is_python(self) -> bool:
        return self.name == PYTHON

    @property
    def display_name(self) -> str:
        return self.metadata.name if self.metadata is not None else self.name

    def __str__(self) -> str:
        if self.stands_for is not None:
            return f"{self.display_name}=={self.version} (for {self.stands_for[0]}=={self.stands_for[1]})"
        return f"{self.display_name}=={self.version}"


def _direct_from_url(url: str) -> DirectReference:
    """A PEP 508 ``name @ url`` as a DirectReference (VCS ``@ref`` and ``#subdirectory`` split off)."""
    location, _, fragment = url.partition("#")
    subdirectory = urllib.parse.parse_qs(fragment).get("subdirectory", [None])[0]
    scheme = location.split(":", 1)[0]
    vcs = scheme.split("+", 1)[0] if "+" in scheme else None
    if vcs in ("git", "hg", "svn", "bzr"):
        ref = None
        path = urllib.parse.urlsplit(location).path
        if "@" in path:
            location, _, ref = location.rpartition("@")
        return DirectReference(vcs, location, ref=ref, subdirectory=subdirectory)  # type: ignore[arg-type]
    if scheme == "file" and not location.endswith((".whl", ".zip", ".tar.gz", ".tar.bz2", ".tgz")):
        return DirectReference("path", location, subdirectory=subdirectory)
    return DirectReference("file", location, subdirectory=subdirectory)


def from_dependency(dep: Dependency, *, allow_prereleases: bool = False) -> Requirement:
    """A root requirement (or constraint) from a Pipfile / requirements entry."""
    spec = "" if dep.specifier.strip() in ("", "*") else dep.specifier
    text = dep.to_pep508().split(";")[0].strip()
    try:
        specifier = SpecifierSet(spec)
        if dep.markers:
            Marker(dep.markers)  # validate
    except (InvalidSpecifier, InvalidMarker) as exc:
        raise UsageError(f"{dep.name}: {exc}", hint="fix the version or markers of this entry") from exc
    return Requirement(
        name=dep.key,
        specifier=specifier,
        text=text,
        extras=frozenset(canonicalize_name(e) for e in dep.extras),
        markers=dep.markers,
        index=dep.index,
        direct=dep.direct,
        allow_prereleases=dep.allow_prereleases or allow_prereleases,
    )


def from_pep508(text: str, parent: Optional[Candidate]) -> Optional[Requirement]:
    """A dependency from Requires-Dist, or None if it cannot be parsed."""
    parsed = _pep508(text)
    if parsed is None:
        return None
    name, specifier, extras, markers, url = parsed
    return Requirement(
        name=name,
        specifier=specifier,
        text=text.split(";")[0].strip(),
        extras=extras,
        markers=markers,
        direct=_direct_from_url(url) if url else None,
        parent=parent,
    )


@lru_cache(maxsize=8192)
def _pep508(text: str) -> Optional[tuple[NormalizedName, SpecifierSet, frozenset[str], Optional[str], Optional[str]]]:
    """A Requires-Dist line's parts, parsed once per run (a lock reads each line twice or more)."""
    req = requires_dist_entry(text)
    if req is None:
        return None
    extras = frozenset(canonicalize_name(e) for e in req.extras)
    return canonicalize_name(req.name), req.specifier, extras, str(req.marker) if req.marker else None, req.url


def _same_place(a: DirectReference, b: DirectReference) -> bool:
    return (a.kind, a.location.rstrip("/"), a.subdirectory) == (b.kind, b.location.rstrip("/"), b.subdirectory)


def _direct_satisfies(wanted: DirectReference, candidate: Candidate) -> bool:
    """Same place, and the ref asked for is the one requested or the commit it resolved to."""
    requested = candidate.requested
    if requested is None or not _same_place(wanted, requested):
        return False
    locked = candidate.direct.ref if candidate.direct is not None else None
    return wanted.ref in (requested.ref, locked)
