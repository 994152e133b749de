"""Compile a prescriptions tree into the store: only files that changed, a bad unit skipped and named, never blocking.

The tree is a checkout of Thoth's prescriptions repository (units under
``prescriptions/``) or any directory of unit files, or an archive of one (read
in memory). Files are compared with what the store recorded by stamp (mtime and
size; an archive member's: its content digest); new and changed files are
parsed (YAML with libyaml when present, in a process pool for large batches)
and every unit is checked as ``guidance.prescriptions`` checks it. A unit that
cannot be used (a version that is not PEP 440, a key we do not support...) is
skipped with a warning naming file, unit and reason; the repository's
``_prescription_metadata.yaml`` is read as the source's metadata.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ..errors import InputFileError
from ..guidance.prescriptions import package_names, parse_unit, unit_entries, unit_name
from ..guidance.unit_form import UnitForm, unit_form
from ..guidance.units import Unit
from .sources import Reader, Tree
from .store import (
    ANY_PACKAGE,
    ORIGIN,
    CompiledFile,
    CompiledUnit,
    KnowledgeStore,
    Problem,
    SourceRecord,
    image_key,
    pin_key,
    stack_key,
)

PRESCRIPTIONS_SOURCE = "prescriptions"
METADATA_FILE = "_prescription_metadata.yaml"
COMPILER = 5  # bump when what a compiled unit holds or how it is keyed changes: every file is compiled afresh
STACK_KINDS = ("wrap", "stride")  # units whose every keyed condition is on the finished stack (their match is state only)
_CHUNK = 400
_POOL_FROM = 2000  # files: below this, compile in this process
_READERS = 8  # files a worker reads at once: a cold disk serves 8 reads in flight about 3 times as fast as one at a time
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class SyncSummary:
    """What one sync did: files seen and compiled, units loaded / skipped (by reason) / removed."""

    source: SourceRecord
    files: int
    compiled_files: int
    removed_files: int
    loaded: int
    removed: int
    units: int
    skipped: tuple[Problem, ...] = ()
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(p.category for p in self.skipped).most_common())

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(), "files": self.files, "compiled_files": self.compiled_files,
            "removed_files": self.removed_files, "loaded": self.loaded, "removed": self.removed, "units": self.units,
            "skipped": len(self.skipped), "skipped_by_reason": self.skipped_by_reason(),
            "skipped_units": [p.to_dict() for p in self.skipped], "seconds": round(self.seconds, 2),
        }


def unit_root(tree: Path) -> Path:
    """Where the unit files are: ``prescriptions/`` in the repository's layout, else the tree itself."""
    inner = tree / "prescriptions"
    return inner if inner.is_dir() else tree


