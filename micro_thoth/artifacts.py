"""An index's files and what they say: each file (Artifact), a project's page, a release's METADATA.

Parsed once where an index page or a METADATA file is read (index/) and passed on frozen: the
resolver, guidance and the installers read these, never the page itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from .cached import cached_property
from .models import Hash, Source


def filename_parts(filename: str) -> tuple[NormalizedName, Optional[Version]]:
    """Project name and version of a file name (a page lists thousands: keep this cheap)."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) in (5, 6) and parts[0] and parts[1]:
            return _canonical(parts[0]), version_or_none(parts[1])
    elif filename.endswith((".tar.gz", ".zip")):  # parse_sdist_filename's split, names and versions parsed once
        name_part, sep, version_part = filename[: -7 if filename.endswith(".tar.gz") else -4].rpartition("-")
        version = version_or_none(version_part) if sep and name_part else None
        if version is not None:
            return _canonical(name_part), version
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return name, version
        return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        base = re.split(r"-\d", filename, maxsplit=1)[0]
        return canonicalize_name(base), None


_canonical = lru_cache(maxsize=4096)(canonicalize_name)  # a page repeats its project's name on every file


@lru_cache(maxsize=65536)
def version_or_none(text: str) -> Optional[Version]:
    """``text`` as a version, or None when it is not one; parsed once per run, whoever asks (a page's
    file names, a stored page's groups, an existing lock's pin): the object is shared, never changed."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=4096)
def _wheel_tags(tag_text: str) -> frozenset[Tag]:
    """``py3-none-any`` -> its tags; many files of a page share a handful of these."""
    return frozenset(parse_tag(tag_text))


@lru_cache(maxsize=8192)
def requires_dist_entry(text: str) -> Optional[Requirement]:
    """One Requires-Dist line parsed, or None if it is not PEP 508; once per run, whoever asks
    (the resolver and guidance read every line, a lock most lines for several releases). The
    object is shared: read it, never change it."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


@dataclass(frozen=True)
class Artifact:
    """One file of a project on an index (or a direct URL), as the index describes it."""

    filename: str
    url: str
    hashes: tuple[Hash, ...] = ()
    requires_python: Optional[str] = None
    yanked: Optional[str] = None  # None: not yanked; "" yanked without a reason
    metadata_hashes: Optional[tuple[Hash, ...]] = None  # None: no PEP 658 metadata file
    upload_time: Optional[str] = None
    size: Optional[int] = None
    index: Optional[Source] = None

    @cached_property
    def _parts(self) -> tuple[NormalizedName, Optional[Version]]:
        return filename_parts(self.filename)

    @property
    def name(self) -> NormalizedName:
        return self._parts[0]

    @property
    def version(self) -> Optional[Version]:
        return self._parts[1]

    @cached_property
    def tags(self) -> frozenset[Tag]:
        """The wheel's compatibility tags (none for an sdist)."""
        if not self.filename.endswith(".whl"):
            return frozenset()
        parts = self.filename[:-4].split("-")
        if len(parts) not in (5, 6):
            return frozenset()
        try:
            return _wheel_tags("-".join(parts[-3:]))
        except ValueError:
            return frozenset()

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        return not self.is_wheel and self.version is not None

    @property
    def sha256(self) -> Optional[str]:
        for digest in self.hashes:
            if digest.algorithm == "sha256":
                return digest.value
        return None

    @property
    def has_metadata_file(self) -> bool:
        return self.metadata_hashes is not None


@dataclass(frozen=True)
class ProjectPage:
    """What one index says about one project."""

    name: NormalizedName
    index: Source
    artifacts: tuple[Artifact, ...]

    def versions(self) -> dict[Version, list[Artifact]]:
        by_version: dict[Version, list[Artifact]] = {}
        for artifact in self.artifacts:
            if artifact.version is not None:
                by_version.setdefault(artifact.version, []).append(artifact)
        return by_version

    def version_files(self) -> list[tuple[Version, Callable[[], tuple[Artifact, ...]]]]:
        """Each version with a way to get its files (a stored page builds them only when asked)."""
        return [(version, _constant(tuple(files))) for version, files in self.versions().items()]


def _constant(files: tuple[Artifact, ...]) -> Callable[[], tuple[Artifact, ...]]:
    return lambda: files


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of a distribution's METADATA the resolver and guidance need."""

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: Optional[str] = None
    provides_extras: tuple[str, ...] = ()
    license: Optional[str] = None
    license_expression: Optional[str] = None
    classifiers: tuple[str, ...] = ()

    @classmethod
    def from_text(cls, text: str | bytes) -> CoreMetadata:
        """Parse METADATA / PKG-INFO (RFC 822 headers); raises ValueError if unusable."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="surrogateescape")
        import email.parser  # here, not at the top: commands that read no metadata start 20 ms faster

        msg = email.parser.HeaderParser().parsestr(text)
        name, version = msg.get("Name"), msg.get("Version")
        if not name or not version:
            raise ValueError("METADATA has no Name or Version")
        license_text = msg.get("License")
        return cls(
            name=str(name).strip(),
            version=str(version).strip(),
            requires_dist=tuple(str(v).strip() for v in msg.get_all("Requires-Dist") or ()),
            requires_python=(str(msg["Requires-Python"]).strip() or None)
            if msg.get("Requires-Python")
            else None,
            provides_extras=tuple(str(v).strip() for v in msg.get_all("Provides-Extra") or ()),
            license=str(license_text).strip().splitlines()[0] if license_text and str(license_text).strip() else None,
            license_expression=(str(msg["License-Expression"]).strip() or None)
            if msg.get("License-Expression")
            else None,
            classifiers=tuple(str(v).strip() for v in msg.get_all("Classifier") or ()),
        )
