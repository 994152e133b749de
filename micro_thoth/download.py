"""Parallel, verified downloads into the cache.

Every file is hashed while it streams into a temporary file of the cache and
is moved into ``artifacts-v1/`` only once one of its digests is among the
hashes the lock allows; a file whose digest is not allowed is deleted and
raises DigestMismatch. A file already in the cache costs no request at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional

import httpx
from packaging.version import InvalidVersion, Version

from . import digests, net
from .cache import Cache
from .errors import IndexUnreachable, MissingHashError, NoCompatibleArtifact
from .models import Artifact, Hash, Pin, Target, redact_url
from .reporting import NULL_REPORTER, Reporter

TASK = "Downloading"
CHUNK = 1 << 16
# The digest is of the file as stored: ask for it unencoded and never decode it (some hosts
# label a .tar.gz "Content-Encoding: gzip", and decoding it would change its digest).
_RAW = {"Accept-Encoding": "identity"}
UNHASHED_KINDS = frozenset(
    {"git", "hg", "svn", "bzr", "path"}
)  # built from source, never downloaded


@dataclass(frozen=True)
class DownloadRequest:
    """One file to fetch for ``package``, acceptable if a digest of it is in ``allowed``."""

    package: str
    artifact: Artifact
    allowed: tuple[Hash, ...]

    @property
    def index(self) -> str:
        """The redacted URL of the index the file comes from (its own URL for direct ones)."""
        if self.artifact.index is not None:
            return self.artifact.index.redacted_url
        return redact_url(self.artifact.url)


# -- before any download ------------------------------------------------------
def check_hashes(pins: Iterable[Pin], *, path: Optional[str] = None) -> None:
    """Refuse a lock entry without hashes (VCS and local path entries have none to check)."""
    for pin in pins:
        if pin.direct is not None and pin.direct.kind in UNHASHED_KINDS:
            continue
        if not pin.hashes:
            raise MissingHashError(pin.name, path=path)


def _pinned_version(pin: Pin) -> Optional[Version]:
    try:
        return Version(pin.version) if pin.version else None
    except InvalidVersion:
        return None


def _locked_files(pin: Pin, artifacts: Sequence[Artifact]) -> list[Artifact]:
    """Files of the pinned version whose digest is locked.

    A file whose index gives no digest of an algorithm the lock uses (an old
    md5-only page) may still be the locked one; such files are kept only when
    no file is known to match, and are verified after download like any other.
    """
    version = _pinned_version(pin)
    same = [a for a in artifacts if version is None or a.version == version]
    known = [a for a in same if any(pin.allows(h) for h in a.hashes)]
    if known:
        return known
    algorithms = {h.algorithm for h in pin.hashes}
    return [a for a in same if not any(h.algorithm in algorithms for h in a.hashes)]


def describe_target(target: Target) -> str:
    """``Python 3.11.4 on linux x86_64``: how a target is named in messages."""
    markers = target.markers
    python = markers.get("python_full_version") or markers.get("python_version", "?")
    return f"Python {python} on {markers.get('sys_platform', '?')} {markers.get('platform_machine', '?')}".strip()


def _no_artifact(
    pin: Pin, artifacts: Sequence[Artifact], locked: Sequence[Artifact], target: Target
) -> NoCompatibleArtifact:
    index = next((a.index.redacted_url for a in artifacts if a.index is not None), pin.index)
    if locked:
        tags = sorted({str(tag) for a in locked for tag in a.tags})
        hint = (
            f"the locked wheels are tagged {', '.join(tags)} and there is no sdist; "
            "lock for this target (or add a source distribution)"
        )
    else:
        hint = (
            f"none of the {len(artifacts)} files offered has a hash the lock allows; "
            "the index may have changed: re-lock if you trust it"
        )
    return NoCompatibleArtifact(
        pin.name, pin.version or "?", index=index, target=describe_target(target), hint=hint
    )


def choose_artifact(pin: Pin, artifacts: Sequence[Artifact], target: Target) -> Artifact:
    """The locked wheel ranked best by the target's tags, else a locked sdist."""
    locked = _locked_files(pin, artifacts)
    ranked = [
        (rank, i)
        for i, a in enumerate(locked)
        if a.is_wheel and (rank := target.tag_rank(a.tags)) is not None
    ]
    if ranked:
        return locked[min(ranked)[1]]
    sdists = [a for a in locked if a.is_sdist]
    if sdists:
        return sdists[0]
    raise _no_artifact(pin, artifacts, locked, target)


