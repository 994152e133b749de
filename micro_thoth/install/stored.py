"""Archives of stored (uncompressed) members, copied out by the kernel: the cache's stored wheels and bytecode.

Unpacking a cached wheel inflates every member in Python (about 0.35 s of CPU per 100 MB).
The cache keeps, beside each verified wheel, a copy of it whose members are stored
uncompressed (``stored-v1``, a plain zip): each file's bytes are one contiguous range of
that file, so a warm install creates each file and has the kernel copy the range into it
(``copy_file_range``; ``sendfile`` across filesystems), without reading the bytes into the
process. The copy is written while the wheel is first unpacked, from the bytes that
unpacking inflates and checks against RECORD anyway (``safety.unpack_wheel(copy_to=...)``):
no second inflate, and one file per wheel, not one per member. The bytecode archives
(``bytecode-v1``) are stored zips too and come out the same way.

An archive here was written by thoth-pip from a checked wheel and published in one rename
after an fsync, like every cache entry; it is still read defensively: a member that is
compressed, escapes the tree, appears twice, or is shorter than its header says makes
``copy_out`` fail, and the caller drops the archive and unpacks the wheel instead.
"""

from __future__ import annotations

import errno
import mmap
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Optional

from .. import zips
from .linking import transfer
from .safety import ensure_dir, member_time, within

_LIMIT = 0xFFFFFFFF  # sizes and offsets of a zip without the zip64 extension stay below this


class StoredCopy:
    """An uncompressed copy of a wheel being written to ``path``: each member's local header, with
    the size and CRC the wheel's central directory gives (zipfile checks that CRC as the member is
    read), then its bytes, all through one buffered stream; the central directory when the ``with``
    block ends without an error.
    An archive beyond the plain zip format's limits (4 GB, 65,535 members) is refused (OSError)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed by close()
        self._central: list[bytes] = []
        self._offset = 0  # where the next header goes: kept by sum, as tell() would cost a syscall per member

    def member(self, member: zipfile.ZipInfo) -> IO[bytes]:
        """Where ``member``'s bytes go (its header is written now); the caller writes exactly them."""
        offset = self._offset
        if max(offset, member.file_size) >= _LIMIT or len(self._central) >= 0xFFFF:
            raise OSError(errno.EFBIG, "too large for an uncompressed copy")
        name, flags = _encoded(member.filename)
        time, date = _dos_time(member.date_time)
        crc, size = member.CRC, member.file_size
        self._file.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 0, time, date, crc, size, size, len(name), 0))
        self._file.write(name)
        self._offset += zips.LOCAL_HEADER_BYTES + len(name) + size
        self._central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, flags, 0, time, date, crc, size,
                                         size, len(name), 0, 0, 0, 0, member.external_attr, offset) + name)
        return self._file

    def __enter__(self) -> StoredCopy:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        """The central directory written if the copy is complete; the file closed either way."""
        if kind is None:
            self._finish()
        self._file.close()

    def _finish(self) -> None:
        with self._file:
            start = self._file.tell()
            if start != self._offset:  # a member's bytes were not the size its header says
                raise OSError(errno.EIO, f"the uncompressed copy holds {start} bytes, not {self._offset}")
            directory = b"".join(self._central)
            if start + len(directory) >= _LIMIT:
                raise OSError(errno.EFBIG, "too large for an uncompressed copy")
            self._file.write(directory)
            count = len(self._central)
            self._file.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), start, 0))


def _encoded(name: str) -> tuple[bytes, int]:
    """The name's bytes and the general-purpose flags (bit 11: UTF-8), as zipfile writes them."""
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), 0x800


def _dos_time(stamp: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = stamp
    return hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day


def copy_out(archive: Path, into: Path, accept: Optional[Callable[[str], bool]] = None, replace: bool = False) -> int:
    """Write each file member of the stored ``archive`` into the empty directory ``into``; how
    many. ``.py`` files get their member's time (safety.member_time), so bytecode compiled for
    the same wheel stays valid; executables keep their mode. Raises (zipfile.BadZipFile,
    EOFError, OSError, UnsafeWheel) if the archive is damaged, holds a compressed member or twice
    the same file, or a name ``accept`` refuses; the files it wrote are then removed again
    (directories stay). ``replace``: a file ``into`` already has is replaced (the kept bytecode
    over a wheel's own ``.pyc``), and removed like the others on failure."""
    written: dict[str, None] = {}  # the files created, in order
    with open(archive, "rb") as file:  # one open: zipfile lists the members, the kernel copies from its descriptor
        with zips.open_archive(file) as listing:
            members = [m for m in listing.infolist() if not m.filename.endswith("/")]
        fd = file.fileno()
        try:
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
                made: set[str] = set()
                base = os.path.abspath(into)
                for member in members:
                    if accept is not None and not accept(member.filename):
                        raise zipfile.BadZipFile(f"{archive.name} holds an unexpected member {member.filename!r}")
                    _copy_member(fd, view, member, within(base, member.filename), made, written, replace)
        except BaseException as exc:
            for path in written:
                os.unlink(path)
            if isinstance(exc, ValueError):  # mmap of an empty file
                raise zipfile.BadZipFile(f"{archive.name} is empty") from exc
            raise
    return len(members)


def _copy_member(fd: int, view: mmap.mmap, member: zipfile.ZipInfo, target: str, made: set[str], written: dict[str, None],
                 replace: bool) -> None:
    start = _data_start(view, member)
    parent = os.path.dirname(target)
    if parent not in made:
        ensure_dir(parent)
        made.add(parent)
    mode = 0o755 if (member.external_attr >> 16) & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        dst = os.open(target, flags, mode)  # a duplicate fails here
    except FileExistsError:
        if not replace or target in written:
            raise
        os.unlink(target)  # the tree's own file, not one of ours
        dst = os.open(target, flags, mode)
    written[target] = None
    try:
        if member.file_size and transfer(fd, dst, member.file_size, start) != member.file_size:
            raise EOFError(f"{member.filename} is cut short")
        if target.endswith(".py"):
            stamp = member_time(member)
            os.utime(dst, (stamp, stamp))
    finally:
        os.close(dst)


def _data_start(view: mmap.mmap, member: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes begin (after its local header), checked against the file's end."""
    if member.compress_type != zipfile.ZIP_STORED:
        raise zipfile.BadZipFile(f"{member.filename} is not a stored member")
    _, start = zips.local_header(view, member)
    if start + member.file_size > len(view):
        raise EOFError(f"{member.filename} runs past the end of the archive")
    return start
