"""Installing into an environment: plan first (data, printable), then act with pypa/installer.

``plan`` compares the wanted pins with the ``*.dist-info`` directories of the
target and says what is unchanged, new, replaced or extraneous. ``execute``
validates every wheel before touching the environment (paths, duplicates,
RECORD, zip bombs), takes the environment's lock, removes replaced
distributions into a backup, installs the new wheels in parallel, compiles
bytecode with the *target* interpreter, and on any failure puts everything
back as it was. ``installer`` is imported here and nowhere else.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import RecordEntry, parse_record_file
from installer.sources import WheelFile
from installer.utils import SCHEME_NAMES, Scheme, parse_entrypoints
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .cache import Cache
from .digests import sha256_file
from .environment.interpreter import InterpreterInfo, query
from .errors import EnvironmentBusy, InstallError, TargetInterpreterError, UnsafeWheel
from .models import DirectReference, strip_credentials
from .reporting import NULL_REPORTER, Reporter

INSTALLER_NAME = b"thoth-pip\n"
LOCK_NAME = ".thoth-pip.lock"
DEFAULT_LOCK_TIMEOUT = 900.0
BOMB_RATIO = 100
BOMB_FLOOR = 1 << 30
PROTECTED = frozenset({"pip", "setuptools", "wheel", "distribute", "micro-thoth"})
MAX_WORKERS = 8


# --- the target ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetEnvironment:
    """An environment to install into: its interpreter, scheme paths and install lock."""

    interpreter: InterpreterInfo
    paths: Mapping[str, str]
    lock_path: Path

    @property
    def python(self) -> str:
        return self.interpreter.executable

    @property
    def prefix(self) -> Path:
        return Path(self.interpreter.prefix)

    def site_dirs(self) -> list[Path]:
        return list(dict.fromkeys(Path(self.paths[key]) for key in ("purelib", "platlib")))

    def scheme_for(self, distribution: str) -> dict[str, str]:
        """installer's scheme dictionary for one distribution (headers are per distribution)."""
        scheme = {key: self.paths[key] for key in ("purelib", "platlib", "scripts", "data")}
        scheme["headers"] = self.interpreter.headers_dir(distribution)
        return scheme


def environment_for(python: Union[str, Path], *, cache_dir: Optional[Path] = None) -> TargetEnvironment:
    """The environment ``python`` installs into (a venv's or the system's site-packages)."""
    info = query(python, cache_dir=cache_dir)
    paths = {key: info.paths[key] for key in ("purelib", "platlib", "scripts", "data")}
    lock_dir = Path(info.prefix) if info.is_venv else Path(paths["purelib"])
    return TargetEnvironment(interpreter=info, paths=paths, lock_path=lock_dir / LOCK_NAME)


def ensure_venv(path: Path, python: str, *, cache_dir: Optional[Path] = None) -> TargetEnvironment:
    """The venv at ``path``, created without pip (we install packages ourselves) if missing."""
    executable = path / "bin" / "python"
    if not (path / "pyvenv.cfg").exists() or not executable.exists():
        _create_venv(path, python)
    return environment_for(executable, cache_dir=cache_dir)


def _create_venv(path: Path, python: str) -> None:
    command = [python, "-m", "venv", "--without-pip", str(path)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise TargetInterpreterError(f"cannot run {python} to create {path}: {exc}") from exc
    if proc.returncode != 0:
        raise TargetInterpreterError(
            f"creating the virtual environment {path} failed: {proc.stderr.strip()[-500:]}",
            hint="on Debian/Ubuntu install the python3-venv package",
        )


def system_environment(python: str = "python3", *, cache_dir: Optional[Path] = None) -> TargetEnvironment:
    """The interpreter's own site-packages (``--system``)."""
    return environment_for(python, cache_dir=cache_dir)


# --- what is installed ---------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledDistribution:
    """One ``*.dist-info`` directory of the target environment."""

    name: str
    version: str
    dist_info: Path
    installer: Optional[str] = None
    direct_url: Optional[Mapping[str, Any]] = None

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)

    @property
    def record_path(self) -> Path:
        return self.dist_info / "RECORD"


def installed_distributions(env: TargetEnvironment) -> dict[NormalizedName, InstalledDistribution]:
    """Every distribution with a readable METADATA in the target's purelib/platlib."""
    found: dict[NormalizedName, InstalledDistribution] = {}
    for site in env.site_dirs():
        for dist_info in sorted(site.glob("*.dist-info")) if site.is_dir() else ():
            dist = _read_dist_info(dist_info)
            if dist is not None:
                found.setdefault(dist.key, dist)
    return found


