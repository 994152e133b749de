"""Advisories on disk: OSV records read from files, kept in the ``osv_advisories`` table of SQLite.

Records are OSV JSON (``*.json``, as OSV publishes them, e.g. its per-ecosystem
``all.zip``) or OSV in YAML (``*.yaml``/``*.yml``, the PyPA advisory database's
``vulns/<package>/PYSEC-*.yaml`` layout), in a directory (recursively; hidden
entries skipped, only ``vulns/`` when there is one), a zip of them, or an
archive's files read in memory (``member_records``). Only
``PyPI`` entries of ``affected`` are kept, one row per (advisory, package);
``osv_forms`` keeps each package's advisories compiled (``PackageAdvisories.form``)
and ``summary`` their count and fingerprint, both written as advisories are added.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..errors import InputFileError
from ..guidance.advisories import Advisory, PackageAdvisories, parse_osv

if TYPE_CHECKING:  # sources.py brings the HTTP stack and archives a lock never needs
    from .sources import Members

__all__ = ["LEGACY_FILE", "LOOKED_FOR", "AdvisoryDB", "ImportSummary", "member_records", "read_legacy", "read_records"]

RECORD_SUFFIXES = (".json", ".yaml", ".yml")
LEGACY_FILE = "advisories-v1.sqlite3"  # where advisories lived, in the user data dir, before the compiled store
LOOKED_FOR = "OSV records: *.json, *.yaml or *.yml files (recursively; under vulns/ when there is one), or a .zip or .tar.gz of them"


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, decoded record) of every OSV record under a directory, in a zip, or in one file."""
    if path.is_dir():
        for file in record_files(path):
            yield str(file), _decode(file.read_bytes(), str(file))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in sorted(n for n in archive.namelist() if n.endswith(RECORD_SUFFIXES) and not _hidden(n.split("/"))):
                where = f"{path}!{member}"
                yield where, _decode(archive.read(member), where)
    elif path.is_file() and path.suffix in RECORD_SUFFIXES:
        yield str(path), _decode(path.read_bytes(), str(path))
    else:
        raise InputFileError(f"expected {LOOKED_FOR}", path=str(path))


def member_records(members: Members, archive: str) -> Iterator[tuple[str, Any]]:
    """(where, decoded record) of every OSV record among an archive's or a git commit's files (those under ``vulns/``
    when it has one), their contents streamed."""
    inner = "vulns/" if any(name.startswith("vulns/") for name in members.stamps) else ""
    names = sorted(n for n in members.stamps if n.startswith(inner) and n.endswith(RECORD_SUFFIXES))
    for name, data in zip(names, members.read(names)):
        where = f"{archive}!{name}"
        yield where, _decode(data, where)


def record_files(directory: Path) -> list[Path]:
    """The record files under ``directory`` (its ``vulns/`` when it has one: the PyPA layout)."""
    root = directory / "vulns" if (directory / "vulns").is_dir() else directory
    found = [p for p in root.rglob("*") if p.suffix in RECORD_SUFFIXES and not _hidden(p.relative_to(root).parts) and p.is_file()]
    return sorted(found)


def _hidden(parts: Iterable[str]) -> bool:
    return any(part.startswith(".") for part in parts)


def _decode(data: bytes, where: str) -> Any:
    if where.endswith(".json"):
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputFileError(f"not valid JSON: {exc}", path=where) from exc
    # imported here: only an import of YAML records needs it (a lock reads the store, never YAML)
    import yaml

    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar a string: versions like 1.10 stay "1.10"
    try:
        return yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        raise InputFileError(f"not valid YAML: {str(exc).splitlines()[0]}", path=where) from exc


