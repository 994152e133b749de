"""Refusing hostile wheels: escaping paths, duplicates, lying RECORDs, zip bombs; checked unpacking."""

from __future__ import annotations

import base64
import calendar
import csv
import functools
import hashlib
import io
import os
import posixpath
import stat
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Optional

from installer.exceptions import InstallerError
from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES

from .. import zips
from ..errors import UnsafeWheel

BOMB_RATIO = 100
_UNREADABLE_FILE: tuple[type[Exception], ...] = (*zips.UNREADABLE, OSError)


BOMB_FLOOR = 1 << 30
IN_MEMORY = 64 << 20  # wheels up to this size are unpacked from memory
WHOLE_MEMBER = 8 << 20  # members of an in-memory wheel up to this size are inflated in one call
_PLAIN_PATHS = os.sep == "/" and os.altsep is None  # ``within``'s shortcut: POSIX paths
MAX_DEPTH = 256  # path components of a member: deeper than any real wheel, well inside Python's recursion limit and PATH_MAX
_ZIP_EPOCH = calendar.timegm((1980, 1, 1, 0, 0, 0, 0, 0, 0))  # the earliest time a zip member can have


def check_wheel(path: Path) -> None:
    """Refuse (UnsafeWheel) a wheel that escapes its target, lies in RECORD, or is a bomb."""
    try:
        with zips.open_archive(path) as archive:
            check_members(path, archive.infolist())
            check_size(path, archive.infolist())
            _check_record(path, archive)
    except _UNREADABLE_FILE as exc:
        raise UnsafeWheel(f"refusing {path.name}: it is not a readable zip archive ({exc})", distribution=path.name) from exc


def check_members(path: Path, members: Sequence[zipfile.ZipInfo]) -> None:
    names = [member.filename for member in members]
    files = [name if _plain(name) else posixpath.normpath(name) for name in names if name[-1:] != "/"]  # ./a, a//b: a
    if len(set(names)) != len(names) or len(set(files)) != len(files):
        duplicate = next((name for name in names if names.count(name) > 1), None) or next(name for name in files if files.count(name) > 1)
        refuse(path, f"has duplicate entries for {duplicate!r}")
    directories = _directories(names)
    clash = next((name for name in names if name in directories and name[-1:] != "/"), None)
    if clash is not None:
        refuse(path, f"has {clash!r} both as a file and as a directory")
    tops = {name.split("/", 1)[0] for name in names}
    data_dirs = {top[: -len(".dist-info")] + ".data" for top in tops if top.endswith(".dist-info")}
    for member in members:
        _check_name(path, member.filename, data_dirs)
        if stat.S_ISLNK(member.external_attr >> 16):
            refuse(path, f"contains a symbolic link {member.filename!r}")


def _plain(name: str) -> bool:
    """No part of ``name`` is empty, ``.`` or ``..`` (nor starts with a dot): normpath would leave it as it is."""
    return name[:1] != "." and "/." not in name and "//" not in name


def _directories(names: Sequence[str]) -> set[str]:
    """Every directory the member ``names`` imply (their parents, their parents' parents...)."""
    directories: set[str] = set()
    for name in names:
        parent = name.rpartition("/")[0]
        while parent and parent not in directories:
            directories.add(parent)
            parent = parent.rpartition("/")[0]
    return directories


def _check_name(path: Path, name: str, data_dirs: set[str]) -> None:
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or "\0" in name or (len(name) > 1 and name[1] == ":"):
        refuse(path, f"has an absolute or non-portable member path {name!r}")
    if ".." in parts:
        refuse(path, f"has a member path escaping its target {name!r}")
    if len(parts) > MAX_DEPTH:
        shown = name if len(name) <= 80 else name[:80] + "..."
        refuse(path, f"has a member path too deep ({len(parts) - 1} directories, at most {MAX_DEPTH - 1}): {shown!r}")
    if parts[0] in data_dirs and not name.endswith("/") and (len(parts) < 3 or parts[1] not in SCHEME_NAMES):
        refuse(path, f"puts {name!r} outside the known schemes of its .data directory")


def check_size(path: Path, members: Sequence[zipfile.ZipInfo]) -> None:
    total = sum(member.file_size for member in members)
    archive = max(path.stat().st_size, 1)
    if total > BOMB_FLOOR and total > BOMB_RATIO * archive:
        refuse(path, f"unpacks to {total} bytes from {archive} (a zip bomb?)")


def _check_record(path: Path, archive: zipfile.ZipFile) -> None:
    _record_rows(path, archive)  # names, and hashes a digest can be compared with (installer's check would raise TypeError)
    _validated(path, archive, contents=True)


