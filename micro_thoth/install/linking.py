"""Putting a cached file into an environment: the link modes (uv's clone / copy / hardlink / symlink).

``clone`` (the default) asks the filesystem for a copy-on-write clone (``FICLONE``,
a reflink on btrfs, XFS, bcachefs, ZFS 2.2+) and copies when it cannot; either way
the environment gets its own inode, so an edit there never reaches the cache or
another environment. ``hardlink`` and ``symlink`` share the cache's inode: faster,
but an in-place edit changes the cache too (the cache files are read-only, and a
tree is re-checked against its RECORD before anything links to it). A copy keeps
the cached file's modification time, so the bytecode compiled in the tree stays valid.
"""

from __future__ import annotations

import os
import shutil
import threading

from ..settings import DEFAULT_LINK_MODE

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
        self.can_link = mode == "hardlink"
        self.can_clone = mode == "clone" and fcntl is not None

    def place(self, source: str, target: str) -> None:
        """``target`` (absent) becomes ``source``'s content, by this placer's mode."""
        if self.mode == "symlink":
            os.symlink(source, target)
            return
        if self.can_link:
            try:
                os.link(source, target)
                return
            except OSError:  # another filesystem, or links not allowed: copy from now on
                self.can_link = False
        self._copy(source, target)

    def _copy(self, source: str, target: str) -> None:
        st = os.stat(source)
        if not (self.can_clone and self._clone(source, target)):
            shutil.copyfile(source, target)  # sendfile(2): one pass in the kernel
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.chmod(target, 0o755 if st.st_mode & 0o111 else 0o644)

    def _clone(self, source: str, target: str) -> bool:
        try:
            with open(source, "rb") as src, open(target, "wb") as dst:
                fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return True
        except OSError:  # EOPNOTSUPP, EXDEV, EINVAL...: this filesystem copies
            with self._lock:
                self.can_clone = False
            return False
