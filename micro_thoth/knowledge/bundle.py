"""Knowledge bundles: one portable zip of a store (compiled units, advisories, the user's own units, sources).

A bundle holds ``knowledge.json`` (format ``thoth-pip-knowledge``, version 1;
``wheel_abi``, the ABI facts of the wheels read so far by digest, is absent from
older bundles and ignored by older readers)
and ``NOTICE.md``, the attribution its content needs when redistributed:
advisories from the PyPA advisory database / OSV are CC-BY 4.0, Thoth's
prescriptions are AGPL-3.0 (docs/knowledge.md). Importing one replaces the
sources it carries, adds its advisories and writes its user units beside the
ones already recorded.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InputFileError
from ..fs import atomic_write
from ..guidance.advisories import Advisory
from .store import (
    STACK_PREFIX,
    CompiledFile,
    CompiledUnit,
    KnowledgeStore,
    SourceRecord,
    StoredUnit,
    now_text,
)
from .sync import checked_form

FORMAT = "thoth-pip-knowledge"
VERSION = 1
MEMBER = "knowledge.json"
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
    """What a bundle holds (export) or what importing it changed."""

    sources: tuple[str, ...]
    units: int
    advisories: int
    user_units: int
    wheel_abi: int = 0  # wheels whose ABI facts it carries

    def to_dict(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "units": self.units, "advisories": self.advisories, "user_units": self.user_units,
                "wheel_abi": self.wheel_abi}


def export_bundle(
    store: KnowledgeStore, user_files: Mapping[str, str], destination: Path, wheel_abi: Mapping[str, Any] = MappingProxyType({}),
) -> BundleSummary:
    """Write the store, ``user_files`` (name -> YAML text) and ``wheel_abi`` (sha256 -> facts) to ``destination``
    as one zip, atomically."""
    sources = [s.to_dict() for s in store.sources()]
    keys = store.unit_keys()
    units = [_unit_entry(u, keys.get(u.id, ())) for u in store.all_units()]
    advisories = [a.to_dict() for a in store.advisories.all()]
    document = {
        "format": FORMAT, "version": VERSION, "created": now_text(), "sources": sources, "units": units,
        "files": store.file_digests(), "advisories": advisories, "user_prescriptions": dict(sorted(user_files.items())),
        "wheel_abi": dict(sorted(wheel_abi.items())),
    }
    staging = destination.with_name(f".{destination.name}.zip")
    with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MEMBER, json.dumps(document, sort_keys=True, default=str))
        zf.writestr("NOTICE.md", NOTICE)
    atomic_write(destination, staging.read_bytes())
    staging.unlink()
    return BundleSummary(tuple(s["name"] for s in sources), len(units), len(advisories), len(user_files), len(wheel_abi))


def _unit_entry(unit: StoredUnit, keys: Iterable[str]) -> dict[str, Any]:
    """A unit in a bundle: ``packages`` names what it speaks about; ``stack_only`` (absent from older bundles, ignored
    by older readers) says it is read only when a finished stack holds one of them."""
    stack_only = [k.removeprefix(STACK_PREFIX) for k in keys if k.startswith(STACK_PREFIX)]
    entry = {"source": unit.source, "path": unit.path, "name": unit.name, "section": unit.section, "position": unit.position,
             "document": unit.document, "packages": sorted(stack_only or [k for k in keys if k])}
    return {**entry, "stack_only": True} if stack_only else entry


def _keys(unit: Mapping[str, Any]) -> frozenset[str]:
    names = frozenset(map(str, unit["packages"]))
    return frozenset(STACK_PREFIX + n for n in names) if unit.get("stack_only") is True else names


def read_bundle(path: Path) -> dict[str, Any]:
    """The bundle's document, checked for its format and version."""
    try:
        with zipfile.ZipFile(path) as zf:
            document = json.loads(zf.read(MEMBER))
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise InputFileError(f"not a thoth-pip knowledge bundle ({exc})", path=str(path)) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputFileError(f"not a thoth-pip knowledge bundle (no format '{FORMAT}')", path=str(path))
    if document.get("version") != VERSION:
        raise InputFileError(f"bundle version {document.get('version')!r} is not supported (this thoth-pip reads {VERSION})", path=str(path))
    return document


def import_bundle(store: KnowledgeStore, document: Mapping[str, Any], *, where: str) -> BundleSummary:
    """Replace the bundle's sources in ``store`` with its units, add its advisories; returns what it held."""
    try:
        sources = [SourceRecord(s["name"], s["kind"], s["location"], s.get("revision"), s.get("digest"), s.get("synced_at"),
                                {k: v for k, v in s.items() if k not in ("name", "kind", "location", "revision", "digest", "synced_at")})
                   for s in document.get("sources", [])]
        files = _files(document)
        advisories = [Advisory.from_dict(a) for a in document.get("advisories", [])]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputFileError(f"malformed knowledge bundle: {exc!r}", path=where) from exc
    for record in sources:
        store.forget_source(record.name)
        store.update_files(record.name, files.get(record.name, {}).values(), ())
        store.set_source(record)
    store.advisories.add(advisories)
    units = sum(len(f.units) for per in files.values() for f in per.values())
    return BundleSummary(tuple(s.name for s in sources), units, len(advisories), len(document.get("user_prescriptions") or {}),
                         len(document.get("wheel_abi") or {}))


def _files(document: Mapping[str, Any]) -> dict[str, dict[str, CompiledFile]]:
    digests = {(f["source"], f["path"]): f["sha256"] for f in document.get("files", [])}
    grouped: dict[str, dict[str, list[CompiledUnit]]] = {}
    for unit in document.get("units", []):
        section, position = str(unit["section"]), int(unit["position"])
        form = checked_form(section, unit["document"], path=str(unit["path"]), index=position)  # checked here, by this thoth-pip
        compiled = CompiledUnit(str(unit["name"]), section, position, unit["document"], _keys(unit), form)
        grouped.setdefault(unit["source"], {}).setdefault(unit["path"], []).append(compiled)
    for source, path in digests:
        grouped.setdefault(source, {}).setdefault(path, [])
    return {
        source: {path: CompiledFile(path, "bundle", digests.get((source, path), ""), tuple(units)) for path, units in per.items()}
        for source, per in grouped.items()
    }
