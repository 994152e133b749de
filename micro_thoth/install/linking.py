"""Putting a cached file into an environment: the link modes (uv's clone / copy / hardlink / symlink).

``clone`` (the default) asks the filesystem for a copy-on-write clone (``FICLONE``,
a reflink on btrfs, XFS, bcachefs, ZFS 2.2+) and copies when it cannot; either way
the environment gets its own inode, so an edit there never reaches the cache or
another environment. ``hardlink`` and ``symlink`` share the cache's inode: faster,
but an in-place edit changes the cache too (the cache files are read-only, and a
tree is re-checked against its RECORD before anything links to it). A copy keeps
the cached file's modification time, so the bytecode compiled in the tree stays valid.

``move`` is not a user's mode: it places the files of a staging tree (staging.py), unpacked
into the environment's own filesystem for this install only, by a link and an unlink (never
over an existing file), so each installed file is created once; across filesystems it copies.
"""

from __future__ import annotations

import contextlib
import os
import threading

from ..settings import DEFAULT_LINK_MODE
from .safety import write_all

MOVE = "move"  # a staging tree's files, taken over (staging.py)
FICLONE = 0x40049409  # _IOW(0x94, 9, int): linux/fs.h

try:
    import fcntl
except ImportError:  # not on this platform: copy
    fcntl = None  # type: ignore[assignment]


class Placer:
    """Places files by one link mode, falling back once for good when the filesystem says no."""

    def __init__(self, mode: str = DEFAULT_LINK_MODE) -> None:
        self.mode = mode
        self._lock = threading.Lock()
        self.can_link = mode in ("hardlink", MOVE)
        self.can_clone = mode == "clone" and fcntl is not None

    def place(self, source: str, target: str) -> None:
        """``target`` (absent) becomes ``source``'s content, by this placer's mode: FileExistsError if
        it is there, FileNotFoundError (nothing made) if ``source`` is not."""
        if self.mode == "symlink":
            os.stat(source)  # no dangling link
            os.symlink(source, target)
            return
        if self.can_link:
            try:
                os.link(source, target)
            except (FileExistsError, FileNotFoundError):
                raise
            except OSError:  # another filesystem, or links not allowed: copy from now on
                self.can_link = False
            else:
                if self.mode == MOVE:
                    os.unlink(source)
                return
        self._copy(source, target)

    def _copy(self, source: str, target: str) -> None:
        """One open of each file, the bytes moved in the kernel (a clone when the filesystem can), the
        source's time kept (the tree's bytecode stays valid for it); lean: this is the warm path."""
        src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(src)
            dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o755 if st.st_mode & 0o111 else 0o644)
            try:
                if not (self.can_clone and self._clone(src, dst)):
                    transfer(src, dst, st.st_size)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            except BaseException:
                os.unlink(target)  # no half-copied file: the caller records only what was placed
                raise
            finally:
                os.close(dst)
        finally:
            os.close(src)

    def _clone(self, src: int, dst: int) -> bool:
        try:
            fcntl.ioctl(dst, FICLONE, src)
            return True
        except OSError:  # EOPNOTSUPP, EXDEV, EINVAL...: this filesystem copies
            with self._lock:
                self.can_clone = False
            return False


def transfer(src: int, dst: int, size: int, offset: int = 0) -> int:
    """Copy ``size`` bytes of ``src`` from ``offset`` to ``dst``'s position in the kernel: copy_file_range
    (shares extents where the filesystem can), else sendfile (across filesystems), else pread/write.
    ``src``'s position is not used; the bytes copied (fewer only if ``src`` ends sooner). A way that
    fails or stops short (0 before the end: some filesystems' files) hands the rest to the next."""
    done = 0
    with contextlib.suppress(AttributeError, OSError):  # Python < 3.8 / not Linux, or EXDEV/ENOSYS
        while done < size and (sent := os.copy_file_range(src, dst, size - done, offset + done)):
            done += sent
    with contextlib.suppress(AttributeError, OSError):  # no sendfile between these files
        while done < size and (sent := os.sendfile(dst, src, offset + done, size - done)):
            done += sent
    while done < size and (chunk := os.pread(src, min(size - done, 1 << 20), offset + done)):
        write_all(dst, chunk)
        done += len(chunk)
    return done
