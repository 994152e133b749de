"""The compiled knowledge store: synced prescription units keyed by package name, their sources and file stamps (SQLite).

One file, ``knowledge-v1.sqlite3`` in the knowledge dir, holds::

    sources     name, kind, location (credentials stripped), revision, digest, synced_at, counts
    unit_files  (source, path) -> stamp (mtime+size or member stamp) and sha256, for incremental re-syncs
    units       one row per compiled unit: its file, name, section and raw document (JSON)
    unit_forms  unit -> its checked form (``guidance.unit_form``, by layout): what a lock reads instead of re-checking the document
    unit_keys   package name -> unit ('' for units that may apply to any package, '@stack:NAME' for wraps and
                strides about NAME, '@image:IMAGE' for units limited to a base image, 'NAME==VERSION' for one release)
    osv_advisories   the advisories (knowledge/advisories.py owns that table, and its compiled forms)
    summary     what every lock's report names, kept as it is written: the unit count (the advisories' count and
                fingerprint are knowledge/advisories.py's)

A lock reads ``unit_keys`` for the names the resolver considers only (and the
stack's wraps once it has a stack); units are built from their compiled form
(parsed from their stored document when it has none of this layout) when first asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, Optional

from packaging.utils import canonicalize_name, canonicalize_version

from ..guidance.unit_form import LAYOUT, UnitForm
from .advisories import AdvisoryDB

STORE_FILE = "knowledge-v1.sqlite3"
ANY_PACKAGE = ""  # the unit_keys row of a package-independent unit
STACK_PREFIX = "@stack:"  # '@stack:NAME': a unit read only when a finished stack holds NAME (wraps, strides)
ORIGIN = "synced"  # the origin of every unit compiled into the store (guidance.units)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, location TEXT NOT NULL, revision TEXT,
    digest TEXT, synced_at TEXT, details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS unit_files (
    source TEXT NOT NULL, path TEXT NOT NULL, stamp TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (source, path)
);
CREATE TABLE IF NOT EXISTS units (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL,
    section TEXT NOT NULL, position INTEGER NOT NULL, document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS units_file ON units (source, path);
CREATE INDEX IF NOT EXISTS units_name ON units (name);
CREATE TABLE IF NOT EXISTS unit_forms (
    unit INTEGER PRIMARY KEY, layout TEXT NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
    should_include TEXT NOT NULL, match TEXT NOT NULL, run TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS unit_keys (package TEXT NOT NULL, unit INTEGER NOT NULL, PRIMARY KEY (package, unit)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS unit_keys_unit ON unit_keys (unit);
CREATE TABLE IF NOT EXISTS unit_problems (source TEXT NOT NULL, path TEXT NOT NULL, unit TEXT, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS unit_problems_file ON unit_problems (source, path);
CREATE TABLE IF NOT EXISTS summary (key TEXT PRIMARY KEY, value NOT NULL);
CREATE TRIGGER IF NOT EXISTS units_dropped AFTER DELETE ON units BEGIN
    DELETE FROM unit_forms WHERE unit = OLD.id; DELETE FROM summary WHERE key = 'units';
END;
CREATE TRIGGER IF NOT EXISTS units_added AFTER INSERT ON units BEGIN DELETE FROM summary WHERE key = 'units'; END;
"""

_CATEGORIES = (
    ("is not a version specifier", "version is not PEP 440"),
    ("unknown key", "key not supported"),
    ("is not supported in", "unit type not supported"),
    ("invalid YAML", "invalid YAML"),
    ("this key is required", "required key missing"),
    ("holds no units", "not a units file"),
    ("two units in one file", "duplicate unit name"),
    ("expected", "wrong type"),
)


def pin_key(name: str, version: str) -> str:
    """The key of a pinned release: ``flask==2.0.2`` (name and version in canonical form)."""
    return f"{canonicalize_name(name)}=={canonicalize_version(version, strip_trailing_zero=True)}"


