"""Unpacked wheel trees (the cache's ``unpacked-v1``): checked once, then placed into environments.

Like uv's installs from its unpacked-wheel cache: nothing is hashed again; RECORD
rows come from the tree, files are cloned, copied or linked by the link mode
(linking.py), and only scripts, the additional metadata and RECORD are written.
Bytecode is compiled into the tree once per interpreter cache tag and placed along
with the sources. A tree whose files changed since it was unpacked is unpacked again.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from installer.exceptions import InstallerError
from installer.records import RecordEntry
from installer.utils import SCHEME_NAMES, Scheme, parse_entrypoints
from packaging.utils import NormalizedName

from ..cache import Cache
from ..cached import cached_property
from ..digests import sha256_file
from ..errors import InstallError, UnsafeWheel
from ..integrity import tree_damaged
from .bytecode import compile_bytecode, pyc_path
from .environment import TargetEnvironment
from .linking import MOVE, Placer
from .planning import WantedPackage
from .safety import ensure_dir, inside, unpack_wheel, within
from .transaction import Transaction
from .wheels import RecordingDestination, additional_metadata, destination_for


def unpacked_tree(wheel: Path, cache: Cache, sha256: Optional[str] = None) -> Path:
    """The cache's unpacked tree of ``wheel`` (``unpacked-v1/<sha256>``), made on first use.

    ``sha256`` is the wheel's verified digest when the caller has it; else it is computed.
    """
    digest = sha256 or sha256_file(wheel)
    tree = cache.unpacked(digest)
    if tree is not None and tree_damaged(tree):  # edited through a hard link: unpack it afresh
        cache.discard_unpacked(digest)
        tree = None
    return tree or cache.add_unpacked(digest, lambda into: unpack_wheel(wheel, into))


def unpacked_trees(
    wheels: Mapping[NormalizedName, Path],
    cache: Cache,
    digests: Optional[Mapping[NormalizedName, str]] = None,
    *,
    workers: Optional[int] = None,
) -> dict[NormalizedName, Path]:
    """``unpacked_tree`` of each wheel, unpacking the missing ones in parallel."""
    known = digests or {}
    with ThreadPoolExecutor(max_workers=max(1, min(len(wheels), workers or 4))) as pool:
        futures = {key: pool.submit(unpacked_tree, wheel, cache, known.get(key)) for key, wheel in wheels.items()}
        return {key: future.result() for key, future in futures.items()}


@dataclass(frozen=True)
class Tree:
    """An unpacked wheel: its dist-info directory, root scheme and RECORD rows."""

    root: Path
    dist_info: str
    root_scheme: Scheme
    rows: tuple[tuple[str, str, str], ...]

    @property
    def data_dir(self) -> str:
        return self.dist_info[: -len(".dist-info")] + ".data"

    @property
    def distribution(self) -> str:
        return self.dist_info[: -len(".dist-info")].rsplit("-", 1)[0]

    @cached_property
    def signatures(self) -> frozenset[str]:
        """RECORD and its signatures: not placed (RECORD is written anew)."""
        return frozenset(f"{self.dist_info}/{name}" for name in ("RECORD", "RECORD.jws", "RECORD.p7s"))

    def read(self, name: str) -> str:
        return (self.root / self.dist_info / name).read_text(encoding="utf-8")


def open_tree(root: Path) -> Tree:
    try:
        infos = [p.name for p in root.iterdir() if p.name.endswith(".dist-info") and p.is_dir()]
        if len(infos) != 1:
            raise UnsafeWheel(f"unpacked wheel {root} has {len(infos)} .dist-info directories", distribution=root.name)
        wheel = (root / infos[0] / "WHEEL").read_text(encoding="utf-8")
        with open(root / infos[0] / "RECORD", newline="", encoding="utf-8") as fh:
            rows = [[*row, "", ""] for row in csv.reader(fh) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InstallError(f"the unpacked wheel {root} is incomplete: {exc}", distribution=root.name) from exc
    purelib = re.search(r"^Root-Is-Purelib:\s*true\s*$", wheel, re.MULTILINE | re.IGNORECASE)
    scheme = Scheme("purelib" if purelib else "platlib")
    return Tree(root, infos[0], scheme, tuple((r[0], r[1], r[2]) for r in rows))


def placement(tree: Tree, path: str) -> tuple[Scheme, str]:
    """(scheme, path inside it) of a wheel member, as installer places it."""
    head, _, rest = path.partition("/")
    if head != tree.data_dir:
        return tree.root_scheme, path
    scheme, _, inner = rest.partition("/")
    if scheme not in SCHEME_NAMES or not inner:
        raise UnsafeWheel(f"{path!r} is not inside a known .data scheme", distribution=tree.distribution)
    return Scheme(scheme), inner


def skipped(tree: Tree, path: str) -> bool:
    return path in tree.signatures or ("__pycache__" in path and "__pycache__" in path.split("/")[:-1])


def precompile_trees(trees: Sequence[Path], env: TargetEnvironment) -> int:
    """One batched compile of every tree's missing bytecode (the cache, not the environment)."""
    tag = env.interpreter.cache_tag
    if not trees or not tag:
        return 0
    return compile_bytecode([Path(source) for root in trees for source in missing_bytecode(root, tag)], env)


