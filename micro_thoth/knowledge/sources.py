"""Where knowledge comes from: a directory, a git URL (depth-1 fetch), a .tar.gz/.zip archive, or a backend URL.

``open_tree`` turns a SOURCE as the user typed it into a tree and the revision it
holds (the git commit, or the archive's sha256). A directory is read on disk. An
archive and a git commit are read the same way, as ``Members``, never written out
(65,000 small files written and removed cost minutes on a slow disk): their regular
files' stamps by relative path, and their contents streamed when asked for. An
archive's files are read in memory, stamped by digest (members with absolute paths or
``..`` are refused, links and hidden entries left out); a git source is a bare
repository kept under the knowledge dir's ``sources/`` (a re-sync fetches only what
changed), its files listed by ``git ls-tree`` and stamped by their blob ids, their
contents streamed by one ``git cat-file --batch``.
Credentials in a URL never reach a message: they are stripped or redacted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Optional

from .. import zips
from ..build import git_fetch_bare
from ..errors import BuildError, InputFileError, UsageError
from ..models import redact_url, strip_credentials
from ..net import fetch_file

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
SOURCES_DIR = "sources"  # under the knowledge dir: kept bare git repositories
_UNREADABLE: tuple[type[Exception], ...] = (OSError, tarfile.TarError, *zips.UNREADABLE)  # zips: zipfile's every way to fail
_GIT_FILES = ("100644", "100755")  # a git tree's regular files (links, submodules and trees left out)
Reader = Callable[[Sequence[str]], Iterator[bytes]]  # the contents of the files named, in that order


@dataclass(frozen=True)
class Members:
    """A source's files read where they are (an archive, a git commit): relative path -> stamp (unchanged content
    keeps its stamp), and ``read``, which streams the contents of the files it is given."""

    stamps: Mapping[str, str]
    read: Reader


@dataclass(frozen=True)
class Tree:
    """A source: its root on disk (an archive: the archive file; git: the bare repository), what kind of source it
    was, where from (no credentials), which revision; an archive's or a git commit's files are read by ``members``
    (only when needed: a re-sync of the revision recorded last time reads none)."""

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
    """The source for the duration of the ``with`` block: a directory on disk, or files read where they are (``members``)."""
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
    kept = knowledge_dir / SOURCES_DIR / hashlib.sha256(location.encode()).hexdigest()[:16]
    shutil.rmtree(kept, ignore_errors=True)  # the checkout an older thoth-pip kept (65,000 files), once
    git_dir = kept.with_name(kept.name + ".git")
    try:
        commit = git_fetch_bare(url, git_dir, environ=environ)
    except BuildError as exc:
        raise UsageError(f"cannot clone {location}: {exc.message}", hint=exc.hint) from exc
    return Tree(git_dir, "git", location, commit, partial(read_git, git_dir, commit))


def read_git(git_dir: Path, commit: str) -> Members:
    """The regular files of ``commit`` in ``git_dir`` by path (hidden entries left out), stamped by blob id."""
    listing = _git(git_dir, "ls-tree", "-r", "-z", "--full-tree", commit).decode("utf-8", "surrogateescape")
    blobs: dict[str, str] = {}
    for entry in filter(None, listing.split("\0")):
        meta, _tab, path = entry.partition("\t")
        mode, kind, blob = meta.split(" ")
        if kind == "blob" and mode in _GIT_FILES and not any(part.startswith(".") for part in path.split("/")):
            blobs[path] = blob
    return Members({path: f"git:{blob}" for path, blob in blobs.items()}, partial(_cat_blobs, git_dir, blobs))


def _git(git_dir: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(git_dir), *args], capture_output=True, check=True, timeout=600).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputFileError(f"cannot read the kept repository: {exc}", path=str(git_dir)) from exc


def _cat_blobs(git_dir: Path, blobs: Mapping[str, str], paths: Sequence[str]) -> Iterator[bytes]:
    """The contents of ``paths`` (named in ``blobs``), streamed by one ``git cat-file --batch``."""
    proc = subprocess.Popen(["git", "-C", str(git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    feeder = threading.Thread(target=_feed, args=(proc.stdin, [blobs[p] for p in paths]), daemon=True)
    feeder.start()
    try:
        for path in paths:
            header = proc.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise InputFileError(f"git cannot read {path} ({b' '.join(header).decode(errors='replace') or 'no answer'})", path=str(git_dir))
            size = int(header[2])
            data = proc.stdout.read(size + 1)  # the content, then a newline
            if len(data) != size + 1 or data[-1:] != b"\n":
                raise InputFileError(f"git stopped while reading {path} ({len(data)} of {size} bytes)", path=str(git_dir))
            yield data[:-1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.wait()
        feeder.join()


def _feed(stdin: IO[bytes], blobs: Sequence[str]) -> None:
    try:
        for start in range(0, len(blobs), 1000):
            stdin.write("".join(f"{b}\n" for b in blobs[start : start + 1000]).encode())
        stdin.close()
    except (BrokenPipeError, OSError, ValueError):  # the reader stopped early (an error, or not every file wanted)
        pass


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
    ``name-main/``), read in memory; unsafe member names are refused."""
    try:
        if zipfile.is_zipfile(archive):
            with zips.open_archive(archive) as zf:
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
    contents = {"/".join(names[name][strip:]): data for name, data in found.items()}
    return Members({name: _stamp(data) for name, data in contents.items()}, lambda paths: (contents[p] for p in paths))


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


__all__ = ["ARCHIVE_SUFFIXES", "Members", "Reader", "Tree", "file_stamp", "kind_of", "open_tree", "read_archive", "read_git", "remove_clone"]
