"""The knowledge store a run opens, and what a lock's report says about the knowledge it used.

``open_store`` opens the compiled store of the knowledge dir (and takes in, once, the
advisories an older thoth-pip kept beside it); ``run_store`` is the one a lock reads, with
its ``knowledge_info``. A lock needs only this of the knowledge: syncing, importing and
bundles live in ``knowledge.py`` (with the HTTP stack and archives they need).
"""

from __future__ import annotations

import copy
import os
import sqlite3
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..knowledge.advisories import LEGACY_FILE, AdvisoryDB, read_legacy
from ..knowledge.locations import data_dir, knowledge_dir
from ..knowledge.store import KnowledgeStore, SourceRecord
from ..memory import Kept, keeping

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