def cached_artifacts(cache: Cache, pin: Pin) -> tuple[Artifact, ...]:
    """The pin's locked files already in the cache, as ``file://`` artifacts (no network).

    ``choose_artifact(pin, cached_artifacts(cache, pin), target)`` lets a warm
    install skip the index entirely.
    """
    return tuple(
        Artifact(
            filename=path.name,
            url=path.resolve().as_uri(),
            hashes=(Hash("sha256", path.parent.name),),
        )
        for path in cache.artifacts(pin.hashes)
    )


# -- progress and cancellation shared by the worker threads --------------------
class _Cancelled(Exception):
    """Another download failed (or the user interrupted): stop this one quietly."""


class _Progress:
    """Serialises reporter calls from the worker threads and honours cancellation."""

    def __init__(self, reporter: Reporter, by_bytes: bool) -> None:
        self.reporter = reporter
        self.by_bytes = by_bytes
        self.cancelled = threading.Event()
        self._lock = threading.Lock()

    def advance(self, amount: int, label: str) -> None:
        if self.cancelled.is_set():
            raise _Cancelled()
        if amount:
            with self._lock:
                self.reporter.task_advanced(TASK, amount, label)

    def file_done(self, label: str) -> None:
        if not self.by_bytes:
            with self._lock:
                self.reporter.task_advanced(TASK, 1, label)


class _Sink:
    """The temporary file one download writes, with its hasher; restartable for a retry."""

    def __init__(
        self, path: Path, algorithms: Iterable[str], progress: _Progress, label: str
    ) -> None:
        self.path = path
        self.algorithms = tuple(algorithms)
        self.progress = progress
        self.label = label
        self._reported = 0  # bytes already shown; a retry does not count them twice
        self._fh: Optional[BinaryIO] = None
        self.hasher = digests.StreamingHasher(self.algorithms)

    @contextlib.contextmanager
    def attempt(self) -> Iterator[_Sink]:
        self.hasher = digests.StreamingHasher(self.algorithms)
        with open(self.path, "wb") as self._fh:
            yield self
        self._fh = None

    def write(self, chunk: bytes) -> None:
        assert self._fh is not None
        self._fh.write(chunk)
        self.hasher.update(chunk)
        fresh = max(0, self.hasher.size - self._reported) if self.progress.by_bytes else 0
        self._reported += fresh
        self.progress.advance(fresh, self.label)


# -- one file -----------------------------------------------------------------
def _local_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    return Path(urllib.request.url2pathname(parts.path))


