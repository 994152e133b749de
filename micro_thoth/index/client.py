"""IndexClient: the PackageSource the resolver asks, over HTTP (or file://) indexes.

Project pages: index pinning (``index=``) or the first index that has the
project (never a merge of two indexes), loaded by ``project_pages.py`` (the
knowledge store keeps them fresh across runs); core metadata by the strategies of
``metadata.py``. Each page and each file's metadata is loaded once per client
however many threads ask, and ``prefetch*()`` start that work early on a small
thread pool whose results ``project()`` / ``metadata()`` join instead of repeating.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from packaging.utils import NormalizedName, canonicalize_name

from micro_thoth.artifacts import Artifact, CoreMetadata, ProjectPage
from micro_thoth.cache import Cache
from micro_thoth.credentials import registry_of
from micro_thoth.errors import PackageNotFound, UsageError
from micro_thoth.guidance.abi import WheelAbi
from micro_thoth.models import DirectReference, Source, strip_credentials
from micro_thoth.reporting import NULL_REPORTER, Reporter
from micro_thoth.store import KnowledgeStore

from .metadata import MetadataFetcher
from .prefetch import Memo, Prefetcher
from .project_pages import ProjectPages
from .suggest import suggest

if TYPE_CHECKING:
    import httpx


class IndexClient:
    """The resolver's PackageSource over the configured indexes (see the module docstring).

    ``pinned`` maps project names to the index they must come from (a Pipfile's
    ``index = "..."``, a lock's ``index``): ``project()`` and ``prefetch()`` then
    contact that index only, even when no ``index=`` is passed. ``python`` is the
    target interpreter sdist / VCS builds run for. With a ``cache``, an sdist
    downloaded for its metadata is kept there (content-addressed) for the install.
    ``offline`` answers from the knowledge store alone (however old) and says what is missing.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        client: httpx.Client,
        store: Optional[KnowledgeStore] = None,
        environ: Optional[Mapping[str, str]] = None,
        page_ttl: float = 600.0,
        refresh: bool = False,
        exclude_newer: Optional[datetime] = None,
        reporter: Reporter = NULL_REPORTER,
        workers: int = 8,
        python: str = sys.executable,
        pinned: Optional[Mapping[str, str]] = None,
        cache: Optional[Cache] = None,
        offline: bool = False,
        base: Optional[str] = None,
        follows_declared_direct: bool = True,
    ) -> None:
        self.sources = tuple(sources)
        # the resolver follows a direct reference a package's metadata declares (pip does); the backend's does not
        self.follows_declared_direct = follows_declared_direct
        # name -> index name: a pinned project is looked up on its index only, even when
        # asked for without one (prefetches, transitive occurrences): no other index ever
        # hears its name.
        self.pinned = {canonicalize_name(k): v for k, v in (pinned or {}).items()}
        for index_name in sorted(set(self.pinned.values())):
            self.source_named(index_name)  # an unknown index name is a usage error, now
        self._client = client
        environ = os.environ if environ is None else environ
        self._pages = ProjectPages(
            client=client, store=store, environ=environ, ttl=page_ttl, refresh=refresh,
            exclude_newer=exclude_newer, reporter=reporter, register=self._register, offline=offline,
        )
        self._metadata = MetadataFetcher(
            client=client, store=store, cache=cache, environ=environ, sources=self.sources,
            python=python, refresh=refresh, reporter=reporter, offline=offline, base=base,
        )
        self._page_memo = Memo()
        self._metadata_memo = Memo()
        self._abi_memo = Memo()
        self._prefetcher = Prefetcher(workers)
        for source in self.sources:
            self._register(source.expanded_url(environ))

    # -- PackageSource -----------------------------------------------------------
    def project(self, name: NormalizedName | str, *, index: Optional[str] = None) -> ProjectPage:
        """The project's files from ``index`` only, or from the first index that has it."""
        key = canonicalize_name(name)
        index = index if index is not None else self.pinned.get(key)
        if index is not None:
            source = self.source_named(index)
            page = self._page(source, key)
            if page is None:
                raise PackageNotFound(str(name), index=_describe(source), suggestions=suggest(key))
            return page
        page = self._first_page(key)
        if page is None:
            where = ", ".join(_describe(s) for s in self.sources) or "no index (none is configured)"
            raise PackageNotFound(str(name), index=where, suggestions=suggest(key))
        return page

    def locked_files(self, name: NormalizedName | str, sha256s: frozenset[str]) -> ProjectPage:
        """The project's page (as ``project()`` finds it) with only the files of these digests,
        or of no sha256 at all: an install of a lock reads no more of a page than it needs."""
        key = canonicalize_name(name)
        index = self.pinned.get(key)
        sources = [self.source_named(index)] if index is not None else list(self.sources)
        for source in sources:
            page = self._locked_page(source, key, sha256s)
            if page is not None:
                return page
        return self.project(key)  # raises PackageNotFound, naming where it looked

    def prefetch_locked(self, wanted: Mapping[NormalizedName, frozenset[str]]) -> None:
        """Start ``locked_files()`` of these projects in the background."""
        for name, sha256s in wanted.items():
            self._prefetcher.submit(lambda item: self.locked_files(*item), (name, sha256s))

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        """Core metadata of one file; fetched once per digest, ever (the store keeps it)."""
        return self._metadata_memo.get(artifact.sha256 or artifact.url, lambda: self._metadata.load(artifact))

    def wheel_abi(self, artifact: Artifact) -> WheelAbi:
        """What the wheel's ELF members need (symbol versions, libraries); once per digest, ever."""
        return self._abi_memo.get(artifact.sha256 or artifact.url, lambda: self._metadata.wheel_abi(artifact))

    def direct(self, name: str, reference: DirectReference) -> tuple[CoreMetadata, DirectReference, tuple[Artifact, ...]]:
        """Metadata of a URL / path / VCS requirement, the reference to lock and its archive, hashed."""
        return self._metadata.direct(name, reference)

    def prefetch(self, names: Iterable[NormalizedName | str], then: Optional[Callable[[ProjectPage], object]] = None) -> None:
        """Start fetching these projects' pages in the background (errors surface in project()); not
        those this process holds fresh in memory (memory.py): loading them fetches nothing, and a
        hand-off to a thread would cost more than it spares. ``then`` is called with each page found,
        on the thread that fetched it (a speculation on what it is asked for next)."""
        for name in names:
            key = canonicalize_name(name)
            pinned = key in self.pinned
            first = self.source_named(self.pinned[key]) if pinned else (self.sources[0] if self.sources else None)
            if first is not None and self._pages.fresh_in_memory(first, key):
                continue
            fetch = self._pinned_page if pinned else self._first_page
            self._prefetcher.submit(fetch if then is None else _then(fetch, then), key)

    def prefetch_metadata(self, artifacts: Iterable[Artifact], then: Optional[Callable[[CoreMetadata], object]] = None) -> None:
        """Start fetching these files' metadata in the background (not what this process holds in memory);
        ``then`` is called with each on the thread that fetched it (a speculation on what it asks for)."""
        for artifact in artifacts:
            if not self._metadata.in_memory(artifact):
                self._prefetcher.submit(self.metadata if then is None else (lambda a: then(self.metadata(a))), artifact)

    # -- sources ------------------------------------------------------------------
    def source_named(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(f"'{s.name}'" for s in self.sources) or "none"
        raise UsageError(f"unknown index '{name}'; the known indexes are {known}")

    def close(self) -> None:
        self._prefetcher.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _register(self, url: str) -> str:
        credentials = registry_of(self._client)
        return credentials.register(url) if credentials is not None else strip_credentials(url)

    # -- pages ----------------------------------------------------------------------
    def _pinned_page(self, key: NormalizedName) -> Optional[ProjectPage]:
        return self._page(self.source_named(self.pinned[key]), key)

    def _first_page(self, name: NormalizedName) -> Optional[ProjectPage]:
        for source in self.sources:
            page = self._page(source, name)
            if page is not None:
                return page
        return None

    def _locked_page(self, source: Source, name: NormalizedName, sha256s: frozenset[str]) -> Optional[ProjectPage]:
        return self._page_memo.get((source.name, name, sha256s), lambda: self._pages.load(source, name, sha256s))

    def _page(self, source: Source, name: NormalizedName) -> Optional[ProjectPage]:
        return self._page_memo.get((source.name, name), lambda: self._pages.load(source, name))


def _then(fetch: Callable[[NormalizedName], Optional[ProjectPage]], then: Callable[[ProjectPage], object]
          ) -> Callable[[NormalizedName], object]:
    def fetch_then(key: NormalizedName) -> object:
        page = fetch(key)
        return then(page) if page is not None else None

    return fetch_then


def _describe(source: Source) -> str:
    return f"{source.name} ({source.redacted_url})"