def scan(root: Path) -> dict[str, str]:
    """relative path -> stamp (``mtime_ns:size``) of every ``*.yaml``/``*.yml`` under ``root``, hidden entries skipped."""
    found: dict[str, str] = {}
    pending = [(str(root), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.name.endswith((".yaml", ".yml")) and entry.is_file():
                    info = entry.stat()
                    found[prefix + entry.name] = f"{info.st_mtime_ns}:{info.st_size}"
    return found


def sync_tree(
    store: KnowledgeStore,
    tree: Tree,
    *,
    source: str = PRESCRIPTIONS_SOURCE,
    warn: Callable[[Problem], None] = lambda problem: None,
    clock: Callable[[], float] = lambda: 0.0,
) -> SyncSummary:
    """Bring ``source`` in the store up to date with ``tree``; ``warn`` hears about every unit skipped.

    A git clone or an archive at the revision recorded last time is not even scanned.
    """
    started = clock()
    previous = store.source(source)
    if previous is not None and _same_source(previous, tree) and tree.kind != "directory" and tree.revision == previous.revision:
        units = store.counts()["units_by_source"].get(source, 0)
        return SyncSummary(previous, int(previous.details.get("files", 0)), 0, 0, 0, 0, units, (), clock() - started)
    root, seen, read = _listing(tree)
    known = store.stamps(source) if previous is not None and _same_source(previous, tree) else {}
    if not known and previous is not None:
        store.forget_source(source)
    changed = sorted(p for p, stamp in seen.items() if known.get(p) != stamp)
    removed = sorted(set(known) - set(seen))
    problems: list[Problem] = []
    metadata: dict[str, Any] = {}
    with store.batch():  # one transaction: a lock running meanwhile sees the old set or the new one
        dropped, added = store.update_files(source, (), removed)
        for files, found, about in compile_files(root, [(p, seen[p]) for p in changed], read):
            for problem in found:
                warn(problem)
            problems += found
            metadata.update(about)
            more_dropped, more_added = store.update_files(source, files, (), found)
            dropped, added = dropped + more_dropped, added + more_added
    units = store.counts()["units_by_source"].get(source, 0)
    details = {"files": len(seen), "units": units, "compiler": COMPILER, **({"metadata": metadata} if metadata else {})}
    record = SourceRecord(source, tree.kind, tree.location, tree.revision, store.content_digest(source), details=details)
    store.set_source(record)
    return SyncSummary(record, len(seen), len(changed), len(removed), added, dropped, units, tuple(problems), clock() - started, metadata)


def _listing(tree: Tree) -> tuple[Path, dict[str, str], Optional[Reader]]:
    """Where the unit files are, path -> stamp of each, and how their contents are read when not on disk (an
    archive's, a git commit's: ``Members``)."""
    if tree.members is None:
        root = unit_root(tree.root)
        return root, scan(root), None
    members = tree.members()
    inner = "prescriptions/" if any(name.startswith("prescriptions/") for name in members.stamps) else ""
    seen = {name[len(inner):]: stamp for name, stamp in members.stamps.items() if name.startswith(inner) and name.endswith((".yaml", ".yml"))}
    return tree.root, seen, lambda paths: members.read([inner + path for path in paths])


def _same_source(previous: SourceRecord, tree: Tree) -> bool:
    """Stamps carry over when the same place is synced again by the same compiler (else every file is compiled afresh)."""
    return previous.location == tree.location and previous.kind == tree.kind and previous.details.get("compiler") == COMPILER


Compiled = tuple[list[CompiledFile], list[Problem], dict[str, Any]]


def compile_files(root: Path, files: Sequence[tuple[str, str]], read: Optional[Reader] = None) -> Iterator[Compiled]:
    """Compile ``(relative path, stamp)`` files batch by batch: their contents streamed by ``read`` (an archive's, a
    git commit's), else read under ``root`` by whoever compiles them; a process pool for large batches, fed a few
    batches ahead (so a streamed source is never held whole)."""
    chunks = _chunks(files, read)
    workers = min(os.cpu_count() or 1, 4)
    if len(files) < _POOL_FROM or workers < 2:
        yield from (compile_chunk(str(root), chunk) for chunk in chunks)
        return
    from concurrent.futures import (
        ProcessPoolExecutor,  # here: multiprocessing costs a lock ≈ 15 ms it never needs
    )

    with ProcessPoolExecutor(max_workers=workers) as pool:
        ahead: deque[Future[Compiled]] = deque()
        for chunk in chunks:
            ahead.append(pool.submit(compile_chunk, str(root), chunk))
            if len(ahead) > 2 * workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _chunks(files: Sequence[tuple[str, str]], read: Optional[Reader]) -> Iterator[list[tuple[str, str, Optional[bytes]]]]:
    contents = read([path for path, _stamp in files]) if read is not None else None
    for start in range(0, len(files), _CHUNK):
        chunk = files[start : start + _CHUNK]
        yield [(path, stamp, None if contents is None else next(contents)) for path, stamp in chunk]


def compile_chunk(root: str, files: Sequence[tuple[str, str, Optional[bytes]]]) -> tuple[list[CompiledFile], list[Problem], dict[str, Any]]:
    """Worker: read, load and check a batch of files (one YAML stream for the batch when it splits cleanly)."""
    raw = _texts(root, files)
    documents = _load_batch([text for _p, _s, text in raw])
    compiled: list[CompiledFile] = []
    problems: list[Problem] = []
    metadata: dict[str, Any] = {}
    for (path, stamp, text), document in zip(raw, documents):
        digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        if path.rsplit("/", 1)[-1] == METADATA_FILE:
            metadata = _metadata(document)
            compiled.append(CompiledFile(path, stamp, digest))
            continue
        units, found = _compile_document(path, document)
        compiled.append(CompiledFile(path, stamp, digest, tuple(units)))
        problems += found
    return compiled, problems, metadata


def _texts(root: str, files: Sequence[tuple[str, str, Optional[bytes]]]) -> list[tuple[str, str, str]]:
    """(path, stamp, text) of each file: its content when given (an archive's), else read under ``root``, several at once."""
    with ThreadPoolExecutor(_READERS) as pool:
        read = iter(list(pool.map(_read, [Path(root, path) for path, _stamp, data in files if data is None])))
    return [(path, stamp, next(read) if data is None else data.decode("utf-8", "surrogateescape")) for path, stamp, data in files]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        return f"\0unreadable: {exc.strerror or exc}"


class _Failed:
    """A document that did not load: why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _load_batch(texts: Sequence[str]) -> list[Any]:
    """One YAML stream for many small files (libyaml's per-stream cost dominates otherwise); per file on any doubt."""
    plain = [t for t in texts if not t.lstrip().startswith(("%", "---", "\0")) and "\n---" not in t and "\n..." not in t]
    if len(plain) == len(texts) and texts:
        try:
            documents = list(yaml.load_all("\n---\n".join(texts), Loader=_LOADER))
            if len(documents) == len(texts):
                return documents
        except yaml.YAMLError:
            pass
    return [_load_one(t) for t in texts]


def _load_one(text: str) -> Any:
    if text.startswith("\0"):
        return _Failed(text[1:])
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        return _Failed(f"invalid YAML: {str(exc).splitlines()[0]}")


def _metadata(document: Any) -> dict[str, Any]:
    data = document.get("prescription") if isinstance(document, dict) else None
    return {str(k): str(v) for k, v in data.items() if isinstance(v, (str, int, float))} if isinstance(data, dict) else {}


def _compile_document(path: str, document: Any) -> tuple[list[CompiledUnit], list[Problem]]:
    if isinstance(document, _Failed):
        return [], [Problem(path, None, document.reason)]
    try:
        entries = unit_entries(document, path=path)
    except InputFileError as exc:
        return [], [Problem(path, None, _reason(exc))]
    units: list[CompiledUnit] = []
    problems: list[Problem] = []
    names: set[str] = set()
    for section, index, raw in entries:
        try:
            unit = parse_unit(section, raw, path=path, origin=ORIGIN, index=index)
        except InputFileError as exc:
            problems.append(Problem(path, unit_name(raw), _reason(exc)))
            continue
        if unit.name in names:
            problems.append(Problem(path, unit.name, "two units in one file have this name"))
            continue
        names.add(unit.name)
        units.append(CompiledUnit(unit.name, section, index, raw, unit_keys(unit), unit_form(unit)))
    return units, problems


def checked_form(section: str, raw: Any, *, path: str, index: int) -> Optional[UnitForm]:
    """The checked form of one raw unit (a bundle's), or None when it does not parse here (a lock skips it then)."""
    try:
        return unit_form(parse_unit(section, raw, path=path, origin=ORIGIN, index=index))
    except InputFileError:
        return None


def _reason(exc: InputFileError) -> str:
    reason = re.sub(r"^prescription unit '[^']*': ", "", exc.reason)
    return f"{reason} (at {exc.key_path})" if exc.key_path else reason


def unit_keys(unit: Unit) -> frozenset[str]:
    """What a unit is looked up by: a pinned release for a wrap about one (``flask==2.0.2``, read only when the
    final stack has it); else the packages it speaks about (``@stack:NAME`` for a wrap or a stride: read only when
    a finished stack holds NAME); else the base images it is limited to; else any."""
    pinned = _pinned_keys(unit) if unit.kind == "wrap" else None
    if pinned:
        return pinned
    names = package_names(unit)
    if names:
        return frozenset(map(stack_key, names)) if unit.kind in STACK_KINDS else names
    images = unit.should_include.runtime.base_images
    if images is not None and not images.negate and images.values and all(isinstance(v, str) for v in images.values):
        return frozenset(image_key(str(v)) for v in images.values)
    return frozenset((ANY_PACKAGE,))


def _pinned_keys(unit: Unit) -> Optional[frozenset[str]]:
    """One ``name==version`` per match entry, when every entry's state pins a release (else None)."""
    keys = set()
    for entry in unit.match:
        pins = [pin_key(w.name, str(next(iter(w.version))).removeprefix("==")) for w in entry.resolved
                if w.name and w.version is not None and len(w.version) == 1 and next(iter(w.version)).operator == "=="
                and "*" not in str(w.version)]
        if entry.package is not None or not pins:
            return None
        keys.add(pins[0])
    return frozenset(keys) or None


def count_units(files: Iterable[CompiledFile]) -> int:
    return sum(len(f.units) for f in files)
