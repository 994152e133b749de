"""Wheels unpacked into a private directory of the target environment, then moved into place.

With the default link modes (``clone``, ``copy``) every environment gets files of its own.
Unpacking a wheel into the cache and copying it from there creates every file twice; here each
verified wheel is unpacked once, as soon as it is downloaded, into a hidden staging directory
of the environment's ``purelib`` (``.thoth-pip-staging-<pid>-*``: the same filesystem, so
installing a file is a link and an unlink, and nothing in it is importable). Nothing is
installed before ``execute`` holds every wheel of the plan, so the all-or-nothing rule holds;
the directory is removed when the install ends, however it ends.

The cache keeps the verified wheel (``artifacts-v1``), an uncompressed copy of it written while
it is first unpacked (``stored-v1``, stored.py) and, per interpreter cache tag, an archive of the
bytecode compiled for it (``bytecode-v1``): a warm install copies the files and the bytecode out
of the two archives in the kernel, inflates nothing and compiles nothing. ``.py`` files get their
member's time, so that bytecode stays valid.
The hardlink and symlink modes share the cache's files and keep placing from the cache's
unpacked trees (``CacheTrees``, trees.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Optional, Union

from .. import zips
from ..cache import Cache, owner_alive
from ..errors import InstallError, UnsafeWheel
from .cores import cores
from .environment import TargetEnvironment
from .linking import MOVE
from .safety import unpack_wheel
from .stored import StoredCopy, copy_out
from .trees import compiled_bytecode, unpacked_tree

PREFIX = ".thoth-pip-staging-"
STAGED_MODES = ("clone", "copy")  # the link modes whose files are the environment's own
_UNREADABLE: tuple[type[Exception], ...] = (*zips.UNREADABLE, OSError, UnsafeWheel)


class Staging:
    """One install's staging directory in ``env`` (made on entry, removed on exit)."""

    link_mode = MOVE

    def __init__(self, env: TargetEnvironment, cache: Cache, bytecode: bool = True) -> None:
        self._cache = cache
        self._tag = (env.interpreter.cache_tag or "") if bytecode else ""
        self._site = Path(env.paths["purelib"])
        self._unarchived: dict[Path, str] = {}  # trees whose bytecode the cache does not hold yet
        self._lock = threading.Lock()
        self.root: Optional[Path] = None

    def __enter__(self) -> Staging:
        try:
            self._site.mkdir(parents=True, exist_ok=True)
            _sweep(self._site)
            self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=self._site))
        except OSError as exc:
            raise InstallError(f"cannot write into {self._site}: {exc.strerror or exc}",
                               hint="install into a virtual environment you own, or run as its owner") from exc
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def stage(self, wheel: Path, digest: Optional[str]) -> Path:
        """Unpack ``wheel`` (checked against its RECORD) into a new staging tree, with the bytecode
        the cache keeps for it (when the install compiles); ``digest`` is the wheel's sha256 (None:
        nothing kept for it). A wheel the cache keeps uncompressed (stored.py) is copied out of that
        copy; else it is inflated, and the copy written on the way."""
        assert self.root is not None, "stage() inside the with block"
        into = Path(tempfile.mkdtemp(dir=self.root))
        if digest is None:
            unpack_wheel(wheel, into, read_only=False)
            return into
        checked = self._cache.wheel_checked(digest)  # one stat, for both ways
        if not (checked and self._copy_stored(digest, into)):
            into = self._unpack(wheel, digest, into, checked)
        if self._tag:
            self._add_bytecode(digest, into)
        return into

    def _copy_stored(self, digest: str, into: Path) -> bool:
        """The wheel's files from the cache's uncompressed copy, if it keeps one (and it reads)."""
        stored = self._cache.stored(digest)
        if stored is None:
            return False
        try:
            copy_out(stored, into)
        except _UNREADABLE:
            self._cache.discard_stored(digest)
            _empty(into)
            return False
        return True

    def _unpack(self, wheel: Path, digest: str, into: Path, checked: bool) -> Path:
        """Inflate the wheel (hashed against its RECORD unless ``checked``: it was once), keeping an
        uncompressed copy in the cache on the way; a cache that cannot take the copy only costs the copy."""
        try:
            with self._cache.temp_file(suffix=".zip") as temp:
                with StoredCopy(temp) as copy:
                    unpack_wheel(wheel, into, read_only=False, checked=checked, copy_to=copy.member)
                self._cache.add_stored(digest, temp)
        except OSError:  # the cache's disk (full, read-only): unpack without the copy
            _empty(into)
            unpack_wheel(wheel, into, read_only=False, checked=checked)
        if not checked:
            self._cache.mark_wheel_checked(digest)
        return into

    def _add_bytecode(self, digest: str, into: Path) -> None:
        archive = self._cache.bytecode(digest, self._tag)
        if archive is None or not _unpack_bytecode(archive, into):
            if archive is not None:
                self._cache.discard_bytecode(digest, self._tag)
            with self._lock:
                self._unarchived[into] = digest

    def keep_bytecode(self, trees: Iterable[Path], workers: Optional[int] = None) -> None:
        """Archive the bytecode compiled in the staging ``trees`` the cache had none for (before
        ``execute`` moves their files away), so the next install of the same wheels compiles nothing."""
        with self._lock:
            todo = [(tree, self._unarchived.pop(tree)) for tree in trees if tree in self._unarchived]
        if len(todo) < 2:  # one tree, as its bytecode is compiled (pipeline/unpack_early.py)
            for job in todo:
                self._archive(*job)
            return
        with ThreadPoolExecutor(max_workers=max(1, min(len(todo), workers or cores(), cores()))) as pool:
            list(pool.map(lambda job: self._archive(*job), todo))

    def _archive(self, tree: Path, digest: str) -> None:
        files = compiled_bytecode(tree, self._tag)
        if files:
            with contextlib.suppress(OSError):  # bytecode is an optimisation: the next install compiles
                self._cache.add_bytecode(digest, self._tag, lambda path: _write_archive(path, tree, files))


