"""Quick integrity of files against their RECORD: present, the recorded size, not modified after RECORD.

One ``stat`` per file, no read: RECORD is written last, after every file it lists
(an installed copy or link keeps the cached file's older time), so a file edited
afterwards is newer than RECORD. ``check`` hashes every file; this is what ``sync``
(its no-op answer included) and the cache can afford on every run, and it finds what an
edit or a deletion did. Standard library only: the no-op sync imports it before anything else.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path


def damaged_files(dist_info: Path, base: Path) -> list[str]:
    """RECORD paths of ``dist_info`` (relative to ``base``) missing, resized or edited since; ["RECORD"] if unreadable."""
    record = dist_info / "RECORD"
    try:
        written = os.stat(record).st_mtime_ns
        rows = _rows(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, csv.Error):
        return ["RECORD"]
    damaged = []
    root = f"{base}{os.sep}"
    stat = os.stat
    for path, size in rows:
        try:
            st = stat(root + path)
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
