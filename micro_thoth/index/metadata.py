"""Core metadata of one file, by the fastest strategy that works.

Fastest first: the knowledge store (by the file's sha256), the PEP 658
``.metadata`` file, HTTP range reads of a wheel, a full download (verified by the
one fetch-and-verify path, ``fetch.py``), and for sdists, paths and VCS references
a PEP 517 build (``micro_thoth.build``).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from micro_thoth import build, digests
from micro_thoth.artifacts import Artifact, CoreMetadata
from micro_thoth.cache import Cache
from micro_thoth.errors import DigestMismatch, IndexUnreachable, PackageIndexError, ThothPipError
from micro_thoth.guidance.abi import WheelAbi
from micro_thoth.knowledge import abi
from micro_thoth.memory import Kept
from micro_thoth.models import DirectReference, Hash, Source, redact_url
from micro_thoth.reporting import Reporter
from micro_thoth.store import KnowledgeStore

from . import fetch, pages, wheelzip

if TYPE_CHECKING:
    import httpx

SPOOL_BYTES = 32 * 1024 * 1024
METADATA_HOSTS = "metadata-file-hosts"  # store namespace: host -> "yes"/"no" (serves unadvertised .metadata)
# (sha256, file name) -> its parsed metadata: what a resolver process keeps across jobs (memory.py)
_KEPT: Kept[Optional[tuple[str, str]], CoreMetadata] = Kept(8192)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


T = TypeVar("T")


class _RangesUnsupported(Exception):
    """The server answered a range request with the whole file (or nonsense)."""


class MetadataFetcher:
    """Loads core metadata (no memo: the IndexClient keeps one per run)."""

    def __init__(
        self,
        *,
        client: httpx.Client,
        store: Optional[KnowledgeStore],
        cache: Optional[Cache],
        environ: Mapping[str, str],
        sources: Sequence[Source],
        python: str,
        refresh: bool,
        reporter: Reporter,
        offline: bool = False,
        base: Optional[str] = None,
    ) -> None:
        self._client = client
        self._base = base  # where relative paths point from (the Pipfile's directory); None: the cwd
        self._store = store
        self._cache = cache
        self._environ = environ
        self._sources = tuple(sources)
        self._python = python
        self._refresh = refresh
        self._reporter = reporter
        self._offline = offline
        self._hosts: dict[str, bool] = {}
        self._probing: dict[str, threading.Lock] = {}  # host -> held by the thread asking whether it serves .metadata
        self._hosts_lock = threading.Lock()

    def in_memory(self, artifact: Artifact) -> bool:
        """True when this process holds the file's metadata (memory.py): ``load`` reads nothing."""
        digest = artifact.sha256
        return digest is not None and _KEPT.get((digest, artifact.filename)) is not None

    def load(self, artifact: Artifact) -> CoreMetadata:
        """The file's metadata: from the store when known by digest, else fetched and stored."""
        digest = artifact.sha256
        key = (digest, artifact.filename) if digest else None
        kept = _KEPT.get(key)
        if kept is not None:
            return kept
        stored = self._store.get_metadata(digest) if self._store is not None and digest else None
        if stored is not None:
            parsed = self._parse(stored.encode("utf-8", "surrogateescape"), artifact)
            _KEPT.put(key, parsed)
            return parsed
        if self._offline and not artifact.url.startswith("file:"):
            raise IndexUnreachable(
                redact_url(artifact.url),
                f"the metadata of {artifact.filename} is not in the cache, and --offline forbids fetching it",
                hint="run once without --offline (metadata is kept by the file's digest)",
            )
        data = self._fetch(artifact)
        metadata = self._parse(data, artifact)
        if self._store is not None and digest:
            self._store.put_metadata(digest, data.decode("utf-8", errors="replace"))
        _KEPT.put(key, metadata)
        return metadata

    def direct(self, name: str, reference: DirectReference) -> tuple[CoreMetadata, DirectReference, tuple[Artifact, ...]]:
        """Metadata of a URL / path / VCS requirement, the reference to lock and, for an archive
        (a ``file`` that is no directory), the archive with its sha256, which pipenv locks too."""
        anchored = reference if self._base is None else reference.anchored(self._base)
        if reference.kind == "file" and not reference.editable and not _local_directory(anchored):
            return self._direct_archive(name, reference, anchored)
        text, resolved = build.prepare_metadata_for(anchored, package=name, **self._build_options())
        metadata = _parse_text(text, f"{name} @ {redact_url(reference.location)}", None)
        return _same_name(name, metadata, reference), (reference if resolved == anchored else resolved), ()

    def _direct_archive(
        self, name: str, reference: DirectReference, anchored: DirectReference
    ) -> tuple[CoreMetadata, DirectReference, tuple[Artifact, ...]]:
        """A ``file`` archive hashed first; its metadata then read by that digest (store, local copy)."""
        artifact, local = self._hashed(_direct_artifact(anchored.url()))
        readable = artifact if local is None else replace(artifact, url=local.as_uri())
        if reference.subdirectory:  # a project inside the archive: its build backend tells
            source = anchored if local is None else replace(anchored, location=readable.url)
            text, _ = build.prepare_metadata_for(source, package=name, **self._build_options())
            metadata = _parse_text(text, f"{name} @ {redact_url(reference.location)}", None)
        else:
            metadata = self.load(readable)
        return _same_name(name, metadata, reference), reference, (artifact,)

    def _hashed(self, artifact: Artifact) -> tuple[Artifact, Optional[Path]]:
        """The archive with its sha256, and a local copy if there is one.

        A local file is hashed where it is; a remote one takes its URL's ``#sha256=`` (checked
        when it is downloaded), else is downloaded once into the cache, which install then reuses.
        Either is checked against any digest its URL's fragment gives.
        """
        if artifact.url.startswith("file:"):
            path = Path(pages.file_url_path(artifact.url))
            return replace(artifact, hashes=self._local_digests(path, artifact)), path
        if artifact.sha256:
            found = self._cache.find_artifact(artifact.hashes, filename=artifact.filename) if self._cache else None
            return artifact, found
        if self._offline:
            raise IndexUnreachable(
                redact_url(artifact.url), f"{artifact.filename} must be downloaded to be hashed, and --offline forbids it",
                hint="run once without --offline, or give the URL its digest (#sha256=...)",
            )
        path, sha256 = self._download_archive(artifact)
        return replace(artifact, hashes=(Hash("sha256", sha256),)), path

    def _local_digests(self, path: Path, artifact: Artifact) -> tuple[Hash, ...]:
        """sha256 (and the fragment's algorithms) of a local archive, streamed; the fragment's digest checked."""
        given = _computable(artifact.hashes)
        try:
            found = digests.file_digests(path, [h.algorithm for h in given])
        except OSError as exc:
            raise PackageIndexError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if given:
            digests.verify(found, given, package=artifact.name, filename=artifact.filename, index=None)
        return tuple(h for h in found if h.algorithm == "sha256")

    def _download_archive(self, artifact: Artifact) -> tuple[Path, str]:
        """A remote archive downloaded into the cache (``artifacts-v1/<sha256>/``), verified against its fragment."""
        self._reporter.message(f"Downloading {artifact.filename} to hash it for the lock", level="info")
        if self._cache is None:
            raise PackageIndexError(f"{redact_url(artifact.url)}: no cache to download it into")
        with self._cache.temp_file(suffix=".part") as temp:
            sink = fetch.FileSink(temp)
            try:
                hasher = fetch.fetch_verified(
                    self._client, artifact.url, sink, allowed=_computable(artifact.hashes),
                    package=artifact.name, filename=artifact.filename, index=None,
                )
            finally:
                sink.close()
            return self._cache.add_artifact(temp, hasher.sha256, artifact.filename), hasher.sha256

    def _debug(self, text: str) -> None:
        self._reporter.message(text, level="debug")

    def _fetch(self, artifact: Artifact) -> bytes:
        if artifact.url.startswith("file:"):
            return self._local(artifact)
        data = self._pep658(artifact) if artifact.has_metadata_file else self._unadvertised(artifact)
        if data is not None:
            return data
        if artifact.is_wheel:
            self._debug(f"metadata of {artifact.filename}: reading the wheel (range requests if served)")
            return self._wheel(artifact)
        self._debug(f"metadata of {artifact.filename}: building the sdist's metadata")
        return self._sdist(artifact)

    # -- PEP 658 --------------------------------------------------------------------
    def _unadvertised(self, artifact: Artifact) -> Optional[bytes]:
        """A wheel's ``<url>.metadata`` although the page did not advertise it, if its host serves them.

        Some indexes and proxies drop the PEP 658 attributes while the file host
        still serves the files; one probe per host (remembered in the store,
        forgotten with ``refresh``) tells, and a "yes" is never downgraded. While a
        host is unknown one thread asks and the others wait for its answer (the
        first metadata prefetches all asked at once: a 404 each from a host that
        serves none)."""
        if not artifact.is_wheel:
            return None
        host = urllib.parse.urlsplit(artifact.url).netloc
        known = self._known_host(host)
        if known is None:
            with self._hosts_lock:
                probing = self._probing.setdefault(host, threading.Lock())
            with probing:
                known = self._known_host(host)
                if known is None:
                    data = self._pep658(artifact)
                    self._learn_host(host, served=data is not None)
                    return data
        return self._pep658(artifact) if known else None

    def _known_host(self, host: str) -> Optional[bool]:
        """Whether ``host`` serves unadvertised ``.metadata`` files, as learnt (None: not yet)."""
        with self._hosts_lock:
            known = self._hosts.get(host)
        if known is None and self._store is not None and not self._refresh:
            stored = self._store.get_value(METADATA_HOSTS, host)
            known = None if stored is None else stored == "yes"
            if known is not None:
                with self._hosts_lock:
                    known = self._hosts.setdefault(host, known)
        return known

    def _learn_host(self, host: str, *, served: bool) -> None:
        with self._hosts_lock:
            if self._hosts.get(host):
                return
            self._hosts[host] = served
        if self._store is not None:
            self._store.put_value(METADATA_HOSTS, host, "yes" if served else "no")

    def _pep658(self, artifact: Artifact) -> Optional[bytes]:
        response = fetch.request(self._client, "GET", artifact.url + ".metadata")
        if response.status_code != 200:
            return None
        data = response.content
        _check_digests(data, artifact.metadata_hashes or (), artifact, artifact.filename + ".metadata")
        return data

    # -- wheels: range reads, else the whole file -------------------------------------
    def _wheel(self, artifact: Artifact) -> bytes:
        return self.read_wheel(artifact, lambda fileobj: _wheel_member(fileobj, artifact))

    def read_wheel(self, artifact: Artifact, read: Callable[[IO[bytes]], T]) -> T:
        """``read`` over the remote wheel: by range requests when served, else over the whole (verified) file."""
        headers = {"Range": f"bytes=-{wheelzip.TAIL_BYTES}", **fetch.RAW}
        response: Optional[httpx.Response] = fetch.request(
            self._client, "GET", artifact.url, headers=headers, stream=True, read=_tail
        )
        try:
            if response is not None and response.status_code == 206:
                try:
                    return self._by_ranges(artifact, response, read)
                except _RangesUnsupported:
                    response.close()
                    response = None  # ask again, for the whole file
            with self._download(artifact, response) as spooled:  # a 200 is the whole file already
                return read(spooled)
        finally:
            if response is not None:
                response.close()

    def _by_ranges(self, artifact: Artifact, response: httpx.Response, read: Callable[[IO[bytes]], T]) -> T:
        start, _end, total = _content_range(response)
        remote = wheelzip.RangeFile(lambda a, b: self._range(artifact, a, b), total, known=(start, response.content))
        return read(remote)  # type: ignore[arg-type]

    def wheel_abi(self, artifact: Artifact) -> WheelAbi:
        """What the wheel's ELF members need: the store by digest, else the cached file, else range reads.

        Facts once read by range requests (bytes no digest checked) are used while the wheel is not
        in the cache; once it is (downloaded, verified), they are read again from it, as verified."""
        known = abi.remembered(self._store, artifact.sha256)
        if known is not None:
            return known
        cached = self._cache.find_artifact(artifact.hashes, filename=artifact.filename) if self._cache is not None else None
        local = cached is not None or artifact.url.startswith("file:")
        known = None if local else abi.remembered(self._store, artifact.sha256, verified=False)
        if known is not None:
            return known
        if self._offline and not local:  # unknown, as an unreadable wheel is: the lock says so
            raise PackageIndexError(f"{artifact.filename} of {artifact.name}: its ELF facts are not kept, and --offline "
                                    "forbids reading the wheel (a lock without --offline keeps them)", index=_index_of(artifact))
        try:
            if local:
                with open(cached or pages.file_url_path(artifact.url), "rb") as handle:
                    found, verified = _abi_of(handle, artifact), True
            else:
                self._debug(f"ABI of {artifact.filename}: reading its ELF members (range requests if served)")
                found, verified = self.read_wheel(artifact, lambda fileobj: (
                    _abi_of(fileobj, artifact), not isinstance(fileobj, wheelzip.RangeFile)))
        except OSError as exc:  # this machine's (a full temporary disk): not the wheel's, so not skipped as unreadable
            raise _unread(artifact, exc) from exc
        abi.remember(self._store, artifact.sha256, found, verified=verified)
        return found

    def _range(self, artifact: Artifact, first: int, last: int) -> bytes:
        headers = {"Range": f"bytes={first}-{last}"}
        response = fetch.request(self._client, "GET", artifact.url, headers=headers)
        if response.status_code != 206 or _content_range(response)[0] != first:
            raise _RangesUnsupported(f"HTTP {response.status_code}")
        return response.content

    def _download(self, artifact: Artifact, opened: Optional[httpx.Response] = None) -> IO[bytes]:
        """The whole file in memory (on disk past SPOOL_BYTES), verified against the page's digests."""
        spool = _Spool()
        try:
            fetch.fetch_verified(
                self._client, artifact.url, spool, allowed=_computable(artifact.hashes),
                package=artifact.name, filename=artifact.filename, index=_index_of(artifact), opened=opened,
            )
        except BaseException:
            spool.buffer.close()
            raise
        spool.buffer.seek(0)
        return spool.buffer

    # -- sdists, paths and VCS: a PEP 517 build ---------------------------------------
    def _sdist(self, artifact: Artifact) -> bytes:
        """Download (or find in the cache) the sdist, then let its backend say its metadata."""
        cached = self._cache.find_artifact(artifact.hashes, filename=artifact.filename) if self._cache is not None else None
        if cached is not None:
            return build.prepare_metadata(cached, **self._build_options()).encode("utf-8")
        with tempfile.TemporaryDirectory(prefix="thoth-sdist-") as tmp:
            path = Path(tmp) / os.path.basename(artifact.filename)
            sink = fetch.FileSink(path)
            try:
                fetch.fetch_verified(
                    self._client, artifact.url, sink, allowed=_computable(artifact.hashes),
                    package=artifact.name, filename=artifact.filename, index=_index_of(artifact),
                )
            finally:
                sink.close()
            if self._cache is not None and artifact.sha256:
                path = self._cache.add_artifact(path, artifact.sha256, artifact.filename)
            return build.prepare_metadata(path, **self._build_options()).encode("utf-8")

    def _local(self, artifact: Artifact) -> bytes:
        path = pages.file_url_path(artifact.url)
        if artifact.is_wheel:
            try:
                with open(path, "rb") as handle:
                    return _wheel_member(handle, artifact)
            except OSError as exc:
                raise PackageIndexError(f"cannot read {path}: {exc}", index=_index_of(artifact)) from exc
        return build.prepare_metadata(Path(path), **self._build_options()).encode("utf-8")

    def _build_options(self) -> dict[str, Any]:
        """How builds run: the target interpreter, our environment, our indexes for build deps."""
        urls = [source.expanded_url(self._environ) for source in self._sources]
        return {"python": self._python, "environ": self._environ, "index_urls": urls}

    def _parse(self, data: bytes, artifact: Artifact) -> CoreMetadata:
        metadata = _parse_text(data, f"{artifact.filename} ({artifact.name})", _index_of(artifact))
        if artifact.version is not None and not _matches(metadata, artifact.name, artifact.version):
            raise PackageIndexError(
                f"{artifact.filename} on {_index_of(artifact) or 'its index'} says it is "
                f"{metadata.name} {metadata.version}, not {artifact.name} {artifact.version}",
                index=_index_of(artifact),
            )
        return metadata


