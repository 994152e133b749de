"""An in-memory PackageSource for resolver tests, built from a case file's index description.

``indexes`` maps an index name to projects, each a list of releases::

    {"version": "1.0", "name": "Foo", "requires_dist": ["b>=1"], "requires_python": ">=3.8",
     "yanked": "reason" | true, "files": ["py3-none-any", "sdist"], "upload_time": "2024-01-01T00:00:00Z",
     "page_requires_python": false}   # Requires-Python only in METADATA, not on the page

It records what the resolver asked for (``pages``, ``metadata_calls``, ``prefetched``)
so tests can check laziness and index pinning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Optional

from packaging.utils import NormalizedName, canonicalize_name

from micro_thoth.artifacts import Artifact, CoreMetadata, ProjectPage
from micro_thoth.errors import PackageNotFound
from micro_thoth.models import DirectReference, Hash, Source


def index_source(name: str) -> Source:
    return Source(name=name, url=f"https://{name}.example.invalid/simple", verify_ssl=True)


class MemorySource:
    """PackageSource over dicts; the first index listed is the first consulted."""

    def __init__(
        self,
        indexes: Mapping[str, Mapping[str, list[Mapping[str, Any]]]],
        directs: Mapping[str, Mapping[str, Any]] = {},
        exclude_newer: Optional[str] = None,
    ) -> None:
        self.indexes = {i: {canonicalize_name(p): list(r) for p, r in projects.items()} for i, projects in indexes.items()}
        self.directs = directs
        self.exclude_newer = exclude_newer
        self.pages: list[tuple[str, Optional[str]]] = []
        self.metadata_calls: list[str] = []
        self.prefetched: list[str] = []
        self._metadata: dict[str, CoreMetadata] = {}

    def project(self, name: NormalizedName, *, index: Optional[str] = None) -> ProjectPage:
        self.pages.append((name, index))
        names = [index] if index is not None else list(self.indexes)
        for index_name in names:
            releases = self.indexes.get(index_name, {}).get(canonicalize_name(name))
            if releases is not None:
                return self._page(canonicalize_name(name), index_name, releases)
        raise PackageNotFound(name, index=index)

    def _page(self, name: NormalizedName, index_name: str, releases: list[Mapping[str, Any]]) -> ProjectPage:
        source = index_source(index_name)
        artifacts = [a for release in releases for a in self._artifacts(name, source, release)]
        if self.exclude_newer:
            artifacts = [a for a in artifacts if (a.upload_time or "") < self.exclude_newer]
        return ProjectPage(name=name, index=source, artifacts=tuple(artifacts))

    def _artifacts(self, name: str, source: Source, release: Mapping[str, Any]) -> Iterable[Artifact]:
        version = str(release["version"])
        spelled = release.get("name", name)
        yanked = release.get("yanked")
        on_page = release.get("page_requires_python", True)
        for kind in release.get("files", ["py3-none-any"]):
            stem = f"{canonicalize_name(spelled).replace('-', '_')}-{version}"
            filename = f"{stem}.tar.gz" if kind == "sdist" else f"{stem}-{kind}.whl"
            digest = hashlib.sha256(f"{source.name}/{filename}".encode()).hexdigest()
            artifact = Artifact(
                filename=filename,
                url=f"{source.url}/files/{filename}",
                hashes=(Hash("sha256", digest),),
                requires_python=release.get("requires_python") if on_page else None,
                yanked=None if not yanked else ("" if yanked is True else str(yanked)),
                upload_time=release.get("upload_time", "2024-01-01T00:00:00Z"),
                index=source,
            )
            self._metadata[artifact.url] = _metadata(spelled, version, release)
            yield artifact

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        self.metadata_calls.append(artifact.filename)
        return self._metadata[artifact.url]

    def direct(self, name: str, reference: DirectReference) -> tuple[CoreMetadata, DirectReference, tuple[Artifact, ...]]:
        entry = self.directs[reference.location]
        locked = replace(reference, ref=entry["commit"]) if reference.is_vcs and "commit" in entry else reference
        files: tuple[Artifact, ...] = ()
        if "sha256" in entry:  # an archive: the source hashes it
            filename = reference.location.rsplit("/", 1)[-1]
            files = (Artifact(filename=filename, url=reference.location, hashes=(Hash("sha256", entry["sha256"]),)),)
        return _metadata(entry.get("name", name), str(entry["version"]), entry), locked, files

    def prefetch(self, names: Iterable[NormalizedName], then: Optional[Callable[[ProjectPage], object]] = None) -> None:
        names = list(names)
        self.prefetched.extend(names)
        for name in names if then is not None else ():
            try:
                page = self.project(name)
            except PackageNotFound:
                continue
            then(page)


def _metadata(name: str, version: str, release: Mapping[str, Any]) -> CoreMetadata:
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=tuple(release.get("requires_dist", ())),
        requires_python=release.get("requires_python"),
        provides_extras=tuple(release.get("extras", ())),
    )
