"""Knowledge bundles: one portable zip of a store (compiled units, advisories, the user's own units, sources).

A bundle holds ``knowledge.json`` (format ``thoth-pip-knowledge``, version 1;
``wheel_abi``, the ABI facts of the wheels read so far by digest, and ``skipped_units``,
the units its producer skipped and why, are absent from older bundles and ignored by
older readers) and ``NOTICE.md``, the attribution its content needs when redistributed:
advisories from the PyPA advisory database / OSV are CC-BY 4.0, Thoth's
prescriptions are AGPL-3.0 (docs/knowledge.md). Importing one replaces the
sources it carries, adds its advisories and writes its user units beside the
ones already recorded.

Both ways stream: a unit at a time is written from the store's rows (its stored JSON
spliced in as it is) and read back (``json_members``), so ~90,000 units never sit in
memory at once, as text or as objects.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Optional, TypeVar

from .. import zips
from ..errors import InputFileError
from ..fs import publish
from ..guidance.advisories import Advisory
from .json_members import members
from .store import (
    STACK_PREFIX,
    CompiledFile,
    CompiledUnit,
    KnowledgeStore,
    Problem,
    SourceRecord,
    StoredUnit,
    now_text,
)
from .sync import checked_form

FORMAT = "thoth-pip-knowledge"
VERSION = 1
MEMBER = "knowledge.json"
_T = TypeVar("_T")
_FILES_AT_ONCE = 400
_UNREADABLE: tuple[type[Exception], ...] = (OSError, KeyError, UnicodeDecodeError, ValueError, *zips.UNREADABLE)
SKIPPED_UNKNOWN = "skipped_unknown"  # a source detail: imported from a bundle that did not say what its producer skipped
NOTICE = """# Attribution for this thoth-pip knowledge bundle

This bundle may contain data from:

- Thoth's prescriptions (https://github.com/thoth-station/prescriptions), licensed under the
  GNU Affero General Public License v3.0. Redistributing this bundle means redistributing
  that content under the same licence, with its source available.
