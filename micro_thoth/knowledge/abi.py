"""Per-wheel ABI facts, bytes in: symbol versions ELF files need (.gnu.version_r) and define (.gnu.version_d).

``knowledge/elf.py`` reads the ELF structures. ``wheel_abi`` opens a wheel (any seekable
file: a local file, or ``index/wheelzip.RangeFile`` so only the ELF members
travel over HTTP) and reads the members named like shared objects only, each
inflated only as far as its dynamic segment (``_Inflating``).
``remembered``/``remember`` keep the facts in the knowledge store under the
wheel's sha256: computed once, ever. Facts read from bytes verified against that
digest (a cached file, a whole download) are kept as such and exported; facts read
by range requests, whose bytes no digest covers, are kept apart (``RANGED_ABI``):
this machine's locks use them, no bundle carries them, and verified facts replace them.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Optional, Union

from .. import zips
from ..cache import file_stamp, memo_path, read_memo, write_memo
from ..errors import InputFileError
from ..guidance.abi import ElfNeeds, WheelAbi
from ..integrity import open_regular
from ..store import KnowledgeStore, Store
from . import elf
from .elf import NotElf

__all__ = ["NotElf", "defined_by", "defined_by_files", "elf_defines", "elf_needs", "file_needs", "wheel_abi"]

ELF_MAGIC = elf.MAGIC
MAX_MEMBER_BYTES = 1 << 30
SPOOL_CHUNK = 1 << 20  # bytes decompressed at a time into the temporary file
KEEP_BYTES = 1 << 20  # the first bytes of a member kept while it is inflated (its ELF headers and tables)
INFLATE_CHUNK = 256 * 1024  # bytes inflated at a time while skipping ahead in a member
WHEEL_ABI = "wheel-abi-v1"  # store namespace: wheel sha256 -> WheelAbi JSON, read from bytes verified against it
RANGED_ABI = "wheel-abi-ranged-v1"  # the same, read from bytes fetched by range requests (not verified)
SYSTEM_ABI = "system-abi-v1"  # cache bucket: what a machine's system libraries define, by their file stats
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
SYSTEM_LIBRARIES = ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1")  # what a target's ABI is
LIBRARY_DIRS = ("/lib64", "/usr/lib64", "/lib/*-linux-gnu", "/usr/lib/*-linux-gnu", "/lib", "/usr/lib")


def elf_needs(data: bytes, member: str = "") -> ElfNeeds:
    """DT_NEEDED and the (library, version) pairs of ``.gnu.version_r``."""
    return _needs(elf.of_bytes(data), member)


def file_needs(path: Path, member: str = "") -> ElfNeeds:
    """``elf_needs`` of a file on disk: only the bytes the reader asks for are read (a FIFO,
    a device or a directory is never read: ``integrity.NotRegular``, an ``OSError``)."""
    with open_regular(path) as handle:
        return _needs(elf.of_file(handle), member)


def _needs(read: elf.Read, member: str) -> ElfNeeds:
    needed, versions = elf.needs(read)
    return ElfNeeds(member, tuple(dict.fromkeys(needed)), tuple(dict.fromkeys(versions)))


def elf_defines(data: bytes) -> frozenset[str]:
    """The symbol versions a shared library defines (``.gnu.version_d``), its own file name left out."""
    return elf.defines(elf.of_bytes(data))


def defined_by(libraries: Mapping[str, Union[bytes, Path]]) -> tuple[tuple[str, ...], str]:
    """The versions the libraries (file name -> bytes or path) define, sorted, and which of them were ELF."""
    found: set[str] = set()
    read: list[str] = []
    for name, data in libraries.items():
        try:
            if isinstance(data, bytes):
                found |= elf_defines(data)
            else:
                with open(data, "rb") as handle:
                    found |= elf.defines(elf.of_file(handle))
        except (NotElf, OSError):
            continue
        read.append(name)
    return tuple(sorted(found)), (", ".join(read) + " (.gnu.version_d)") if read else ""


def defined_by_files(libraries: Mapping[str, Path], cache_dir: Optional[Path] = None) -> tuple[tuple[str, ...], str]:
    """``defined_by`` of these files (name -> path), remembered under ``cache_dir`` by each file's
    path, size, mtime and inode: a run on an unchanged machine reads none of them."""
    stamps = {name: file_stamp(path) for name, path in libraries.items()}
    parts = [[name, str(libraries[name]), *stamp] for name, stamp in stamps.items()]
    memo = memo_path(cache_dir, SYSTEM_ABI, parts) if cache_dir is not None and all(stamps.values()) else None
    remembered = _defined(read_memo(memo)) if memo is not None else None
    if remembered is not None:
        return remembered
    found = defined_by(libraries)
    if memo is not None:
        write_memo(memo, [list(found[0]), found[1]])
    return found


def _defined(remembered: object) -> Optional[tuple[tuple[str, ...], str]]:
    """A remembered ``defined_by``, if it has its shape (else the libraries are read again)."""
    if isinstance(remembered, list) and len(remembered) == 2:
        symbols, source = remembered
        if isinstance(source, str) and isinstance(symbols, list) and all(isinstance(x, str) for x in symbols):
            return tuple(symbols), source
    return None


def looks_native(name: str) -> bool:
    """A member named like a shared object (``x.so``, ``libfoo-1a2b.so.1.2``)."""
    base = posixpath.basename(name)
    return base.endswith(".so") or ".so." in base


def wheel_abi(fileobj: IO[bytes]) -> WheelAbi:
    """What every ELF member of the wheel in ``fileobj`` needs; reads those members only."""
    with zips.unreadable_as(NotElf), zips.open_archive(fileobj) as archive:
        members = [i for i in archive.infolist() if looks_native(i.filename) and 4 <= i.file_size <= MAX_MEMBER_BYTES]
        prefetch = getattr(fileobj, "prefetch", None)  # a RangeFile: one request per member
        found = []
        for info in members:
            if prefetch is not None:
                prefetch(info.header_offset, zips.LOCAL_HEADER_BYTES + len(info.filename.encode()) + info.compress_size + 1024)
            found.append(_member_needs(archive, info))
    return WheelAbi(tuple(f for f in found if f is not None))


def _member_needs(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Optional[ElfNeeds]:
    """One ELF member's needs, inflated only as far as its dynamic segment and the tables it points at
    (a shared object's debug sections, symbol tables and section headers come after them, so they
    are never inflated); a member whose tables lie beyond ``KEEP_BYTES`` and behind its dynamic
    segment is inflated once more, whole, into a temporary file (never held in memory)."""
    with contextlib.closing(_Inflating(archive, info)) as inflating:
        if inflating(0, 4) != ELF_MAGIC:
            return None
        try:
            try:
                return _needs(inflating, info.filename)
            except _Behind:
                return _spooled_needs(archive, info)
        except NotElf:
            return None


def _spooled_needs(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> ElfNeeds:
    """(An OSError here, ENOSPC of a full temporary disk, is the machine's, not the wheel's: it is
    raised, for the caller to name the wheel (``index/metadata.py``), never taken for "not ELF".)"""
    with archive.open(info) as member, tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(member, spool, SPOOL_CHUNK)
        return _needs(elf.of_file(spool), info.filename)


class _Behind(Exception):
    """A read behind what a member's forward inflation kept."""


