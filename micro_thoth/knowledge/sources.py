"""Where knowledge comes from: a directory, a git URL (depth-1 clone), a .tar.gz/.zip archive, or a backend URL.

``open_tree`` turns a SOURCE as the user typed it into a directory on disk and
the revision it holds (the git commit, or the archive's sha256). A git clone is
kept under the knowledge dir's ``sources/`` so a re-sync fetches only what
changed and unchanged files keep their stamps; an archive is unpacked into a
temporary directory (members with absolute paths, ``..`` or links are refused).
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
from pathlib import Path, PurePosixPath
from typing import Optional

from ..build import git_shallow_clone
from ..errors import BuildError, InputFileError, UsageError
from ..models import redact_url, strip_credentials
from ..net import fetch_file

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
SOURCES_DIR = "sources"  # under the knowledge dir: kept git clones


@dataclass(frozen=True)
class Tree:
    """A source on disk: its root, what kind of source it was, where from (no credentials), which revision."""

    root: Path
    kind: str  # "directory" | "git" | "archive"
    location: str
    revision: Optional[str]


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
        digest = _sha256(archive)
        root = Path(tmp) / "tree"
        unpack(archive, root)
        yield Tree(_single_top(root), "archive", location, f"sha256:{digest}")


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def unpack(archive: Path, destination: Path) -> None:
    """Unpack a .zip or .tar(.gz) into ``destination``; unsafe member names or links are refused."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_member(archive, name)
                zf.extractall(destination)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = [m for m in tf.getmembers() if m.isdir() or m.isfile()]
                for member in members:
                    _check_member(archive, member.name)
                tf.extractall(destination, members=members)
        else:
            raise InputFileError("not a .zip or .tar.gz archive", path=str(archive))
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise InputFileError(f"cannot unpack: {exc}", path=str(archive)) from exc


def _check_member(archive: Path, name: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or name.startswith("/"):
        raise InputFileError(f"archive member '{name}' would be written outside the target", path=str(archive))


def _single_top(root: Path) -> Path:
    """GitHub-style archives hold one top-level directory: use it as the root."""
    entries = [e for e in root.iterdir() if not e.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else root


def remove_clone(knowledge_dir: Path) -> None:
    """Forget every kept clone (``knowledge`` commands that reset the store)."""
    shutil.rmtree(knowledge_dir / SOURCES_DIR, ignore_errors=True)


def file_stamp(entry: os.DirEntry[str]) -> str:
    info = entry.stat()
    return f"{info.st_mtime_ns}:{info.st_size}"


__all__ = ["ARCHIVE_SUFFIXES", "Tree", "file_stamp", "kind_of", "open_tree", "remove_clone", "unpack"]
