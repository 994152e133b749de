"""Wheels unpacked into a private directory of the target environment, then moved into place.

With the default link modes (``clone``, ``copy``) every environment gets files of its own.
Unpacking a wheel into the cache and copying it from there creates every file twice; here each
verified wheel is unpacked once, as soon as it is downloaded, into a hidden staging directory
of the environment's ``purelib`` (``.thoth-pip-staging-<pid>-*``: the same filesystem, so
installing a file is a link and an unlink, and nothing in it is importable). Nothing is
installed before ``execute`` holds every wheel of the plan, so the all-or-nothing rule holds;
the directory is removed when the install ends, however it ends.

The cache keeps the verified wheel (``artifacts-v1``) and, per interpreter cache tag, an
archive of the bytecode compiled for it (``bytecode-v1``): a warm install unpacks the two and
compiles nothing. ``.py`` files get their archive member's time, so that bytecode stays valid.
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
from .safety import inside, unpack_wheel, write_all
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
        no bytecode kept for it)."""
        assert self.root is not None, "stage() inside the with block"
        into = Path(tempfile.mkdtemp(dir=self.root))
        checked = digest is not None and self._cache.wheel_checked(digest)
        unpack_wheel(wheel, into, read_only=False, checked=checked)
        if digest is not None and not checked:
            self._cache.mark_wheel_checked(digest)
        if digest is None or not self._tag:
            return into
        archive = self._cache.bytecode(digest, self._tag)
        if archive is None or not _unpack_bytecode(archive, into):
            if archive is not None:
                self._cache.discard_bytecode(digest, self._tag)
            with self._lock:
                self._unarchived[into] = digest
        return into

    def keep_bytecode(self, trees: Iterable[Path], workers: Optional[int] = None) -> None:
        """Archive the bytecode compiled in the staging ``trees`` the cache had none for (before
        ``execute`` moves their files away), so the next install of the same wheels compiles nothing."""
        with self._lock:
            todo = [(tree, self._unarchived.pop(tree)) for tree in trees if tree in self._unarchived]
        if not todo:
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
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in files:
            archive.write(tree / name, name)


def _unpack_bytecode(archive: Path, into: Path) -> bool:
    """Write the archive's ``__pycache__/*.pyc`` members into the tree; False if it is unreadable
    (what was written is valid: each member's CRC is checked before it is written)."""
    root = str(into)
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                name = member.filename
                if not name.endswith(".pyc") or "__pycache__" not in name.split("/")[:-1]:
                    return False
                target = inside(root, name)
                data = bundle.read(member)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    write_all(fd, data)
                finally:
                    os.close(fd)
    except _UNREADABLE:
        return False
    return True


def _sweep(site: Path) -> None:
    """Remove staging directories of installs that were killed (their process is gone)."""
    for entry in site.glob(f"{PREFIX}*"):
        if not owner_alive(entry.name[len(PREFIX):]):
            shutil.rmtree(entry, ignore_errors=True)