def _validated(path: Path, archive: zipfile.ZipFile, *, contents: bool) -> WheelFile:
    """The wheel's installer view once its .dist-info, WHEEL and RECORD (names or ``contents``) hold."""
    with _refusing_bad_record(path):
        source = WheelFile(archive)
        source.dist_info_dir  # noqa: B018 - validates exactly one matching .dist-info
        wheel = source.read_dist_info("WHEEL")
        source.validate_record(validate_contents=contents)
    if "Wheel-Version: 1." not in wheel:
        refuse(path, "is not a version 1.x wheel")
    return source


@contextmanager
def _refusing_bad_record(path: Path) -> Iterator[None]:
    """Turn installer's complaints about a wheel's dist-info into a refusal naming ``path``."""
    try:
        yield
    except KeyError as exc:
        refuse(path, f"lacks a required file: {exc}", exc)
    except (ValueError, InstallerError, InvalidRecordEntry, UnicodeDecodeError, csv.Error) as exc:  # csv: RECORD parsed here
        refuse(path, f"does not match its RECORD: {issues(exc)}", exc)


def issues(exc: Exception) -> str:
    issues = getattr(exc, "issues", None)
    if issues:
        return "; ".join(str(issue) for issue in issues[:3])
    return str(exc)


def refuse(path: Path, reason: str, cause: Optional[BaseException] = None) -> None:
    raise UnsafeWheel(f"refusing {path.name}: it {reason}", distribution=path.name) from cause


CopyTo = Callable[[zipfile.ZipInfo], IO[bytes]]  # where a member's bytes go too (a second copy of each)


def unpack_wheel(wheel: Path, into: Path, *, read_only: bool = True, checked: bool = False,
                 copy_to: Optional[CopyTo] = None) -> None:
    """Check ``wheel`` and extract it verbatim into the empty dir ``into``, in one pass.

    The checks are ``check_wheel``'s; file contents are hashed while they are
    written and compared with RECORD, so a refusal leaves a partial ``into`` for
    the caller to discard. ``into`` is a cache tree (``unpacked-v1/<sha256>/``, files
    read-only, for the hardlink and symlink modes) or a staging tree in the target
    environment (``read_only=False``: its files are moved into place as they are). A
    ``.py`` file gets its archive member's time, so bytecode compiled for it once (and kept
    in the cache) stays valid for every later unpacking of the same wheel. ``checked``: these
    very bytes (by digest) passed the whole check before, so contents are not hashed again.
    ``copy_to(member)``: where each file member's inflated bytes go as well (the cache's stored
    copy, install/stored.py), announced member by member.
    """
    try:
        blob = _whole(wheel)
        stream: IO[bytes] = io.BytesIO(blob) if blob is not None else open(wheel, "rb")  # noqa: SIM115 - closed below
        with stream, zips.open_archive(stream) as archive:  # a member before the file's start: refused
            archive.filename = str(wheel)  # read from memory, named as the file (installer parses the name)
            members = archive.infolist()
            check_members(wheel, members)
            check_size(wheel, members)
            rows = _record_rows(wheel, archive)
            made: set[str] = set()
            read = _reader(archive, memoryview(blob) if blob is not None else None)
            base = os.path.abspath(into)
            for member in members:
                if not member.filename.endswith("/"):
                    target = within(base, member.filename)
                    copy = copy_to(member) if copy_to is not None else None
                    _extract_checked(wheel, read, member, target, {} if checked else rows, made, read_only, copy)
            _touch_record(into, members)
    except zips.UNREADABLE as exc:
        refuse(wheel, f"is not a readable zip archive ({exc})", exc)


def _whole(wheel: Path) -> Optional[bytes]:
    """A wheel of ordinary size read at once: its members are then read from memory, without a
    seek and a read per member (None: a large one, read from the file as it goes)."""
    return wheel.read_bytes() if wheel.stat().st_size <= IN_MEMORY else None


Read = Callable[[zipfile.ZipInfo], Iterator[bytes]]  # a member's inflated bytes, in chunks


def _reader(archive: zipfile.ZipFile, data: Optional[memoryview]) -> Read:
    """How members are read: a member of a wheel held in memory (``data``) that is small enough is
    inflated in one call from its bytes (``_inflated``: no file object, no read loop); others
    stream through zipfile in 1 MiB chunks. zipfile's checks apply either way: the local header
    names the same member, the size and the CRC are the central directory's (a member hashed against
    RECORD too: a wheel is refused alike by every reader, the first unpacking as a later unchecked one)."""

    ends = _ends(archive) if data is not None else {}

    def read(member: zipfile.ZipInfo) -> Iterator[bytes]:
        try:
            if data is not None and member.file_size <= WHOLE_MEMBER and member.compress_type in _ONE_CALL:
                yield _inflated(data, member, ends[member.header_offset])
                return
            with archive.open(member) as src:
                while chunk := src.read(1 << 20):
                    yield chunk
        except zlib.error as exc:  # zlib's message names no member
            raise zipfile.BadZipFile(f"{member.filename!r} holds corrupt deflate data ({exc})") from exc

    return read


