"""A fresh file system per benchmark round: a tmpfs, or an ext4 image loop-mounted from memory.

A file system's history decides how much a new inode costs (ext4 searches past recently
deleted inodes, and this machine's other work deletes trees all the time), so the tools'
environments and caches can be given a file system that is new for every round: nothing of
the previous round, or of anybody else's work, is on it. Mounting needs root (or
CAP_SYS_ADMIN); where it is refused, ``FreshFs`` falls back to a plain fresh directory and
says so (``description`` tells the report what was really used).

Every mount is undone by ``close()`` (the benchmark calls it in a ``finally``, so also after
Ctrl-C or SIGTERM), and mounts left behind by a benchmark that was killed outright are undone
when the next one starts in the same work directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

KINDS = ("tmpfs", "ext4")
SIZE = "6g"  # tmpfs limit / sparse image size: pages are used only as files are written
MEMORY_DIR = Path("/dev/shm")  # where ext4 images live (a tmpfs: the disk plays no part)


class MountRefused(Exception):
    """The kernel (or the mount program) refused to mount: not root, or no loop devices."""


def _mounted(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (from /proc/self/mounts)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [Path(line.split()[1].replace("\\040", " ")) for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p == root or root in p.parents), key=lambda p: -len(p.parts))


def _is_tmpfs(path: Path) -> bool:
    """Whether ``path`` is the mount point of a tmpfs."""
    try:
        return any(line.split()[1] == str(path) and line.split()[2] == "tmpfs"
                   for line in Path("/proc/self/mounts").read_text().splitlines())
    except OSError:
        return False


def _run(cmd: list[str]) -> None:
    """Run a mount-related command; MountRefused with its message when it fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:  # no such program
        raise MountRefused(f"{cmd[0]}: {exc.strerror}") from exc
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout).split()) or f"exit {proc.returncode}"
        raise MountRefused(f"{' '.join(cmd)}: {said}")


def _unmount(point: Path) -> Optional[str]:
    """Unmount ``point`` (lazily when busy); a message when neither worked."""
    for cmd in (["umount", str(point)], ["umount", "-l", str(point)]):
        try:
            if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
                return None
        except OSError as exc:
            return f"umount: {exc.strerror}"
    return f"could not unmount {point}"


class FreshFs:
    """Hands out fresh file systems of one kind under ``root`` and takes them all back on close."""

    def __init__(self, kind: str, root: Path) -> None:
        if kind not in KINDS:
            raise ValueError(kind)
        self.kind, self.root = kind, root
        self.fallback: Optional[str] = None  # why mounting was not possible, once it was refused
        self._images: dict[Path, Path] = {}  # mount point -> its ext4 image
        self._plain: set[Path] = set()  # fallback directories (removed on release)
        self._given: dict[str, Path] = {}  # name -> what it was handed last
        self.problems: list[str] = []
        self._prefix = f"thoth-pip-bench-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}-"
        for stale in _mounted(root):  # a previous benchmark killed before it could clean up
            _unmount(stale)
        shutil.rmtree(root, ignore_errors=True)
        for image in MEMORY_DIR.glob(f"{self._prefix}*.img") if MEMORY_DIR.is_dir() else []:
            if not any(str(image) in line for line in _losetup_lines()):  # this work directory's, left behind
                image.unlink(missing_ok=True)

    @property
    def description(self) -> str:
        """What the tools' environments and caches were really put on, for the report."""
        if self.fallback is None:
            what = "a tmpfs" if self.kind == "tmpfs" else "an ext4 image (mkfs.ext4 defaults, loop-mounted from /dev/shm)"
            return f"{what}, new for every tool and round"
        return f"NOT a new file system per round ({self.fallback})"

    def acquire(self, name: str) -> Path:
        """A new, empty file system (or, after a refusal, a new directory) for ``name``; the one
        ``name`` had before is taken back first."""
        if name in self._given:
            self.release(self._given.pop(name))
        point = self.root / name
        point.mkdir(parents=True)
        if self.fallback is None:
            try:
                self._mount(point)
                self._given[name] = point
                return point
            except MountRefused as exc:
                self.fallback = self._fall_back(str(exc))
                print(f"--fresh-fs {self.kind}: {self.fallback}", flush=True)
        if self.kind == "tmpfs" and _is_tmpfs(MEMORY_DIR) and os.access(MEMORY_DIR, os.W_OK):
            point.rmdir()
            point = Path(tempfile.mkdtemp(prefix=f"{self._prefix}{name}-", dir=MEMORY_DIR))
        self._plain.add(point)
        self._given[name] = point
        return point

    def _fall_back(self, why: str) -> str:
        if self.kind == "tmpfs" and _is_tmpfs(MEMORY_DIR) and os.access(MEMORY_DIR, os.W_OK):
            return f"mounting refused: {why}; using a new directory in {MEMORY_DIR} (a tmpfs shared with others) per round"
        return f"mounting refused: {why}; using a new directory in the work directory per round"

    def _mount(self, point: Path) -> None:
        if self.kind == "tmpfs":
            _run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(point)])
            return
        images = MEMORY_DIR if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK) else self.root
        fd, name = tempfile.mkstemp(prefix=self._prefix, suffix=".img", dir=images)
        os.close(fd)
        image = Path(name)
        try:
            os.truncate(image, _bytes(SIZE))
            # Inode tables and journal written now, not by a kernel thread while tools run.
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image)])
            _run(["mount", "-o", "loop", str(image), str(point)])
        except BaseException:
            image.unlink(missing_ok=True)
            raise
        self._images[point] = image

    def release(self, point: Path) -> None:
        """Unmount and remove one file system handed out before (nothing when there is none)."""
        if point in self._plain:
            self._plain.discard(point)
            shutil.rmtree(point, ignore_errors=True)
            return
        for mounted in _mounted(point):
            problem = _unmount(mounted)
            if problem:
                self.problems.append(problem)
        image = self._images.pop(point, None)
        if image is not None:
            image.unlink(missing_ok=True)
        if point.exists() and not _mounted(point):
            shutil.rmtree(point, ignore_errors=True)

    def close(self) -> None:
        """Take back every file system and directory handed out."""
        for point in [*self._given.values(), *_mounted(self.root)]:
            self.release(point)
        self._given.clear()
        if not _mounted(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
        for problem in self.problems:
            print(f"--fresh-fs: {problem}", flush=True)
        self.problems.clear()


def _bytes(size: str) -> int:
    """``6g`` / ``512m`` as bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(size[:-1]) * units[size[-1].lower()] if size[-1].lower() in units else int(size)


def _losetup_lines() -> list[str]:
    """The loop devices in use with their backing files (empty when losetup is missing)."""
    try:
        return subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=False).stdout.splitlines()
    except OSError:
        return []