def _copy_local(url: str, sink: _Sink) -> None:
    try:
        source = open(_local_path(url), "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise IndexUnreachable(redact_url(url), exc.strerror or type(exc).__name__) from exc
    with source, sink.attempt():
        while chunk := source.read(CHUNK):
            sink.write(chunk)


def _stream_once(client: httpx.Client, url: str, sink: _Sink, retries: int, backoff: float) -> None:
    response = net.request(
        client, "GET", url, headers=_RAW, retries=retries, backoff=backoff, stream=True
    )
    try:
        if response.status_code != 200:
            raise IndexUnreachable(
                redact_url(url), f"HTTP {response.status_code} {response.reason_phrase}".strip()
            )
        with sink.attempt():
            for chunk in response.iter_raw(CHUNK):
                sink.write(chunk)
    finally:
        response.close()


def _stream(client: httpx.Client, url: str, sink: _Sink, retries: int, backoff: float) -> None:
    """GET ``url`` into the sink; a connection lost mid-body starts the file over."""
    for attempt in range(retries + 1):
        guard = net.translate_errors(url) if attempt == retries else contextlib.nullcontext()
        try:
            with guard:
                _stream_once(client, url, sink, retries, backoff)
            return
        except httpx.TransportError:
            time.sleep(net.retry_delay(None, attempt, backoff))


def _algorithms(allowed: Iterable[Hash]) -> list[str]:
    return sorted({h.algorithm for h in allowed if h.algorithm in hashlib.algorithms_guaranteed})


def _fetch(
    request: DownloadRequest,
    client: httpx.Client,
    cache: Cache,
    progress: _Progress,
    retries: int,
    backoff: float,
) -> Path:
    artifact = request.artifact
    with cache.temp_file(suffix=".part") as temp:
        sink = _Sink(temp, _algorithms(request.allowed), progress, artifact.filename)
        if artifact.url.startswith("file:"):
            _copy_local(artifact.url, sink)
        else:
            _stream(client, artifact.url, sink, retries, backoff)
        digests.verify(
            sink.hasher.digests(),
            request.allowed,
            package=request.package,
            filename=artifact.filename,
            index=request.index,
        )
        path = cache.add_artifact(temp, sink.hasher.sha256, artifact.filename)
    progress.file_done(artifact.filename)
    return path


# -- many files ---------------------------------------------------------------
def _refuse_unhashed(requests: Sequence[DownloadRequest]) -> None:
    for request in requests:
        if not request.allowed:
            raise MissingHashError(request.package)


def _start(reporter: Reporter, misses: Sequence[DownloadRequest]) -> _Progress:
    sizes = [r.artifact.size for r in misses]
    by_bytes = all(size is not None for size in sizes)
    total = sum(s or 0 for s in sizes) if by_bytes else len(misses)
    reporter.task_started(TASK, total, "bytes" if by_bytes else "items")
    return _Progress(reporter, by_bytes)


def _first_error(futures: Iterable[Future[Path]]) -> Optional[BaseException]:
    """The error to raise: a real failure before the _Cancelled it caused in the others."""
    errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()]
    real = [e for e in errors if not isinstance(e, _Cancelled)]
    return (real or errors or [None])[0]


def _run_pool(
    misses: Sequence[DownloadRequest],
    progress: _Progress,
    workers: int,
    fetch_one: Callable[[DownloadRequest], Path],
) -> dict[DownloadRequest, Path]:
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(workers, len(misses))), thread_name_prefix="download"
    )
    futures: dict[Future[Path], DownloadRequest] = {}
    try:
        futures = {pool.submit(fetch_one, r): r for r in misses}
        done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        error = _first_error(done)
        if error is not None:
            raise error
        return {futures[f]: f.result() for f in futures}
    finally:
        progress.cancelled.set()  # no-op after success; stops the others after a failure or ^C
        pool.shutdown(wait=True, cancel_futures=True)


def download_all(
    requests: Iterable[DownloadRequest],
    *,
    client: httpx.Client,
    cache: Cache,
    reporter: Reporter = NULL_REPORTER,
    workers: int = 8,
    retries: int = 3,
    backoff: float = 0.25,
) -> dict[DownloadRequest, Path]:
    """Fetch every requested file into the cache (verified), in parallel; returns the cached paths.

    Files already cached cost no request. On the first failure the other
    downloads are cancelled, their temporary files removed, and that error raised.
    """
    wanted = list(dict.fromkeys(requests))
    _refuse_unhashed(wanted)
    found = {r: cache.find_artifact(r.allowed, filename=r.artifact.filename) for r in wanted}
    misses = [r for r, path in found.items() if path is None]
    if not misses:
        return {r: p for r, p in found.items() if p is not None}
    progress = _start(reporter, misses)
    try:
        fetched = _run_pool(
            misses,
            progress,
            workers,
            lambda r: _fetch(r, client, cache, progress, retries, backoff),
        )
    finally:
        reporter.task_finished(TASK)
    return {r: found[r] or fetched[r] for r in wanted}


__all__ = [
    "DownloadRequest",
    "cached_artifacts",
    "check_hashes",
    "choose_artifact",
    "describe_target",
    "download_all",
]
