"""What resolution consumes: the PackageSource protocol (packages) and the CandidatePolicy protocol (guidance).

``index/`` implements PackageSource over HTTP (tests hand the resolver an
in-memory one); ``guidance/`` implements CandidatePolicy. Both are structural:
the implementations never import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Optional, Protocol

from packaging.utils import NormalizedName
from packaging.version import Version

from ..artifacts import Artifact, CoreMetadata, ProjectPage
from ..models import DirectReference, Verdict


class CandidatePolicy(Protocol):
    """Guidance as the resolver consumes it (``guidance/`` implements it).

    ``judge`` is called once per (name, version) considered; ``metadata`` is a
    thunk because fetching metadata costs a request; call it only when a rule
    needs it (licences, say). ``override_requirements`` lets prescriptions
    replace a package's declared requirements (over/under-pinning fixes).
    A policy may also offer ``alternatives(name, version, artifacts) ->
    Sequence[Substitute]`` (pseudonyms); the provider asks for it when present.
    And ``ranks(name, versions) -> bool``: False when no release of ``name`` can
    score apart from the others nor have a stand-in, so the provider may judge
    them newest first and lazily; without it every admitted release is judged.
    ``too_young`` is asked from the threads that bring pages (the ELF-facts speculation):
    whether the policy's cooldown would hold back a release of these files; it notes nothing.
    """

    def judge(
        self, name: NormalizedName, version: Version, artifacts: Sequence[Artifact],
        metadata: Callable[[], CoreMetadata],
    ) -> Verdict:
        ...

    def override_requirements(
        self, name: NormalizedName, version: Version, requirements: Sequence[str]
    ) -> Sequence[str]:
        ...

    def too_young(self, artifacts: Sequence[Artifact]) -> bool:
        ...


class PackageSource(Protocol):
    """What the resolver needs from the world; ``index.py`` implements it over HTTP."""

    def project(self, name: NormalizedName, *, index: Optional[str] = None) -> ProjectPage:
        """The project's files: from ``index`` only when given, else the first index that has it."""
        ...

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        """The core metadata of one file (cached by the file's digest)."""
        ...

    def direct(
        self, name: str, reference: DirectReference
    ) -> tuple[CoreMetadata, DirectReference, tuple[Artifact, ...]]:
        """Metadata of a URL / path / VCS requirement, the reference to lock, and its files.

        A VCS reference comes back with ``ref`` set to the commit it resolved to. The files
        are the archive a ``file`` reference names, with its sha256 (what the lock's ``hashes``
        hold, as pipenv writes them); none for a directory or a VCS reference.
        """
        ...

    def prefetch(self, names: Iterable[NormalizedName], then: Optional[Callable[[ProjectPage], object]] = None) -> None:
        """A hint: these projects will likely be asked for soon (``then``: called with each page, when found)."""
        ...
