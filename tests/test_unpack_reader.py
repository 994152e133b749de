"""A wheel held in memory is unpacked member by member from its bytes: the same files as zipfile
gives, and every damage zipfile would notice (CRC, size, local header, encryption) refused."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from micro_thoth.errors import UnsafeWheel
from micro_thoth.install import safety
from tests.support.builder import Dist, build_wheel

PAYLOAD = {
    "big/text.py": b"# a line of python\n" * 5000,  # deflated
    "big/data.bin": os.urandom(70_000),  # deflates to about its size
    "big/empty.txt": b"",
}


def _wheel(tmp_path: Path, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A wheel whose members are written again with ``compression``."""
    dist = Dist("big", "1.0")
    with zipfile.ZipFile(io.BytesIO(build_wheel(dist, extra_members=PAYLOAD))) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, body in members:
            info.compress_type = compression
            target.writestr(info, body)
    path = tmp_path / dist.wheel_filename
    path.write_bytes(buffer.getvalue())
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _expected(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {m.filename: archive.read(m) for m in archive.infolist() if not m.filename.endswith("/")}


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_in_memory_and_streamed_members_give_zipfiles_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compression: int
) -> None:
    wheel = _wheel(tmp_path, compression)
    safety.unpack_wheel(wheel, tmp_path / "whole", read_only=False)
    monkeypatch.setattr(safety, "WHOLE_MEMBER", 1000)  # the larger members stream through zipfile
    safety.unpack_wheel(wheel, tmp_path / "streamed", read_only=False)
    monkeypatch.setattr(safety, "IN_MEMORY", 0)  # the whole wheel read from its file
    safety.unpack_wheel(wheel, tmp_path / "from-file", read_only=False)
    expected = _expected(wheel)
    with zipfile.ZipFile(wheel) as archive:
        assert archive.getinfo("big/text.py").compress_size < len(PAYLOAD["big/text.py"]) or compression == zipfile.ZIP_STORED
    assert _tree(tmp_path / "whole") == _tree(tmp_path / "streamed") == _tree(tmp_path / "from-file") == expected


Change = Callable[[bytearray, zipfile.ZipInfo, int], None]  # (archive bytes, member, where its data starts)


def _damaged(tmp_path: Path, name: str, change: Change) -> Path:
    wheel = _wheel(tmp_path)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(name)
    name_length = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_length = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    change(data, info, info.header_offset + 30 + name_length + extra_length)
    wheel.write_bytes(bytes(data))
    return wheel


def _flip_data_byte(data: bytearray, info: zipfile.ZipInfo, start: int) -> None:
    data[start + info.compress_size // 2] ^= 0xFF


def _rename_in_local_header(data: bytearray, info: zipfile.ZipInfo, start: int) -> None:
    data[info.header_offset + 30] = ord("x")


def _flag_encrypted(data: bytearray, info: zipfile.ZipInfo, start: int) -> None:
    data[info.header_offset + 6] |= 0x1


def _bad_signature(data: bytearray, info: zipfile.ZipInfo, start: int) -> None:
    data[info.header_offset] = ord("Q")


@pytest.mark.parametrize("change", [_flip_data_byte, _rename_in_local_header, _bad_signature])
def test_a_damaged_member_is_refused_as_zipfile_would(tmp_path: Path, change: Change) -> None:
    wheel = _damaged(tmp_path, "big/data.bin", change)
    with pytest.raises(UnsafeWheel, match="not a readable zip archive"):
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False)
    with pytest.raises(Exception):  # noqa: B017 - zipfile itself refuses the same bytes
        _expected(wheel)


def _central_entry(data: bytearray, name: str) -> int:
    """Where ``name``'s central directory entry starts."""
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        length = int.from_bytes(data[position + 28 : position + 30], "little")
        if data[position + 46 : position + 46 + length] == name.encode():
            return position
        position = data.find(b"PK\x01\x02", position + 1)
    raise AssertionError(name)


def test_a_member_flagged_encrypted_in_the_directory_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("big/text.py")
    data[_central_entry(data, "big/text.py") + 8] |= 0x1
    data[info.header_offset + 6] |= 0x1
    wheel.write_bytes(bytes(data))
    with pytest.raises(UnsafeWheel, match="not a readable zip archive"):
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False)


@pytest.mark.parametrize("flag", [0x20, 0x40])  # compressed patched data, strong encryption
def test_a_member_using_a_zip_feature_no_reader_supports_is_refused(tmp_path: Path, flag: int) -> None:
    wheel = _wheel(tmp_path)
    data = bytearray(wheel.read_bytes())
    data[_central_entry(data, "big/text.py") + 8] |= flag
    wheel.write_bytes(bytes(data))
    with pytest.raises(UnsafeWheel, match="not a readable zip archive"):
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False)


def _local_end(data: bytearray, info: zipfile.ZipInfo) -> int:
    """Where ``info``'s data ends in the archive."""
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + name_length + extra_length + info.compress_size


def test_a_member_overlapping_the_next_one_is_refused_though_its_crc_holds(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, zipfile.ZIP_STORED)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        first, second = sorted(archive.infolist(), key=lambda info: info.header_offset)[:2]
    start = _local_end(data, first) - first.compress_size
    span = bytes(data[start : _local_end(data, second)])  # the first member's bytes run over the second
    struct.pack_into("<III", data, _central_entry(data, first.orig_filename) + 16, zlib.crc32(span), len(span), len(span))
    wheel.write_bytes(bytes(data))
    with pytest.raises(UnsafeWheel, match=f"{wheel.name}: .*{first.filename!r} overlaps the next member"):
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False, checked=True)


def test_corrupt_deflate_data_is_refused_naming_the_member(tmp_path: Path) -> None:
    def _bad_block(data: bytearray, info: zipfile.ZipInfo, start: int) -> None:
        data[start] = 0xFF  # a deflate block of the reserved type 3

    wheel = _damaged(tmp_path, "big/text.py", _bad_block)
    with pytest.raises(UnsafeWheel, match=f"{wheel.name}: .*'big/text.py' holds corrupt deflate data"):
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False)


@pytest.mark.parametrize("in_memory", [True, False])
def test_a_member_said_to_start_before_the_file_is_refused_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    """The end record puts the directory further on than it is, so zipfile moves every member back
    by the difference; a streamed (here bzip2) member then starts before the file does."""
    wheel = _wheel(tmp_path, zipfile.ZIP_BZIP2)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        infos = archive.infolist()
    shift = 10_000_000
    record = next(info for info in infos if info.filename.endswith("RECORD"))
    for info in infos:  # every member but one moves with the directory, so RECORD still reads
        if info is not infos[0]:
            entry = _central_entry(data, info.orig_filename) + 42
            struct.pack_into("<I", data, entry, info.header_offset + shift)
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 16, struct.unpack_from("<I", data, end + 16)[0] + shift)
    wheel.write_bytes(bytes(data))
    assert record is not infos[0]
    if not in_memory:
        monkeypatch.setattr(safety, "IN_MEMORY", 0)
    with pytest.raises(UnsafeWheel, match=f"{wheel.name}: .*offset lies before the start of the file"):
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False)
