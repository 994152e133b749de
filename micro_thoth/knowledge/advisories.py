"""Advisories on disk: OSV records read from files, kept in the ``osv_advisories`` table of SQLite.

Records come from a directory of ``*.json`` files or a zip of them, as published
for the PyPI ecosystem. Only ``PyPI`` entries of ``affected`` are kept, one row
per (advisory, package).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..errors import InputFileError
from ..guidance.advisories import Advisory, affecting, parse_osv

__all__ = ["AdvisoryDB", "ImportSummary", "read_records"]


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(file name, decoded JSON) of every ``*.json`` in a directory (recursively) or a zip."""
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield str(file), _decode(file.read_bytes(), str(file))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in sorted(n for n in archive.namelist() if n.endswith(".json")):
                where = f"{path}!{member}"
                yield where, _decode(archive.read(member), where)
    elif path.is_file() and path.suffix == ".json":
        yield str(path), _decode(path.read_bytes(), str(path))
    else:
        raise InputFileError("expected a directory of OSV *.json files, a zip of them, or one .json", path=str(path))


def _decode(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"not valid JSON: {exc}", path=where) from exc


@dataclass(frozen=True)
class ImportSummary:
    """What ``import_path`` did."""

    files: int
    advisories: int
    packages: int
    skipped: int  # records without a PyPI entry, or withdrawn


_SCHEMA = """
CREATE TABLE IF NOT EXISTS osv_advisories (
    id TEXT NOT NULL,
    package TEXT NOT NULL,
    modified TEXT,
    record TEXT NOT NULL,
    PRIMARY KEY (id, package)
);
CREATE INDEX IF NOT EXISTS osv_advisories_package ON osv_advisories (package);
"""


class AdvisoryDB:
    """The ``osv_advisories`` table in a SQLite database (the knowledge store's file, or its own)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.connection.executescript(_SCHEMA)
        self._memo: dict[NormalizedName, list[Advisory]] = {}
        self._lock = threading.Lock()  # a policy may be asked from a worker thread (the backend)

    @classmethod
    def open(cls, path: Path) -> AdvisoryDB:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite3.connect(str(path), timeout=30, check_same_thread=False))

    def close(self) -> None:
        self.connection.close()

    def import_path(self, path: Path) -> ImportSummary:
        """Import every OSV record under ``path``; a record seen again replaces the old one."""
        files = skipped = 0
        advisories: list[Advisory] = []
        for where, record in read_records(path):
            files += 1
            found = parse_osv(record, path=where)
            skipped += not found
            self._forget(record.get("id"))
            advisories += found
        self.add(advisories)
        return ImportSummary(files, len(advisories), len({a.package for a in advisories}), skipped)

    def _forget(self, advisory_id: Optional[str]) -> None:
        if advisory_id:
            self.connection.execute("DELETE FROM osv_advisories WHERE id = ?", (advisory_id,))

    def add(self, advisories: Iterable[Advisory]) -> None:
        rows = [(a.id, a.package, a.modified, json.dumps(a.to_dict(), sort_keys=True)) for a in advisories]
        with self._lock, self.connection:
            self.connection.executemany("INSERT OR REPLACE INTO osv_advisories VALUES (?, ?, ?, ?)", rows)
            self._memo.clear()

    def for_package(self, name: str) -> list[Advisory]:
        key = canonicalize_name(name)
        with self._lock:
            if key not in self._memo:
                cursor = self.connection.execute("SELECT record FROM osv_advisories WHERE package = ? ORDER BY id", (key,))
                self._memo[key] = [Advisory.from_dict(json.loads(row[0])) for row in cursor]
            return self._memo[key]

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        return affecting(self.for_package(name), version)

    def count(self) -> int:
        return int(self.connection.execute("SELECT COUNT(DISTINCT id) FROM osv_advisories").fetchone()[0])
