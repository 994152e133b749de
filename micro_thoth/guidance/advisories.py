"""Vulnerability advisories in the OSV format: parse a record, ask "is name==version affected?", audit a lock.

An OSV record (https://ossf.github.io/osv-schema/) becomes one ``Advisory`` per
``PyPI`` package of its ``affected`` list. Ranges of type ``ECOSYSTEM`` are
evaluated with PEP 440 versions; explicit ``versions`` lists count too.
Reading records from files and keeping them in SQLite is
``micro_thoth.knowledge.advisories``'s.
"""

from __future__ import annotations

import bisect
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional, Protocol

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..cached import cached_property
from ..errors import InputFileError
from ..models import Lock

OSV_LINK = "https://osv.dev/vulnerability/{id}"
FORM_VERSION = 1  # of ``PackageAdvisories.form``: bump when what it holds changes (a stored form of another is not read)
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


@lru_cache(maxsize=1 << 14)  # advisories of one package list the same releases again and again
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


class PackageAdvisories:
    """The advisories of one package, compiled so that a release is judged by one bisection among all their bounds.

    A lock judges hundreds of releases of a package against up to a hundred advisories
    (a web framework's): walking every advisory's events with version comparisons per
    release was most of what knowledge cost a lock. Here every bound of every advisory
    is ranked once; a release's place among them (its position, ``_at``) decides every
    comparison an OSV walk makes, so the walks run on integers, once per stretch of
    positions where their answer cannot change (``_segments``), and a release is
    judged by two bisections. Same answers as ``Advisory.affects``.

    ``form`` is all that as JSON data, so that a store compiles it once, at import
    (``from_form``: the advisories themselves are read only when one affects a release).
    """

    def __init__(self, advisories: Iterable[Advisory]) -> None:
        self._advisories: Optional[tuple[Advisory, ...]] = tuple(advisories)
        self._load: Callable[[], Iterable[Advisory]] = lambda: ()
        self.count = len(self._advisories)
        self._bounds = sorted({bound for a in self._advisories for events in a._bounds for _kind, bound in events})
        rank = {bound: i for i, bound in enumerate(self._bounds)}
        self._ranges = [
            tuple(tuple((kind, 2 * rank[bound] + (2 if kind == "last_affected" else 1)) for kind, bound in events) for events in a._bounds)
            for a in self.advisories
        ]
        by_text: dict[str, list[int]] = {}  # the advisories listing each text: its version parsed and hashed once
        for i, advisory in enumerate(self.advisories):
            for text in advisory.versions:
                by_text.setdefault(text, []).append(i)
        self._listed: dict[Version, set[int]] = {}
        for text, listing in by_text.items():
            listed = _version(text)
            if listed is not None:
                self._listed.setdefault(listed, set()).update(listing)
        self._starts, self._sets = _segments(self._ranges)

    @property
    def advisories(self) -> tuple[Advisory, ...]:
        if self._advisories is None:
            loaded = tuple(self._load())
            if len(loaded) != self.count:  # changed since its form was compiled: compile what is there now
                self.__dict__.update(PackageAdvisories(loaded).__dict__)
            self._advisories = loaded
        return self._advisories

    def form(self) -> dict[str, Any]:
        """What ``from_form`` needs, as JSON data: the ranked bounds, the sets in force from each position, and the
        listed versions that no range of their advisory covers (almost none: a record lists what its ranges say)."""
        listed = []
        for version, indices in sorted(self._listed.items()):
            alone = sorted(i for i in indices if not any(_walk(version, events) for events in self.advisories[i]._bounds))
            if alone:
                listed.append([str(version), alone])
        return {"version": FORM_VERSION, "count": self.count, "bounds": [str(b) for b in self._bounds], "starts": self._starts,
                "sets": [list(s) for s in self._sets], "listed": listed}

    @classmethod
    def from_form(cls, form: Mapping[str, Any], load: Callable[[], Iterable[Advisory]]) -> PackageAdvisories:
        """The advisories ``form`` was compiled from; ``load`` reads them (in the order they were compiled in) when
        one is needed. KeyError/TypeError/ValueError when ``form`` is not of this ``FORM_VERSION``."""
        if form["version"] != FORM_VERSION:
            raise ValueError(f"advisory form version {form['version']!r}")
        made = cls.__new__(cls)
        made._advisories, made._load, made.count = None, load, int(form["count"])
        made._bounds = [Version(text) for text in form["bounds"]]
        made._listed = {Version(text): set(indices) for text, indices in form["listed"]}
        made._starts, made._sets = list(form["starts"]), [tuple(s) for s in form["sets"]]
        return made

    def affecting(self, version: Version | str) -> list[Advisory]:
        """Those of the advisories that affect ``version`` (a version that is not PEP 440 only by its listed text), in their order."""
        parsed = version if isinstance(version, Version) else _version(str(version))
        if parsed is None:
            return [a for a in self.advisories if str(version) in a.versions]
        return self._at(parsed)

    def affecting_each(self, versions: Sequence[Version]) -> list[list[Advisory]]:
        """``affecting`` of each of ``versions``; newest first (as a project's releases come), one walk down the bounds."""
        return [[self.advisories[i] for i in found] for found in self.indices_each(versions)]

    def indices_each(self, versions: Sequence[Version]) -> list[tuple[int, ...]]:
        """What ``affecting_each`` says, as indices into ``advisories`` (releases between the same bounds share one tuple)."""
        if not self.count:
            return [() for _ in versions]
        return self._indices_at(versions, descending=not any(newer < older for newer, older in zip(versions, versions[1:])))

    def _at(self, version: Version) -> list[Advisory]:
        return [self.advisories[i] for i in self._indices_at((version,), descending=False)[0]]

    def _indices_at(self, versions: Sequence[Version], *, descending: bool) -> list[tuple[int, ...]]:
        """The advisories affecting each version. ``below``, how many bounds lie under it, is what ``bisect_left``
        says, found walking down the bounds when the versions come newest first. Its position is ``2k + 1`` when it
        equals the k-th bound, ``2k`` when it lies just under it (``version >= bound k`` is ``position >= 2k + 1``,
        ``version > bound k`` is ``position >= 2k + 2``). One loop, its names local: a lock asks this of every
        release of every package with advisories."""
        out, bounds, starts, sets, listed = [], self._bounds, self._starts, self._sets, self._listed
        below = len(bounds)
        for version in versions:
            if not descending:
                below = bisect.bisect_left(bounds, version)
            while below and not bounds[below - 1] < version:
                below -= 1
            position = 2 * below + (1 if below < len(bounds) and bounds[below] == version else 0)
            at = bisect.bisect_right(starts, position) - 1
            ranged = sets[at] if at >= 0 else ()
            extra = listed.get(version) if listed else None  # a compiled form lists (almost) none: no hashing
            out.append(ranged if not extra else tuple(sorted(extra.union(ranged))))
        return out


