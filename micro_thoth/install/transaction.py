"""One install at a time per environment (a file lock), and undo: what was moved away and written."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Union

from ..errors import EnvironmentBusy
from ..reporting import NULL_REPORTER, Reporter
from .environment import TargetEnvironment

DEFAULT_LOCK_TIMEOUT = 900.0


@contextlib.contextmanager
def environment_lock(
    env: TargetEnvironment, *, timeout: float = DEFAULT_LOCK_TIMEOUT, reporter: Reporter = NULL_REPORTER
) -> Iterator[None]:
    """Hold the exclusive install lock of ``env``; EnvironmentBusy after ``timeout`` seconds."""
    env.lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(env.lock_path, "a+b") as handle:
        _acquire(handle, env, timeout, reporter)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: BinaryIO, env: TargetEnvironment, timeout: float, reporter: Reporter) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not told:
                reporter.message(f"waiting for another install into {env.prefix} to finish", "warning")
                told = True
            if time.monotonic() >= deadline:
                raise EnvironmentBusy(str(env.prefix), timeout) from None
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))


class Transaction:
    """Files stashed (removed or overwritten) and files written, so all can be undone."""

    def __init__(self, backup_root: Path) -> None:
        self.backup_root = backup_root
        self.stashed: list[tuple[Path, Path]] = []
        self.written: list[str] = []
        self._written: set[str] = set()
        self.moved_in: list[str] = []  # whole directories this transaction put in place (staging.py)
        self._lock = threading.Lock()

    def stash(self, path: Path) -> None:
        backup = self.backup_root / str(path).lstrip(os.sep)
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(backup))
        with self._lock:
            self.stashed.append((path, backup))

    def wrote(self, path: Union[str, Path]) -> None:
        with self._lock:
            self.written.append(os.fspath(path))
            self._written.add(os.fspath(path))

    def moved(self, directory: str) -> None:
        """A directory that did not exist was moved in whole (its files are told with ``wrote`` too)."""
        with self._lock:
            self.moved_in.append(directory)

    def will_write(self, path: str) -> None:
        """Before writing ``path``: keep what was there, unless this transaction wrote it."""
        os.makedirs(os.path.dirname(path), exist_ok=True)  # threads may share a namespace dir
        if os.path.lexists(path):
            with self._lock:
                ours = path in self._written
            if ours:  # two distributions ship the same file: the last one wins, as with pip
                os.unlink(path)
            else:
                self.stash(Path(path))
        self.wrote(path)

    def rollback(self) -> None:
        for directory in reversed(self.moved_in):
            shutil.rmtree(directory, ignore_errors=True)
        for path in reversed(self.written):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        prune_dirs(Path(path).parent for path in self.written)
        for original, backup in reversed(self.stashed):
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(backup), str(original))
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.backup_root, ignore_errors=True)


def prune_dirs(directories: Iterable[Path]) -> None:
    """Remove directories left empty, deepest first (never a scheme root: those hold files)."""
    for directory in sorted(set(directories), key=lambda p: len(p.parts), reverse=True):
        for candidate in (directory, *directory.parents):
            try:
                candidate.rmdir()
            except OSError:
                break


@contextlib.contextmanager
def open_transaction(env: TargetEnvironment, reporter: Reporter = NULL_REPORTER) -> Iterator[Transaction]:
    """Call with the environment's lock held: backups found here are a killed run's leftovers."""
    root = Path(env.paths["purelib"])
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".thoth-pip-backup-*"):
        reporter.message(f"removing {stale}, left by an install that was killed", "warning")
        shutil.rmtree(stale, ignore_errors=True)
    transaction = Transaction(Path(tempfile.mkdtemp(prefix=".thoth-pip-backup-", dir=root)))
    try:
        yield transaction
    except BaseException:
        transaction.rollback()
        raise
    transaction.discard()