def _read_dist_info(dist_info: Path) -> Optional[InstalledDistribution]:
    try:
        head = (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
    except OSError:
        return None
    fields = dict(_header(line) for line in head.splitlines() if ":" in line and not line[:1].isspace())
    if not fields.get("name") or not fields.get("version"):
        return None
    return InstalledDistribution(
        name=fields["name"],
        version=fields["version"],
        dist_info=dist_info,
        installer=_read_text(dist_info / "INSTALLER"),
        direct_url=_read_json(dist_info / "direct_url.json"),
    )


def _header(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip().lower(), value.strip()


def _read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _read_json(path: Path) -> Optional[Mapping[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WantedPackage:
    """A pin to have in the environment; ``requested`` marks the user's own (REQUESTED file)."""

    name: str
    version: Optional[str]
    direct: Optional[DirectReference] = None
    requested: bool = False

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)

    def describe(self) -> str:
        if self.direct is not None:
            return f"{self.name} @ {strip_credentials(self.direct.pip_url())}"
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Plan:
    """What ``execute`` will do; printable for ``--dry-run`` before anything happens."""

    unchanged: tuple[WantedPackage, ...] = ()
    to_install: tuple[WantedPackage, ...] = ()
    to_replace: tuple[tuple[WantedPackage, InstalledDistribution], ...] = ()
    extraneous: tuple[InstalledDistribution, ...] = ()
    clean: bool = False
    reinstall: bool = False

    @property
    def wheels_needed(self) -> tuple[WantedPackage, ...]:
        """The packages ``execute`` needs a wheel for (new and replacing, editables excepted)."""
        return tuple(wanted for wanted in self._changed if not _is_editable(wanted))

    @property
    def editables(self) -> tuple[WantedPackage, ...]:
        """New or replacing editable references: ``execute`` removes what they replace, and
        ``build.install_editable`` installs them afterwards (PEP 660 needs the build backend)."""
        return tuple(wanted for wanted in self._changed if _is_editable(wanted))

    @property
    def _changed(self) -> tuple[WantedPackage, ...]:
        return self.to_install + tuple(wanted for wanted, _ in self.to_replace)

    @property
    def to_remove(self) -> tuple[InstalledDistribution, ...]:
        removed = tuple(old for _, old in self.to_replace)
        return removed + (self.extraneous if self.clean else ())

    @property
    def is_empty(self) -> bool:
        return not self.wheels_needed and not (self.clean and self.extraneous)

    def describe(self) -> list[str]:
        lines = [f"install {wanted.describe()}" for wanted in self.to_install]
        lines += [f"replace {old.name}=={old.version} by {new.describe()}" for new, old in self.to_replace]
        verb = "remove" if self.clean else "extraneous (kept)"
        lines += [f"{verb} {dist.name}=={dist.version}" for dist in self.extraneous]
        lines.append(f"{len(self.unchanged)} already installed")
        return lines


def _is_editable(wanted: WantedPackage) -> bool:
    return wanted.direct is not None and wanted.direct.editable


def plan(
    wanted: Sequence[WantedPackage],
    env: TargetEnvironment,
    *,
    reinstall: bool = False,
    clean: bool = False,
    installed: Optional[Mapping[NormalizedName, InstalledDistribution]] = None,
) -> Plan:
    """Compare ``wanted`` with what ``env`` has; installs nothing."""
    have = dict(installed_distributions(env) if installed is None else installed)
    unchanged: list[WantedPackage] = []
    new: list[WantedPackage] = []
    replace: list[tuple[WantedPackage, InstalledDistribution]] = []
    for package in wanted:
        current = have.pop(package.key, None)
        if current is None:
            new.append(package)
        elif not reinstall and _satisfies(current, package):
            unchanged.append(package)
        else:
            replace.append((package, current))
    extraneous = tuple(d for key, d in sorted(have.items()) if key not in PROTECTED)
    return Plan(tuple(unchanged), tuple(new), tuple(replace), extraneous, clean, reinstall)


def _satisfies(current: InstalledDistribution, wanted: WantedPackage) -> bool:
    if wanted.direct is not None:
        return current.direct_url is not None and _direct_identity(current.direct_url) == _direct_identity(
            direct_url_data(wanted.direct)
        )
    if current.direct_url is not None and ("vcs_info" in current.direct_url or "dir_info" in current.direct_url):
        return False  # built from a checkout or a directory: not the index's file
    return wanted.version is not None and _same_version(current.version, wanted.version)


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def _direct_identity(data: Mapping[str, Any]) -> tuple[Any, ...]:
    vcs = data.get("vcs_info") or {}
    directory = data.get("dir_info") or {}
    return (data.get("url"), vcs.get("commit_id"), data.get("subdirectory"), bool(directory.get("editable")))


def direct_url_data(reference: DirectReference) -> dict[str, Any]:
    """PEP 610 ``direct_url.json`` for a direct reference (credentials removed)."""
    data: dict[str, Any]
    if reference.is_vcs:
        url = reference.location.removeprefix(f"{reference.kind}+")
        vcs: dict[str, Any] = {"vcs": reference.kind}
        if reference.ref:
            vcs["commit_id"] = reference.ref
        data = {"url": strip_credentials(url), "vcs_info": vcs}
    elif reference.kind == "path" or reference.location.startswith("file:"):
        path = _local_path(reference.location)
        info = {"editable": True} if reference.editable else {}
        data = {"url": path.as_uri(), "dir_info": info} if path.is_dir() else {"url": path.as_uri(), "archive_info": {}}
    else:
        data = {"url": strip_credentials(reference.location), "archive_info": {}}
    if reference.subdirectory:
        data["subdirectory"] = reference.subdirectory
    return data


def _local_path(location: str) -> Path:
    if location.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(location).path)).resolve()
    return Path(location).expanduser().resolve()


# --- wheel safety --------------------------------------------------------------------------


def check_wheel(path: Path) -> None:
    """Refuse (UnsafeWheel) a wheel that escapes its target, lies in RECORD, or is a bomb."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive.infolist())
            _check_size(path, archive.infolist())
            _check_record(path, archive)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnsafeWheel(f"{path.name} is not a readable wheel: {exc}", distribution=path.name) from exc


def _check_members(path: Path, members: Sequence[zipfile.ZipInfo]) -> None:
    names = [member.filename for member in members]
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        _refuse(path, f"has duplicate entries for {duplicate!r}")
    tops = {name.split("/", 1)[0] for name in names}
    data_dirs = {top[: -len(".dist-info")] + ".data" for top in tops if top.endswith(".dist-info")}
    for member in members:
        _check_name(path, member.filename, data_dirs)
        if stat.S_ISLNK(member.external_attr >> 16):
            _refuse(path, f"contains a symbolic link {member.filename!r}")


def _check_name(path: Path, name: str, data_dirs: set[str]) -> None:
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or "\0" in name or (len(name) > 1 and name[1] == ":"):
        _refuse(path, f"has an absolute or non-portable member path {name!r}")
    if ".." in parts:
        _refuse(path, f"has a member path escaping its target {name!r}")
    if parts[0] in data_dirs and not name.endswith("/") and (len(parts) < 3 or parts[1] not in SCHEME_NAMES):
        _refuse(path, f"puts {name!r} outside the known schemes of its .data directory")


def _check_size(path: Path, members: Sequence[zipfile.ZipInfo]) -> None:
    total = sum(member.file_size for member in members)
    archive = max(path.stat().st_size, 1)
    if total > BOMB_FLOOR and total > BOMB_RATIO * archive:
        _refuse(path, f"unpacks to {total} bytes from {archive} (a zip bomb?)")


def _check_record(path: Path, archive: zipfile.ZipFile) -> None:
    try:
        source = WheelFile(archive)
        source.dist_info_dir  # noqa: B018 - validates exactly one matching .dist-info
        wheel = source.read_dist_info("WHEEL")
        source.validate_record(validate_contents=True)
    except KeyError as exc:
        _refuse(path, f"lacks a required file: {exc}", exc)
    except (ValueError, InstallerError, UnicodeDecodeError) as exc:
        _refuse(path, f"does not match its RECORD: {_issues(exc)}", exc)
    if "Wheel-Version: 1." not in wheel:
        _refuse(path, "is not a version 1.x wheel")


def _issues(exc: Exception) -> str:
    issues = getattr(exc, "issues", None)
    if issues:
        return "; ".join(str(issue) for issue in issues[:3])
    return str(exc)


def _refuse(path: Path, reason: str, cause: Optional[BaseException] = None) -> None:
    raise UnsafeWheel(f"refusing {path.name}: it {reason}", distribution=path.name) from cause


# --- the environment lock ------------------------------------------------------------------


@contextlib.contextmanager
def environment_lock(
    env: TargetEnvironment, *, timeout: float = DEFAULT_LOCK_TIMEOUT, reporter: Reporter = NULL_REPORTER
) -> Iterator[None]:
    """Hold the exclusive install lock of ``env``; EnvironmentBusy after ``timeout`` seconds."""
    env.lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(env.lock_path, "a+b") as handle:
        _acquire(handle, env, timeout, reporter)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: BinaryIO, env: TargetEnvironment, timeout: float, reporter: Reporter) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if not told:
                reporter.message(f"waiting for another install into {env.prefix} to finish", "warning")
                told = True
            if time.monotonic() >= deadline:
                raise EnvironmentBusy(str(env.prefix), timeout) from None
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))


# --- the transaction: what was moved away and what was written ------------------------------


class _Transaction:
    """Files stashed (removed or overwritten) and files written, so all can be undone."""

    def __init__(self, backup_root: Path) -> None:
        self.backup_root = backup_root
        self.stashed: list[tuple[Path, Path]] = []
        self.written: list[str] = []
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def stash(self, path: Path) -> None:
        backup = self.backup_root / str(path).lstrip(os.sep)
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(backup))
        with self._lock:
            self.stashed.append((path, backup))

    def wrote(self, path: Union[str, Path]) -> None:
        with self._lock:
            self.written.append(os.fspath(path))
            self._written.add(os.fspath(path))

    def will_write(self, path: str) -> None:
        """Before writing ``path``: keep what was there, unless this transaction wrote it."""
        os.makedirs(os.path.dirname(path), exist_ok=True)  # threads may share a namespace dir
        if os.path.lexists(path):
            with self._lock:
                ours = path in self._written
            if ours:  # two distributions ship the same file: the last one wins, as with pip
                os.unlink(path)
            else:
                self.stash(Path(path))
        self.wrote(path)

    def rollback(self) -> None:
        for path in reversed(self.written):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        _prune_dirs(Path(path).parent for path in self.written)
        for original, backup in reversed(self.stashed):
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(backup), str(original))
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.backup_root, ignore_errors=True)


def _prune_dirs(directories: Iterable[Path]) -> None:
    """Remove directories left empty, deepest first (never a scheme root: those hold files)."""
    for directory in sorted(set(directories), key=lambda p: len(p.parts), reverse=True):
        for candidate in (directory, *directory.parents):
            try:
                candidate.rmdir()
            except OSError:
                break


@contextlib.contextmanager
def _transaction(env: TargetEnvironment, reporter: Reporter = NULL_REPORTER) -> Iterator[_Transaction]:
    """Call with the environment's lock held: backups found here are a killed run's leftovers."""
    root = Path(env.paths["purelib"])
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".thoth-pip-backup-*"):
        reporter.message(f"removing {stale}, left by an install that was killed", "warning")
        shutil.rmtree(stale, ignore_errors=True)
    transaction = _Transaction(Path(tempfile.mkdtemp(prefix=".thoth-pip-backup-", dir=root)))
    try:
        yield transaction
    except BaseException:
        transaction.rollback()
        raise
    transaction.discard()


# --- removing a distribution through its RECORD ---------------------------------------------


def _record_paths(dist: InstalledDistribution, env: TargetEnvironment) -> list[Path]:
    """Absolute paths a RECORD lists, plus their bytecode; only inside the environment."""
    try:
        with open(dist.record_path, newline="", encoding="utf-8") as fh:
            rows = [row[0] for row in csv.reader(fh) if row]
    except OSError as exc:
        raise InstallError(
            f"cannot uninstall {dist.name}: it has no RECORD ({dist.dist_info})",
            distribution=dist.name,
            hint="it was installed by a tool that does not record its files; remove it by hand",
        ) from exc
    base = dist.dist_info.parent
    paths = [Path(os.path.normpath(base / row)) for row in rows]
    paths += _bytecode_of(paths, env.interpreter.cache_tag)
    roots = [Path(os.path.abspath(p)) for p in (str(env.prefix), *env.paths.values())]
    return [p for p in dict.fromkeys(paths) if any(p.is_relative_to(r) for r in roots)]


def _bytecode_of(paths: Sequence[Path], cache_tag: Optional[str]) -> list[Path]:
    tag = cache_tag or "*"
    found: list[Path] = []
    for path in paths:
        if path.suffix == ".py":
            found.extend(path.parent.glob(f"__pycache__/{path.stem}.{tag}*.pyc"))
    return found


def _remove(dist: InstalledDistribution, env: TargetEnvironment, transaction: _Transaction) -> None:
    paths = _record_paths(dist, env)
    for path in paths:
        if path.is_file() or path.is_symlink():
            transaction.stash(path)
    if dist.dist_info.is_dir():
        for leftover in [p for p in dist.dist_info.rglob("*") if p.is_file()]:
            transaction.stash(leftover)
    _prune_dirs(path.parent for path in paths)


# --- writing one wheel -----------------------------------------------------------------------


@dataclass
class _RecordingDestination(SchemeDictionaryDestination):
    """installer's destination that tells the transaction about every file before writing it."""

    transaction: Optional[_Transaction] = field(default=None, repr=False)

    def write_file(
        self, scheme: Scheme, path: Union[str, os.PathLike[str]], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        """As installer's, but a file of ``.data/scripts`` is always made executable (as uv does)."""
        return super().write_file(scheme, path, stream, is_executable or scheme == "scripts")

    def write_to_fs(self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool) -> RecordEntry:
        assert self.transaction is not None
        self.transaction.will_write(_inside_str(self.scheme_dict[scheme], path))
        return super().write_to_fs(scheme, path, stream, is_executable)


def _inside(root: str, path: str) -> Path:
    return Path(_inside_str(root, path))


def _inside_str(root: str, path: str) -> str:
    """``root/path`` normalised; UnsafeWheel if it leaves ``root`` (strings: this is a hot path)."""
    base = os.path.abspath(root)
    target = os.path.normpath(os.path.join(base, path))
    if not target.startswith(base.rstrip(os.sep) + os.sep):
        raise UnsafeWheel(f"{path!r} would be written outside {base}")
    return target


def _additional_metadata(wanted: WantedPackage) -> dict[str, bytes]:
    extra = {"INSTALLER": INSTALLER_NAME}
    if wanted.direct is not None:
        extra["direct_url.json"] = json.dumps(direct_url_data(wanted.direct), sort_keys=True).encode()
    if wanted.requested:
        extra["REQUESTED"] = b""
    return extra


def _install_one(
    wanted: WantedPackage, source: Path, env: TargetEnvironment, transaction: _Transaction, bytecode: bool = True
) -> None:
    """Install from an unpacked tree (hard links, with its cached bytecode) or from a wheel file (installer)."""
    if source.is_dir():
        _link_one(wanted, source, env, transaction, bytecode)
    else:
        _install_wheel(wanted, source, env, transaction)


def _install_wheel(wanted: WantedPackage, wheel: Path, env: TargetEnvironment, transaction: _Transaction) -> None:
    with zipfile.ZipFile(wheel) as archive:
        source = WheelFile(archive)
        destination = _destination(env, source.distribution, transaction)
        try:
            installer.install(source, destination, _additional_metadata(wanted))
        except (InstallerError, ValueError, OSError, KeyError) as exc:
            raise InstallError(f"installing {wheel.name} failed: {exc}", distribution=wanted.name) from exc


# --- unpacked trees: validated once, then hard-linked into every environment -------------------


def unpack_wheel(wheel: Path, into: Path) -> None:
    """Check ``wheel`` and extract it verbatim into the empty dir ``into``, in one pass.

    The checks are ``check_wheel``'s; file contents are hashed while they are
    written and compared with RECORD, so a refusal leaves a partial ``into`` for
    the caller to discard (the cache's staging directory). This is the ``fill``
    of the cache's ``unpacked-v1/<sha256>/`` bucket, which ``execute`` links from.
    """
    with zipfile.ZipFile(wheel) as archive:
        members = archive.infolist()
        _check_members(wheel, members)
        _check_size(wheel, members)
        rows = _record_rows(wheel, archive)
        made: set[str] = set()
        for member in members:
            if not member.filename.endswith("/"):
                _extract_checked(wheel, archive, member, _inside_str(str(into), member.filename), rows, made)


def _record_rows(path: Path, archive: zipfile.ZipFile) -> dict[str, RecordEntry]:
    """RECORD entries by path, after installer's name-level validation (contents come later)."""
    try:
        source = WheelFile(archive)
        wheel = source.read_dist_info("WHEEL")
        source.validate_record(validate_contents=False)
        rows = parse_record_file(source.read_dist_info("RECORD").splitlines())
        entries = {row[0]: RecordEntry.from_elements(*row) for row in rows}
    except KeyError as exc:
        _refuse(path, f"lacks a required file: {exc}", exc)
    except (ValueError, InstallerError, UnicodeDecodeError) as exc:
        _refuse(path, f"does not match its RECORD: {_issues(exc)}", exc)
    if "Wheel-Version: 1." not in wheel:
        _refuse(path, "is not a version 1.x wheel")
    return entries


def _extract_checked(
    path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: str, rows: Mapping[str, RecordEntry],
    made: set[str],
) -> None:
    parent = os.path.dirname(target)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)
    entry = rows.get(member.filename)
    hasher = hashlib.new(entry.hash_.name) if entry is not None and entry.hash_ is not None else None
    size = 0
    with archive.open(member) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if hasher is not None:
                hasher.update(chunk)
            dst.write(chunk)
    if hasher is not None and entry is not None and entry.hash_ is not None:
        actual = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()
        if actual != entry.hash_.value or size != entry.size:
            _refuse(path, f"does not match its RECORD: {member.filename} has another hash or size")
    if (member.external_attr >> 16) & 0o111:
        os.chmod(target, 0o755)


def unpacked_tree(wheel: Path, cache: Cache, sha256: Optional[str] = None) -> Path:
    """The cache's unpacked tree of ``wheel`` (``unpacked-v1/<sha256>``), made on first use.

    ``sha256`` is the wheel's verified digest when the caller has it; else it is computed.
    """
    digest = sha256 or sha256_file(wheel)
    return cache.unpacked(digest) or cache.add_unpacked(digest, lambda into: unpack_wheel(wheel, into))


def unpacked_trees(
    wheels: Mapping[NormalizedName, Path],
    cache: Cache,
    digests: Optional[Mapping[NormalizedName, str]] = None,
    *,
    workers: Optional[int] = None,
) -> dict[NormalizedName, Path]:
    """``unpacked_tree`` of each wheel, unpacking the missing ones in parallel."""
    known = digests or {}
    with _pool(len(wheels), workers) as pool:
        futures = {key: pool.submit(unpacked_tree, wheel, cache, known.get(key)) for key, wheel in wheels.items()}
        return {key: future.result() for key, future in futures.items()}


@dataclass(frozen=True)
class _Tree:
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

    def read(self, name: str) -> str:
        return (self.root / self.dist_info / name).read_text(encoding="utf-8")


def _open_tree(root: Path) -> _Tree:
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
    return _Tree(root, infos[0], scheme, tuple((r[0], r[1], r[2]) for r in rows))


def _placement(tree: _Tree, path: str) -> tuple[Scheme, str]:
    """(scheme, path inside it) of a wheel member, as installer places it."""
    head, _, rest = path.partition("/")
    if head != tree.data_dir:
        return tree.root_scheme, path
    scheme, _, inner = rest.partition("/")
    if scheme not in SCHEME_NAMES or not inner:
        raise UnsafeWheel(f"{path!r} is not inside a known .data scheme", distribution=tree.distribution)
    return Scheme(scheme), inner


def _skipped(tree: _Tree, path: str) -> bool:
    special = (f"{tree.dist_info}/RECORD", f"{tree.dist_info}/RECORD.jws", f"{tree.dist_info}/RECORD.p7s")
    return path in special or "__pycache__" in path.split("/")[:-1]


def _link_one(
    wanted: WantedPackage, root: Path, env: TargetEnvironment, transaction: _Transaction, bytecode: bool
) -> None:
    try:
        tree = _open_tree(root)
        destination = _destination(env, tree.distribution, transaction)
        records = _link_files(tree, destination, transaction, env.interpreter.cache_tag if bytecode else None)
        records += _write_scripts(tree, destination)
        records += _write_metadata(tree, destination, wanted)
        record_path = f"{tree.dist_info}/RECORD"
        records.append((tree.root_scheme, RecordEntry(record_path, None, None)))
        destination.finalize_installation(tree.root_scheme, record_path, records)
    except (InstallerError, ValueError, OSError, KeyError) as exc:
        raise InstallError(f"installing {wanted.describe()} from {root} failed: {exc}", distribution=wanted.name) from exc


def _destination(env: TargetEnvironment, distribution: str, transaction: _Transaction) -> _RecordingDestination:
    return _RecordingDestination(
        scheme_dict=env.scheme_for(distribution),
        interpreter=env.python,
        script_kind="posix",
        hash_algorithm="sha256",
        bytecode_optimization_levels=(),
        transaction=transaction,
    )


def _link_files(
    tree: _Tree, destination: _RecordingDestination, transaction: _Transaction, bytecode_tag: Optional[str]
) -> list[tuple[Scheme, RecordEntry]]:
    records: list[tuple[Scheme, RecordEntry]] = []
    linker = _Linker(transaction)
    root = str(tree.root)
    for path, digest, size in tree.rows:
        if _skipped(tree, path):
            continue
        scheme, inner = _placement(tree, path)
        source = _inside_str(root, path)
        if scheme == "scripts":  # shebangs are rewritten for the target: copy, not link
            with open(source, "rb") as stream:
                records.append((scheme, destination.write_file(scheme, inner, stream, os.access(source, os.X_OK))))
            continue
        target = _inside_str(destination.scheme_dict[scheme], inner)
        linker.place(source, target)
        records.append((scheme, RecordEntry.from_elements(inner, digest, size)))
        if bytecode_tag and path.endswith(".py") and scheme in ("purelib", "platlib"):
            _link_bytecode(source, target, bytecode_tag, linker)
    return records


def _pyc(source: str, tag: str) -> str:
    directory, name = os.path.split(source)
    return os.path.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")


def _link_bytecode(source: str, target: str, tag: str, linker: _Linker) -> None:
    """Link the tree's ``.pyc`` too: it stays valid, the ``.py`` being the same inode (same mtime)."""
    cached = _pyc(source, tag)
    if os.path.exists(cached):
        linker.place(cached, _pyc(target, tag))


class _Linker:
    """Hard-links files into place (copies once links fail), creating each directory once."""

    def __init__(self, transaction: _Transaction) -> None:
        self.transaction = transaction
        self.made: set[str] = set()
        self.can_link = True

    def place(self, source: str, target: str) -> None:
        parent = os.path.dirname(target)
        if parent not in self.made:
            os.makedirs(parent, exist_ok=True)
            self.made.add(parent)
        if os.path.lexists(target):
            self.transaction.will_write(target)
        else:
            self.transaction.wrote(target)
        if self.can_link:
            try:
                os.link(source, target)
                return
            except OSError:  # another filesystem, or links not allowed: copy from now on
                self.can_link = False
        shutil.copy2(source, target)


def _write_scripts(tree: _Tree, destination: _RecordingDestination) -> list[tuple[Scheme, RecordEntry]]:
    try:
        text = tree.read("entry_points.txt")
    except FileNotFoundError:
        return []
    return [
        (Scheme("scripts"), destination.write_script(name=name, module=module, attr=attr, section=section))
        for name, module, attr, section in parse_entrypoints(text)
    ]


def _write_metadata(
    tree: _Tree, destination: _RecordingDestination, wanted: WantedPackage
) -> list[tuple[Scheme, RecordEntry]]:
    records: list[tuple[Scheme, RecordEntry]] = []
    for filename, contents in _additional_metadata(wanted).items():
        path = f"{tree.dist_info}/{filename}"
        with io.BytesIO(contents) as stream:
            records.append((tree.root_scheme, destination.write_file(tree.root_scheme, path, stream, False)))
    return records


# --- bytecode with the target interpreter ---------------------------------------------------


_COMPILE = """
import compileall, functools, sys
files = [line for line in sys.stdin.read().split("\\n") if line]
compile_one = functools.partial(compileall.compile_file, quiet=2)
if len(files) > 400:
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor() as pool:
        list(pool.map(compile_one, files, chunksize=64))
else:
    for name in files:
        compile_one(name)
"""


def compile_bytecode(files: Sequence[Path], env: TargetEnvironment) -> int:
    """Compile ``files`` to ``__pycache__`` with the target interpreter; returns how many were given."""
    sources = [str(p) for p in files if p.suffix == ".py" and "\n" not in str(p)]
    if not sources:
        return 0
    subprocess.run(
        [env.python, "-I", "-c", _COMPILE],
        input="\n".join(sources),
        text=True,
        capture_output=True,
        check=False,
    )
    return len(sources)


# --- acting on a plan ---------------------------------------------------------------------


@dataclass(frozen=True)
class InstallResult:
    """What ``execute`` did."""

    installed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    compiled: int = 0
    seconds: float = 0.0


def execute(
    plan: Plan,
    wheels: Mapping[NormalizedName, Path],
    env: TargetEnvironment,
    *,
    compile_bytecode: bool = True,
    reporter: Reporter = NULL_REPORTER,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    workers: Optional[int] = None,
) -> InstallResult:
    """Carry out ``plan`` all-or-nothing; every wheel is checked before anything is touched.

    ``wheels`` maps each package to a ``.whl`` file or to a tree made by
    ``unpack_wheel`` (the cache's ``unpacked-v1``), whose files are hard-linked.
    """
    started = time.monotonic()
    jobs = _jobs(plan, wheels)
    _validate_all([wheel for _, wheel in jobs], reporter, workers)
    precompiled = _precompile_trees([s for _, s in jobs if s.is_dir()], env) if compile_bytecode else 0
    with environment_lock(env, timeout=lock_timeout, reporter=reporter), _transaction(env, reporter) as transaction:
        plan = _still_current(plan, env, reporter)
        jobs = _jobs(plan, wheels)
        for dist in plan.to_remove:
            _remove(dist, env, transaction)
        _install_all(jobs, env, transaction, reporter, workers, compile_bytecode)
        compiled = precompiled + (_compile_written(transaction, env, reporter) if compile_bytecode else 0)
    return InstallResult(
        installed=tuple(wanted.describe() for wanted, _ in jobs),
        removed=tuple(f"{d.name}=={d.version}" for d in plan.to_remove),
        unchanged=len(plan.unchanged),
        compiled=compiled,
        seconds=time.monotonic() - started,
    )


def _still_current(step: Plan, env: TargetEnvironment, reporter: Reporter) -> Plan:
    """The plan again, under the lock: another install may have changed the environment meanwhile."""
    fresh = plan(step.unchanged + step._changed, env, reinstall=step.reinstall, clean=step.clean)
    if fresh != step:
        reporter.message(f"{env.prefix} changed while waiting for it; the plan was made again", "warning")
    return fresh


def _precompile_trees(trees: Sequence[Path], env: TargetEnvironment) -> int:
    """One batched compile of every tree's missing bytecode (the cache, not the environment)."""
    tag = env.interpreter.cache_tag
    if not trees or not tag:
        return 0
    missing: list[Path] = []
    for root in trees:
        tree = _open_tree(root)
        for path, _, _ in tree.rows:
            if _wants_bytecode(tree, path):
                source = _inside_str(str(root), path)
                if not os.path.exists(_pyc(source, tag)):
                    missing.append(Path(source))
    return compile_bytecode(missing, env)


def _wants_bytecode(tree: _Tree, path: str) -> bool:
    return path.endswith(".py") and not _skipped(tree, path) and _placement(tree, path)[0] in ("purelib", "platlib")


def _jobs(plan: Plan, wheels: Mapping[NormalizedName, Path]) -> list[tuple[WantedPackage, Path]]:
    missing = [wanted.name for wanted in plan.wheels_needed if wanted.key not in wheels]
    if missing:
        raise InstallError(
            f"no wheel was provided for {', '.join(missing)}",
            distribution=missing[0],
            hint="if another install changed the environment meanwhile, run the command again",
        )
    return [(wanted, Path(wheels[wanted.key])) for wanted in plan.wheels_needed]


def _pool(count: int, workers: Optional[int]) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(count, workers or MAX_WORKERS, (os.cpu_count() or 1) * 2)))


