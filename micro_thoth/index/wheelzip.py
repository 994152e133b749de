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
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Optional

from packaging.utils import canonicalize_name

from micro_thoth import zips

TAIL_BYTES = 64 * 1024
READ_AHEAD = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_PACKED_BYTES = MAX_METADATA_BYTES + (MAX_METADATA_BYTES >> 10) + 1024  # deflate's worst case is a few bytes more
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
    """The METADATA bytes of the wheel in ``fileobj`` (seekable); NotAWheel if unusable. A plain
    archive's is read straight from its central directory (``_plain_metadata``), any other by zipfile."""
    found = _plain_metadata(fileobj, project)
    if found is not None:
        return found
    with zips.unreadable_as(NotAWheel, KeyError), zips.open_archive(fileobj) as archive:
        info = archive.getinfo(metadata_member(archive.namelist(), project))
        if info.file_size > MAX_METADATA_BYTES:
            raise NotAWheel(f"METADATA is {info.file_size} bytes, refusing")
        _check_packed(info.compress_size)
        try:
            return archive.read(info)
        except OSError as exc:  # bz2's for a corrupt stream ("Invalid data stream"), not one of UNREADABLE
            if info.compress_type != zipfile.ZIP_BZIP2:
                raise
            raise NotAWheel(f"not a readable wheel: METADATA's bzip2 stream: {exc}") from exc


def _check_packed(size: int) -> None:
    """Refuse a METADATA said to take more compressed bytes than any METADATA read (before they are fetched)."""
    if size > MAX_PACKED_BYTES:
        raise NotAWheel(f"METADATA is {size} bytes compressed, refusing")


_END = struct.Struct("<4s4H2LH")  # the end of central directory record (zipfile's structEndArchive)
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")  # a central directory entry, then its name, extra field and comment
_LENGTHS = struct.Struct("<3H")  # an entry's name, extra field and comment lengths, 28 bytes in
_WANTED = b".dist-info/METADATA"
_LARGE = 0xFFFFFFFF  # a size or offset kept in a zip64 extra field


def _plain_metadata(fileobj: IO[bytes], project: Optional[str]) -> Optional[bytes]:
    """``read_metadata`` of a plain archive without listing its members: zipfile makes a ZipInfo
    of each of thousands of entries (a fifth of a millisecond a wheel of a thousand files);
    here an entry is three lengths and a test of its name's end, and only the METADATA member is
    read (stored or deflated, its size and CRC-32 checked). None for anything else (an archive
    comment, zip64, bytes before the archive, a name with NUL, an encrypted or otherwise stored
    member, a header that does not match its entry): zipfile then reads it, or says why not."""
    size = fileobj.seek(0, io.SEEK_END)
    if size < _END.size:
        return None
    fileobj.seek(size - _END.size)
    signature, disk, first, here, count, cd_size, cd_offset, comment = _END.unpack(fileobj.read(_END.size))
    if signature != b"PK\x05\x06" or comment or disk or first or here != count or cd_offset + cd_size != size - _END.size:
        return None
    fileobj.seek(cd_offset)
    directory = fileobj.read(cd_size)
    try:
        entries = _metadata_entries(directory, count)
    except UnicodeDecodeError:  # a name flagged UTF-8 that is not: zipfile says it
        return None
    if not entries:
        return None
    names = [name for name, _at in entries]
    try:
        wanted = metadata_member(names, project)
    except NotAWheel:
        return None  # zipfile says it
    entry = _ENTRY.unpack_from(directory, [at for name, at in entries if name == wanted][-1])
    return _member(fileobj, wanted, entry)


def _metadata_entries(directory: bytes, count: int) -> Optional[list[tuple[str, int]]]:
    """(name, where its entry starts) of each ``*.dist-info/METADATA`` entry of a central directory
    of ``count`` entries; None if it is not exactly that (or a name holds a NUL, which zipfile cuts)."""
    found, at, end = [], 0, len(directory)
    for _ in range(count):
        if at + _ENTRY.size > end or not directory.startswith(b"PK\x01\x02", at):
            return None
        name_length, extra_length, comment_length = _LENGTHS.unpack_from(directory, at + 28)
        name = at + _ENTRY.size
        if directory.find(b"\0", name, name + name_length) >= 0:
            return None
        if directory.endswith(_WANTED, name, name + name_length):
            flags = _ENTRY.unpack_from(directory, at)[5]
            found.append((directory[name : name + name_length].decode("utf-8" if flags & 0x800 else "cp437"), at))
        at = name + name_length + extra_length + comment_length
    return found if at == end else None


def _member(fileobj: IO[bytes], name: str, entry: tuple[int, ...]) -> Optional[bytes]:
    """The member of central directory ``entry`` (named ``name``), if plainly stored or deflated,
    unencrypted, within ``MAX_METADATA_BYTES`` and matching its local header, size and CRC-32."""
    flags, method, crc, packed, unpacked, offset = entry[5], entry[6], entry[9], entry[10], entry[11], entry[18]
    if flags & 0x61 or method not in (0, 8) or _LARGE in (packed, unpacked, offset) or unpacked > MAX_METADATA_BYTES:
        return None
    _check_packed(packed)
    encoded = name.encode("utf-8" if flags & 0x800 else "cp437")
    fileobj.seek(offset)
    header = fileobj.read(zips.LOCAL_HEADER_BYTES + len(encoded))  # the local header, then the name it should spell
    member = zipfile.ZipInfo(name)
    member.header_offset = 0  # in ``header``
    try:
        spelt, start = zips.local_header(memoryview(header), member)
    except zipfile.BadZipFile:
        return None
    if header[spelt] != encoded:
        return None
    fileobj.seek(offset + start)
    data = fileobj.read(packed)
    try:
        data = data if method == 0 else zlib.decompressobj(-15).decompress(data, unpacked + 1)
    except zlib.error:
        return None
    return data if len(data) == unpacked and zlib.crc32(data) == crc else None