class _Spool:
    """A fetch sink in memory that moves to a temporary file once it would grow past SPOOL_BYTES.

    (Not SpooledTemporaryFile: before Python 3.11 it is not seekable() enough for zipfile.)
    """

    def __init__(self) -> None:
        self.buffer: IO[bytes] = io.BytesIO()

    def restart(self) -> None:
        self.buffer.close()
        self.buffer = io.BytesIO()

    def write(self, chunk: bytes) -> object:
        if isinstance(self.buffer, io.BytesIO) and self.buffer.tell() + len(chunk) > SPOOL_BYTES:
            spilled = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
            spilled.write(self.buffer.getbuffer())
            self.buffer.close()
            self.buffer = spilled
        return self.buffer.write(chunk)


# -- helpers ----------------------------------------------------------------------

def _computable(hashes: Sequence[Hash]) -> tuple[Hash, ...]:
    """The page's digests this Python can check (a page may list others alongside)."""
    return tuple(h for h in hashes if h.algorithm in hashlib.algorithms_guaranteed)


def _index_of(artifact: Artifact) -> Optional[str]:
    return artifact.index.redacted_url if artifact.index is not None else None


def _tail(response: httpx.Response) -> None:
    """A range answer's body (the wheel's tail), read within the request's attempts; a whole file (200) stays unread."""
    if response.status_code == 206:
        response.read()