def _segments(ranges: Sequence[Sequence[Sequence[tuple[str, int]]]]) -> tuple[list[int], list[tuple[int, ...]]]:
    """(first positions, advisories whose ranges hold from there): a range's walk can change its answer only at one
    of its events' thresholds, so it is walked once per stretch between them, and the stretches of every range of
    every advisory are swept into the sets of advisories in force (indices in order) from each position on."""
    changes: dict[int, list[tuple[int, int]]] = {}
    for i, events_of in enumerate(ranges):
        for events in events_of:
            cuts = sorted({0, *(threshold for _kind, threshold in events)})
            for start, end in zip(cuts, [*cuts[1:], None]):
                if _walk_ranked(start, events):
                    changes.setdefault(start, []).append((i, 1))
                    if end is not None:
                        changes.setdefault(end, []).append((i, -1))
    starts, sets, active = [], [], Counter[int]()
    for position in sorted(changes):
        for i, step in changes[position]:
            active[i] += step
        starts.append(position)
        sets.append(tuple(sorted(i for i, count in active.items() if count > 0)))
    return starts, sets


def _walk_ranked(position: int, events: Sequence[tuple[str, int]]) -> bool:
    """``_walk`` over ranked bounds: each event's threshold is the least position that trips it."""
    affected = False
    for kind, threshold in events:
        if position >= threshold:
            affected = kind == "introduced"
    return affected


def affecting(advisories: Iterable[Advisory], version: Version | str) -> list[Advisory]:
    """Those of ``advisories`` that affect ``version`` (a version that is not PEP 440 only by its listed text)."""
    return PackageAdvisories(advisories).affecting(version)


_NONE = PackageAdvisories(())


class AdvisoryLookup(Protocol):
    """What the policy and the audit need: the advisories affecting one release."""

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        ...

    def concerning(self, name: str) -> PackageAdvisories:
        """Every advisory about ``name``, ready to be asked about its releases."""
        ...


@dataclass(frozen=True)
class MemoryAdvisories:
    """Advisories held in memory (tests, or records fetched from the backend)."""

    advisories: tuple[Advisory, ...] = field(default_factory=tuple)

    def affected(self, name: str, version: Version | str) -> list[Advisory]:
        return self.concerning(name).affecting(Version(str(version)))

    def concerning(self, name: str) -> PackageAdvisories:
        return self._by_package.get(canonicalize_name(name)) or _NONE

    @cached_property
    def _by_package(self) -> dict[NormalizedName, PackageAdvisories]:
        grouped: dict[NormalizedName, list[Advisory]] = {}
        for advisory in self.advisories:
            grouped.setdefault(advisory.package, []).append(advisory)
        return {name: PackageAdvisories(found) for name, found in grouped.items()}


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
