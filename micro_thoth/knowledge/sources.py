"""Where knowledge comes from: a directory, a git URL (depth-1 clone), a .tar.gz/.zip archive, or a backend URL.

``open_tree`` turns a SOURCE as the user typed it into a directory on disk and
the revision it holds (the git commit, or the archive's sha256). A git clone is
kept under the knowledge dir's ``sources/`` so a re-sync fetches only what
changed and unchanged files keep their stamps; an archive is read in memory, never
unpacked (65,000 small files written and removed cost minutes on a slow disk): its
regular files' contents by relative path, stamped by digest (members with absolute
paths or ``..`` are refused, links and hidden entries left out).
Credentials in a URL never reach a message: they are stripped or redacted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Callable, Optional

from .. import zips
from ..build import git_shallow_clone
from ..errors import BuildError, InputFileError, UsageError
from ..models import redact_url, strip_credentials
from ..net import fetch_file

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
SOURCES_DIR = "sources"  # under the knowledge dir: kept git clones
_UNREADABLE: tuple[type[Exception], ...] = (OSError, tarfile.TarError, *zips.UNREADABLE)  # zips: zipfile's every way to fail
Members = dict[str, tuple[str, bytes]]  # an archive's files: relative path -> (stamp, content)


@dataclass(frozen=True)
class Tree:
    """A source: its root on disk (an archive: the archive file), what kind of source it was, where from (no
    credentials), which revision; an archive's files are read by ``members`` (only when needed: a re-sync of the
    revision recorded last time reads none)."""

    root: Path
    kind: str  # "directory" | "git" | "archive"
    location: str
    revision: Optional[str]
    members: Optional[Callable[[], Members]] = None


def kind_of(source: str) -> str:
    """``directory``, ``archive``, ``git`` or ``backend`` (any other http(s) URL)."""
    lowered = source.lower().split("?", 1)[0].rstrip("/")
    if "://" not in source and not source.startswith("git@"):
        path = Path(source)
        if path.is_dir():
            return "directory"
        if lowered.endswith(ARCHIVE_SUFFIXES) or path.is_file():
            return "archive"
        raise UsageError(f"no such directory or archive: {source}", hint="give a directory, a .tar.gz/.zip archive, a git URL or a backend URL")
    if source.startswith(("git+", "git@", "git://", "ssh://")) or lowered.endswith(".git"):
        return "git"
    if lowered.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    if lowered.startswith("file://"):
        return "git"  # a local repository by URL
    if lowered.startswith(("http://", "https://")):
        return "backend"
    raise UsageError(f"cannot tell what {redact_url(source)} is", hint="give a directory, a .tar.gz/.zip archive, a git URL or a backend URL")


@contextmanager
def open_tree(source: str, knowledge_dir: Path, environ: Mapping[str, str]) -> Iterator[Tree]:
    """The source as a directory on disk for the duration of the ``with`` block."""
    kind = kind_of(source)
    if kind == "directory":
        root = Path(source).resolve()
        yield Tree(root, kind, str(root), _git_head(root))
    elif kind == "git":
        yield _git_tree(source, knowledge_dir, environ)
    elif kind == "archive":
        with _archive_tree(source, environ) as tree:
            yield tree
    else:
        raise UsageError(f"{redact_url(source)} is a backend, not a directory, archive or git repository")


def _git_head(root: Path) -> Optional[str]:
    if not (root / ".git").exists():
        return None
    try:
        proc = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _git_tree(url: str, knowledge_dir: Path, environ: Mapping[str, str]) -> Tree:
    location = strip_credentials(url.removeprefix("git+"))
    checkout = knowledge_dir / SOURCES_DIR / hashlib.sha256(location.encode()).hexdigest()[:16]
    try:
        commit = git_shallow_clone(url, checkout, environ=environ)
    except BuildError as exc:
        raise UsageError(f"cannot clone {location}: {exc.message}", hint=exc.hint) from exc
    return Tree(checkout, "git", location, commit)


@contextmanager
def _archive_tree(source: str, environ: Mapping[str, str]) -> Iterator[Tree]:
    with tempfile.TemporaryDirectory(prefix="thoth-pip-knowledge-") as tmp:
        if "://" in source:
            archive = Path(tmp) / ("download.zip" if source.lower().split("?")[0].endswith(".zip") else "download.tar.gz")
            fetch_file(source, archive)
            location = strip_credentials(source)
        else:
            archive = Path(source).resolve()
            location = str(archive)
        yield Tree(archive, "archive", location, f"sha256:{_sha256(archive)}", partial(read_archive, archive))


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def read_archive(archive: Path) -> Members:
    """The regular files of a .zip or .tar(.gz), by path under its single top directory (a GitHub-style archive's
    ``name-main/``); unsafe member names are refused."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                found = {i.filename: zf.read(i) for i in zf.infolist() if _wanted(archive, i.filename, not i.is_dir())}
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                found = {m.name: _tar_read(tf, m) for m in tf if _wanted(archive, m.name, m.isfile())}
        else:
            raise InputFileError("not a .zip or .tar.gz archive", path=str(archive))
    except _UNREADABLE as exc:
        raise InputFileError(f"cannot unpack: {exc}", path=str(archive)) from exc
    names = {name: PurePosixPath(name).parts for name in found}
    tops = {parts[0] for parts in names.values()}
    strip = 1 if len(tops) == 1 and all(len(parts) > 1 for parts in names.values()) else 0
    return {"/".join(names[name][strip:]): (_stamp(data), data) for name, data in found.items()}


def _wanted(archive: Path, name: str, regular: bool) -> bool:
    _check_member(archive, name)
    return regular and not any(part.startswith(".") for part in PurePosixPath(name).parts)


def _tar_read(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tf.extractfile(member)
    return handle.read() if handle is not None else b""


def _stamp(data: bytes) -> str:
    """An archive member's stamp: its content (an archive's mtimes may all be the commit's)."""
    return f"{hashlib.blake2b(data, digest_size=12).hexdigest()}:{len(data)}"


def _check_member(archive: Path, name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or name.startswith("/"):
        raise InputFileError(f"archive member '{name}' would be written outside the target", path=str(archive))


def remove_clone(knowledge_dir: Path) -> None:
    """Forget every kept clone (``knowledge`` commands that reset the store)."""
    shutil.rmtree(knowledge_dir / SOURCES_DIR, ignore_errors=True)


def file_stamp(entry: os.DirEntry[str]) -> str:
    info = entry.stat()
    return f"{info.st_mtime_ns}:{info.st_size}"


__all__ = ["ARCHIVE_SUFFIXES", "Members", "Tree", "file_stamp", "kind_of", "open_tree", "read_archive", "remove_clone"]
