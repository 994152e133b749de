"""Quick integrity of files against their RECORD: present, the recorded size, not modified after RECORD.

One ``stat`` per file, no read: RECORD is written last, after every file it lists
(an installed copy or link keeps the cached file's older time), so a file edited
afterwards is newer than RECORD. ``check`` hashes every file; this is what ``sync``
(its no-op answer included) and the cache can afford on every run, and it finds what an
edit or a deletion did. ``open_regular`` is how a file a RECORD lists is opened for reading:
a FIFO, a device or a directory there is named (``NotRegular``), never read.
Standard library only: the no-op sync imports it before anything else.
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path
from typing import BinaryIO, Optional, Union

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class NotRegular(OSError):
    """A path that is not a regular file (its ``kind``: a FIFO, a device, a directory...)."""

    def __init__(self, path: Union[str, Path], kind: str) -> None:
        super().__init__(f"{path} is not a regular file ({kind})")
        self.kind = kind


def irregular(mode: int) -> Optional[str]:
    """What a file of this ``st_mode`` is when it is not a regular file ("a FIFO"...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a file")


def open_regular(path: Union[str, Path]) -> BinaryIO:
    """``path`` (symlinks followed) opened for reading if it is a regular file, else ``NotRegular``.

    Checked before the open (opening a device can act on it) and again on what was opened, with
    ``O_NONBLOCK`` so that a FIFO put there in between cannot block the open.
    """
    kind = irregular(os.stat(path).st_mode)
    if kind is None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        kind = irregular(os.fstat(fd).st_mode)
        if kind is None:
            return os.fdopen(fd, "rb")
        os.close(fd)
    raise NotRegular(path, kind)


def damaged_files(dist_info: Path, base: Path) -> list[str]:
    """RECORD paths of ``dist_info`` (relative to ``base``) missing, resized or edited since; ["RECORD"] if unreadable."""
    record = dist_info / "RECORD"
    try:
        written = os.stat(record).st_mtime_ns
        rows = _rows(record.read_text(encoding="utf-8"))
        base_fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, UnicodeDecodeError, csv.Error):
        return ["RECORD"]
    try:
        return _changed(rows, base_fd, written)
    finally:
        os.close(base_fd)


def _changed(rows: list[tuple[str, str]], base_fd: int, written: int) -> list[str]:
    """The rows whose file is gone, of another size, or newer than RECORD: each stat'ed relative to
    the base directory (its path not walked again for each of thousands of files)."""
    damaged = []
    stat = os.stat
    for path, size in rows:
        try:
            st = stat(path, dir_fd=base_fd)
        except OSError:
            damaged.append(path)
            continue
        if st.st_mtime_ns > written or (size and st.st_size != int(size)):
            damaged.append(path)
    return damaged


def _rows(text: str) -> list[tuple[str, str]]:
    """(path, size) of the RECORD rows that have a hash (plain rows split fast, quoted ones by csv)."""
    rows = []
    for line in text.splitlines():
        parts = next(csv.reader([line]), []) if line.startswith('"') else line.rsplit(",", 2)
        if len(parts) >= 3 and parts[1]:
            rows.append((parts[0], parts[2] if parts[2].isdigit() else ""))
    return rows


def tree_damaged(root: Path) -> bool:
    """An unpacked cache tree whose files changed since it was unpacked (a hard link edited in place)."""
    infos = [p for p in root.iterdir() if p.name.endswith(".dist-info")] if root.is_dir() else []
    return len(infos) != 1 or bool(damaged_files(infos[0], root))
