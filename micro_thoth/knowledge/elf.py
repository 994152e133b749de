"""ELF dynamic-linking facts read by struct: the libraries a file links and the symbol versions it needs or defines.

The reader follows the dynamic loader's path, not the section table's: the ELF
header, the program headers, the ``PT_DYNAMIC`` segment, then the string table
(``DT_STRTAB``), the version needs (``DT_VERNEED``, ``.gnu.version_r``) and
definitions (``DT_VERDEF``, ``.gnu.version_d``) it points at, their virtual
addresses mapped to file offsets by the ``PT_LOAD`` segments. That is a few
dozen small reads, none past the dynamic segment (which usually follows the
code): the section headers (at the end of the file) and the symbol tables are
never read, so a zip member being inflated can stop once its dynamic segment
is past. Why not pyelftools (used before): importing it cost more CPU than all of
a lock's ELF reads now do, and its section-based reading needs the end of the
file (see docs/performance.md, "ELF facts without pyelftools").

``read(offset, size)`` gives the bytes; whatever the input, the work is
bounded (``MAX_ENTRIES`` entries, ``MAX_NAME`` bytes a name) and anything
malformed raises :class:`NotElf` naming what is wrong, never another error.
32- and 64-bit, either byte order.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Optional

Read = Callable[[int, int], bytes]  # (offset, size) -> the bytes there (fewer at the end of the file)

MAGIC = b"\x7fELF"
MAX_ENTRIES = 1 << 14  # program headers, dynamic entries, version entries: each bounded by this
MAX_NAME = 4096  # bytes of one library or version name
MAX_OFFSET = 1 << 62  # no file is this large; past it a 64-bit field's offset is out of ``seek``'s range
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ = 0, 1, 5, 10
DT_VERDEF, DT_VERDEFNUM, DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFC, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
VER_FLG_BASE = 0x1  # a version definition that names the file itself
_VERNEED, _VERNAUX = "HHIII", "IHHII"  # vn_version vn_cnt vn_file vn_aux vn_next; vna_hash _flags _other _name _next
_VERDEF, _VERDAUX = "HHHHIII", "II"  # vd_version vd_flags vd_ndx vd_cnt vd_hash vd_aux vd_next; vda_name vda_next


class NotElf(ValueError):
    """The bytes are not a readable ELF file."""


@dataclass(frozen=True)
class _Layout:
    """The class- and order-dependent struct formats of one file."""

    order: str  # "<" or ">"
    header: str  # after e_ident: e_type .. e_shstrndx
    phdr: str
    dyn: str
    wide: bool  # ELFCLASS64


_LAYOUTS = {
    (1, order): _Layout(order, "HHIIIIIHHHHHH", "IIIIIIII", "iI", False) for order in ("<", ">")
} | {
    (2, order): _Layout(order, "HHIQQQIHHHHHH", "IIQQQQQQ", "qQ", True) for order in ("<", ">")
}


class Dynamic:
    """One ELF file's dynamic segment: its entries, and the reads of what they point at."""

    def __init__(self, read: Read) -> None:
        self._read = read
        ident = read(0, 16)
        if len(ident) < 16 or ident[:4] != MAGIC:
            raise NotElf("no ELF magic")
        layout = _LAYOUTS.get((ident[4], {1: "<", 2: ">"}.get(ident[5], "")))
        if layout is None:
            raise NotElf(f"unknown ELF class {ident[4]} or byte order {ident[5]}")
        self._layout = layout
        fields = self._unpack(layout.header, 16)
        phoff, phentsize, phnum = fields[4], fields[8], fields[9]
        self._loads: list[tuple[int, int, int]] = []  # (vaddr, file size, offset) of each PT_LOAD
        self.entries: list[tuple[int, int]] = []  # (tag, value) of the dynamic segment, up to DT_NULL
        self._first: dict[int, int] = {}
        if phnum:
            self._program_headers(phoff, phentsize, phnum)

    def _unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        fmt = self._layout.order + fmt
        size = struct.calcsize(fmt)
        data = self._read(offset, size)
        if len(data) != size:
            raise NotElf(f"truncated at byte {offset} (wanted {size} bytes)")
        return struct.unpack(fmt, data)

    def _program_headers(self, phoff: int, phentsize: int, phnum: int) -> None:
        wanted = struct.calcsize(self._layout.order + self._layout.phdr)
        if phentsize < wanted or phnum > MAX_ENTRIES:
            raise NotElf(f"implausible program headers ({phnum} of {phentsize} bytes)")
        dynamic = None
        for i in range(phnum):
            fields = self._unpack(self._layout.phdr, phoff + i * phentsize)
            if self._layout.wide:  # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
                kind, offset, vaddr, filesz = fields[0], fields[2], fields[3], fields[5]
            else:  # p_type p_offset p_vaddr p_paddr p_filesz p_memsz p_flags p_align
                kind, offset, vaddr, filesz = fields[0], fields[1], fields[2], fields[4]
            if kind == PT_LOAD:
                self._loads.append((vaddr, filesz, offset))
            elif kind == PT_DYNAMIC and dynamic is None:
                dynamic = (offset, filesz)
        if dynamic is not None:
            self._dynamic(*dynamic)

    def _dynamic(self, offset: int, size: int) -> None:
        step = struct.calcsize(self._layout.order + self._layout.dyn)
        for i in range(min(size // step, MAX_ENTRIES)):
            tag, value = self._unpack(self._layout.dyn, offset + i * step)
            if tag == DT_NULL:
                return
            self.entries.append((tag, value))
            self._first.setdefault(tag, value)

    def value(self, tag: int) -> Optional[int]:
        """The first entry of ``tag``, if any."""
        return self._first.get(tag)

    def offset(self, address: int) -> int:
        """The file offset of a virtual address, through the PT_LOAD segment that holds it."""
        for vaddr, filesz, offset in self._loads:
            if vaddr <= address < vaddr + filesz:
                return offset + address - vaddr
        raise NotElf(f"address {address:#x} is in no loaded segment")

    def string(self, index: int) -> str:
        """The name at ``index`` of the dynamic string table."""
        table, size = self.value(DT_STRTAB), self.value(DT_STRSZ)
        if table is None or size is None or not 0 <= index < size:
            raise NotElf(f"string {index} is outside the dynamic string table")
        start = self.offset(table) + index
        data = self._read(start, min(size - index, MAX_NAME))
        end = data.find(b"\0")
        if end < 0:
            raise NotElf(f"unterminated name at byte {start}")
        name = data[:end].decode("utf-8", errors="replace")
        # a hostile file's names reach messages on a terminal: no control characters (escape sequences) in them
        return name if name.isprintable() else "".join(c if c.isprintable() else "?" for c in name)

    def chain(self, table_tag: int, count_tag: int, fmt: str, next_field: int) -> Iterator[tuple[int, tuple[int, ...]]]:
        """The entries of a version table (offset, fields), following each entry's ``next``."""
        table, count = self.value(table_tag), self.value(count_tag)
        if table is None:
            return
        offset = self.offset(table)
        for _ in range(min(count or 0, MAX_ENTRIES)):
            fields = self._unpack(fmt, offset)
            yield offset, fields
            if not fields[next_field]:
                return
            offset += fields[next_field]

    def aux(self, offset: int, count: int, fmt: str, next_field: int) -> Iterator[tuple[int, ...]]:
        """``count`` auxiliary entries from ``offset``, each pointing at the next."""
        for _ in range(min(count, MAX_ENTRIES)):
            fields = self._unpack(fmt, offset)
            yield fields
            if not fields[next_field]:
                return
            offset += fields[next_field]


def needs(read: Read) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The libraries the file links (DT_NEEDED, in order) and the (library, symbol version) pairs it needs."""
    dynamic = Dynamic(read)
    needed = tuple(dynamic.string(value) for tag, value in dynamic.entries if tag == DT_NEEDED)
    versions: list[tuple[str, str]] = []
    budget = MAX_ENTRIES
    for offset, (_version, count, file, aux, _next) in dynamic.chain(DT_VERNEED, DT_VERNEEDNUM, _VERNEED, 4):
        library = dynamic.string(file)
        for fields in dynamic.aux(offset + aux, min(count, budget), _VERNAUX, 4):
            versions.append((library, dynamic.string(fields[3])))
            budget -= 1
    return needed, tuple(versions)


def defines(read: Read) -> frozenset[str]:
    """The symbol versions the file defines (``.gnu.version_d``), the entry naming the file itself left out."""
    dynamic = Dynamic(read)
    found: set[str] = set()
    for offset, (_version, flags, _ndx, count, _hash, aux, _next) in dynamic.chain(DT_VERDEF, DT_VERDEFNUM, _VERDEF, 6):
        if not flags & VER_FLG_BASE and count:
            found.add(dynamic.string(next(dynamic.aux(offset + aux, 1, _VERDAUX, 1))[0]))
    return frozenset(found)


def of_bytes(data: bytes) -> Read:
    """``read`` over bytes in memory."""
    view = memoryview(data)
    return lambda offset, size: bytes(view[offset : offset + size]) if offset >= 0 else b""


def of_file(handle: IO[bytes]) -> Read:
    """``read`` over an open file: only the bytes asked for are read."""
    def read(offset: int, size: int) -> bytes:
        if not 0 <= offset < MAX_OFFSET:
            return b""  # as past the end of the file
        handle.seek(offset)
        return handle.read(size)
    return read
