"""Zip archives we did not write (wheels): the one list of zipfile's ways to fail, translated once.

``zipfile`` fails in many ways on a damaged or hostile archive: ``BadZipFile``
(no central directory, a bad CRC), ``LargeZipFile``, ``NotImplementedError``
(an unknown compression method), ``EOFError`` (truncated), ``zlib.error`` (a
corrupt deflate stream), ``RuntimeError`` (a member flagged encrypted). The
index's metadata reads, the ABI reader and the installer's checks each turn all
of them into their own error through here. ``open_archive`` refuses, as ``BadZipFile``, a
member said to start before the file does, where zipfile would seek (``ValueError`` in
memory, ``OSError`` EINVAL on disk: neither reads as the archive's fault).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

UNREADABLE: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error,
    RuntimeError,  # a member flagged encrypted: "password required for extraction"
)


@contextmanager
def unreadable_as(fail: Callable[[str], Exception], *also: type[Exception]) -> Iterator[None]:
    """Run the block; an archive that cannot be read raises ``fail("not a readable wheel: <why>")``
    from the cause (``also``: more exceptions the caller counts as unreadable, e.g. ``KeyError``)."""
    try:
        yield
    except (*UNREADABLE, *also) as exc:
        raise fail(f"not a readable wheel: {exc}") from exc


def open_archive(fileobj: IO[bytes]) -> zipfile.ZipFile:
    """``zipfile.ZipFile(fileobj)``, refusing (``BadZipFile``) a central directory whose member offsets
    lie before the file's start (an offset past where the directory lies moves them there)."""
    archive = zipfile.ZipFile(fileobj)
    if any(info.header_offset < 0 for info in archive.infolist()):
        archive.close()
        raise zipfile.BadZipFile("a member's offset lies before the start of the file")
    return archive
