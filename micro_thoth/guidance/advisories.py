"""Vulnerability advisories in the OSV format: parse a record, ask "is name==version affected?", audit a lock.

An OSV record (https://ossf.github.io/osv-schema/) becomes one ``Advisory`` per
``PyPI`` package of its ``affected`` list. Ranges of type ``ECOSYSTEM`` are
evaluated with PEP 440 versions; explicit ``versions`` lists count too.
Reading records from files and keeping them in SQLite is
``micro_thoth.knowledge.advisories``'s.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
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
        if version in self._listed or str(version) in self._listed_text:
            return True
        return any(_walk(version, events) for events in self._bounds)

    @cached_property
    def _listed(self) -> frozenset[Version]:
        """``versions`` parsed once (a record may list hundreds; a lock asks about thousands of releases)."""
        return frozenset(v for v in map(_version, self.versions) if v is not None)

    @cached_property
    def _listed_text(self) -> frozenset[str]:
        return frozenset(self.versions)

    @cached_property
    def _bounds(self) -> tuple[tuple[tuple[str, Version], ...], ...]:
        return tuple(_sorted_bounds(events) for events in self.ranges)

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


def _event_key(event: Event) -> tuple[int, Version]:
    kind, text = event
    if kind == "introduced" and text == "0":
        return (0, Version("0"))
    parsed = _version(text) or Version("0")
    return (1, parsed)


_CLOSES = {"fixed": operator.ge, "limit": operator.ge, "last_affected": operator.gt}


def _sorted_bounds(events: Sequence[Event]) -> tuple[tuple[str, Version], ...]:
    """The events in OSV order with their versions parsed (events whose version is not PEP 440 left out)."""
    out = []
    for kind, text in sorted(events, key=_event_key):
        bound = Version("0") if (kind == "introduced" and text == "0") else _version(text)
        if bound is not None:
            out.append((kind, bound))
    return tuple(out)


def _walk(version: Version, bounds: Sequence[tuple[str, Version]]) -> bool:
    """The OSV evaluation: walk the sorted events, switching "affected" on and off."""
    affected = False
    for kind, bound in bounds:
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


# -- the database ---------------------------------------------------------------------------


def affecting(advisories: Iterable[Advisory], version: Version | str) -> list[Advisory]:
    """Those of ``advisories`` that affect ``version`` (a version that is not PEP 440 only by its listed text)."""
    parsed = version if isinstance(version, Version) else _version(str(version))
    if parsed is None:
        return [a for a in advisories if str(version) in a.versions]
    return [a for a in advisories if a.affects(parsed)]


class AdvisoryLookup(Protocol):
    """What the policy and the audit need: the advisories affecting one release."""

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        ...


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