def _check_source(source: Path) -> None:
    """A wheel file is checked in full; an unpacked tree was checked when it was unpacked."""
    if source.is_dir():
        _open_tree(source)
    else:
        check_wheel(source)


def _validate_all(wheels: Sequence[Path], reporter: Reporter, workers: Optional[int]) -> None:
    if not wheels:
        return
    reporter.task_started("validate", len(wheels))
    with _pool(len(wheels), workers) as pool:
        for wheel, _ in zip(wheels, pool.map(_check_source, wheels)):
            reporter.task_advanced("validate", 1, wheel.name)
    reporter.task_finished("validate")


def _install_all(
    jobs: Sequence[tuple[WantedPackage, Path]],
    env: TargetEnvironment,
    transaction: _Transaction,
    reporter: Reporter,
    workers: Optional[int],
    bytecode: bool,
) -> None:
    if not jobs:
        return
    reporter.task_started("install", len(jobs))
    with _pool(len(jobs), workers) as pool:
        futures = [
            (wanted, pool.submit(_install_one, wanted, source, env, transaction, bytecode)) for wanted, source in jobs
        ]
        errors = [exc for _, future in futures if (exc := future.exception()) is not None]
        for wanted, future in futures:
            if future.exception() is None:
                reporter.task_advanced("install", 1, wanted.describe())
    reporter.task_finished("install")
    if errors:
        raise errors[0]


