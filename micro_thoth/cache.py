"""The on-disk cache: platformdirs root, versioned buckets, atomic writes, content-addressed artifacts.

Layout under the root (see docs/cache.md)::

    CACHEDIR.TAG                              marks the tree as a cache (backup tools skip it)
    artifacts-v1/<sha256[:2]>/<sha256>/<filename>
                                              any downloaded file, keyed by the sha256 of its
                                              bytes; moved in only after the digest was computed
                                              while streaming, so a file here is what its name says
    built-v1/<sdist-sha256>/<wheel filename>  wheels built from an sdist, keyed by the sdist digest
                                              (one per target: a cp39 and a cp311 build coexist)
    unpacked-v1/<wheel-sha256>/               a wheel's unpacked tree (the hardlink and symlink modes)
    bytecode-v1/<sha256[:2]>/<wheel-sha256>/<cache tag>.zip
                                              the bytecode compiled for a wheel's sources by one
                                              interpreter (stored, not compressed), for warm installs
    stored-v1/<sha256[:2]>/<wheel-sha256>.zip the wheel's members uncompressed (a zip of stored
                                              members), written while the wheel is first unpacked:
                                              later installs copy them out in the kernel
    checked-v1/<sha256[:2]>/<wheel-sha256>    empty: the wheel's files were once hashed against
                                              its RECORD (later unpackings do not hash them again)
    metadata-v1.sqlite                        the knowledge store (store.py owns its schema)
    <bucket>/<sha256>.json                    memos: an answer kept while the files it came from stay
                                              the same (``memo_path``: keyed by their ``file_stamp``s);
                                              machine-tools-v1, system-abi-v1, interpreters-v2
    tmp/                                      temporary files, on the same filesystem as the
                                              buckets so that the final ``os.replace`` is atomic

Every entry appears in one atomic rename, after its bytes were fsynced, so a
reader never sees a partial file and two processes that add the same entry at
once both end up using one complete copy. A bucket's version suffix changes
when its layout does; old buckets are then simply ignored (``clear`` removes them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Optional

import platformdirs
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .fs import atomic_write, fsync_dir, publish
from .models import Hash, Target

APP_NAME = "thoth-pip"
ARTIFACTS = "artifacts-v1"
BUILT = "built-v1"
UNPACKED = "unpacked-v1"
BYTECODE = "bytecode-v1"
STORED = "stored-v1"
CHECKED = "checked-v1"
METADATA_DB = "metadata-v1.sqlite"
TMP = "tmp"
TAG_FILE = "CACHEDIR.TAG"
STALE_AFTER = 24 * 3600.0  # seconds before tmp/ leftovers of a dead process are swept
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by thoth-pip.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CACHE_TAG = re.compile(r"[a-z][a-z0-9_.-]*")  # sys.implementation.cache_tag: cpython-311, pypy39
# What ``clear`` may delete: versioned entries (``artifacts-v1``, ``metadata-v1.sqlite-wal``,
# ``pip-default-index-v1.json``), tmp/ and the tag file.
_OWNED = re.compile(
    r"(?:[a-z][a-z0-9]*(?:-[a-z0-9]+)*-v\d+(?:\.[A-Za-z0-9]+)*(?:-\w+)?|tmp|CACHEDIR\.TAG)"
)


def default_root(environ: Mapping[str, str], cache_dir: Optional[str] = None) -> Path:
    """The cache root: ``--cache-dir``, else THOTH_PIP_CACHE_DIR, else PIPENV_CACHE_DIR/thoth-pip,
    else the platform's user cache directory (``~/.cache/thoth-pip`` on Linux)."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if environ.get("THOTH_PIP_CACHE_DIR"):
        return Path(environ["THOTH_PIP_CACHE_DIR"]).expanduser()
    if environ.get("PIPENV_CACHE_DIR"):
        return Path(environ["PIPENV_CACHE_DIR"]).expanduser() / APP_NAME
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def _check_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise ValueError(f"not a sha256 hex digest: {value!r}")
    return value


