"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

Every writer in thoth-pip goes through here: ``atomic_write`` for bytes or text
produced in memory (locks, Pipfiles, shims, memos, knowledge), ``publish`` for a
file already written elsewhere (a download, a built wheel) that must appear
under its final name in one step. Both write into the destination's directory
(or a staging file there), fsync, rename with ``os.replace`` and fsync the
directory, so the rename is durable too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

__all__ = ["atomic_write", "fsync_dir", "fsync_file", "publish"]


def atomic_write(path: Path, data: Union[str, bytes], *, mode: Optional[int] = None, durable: bool = True) -> None:
    """Write ``data`` (text is UTF-8, ``\\n`` line ends) to ``path`` in one rename.

    ``mode`` sets the permissions; without it an existing file keeps its own and a new
    one gets 0o644. ``durable=False`` skips the fsyncs (memos and caches that only cost
    a recomputation when lost).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else _mode_of(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def publish(source: Path, final: Path, *, staging_dir: Optional[Path] = None) -> Path:
    """Move the finished file ``source`` to ``final`` in one rename (fsynced, directory too).

    Across filesystems the bytes are first copied to a staging file (in ``staging_dir``,
    else beside ``final``), so the last step is still a rename; ``source`` is then removed.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    fsync_file(source)
    try:
        os.replace(source, final)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _publish_copy(source, final, staging_dir or final.parent)
    fsync_dir(final.parent)
    return final


def _publish_copy(source: Path, final: Path, staging_dir: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=final.suffix, dir=staging_dir)
    os.close(fd)
    staged = Path(name)
    try:
        shutil.copyfile(source, staged)
        fsync_file(staged)
        os.replace(staged, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    source.unlink()


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