def missing_bytecode(root: Path, tag: str) -> list[str]:
    """The sources of an unpacked tree that have no bytecode for the cache tag ``tag`` yet."""
    tree = open_tree(root)
    base = os.path.abspath(root)
    sources = (within(base, path) for path, _, _ in tree.rows if _wants_bytecode(tree, path))
    return [source for source in sources if not os.path.exists(pyc_path(source, tag))]


def compiled_bytecode(root: Path, tag: str) -> list[str]:
    """The ``.pyc`` files (paths inside the tree) compiled for the cache tag ``tag`` next to a tree's sources."""
    tree = open_tree(root)
    base = os.path.abspath(root)
    relative = (pyc_path(path, tag) for path, _, _ in tree.rows if _wants_bytecode(tree, path))
    return [path for path in relative if os.path.isfile(within(base, path))]


def _wants_bytecode(tree: Tree, path: str) -> bool:
    return path.endswith(".py") and not skipped(tree, path) and placement(tree, path)[0] in ("purelib", "platlib")


def link_tree(
    wanted: WantedPackage, root: Path, env: TargetEnvironment, transaction: Transaction, bytecode: bool,
    placer: Optional[Placer] = None,
) -> None:
    try:
        tree = open_tree(root)
        destination = destination_for(env, tree.distribution, transaction)
        linker = Linker(transaction, placer or Placer())
        moved = _move_directories(tree, destination, linker)
        records = _link_files(tree, destination, linker, env.interpreter.cache_tag if bytecode else None, moved)
        records += _write_scripts(tree, destination)
        records += _write_metadata(tree, destination, wanted)
        record_path = f"{tree.dist_info}/RECORD"
        records.append((tree.root_scheme, RecordEntry(record_path, None, None)))
        destination.finalize_installation(tree.root_scheme, record_path, records)
    except (InstallerError, ValueError, OSError, KeyError) as exc:
        raise InstallError(f"installing {wanted.describe()} from {root} failed: {exc}", distribution=wanted.name) from exc


def _move_directories(tree: Tree, destination: RecordingDestination, linker: Linker) -> frozenset[str]:
    """A staging tree's top-level directories that the environment lacks, each moved in with one
    rename (its files then need no placing of their own, nor their directories making); their names."""
    if linker.placer.mode != MOVE:
        return frozenset()
    base = destination.scheme_dict[tree.root_scheme]
    tops = {path.split("/", 1)[0] for path, _, _ in tree.rows if "/" in path} - {tree.dist_info, tree.data_dir}
    moved = set()
    for top in sorted(tops):
        source, target = inside(str(tree.root), top), inside(base, top)
        if os.path.lexists(target) or not os.path.isdir(source):
            continue  # shared with another distribution (a namespace): file by file
        try:
            os.rename(source, target)
        except OSError:  # another distribution's files arrived meanwhile, or another filesystem
            continue
        linker.transaction.moved(target)
        moved.add(top)
    return frozenset(moved)


