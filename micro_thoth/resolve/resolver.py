"""The Resolver interface: a project input, a target and a lock policy in; a resolved stack (and its report) out.

Two implementations: ``embedded.EmbeddedResolver`` (resolvelib over the
indexes, here) and ``remote.BackendResolver`` (a ``thoth-pip serve``
backend). The pipeline chooses one per run (``pipeline/services.py``) and
runs the one lock flow over it (``pipeline/lock.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Protocol, Union

from packaging.utils import NormalizedName

from ..environment.runtime import RuntimeEnvironment
from ..guidance.justification import PackageReport, Refusal
from ..models import Dependency, Justification, Source, Target
from .result import Resolution

Upgrade = Union[bool, Collection[NormalizedName]]


@dataclass(frozen=True)
class WireFiles:
    """A project input as a backend receives it: the requirements text, its format, the previous lock's text."""

    requirements: str
    requirements_format: str  # "pipenv" or "pip-tools"
    requirements_lock: Optional[str]


class ResolverInput(Protocol):
    """What a resolver reads of a project input (``pipeline.lock_input`` implements it)."""

    @property
    def categories(self) -> Mapping[str, Sequence[Dependency]]:
        """The roots per category, ``default`` first."""

    @property
    def constraints(self) -> Sequence[Dependency]: ...

    @property
    def sources(self) -> tuple[Source, ...]: ...

    @property
    def pinned_indexes(self) -> Mapping[NormalizedName, str]: ...

    @property
    def allow_prereleases(self) -> bool: ...

    @property
    def upgrade(self) -> Upgrade: ...

    def preferences(self) -> Mapping[str, Mapping[NormalizedName, str]]:
        """The previous pins per category: what a re-lock keeps unless asked to upgrade."""

    def wire_files(self, environ: Mapping[str, str]) -> WireFiles:
        """The input as a backend needs it (raises UsageError for what a backend cannot read)."""


@dataclass(frozen=True)
class Search:
    """The improvement search: at most ``limit`` re-resolutions (0: keep the first guided stack)."""

    limit: int = 0
    timeout: float = 30.0
    seed: int = 0


@dataclass(frozen=True)
class LockPolicy:
    """What guides one lock: the runtime environment, recommendation type, knowledge and knobs (data only)."""

    environment: RuntimeEnvironment
    recommendation_type: str
    labels: Mapping[str, str] = field(default_factory=dict)
    min_release_age: Optional[str] = None
    prescriptions: tuple[Path, ...] = ()
    deny_licenses: tuple[str, ...] = ()
    allow_vulnerabilities: tuple[str, ...] = ()
    exclude_newer: Optional[datetime] = None
    exclude_newer_text: Optional[str] = None  # as given, for the backend
    pre: bool = False
    dev: bool = False
    search: Search = Search()


class StackReport(Protocol):
    """The guidance report of a resolved stack (``guidance.justification.Report`` or a backend's)."""

    @property
    def recommendation_type(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def packages(self) -> tuple[PackageReport, ...]: ...

    @property
    def refused(self) -> tuple[Refusal, ...]: ...

    @property
    def justification(self) -> tuple[Justification, ...]: ...

    @property
    def stack_info(self) -> tuple[Justification, ...]: ...

    @property
    def told(self) -> frozenset[str]: ...  # messages the run printed as it went: printing the report does not repeat them

    @property
    def has_errors(self) -> bool: ...

    @property
    def knowledge(self) -> Mapping[str, Any]: ...

    def to_thoth_json(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class Resolved:
    """A resolver's answer: resolutions per category (here), or the backend's lock text (remote); its report."""

    resolutions: Mapping[str, Resolution] = field(default_factory=dict)
    answer: Optional[str] = None  # the backend's lock, in the input's own format
    report: Optional[StackReport] = None


class Resolver(Protocol):
    """Resolve a project input for a target under a lock policy."""

    def resolve(self, project: ResolverInput, target: Target, policy: LockPolicy) -> Resolved: ...