- The PyPA advisory database (https://github.com/pypa/advisory-database) and other OSV
  sources, licensed under Creative Commons Attribution 4.0 International (CC-BY 4.0):
  credit the source, link the licence and say whether you changed the data.

The sources and revisions it was built from are listed under "sources" in knowledge.json.
"""


@dataclass(frozen=True)
class BundleSummary:
    """What a bundle holds (export) or what importing it changed; ``skipped`` None: the bundle does not say how many
    units its producer skipped (made by an older thoth-pip)."""

    sources: tuple[str, ...]
    units: int
    advisories: int
    user_units: int
    wheel_abi: int = 0  # wheels whose ABI facts it carries
    skipped: Optional[int] = 0

    def to_dict(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "units": self.units, "advisories": self.advisories, "user_units": self.user_units,
                "wheel_abi": self.wheel_abi, "skipped": self.skipped}


def export_bundle(
    store: KnowledgeStore, user_files: Mapping[str, str], destination: Path, wheel_abi: Mapping[str, Any] = MappingProxyType({}),
) -> BundleSummary:
    """Write the store, ``user_files`` (name -> YAML text) and ``wheel_abi`` (sha256 -> facts) to ``destination``
    as one zip, atomically, a unit at a time."""
    sources = [s.to_dict() for s in store.sources()]
    skipped = [{"source": s["name"], **p.to_dict()} for s in sources for p in store.problems(s["name"])]
    header = {
        "format": FORMAT, "version": VERSION, "created": now_text(), "sources": sources, "files": store.file_digests(),
        "skipped_units": skipped, "user_prescriptions": dict(sorted(user_files.items())), "wheel_abi": dict(sorted(wheel_abi.items())),
    }
    keys = store.unit_keys()
    staging = destination.with_name(f".{destination.name}.zip")
    try:
        with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            with io.TextIOWrapper(zf.open(MEMBER, "w", force_zip64=True), encoding="utf-8") as out:
                counts = _write(out, header, {
                    "advisories": (json.dumps(a.to_dict(), sort_keys=True, default=str) for a in store.advisories.all()),
                    "units": (_unit_text(u, keys.get(u.id, ())) for u in store.all_units()),
                })
            zf.writestr("NOTICE.md", NOTICE)
        publish(staging, destination)
    finally:
        staging.unlink(missing_ok=True)
    unknown = any(s.get(SKIPPED_UNKNOWN) for s in sources)
    return BundleSummary(tuple(s["name"] for s in sources), counts["units"], counts["advisories"], len(user_files), len(wheel_abi),
                         None if unknown else len(skipped))


def _write(out: IO[str], header: Mapping[str, Any], arrays: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """One JSON object: ``header``'s members, then each array from its elements' JSON texts; returns their lengths."""
    out.write("{")
    for key, value in header.items():
        out.write(f"{json.dumps(key)}: {json.dumps(value, sort_keys=True, default=str)}, ")
    counts: dict[str, int] = {}
    for number, (key, texts) in enumerate(arrays.items()):
        out.write(f"{', ' if number else ''}{json.dumps(key)}: [")
        counts[key] = 0
        for text in texts:
            out.write(f"{', ' if counts[key] else ''}{text}")
            counts[key] += 1
        out.write("]")
    out.write("}")
    return counts


def _unit_text(unit: StoredUnit, keys: Iterable[str]) -> str:
    """A unit in a bundle, as JSON: ``packages`` names what it speaks about; ``stack_only`` (absent from older bundles,
    ignored by older readers) says it is read only when a finished stack holds one of them; its document is the
    stored JSON text, spliced in as it is."""
    stack_only = [k.removeprefix(STACK_PREFIX) for k in keys if k.startswith(STACK_PREFIX)]
    entry = {"source": unit.source, "path": unit.path, "name": unit.name, "section": unit.section, "position": unit.position,
             "packages": sorted(stack_only or [k for k in keys if k]), **({"stack_only": True} if stack_only else {})}
    return f'{json.dumps(entry, sort_keys=True)[:-1]}, "document": {unit.text}}}'


def _keys(unit: Mapping[str, Any]) -> frozenset[str]:
    names = frozenset(map(str, unit["packages"]))
    return frozenset(STACK_PREFIX + n for n in names) if unit.get("stack_only") is True else names


def import_bundle(store: KnowledgeStore, path: Path, *, where: str) -> tuple[BundleSummary, dict[str, Any]]:
    """Replace the bundle's sources in ``store`` with its units (one transaction), add its advisories; returns what it
    held, and its other members (``user_prescriptions``, ``wheel_abi``: small, read whole)."""
    importing = _Import(store, where)
    try:
        with zips.open_archive(path) as zf, io.TextIOWrapper(zf.open(MEMBER), encoding="utf-8") as text, store.batch():
            # one transaction: a bundle found malformed halfway leaves the store as it was
            for key, value in members(text, streamed=("units", "advisories")):
                importing.member(key, value)
            importing.finish()
    except _UNREADABLE as exc:
        raise InputFileError(f"not a thoth-pip knowledge bundle ({exc})", path=where) from exc
    store.advisories.add(importing.advisories)
    return importing.summary(), {k: importing.held.get(k) or {} for k in ("user_prescriptions", "wheel_abi")}


class _Import:
    """A bundle's members as they stream by: small ones held, its units written file by file once its sources are known."""

    def __init__(self, store: KnowledgeStore, where: str) -> None:
        self.store, self.where = store, where
        self.held: dict[str, Any] = {}
        self.advisories: list[Advisory] = []
        self.sources: Optional[list[SourceRecord]] = None
        self.digests: dict[tuple[str, str], str] = {}
        self.written: set[tuple[str, str]] = set()
        self.pending: list[tuple[str, CompiledFile]] = []
        self.units = 0

    def member(self, key: str, value: Any) -> None:
        if key == "units":
            self.begin()
            self._units(value)
        elif key == "advisories":
            self.advisories = self._malformed(lambda: [Advisory.from_dict(a) for a in value])
        else:
            self.held[key] = value

    def begin(self) -> None:
        """Check the format, then replace the bundle's sources (once, before its first unit)."""
        if self.sources is not None:
            return
        if self.held.get("format") != FORMAT:
            raise InputFileError(f"not a thoth-pip knowledge bundle (no format '{FORMAT}' before its units)", path=self.where)
        self._version(final=False)
        self.sources = self._malformed(self._sources)
        self.digests = self._malformed(lambda: {(f["source"], f["path"]): f["sha256"] for f in self.held.get("files", [])})
        said = "skipped_units" in self.held
        for record in self.sources:
            self.store.forget_source(record.name)
            unknown = not said and any(source == record.name for source, _path in self.digests)
            self.store.set_source(replace(record, details={**record.details, SKIPPED_UNKNOWN: True}) if unknown else record)

    def _sources(self) -> list[SourceRecord]:
        standard = ("name", "kind", "location", "revision", "digest", "synced_at")
        return [SourceRecord(s["name"], s["kind"], s["location"], s.get("revision"), s.get("digest"), s.get("synced_at"),
                             {k: v for k, v in s.items() if k not in standard}) for s in self.held.get("sources", [])]

    def _version(self, *, final: bool) -> None:
        version = self.held.get("version", None if final else VERSION)
        if version != VERSION:
            raise InputFileError(f"bundle version {version!r} is not supported (this thoth-pip reads {VERSION})", path=self.where)

    def _units(self, units: Iterator[Any]) -> None:
        names = {record.name for record in self.sources or ()}
        group: list[CompiledUnit] = []
        current: Optional[tuple[str, str]] = None
        for unit in units:
            where = self._malformed(_where, unit)
            if where[0] not in names:
                continue
            if where != current:
                self._file(current, group)
                current, group = where, []
            group.append(self._malformed(_compiled, unit))
        self._file(current, group)

    def _file(self, where: Optional[tuple[str, str]], units: list[CompiledUnit]) -> None:
        if where is None:
            return
        if where in self.written:
            raise InputFileError(f"malformed knowledge bundle: the units of {where[1]} are not listed together", path=self.where)
        self.written.add(where)
        if (self.pending and self.pending[0][0] != where[0]) or len(self.pending) >= _FILES_AT_ONCE:
            self._flush()
        self.pending.append((where[0], CompiledFile(where[1], "bundle", self.digests.get(where, ""), tuple(units))))
        self.units += len(units)

    def _flush(self) -> None:
        """Write the files held (of one source): several at once (the store counts its units again at each write)."""
        if self.pending:
            self.store.update_files(self.pending[0][0], [file for _source, file in self.pending], ())
            self.pending = []

    def finish(self) -> None:
        """Files without units, the units the producer skipped (after the files: writing a file drops its problems)."""
        self.begin()
        self._version(final=True)
        names = {record.name for record in self.sources or ()}
        for where in sorted(set(self.digests) - self.written):
            if where[0] in names:
                self._file(where, [])
        self._flush()
        for name, problems in self._malformed(self._problems).items():
            if name in names:
                self.store.update_files(name, (), (), problems)

    def _problems(self) -> dict[str, list[Problem]]:
        grouped: dict[str, list[Problem]] = {}
        for entry in self.held.get("skipped_units") or []:
            grouped.setdefault(str(entry["source"]), []).append(Problem(str(entry["path"]), entry.get("unit"), str(entry["reason"])))
        return grouped

    def summary(self) -> BundleSummary:
        records = self.sources or []
        said = "skipped_units" in self.held and not any(record.details.get(SKIPPED_UNKNOWN) for record in records)
        names = [record.name for record in records]
        skipped = sum(len(found) for name, found in self._problems().items() if name in names) if said else None
        return BundleSummary(tuple(names), self.units, len(self.advisories), len(self.held.get("user_prescriptions") or {}),
                             len(self.held.get("wheel_abi") or {}), skipped)

    def _malformed(self, read: Callable[..., _T], *args: Any) -> _T:
        try:
            return read(*args)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputFileError(f"malformed knowledge bundle: {exc!r}", path=self.where) from exc


def _where(unit: Mapping[str, Any]) -> tuple[str, str]:
    return str(unit["source"]), str(unit["path"])


def _compiled(unit: Mapping[str, Any]) -> CompiledUnit:
    section, position = str(unit["section"]), int(unit["position"])
    form = checked_form(section, unit["document"], path=str(unit["path"]), index=position)  # checked here, by this thoth-pip
    return CompiledUnit(str(unit["name"]), section, position, unit["document"], _keys(unit), form)
