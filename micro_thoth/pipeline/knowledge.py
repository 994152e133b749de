"""User actions about knowledge: sync prescriptions from a SOURCE, import advisories, status, export and import bundles.

Everything lands in the knowledge dir (``--knowledge-dir`` / THOTH_PIP_KNOWLEDGE_DIR,
else the user data dir): the compiled store ``knowledge-v1.sqlite3`` and the
user's own units under ``prescriptions/``. ``knowledge_info`` is what a lock's
report says about the knowledge it used.
"""

from __future__ import annotations

import copy
import os
import sqlite3
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union

from ..cache import METADATA_DB, default_root
from ..errors import UsageError
from ..fs import atomic_write
from ..knowledge import abi
from ..knowledge.advisories import (
    LEGACY_FILE,
    RECORD_SUFFIXES,
    AdvisoryDB,
    ImportSummary,
    read_legacy,
)
from ..knowledge.bundle import BundleSummary, export_bundle, import_bundle, read_bundle
from ..knowledge.locations import bundled_dir, data_dir, knowledge_dir, user_prescriptions_dir
from ..knowledge.prescriptions import unit_files
from ..knowledge.sources import kind_of, open_tree
from ..knowledge.store import KnowledgeStore, Problem, SourceRecord
from ..knowledge.sync import SyncSummary, sync_tree
from ..memory import Kept, keeping
from ..models import redact_url
from ..store import open_default
from .project import read_text

ADVISORIES_SOURCE = "advisories"
# a resolver process's open knowledge store per knowledge dir, with its revision and report info (memory.py)
_KEPT: Kept[str, tuple[KnowledgeStore, tuple[int, int], dict[str, Any]]] = Kept(2)
_KEPT_ADVISORIES: weakref.WeakSet[AdvisoryDB] = weakref.WeakSet()


def open_store(environ: Mapping[str, str], say: Callable[[str], None] = lambda text: None) -> KnowledgeStore:
    """The compiled store of this run's knowledge dir (created empty when there is none); the shared one first takes
    in the advisories of an ``advisories-v1.sqlite3`` left in the data dir by an older thoth-pip (``say`` tells how)."""
    store = KnowledgeStore.open(knowledge_dir(environ))
    legacy = data_dir(environ) / LEGACY_FILE
    if knowledge_dir(environ) == data_dir(environ) and legacy.is_file():  # a pinned knowledge dir takes only what it is given
        say(_migrate_advisories(store, legacy))
    return store


def _migrate_advisories(store: KnowledgeStore, legacy: Path) -> str:
    """Import the advisories of ``legacy`` (those the store does not hold already) once, then set the file aside."""
    kept = legacy.with_name(legacy.name + ".migrated")
    try:
        found = read_legacy(legacy)
    except sqlite3.DatabaseError as exc:
        return (f"{legacy} (advisories kept by an older thoth-pip) could not be read ({exc}): "
                f"import your advisories again with `thoth-pip advisories import PATH`, then remove it")
    held = store.advisories.ids()
    fresh = [a for a in found if (a.id, a.package) not in held]
    store.advisories.add(fresh)
    if store.source(ADVISORIES_SOURCE) is None:
        details = {"advisories": len(found), "packages": len({a.package for a in found}), "migrated_from": str(legacy)}
        store.set_source(SourceRecord(ADVISORIES_SOURCE, "osv", str(legacy), None, store.advisories.fingerprint(), details=details))
    said = f"imported {len(fresh)} advisories from {legacy} (kept by an older thoth-pip) into {store.path}"
    try:
        legacy.replace(kept)
    except OSError as exc:
        return f"{said}; {legacy} could not be set aside ({exc.strerror}): remove it, or this is said again"
    return f"{said}, once; the old file is now {kept.name} (remove it when you like)"


def sync_source(source: str, environ: Mapping[str, str], warn: Callable[[Problem], None]) -> SyncSummary:
    """Compile the prescriptions at ``source`` (directory, git URL, archive) into the store, incrementally."""
    if kind_of(source) == "backend":
        raise UsageError(f"{redact_url(source)} is a backend URL", hint="sync a backend with `thoth-pip prescription sync URL` (it is fetched whole)")
    directory = knowledge_dir(environ)
    with open_store(environ) as store, open_tree(source, directory, environ) as tree:
        return sync_tree(store, tree, warn=warn, clock=time.monotonic)


def import_advisories(source: Union[str, Path], environ: Mapping[str, str]) -> tuple[ImportSummary, int]:
    """Import OSV records (JSON or YAML) from a directory, a zip (OSV's all.zip), a .tar.gz or a git URL."""
    text = str(source)
    with open_store(environ) as store:
        if Path(text).is_file() and text.endswith(RECORD_SUFFIXES):  # one record
            summary = store.advisories.import_path(Path(text))
            location, revision = str(Path(text).resolve()), None
        else:  # a directory (its git commit, if a checkout), an archive (its sha256), a git URL
            with open_tree(text, knowledge_dir(environ), environ) as tree:
                summary = store.advisories.import_path(tree.root)
                location, revision = tree.location, tree.revision
        details = {"files": summary.files, "advisories": summary.advisories, "packages": summary.packages}
        store.set_source(SourceRecord(ADVISORIES_SOURCE, "osv", location, revision, store.advisories.fingerprint(), details=details))
        return summary, store.advisories.count()


