"""A wheel's METADATA read from any seekable bytes: a local file, memory, or HTTP range requests.

Over HTTP the usual cost is two requests: the tail of the file (end of central
directory and the central directory itself, which also tells the file's size),
then the METADATA member's local header and compressed bytes. ``zipfile`` does
the parsing (zip64 included); ``RangeFile`` only fetches what it is asked for,
reading ahead so its many small reads become one request.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import IO, Optional

from packaging.utils import canonicalize_name

from micro_thoth import zips

TAIL_BYTES = 64 * 1024
READ_AHEAD = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024 * 1024
_METADATA_MEMBER = re.compile(r"^([^/]+)\.dist-info/METADATA$")

Fetch = Callable[[int, int], bytes]  # (first byte, last byte) inclusive -> exactly those bytes


class NotAWheel(ValueError):
    """The bytes are not a readable wheel, or it has no (single) METADATA."""


class RangeFile(io.RawIOBase):
    """A read-only, seekable file of ``size`` bytes whose contents come from ``fetch`` on demand."""

    def __init__(self, fetch: Fetch, size: int, known: Optional[tuple[int, bytes]] = None) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._pos = 0
        self._chunks: list[tuple[int, bytes]] = [known] if known else []
        self.fetches = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def prefetch(self, start: int, length: int) -> None:
        """Fetch ``length`` bytes from ``start`` in one request (a member about to be read whole)."""
        if 0 <= start < self._size and length > 0:
            self._bytes(start, min(length, self._size - start))

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        length = min(len(buffer), self._size - self._pos)
        if length <= 0:
            return 0
        data = self._bytes(self._pos, length)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _bytes(self, start: int, length: int) -> bytes:
        for offset, data in self._chunks:
            if offset <= start and start + length <= offset + len(data):
                return data[start - offset : start - offset + length]
        end = min(self._size, start + max(length, READ_AHEAD)) - 1
        data = self._fetch(start, end)
        if len(data) != end - start + 1:
            raise OSError(f"asked for bytes {start}-{end}, got {len(data)} bytes")
        self.fetches += 1
        self._chunks.append((start, data))
        return data[:length]


def metadata_member(names: list[str], project: Optional[str] = None) -> str:
    """The ``<name>-<version>.dist-info/METADATA`` member (the project's, if several)."""
    found = [n for n in names if _METADATA_MEMBER.match(n)]
    if project is not None and len(found) > 1:
        wanted = canonicalize_name(project)
        found = [n for n in found if canonicalize_name(n.split("-", 1)[0]) == wanted] or found
    if len(found) != 1:
        raise NotAWheel(f"expected one .dist-info/METADATA, found {len(found)}")
    return found[0]


def read_metadata(fileobj: IO[bytes], project: Optional[str] = None) -> bytes:
    """The METADATA bytes of the wheel in ``fileobj`` (seekable); NotAWheel if unusable."""
    with zips.unreadable_as(NotAWheel, KeyError), zips.open_archive(fileobj) as archive:
        info = archive.getinfo(metadata_member(archive.namelist(), project))
        if info.file_size > MAX_METADATA_BYTES:
            raise NotAWheel(f"METADATA is {info.file_size} bytes, refusing")
        return archive.read(info)