class _Inflating:
    """``elf.Read`` over a zip member inflated forward only, keeping its first ``KEEP_BYTES``:
    nothing past the last byte asked for is inflated; a read behind the kept bytes raises ``_Behind``.

    The member's CRC-32 (checked by zipfile at its end) is therefore never checked. From a cached
    file or a whole download, the bytes were verified against the pin's sha256, which covers every
    byte: a CRC adds nothing. From range requests, no digest covers them, and a CRC would not either
    (a server that sends other bytes sends their CRC too): their facts are kept as unverified
    (``remember(..., verified=False)``), never under the digest as if verified."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self._member = archive.open(info)
        self._size = info.file_size
        self._head = bytearray()  # the first min(pos, KEEP_BYTES) bytes
        self._pos = 0  # bytes inflated so far

    def __call__(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self._size)
        if offset < 0 or end <= offset:
            return b""
        if end <= len(self._head):
            return bytes(self._head[offset:end])
        if offset < self._pos and self._pos > len(self._head):
            raise _Behind(offset)
        out = bytearray(self._head[offset:self._pos]) if offset < self._pos else bytearray()
        while self._pos < end:
            target = end if self._pos >= offset else offset
            chunk = self._member.read(min(INFLATE_CHUNK, target - self._pos))
            if not chunk:
                break
            if self._pos < KEEP_BYTES:
                self._head += chunk[: KEEP_BYTES - self._pos]
            if self._pos + len(chunk) > offset:
                out += chunk[max(0, offset - self._pos):]
            self._pos += len(chunk)
        return bytes(out)

    def close(self) -> None:
        self._member.close()


def remembered(store: Optional[KnowledgeStore], sha256: Optional[str], *, verified: bool = True) -> Optional[WheelAbi]:
    """The facts kept for the wheel with this digest, if any: read from verified bytes, or
    (``verified=False``) from range requests."""
    if store is None or not sha256:
        return None
    text = store.get_value(WHEEL_ABI if verified else RANGED_ABI, sha256.lower())
    if text is None:
        return None
    try:
        return WheelAbi.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None


def remember(store: Optional[KnowledgeStore], sha256: Optional[str], abi: WheelAbi, *, verified: bool = True) -> None:
    """Keep the wheel's facts under its digest: as verified only when the bytes read were checked against it."""
    if store is not None and sha256:
        store.put_value(WHEEL_ABI if verified else RANGED_ABI, sha256.lower(), json.dumps(abi.to_dict(), sort_keys=True))


def all_remembered(store: Store) -> dict[str, dict[str, Any]]:
    """Every wheel's facts the store keeps from verified bytes, by sha256 (what ``knowledge export`` carries)."""
    found = {}
    for sha256, text in store.values(WHEEL_ABI).items():
        try:
            found[sha256] = WheelAbi.from_dict(json.loads(text)).to_dict()
        except (ValueError, KeyError, TypeError):
            continue  # a damaged entry is read again from the wheel when needed
    return found


def parse_facts(data: Any, where: str) -> dict[str, WheelAbi]:
    """A bundle's ``wheel_abi`` (sha256 -> facts), checked: InputFileError naming the entry."""
    if not isinstance(data, Mapping):
        raise InputFileError("expected an object of wheel digests", path=where, key_path="wheel_abi")
    facts = {}
    for sha256, value in data.items():
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise InputFileError(f"{sha256!r} is not a sha256 digest", path=where, key_path="wheel_abi")
        try:
            facts[sha256.lower()] = WheelAbi.from_dict(value)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputFileError(f"not wheel ABI facts: {exc!r}", path=where, key_path=f"wheel_abi.{sha256}") from exc
    return facts
