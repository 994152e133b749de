"""Parallel, verified downloads into the cache.

Every file is hashed while it streams into a temporary file of the cache (the one
fetch-and-verify path, ``index/fetch.py``) and
is moved into ``artifacts-v1/`` only once one of its digests is among the
hashes the lock allows; a file whose digest is not allowed is deleted and
raises DigestMismatch. A file already in the cache costs no request at all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import httpx
from packaging.version import InvalidVersion, Version

from .artifacts import Artifact
from .cache import Cache
from .errors import (
    DigestMismatch,
    DigestMismatches,
    IndexUnreachable,
    IntegrityError,
    MissingHashError,
    NoCompatibleArtifact,
)
from .index import fetch
from .models import Hash, Pin, Target, redact_url
from .reporting import NULL_REPORTER, Reporter

TASK = "Downloading"
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
    """Refuse a lock entry without hashes (VCS, local path and ``file`` directory entries have none
    to check, as pipenv locks them; relative ones are read from the current directory: anchor first)."""
    for pin in pins:
        if not pin.hashes and not _unhashed(pin):
            raise MissingHashError(pin.name, path=path)


def _unhashed(pin: Pin) -> bool:
    """A direct reference built from a source tree rather than downloaded: it has no file to hash."""
    if pin.direct is None:
        return False
    if pin.direct.kind in UNHASHED_KINDS:
        return True
    local = pin.direct.local_path()
    return pin.direct.kind == "file" and local is not None and os.path.isdir(local)


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
    if not locked and target.formats.restricted and _locked_files(pin, artifacts):
        kind = "wheel" if not target.formats.allows(pin.name, wheel=False) else "sdist"
        hint = f"no {kind} for {pin.name} is locked, and the binary options ({' '.join(target.formats.option_lines())}) allow nothing else"
    elif locked:
        tags = sorted({str(tag) for a in locked for tag in a.tags})
        hint = (
            f"the locked wheels are tagged {', '.join(tags)} and there is no sdist; "
            "lock for this target (or add a source distribution)"
        )
    else:
        version = _pinned_version(pin)
        offered = [a for a in artifacts if version is None or a.version == version]
        hint = (
            f"none of the {len(offered)} files offered for {pin.name}=={pin.version} has a hash the lock allows; "
            "the index may have changed: re-lock if you trust it"
        )
    return NoCompatibleArtifact(
        pin.name, pin.version or "?", index=index, target=describe_target(target), hint=hint
    )


def choose_artifact(pin: Pin, artifacts: Sequence[Artifact], target: Target) -> Artifact:
    """The locked wheel ranked best by the target's tags, else a locked sdist (each only if the
    target's binary options allow it: ``--no-binary`` builds from the sdist)."""
    locked = [a for a in _locked_files(pin, artifacts) if target.formats.allows(pin.name, wheel=a.is_wheel)]
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


# -- one file -----------------------------------------------------------------
def _fetch(
    request: DownloadRequest,
    client: httpx.Client,
    cache: Cache,
    progress: _Progress,
    retries: int,
    backoff: float,
) -> Path:
    artifact = request.artifact
    reported = 0  # bytes already shown; a retry does not count them twice
    counted = progress.by_bytes and artifact.size is not None  # its size is in the bytes total

    def advance(size: int) -> None:
        nonlocal reported
        fresh = max(0, size - reported) if counted else 0
        reported += fresh
        progress.advance(fresh, artifact.filename)

    with cache.temp_file(suffix=".part") as temp:
        sink = fetch.FileSink(temp)
        try:
            hasher = fetch.fetch_verified(
                client, artifact.url, sink, allowed=request.allowed, package=request.package,
                filename=artifact.filename, index=request.index, progress=advance,
                retries=retries, backoff=backoff,
            )
        finally:
            sink.close()
        path = cache.add_artifact(temp, hasher.sha256, artifact.filename)
    progress.file_done(artifact.filename)
    return path


def _ready(path: Path, on_ready: Callable[[Path], object]) -> Path:
    on_ready(path)
    return path


# -- many files ---------------------------------------------------------------
def _first_error(futures: Iterable[Future[Path]]) -> Optional[BaseException]:
    """The error to raise: a real failure before the _Cancelled it caused in the others."""
    errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()]
    real = [e for e in errors if not isinstance(e, _Cancelled)]
    return (real or errors or [None])[0]


def _mismatches(futures: Iterable[Future[Path]]) -> Optional[IntegrityError]:
    """Every digest mismatch among finished downloads, as one error (None if another error came first)."""
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception()]
    found = [e for e in errors if isinstance(e, DigestMismatch)]
    if len(found) != len([e for e in errors if not isinstance(e, _Cancelled)]):
        return None
    return found[0] if len(found) == 1 else DigestMismatches(found)