def _check_filename(filename: str) -> str:
    if (
        not filename
        or filename in (".", "..")
        or "/" in filename
        or "\\" in filename
        or "\0" in filename
    ):
        raise ValueError(f"not a plain file name: {filename!r}")
    return filename


def _files_in(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.is_file())
    except FileNotFoundError:
        return []


class Cache:
    """One cache root and its buckets; every method is safe to call from several processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._swept = False

    @classmethod
    def default(
        cls, environ: Optional[Mapping[str, str]] = None, cache_dir: Optional[str] = None
    ) -> Cache:
        """The cache the user configured (see ``default_root`` for the precedence)."""
        return cls(default_root(os.environ if environ is None else environ, cache_dir))

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # -- paths ---------------------------------------------------------------
    @property
    def metadata_db(self) -> Path:
        """Where the SQLite knowledge store lives (the directory is created)."""
        self._ensure_root()
        return self.root / METADATA_DB

    def bucket(self, name: str) -> Path:
        """A versioned bucket directory (``name`` like ``simple-v1``), created on first use."""
        if not re.fullmatch(r"[a-z][a-z0-9-]*-v\d+", name):
            raise ValueError(f"bucket names are versioned, like 'pages-v1': {name!r}")
        path = self.root / name
        self._ensure_root()
        path.mkdir(exist_ok=True)
        return path

    def artifact_dir(self, sha256: str) -> Path:
        sha256 = _check_sha256(sha256)
        return self.root / ARTIFACTS / sha256[:2] / sha256

    def artifact_digest(self, path: Path) -> Optional[str]:
        """The sha256 of a verified file of the cache (its directory's name); None for any other path."""
        return path.parent.name if self.root / ARTIFACTS in path.parents else None

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tag = self.root / TAG_FILE
        if not tag.exists():
            with contextlib.suppress(OSError):
                tag.write_text(_TAG_TEXT)

    def _tmp(self) -> Path:
        self._ensure_root()
        path = self.root / TMP
        path.mkdir(exist_ok=True)
        if not self._swept:
            self._swept = True
            _sweep_stale(path, time.time() - STALE_AFTER)
        return path

    # -- artifacts -----------------------------------------------------------
    def artifacts(self, hashes: Iterable[Hash]) -> list[Path]:
        """Every cached file whose sha256 is among ``hashes`` (other algorithms are ignored).
        A lock names hundreds of digests: the bucket's first level is listed once, and only the
        digests under a prefix it holds are looked for (an empty cache answers at once)."""
        wanted = [d.value for d in dict.fromkeys(hashes) if d.algorithm == "sha256" and _SHA256.fullmatch(d.value)]
        if not wanted:
            return []
        bucket = os.path.join(self.root, ARTIFACTS)
        try:
            prefixes = set(os.listdir(bucket))
        except (FileNotFoundError, NotADirectoryError):
            return []
        found: list[Path] = []
        for value in wanted:
            if value[:2] in prefixes:
                found.extend(_files_in(self.artifact_dir(value)))
        return found

    def find_artifact(
        self, hashes: Iterable[Hash], *, filename: Optional[str] = None
    ) -> Optional[Path]:
        """A cached file with one of these sha256 digests (and this name, if given), or None."""
        for path in self.artifacts(hashes):
            if filename is None or path.name == filename:
                return path
        return None

    def add_artifact(self, temp_path: Path, sha256: str, filename: str) -> Path:
        """Move a fully written and hashed file into the cache; returns its cached path.

        If another process got there first, its file is kept and ``temp_path`` removed.
        """
        final = self.artifact_dir(sha256) / _check_filename(filename)
        return self._publish_file(Path(temp_path), final)

    # -- wheels built from sdists -----------------------------------------------
    def built_wheels(self, sdist_sha256: str) -> list[Path]:
        directory = self.root / BUILT / _check_sha256(sdist_sha256)
        return [p for p in _files_in(directory) if p.suffix == ".whl"]

    def built_wheel(self, sdist_sha256: str, target: Optional[Target] = None) -> Optional[Path]:
        """A wheel built from this sdist: the best for ``target``'s tags, or any without one."""
        wheels = self.built_wheels(sdist_sha256)
        if target is None:
            return wheels[0] if wheels else None
        ranked = [
            (rank, path) for path in wheels if (rank := _wheel_rank(path, target)) is not None
        ]
        return min(ranked)[1] if ranked else None

    def add_built_wheel(self, sdist_sha256: str, wheel_path: Path) -> Path:
        """Move a wheel built from the sdist with this digest into the cache (keeps its name)."""
        wheel_path = Path(wheel_path)
        final = self.root / BUILT / _check_sha256(sdist_sha256) / _check_filename(wheel_path.name)
        return self._publish_file(wheel_path, final)

    # -- unpacked wheels -----------------------------------------------------
    def unpacked(self, wheel_sha256: str) -> Optional[Path]:
        path = self.root / UNPACKED / _check_sha256(wheel_sha256)
        return path if path.is_dir() else None

    def add_unpacked(self, wheel_sha256: str, fill: Callable[[Path], None]) -> Path:
        """Unpack with ``fill(temp_dir)`` and rename the whole tree in at once.

        A tree that already exists (another process won the race) is kept.
        """
        final = self.root / UNPACKED / _check_sha256(wheel_sha256)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        with self.temp_dir() as staging:
            fill(staging)
            try:
                os.rename(staging, final)
            except OSError:
                if not final.is_dir():
                    raise
                # lost the race: the winner's tree is complete; ours is removed below
        fsync_dir(final.parent)
        return final

    def discard_unpacked(self, wheel_sha256: str) -> None:
        """Drop a tree (renamed away first: a reader sees the whole tree or none)."""
        final = self.root / UNPACKED / _check_sha256(wheel_sha256)
        with self.temp_dir() as trash, contextlib.suppress(FileNotFoundError):
            os.rename(final, trash / "tree")

    # -- bytecode of a wheel's sources ----------------------------------------
    def _bytecode_path(self, wheel_sha256: str, cache_tag: str) -> Path:
        if not _CACHE_TAG.fullmatch(cache_tag):
            raise ValueError(f"not an interpreter cache tag: {cache_tag!r}")
        return self.root / BYTECODE / wheel_sha256[:2] / _check_sha256(wheel_sha256) / f"{cache_tag}.zip"

    def bytecode(self, wheel_sha256: str, cache_tag: str) -> Optional[Path]:
        """The archive of the bytecode ``cache_tag``'s interpreter compiled for this wheel, if kept."""
        path = self._bytecode_path(wheel_sha256, cache_tag)
        return path if path.is_file() else None

    def add_bytecode(self, wheel_sha256: str, cache_tag: str, fill: Callable[[Path], None]) -> Path:
        """Write the archive with ``fill(temp_file)`` and publish it in one rename (the first writer wins)."""
        final = self._bytecode_path(wheel_sha256, cache_tag)
        if final.is_file():
            return final
        with self.temp_file(suffix=".zip") as temp:
            fill(temp)
            return self._publish_file(temp, final)

    def discard_bytecode(self, wheel_sha256: str, cache_tag: str) -> None:
        """Drop an archive that could not be read (the next install compiles and keeps it again)."""
        with contextlib.suppress(FileNotFoundError):
            self._bytecode_path(wheel_sha256, cache_tag).unlink()

    # -- wheels kept uncompressed ----------------------------------------------
    def _stored_path(self, wheel_sha256: str) -> Path:
        return self.root / STORED / wheel_sha256[:2] / f"{_check_sha256(wheel_sha256)}.zip"

    def stored(self, wheel_sha256: str) -> Optional[Path]:
        """The uncompressed copy of the wheel with this digest (install/stored.py), if kept."""
        path = self._stored_path(wheel_sha256)
        return path if path.is_file() else None

    def add_stored(self, wheel_sha256: str, archive: Path) -> Path:
        """Publish the finished uncompressed copy ``archive`` (a temp_file) in one rename (the first writer wins)."""
        return self._publish_file(archive, self._stored_path(wheel_sha256))

    def discard_stored(self, wheel_sha256: str) -> None:
        """Drop a copy that could not be read (the next unpacking of the wheel writes it again)."""
        with contextlib.suppress(FileNotFoundError):
            self._stored_path(wheel_sha256).unlink()

    # -- wheels checked in full ------------------------------------------------
    def wheel_checked(self, wheel_sha256: str) -> bool:
        """Whether the wheel with this digest was once unpacked with every file hashed against its
        RECORD (the same bytes pass the same check: a later unpacking need not hash again)."""
        return (self.root / CHECKED / wheel_sha256[:2] / _check_sha256(wheel_sha256)).is_file()

    def mark_wheel_checked(self, wheel_sha256: str) -> None:
        """Remember the full check (an empty file; losing it only costs one more check)."""
        marker = self.root / CHECKED / wheel_sha256[:2] / _check_sha256(wheel_sha256)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    # -- temporary files -----------------------------------------------------
    @contextlib.contextmanager
    def temp_file(self, suffix: str = "") -> Iterator[Path]:
        """An empty file under tmp/; removed on exit unless it was moved away (also on Ctrl-C)."""
        fd, name = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=suffix, dir=self._tmp())
        os.close(fd)
        path = Path(name)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @contextlib.contextmanager
    def temp_dir(self) -> Iterator[Path]:
        """An empty directory under tmp/; removed with its contents on exit unless moved away."""
        path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self._tmp()))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    # -- maintenance ---------------------------------------------------------
    def clear(self) -> None:
        """Remove everything thoth-pip keeps here (``--clear``); foreign files are left alone."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if not _OWNED.fullmatch(entry.name):
                continue
            _remove(entry)

    def size(self) -> int:
        """Bytes used by the files under the root (symlinks are not followed)."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
        return total

    # -- internals -----------------------------------------------------------
    def _publish_file(self, source: Path, final: Path) -> Path:
        """Rename ``source`` to ``final`` atomically (fs.publish); an entry already there is kept."""
        if final.is_file():
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            return final
        return publish(source, final, staging_dir=self._tmp())