_ONE_CALL = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _ends(archive: zipfile.ZipFile) -> dict[int, int]:
    """Where each member's bytes must end, by its header offset: at the next member's header or the
    central directory (zipfile's check against overlapping members, a zip bomb, since Python 3.13)."""
    offsets = sorted({member.header_offset for member in archive.infolist()})
    return dict(zip(offsets, [*offsets[1:], archive.start_dir]))


def _inflated(data: memoryview, member: zipfile.ZipInfo, end: int) -> bytes:
    """The member's bytes from the in-memory archive ``data`` (they end by ``end``), checked as
    ``ZipFile.open`` checks them (BadZipFile otherwise)."""
    name, start = zips.local_header(data, member)
    if member.flag_bits & 0x61:  # encrypted (zips.open_archive refuses it first), patched data, strong encryption
        raise zipfile.BadZipFile(f"{member.filename}: uses encryption or patched data, which no reader here supports")
    if data[name] != _name_bytes(member):
        raise zipfile.BadZipFile(f"the local header of {member.orig_filename!r} names another file")
    if start + member.compress_size > end:
        raise zipfile.BadZipFile(f"{member.filename!r} overlaps the next member (a zip bomb?)")
    raw = data[start : start + member.compress_size]
    if len(raw) != member.compress_size:
        raise EOFError(f"{member.filename} runs past the end of the archive")
    if member.compress_type == zipfile.ZIP_STORED:
        out = bytes(raw)
    else:
        out = zlib.decompressobj(-15).decompress(raw, member.file_size + 1)  # never more than one byte too many
    if len(out) != member.file_size or zlib.crc32(out) != member.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 or size for file {member.filename!r}")
    return out


def _name_bytes(member: zipfile.ZipInfo) -> bytes:
    """The member's name as its local header must hold it (UTF-8 if flagged, else cp437, which an
    ASCII name is too: the usual case skips the cp437 codec's Python layer)."""
    name = member.orig_filename
    if name.isascii():
        return name.encode("ascii")
    return name.encode("utf-8" if member.flag_bits & 0x800 else "cp437")


def _record_rows(path: Path, archive: zipfile.ZipFile) -> dict[str, RecordEntry]:
    """RECORD entries by path, after the name-level checks of installer's ``validate_record``
    (contents come later, as each file is written). RECORD is parsed once: installer's check
    would parse it a second time and compare paths through ``posixpath.commonpath``, per file."""
    with _refusing_bad_record(path):
        source = WheelFile(archive)
        dist_info = source.dist_info_dir  # exactly one matching .dist-info
        wheel = source.read_dist_info("WHEEL")
        rows = {row[0]: RecordEntry.from_elements(*row) for row in parse_record_file(source.read_dist_info("RECORD").splitlines())}
    if "Wheel-Version: 1." not in wheel:
        refuse(path, "is not a version 1.x wheel")
    problems = _record_issues(str(archive.filename), dist_info, archive.infolist(), rows)
    if problems:
        refuse(path, f"does not match its RECORD: {'; '.join(problems[:3])}")
    return rows


def _record_issues(wheel: str, dist_info: str, members: Sequence[zipfile.ZipInfo], rows: Mapping[str, RecordEntry]) -> list[str]:
    """What installer's ``WheelFile.validate_record(validate_contents=False)`` reports, in its words:
    a file RECORD does not name, a file without hash or size, RECORD with either, a signature in it."""
    issues: list[str] = []
    unlisted = dict(rows)
    prefix, record = f"{dist_info}/", f"{dist_info}/RECORD"
    for member in members:
        name = member.filename
        if name[-1:] == "/":
            continue
        entry = unlisted.pop(name, None)
        if name.startswith(prefix) and name.rpartition("/")[2] in ("RECORD.p7s", "RECORD.jws"):
            if entry is not None:
                issues.append(f"In {wheel}, digital signature file {name} is incorrectly contained in RECORD.")
        elif entry is None:
            issues.append(f"In {wheel}, {name} is not mentioned in RECORD")
        elif name == record:
            if entry.hash_ is not None or entry.size is not None:
                issues.append(f"In {wheel}, RECORD file incorrectly contains hash / size.")
        elif entry.hash_ is None or entry.size is None:
            issues.append(f"In {wheel}, hash / size of {name} is not included in RECORD")
        elif entry.hash_.name != "sha256" and not _comparable(entry.hash_.name):
            issues.append(f"In {wheel}, the hash of {name} in RECORD uses {entry.hash_.name}, which gives no digest to compare")
    return issues