def user_units(environ: Mapping[str, str]) -> dict[str, str]:
    """The user's own unit files (recorded incompatibilities...), name -> text."""
    root = user_prescriptions_dir(environ)
    if not root.is_dir():
        return {}
    return {path.relative_to(root).as_posix(): read_text(path) for path in unit_files(root, skip=("backend",))}


def status(environ: Mapping[str, str]) -> dict[str, Any]:
    """What is installed and from where: sources with revisions, counts, skipped units by reason, the digest."""
    with open_store(environ) as store:
        problems = store.problems()
        by_reason: dict[str, int] = {}
        for problem in problems:
            by_reason[problem.category] = by_reason.get(problem.category, 0) + 1
        return {
            "knowledge_dir": str(knowledge_dir(environ)),
            "store": str(store.path),
            "sources": [s.to_dict() for s in store.sources()],
            **store.counts(),
            "skipped_units": len(problems),
            "skipped_by_reason": by_reason,
            "user_units": len(user_units(environ)),
            "bundled_files": len(unit_files(bundled_dir())),
            "digest": store.digest(),
        }


def export_knowledge(destination: Path, environ: Mapping[str, str]) -> BundleSummary:
    with open_store(environ) as store:
        return export_bundle(store, user_units(environ), destination, wheel_abi_facts(environ))


def wheel_abi_facts(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ABI facts of every wheel read so far (the metadata store of the cache), by sha256; none without a cache."""
    if not (default_root(environ) / METADATA_DB).is_file():
        return {}
    with open_default(environ) as meta:
        return abi.all_remembered(meta)


def _remember_wheel_abi(document: Mapping[str, Any], environ: Mapping[str, str], where: str) -> None:
    facts = abi.parse_facts(document.get("wheel_abi") or {}, where)
    if facts:
        with open_default(environ) as meta:
            for sha256, found in facts.items():
                abi.remember(meta, sha256, found)


def import_knowledge(path: Path, environ: Mapping[str, str]) -> BundleSummary:
    """Load a bundle: its sources replace ours of the same name, its advisories, user units and wheels' ABI facts are added."""
    document = read_bundle(path)
    _remember_wheel_abi(document, environ, str(path))
    with open_store(environ) as store:
        summary = import_bundle(store, document, where=str(path))
    root = user_prescriptions_dir(environ)
    for name, text in (document.get("user_prescriptions") or {}).items():
        safe = Path(str(name)).name
        if safe.endswith((".yaml", ".yml")) and not safe.startswith(".") and isinstance(text, str):
            atomic_write(root / safe, text)
    return summary


def bundle_bytes(environ: Mapping[str, str]) -> bytes:
    """The knowledge dir's bundle, in memory (what a backend serves)."""
    with tempfile.TemporaryDirectory(prefix="thoth-pip-bundle-") as tmp:
        path = Path(tmp) / "knowledge.zip"
        export_knowledge(path, environ)
        return path.read_bytes()


def import_knowledge_bytes(data: bytes, environ: Mapping[str, str], *, where: str) -> BundleSummary:
    """Load a bundle received over the network (a backend's)."""
    with tempfile.TemporaryDirectory(prefix="thoth-pip-bundle-") as tmp:
        path = Path(tmp) / "knowledge.zip"
        path.write_bytes(data)
        document = read_bundle(path)
    _remember_wheel_abi(document, environ, where)
    with open_store(environ) as store:
        return import_bundle(store, document, where=where)


def knowledge_info(store: KnowledgeStore, environ: Mapping[str, str]) -> dict[str, Any]:
    """What a report says about the knowledge a run used: where, which sources at which revisions, counts, digest."""
    units, advisories = store.totals()
    return {
        "knowledge_dir": str(knowledge_dir(environ)),
        "sources": [{k: s.to_dict()[k] for k in ("name", "kind", "location", "revision")} for s in store.sources()],
        "units_available": units,
        "advisories": advisories,
        "digest": store.digest(),
    }


def run_store(environ: Mapping[str, str], say: Callable[[str], None] = lambda text: None) -> tuple[KnowledgeStore, dict[str, Any]]:
    """The knowledge store one lock reads and its ``knowledge_info``; close it with ``release_advisories``.

    A process that keeps (memory.py: a backend's resolver process) keeps the store open from one
    run to the next, with its info, and opens it again once another connection committed to it
    (SQLite's ``data_version``: a sync, an import) or its file was replaced."""
    key = str(knowledge_dir(environ))
    found = _KEPT.get(key)
    if found is not None:
        store, revision, info = found
        if _revision(store) == revision:
            return store, copy.deepcopy(info)
        _KEPT.drop(key)
        _KEPT_ADVISORIES.discard(store.advisories)
        store.close()
    store = open_store(environ, say)
    info = knowledge_info(store, environ)
    if keeping():
        _KEPT.put(key, (store, _revision(store), copy.deepcopy(info)))
        _KEPT_ADVISORIES.add(store.advisories)
    return store, info


def release_advisories(advisories: AdvisoryDB) -> None:
    """Close what ``run_store`` opened, unless the process keeps it for the next run."""
    if advisories not in _KEPT_ADVISORIES:
        advisories.close()


def _revision(store: KnowledgeStore) -> tuple[int, int]:
    """Changes when another connection commits to the store or its file is replaced."""
    try:
        inode = os.stat(store.path).st_ino if store.path is not None else 0
    except OSError:
        inode = -1
    return inode, int(store.connection.execute("PRAGMA data_version").fetchone()[0])