class CacheTrees:
    """The hardlink and symlink modes: each wheel unpacked once into the cache (``unpacked-v1``),
    its bytecode compiled there, and placed into environments by the link mode."""

    def __init__(self, cache: Cache, link_mode: str) -> None:
        self._cache = cache
        self.link_mode = link_mode

    def __enter__(self) -> CacheTrees:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        pass

    def stage(self, wheel: Path, digest: Optional[str]) -> Path:
        return unpacked_tree(wheel, self._cache, digest)

    def keep_bytecode(self, trees: Iterable[Path], workers: Optional[int] = None) -> None:
        """Nothing to do: the bytecode was compiled into the cache's trees."""


def unpacking_for(link_mode: str, env: TargetEnvironment, cache: Cache, *, bytecode: bool = True) -> Union[Staging, CacheTrees]:
    """Where an install unpacks its wheels: a staging directory for the modes that give every
    environment its own files, the cache's trees for those that share them."""
    return Staging(env, cache, bytecode) if link_mode in STAGED_MODES else CacheTrees(cache, link_mode)


def _write_archive(path: Path, tree: Path, files: Iterable[str]) -> None:
    """The bytecode files of ``tree``, stored: one read and one write each, no stat (a ``.pyc`` needs
    no time of its own, and is never executable: the one bit of its mode copy_out reads)."""
    base = str(tree)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in files:
            member = zipfile.ZipInfo(name)
            member.external_attr = 0o644 << 16
            with open(os.path.join(base, name), "rb") as file:
                archive.writestr(member, file.read())


def _unpack_bytecode(archive: Path, into: Path) -> bool:
    """Copy the archive's ``__pycache__/*.pyc`` members into the tree; False (nothing copied) if it
    is unreadable or holds anything else."""
    try:
        copy_out(archive, into, accept=_is_bytecode, replace=True)
    except _UNREADABLE:
        return False
    return True


def _is_bytecode(name: str) -> bool:
    return name.endswith(".pyc") and "__pycache__" in name.split("/")[:-1]


def _empty(tree: Path) -> None:
    """Remove what a failed unpacking left in ``tree`` (kept, empty)."""
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir()


def _sweep(site: Path) -> None:
    """Remove staging directories of installs that were killed (their process is gone)."""
    for entry in site.glob(f"{PREFIX}*"):
        if not owner_alive(entry.name[len(PREFIX):]):
            shutil.rmtree(entry, ignore_errors=True)
