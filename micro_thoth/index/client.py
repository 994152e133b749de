"""IndexClient: the PackageSource the resolver asks, over HTTP (or file://) indexes.

Project pages: index pinning (``index=``) or the first index that has the
project (never a merge of two indexes); an in-memory cache per client, the
knowledge store with validators and a TTL across runs, and prefetching on a
small thread pool whose work ``project()`` joins instead of repeating.

Core metadata, fastest first: the store (by the file's sha256), the PEP 658
``.metadata`` file, HTTP range reads of a wheel, a full download (hash
verified), and for sdists, paths and VCS references a PEP 517 build
(``micro_thoth.build``).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Optional, TypeVar

import httpx
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from micro_thoth import net
from micro_thoth.cache import Cache
from micro_thoth.digests import StreamingHasher, verify
from micro_thoth.errors import (
    DigestMismatch,
    IndexUnreachable,
    PackageIndexError,
    PackageNotFound,
    UsageError,
)
from micro_thoth.models import (
    Artifact,
    CoreMetadata,
    DirectReference,
    ProjectPage,
    Source,
    redact_url,
    strip_credentials,
)
from micro_thoth.reporting import NULL_REPORTER, Reporter
from micro_thoth.store import CachedPage, KnowledgeStore

from . import pages, wheelzip
from .suggest import suggest

T = TypeVar("T")
SPOOL_BYTES = 32 * 1024 * 1024
CHUNK = 1 << 16
METADATA_HOSTS = "metadata-file-hosts"  # store namespace: host -> "yes"/"no" (serves unadvertised .metadata)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


PARSED_PAGES = "parsed-pages-v2"  # store namespace: page URL -> body digest, fetch time, compact rows


class _RangesUnsupported(Exception):
    """The server answered a range request with the whole file (or nonsense)."""


class _Memo:
    """Computes each key once however many threads ask at once; failures are not remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Hashable, object] = {}
        self._running: dict[Hashable, Future[object]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._done:
                return self._done[key]  # type: ignore[return-value]
            future = self._running.get(key)
            owner = future is None
            if future is None:
                future = self._running[key] = Future()
        if not owner:
            return future.result()  # type: ignore[return-value]
        return self._compute(key, future, compute)

    def _compute(self, key: Hashable, future: Future[object], compute: Callable[[], T]) -> T:
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._running[key]
            future.set_exception(exc)
            raise
        with self._lock:
            self._done[key] = value
            del self._running[key]
        future.set_result(value)
        return value


class IndexClient:
    """The resolver's PackageSource over the configured indexes (see the module docstring).

    ``pinned`` maps project names to the index they must come from (a Pipfile's
    ``index = "..."``, a lock's ``index``): ``project()`` and ``prefetch()`` then
    contact that index only, even when no ``index=`` is passed. ``python`` is the
    target interpreter sdist / VCS builds run for. With a ``cache``, an sdist
    downloaded for its metadata is kept there (content-addressed) for the install.
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
    ) -> None:
        self.sources = tuple(sources)
        # name -> index name: a pinned project is looked up on its index only, even when
        # asked for without one (prefetches, transitive occurrences): no other index ever
        # hears its name.
        self.pinned = {canonicalize_name(k): v for k, v in (pinned or {}).items()}
        for index_name in sorted(set(self.pinned.values())):
            self.source_named(index_name)  # an unknown index name is a usage error, now
        self._python = python
        self._cache = cache
        self._client = client
        self._store = store
        self._environ = os.environ if environ is None else environ
        self._ttl = page_ttl
        self._refresh = refresh
        self._exclude_newer = exclude_newer
        self._reporter = reporter
        self._workers = workers
        self._pages = _Memo()
        self._metadata = _Memo()
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pool_lock = threading.Lock()
        self._metadata_hosts: dict[str, bool] = {}
        self._hosts_lock = threading.Lock()
        for source in self.sources:
            self._register(source.expanded_url(self._environ))

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

    def metadata(self, artifact: Artifact) -> CoreMetadata:
        """Core metadata of one file; fetched once per digest, ever (the store keeps it)."""
        return self._metadata.get(artifact.sha256 or artifact.url, lambda: self._load_metadata(artifact))

    def direct(self, name: str, reference: DirectReference) -> tuple[CoreMetadata, DirectReference]:
        """Metadata of a URL / path / VCS requirement and the reference to lock."""
        location = reference.location.split("#", 1)[0]
        if reference.kind == "file" and location.endswith(".whl") and not reference.subdirectory:
            artifact = _direct_artifact(location)
            metadata = self._parse_metadata(self._fetch_metadata(artifact), artifact)
            return _same_name(name, metadata, reference), reference
        from micro_thoth import build  # services layer: PEP 517 metadata of sdists, paths, VCS

        text, resolved = build.prepare_metadata_for(reference, package=name, **self._build_options())
        metadata = _parse_text(text, f"{name} @ {redact_url(reference.location)}", None)
        return _same_name(name, metadata, reference), resolved

    def prefetch(self, names: Iterable[NormalizedName | str]) -> None:
        """Start fetching these projects' pages in the background (errors surface in project())."""
        for name in names:
            key = canonicalize_name(name)
            if key in self.pinned:
                self._submit(self._pinned_page, key)
            else:
                self._submit(self._first_page, key)

    def _pinned_page(self, key: NormalizedName) -> Optional[ProjectPage]:
        return self._page(self.source_named(self.pinned[key]), key)

    def prefetch_metadata(self, artifacts: Iterable[Artifact]) -> None:
        """Start fetching these files' metadata in the background."""
        for artifact in artifacts:
            self._submit(self.metadata, artifact)

    # -- sources ------------------------------------------------------------------
    def source_named(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(f"'{s.name}'" for s in self.sources) or "none"
        raise UsageError(f"unknown index '{name}'; the known indexes are {known}")

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _debug(self, text: str) -> None:
        self._reporter.message(text, level="debug")

    def _register(self, url: str) -> str:
        auth = self._client.auth
        return auth.register(url) if isinstance(auth, net.IndexAuth) else strip_credentials(url)

    def _submit(self, fn: Callable[[T], object], arg: T) -> None:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="thoth-index")
            self._pool.submit(_quietly, fn, arg)

    # -- pages ----------------------------------------------------------------------
    def _first_page(self, name: NormalizedName) -> Optional[ProjectPage]:
        for source in self.sources:
            page = self._page(source, name)
            if page is not None:
                return page
        return None

    def _page(self, source: Source, name: NormalizedName) -> Optional[ProjectPage]:
        return self._pages.get((source.name, name), lambda: self._load_page(source, name))

    def _load_page(self, source: Source, name: NormalizedName) -> Optional[ProjectPage]:
        base = strip_credentials(source.expanded_url(self._environ))
        if base.startswith("file:"):
            found = self._file_page(base, name, source)
        else:
            found = self._http_page(base + f"{name}/", source)
        if found is None:
            return None
        artifacts = tuple(self._clean(a) for a in found if a.name == name)
        if self._exclude_newer is not None:
            artifacts = pages.uploaded_by(artifacts, self._exclude_newer)
        return ProjectPage(name=name, index=source, artifacts=artifacts)

    def _clean(self, artifact: Artifact) -> Artifact:
        if "@" not in artifact.url or "@" not in urllib.parse.urlsplit(artifact.url).netloc:
            return artifact
        return replace(artifact, url=self._register(artifact.url))

    def _file_page(self, base: str, name: NormalizedName, source: Source) -> Optional[tuple[Artifact, ...]]:
        root = pages.file_url_path(base)
        project_dir = os.path.join(root, name)
        index_html = os.path.join(project_dir, "index.html")
        if os.path.isfile(index_html):
            with open(index_html, "rb") as handle:
                body = handle.read()
            return pages.parse_html(body, base + f"{name}/", source)
        if os.path.isdir(project_dir):
            return pages.directory_artifacts(project_dir, name, source)
        if not os.path.isdir(root):
            raise IndexUnreachable(redact_url(base), "no such directory")
        found = pages.directory_artifacts(root, name, source)
        return found or None

    def _http_page(self, url: str, source: Source) -> Optional[tuple[Artifact, ...]]:
        info = self._store.get_page_info(url) if self._store is not None else None
        if info is not None and not self._refresh and info.is_fresh(self._ttl):
            parsed = self._stored_rows(url, info.fetched_at, source)
            if parsed is not None:
                return parsed  # the warm path: neither the body nor a parse is needed
        cached = self._store.get_page(url) if self._store is not None and info is not None else None
        if cached is not None and not self._refresh and cached.is_fresh(self._ttl):
            return self._parse_page(cached, source)
        self._debug(f"GET {redact_url(url)}" + (" (revalidating)" if cached is not None else ""))
        headers = {"Accept": pages.ACCEPT, **(cached.validators() if cached is not None else {})}
        response = net.request(self._client, "GET", url, headers=headers)
        if response.status_code == 304 and cached is not None:
            page = replace(cached, fetched_at=time.time())
        elif response.status_code in (404, 410):
            return None
        elif response.status_code == 200:
            page = _cached_page(url, response)
        else:
            raise IndexUnreachable(redact_url(url), f"HTTP {response.status_code} {response.reason_phrase}")
        artifacts = self._parse_page(page, source)  # a page we cannot read is not kept
        if self._store is not None:
            self._store.put_page(page)
        return artifacts

    def _stored_rows(self, url: str, fetched_at: float, source: Source) -> Optional[tuple[Artifact, ...]]:
        """The parsed files of the page as fetched at ``fetched_at``, if they were kept."""
        assert self._store is not None
        value = self._store.get_value(PARSED_PAGES, url)
        if value is None:
            return None
        _digest, stamp, rows = value.split("\n", 2)
        return pages.artifacts_from_rows(rows, source) if stamp == repr(fetched_at) else None

    def _parse_page(self, page: CachedPage, source: Source) -> tuple[Artifact, ...]:
        """The page's files; kept in the store with the body's digest and fetch time, so the
        next run reads neither the body nor parses it, and a re-fetched identical page is not
        parsed again."""
        digest = hashlib.sha1(page.body).hexdigest()
        stored = self._store.get_value(PARSED_PAGES, page.url) if self._store is not None else None
        if stored is not None and stored.split("\n", 1)[0] == digest:
            rows = stored.split("\n", 2)[2]
            artifacts = pages.artifacts_from_rows(rows, source)
        else:
            artifacts = self._parse_fresh(page, source)
            rows = pages.artifacts_to_rows(artifacts)
        if self._store is not None:
            self._store.put_value(PARSED_PAGES, page.url, f"{digest}\n{page.fetched_at!r}\n{rows}")
        return artifacts

    def _parse_fresh(self, page: CachedPage, source: Source) -> tuple[Artifact, ...]:
        try:
            return pages.parse_page(page.body, page.content_type, page.base, source)
        except pages.InvalidPage as exc:
            raise PackageIndexError(
                f"{redact_url(page.url)} is not a valid project page: {exc}", index=source.redacted_url
            ) from exc

    # -- metadata -------------------------------------------------------------------
    def _load_metadata(self, artifact: Artifact) -> CoreMetadata:
        digest = artifact.sha256
        stored = self._store.get_metadata(digest) if self._store is not None and digest else None
        if stored is not None:
            return self._parse_metadata(stored.encode("utf-8", "surrogateescape"), artifact)
        data = self._fetch_metadata(artifact)
        metadata = self._parse_metadata(data, artifact)
        if self._store is not None and digest:
            self._store.put_metadata(digest, data.decode("utf-8", errors="replace"))
        return metadata

    def _fetch_metadata(self, artifact: Artifact) -> bytes:
        if artifact.url.startswith("file:"):
            return self._local_metadata(artifact)
        if artifact.has_metadata_file or (artifact.is_wheel and self._may_serve_metadata(artifact)):
            data = self._pep658(artifact)
            if not artifact.has_metadata_file:
                self._learn_metadata_host(artifact, served=data is not None)
            if data is not None:
                return data
        if artifact.is_wheel:
            self._debug(f"metadata of {artifact.filename}: reading the wheel (range requests if served)")
            return self._wheel_metadata(artifact)
        self._debug(f"metadata of {artifact.filename}: building the sdist's metadata")
        return self._sdist_metadata(artifact)

    def _may_serve_metadata(self, artifact: Artifact) -> bool:
        """Whether to try ``<url>.metadata`` although the page did not advertise it.

        Some indexes and proxies drop the PEP 658 attributes while the file host
        still serves the files; one probe per host (remembered in the store,
        forgotten with ``refresh``) tells, and a "yes" is never downgraded.
        """
        host = urllib.parse.urlsplit(artifact.url).netloc
        with self._hosts_lock:
            known = self._metadata_hosts.get(host)
        if known is None and self._store is not None and not self._refresh:
            stored = self._store.get_value(METADATA_HOSTS, host)
            known = None if stored is None else stored == "yes"
            if known is not None:
                with self._hosts_lock:
                    self._metadata_hosts.setdefault(host, known)
        return known is not False

    def _learn_metadata_host(self, artifact: Artifact, *, served: bool) -> None:
        host = urllib.parse.urlsplit(artifact.url).netloc
        with self._hosts_lock:
            if self._metadata_hosts.get(host):
                return
            self._metadata_hosts[host] = served
        if self._store is not None:
            self._store.put_value(METADATA_HOSTS, host, "yes" if served else "no")

    def _pep658(self, artifact: Artifact) -> Optional[bytes]:
        url = artifact.url + ".metadata"
        response = net.request(self._client, "GET", url)
        if response.status_code != 200:
            return None
        data = response.content
        _check_digests(data, artifact.metadata_hashes or (), artifact, artifact.filename + ".metadata")
        return data

    def _wheel_metadata(self, artifact: Artifact) -> bytes:
        headers = {"Range": f"bytes=-{wheelzip.TAIL_BYTES}"}
        response = net.request(self._client, "GET", artifact.url, headers=headers, stream=True)
        try:
            if response.status_code == 206:
                try:
                    return self._metadata_by_ranges(artifact, response)
                except _RangesUnsupported:
                    return self._metadata_by_download(artifact)
            _expect_ok(response, artifact)
            with self._spool(response, artifact) as spooled:
                return _wheel_member(spooled, artifact)
        finally:
            response.close()

    def _metadata_by_ranges(self, artifact: Artifact, response: httpx.Response) -> bytes:
        start, _end, total = _content_range(response)
        with net.translate_errors(artifact.url):
            tail = response.read()
        remote = wheelzip.RangeFile(lambda a, b: self._range(artifact, a, b), total, known=(start, tail))
        return _wheel_member(remote, artifact)  # type: ignore[arg-type]

    def _range(self, artifact: Artifact, first: int, last: int) -> bytes:
        headers = {"Range": f"bytes={first}-{last}"}
        response = net.request(self._client, "GET", artifact.url, headers=headers)
        if response.status_code != 206 or _content_range(response)[0] != first:
            raise _RangesUnsupported(f"HTTP {response.status_code}")
        return response.content

    def _metadata_by_download(self, artifact: Artifact) -> bytes:
        response = net.request(self._client, "GET", artifact.url, stream=True)
        try:
            _expect_ok(response, artifact)
            with self._spool(response, artifact) as spooled:
                return _wheel_member(spooled, artifact)
        finally:
            response.close()

    def _spool(self, response: httpx.Response, artifact: Artifact) -> IO[bytes]:
        """The whole body in memory (on disk past SPOOL_BYTES), its digest checked against the page's."""
        spooled: IO[bytes] = io.BytesIO()
        hasher = StreamingHasher(sorted({h.algorithm for h in artifact.hashes} | {"sha256"}))
        try:
            with net.translate_errors(artifact.url):
                for chunk in response.iter_bytes(CHUNK):
                    hasher.update(chunk)
                    spooled = _spill(spooled, len(chunk))
                    spooled.write(chunk)
            _verify_download(hasher, artifact)
        except BaseException:
            spooled.close()
            raise
        spooled.seek(0)
        return spooled

    def _sdist_metadata(self, artifact: Artifact) -> bytes:
        """Download (or find in the cache) the sdist, then let its backend say its metadata."""
        from micro_thoth import build  # services layer: runs the sdist's PEP 517 backend

        cached = self._cache.find_artifact(artifact.hashes, filename=artifact.filename) if self._cache is not None else None
        if cached is not None:
            return build.prepare_metadata(cached, **self._build_options()).encode("utf-8")
        with tempfile.TemporaryDirectory(prefix="thoth-sdist-") as tmp:
            path = Path(tmp) / os.path.basename(artifact.filename)
            self._download_to(artifact, path)
            if self._cache is not None and artifact.sha256:
                path = self._cache.add_artifact(path, artifact.sha256, artifact.filename)
            return build.prepare_metadata(path, **self._build_options()).encode("utf-8")

    def _download_to(self, artifact: Artifact, path: Path) -> None:
        response = net.request(self._client, "GET", artifact.url, stream=True)
        try:
            _expect_ok(response, artifact)
            with self._spool(response, artifact) as spooled, open(path, "wb") as out:
                while chunk := spooled.read(CHUNK):
                    out.write(chunk)
        finally:
            response.close()

    def _local_metadata(self, artifact: Artifact) -> bytes:
        path = pages.file_url_path(artifact.url)
        if artifact.is_wheel:
            try:
                with open(path, "rb") as handle:
                    return _wheel_member(handle, artifact)
            except OSError as exc:
                raise PackageIndexError(f"cannot read {path}: {exc}", index=_index_of(artifact)) from exc
        from micro_thoth import build  # services layer: runs the sdist's PEP 517 backend

        return build.prepare_metadata(Path(path), **self._build_options()).encode("utf-8")

    def _build_options(self) -> dict[str, Any]:
        """How builds run: the target interpreter, our environment, our indexes for build deps."""
        urls = [source.expanded_url(self._environ) for source in self.sources]
        return {"python": self._python, "environ": self._environ, "index_urls": urls}

    def _parse_metadata(self, data: bytes, artifact: Artifact) -> CoreMetadata:
        metadata = _parse_text(data, f"{artifact.filename} ({artifact.name})", _index_of(artifact))
        if artifact.version is not None and not _matches(metadata, artifact.name, artifact.version):
            raise PackageIndexError(
                f"{artifact.filename} on {_index_of(artifact) or 'its index'} says it is "
                f"{metadata.name} {metadata.version}, not {artifact.name} {artifact.version}",
                index=_index_of(artifact),
            )
        return metadata


# -- helpers ----------------------------------------------------------------------

def _quietly(fn: Callable[[T], object], arg: T) -> None:
    try:
        fn(arg)
    except Exception:  # a prefetch is a hint; the real call raises the error again
        pass


def _describe(source: Source) -> str:
    return f"{source.name} ({source.redacted_url})"


def _index_of(artifact: Artifact) -> Optional[str]:
    return artifact.index.redacted_url if artifact.index is not None else None


def _cached_page(url: str, response: httpx.Response) -> CachedPage:
    final = strip_credentials(str(response.url))
    return CachedPage(
        url=url,
        body=response.content,
        content_type=response.headers.get("Content-Type", ""),
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        fetched_at=time.time(),
        base_url=final if final != url else None,
    )


def _spill(buffer: IO[bytes], incoming: int) -> IO[bytes]:
    """``buffer``, or a temporary file holding its bytes once it would grow past SPOOL_BYTES.

    (Not SpooledTemporaryFile: before Python 3.11 it is not seekable() enough for zipfile.)
    """
    if not isinstance(buffer, io.BytesIO) or buffer.tell() + incoming <= SPOOL_BYTES:
        return buffer
    spilled = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    spilled.write(buffer.getbuffer())
    buffer.close()
    return spilled


def _content_range(response: httpx.Response) -> tuple[int, int, int]:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        raise _RangesUnsupported("no usable Content-Range")
    first, last, total = (int(g) for g in match.groups())
    return first, last, total


def _expect_ok(response: httpx.Response, artifact: Artifact) -> None:
    if response.status_code == 200:
        return
    what = "is listed but missing" if response.status_code in (404, 410) else "could not be fetched"
    raise IndexUnreachable(
        redact_url(artifact.url), f"{artifact.filename} {what} (HTTP {response.status_code})"
    )


def _verify_download(hasher: StreamingHasher, artifact: Artifact) -> None:
    if artifact.hashes:
        verify(hasher.digests(), artifact.hashes, package=artifact.name, filename=artifact.filename,
               index=_index_of(artifact))


def _check_digests(data: bytes, expected: Sequence[object], artifact: Artifact, filename: str) -> None:
    """Verify PEP 658 metadata bytes against the hashes the page gave (those we can compute)."""
    for digest in expected:
        algorithm, value = getattr(digest, "algorithm", ""), getattr(digest, "value", "")
        if algorithm not in hashlib.algorithms_available:
            continue
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != value:
            raise DigestMismatch(
                package=artifact.name, filename=filename, index=_index_of(artifact),
                expected=[f"{algorithm}:{value}"], actual=f"{algorithm}:{actual}",
            )


def _wheel_member(fileobj: IO[bytes], artifact: Artifact) -> bytes:
    try:
        return wheelzip.read_metadata(fileobj, artifact.name)
    except wheelzip.NotAWheel as exc:
        raise PackageIndexError(
            f"{artifact.filename} of {artifact.name}: {exc}", index=_index_of(artifact)
        ) from exc


def _parse_text(data: bytes | str, what: str, index: Optional[str]) -> CoreMetadata:
    try:
        return CoreMetadata.from_text(data)
    except ValueError as exc:
        raise PackageIndexError(f"unusable metadata in {what}: {exc}", index=index) from exc


def _matches(metadata: CoreMetadata, name: str, version: Version) -> bool:
    try:
        return canonicalize_name(metadata.name) == name and Version(metadata.version) == version
    except InvalidVersion:
        return False


def _same_name(name: str, metadata: CoreMetadata, reference: DirectReference) -> CoreMetadata:
    if canonicalize_name(metadata.name) != canonicalize_name(name):
        raise PackageIndexError(
            f"{redact_url(reference.location)} is {metadata.name} {metadata.version}, not {name}"
        )
    return metadata


def _direct_artifact(location: str) -> Artifact:
    url, _, fragment = location.partition("#")
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    return Artifact(filename=filename, url=url, hashes=pages.fragment_hashes(fragment))
