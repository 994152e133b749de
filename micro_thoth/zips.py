"""Zip archives we did not write (wheels): the one list of zipfile's ways to fail, translated once.

``zipfile`` fails in many ways on a damaged or hostile archive: ``BadZipFile``
(no central directory, a bad CRC), ``LargeZipFile``, ``NotImplementedError``
(an unknown compression method), ``EOFError`` (truncated), ``zlib.error`` (a
corrupt deflate stream; ``lzma.LZMAError`` for LZMA's), ``UnicodeDecodeError`` (a name flagged UTF-8 that is not),
``RuntimeError`` (a member flagged encrypted). The
index's metadata reads, the ABI reader and the installer's checks each turn all
of them into their own error through here. ``open_archive`` refuses, as ``BadZipFile``, a
member said to start before the file does, where zipfile would seek (``ValueError`` in
memory, ``OSError`` EINVAL on disk: neither reads as the archive's fault), and a member
flagged encrypted, so that ``RuntimeError`` (a ``RecursionError`` too) is not in ``UNREADABLE``:
the readers of archives we did not write open them here. ``local_header`` decodes
a member's local file header from the archive's bytes, for the readers that skip zipfile's.
"""

from __future__ import annotations

import lzma
import mmap
import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Union

UNREADABLE: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error, UnicodeDecodeError,
    lzma.LZMAError,
)  # not RuntimeError, zipfile's "password required" for a member flagged encrypted: open_archive refuses those

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then (after 22 bytes) name and extra field lengths
LOCAL_HEADER_BYTES = _LOCAL_HEADER.size  # a local file header's bytes before the name it spells


@contextmanager
def unreadable_as(fail: Callable[[str], Exception], *also: type[Exception]) -> Iterator[None]:
    """Run the block; an archive that cannot be read raises ``fail("not a readable wheel: <why>")``
    from the cause (``also``: more exceptions the caller counts as unreadable, e.g. ``KeyError``)."""
    try:
        yield
    except (*UNREADABLE, *also) as exc:
        raise fail(f"not a readable wheel: {exc}") from exc


def open_archive(file: Union[str, os.PathLike[str], IO[bytes]]) -> zipfile.ZipFile:
    """``zipfile.ZipFile(file)``, refusing (``BadZipFile``) a central directory whose member offsets
    lie before the file's start (an offset past where the directory lies moves them there) or that
    flags a member encrypted (zipfile would raise RuntimeError when it is read)."""
    archive = zipfile.ZipFile(file)
    odd = next((info for info in archive.infolist() if info.header_offset < 0 or info.flag_bits & 0x1), None)
    if odd is not None:
        archive.close()
        if odd.header_offset < 0:
            raise zipfile.BadZipFile("a member's offset lies before the start of the file")
        raise zipfile.BadZipFile(f"{odd.filename} is encrypted (password required for extraction)")
    return archive


def local_header(data: Union[memoryview, mmap.mmap], member: zipfile.ZipInfo) -> tuple[slice, int]:
    """Where, in the archive's bytes ``data``, ``member``'s local file header spells its name (a
    slice) and where its bytes begin; ``BadZipFile`` if the header lies outside ``data`` or is none."""
    offset = member.header_offset
    if offset < 0 or offset + _LOCAL_HEADER.size > len(data):
        raise zipfile.BadZipFile(f"{member.filename}: its local header is outside the archive")
    signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(data, offset)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{member.filename}: bad magic number for its local header")
    name_start = offset + _LOCAL_HEADER.size
    return slice(name_start, name_start + name_length), name_start + name_length + extra_length
