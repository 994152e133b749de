"""The struct reader of ELF dynamic-linking facts: every ELF class and byte order, real shared objects, hostile bytes."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Sequence

import pytest

from micro_thoth.knowledge import abi, elf
from tests.support.builder import Dist, build_wheel
from tests.support.elf import ElfKit

NEW = {"GLIBCXX_3.4": ["old_fn"], "GLIBCXX_3.4.30": ["new_fn"]}


def synthetic(order: str = "<", wide: bool = True, *, needed: Sequence[str] = ("libc.so.6",),
              needs: Sequence[tuple[str, Sequence[str]]] = (("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")),),
              defines: Sequence[str] = ("libx.so.1", "X_1.0", "X_2.0"), base: int = 0x400000) -> bytes:
    """An ELF shared object with only what the loader's dynamic path needs, written field by field:
    header, a PT_LOAD of the whole file at ``base``, PT_DYNAMIC, string table, verneed, verdef, dynamic."""
    strings = bytearray(b"\0")
    index: dict[str, int] = {}

    def name(text: str) -> int:
        if text not in index:
            index[text] = len(strings)
            strings.extend(text.encode() + b"\0")
        return index[text]

    for entry in [*needed, *(lib for lib, _ in needs), *(v for _, vs in needs for v in vs), *defines]:
        name(entry)
    verneed = bytearray()
    for i, (lib, versions) in enumerate(needs):
        last = i == len(needs) - 1
        verneed += struct.pack(order + "HHIII", 1, len(versions), index[lib], 16, 0 if last else 16 + 16 * len(versions))
        for j, version in enumerate(versions):
            verneed += struct.pack(order + "IHHII", 0, 0, 0, index[version], 0 if j == len(versions) - 1 else 16)
    verdef = bytearray()
    for i, version in enumerate(defines):
        verdef += struct.pack(order + "HHHHIII", 1, 1 if i == 0 else 0, i + 1, 1, 0, 20, 0 if i == len(defines) - 1 else 28)
        verdef += struct.pack(order + "II", index[version], 0)
    ehsize, phsize = (64, 56) if wide else (52, 32)
    at_strings = ehsize + 2 * phsize
    at_verneed = at_strings + len(strings) + (-len(strings)) % 8
    at_verdef = at_verneed + len(verneed)
    at_dynamic = at_verdef + len(verdef)
    tags = [(1, index[n]) for n in needed] + [(5, base + at_strings), (10, len(strings)),
                                              (0x6FFFFFFE, base + at_verneed), (0x6FFFFFFF, len(needs)),
                                              (0x6FFFFFFC, base + at_verdef), (0x6FFFFFFD, len(defines)), (0, 0)]
    dynamic = b"".join(struct.pack(order + ("qQ" if wide else "iI"), t, v) for t, v in tags)
    total = at_dynamic + len(dynamic)
    ident = elf.MAGIC + bytes([2 if wide else 1, 1 if order == "<" else 2, 1]) + b"\0" * 9
    if wide:
        header = struct.pack(order + "HHIQQQIHHHHHH", 3, 62, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 64, 0, 0)
        phdrs = struct.pack(order + "IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
        phdrs += struct.pack(order + "IIQQQQQQ", 2, 6, at_dynamic, base + at_dynamic, base + at_dynamic, len(dynamic), len(dynamic), 8)
    else:
        header = struct.pack(order + "HHIIIIIHHHHHH", 3, 3, 1, 0, ehsize, 0, 0, ehsize, phsize, 2, 40, 0, 0)
        phdrs = struct.pack(order + "IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000)
        phdrs += struct.pack(order + "IIIIIIII", 2, at_dynamic, base + at_dynamic, base + at_dynamic, len(dynamic), len(dynamic), 6, 4)
    body = ident + header + phdrs + bytes(strings)
    body += b"\0" * (at_verneed - len(body)) + verneed + verdef + dynamic
    assert len(body) == total
    return body


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("wide", [True, False])
def test_every_class_and_byte_order(order: str, wide: bool) -> None:
    data = synthetic(order, wide, needed=("libc.so.6", "libm.so.6"),
                     needs=(("libc.so.6", ("GLIBC_2.17", "GLIBC_2.28")), ("libm.so.6", ("GLIBC_2.29",))))
    assert elf.needs(elf.of_bytes(data)) == (
        ("libc.so.6", "libm.so.6"),
        (("libc.so.6", "GLIBC_2.17"), ("libc.so.6", "GLIBC_2.28"), ("libm.so.6", "GLIBC_2.29")),
    )
    assert elf.defines(elf.of_bytes(data)) == {"X_1.0", "X_2.0"}  # the base entry (the file's own name) left out


def test_real_objects_read_as_the_loader_reads_them(tmp_path) -> None:
    kit = ElfKit(tmp_path)
    new = kit.library("libstdc++.so.6", NEW)
    needed, versions = elf.needs(elf.of_bytes(kit.user("ext.so", new, ["old_fn", "new_fn"])))
    assert "libstdc++.so.6" in needed
    assert {("libstdc++.so.6", "GLIBCXX_3.4"), ("libstdc++.so.6", "GLIBCXX_3.4.30")} <= set(versions)
    assert elf.defines(elf.of_bytes(new.read_bytes())) == {"GLIBCXX_3.4", "GLIBCXX_3.4.30"}


def test_no_dynamic_segment_means_no_needs() -> None:
    data = bytearray(synthetic())
    struct.pack_into("<H", data, 16 + 40, 0)  # e_phnum = 0: no program headers at all
    assert elf.needs(elf.of_bytes(bytes(data))) == ((), ())
    assert elf.defines(elf.of_bytes(bytes(data))) == frozenset()


@pytest.mark.parametrize("data, why", [
    (b"#!/bin/sh\n", "no ELF magic"),
    (elf.MAGIC + b"\x03\x01" + b"\0" * 58, "unknown ELF class"),
    (elf.MAGIC + b"\x02\x01" + b"\0" * 10, "truncated"),
])
def test_not_elf_says_why(data: bytes, why: str) -> None:
    with pytest.raises(elf.NotElf, match=why):
        elf.needs(elf.of_bytes(data))


def test_hostile_pointers_are_refused() -> None:
    data = bytearray(synthetic())
    dynamic = len(data) - 8 * 16  # eight entries of 16 bytes, DT_NULL last
    struct.pack_into("<qQ", data, dynamic + 16, 5, 0xDEAD0000)  # DT_STRTAB outside every loaded segment
    with pytest.raises(elf.NotElf, match="in no loaded segment"):
        elf.needs(elf.of_bytes(bytes(data)))
    data = bytearray(synthetic())
    struct.pack_into("<qQ", data, dynamic + 16 * 3, 0x6FFFFFFE, 0x400000 + len(data) - 4)  # verneed across the end
    with pytest.raises(elf.NotElf, match="truncated"):
        elf.needs(elf.of_bytes(bytes(data)))


def test_huge_counts_are_bounded() -> None:
    data = bytearray(synthetic(needs=(("libc.so.6", ("GLIBC_2.17",)),)))
    dynamic = len(data) - 8 * 16
    struct.pack_into("<qQ", data, dynamic + 16 * 4, 0x6FFFFFFF, 1 << 62)  # DT_VERNEEDNUM: absurd
    assert elf.needs(elf.of_bytes(bytes(data)))[1] == (("libc.so.6", "GLIBC_2.17"),)  # the chain's end stops it


def test_truncated_and_damaged_files_fail_cleanly(tmp_path) -> None:
    """Every prefix and a thousand random corruptions: a result or NotElf, nothing else."""
    real = ElfKit(tmp_path).user("ext.so", ElfKit(tmp_path).library("libstdc++.so.6", NEW), ["new_fn"])
    samples = [real[:n] for n in range(0, len(real), 7)] + [synthetic()[:n] for n in range(0, 400)]
    rng = random.Random(17)
    for _ in range(1000):
        damaged = bytearray(rng.choice([real, synthetic(), synthetic(">", False)]))
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(min(len(damaged), 1024))] = rng.randrange(256)
        samples.append(bytes(damaged))
    for sample in samples:
        for reader in (elf.needs, elf.defines):
            try:
                reader(elf.of_bytes(sample))
            except elf.NotElf:
                pass


def _member(data: bytes, name: str = "pkg/_ext.so") -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    archive = zipfile.ZipFile(io.BytesIO(build_wheel(Dist("pkg", "1.0", files={name: data}))))
    return archive, archive.getinfo(name)


def test_a_member_is_inflated_only_as_far_as_its_tables(tmp_path) -> None:
    kit = ElfKit(tmp_path)
    ext = kit.user("ext.so", kit.library("libstdc++.so.6", NEW), ["new_fn"])
    padded = ext + random.Random(0).randbytes(3 * abi.KEEP_BYTES)  # what follows the tables: never needed
    archive, info = _member(padded)
    inflating = abi._Inflating(archive, info)
    assert abi._needs(inflating, info.filename) == abi.elf_needs(ext, info.filename)
    assert inflating._pos <= len(ext) < info.file_size
    inflating.close()


def test_tables_beyond_the_kept_bytes_are_read_from_a_spooled_copy(tmp_path, monkeypatch) -> None:
    kit = ElfKit(tmp_path)
    ext = kit.user("ext.so", kit.library("libstdc++.so.6", NEW), ["new_fn"])
    monkeypatch.setattr(abi, "KEEP_BYTES", 64)  # the header only: the string table is behind the dynamic segment
    archive, info = _member(ext)
    with pytest.raises(abi._Behind):
        abi._needs(abi._Inflating(archive, info), info.filename)
    assert abi._member_needs(archive, info) == abi.elf_needs(ext, info.filename)


@pytest.mark.parametrize("field, value", [(16 + 16, 1 << 63), (16 + 16, (1 << 64) - 1)])
def test_offsets_no_file_can_have_are_refused_on_disk(tmp_path, field: int, value: int) -> None:
    """A file read by range (an installed shared object, a spooled member): an offset past what ``seek``
    takes is a NotElf like any other, not the ValueError of the file object."""
    data = bytearray(synthetic())
    struct.pack_into("<Q", data, field, value)  # e_phoff
    path = tmp_path / "hostile.so"
    path.write_bytes(bytes(data))
    with pytest.raises(elf.NotElf, match="truncated"):
        abi.file_needs(path)
    with open(path, "rb") as handle, pytest.raises(elf.NotElf, match="truncated"):
        elf.defines(elf.of_file(handle))


def test_names_carry_no_control_characters() -> None:
    """A hostile file's names end up in messages on a terminal: escape sequences come out as '?'."""
    data = synthetic(needed=("lib\x1b[2Jevil.so",), needs=(("lib\x1b[2Jevil.so", ("GLIBC_\x9b9",)),))
    needed, versions = elf.needs(elf.of_bytes(data))
    assert needed == ("lib?[2Jevil.so",)
    assert versions == (("lib?[2Jevil.so", "GLIBC_?9"),)