@functools.cache
def _comparable(algorithm: str) -> bool:
    """Whether hashlib makes a digest of its own size for ``algorithm`` (not shake_*'s: it wants a length;
    nor one this OpenSSL lists but will not make)."""
    try:
        return hashlib.new(algorithm).digest_size > 0
    except ValueError:
        return False


def _extract_checked(
    path: Path, read: Read, member: zipfile.ZipInfo, target: str, rows: Mapping[str, RecordEntry],
    made: set[str], read_only: bool, copy: Optional[IO[bytes]] = None,
) -> None:
    parent = os.path.dirname(target)
    if parent not in made:
        ensure_dir(parent)
        made.add(parent)
    entry = rows.get(member.filename)
    hasher = _hasher(entry.hash_.name) if entry is not None and entry.hash_ is not None else None
    size = 0
    executable = (member.external_attr >> 16) & 0o111
    mode = (0o555 if executable else 0o444) if read_only else (0o755 if executable else 0o644)
    dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        for chunk in read(member):
            size += len(chunk)
            if hasher is not None:
                hasher.update(chunk)
            write_all(dst, chunk)
            if copy is not None:
                copy.write(chunk)
        if read_only:
            os.fchmod(dst, mode)  # the cache's trees are read-only whatever the umask
        if target.endswith(".py"):
            stamp = member_time(member)
            os.utime(dst, (stamp, stamp))
    finally:
        os.close(dst)
    if hasher is not None and entry is not None and entry.hash_ is not None:
        actual = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()
        if actual != entry.hash_.value or size != entry.size:
            refuse(path, f"does not match its RECORD: {member.filename} has another hash or size")


def _hasher(name: str) -> hashlib._Hash:
    """A new hash object (sha256, what every wheel's RECORD uses, without ``hashlib.new``'s Python layer)."""
    return hashlib.sha256() if name == "sha256" else hashlib.new(name)


def member_time(member: zipfile.ZipInfo) -> int:
    """The member's time as seconds (read as UTC: the same on every machine), or 1980 if it lies
    in the future (a file newer than its RECORD would look edited: integrity.py)."""
    stamp = _seconds(member.date_time)
    return stamp if _ZIP_EPOCH <= stamp <= time.time() else _ZIP_EPOCH


@functools.lru_cache(maxsize=256)
def _seconds(date_time: tuple[int, int, int, int, int, int]) -> int:
    """``calendar.timegm`` of a member's time (most members of a wheel share one), 1980 if it has none."""
    try:
        return calendar.timegm((*date_time, 0, 0, 0))
    except (OverflowError, ValueError):
        return _ZIP_EPOCH


def ensure_dir(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` with fewer system calls: one ``mkdir`` when the parent
    exists (the usual case while a tree is written top-down, makedirs adds a ``stat``), a failed
    ``mkdir`` more per missing ancestor; FileExistsError if a file is there."""
    try:
        os.mkdir(path)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            raise
        ensure_dir(parent)
        ensure_dir(path)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``fd`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _touch_record(into: Path, members: Sequence[zipfile.ZipInfo]) -> None:
    """RECORD is the newest file of a tree (integrity.py compares every file's time with it): the
    wheel's own, its one top-level .dist-info's (RECORD may name files the wheel lacks)."""
    record = next((m.filename for m in members if m.filename.endswith(".dist-info/RECORD") and m.filename.count("/") == 1), None)
    if record is not None:
        os.utime(inside(str(into), record))


def inside(root: str, path: str) -> str:
    """``root/path`` normalised; UnsafeWheel if it leaves ``root`` (strings: this is a hot path)."""
    return within(os.path.abspath(root), path)


def within(base: str, path: str) -> str:
    """``inside`` for a ``base`` already absolute and normalised (``os.path.abspath``): a loop over a
    tree's files makes its base once, not once per file."""
    if _PLAIN_PATHS and path and path[0] not in "./" and "/." not in path and "//" not in path and path[-1] != "/":
        return f"{base.rstrip('/')}/{path}"  # nothing for normpath to change: no '.', '..' or empty part
    target = os.path.normpath(os.path.join(base, path))
    if not target.startswith(base.rstrip(os.sep) + os.sep):
        raise UnsafeWheel(f"{path!r} would be written outside {base}")
    return target
