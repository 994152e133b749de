"""User actions about knowledge: sync prescriptions from a SOURCE, import advisories, status, export and import bundles.

Everything lands in the knowledge dir (``--knowledge-dir`` / THOTH_PIP_KNOWLEDGE_DIR,
else the user data dir): the compiled store ``knowledge-v1.sqlite3`` and the
user's own units under ``prescriptions/``; ``knowledge_store.py`` opens the store
(what a lock needs of the knowledge, without the sync and bundle machinery).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Optional, Union

from ..cache import METADATA_DB, default_root
from ..errors import UsageError
from ..fs import atomic_write
from ..knowledge import abi
from ..knowledge.advisories import RECORD_SUFFIXES, ImportSummary, member_records
from ..knowledge.bundle import SKIPPED_UNKNOWN, BundleSummary, export_bundle, import_bundle
from ..knowledge.locations import bundled_dir, knowledge_dir, user_prescriptions_dir
from ..knowledge.prescriptions import unit_files
from ..knowledge.sources import kind_of, open_tree
from ..knowledge.store import Problem, SourceRecord
from ..knowledge.sync import SyncSummary, sync_tree
from ..models import redact_url
from ..store import open_default
from .knowledge_store import ADVISORIES_SOURCE, open_store
from .project import read_text


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
                if tree.members is None:
                    summary = store.advisories.import_path(tree.root)
                else:
                    summary = store.advisories.import_records(member_records(tree.members(), tree.location), tree.location)
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
        sources = store.sources()
        unknown = [s.name for s in sources if s.details.get(SKIPPED_UNKNOWN)]  # imported from an older bundle
        return {
            "knowledge_dir": str(knowledge_dir(environ)),
            "store": str(store.path),
            "sources": [s.to_dict() for s in sources],
            **store.counts(),
            "skipped_units": None if unknown else len(problems),
            "skipped_by_reason": by_reason,
            "skipped_unknown": unknown,
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


def _remember_wheel_abi(facts: Mapping[str, Any], environ: Mapping[str, str], where: str) -> None:
    found = abi.parse_facts(facts, where)
    if found:
        with open_default(environ) as meta:
            for sha256, fact in found.items():
                abi.remember(meta, sha256, fact)


def import_knowledge(path: Path, environ: Mapping[str, str], *, backend: Optional[str] = None) -> BundleSummary:
    """Load a bundle: its sources replace ours of the same name, its advisories, user units and wheels' ABI facts are
    added. From ``backend`` (named in messages instead of the file): its user units are not written, they came with
    its prescriptions (the user dir's ``backend/`` set)."""
    where = backend or str(path)
    with open_store(environ) as store:
        summary, rest = import_bundle(store, path, where=where)
    _remember_wheel_abi(rest["wheel_abi"], environ, where)
    root = user_prescriptions_dir(environ)
    for name, text in ({} if backend else rest["user_prescriptions"]).items():
        safe = Path(str(name)).name
        if safe.endswith((".yaml", ".yml")) and not safe.startswith(".") and isinstance(text, str):
            atomic_write(root / safe, text)
    return summary


def bundle_file(environ: Mapping[str, str]) -> Path:
    """The knowledge dir's bundle written to a new temporary file (what a backend serves; the caller removes it)."""
    fd, name = tempfile.mkstemp(prefix="thoth-pip-bundle-", suffix=".zip")
    os.close(fd)
    try:
        export_knowledge(Path(name), environ)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)
