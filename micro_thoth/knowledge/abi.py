"""Per-wheel ABI facts, bytes in: symbol versions ELF files need (.gnu.version_r) and define (.gnu.version_d).

``pyelftools`` does the parsing; it is imported when an ELF file is first read (≈ 25 ms a lock
whose wheels' facts are all stored never pays), in ``_elftools``. ``wheel_abi`` opens a wheel (any seekable
file: a local file, or ``index/wheelzip.RangeFile`` so only the ELF members
travel over HTTP) and reads the members named like shared objects only.
``remembered``/``remember`` keep the facts in the knowledge store under the
wheel's sha256: computed once, ever.
"""

from __future__ import annotations

import functools
import io
import json
import posixpath
import re
import shutil
import tempfile
import types
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Optional

from .. import zips
from ..cache import file_stamp, memo_path, read_memo, write_memo
from ..errors import InputFileError
from ..guidance.abi import ElfNeeds, WheelAbi
from ..store import KnowledgeStore, Store

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"
MAX_MEMBER_BYTES = 1 << 30
SPOOL_CHUNK = 1 << 20  # bytes decompressed at a time into the temporary file
WHEEL_ABI = "wheel-abi-v1"  # store namespace: wheel sha256 -> WheelAbi JSON
SYSTEM_ABI = "system-abi-v1"  # cache bucket: what a machine's system libraries define, by their file stats
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
LOCAL_HEADER = 30  # bytes of a zip local file header before its name and extra field
VER_FLG_BASE = 0x1
SYSTEM_LIBRARIES = ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1")  # what a target's ABI is
LIBRARY_DIRS = ("/lib64", "/usr/lib64", "/lib/*-linux-gnu", "/usr/lib/*-linux-gnu", "/lib", "/usr/lib")  # a verdef entry that names the file itself, not a version


class NotElf(ValueError):
    """The bytes are not a readable ELF file."""


