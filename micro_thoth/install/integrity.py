"""Quick integrity of files against their RECORD: present, the recorded size, not modified after RECORD.

One ``stat`` per file, no read: RECORD is written last, after every file it lists
(an installed copy or link keeps the cached file's older time), so a file edited
afterwards is newer than RECORD. ``check`` hashes every file; this is what ``sync``
and the cache can afford on every run, and it finds what an edit or a deletion did.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path


def damaged_files(dist_info: Path, base: Path) -> list[str]:
    """RECORD paths of ``dist_info`` (relative to ``base``) missing, resized or edited since; ["RECORD"] if unreadable."""
    record = dist_info / "RECORD"
    try:
        written = record.stat().st_mtime_ns
        with open(record, newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.reader(fh) if len(row) >= 3 and row[1]]
    except (OSError, UnicodeDecodeError, csv.Error):
        return ["RECORD"]
    damaged = []
    for path, _digest, size, *_ in rows:
        try:
            st = os.stat(os.path.join(base, path))
        except OSError:
            damaged.append(path)
            continue
        if (size.isdigit() and st.st_size != int(size)) or st.st_mtime_ns > written:
            damaged.append(path)
    return damaged


def tree_damaged(root: Path) -> bool:
    """An unpacked cache tree whose files changed since it was unpacked (a hard link edited in place)."""
    infos = [p for p in root.iterdir() if p.name.endswith(".dist-info")] if root.is_dir() else []
    return len(infos) != 1 or bool(damaged_files(infos[0], root))