def _link_files(
    tree: Tree, destination: RecordingDestination, linker: Linker, bytecode_tag: Optional[str],
    moved: frozenset[str] = frozenset(),
) -> list[tuple[Scheme, RecordEntry]]:
    records: list[tuple[Scheme, RecordEntry]] = []
    root = os.path.abspath(tree.root)
    bases = {scheme: os.path.abspath(base) for scheme, base in destination.scheme_dict.items()}
    for path, digest, size in tree.rows:
        if skipped(tree, path):
            continue
        scheme, inner = placement(tree, path)
        if moved and path.split("/", 1)[0] in moved:  # already in place, with its bytecode
            linker.transaction.wrote(within(bases[scheme], inner))
            records.append((scheme, RecordEntry.from_elements(inner, digest, size)))
            continue
        source = within(root, path)
        if scheme == "scripts":  # shebangs are rewritten for the target: copy, not link
            with open(source, "rb") as stream:
                records.append((scheme, destination.write_file(scheme, inner, stream, os.access(source, os.X_OK))))
            continue
        target = within(bases[scheme], inner)
        linker.place(source, target)
        records.append((scheme, RecordEntry.from_elements(inner, digest, size)))
        if bytecode_tag and path.endswith(".py") and scheme in ("purelib", "platlib"):
            _link_bytecode(source, target, bytecode_tag, linker)
    return records


def _link_bytecode(source: str, target: str, tag: str, linker: Linker) -> None:
    """Link the tree's ``.pyc`` too: it stays valid, the ``.py`` being the same inode (same mtime)."""
    try:
        linker.place(pyc_path(source, tag), pyc_path(target, tag))
    except FileNotFoundError:  # not compiled (a syntax error): the target interpreter does without
        pass


class Linker:
    """Places a tree's files by the placer's link mode, creating each directory once."""

    def __init__(self, transaction: Transaction, placer: Placer) -> None:
        self.transaction = transaction
        self.placer = placer
        self.made: set[str] = set()

    def place(self, source: str, target: str) -> None:
        """``target`` becomes ``source``; what was there is moved aside first, never written through
        (it may be a link). A missing ``source`` raises FileNotFoundError and places nothing."""
        parent = os.path.dirname(target)
        if parent not in self.made:
            ensure_dir(parent)
            self.made.add(parent)
        try:
            self.placer.place(source, target)  # never over an existing file (O_EXCL, link, symlink)
        except FileExistsError:
            self.transaction.will_write(target)
            self.placer.place(source, target)
        else:
            self.transaction.wrote(target)


def _write_scripts(tree: Tree, destination: RecordingDestination) -> list[tuple[Scheme, RecordEntry]]:
    try:
        text = tree.read("entry_points.txt")
    except FileNotFoundError:
        return []
    return [
        (Scheme("scripts"), destination.write_script(name=name, module=module, attr=attr, section=section))
        for name, module, attr, section in parse_entrypoints(text)
    ]


def _write_metadata(
    tree: Tree, destination: RecordingDestination, wanted: WantedPackage
) -> list[tuple[Scheme, RecordEntry]]:
    records: list[tuple[Scheme, RecordEntry]] = []
    for filename, contents in additional_metadata(wanted).items():
        path = f"{tree.dist_info}/{filename}"
        with io.BytesIO(contents) as stream:
            records.append((tree.root_scheme, destination.write_file(tree.root_scheme, path, stream, False)))
    return records
