"""ELF facts from real (tiny) shared objects: what a wheel needs, what a target root provides."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from micro_thoth.environment.detect import Machine, detect, probe_abi
from micro_thoth.guidance.abi import (
    ElfNeeds,
    WheelAbi,
    family,
    missing_symbols,
    newest_of,
    summarize,
)
from micro_thoth.index import wheelzip
from micro_thoth.knowledge import abi
from micro_thoth.store import Store
from tests.support.builder import Dist, build_wheel
from tests.support.elf import ElfKit

NEW = {"GLIBCXX_3.4": ["old_fn"], "GLIBCXX_3.4.30": ["new_fn"]}


@pytest.fixture
def kit(tmp_path: Path) -> ElfKit:
    return ElfKit(tmp_path / "elf")


def test_needs_and_defines(kit: ElfKit) -> None:
    new = kit.library("libstdc++.so.6", NEW)
    needs = abi.elf_needs(kit.user("ext.so", new, ["new_fn"]), "pkg/ext.so")
    assert needs.needed == ("libstdc++.so.6",)
    assert ("libstdc++.so.6", "GLIBCXX_3.4.30") in needs.versions
    assert abi.elf_defines(new.read_bytes()) == {"GLIBCXX_3.4", "GLIBCXX_3.4.30"}


def test_not_elf_is_refused() -> None:
    with pytest.raises(abi.NotElf):
        abi.elf_needs(b"#!/bin/sh\n")
    with pytest.raises(abi.NotElf):
        abi.elf_needs(abi.ELF_MAGIC + b"\x00" * 8)


def test_a_wheel_with_a_corrupt_native_member_is_refused() -> None:
    from tests.test_index import corrupt_deflate

    with pytest.raises(abi.NotElf, match="not a readable wheel"):
        abi.wheel_abi(io.BytesIO(corrupt_deflate("native/_ext.so", abi.ELF_MAGIC + b"\x00" * 4000)))


def test_a_wheel_with_an_encrypted_native_member_is_refused(kit: ElfKit) -> None:
    """zipfile's RuntimeError for a member flagged encrypted is one more way a hostile wheel is unreadable."""
    wheel = bytearray(build_wheel(Dist("native", "2.0", files={"native/_ext.so": kit.library("libx.so.1", NEW).read_bytes()})))
    name = b"native/_ext.so"
    for signature, flags, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):  # local header, central directory
        at = wheel.find(signature)
        while wheel[at + name_at : at + name_at + len(name)] != name:
            at = wheel.find(signature, at + 4)
            assert at >= 0
        wheel[at + flags] |= 1  # general purpose bit 0: encrypted
    with pytest.raises(abi.NotElf, match="not a readable wheel"):
        abi.wheel_abi(io.BytesIO(bytes(wheel)))


def test_wheel_abi_reads_only_shared_objects(kit: ElfKit) -> None:
    new = kit.library("libstdc++.so.6", NEW)
    ext = kit.user("ext.so", new, ["new_fn"])
    wheel = build_wheel(Dist("native", "2.0", files={"native/_ext.so": ext, "native/data.so.txt": b"plain"}))
    facts = abi.wheel_abi(io.BytesIO(wheel))
    assert [m.member for m in facts.members] == ["native/_ext.so"]
    assert facts.required >= {"GLIBCXX_3.4.30"}
    pure = abi.wheel_abi(io.BytesIO(build_wheel(Dist("pure", "1.0"))))
    assert pure.members == ()