def read_legacy(path: Path) -> list[Advisory]:
    """The advisories of a database from before the compiled store (``advisories-v1.sqlite3``: the same table), read only."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT record FROM osv_advisories ORDER BY id, package").fetchall()
    finally:
        connection.close()
    return [Advisory.from_dict(json.loads(row[0])) for row in rows]


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
CREATE INDEX IF NOT EXISTS osv_advisories_fingerprint ON osv_advisories (id, package, modified);
CREATE TABLE IF NOT EXISTS osv_forms (package TEXT PRIMARY KEY, form TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summary (key TEXT PRIMARY KEY, value NOT NULL);
CREATE TRIGGER IF NOT EXISTS osv_added AFTER INSERT ON osv_advisories BEGIN
    DELETE FROM osv_forms WHERE package = NEW.package; DELETE FROM summary WHERE key IN ('advisories', 'advisory_fingerprint');
END;
CREATE TRIGGER IF NOT EXISTS osv_dropped AFTER DELETE ON osv_advisories BEGIN
    DELETE FROM osv_forms WHERE package = OLD.package; DELETE FROM summary WHERE key IN ('advisories', 'advisory_fingerprint');
END;
"""  # the triggers: whatever else writes advisories (an older thoth-pip) leaves no stale form or fingerprint behind
_SUMMARY_KEYS = "('advisories', 'advisory_fingerprint')"