def owner_alive(name: str) -> bool:
    """Whether the process whose pid prefixes a temp name still runs on this machine."""
    pid = name.split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _sweep_stale(tmp: Path, cutoff: float) -> None:
    """Remove what killed processes left in tmp/ (older than ``cutoff`` and owner gone)."""
    for entry in tmp.iterdir():
        try:
            if entry.lstat().st_mtime >= cutoff or owner_alive(entry.name):
                continue
        except FileNotFoundError:
            continue
        _remove(entry)


def _remove(entry: Path) -> None:
    """Remove a file, symlink or directory tree; one already gone is fine."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()


def _wheel_rank(path: Path, target: Target) -> Optional[int]:
    try:
        tags = parse_wheel_filename(path.name)[3]
    except InvalidWheelFilename:
        return None
    return target.tag_rank(tags)


def file_stamp(path: str | os.PathLike[str]) -> list[int]:
    """A file's size, mtime_ns, inode and device (symlinks followed), as a memo's key holds them; empty if unreadable."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def memo_path(cache_dir: Path, bucket: str, parts: object) -> Path:
    """Where the answer keyed by ``parts`` (JSON data: command lines, paths, ``file_stamp``s) is remembered."""
    return cache_dir / bucket / f"{hashlib.sha256(json.dumps(parts).encode()).hexdigest()}.json"


def read_memo(memo: Path) -> object:
    """The answer remembered there (JSON data; the caller checks its shape), None when missing or damaged."""
    try:
        return json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_memo(memo: Path, answer: object) -> None:
    """Keep ``answer`` there; a memo that cannot be written only costs the work again next time."""
    try:
        atomic_write(memo, json.dumps(answer), durable=False)
    except OSError:
        pass
