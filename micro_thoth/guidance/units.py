"""Prescription units as frozen values, and how a ``package_version`` condition matches a release.

``prescriptions.py`` parses YAML into these; ``selection.py`` decides which
units apply to a machine; ``policy.py`` applies them to candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..models import Justification, strip_credentials


@dataclass(frozen=True)
class Selector:
    """A list condition, or its negation when written ``{not: [...]}``; ``None`` in it means "unset"."""

    values: tuple[Any, ...]
    negate: bool = False

    def accepts(self, present: Iterable[Any]) -> bool:
        """True if any present value (or None when nothing is present) is listed, inverted by ``not``."""
        items = list(present) or [None]
        hit = any(item in self.values for item in items)
        return hit != self.negate


@dataclass(frozen=True)
class PackageMatch:
    """``package_version``: name, version specifier, index URL (or ``not``), develop flag."""

    name: Optional[NormalizedName] = None
    version: Optional[SpecifierSet] = None
    index_url: Optional[str] = None
    index_negate: bool = False
    develop: Optional[bool] = None

    def matches(
        self, name: str, version: Version, index_url: Optional[str] = None, develop: Optional[bool] = None
    ) -> bool:
        if self.name is not None and canonicalize_name(name) != self.name:
            return False
        if self.version is not None and not self.version.contains(version, prereleases=True):
            return False
        if self.develop is not None and develop is not None and develop != self.develop:
            return False
        return self.index_matches(index_url)

    def index_matches(self, index_url: Optional[str]) -> bool:
        """Whether a release from ``index_url`` (None: not from an index) meets the ``index_url`` condition."""
        if self.index_url is None:
            return True
        same = index_url is not None and normalize_index_url(index_url) == self.index_url
        return same != self.index_negate

    def describe(self) -> str:
        text = (self.name or "*") + (str(self.version) if self.version else "")
        if self.index_url:
            text += f" ({'not ' if self.index_negate else ''}from {self.index_url})"
        return text


@dataclass(frozen=True)
class MatchEntry:
    """One entry of a unit's ``match``: a package, a package name, and resolved-state conditions."""

    package: Optional[PackageMatch] = None
    package_name: Optional[NormalizedName] = None
    resolved: tuple[PackageMatch, ...] = ()
    introduced_by: tuple[PackageMatch, ...] = ()  # step.SkipPackage: only when one of these requires the package


@dataclass(frozen=True)
class Hardware:
    """One entry of ``runtime_environments.hardware``; every given field must match."""

    cpu_families: Optional[Selector] = None
    cpu_models: Optional[Selector] = None
    cpu_flags: Optional[Selector] = None
    gpu_models: Optional[Selector] = None


@dataclass(frozen=True)
class RuntimeCondition:
    """``should_include.runtime_environments``."""

    operating_systems: Optional[Selector] = None  # values: (name, version-or-None)
    hardware: tuple[Hardware, ...] = ()
    versions: Mapping[str, SpecifierSet] = field(default_factory=dict)  # python_version, cuda_version...
    platforms: Optional[Selector] = None
    base_images: Optional[Selector] = None
    needs_image_analysis: bool = False  # abi / rpm_packages / python_packages: never known here


@dataclass(frozen=True)
class ShouldInclude:
    """When a unit is part of the pipeline at all."""

    times: int = 1
    adviser_pipeline: Optional[bool] = None
    dependency_monkey_pipeline: Optional[bool] = None
    recommendation_types: Optional[Selector] = None
    runtime: RuntimeCondition = field(default_factory=RuntimeCondition)
    labels: Mapping[str, str] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    library_usage: bool = False
    authenticated: Optional[bool] = None


@dataclass(frozen=True)
class Override:
    """A dependency override: the requirement on ``name`` gets ``specifier`` (or is dropped)."""

    name: NormalizedName
    specifier: Optional[SpecifierSet] = None
    drop: bool = False


@dataclass(frozen=True)
class Alternative:
    """A pseudonym's ``yield``: a package that can stand in for the matched one."""

    name: NormalizedName
    locked_version: Optional[str] = None
    index_url: Optional[str] = None
    yield_matched_version: bool = False


@dataclass(frozen=True)
class ReleaseNotes:
    """``wrap.GHReleaseNotes``: where a package's release notes are (a GitHub repository's releases)."""

    organization: str
    repository: str
    tag_version_prefix: str = ""

    def link(self, version: str) -> str:
        return f"https://github.com/{self.organization}/{self.repository}/releases/tag/{self.tag_version_prefix}{version}"


@dataclass(frozen=True)
class Run:
    """What a unit does when it matches."""

    not_acceptable: Optional[str] = None
    eager_stop_pipeline: Optional[str] = None
    score: Optional[float] = None
    justification: tuple[Justification, ...] = ()
    stack_info: tuple[Justification, ...] = ()
    log: Optional[Justification] = None
    alternative: Optional[Alternative] = None
    overrides: tuple[Override, ...] = ()
    multi_package_resolution: bool = False
    release_notes: Optional[ReleaseNotes] = None

    @property
    def said(self) -> Optional[Justification]:
        """What the unit says of itself: its log, else its first stack-info entry."""
        return self.log or (self.stack_info[0] if self.stack_info else None)


@dataclass(frozen=True)
class Unit:
    """One prescription unit; ``kind`` is normalised (``skip_package`` for both SkipPackage types)."""

    name: str
    kind: str
    type: str
    should_include: ShouldInclude
    match: tuple[MatchEntry, ...]
    run: Run
    origin: str = "path"
    path: Optional[str] = None

    @property
    def enforced_always(self) -> bool:
        """Units the user wrote (user, project, explicit paths) apply under every recommendation type;
        shared knowledge (bundled, synced from a backend) only under the types that apply prescriptions."""
        return self.origin not in ("bundled", "backend", "synced")

    def package_entries(self) -> Iterable[MatchEntry]:
        return (entry for entry in self.match if entry.package is not None)


def normalize_index_url(url: str) -> str:
    """Index URLs compare without credentials or a trailing slash."""
    return strip_credentials(url.strip()).rstrip("/")