class AdvisoryDB:
    """The ``osv_advisories`` table in a SQLite database (the knowledge store's file, or its own)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.connection.executescript(_SCHEMA)
        self._memo: dict[NormalizedName, PackageAdvisories] = {}
        self._packages: Optional[frozenset[str]] = None  # the packages any advisory is about
        self._summed: Optional[tuple[int, str]] = None  # (count, fingerprint) of what is held
        self._touched: set[str] = set()  # packages whose advisories were forgotten since the last add()
        self._lock = threading.Lock()  # a policy may be asked from a worker thread (the backend)

    @classmethod
    def open(cls, path: Path) -> AdvisoryDB:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite3.connect(str(path), timeout=30, check_same_thread=False))

    def close(self) -> None:
        self.connection.close()

    def import_path(self, path: Path) -> ImportSummary:
        """Import every OSV record under ``path``; a record seen again replaces the old one."""
        return self.import_records(read_records(path), str(path))

    def import_records(self, records: Iterable[tuple[str, Any]], looked_in: str) -> ImportSummary:
        """Import ``(where, decoded record)`` pairs; none at all is an error naming what was looked for, and where."""
        files = skipped = 0
        advisories: list[Advisory] = []
        for where, record in records:
            files += 1
            found = parse_osv(record, path=where)
            skipped += not found
            self._forget(record.get("id"))
            advisories += found
        if not files:
            raise InputFileError(f"no OSV records found: looked for {LOOKED_FOR}", path=looked_in)
        self.add(advisories)
        return ImportSummary(files, len(advisories), len({a.package for a in advisories}), skipped)

    def _forget(self, advisory_id: Optional[str]) -> None:
        if advisory_id:
            touched = [row[0] for row in self.connection.execute("SELECT package FROM osv_advisories WHERE id = ?", (advisory_id,))]
            # the osv_dropped trigger drops their forms and the summary, until add() writes them again
            self.connection.execute("DELETE FROM osv_advisories WHERE id = ?", (advisory_id,))
            self._touched.update(touched)
            self._memo.clear()
            self._packages = self._summed = None

    def add(self, advisories: Iterable[Advisory]) -> None:
        """Add (or replace) ``advisories``; every package they (or advisories forgotten since) are about is compiled again,
        and the count and fingerprint a report names are kept, in the same transaction."""
        rows = [(a.id, a.package, a.modified, json.dumps(a.to_dict(), sort_keys=True)) for a in advisories]
        with self._lock, self.connection:
            self.connection.executemany("INSERT OR REPLACE INTO osv_advisories VALUES (?, ?, ?, ?)", rows)
            self._compile(self._touched | {row[1] for row in rows})
            self._touched.clear()
            self._memo.clear()
            self._packages = None
            self._summed = self._computed_summary()
            self.connection.execute(f"DELETE FROM summary WHERE key IN {_SUMMARY_KEYS}")
            self.connection.executemany("INSERT INTO summary VALUES (?, ?)", zip(("advisories", "advisory_fingerprint"), self._summed))

    def _compile(self, packages: Iterable[str]) -> None:
        """Store the compiled form of each package's advisories (``PackageAdvisories.form``): a lock reads that."""
        for package in sorted(packages):
            found = self._records(package)
            if found:
                form = json.dumps(PackageAdvisories(found).form(), separators=(",", ":"))
                self.connection.execute("INSERT OR REPLACE INTO osv_forms VALUES (?, ?)", (package, form))
            else:
                self.connection.execute("DELETE FROM osv_forms WHERE package = ?", (package,))

    def _records(self, package: str) -> list[Advisory]:
        rows = self.connection.execute("SELECT record FROM osv_advisories WHERE package = ? ORDER BY id", (package,))
        return [Advisory.from_dict(json.loads(row[0])) for row in rows]

    def for_package(self, name: str) -> list[Advisory]:
        return list(self.concerning(name).advisories)

    def concerning(self, name: str) -> PackageAdvisories:
        key = canonicalize_name(name)
        with self._lock:
            if key not in self._memo:
                if self._packages is None:  # one look at which packages have any: most a lock asks about have none
                    self._packages = frozenset(row[0] for row in self.connection.execute("SELECT DISTINCT package FROM osv_advisories"))
                self._memo[key] = self._compiled(key) if key in self._packages else PackageAdvisories(())
            return self._memo[key]

    def _compiled(self, package: NormalizedName) -> PackageAdvisories:
        """The package's advisories from their compiled form; compiled here from the records when there is none (a store
        an older thoth-pip wrote: the next import compiles them)."""
        row = self.connection.execute("SELECT form FROM osv_forms WHERE package = ?", (package,)).fetchone()
        if row is not None:
            try:
                return PackageAdvisories.from_form(json.loads(row[0]), lambda: self._read_records(package))
            except (KeyError, TypeError, ValueError):
                pass  # of another form version
        return PackageAdvisories(self._records(package))

    def _read_records(self, package: str) -> list[Advisory]:
        with self._lock:
            return self._records(package)

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        return self.concerning(name).affecting(version)

    def ids(self) -> set[tuple[str, str]]:
        """(id, package) of every advisory held."""
        return {(row[0], row[1]) for row in self.connection.execute("SELECT id, package FROM osv_advisories")}

    def all(self) -> list[Advisory]:
        rows = self.connection.execute("SELECT record FROM osv_advisories ORDER BY id, package")
        return [Advisory.from_dict(json.loads(row[0])) for row in rows]

    def fingerprint(self) -> str:
        """A digest of what is imported (ids, packages, modification times): changes whenever an import changes anything."""
        return self._summary()[1]

    def count(self) -> int:
        """How many advisories (distinct ids) are held."""
        return self._summary()[0]

    def _summary(self) -> tuple[int, str]:
        """(count, fingerprint): every lock's report names both. Kept in ``summary`` by ``add``; computed here only for
        a store an older thoth-pip wrote (or one changed without ``add``); kept until this connection changes the table."""
        with self._lock:
            if self._summed is None:
                kept = dict(self.connection.execute(f"SELECT key, value FROM summary WHERE key IN {_SUMMARY_KEYS}").fetchall())
                count, fingerprint = kept.get("advisories"), kept.get("advisory_fingerprint")
                self._summed = (int(count), str(fingerprint)) if count is not None and fingerprint is not None else self._computed_summary()
            return self._summed

    def _computed_summary(self) -> tuple[int, str]:
        """(count, fingerprint) from one read of an index of (id, package, modified) alone."""
        rows = self.connection.execute("SELECT id, package, modified FROM osv_advisories ORDER BY id, package").fetchall()
        text = "".join(f"{i}\0{package}\0{modified}\n" for i, package, modified in rows)
        return len({row[0] for row in rows}), hashlib.sha256(text.encode()).hexdigest()