class _Batch:
    """The downloads of one call: a pool started with the first file the cache lacks and fed as the
    requests come (the progress total grows with them), then waited for as a whole."""

    def __init__(self, reporter: Reporter, workers: int, fetch_one: Callable[[DownloadRequest, _Progress], Path]) -> None:
        self.reporter = reporter
        self.workers = workers
        self.fetch_one = fetch_one
        self.progress: Optional[_Progress] = None
        self.pool: Optional[ThreadPoolExecutor] = None
        self.futures: dict[Future[Path], DownloadRequest] = {}

    def add(self, misses: Sequence[DownloadRequest]) -> None:
        """Start these downloads (a failure among those already finished is raised first)."""
        if not misses:
            return
        if self.progress is None:
            by_bytes = all(r.artifact.size is not None for r in misses)
            total = sum(r.artifact.size or 0 for r in misses) if by_bytes else len(misses)
            self.reporter.task_started(TASK, total, "bytes" if by_bytes else "items")
            self.progress = _Progress(self.reporter, by_bytes)
            self.pool = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="download")
        else:
            error = _first_error(f for f in self.futures if f.done())
            if error is not None and not isinstance(error, DigestMismatch):
                raise error
            grown = sum(r.artifact.size or 0 for r in misses) if self.progress.by_bytes else len(misses)
            self.reporter.task_grown(TASK, grown)
        assert self.pool is not None
        for request in misses:
            self.futures[self.pool.submit(self.fetch_one, request, self.progress)] = request

    def finish(self) -> dict[DownloadRequest, Path]:
        """Wait for every download; the first failure (every digest mismatch, once) is raised."""
        done, _pending = wait(self.futures, return_when=FIRST_EXCEPTION)
        error = _first_error(done)
        if isinstance(error, DigestMismatch):  # verify every file: say all that are wrong, once
            done, _pending = wait(self.futures)
            error = _mismatches(done) or _first_error(done)
        if error is not None:
            raise error
        return {self.futures[f]: f.result() for f in self.futures}

    def close(self) -> None:
        """Stop what still runs (a no-op after success; after a failure or ^C the others stop)."""
        if self.progress is not None:
            self.progress.cancelled.set()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.progress is not None:
            self.reporter.task_finished(TASK)


def _arrivals(requests: Iterable[DownloadRequest]) -> Iterator[list[DownloadRequest]]:
    """The requests in the groups they can start in: a sequence at once (its whole total known to the progress
    at the start, and every request's hashes checked before any download), a generator one by one."""
    if isinstance(requests, Sequence):
        yield list(requests)
    else:
        for request in requests:
            yield [request]


def _offline_miss(request: DownloadRequest) -> IndexUnreachable:
    return IndexUnreachable(
        redact_url(request.artifact.url),
        f"{request.artifact.filename} is not in the cache, and --offline forbids downloading it",
        hint="run once without --offline (downloads are kept in the cache)",
    )


def download_all(
    requests: Iterable[DownloadRequest],
    *,
    client: httpx.Client,
    cache: Cache,
    reporter: Reporter = NULL_REPORTER,
    workers: int = 8,
    retries: int = 3,
    backoff: float = 0.25,
    offline: bool = False,
    on_ready: Callable[[Path], object] = lambda path: None,
) -> dict[DownloadRequest, Path]:
    """Fetch every requested file into the cache (verified), in parallel; returns the cached paths.

    Files already cached cost no request. ``requests`` may be a generator: each file then starts
    downloading as soon as it is produced (while the next is still being looked up), and the
    progress total grows as they come. On the first failure the other downloads are cancelled,
    their temporary files removed, and that error raised; a hash mismatch lets the others finish,
    so every mismatching file is named. ``offline``: a file not in the cache is an error naming
    it, never a request. ``on_ready`` is called with each file's cached path as soon as it is
    verified (cached ones at once), from the download threads: the next stage may start on it.
    ``client`` is used only when a file must be downloaded: a deferred one
    (credentials.deferred_client) is then made only for a miss (a warm install builds no client
    and no TLS context).
    """
    found: dict[DownloadRequest, Optional[Path]] = {}
    batch = _Batch(reporter, workers, lambda r, progress: _ready(_fetch(r, client, cache, progress, retries, backoff), on_ready))
    try:
        for group in _arrivals(requests):
            fresh = [r for r in dict.fromkeys(group) if r not in found]
            for request in fresh:
                if not request.allowed:
                    raise MissingHashError(request.package)
                found[request] = path = cache.find_artifact(request.allowed, filename=request.artifact.filename)
                if path is not None:
                    on_ready(path)
                elif offline:
                    raise _offline_miss(request)
            batch.add([r for r in fresh if found[r] is None])
        fetched = batch.finish() if batch.futures else {}
    finally:
        batch.close()
    return {r: found[r] or fetched[r] for r in found}


__all__ = [
    "DownloadRequest",
    "cached_artifacts",
    "check_hashes",
    "choose_artifact",
    "describe_target",
    "download_all",
]
