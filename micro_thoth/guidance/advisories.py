"""Vulnerability advisories in the OSV format: import, keep in SQLite, ask "is name==version affected?".

OSV records (https://ossf.github.io/osv-schema/) are read from a directory of
``*.json`` files or a zip of them, as published for the PyPI ecosystem. Only
``PyPI`` entries of ``affected`` are kept, one row per (advisory, package), in
the ``osv_advisories`` table of the knowledge database. Ranges of type
``ECOSYSTEM`` are evaluated with PEP 440 versions; explicit ``versions`` lists
count too.
"""

from __future__ import annotations

import json
import operator
import sqlite3
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import InputFileError
from ..models import Lock

OSV_LINK = "https://osv.dev/vulnerability/{id}"
Event = tuple[str, str]  # ("introduced" | "fixed" | "last_affected" | "limit", version)


@dataclass(frozen=True)
class Advisory:
    """One OSV record as it concerns one package."""

    id: str
    package: NormalizedName
    summary: str = ""
    details: str = ""
    aliases: tuple[str, ...] = ()
    ranges: tuple[tuple[Event, ...], ...] = ()
    versions: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    modified: Optional[str] = None

    def affects(self, version: Version) -> bool:
        if any(_same_version(version, v) for v in self.versions):
            return True
        return any(_in_range(version, events) for events in self.ranges)

    @property
    def cve_ids(self) -> tuple[str, ...]:
        return tuple(i for i in (self.id, *self.aliases) if i.upper().startswith("CVE-"))

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    @property
    def link(self) -> str:
        return OSV_LINK.format(id=self.id)

    @property
    def fixed_versions(self) -> tuple[str, ...]:
        return tuple(v for events in self.ranges for kind, v in events if kind == "fixed")

    def title(self) -> str:
        """``GHSA-xxxx (CVE-2024-1)``: the id and its CVE aliases."""
        cves = [c for c in self.cve_ids if c != self.id]
        return self.id + (f" ({', '.join(cves)})" if cves else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "package": self.package, "summary": self.summary, "details": self.details,
            "aliases": list(self.aliases), "ranges": [[list(e) for e in r] for r in self.ranges],
            "versions": list(self.versions), "references": list(self.references),
            "severity": list(self.severity), "modified": self.modified,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Advisory:
        return cls(
            id=data["id"], package=canonicalize_name(data["package"]), summary=data.get("summary", ""),
            details=data.get("details", ""), aliases=tuple(data.get("aliases", ())),
            ranges=tuple(tuple((k, v) for k, v in r) for r in data.get("ranges", ())),
            versions=tuple(data.get("versions", ())), references=tuple(data.get("references", ())),
            severity=tuple(data.get("severity", ())), modified=data.get("modified"),
        )


def _version(text: str) -> Optional[Version]:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _same_version(version: Version, text: str) -> bool:
    other = _version(text)
    return other == version if other is not None else str(version) == text


def _event_key(event: Event) -> tuple[int, Version]:
    kind, text = event
    if kind == "introduced" and text == "0":
        return (0, Version("0"))
    parsed = _version(text) or Version("0")
    return (1, parsed)


_CLOSES = {"fixed": operator.ge, "limit": operator.ge, "last_affected": operator.gt}


def _in_range(version: Version, events: Sequence[Event]) -> bool:
    """The OSV evaluation: walk the sorted events, switching "affected" on and off."""
    affected = False
    for kind, text in sorted(events, key=_event_key):
        bound = Version("0") if (kind == "introduced" and text == "0") else _version(text)
        if bound is None:
            continue
        if kind == "introduced" and version >= bound:
            affected = True
        elif kind in _CLOSES and _CLOSES[kind](version, bound):
            affected = False
    return affected


# -- parsing OSV ----------------------------------------------------------------------------


def parse_osv(record: Any, *, path: str) -> tuple[Advisory, ...]:
    """The PyPI advisories of one OSV record (none if withdrawn or about other ecosystems)."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise InputFileError("not an OSV record (no 'id')", path=path)
    if record.get("withdrawn"):
        return ()
    by_package: dict[NormalizedName, dict[str, list[Any]]] = {}
    for i, entry in enumerate(_as_list(record.get("affected"), path, "affected")):
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or str(package.get("ecosystem", "")).lower() != "pypi":
            continue
        if not isinstance(package.get("name"), str):
            raise InputFileError("affected package has no name", path=path, key_path=f"affected[{i}].package.name")
        slot = by_package.setdefault(canonicalize_name(package["name"]), {"ranges": [], "versions": []})
        slot["ranges"] += _ranges(entry, path, f"affected[{i}]")
        slot["versions"] += [str(v) for v in entry.get("versions") or ()]
    return tuple(_advisory(record, name, slot) for name, slot in by_package.items())


def _as_list(value: Any, path: str, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputFileError("expected a list", path=path, key_path=key)
    return value


def _ranges(entry: Mapping[str, Any], path: str, where: str) -> list[tuple[Event, ...]]:
    out = []
    for j, rng in enumerate(_as_list(entry.get("ranges"), path, f"{where}.ranges")):
        if not isinstance(rng, dict) or rng.get("type") != "ECOSYSTEM":
            continue
        events = []
        for event in _as_list(rng.get("events"), path, f"{where}.ranges[{j}].events"):
            if isinstance(event, dict):
                events += [(k, str(v)) for k, v in event.items() if k in ("introduced", "fixed", "last_affected", "limit")]
        out.append(tuple(events))
    return out


def _advisory(record: Mapping[str, Any], name: NormalizedName, slot: Mapping[str, list[Any]]) -> Advisory:
    return Advisory(
        id=record["id"],
        package=name,
        summary=str(record.get("summary") or ""),
        details=str(record.get("details") or ""),
        aliases=tuple(str(a) for a in record.get("aliases") or ()),
        ranges=tuple(slot["ranges"]),
        versions=tuple(dict.fromkeys(slot["versions"])),
        references=tuple(str(r["url"]) for r in record.get("references") or () if isinstance(r, dict) and r.get("url")),
        severity=_severity(record),
        modified=record.get("modified"),
    )


def _severity(record: Mapping[str, Any]) -> tuple[str, ...]:
    scores = [str(s["score"]) for s in record.get("severity") or () if isinstance(s, dict) and s.get("score")]
    specific = record.get("database_specific")
    if isinstance(specific, dict) and isinstance(specific.get("severity"), str):
        scores.insert(0, specific["severity"])
    return tuple(scores)


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


# -- the database ---------------------------------------------------------------------------


class AdvisoryLookup(Protocol):
    """What the policy and the audit need: the advisories affecting one release."""

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        ...


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
        parsed = version if isinstance(version, Version) else _version(str(version))
        if parsed is None:
            return [a for a in self.for_package(name) if str(version) in a.versions]
        return [a for a in self.for_package(name) if a.affects(parsed)]

    def count(self) -> int:
        return int(self.connection.execute("SELECT COUNT(DISTINCT id) FROM osv_advisories").fetchone()[0])


@dataclass(frozen=True)
class MemoryAdvisories:
    """Advisories held in memory (tests, or records fetched from the backend)."""

    advisories: tuple[Advisory, ...] = field(default_factory=tuple)

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        key, parsed = canonicalize_name(name), Version(str(version))
        return [a for a in self.advisories if a.package == key and a.affects(parsed)]


# -- audit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One locked package affected by one advisory."""

    package: str
    version: str
    category: str
    advisory: Advisory

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.package, "version": self.version, "category": self.category,
            "id": self.advisory.id, "aliases": list(self.advisory.aliases), "summary": self.advisory.summary,
            "fixed_in": list(self.advisory.fixed_versions), "link": self.advisory.link,
            "severity": list(self.advisory.severity),
        }


def audit(lock: Lock, advisories: AdvisoryLookup, categories: Optional[Sequence[str]] = None) -> tuple[Finding, ...]:
    """Every (pin, advisory) pair where the pinned version is affected; direct references are skipped."""
    findings = []
    for category, pin in lock.select(list(categories or lock.categories)):
        version = (pin.version or "").strip().lstrip("=").strip()
        if pin.direct is not None or not version:
            continue
        findings += [Finding(pin.name, version, category, a) for a in advisories.affected(pin.name, version)]
    return tuple(findings)
