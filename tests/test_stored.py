"""The cache's uncompressed copies of wheels (stored-v1) and bytecode archives, copied out by the kernel."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from micro_thoth import install
from micro_thoth.cache import Cache
from micro_thoth.digests import sha256_file
from micro_thoth.errors import UnsafeWheel
from micro_thoth.install import (
    TargetEnvironment,
    ensure_venv,
    execute,
    plan,
    safety,
    staging,
    stored,
)
from tests.support.builder import Dist, build_wheel

FILES = {
    "pkg/__init__.py": "from .core import VALUE\n",
    "pkg/core.py": "VALUE = 'ünïcode'\n\ndef main():\n    print('tool')\n",
    "pkg/data/big.txt": "line\n" * 20000,
    "pkg/empty.txt": "",
}


@pytest.fixture
def env(tmp_path: Path) -> TargetEnvironment:
    return ensure_venv(tmp_path / "venv", sys.executable)


def _wheel(tmp_path: Path) -> Path:
    dist = Dist("pkg", "1.0", files=FILES, console_scripts={"tool": "pkg.core:main"})
    path = tmp_path / "wheels" / dist.wheel_filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_wheel(dist))
    return path


def _files(tree: Path) -> dict[str, tuple[bytes, int, bool]]:
    """Each file of a tree: bytes, time (whole seconds; of sources only: they alone get their
    member's time) and whether it is executable."""
    found = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            when = int(stat.st_mtime) if path.suffix == ".py" else 0
            found[path.relative_to(tree).as_posix()] = (path.read_bytes(), when, bool(stat.st_mode & 0o111))
    return found


def test_the_first_unpacking_keeps_a_stored_copy_and_the_next_copies_out_of_it(
    env: TargetEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, wheel = Cache(tmp_path / "cache"), _wheel(tmp_path)
    digest = sha256_file(wheel)
    with install.unpacking_for("clone", env, cache) as unpacking:
        first = _files(unpacking.stage(wheel, digest))
    copy = cache.stored(digest)
    assert copy is not None and cache.wheel_checked(digest)
    with zipfile.ZipFile(copy) as archive, zipfile.ZipFile(wheel) as original:
        assert archive.testzip() is None  # every CRC holds: the copy is the wheel's bytes
        assert {m.compress_type for m in archive.infolist()} == {zipfile.ZIP_STORED}
        files = [m for m in original.infolist() if not m.filename.endswith("/")]
        assert [(m.filename, m.date_time, m.external_attr) for m in archive.infolist()] == \
            [(m.filename, m.date_time, m.external_attr) for m in files]

    def no_inflating(*args: object, **kwargs: object) -> None:
        raise AssertionError("the wheel was inflated again")

    monkeypatch.setattr(staging, "unpack_wheel", no_inflating)
    two = ensure_venv(tmp_path / "two", sys.executable)
    with install.unpacking_for("copy", two, cache) as unpacking:
        tree = unpacking.stage(wheel, digest)
        assert _files(tree) == first  # same bytes, same .py times (so kept bytecode stays valid), same modes
        execute(plan([install.WantedPackage("pkg", "1.0")], two), {canonicalize_name("pkg"): tree}, two, link_mode=unpacking.link_mode)
    out = subprocess.run([str(two.python), "-c", "import pkg; print(pkg.VALUE)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ünïcode"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "compressed"])
def test_a_damaged_stored_copy_is_dropped_and_written_again(env: TargetEnvironment, tmp_path: Path, damage: str) -> None:
    cache, wheel = Cache(tmp_path / "cache"), _wheel(tmp_path)
    digest = sha256_file(wheel)
    with install.unpacking_for("clone", env, cache) as unpacking:
        expected = _files(unpacking.stage(wheel, digest))
    copy = cache.stored(digest)
    assert copy is not None
    data = copy.read_bytes()
    if damage == "truncated":  # the central directory survives, the bytes it points to do not
        index = data.index(b"PK\x01\x02")
        copy.write_bytes(data[: index // 3] + b"\0" * (index - index // 3) + data[index:])
    elif damage == "garbage":
        copy.write_bytes(b"not a zip" * 10)
    else:  # a compressed archive in its place: never copied out byte for byte
        copy.write_bytes(wheel.read_bytes())
    with install.unpacking_for("clone", env, cache) as unpacking:
        assert _files(unpacking.stage(wheel, digest)) == expected
    again = cache.stored(digest)
    assert again is not None and zipfile.ZipFile(again).testzip() is None


def test_a_cache_without_stored_copies_is_used_and_filled(env: TargetEnvironment, tmp_path: Path) -> None:
    """A cache of the previous layout (wheel, bytecode, checked mark; no stored-v1) still installs."""
    cache, wheel = Cache(tmp_path / "cache"), _wheel(tmp_path)
    digest = sha256_file(wheel)
    cache.mark_wheel_checked(digest)
    with install.unpacking_for("clone", env, cache) as unpacking:
        assert (unpacking.stage(wheel, digest) / "pkg" / "core.py").is_file()
    assert cache.stored(digest) is not None


def test_a_refused_wheel_keeps_no_stored_copy(env: TargetEnvironment, tmp_path: Path) -> None:
    dist = Dist("liar", "1.0", files={"liar/a.py": "A = 1\n"})
    good = build_wheel(dist)
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        members = [(m, archive.read(m)) for m in archive.infolist()]
    path = tmp_path / dist.wheel_filename
    with zipfile.ZipFile(path, "w") as out:
        for member, data in members:
            out.writestr(member, b"A = 2\n" if member.filename == "liar/a.py" else data)
    cache = Cache(tmp_path / "cache")
    with install.unpacking_for("clone", env, cache) as unpacking, pytest.raises(UnsafeWheel, match=r"liar/a\.py"):
        unpacking.stage(path, sha256_file(path))
    assert cache.stored(sha256_file(path)) is None
    assert not list((tmp_path / "cache" / "tmp").iterdir())


def test_copy_out_refuses_an_escaping_name_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        out.writestr("ok/a.py", "A = 1\n")
        out.writestr("../escape.py", "B = 1\n")
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(UnsafeWheel, match="outside"):
        stored.copy_out(archive, into)
    assert not (tmp_path / "escape.py").exists()
    assert not (into / "ok" / "a.py").exists()  # what it had written is removed again


def test_copy_out_refuses_what_accept_refuses(tmp_path: Path) -> None:
    archive = tmp_path / "bytecode.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        out.writestr("pkg/__pycache__/a.cpython-311.pyc", b"\0" * 16)
        out.writestr("pkg/a.py", "A = 1\n")
    into = tmp_path / "into"
    into.mkdir()
    assert not staging._unpack_bytecode(archive, into)
    assert not [p for p in into.rglob("*") if p.is_file()]


def test_copy_out_copies_across_filesystems_and_without_copy_file_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "a.zip"
    payload = os.urandom(300_000)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        out.writestr("a/small.py", "A = 1\n")
        out.writestr("a/big.bin", payload)

    def no_copy_file_range(*args: object) -> int:
        raise OSError(18, "Invalid cross-device link")

    for patched in ("copy_file_range", "sendfile"):
        monkeypatch.setattr(os, patched, no_copy_file_range)
        into = tmp_path / f"without-{patched}"
        into.mkdir()
        assert stored.copy_out(archive, into) == 2
        assert (into / "a" / "big.bin").read_bytes() == payload and (into / "a" / "small.py").read_text() == "A = 1\n"


def test_a_stored_copy_too_large_for_plain_zip_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored, "_LIMIT", 1000)
    member = zipfile.ZipInfo("a/b.py", (2020, 1, 1, 0, 0, 0))
    member.file_size, member.CRC = 5000, 0
    with stored.StoredCopy(tmp_path / "copy.zip") as copy, pytest.raises(OSError, match="too large"):
        copy.member(member)


def test_an_idle_compile_pool_starts_no_worker(tmp_path: Path) -> None:
    pool = install.CompilePool(str(tmp_path / "no-python"), 2)
    with pool:
        pool.submit([str(tmp_path / "not-python.txt")])  # nothing to compile: no worker is started
    assert pool.close() == 0  # a started worker would have failed (no interpreter there): None


def test_unpack_wheel_copies_every_member_it_writes(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    with stored.StoredCopy(tmp_path / "copy.zip") as copy:
        safety.unpack_wheel(wheel, tmp_path / "tree", read_only=False, copy_to=copy.member)
    with zipfile.ZipFile(tmp_path / "copy.zip") as archive:
        assert archive.testzip() is None
        for member in archive.infolist():
            assert archive.read(member) == (tmp_path / "tree" / member.filename).read_bytes()


def test_copy_out_keeps_the_executable_bit(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        run = zipfile.ZipInfo("pkg-1.0.data/scripts/run", (2020, 1, 1, 0, 0, 0))
        run.external_attr = 0o100755 << 16
        out.writestr(run, "#!/bin/sh\n")
        out.writestr("pkg/plain.txt", "x")
    stored.copy_out(archive, tmp_path / "into")
    assert os.stat(tmp_path / "into" / "pkg-1.0.data" / "scripts" / "run").st_mode & 0o777 == 0o755
    assert os.stat(tmp_path / "into" / "pkg" / "plain.txt").st_mode & 0o111 == 0


def test_a_member_of_another_size_than_announced_leaves_no_copy(tmp_path: Path) -> None:
    member = zipfile.ZipInfo("a/b.py", (2020, 1, 1, 0, 0, 0))
    member.file_size, member.CRC = 10, 0
    with pytest.raises(OSError, match="holds 41 bytes, not 46"), stored.StoredCopy(tmp_path / "copy.zip") as copy:
        copy.member(member).write(b"short")


@pytest.mark.parametrize("stalled", [("copy_file_range",), ("copy_file_range", "sendfile")])
def test_a_kernel_copy_that_stops_short_is_finished_another_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stalled: tuple[str, ...]
) -> None:
    """copy_file_range (or sendfile) answering 0 before the end (as on files some filesystems do
    not size) is not the end of the bytes; a pread/write fallback writes all of what os.write takes
    only in part."""
    archive = tmp_path / "a.zip"
    payload = os.urandom(300_000)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        out.writestr("a/big.bin", payload)
    for name in stalled:
        monkeypatch.setattr(os, name, lambda *args: 0)
    write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: write(fd, bytes(data[:1000])))
    into = tmp_path / "into"
    into.mkdir()
    assert stored.copy_out(archive, into) == 1
    assert (into / "a" / "big.bin").read_bytes() == payload


def test_kept_bytecode_replaces_a_wheels_own_pyc(env: TargetEnvironment, tmp_path: Path) -> None:
    """A wheel that ships its own ``__pycache__/*.pyc``: the bytecode the cache keeps for it is
    copied over that file on a warm install (not refused as a duplicate, dropped and compiled again)."""
    tag = env.interpreter.cache_tag
    assert tag
    pyc = f"pkg/__pycache__/core.{tag}.pyc"
    dist = Dist("pkg", "1.0", files={"pkg/__init__.py": "", "pkg/core.py": "A = 1\n", pyc: "own"})
    wheel = tmp_path / dist.wheel_filename
    wheel.write_bytes(build_wheel(dist))
    cache, digest = Cache(tmp_path / "cache"), sha256_file(wheel)
    with install.unpacking_for("clone", env, cache) as unpacking:
        tree = unpacking.stage(wheel, digest)
        (tree / pyc).write_bytes(b"compiled")
        unpacking.keep_bytecode([tree])
    assert cache.bytecode(digest, tag) is not None
    with install.unpacking_for("clone", env, cache) as unpacking:
        assert (unpacking.stage(wheel, digest) / pyc).read_bytes() == b"compiled"
    assert cache.bytecode(digest, tag) is not None