@functools.cache
def _elftools() -> types.SimpleNamespace:
    """pyelftools' reader and the section kinds read here, imported on first use (see above)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection

    return types.SimpleNamespace(
        ELFError=ELFError, DynamicSection=DynamicSection, ELFFile=ELFFile,
        GNUVerDefSection=GNUVerDefSection, GNUVerNeedSection=GNUVerNeedSection,
    )


def _elf(stream: IO[bytes]) -> ELFFile:
    stream.seek(0)
    if stream.read(4) != ELF_MAGIC:
        raise NotElf("no ELF magic")
    stream.seek(0)
    elftools = _elftools()
    try:
        elf: ELFFile = elftools.ELFFile(stream)
    except (elftools.ELFError, ValueError, OSError) as exc:
        raise NotElf(str(exc)) from exc
    return elf


def elf_needs(data: bytes, member: str = "") -> ElfNeeds:
    """DT_NEEDED and the (library, version) pairs of ``.gnu.version_r``."""
    return _needs(io.BytesIO(data), member)


def _needs(stream: IO[bytes], member: str) -> ElfNeeds:
    """``elf_needs`` of a seekable stream: pyelftools reads the headers and sections it needs."""
    elf = _elf(stream)
    elftools = _elftools()
    needed: list[str] = []
    versions: list[tuple[str, str]] = []
    try:
        for section in elf.iter_sections():
            if isinstance(section, elftools.DynamicSection):
                needed += [str(getattr(tag, "needed", "")) for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]
            elif isinstance(section, elftools.GNUVerNeedSection):
                versions += [(str(need.name), str(aux.name)) for need, auxes in section.iter_versions() for aux in auxes]
    except (elftools.ELFError, ValueError, KeyError, OSError) as exc:
        raise NotElf(str(exc)) from exc
    return ElfNeeds(member, tuple(dict.fromkeys(needed)), tuple(dict.fromkeys(versions)))


def elf_defines(data: bytes) -> frozenset[str]:
    """The symbol versions a shared library defines (``.gnu.version_d``), its own file name left out."""
    elf = _elf(io.BytesIO(data))
    elftools = _elftools()
    out: set[str] = set()
    try:
        for section in elf.iter_sections():
            if isinstance(section, elftools.GNUVerDefSection):
                for verdef, auxes in section.iter_versions():
                    if not verdef["vd_flags"] & VER_FLG_BASE:
                        out.add(next(iter(auxes)).name)
    except (elftools.ELFError, ValueError, KeyError, OSError, StopIteration) as exc:
        raise NotElf(str(exc)) from exc
    return frozenset(out)


def defined_by(libraries: Mapping[str, bytes]) -> tuple[tuple[str, ...], str]:
    """The versions the libraries (file name -> bytes) define, sorted, and which of them were ELF."""
    found: set[str] = set()
    read: list[str] = []
    for name, data in libraries.items():
        try:
            found |= elf_defines(data)
        except NotElf:
            continue
        read.append(name)
    return tuple(sorted(found)), (", ".join(read) + " (.gnu.version_d)") if read else ""


def defined_by_files(libraries: Mapping[str, Path], cache_dir: Optional[Path] = None) -> tuple[tuple[str, ...], str]:
    """``defined_by`` of these files (name -> path), remembered under ``cache_dir`` by each file's
    path, size, mtime and inode: a run on an unchanged machine reads none of them (nor pyelftools)."""
    stamps = {name: file_stamp(path) for name, path in libraries.items()}
    parts = [[name, str(libraries[name]), *stamp] for name, stamp in stamps.items()]
    memo = memo_path(cache_dir, SYSTEM_ABI, parts) if cache_dir is not None and all(stamps.values()) else None
    remembered = _defined(read_memo(memo)) if memo is not None else None
    if remembered is not None:
        return remembered
    found = defined_by({name: path.read_bytes() for name, path in libraries.items()})
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
    with zips.unreadable_as(NotElf), zipfile.ZipFile(fileobj) as archive:
        members = [i for i in archive.infolist() if looks_native(i.filename) and 4 <= i.file_size <= MAX_MEMBER_BYTES]
        prefetch = getattr(fileobj, "prefetch", None)  # a RangeFile: one request per member
        found = []
        for info in members:
            if prefetch is not None:
                prefetch(info.header_offset, LOCAL_HEADER + len(info.filename.encode()) + info.compress_size + 1024)
            found.append(_member_needs(archive, info))
    return WheelAbi(tuple(f for f in found if f is not None))


def _member_needs(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Optional[ElfNeeds]:
    """One ELF member's needs, decompressed into a temporary file chunk by chunk: a shared object
    is tens of MB unpacked, and pyelftools reads only its headers and a few sections from it (the
    section table sits at the end, so the whole member is decompressed, but never held in memory)."""
    with archive.open(info) as member:
        if member.read(4) != ELF_MAGIC:
            return None
        with tempfile.TemporaryFile() as spool:
            spool.write(ELF_MAGIC)
            shutil.copyfileobj(member, spool, SPOOL_CHUNK)
            try:
                return _needs(spool, info.filename)
            except NotElf:
                return None


def remembered(store: Optional[KnowledgeStore], sha256: Optional[str]) -> Optional[WheelAbi]:
    """The facts kept for the wheel with this digest, if any."""
    if store is None or not sha256:
        return None
    text = store.get_value(WHEEL_ABI, sha256.lower())
    if text is None:
        return None
    try:
        return WheelAbi.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError):
        return None


def remember(store: Optional[KnowledgeStore], sha256: Optional[str], abi: WheelAbi) -> None:
    if store is not None and sha256:
        store.put_value(WHEEL_ABI, sha256.lower(), json.dumps(abi.to_dict(), sort_keys=True))


def all_remembered(store: Store) -> dict[str, dict[str, Any]]:
    """Every wheel's facts the store keeps, by sha256 (what ``knowledge export`` carries)."""
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