def test_facts_are_kept_by_digest(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    facts = WheelAbi((ElfNeeds("a/x.so", ("libc.so.6",), (("libc.so.6", "GLIBC_2.34"),)),))
    assert abi.remembered(store, "AB" * 32) is None
    abi.remember(store, "AB" * 32, facts)
    assert abi.remembered(store, "ab" * 32) == facts


def test_judgement_names_symbol_and_what_target_has() -> None:
    facts = WheelAbi((ElfNeeds("p/x.so", (), (("libstdc++.so.6", "GLIBCXX_3.4.30"), ("libc.so.6", "GLIBC_2.17"),
                                               ("libfoo.so.1", "FOO_2.0"))),))
    target = frozenset({"GLIBCXX_3.4", "GLIBCXX_3.4.25", "GLIBC_2.17", "GLIBC_2.28"})
    (missing,) = missing_symbols(facts, target)  # FOO_*: the target says nothing of that family
    assert (missing.version, missing.library, missing.newest) == ("GLIBCXX_3.4.30", "libstdc++.so.6", "GLIBCXX_3.4.25")
    assert "GLIBCXX_3.4.30" in missing.describe() and "3.4.25" in missing.describe()
    assert missing_symbols(facts, target | {"GLIBCXX_3.4.30"}) == ()
    assert family("GLIBC_PRIVATE") == "GLIBC_PRIVATE" and newest_of("GLIBC", target) == "GLIBC_2.28"
    assert summarize(target) == "GLIBC 2.28, GLIBCXX 3.4.25"


def test_target_root_symbols(kit: ElfKit, tmp_path: Path) -> None:
    root = tmp_path / "root"
    kit.library("libstdc++.so.6", {"GLIBCXX_3.4": ["old_fn"]}, subdir=str(root / "usr/lib64"))
    machine = Machine(root=root, environ={}, run=lambda argv: None)
    symbols, source = probe_abi(machine)
    assert symbols == ("GLIBCXX_3.4",) and "libstdc++.so.6" in source
    assert detect(machine).abi_symbols == ("GLIBCXX_3.4",)


def test_target_root_symbols_are_remembered_while_the_libraries_stay(kit: ElfKit, tmp_path: Path, monkeypatch) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    kit.library("libstdc++.so.6", {"GLIBCXX_3.4": ["old_fn"]}, subdir=str(root / "usr/lib64"))
    machine = Machine(root=root, environ={}, run=lambda argv: None)
    first = probe_abi(machine, cache)
    assert first[0] == ("GLIBCXX_3.4",)
    reads = []
    real = abi.defined_by
    monkeypatch.setattr(abi, "defined_by", lambda libraries: reads.append(sorted(libraries)) or real(libraries))
    assert probe_abi(machine, cache) == first and reads == []  # remembered: no library read
    kit.library("libstdc++.so.6", NEW, subdir=str(root / "usr/lib64"))  # the library changed
    assert probe_abi(machine, cache)[0] == ("GLIBCXX_3.4", "GLIBCXX_3.4.30") and reads == [["libstdc++.so.6"]]
    assert detect(machine, cache_dir=cache).abi_symbols == ("GLIBCXX_3.4", "GLIBCXX_3.4.30")


def test_over_http_ranges_only_the_elf_members_travel(kit: ElfKit) -> None:
    new = kit.library("libstdc++.so.6", NEW)
    blob = random.Random(0).randbytes(2 * 1024 * 1024)  # incompressible: a wheel's bulk that is not ELF
    wheel = build_wheel(Dist("native", "2.0", files={"native/blob.bin": blob, "native/_ext.so": kit.user("e.so", new, ["new_fn"]),
                                                     "native/z.bin": blob[::-1]}))
    fetched: list[int] = []

    def fetch(first: int, last: int) -> bytes:
        fetched.append(last - first + 1)
        return wheel[first : last + 1]

    tail = len(wheel) - wheelzip.TAIL_BYTES
    facts = abi.wheel_abi(wheelzip.RangeFile(fetch, len(wheel), known=(tail, wheel[tail:])))  # type: ignore[arg-type]
    assert facts.required >= {"GLIBCXX_3.4.30"}
    assert len(fetched) == 1 and sum(fetched) < 200_000 < len(wheel)  # one request, for the ELF member only
