"""The one decoder of a zip member's local file header, shared by the in-memory unpacker and the
stored-copy reader: where the header's name and the member's bytes lie, and damage refused."""

from __future__ import annotations

import io
import mmap
import zipfile
from pathlib import Path

import pytest

from micro_thoth import zips


def _archive(extra: bytes = b"") -> tuple[bytes, zipfile.ZipInfo]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("first.txt", b"one")
        info = zipfile.ZipInfo("pkg/second.txt")
        info.extra = extra
        archive.writestr(info, b"the second member")
    data = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return data, archive.getinfo("pkg/second.txt")


@pytest.mark.parametrize("extra", [b"", b"\xfe\xca\x04\x00abcd"])
def test_the_name_and_bytes_of_a_member_are_where_its_local_header_says(extra: bytes) -> None:
    data, member = _archive(extra)
    name, start = zips.local_header(memoryview(data), member)
    assert data[name] == b"pkg/second.txt"
    assert data[start : start + member.compress_size] == b"the second member"


def test_an_mmap_of_the_archive_reads_the_same(tmp_path: Path) -> None:
    data, member = _archive()
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as view:
        assert zips.local_header(view, member) == zips.local_header(memoryview(data), member)


def test_a_header_without_its_signature_is_refused() -> None:
    data, member = _archive()
    damaged = bytearray(data)
    damaged[member.header_offset] ^= 0xFF
    with pytest.raises(zipfile.BadZipFile, match="bad magic number"):
        zips.local_header(memoryview(bytes(damaged)), member)


@pytest.mark.parametrize("offset", [-1, "end"])
def test_a_header_outside_the_archive_is_refused(offset: object) -> None:
    data, member = _archive()
    member.header_offset = len(data) - 10 if offset == "end" else -1
    with pytest.raises(zipfile.BadZipFile, match="outside the archive"):
        zips.local_header(memoryview(data), member)


def test_a_recursion_error_is_not_taken_for_an_unreadable_archive() -> None:
    """Python running out of stack is no fault of the archive: it is not turned into 'not a readable
    wheel' (it was, while a member flagged encrypted was known by zipfile's RuntimeError alone)."""
    with pytest.raises(RecursionError), zips.unreadable_as(ValueError):
        raise RecursionError("maximum recursion depth exceeded")


def test_a_member_flagged_encrypted_is_refused_when_the_archive_opens() -> None:
    data, _member = _archive()
    damaged = bytearray(data)
    entry = damaged.rfind(b"PK\x01\x02")  # the second (last) member's central directory entry
    damaged[entry + 8] |= 0x1
    with pytest.raises(zipfile.BadZipFile, match=r"pkg/second\.txt is encrypted"):
        zips.open_archive(io.BytesIO(bytes(damaged)))