def stack_key(name: str) -> str:
    """The key of a unit that speaks only about a finished stack holding ``name`` (a wrap's or a stride's ``state``)."""
    return f"{STACK_PREFIX}{name}"


def image_key(image: str) -> str:
    return f"@image:{image}"


@dataclass(frozen=True)
class CompiledUnit:
    """A unit that parsed: where it is, what it is called, its raw document, the packages it speaks about and
    its checked form (None: parsed from the document when read)."""

    name: str
    section: str
    position: int
    document: Any
    packages: frozenset[str]
    form: Optional[UnitForm] = None


@dataclass(frozen=True)
class CompiledFile:
    """One unit file after compilation (units that parsed; the rest were reported and left out)."""

    path: str
    stamp: str
    sha256: str
    units: tuple[CompiledUnit, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A unit (or a whole file, ``unit`` None) that was skipped, and why."""

    path: str
    unit: Optional[str]
    reason: str

    @property
    def category(self) -> str:
        return next((label for needle, label in _CATEGORIES if needle in self.reason), "invalid unit")

    @property
    def message(self) -> str:
        return f"{self.path}: " + (f"unit {self.unit}: " if self.unit else "") + f"skipped, {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "unit": self.unit, "reason": self.reason, "category": self.category}


class StoredUnit(NamedTuple):
    """A row of ``units``: enough to build the unit (from ``form``, else by parsing ``document``) and to say where it
    came from (a tuple: a lock reads hundreds)."""

    id: int
    source: str
    path: str
    name: str
    section: str
    position: int
    text: str  # the raw document, as JSON ('' when read with a form)
    form: Optional[UnitForm] = None

    @property
    def document(self) -> Any:
        return json.loads(self.text)


@dataclass(frozen=True)
class SourceRecord:
    """What was synced from where, at which revision."""

    name: str
    kind: str
    location: str
    revision: Optional[str] = None
    digest: Optional[str] = None
    synced_at: Optional[str] = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "location": self.location, "revision": self.revision,
            "digest": self.digest, "synced_at": self.synced_at, **dict(self.details),
        }


class KnowledgeStore:
    """The SQLite store of one knowledge dir; ``advisories`` is the advisory table in the same file."""

    def __init__(self, connection: sqlite3.Connection, path: Optional[Path] = None) -> None:
        self.connection = connection
        self.path = path
        self._depth = 0
        with connection:
            connection.executescript(_SCHEMA)
        self.advisories = AdvisoryDB(connection)

    @classmethod
    def open(cls, directory: Path) -> KnowledgeStore:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / STORE_FILE
        connection = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return cls(connection, path)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sources and files --------------------------------------------------------------------

    def sources(self) -> list[SourceRecord]:
        rows = self.connection.execute("SELECT name, kind, location, revision, digest, synced_at, details FROM sources ORDER BY name")
        return [SourceRecord(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6])) for row in rows]

    def source(self, name: str) -> Optional[SourceRecord]:
        return next((s for s in self.sources() if s.name == name), None)

    def set_source(self, record: SourceRecord) -> None:
        with self.batch():
            self.connection.execute(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.name, record.kind, record.location, record.revision, record.digest,
                 record.synced_at or now_text(), json.dumps(dict(record.details), sort_keys=True)),
            )

    def stamps(self, source: str) -> dict[str, str]:
        """path -> stamp of every file recorded for ``source``."""
        return dict(self.connection.execute("SELECT path, stamp FROM unit_files WHERE source = ?", (source,)).fetchall())

    def update_files(
        self, source: str, changed: Iterable[CompiledFile], removed: Iterable[str], problems: Iterable[Problem] = ()
    ) -> tuple[int, int]:
        """Replace the units of ``changed`` files and drop those of ``removed`` ones, in one transaction.

        Returns (units removed, units added).
        """
        dropped = added = 0
        with self.batch():
            self.connection.execute("DELETE FROM summary WHERE key = 'units'")  # counted again below, in the same transaction
            for path in removed:
                dropped += self._drop_file(source, path)
                self.connection.execute("DELETE FROM unit_files WHERE source = ? AND path = ?", (source, path))
            for file in changed:
                dropped += self._drop_file(source, file.path)
                self.connection.execute("INSERT OR REPLACE INTO unit_files VALUES (?, ?, ?, ?)", (source, file.path, file.stamp, file.sha256))
                added += self._add_units(source, file)
            rows = [(source, p.path, p.unit, p.reason) for p in problems]
            self.connection.executemany("INSERT INTO unit_problems VALUES (?, ?, ?, ?)", rows)
            self.connection.execute("INSERT INTO summary SELECT 'units', COUNT(*) FROM units")
        return dropped, added

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction around everything inside (nested batches join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.connection:
                yield
        finally:
            self._depth = 0

    def problems(self, source: Optional[str] = None) -> list[Problem]:
        """Units skipped at the syncs that compiled the files now recorded."""
        query = "SELECT path, unit, reason FROM unit_problems" + (" WHERE source = ?" if source else "") + " ORDER BY path, unit"
        return [Problem(*row) for row in self.connection.execute(query, (source,) if source else ())]

    def _drop_file(self, source: str, path: str) -> int:
        self.connection.execute("DELETE FROM unit_problems WHERE source = ? AND path = ?", (source, path))
        ids = [row[0] for row in self.connection.execute("SELECT id FROM units WHERE source = ? AND path = ?", (source, path))]
        if ids:
            self.connection.executemany("DELETE FROM unit_keys WHERE unit = ?", [(i,) for i in ids])
            self.connection.executemany("DELETE FROM units WHERE id = ?", [(i,) for i in ids])  # their forms too (units_dropped)
        return len(ids)

    def _add_units(self, source: str, file: CompiledFile) -> int:
        for unit in file.units:
            cursor = self.connection.execute(
                "INSERT INTO units (source, path, name, section, position, document) VALUES (?, ?, ?, ?, ?, ?)",
                (source, file.path, unit.name, unit.section, unit.position, json.dumps(unit.document, sort_keys=True, default=str)),
            )
            keys = unit.packages or frozenset((ANY_PACKAGE,))
            self.connection.executemany("INSERT OR IGNORE INTO unit_keys VALUES (?, ?)", [(k, cursor.lastrowid) for k in keys])
            if unit.form is not None:
                self.connection.execute("INSERT OR REPLACE INTO unit_forms VALUES (?, ?, ?, ?, ?, ?, ?)", (cursor.lastrowid, LAYOUT, *unit.form))
        return len(file.units)

    def forget_source(self, source: str) -> int:
        """Drop a source and everything compiled from it; returns the units removed."""
        paths = [row[0] for row in self.connection.execute("SELECT path FROM unit_files WHERE source = ?", (source,))]
        with self.batch():
            dropped, _ = self.update_files(source, (), paths)
            self.connection.execute("DELETE FROM sources WHERE name = ?", (source,))
        return dropped

    def content_digest(self, source: str) -> str:
        """sha256 over the (path, sha256) of every file of ``source``: the same content gives the same digest."""
        hasher = hashlib.sha256()
        for path, sha in self.connection.execute("SELECT path, sha256 FROM unit_files WHERE source = ? ORDER BY path", (source,)):
            hasher.update(f"{path}\0{sha}\n".encode())
        return hasher.hexdigest()

    # -- lookups ------------------------------------------------------------------------------

    def units_for(self, packages: Iterable[str]) -> list[StoredUnit]:
        """Units keyed by any of ``packages`` (pass ``ANY_PACKAGE`` for the package-independent ones), in file order."""
        wanted = sorted(set(packages))
        found: dict[int, StoredUnit] = {}
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            rows = self.connection.execute(
                f"SELECT {_COLUMNS} FROM unit_keys k JOIN units u ON u.id = k.unit {_FORMS} WHERE k.package IN ({marks})",
                (LAYOUT, *chunk),
            )
            found.update((row[0], _stored(row)) for row in rows)
        return sorted(found.values(), key=lambda u: (u.source, u.path, u.position))

    def units_named(self, names: Iterable[str]) -> list[StoredUnit]:
        out: list[StoredUnit] = []
        for chunk in _chunks(sorted(set(names)), 500):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {_COLUMNS} FROM units u {_FORMS} WHERE u.name IN ({marks})"
            out += [_stored(row) for row in self.connection.execute(query, (LAYOUT, *chunk))]
        return sorted(out, key=lambda u: (u.source, u.path, u.position))

    def all_units(self) -> Iterator[StoredUnit]:
        """Every unit with its document, in file order, one at a time (a bundle's ~90,000 never held at once)."""
        rows = self.connection.execute("SELECT id, source, path, name, section, position, document FROM units ORDER BY source, path, position")
        return (StoredUnit(*row) for row in rows)

    def unit_keys(self) -> dict[int, list[str]]:
        """unit id -> the package names it is keyed by ('' for package-independent)."""
        out: dict[int, list[str]] = {}
        for package, unit in self.connection.execute("SELECT package, unit FROM unit_keys"):
            out.setdefault(unit, []).append(package)
        return out

    def file_digests(self) -> list[dict[str, str]]:
        rows = self.connection.execute("SELECT source, path, sha256 FROM unit_files ORDER BY source, path")
        return [{"source": s, "path": p, "sha256": d} for s, p, d in rows]

    def totals(self) -> tuple[int, int]:
        """(units, advisories): what a lock's report names, without ``counts``' scans of every key."""
        kept = self.connection.execute("SELECT value FROM summary WHERE key = 'units'").fetchone()
        units = kept[0] if kept is not None else self.connection.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        return int(units), self.advisories.count()

    def counts(self) -> dict[str, Any]:
        """Units per source, package names keyed, package-independent units, advisories."""
        per_source = dict(self.connection.execute("SELECT source, COUNT(*) FROM units GROUP BY source").fetchall())
        packages = self.connection.execute(
            "SELECT COUNT(DISTINCT CASE WHEN package LIKE ? THEN substr(package, ?) ELSE package END) FROM unit_keys "
            "WHERE package != '' AND (package NOT LIKE '@%' OR package LIKE ?) AND package NOT LIKE '%==%'",
            (f"{STACK_PREFIX}%", len(STACK_PREFIX) + 1, f"{STACK_PREFIX}%"),
        ).fetchone()[0]
        independent = self.connection.execute("SELECT COUNT(*) FROM unit_keys WHERE package = ''").fetchone()[0]
        images = self.connection.execute("SELECT COUNT(DISTINCT unit) FROM unit_keys WHERE package LIKE '@image:%'").fetchone()[0]
        releases = self.connection.execute("SELECT COUNT(DISTINCT unit) FROM unit_keys WHERE package LIKE '%==%'").fetchone()[0]
        return {
            "units": sum(per_source.values()), "units_by_source": per_source, "packages": int(packages),
            "package_independent_units": int(independent), "base_image_units": int(images), "release_units": int(releases), "advisories": self.advisories.count(),
        }

    def digest(self) -> str:
        """One digest of everything this store would contribute to a lock (sources, their content, advisories)."""
        hasher = hashlib.sha256()
        for record in self.sources():
            hasher.update(f"{record.name}\0{record.revision}\0{record.digest}\n".encode())
        hasher.update(self.advisories.fingerprint().encode())
        return hasher.hexdigest()


_COLUMNS = (  # the document only when there is no form: decoding its text is what the form spares
    "u.id, u.source, u.path, u.name, u.section, u.position, CASE WHEN f.unit IS NULL THEN u.document ELSE '' END, "
    "f.kind, f.type, f.should_include, f.match, f.run"
)
_FORMS = "LEFT JOIN unit_forms f ON f.unit = u.id AND f.layout = ?"  # forms of another layout: parse the document


def _stored(row: Sequence[Any]) -> StoredUnit:
    form = UnitForm(*row[7:12]) if row[7] is not None else None
    return StoredUnit(row[0], row[1], row[2], row[3], row[4], row[5], row[6], form)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