def _content_range(response: httpx.Response) -> tuple[int, int, int]:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        raise _RangesUnsupported("no usable Content-Range")
    first, last, total = (int(g) for g in match.groups())
    return first, last, total


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


def _abi_of(fileobj: IO[bytes], artifact: Artifact) -> WheelAbi:
    try:
        return abi.wheel_abi(fileobj)
    except abi.NotElf as exc:
        raise PackageIndexError(f"{artifact.filename} of {artifact.name}: {exc}", index=_index_of(artifact)) from exc


def _unread(artifact: Artifact, exc: OSError) -> ThothPipError:
    """An OSError reading a wheel's ELF members (spooling one to a temporary file, reading the cached file)."""
    full = exc.errno == errno.ENOSPC
    return ThothPipError(
        f"cannot read the ELF members of {artifact.filename} ({artifact.name}): {exc.strerror or exc}",
        hint=f"free space in the temporary directory ({tempfile.gettempdir()}) or set TMPDIR to another" if full else None,
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


def _local_directory(reference: DirectReference) -> bool:
    """A ``file`` reference to a local directory (a project, not an archive: no hash, as pipenv)."""
    path = reference.local_path()
    return path is not None and os.path.isdir(path)


def _direct_artifact(location: str) -> Artifact:
    url, _, fragment = location.partition("#")
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    return Artifact(filename=filename, url=url, hashes=pages.fragment_hashes(fragment))
