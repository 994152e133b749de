"""Fetch-and-verify: one file's bytes streamed into a sink, hashed on the way, checked against its digests.

The one path every download takes (install downloads in ``download.py``, and the
index's full downloads for metadata and sdist builds): ``file://`` URLs are copied,
HTTP bodies are streamed raw (never decoded: the digest is of the file as stored),
a connection lost mid-body starts the file over, and the digests are checked before
the caller sees a byte.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Optional, Protocol

from micro_thoth.digests import StreamingHasher, verify
from micro_thoth.errors import IndexUnreachable
from micro_thoth.models import Hash, redact_url

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 16
# The digest is of the file as stored: ask for it unencoded and never decode it (some hosts
# label a .tar.gz "Content-Encoding: gzip", and decoding it would change its digest).
RAW = {"Accept-Encoding": "identity"}


class Sink(Protocol):
    """Where the bytes go; ``restart`` drops those of an attempt that lost its connection."""

    def restart(self) -> None: ...

    def write(self, chunk: bytes) -> object: ...


class FileSink:
    """A file written from its start on every attempt."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Optional[BinaryIO] = None

    def restart(self) -> None:
        self.close()
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, chunk: bytes) -> object:
        assert self._fh is not None
        return self._fh.write(chunk)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def algorithms(allowed: Iterable[Hash]) -> list[str]:
    """The algorithms of ``allowed`` this Python can compute (sha256 is always added)."""
    return sorted({h.algorithm for h in allowed if h.algorithm in hashlib.algorithms_guaranteed})


def fetch_verified(
    client: httpx.Client,
    url: str,
    sink: Sink,
    *,
    allowed: Sequence[Hash],
    package: str,
    filename: str,
    index: Optional[str],
    progress: Callable[[int], None] = lambda size: None,
    retries: int = 3,
    backoff: float = 0.25,
    opened: Optional[httpx.Response] = None,
) -> StreamingHasher:
    """Stream ``url`` into ``sink`` and verify it against ``allowed``; the hasher (size, digests).

    ``opened`` is a response to a GET of ``url`` (asked with ``RAW``) whose body the
    first attempt reads instead of asking again (a range request answered with
    the whole file). ``progress`` gets the bytes received so far by the current attempt. An empty
    ``allowed`` checks nothing: only a page without digests gives one (install
    downloads refuse unhashed entries before they start).
    """
    hasher = StreamingHasher(algorithms(allowed))

    def write(chunk: bytes) -> None:
        sink.write(chunk)
        hasher.update(chunk)
        progress(hasher.size)

    def restart() -> None:
        nonlocal hasher
        hasher = StreamingHasher(algorithms(allowed))
        sink.restart()

    if url.startswith("file:"):
        _copy_local(url, restart, write)
    else:
        _stream(client, url, restart, write, retries, backoff, opened)
    if allowed:
        verify(hasher.digests(), allowed, package=package, filename=filename, index=index)
    return hasher


def local_path(url: str) -> Path:
    """The path of a ``file://`` URL."""
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


def _copy_local(url: str, restart: Callable[[], None], write: Callable[[bytes], None]) -> None:
    try:
        source = open(local_path(url), "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise IndexUnreachable(redact_url(url), exc.strerror or type(exc).__name__) from exc
    with source:
        restart()
        while chunk := source.read(CHUNK):
            write(chunk)


def request(client: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    """``net.request`` (retries, credentials, one error translation), for every request index/ sends (and
    download.py, through ``fetch_verified``). net.py, and with it httpx, is imported here, with the run's first
    request, and nowhere else in index/: a warm lock sends none and loads neither (tests/pipeline/test_warm_lock.py)."""
    from micro_thoth import net

    return net.request(client, method, url, **options)


def _stream(client: httpx.Client, url: str, restart: Callable[[], None], write: Callable[[bytes], None],
            retries: int, backoff: float, opened: Optional[httpx.Response]) -> None:
    """GET ``url`` into the sink; a connection lost mid-body starts the file over (``net.request``'s retries)."""

    def body(response: httpx.Response) -> None:
        if response.status_code != 200:
            raise IndexUnreachable(redact_url(url), f"HTTP {response.status_code} {response.reason_phrase}".strip())
        restart()
        for chunk in response.iter_raw():  # as the connection gives them: a chunk size would copy each through httpx's re-chunker
            write(chunk)

    response = request(client, "GET", url, headers=RAW, retries=retries, backoff=backoff, stream=True,
                           read=body, first=opened)
    response.close()