def _compile_written(transaction: _Transaction, env: TargetEnvironment, reporter: Reporter) -> int:
    roots = [Path(os.path.abspath(p)) for p in (env.paths["purelib"], env.paths["platlib"])]
    prefixes = tuple(str(root).rstrip(os.sep) + os.sep for root in roots)
    tag = env.interpreter.cache_tag
    files = [
        Path(p) for p in transaction.written
        if p.endswith(".py") and p.startswith(prefixes) and not (tag and os.path.exists(_pyc(p, tag)))
    ]
    reporter.message(f"compiling {len(files)} files to bytecode", "debug")
    return compile_bytecode(files, env)


def uninstall(
    names: Iterable[str],
    env: TargetEnvironment,
    *,
    reporter: Reporter = NULL_REPORTER,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> tuple[str, ...]:
    """Remove the named distributions (all or none); returns ``name==version`` of each removed."""
    with environment_lock(env, timeout=lock_timeout, reporter=reporter):
        installed = installed_distributions(env)
        chosen = [installed[key] for key in dict.fromkeys(canonicalize_name(n) for n in names) if key in installed]
        with _transaction(env, reporter) as transaction:
            for dist in chosen:
                _remove(dist, env, transaction)
                reporter.message(f"removed {dist.name}=={dist.version}")
    return tuple(f"{d.name}=={d.version}" for d in chosen)


__all__ = [
    "InstallResult",
    "InstalledDistribution",
    "Plan",
    "TargetEnvironment",
    "WantedPackage",
    "check_wheel",
    "compile_bytecode",
    "direct_url_data",
    "ensure_venv",
    "environment_for",
    "environment_lock",
    "execute",
    "installed_distributions",
    "plan",
    "system_environment",
    "uninstall",
    "unpack_wheel",
    "unpacked_tree",
    "unpacked_trees",
]
