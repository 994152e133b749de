"""Asks a Python interpreter about itself: markers, tags, ABI, libc and install scheme.

``query`` runs the interpreter once with the stdlib-only ``_probe.py`` (the
target may have neither pip nor packaging) and memoises the answer on disk
(``cache.memo_path``), keyed by the executable's path, its file's stat and the
kernel and glibc it reports, so later runs cost no subprocess. The running
interpreter, when nothing in its environment could make it differ from
``python -I``, runs the same probe in-process (a subprocess costs ≈ 40 ms of
CPU and 0.1 s before a cold lock knows its target).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from ..cache import file_stamp, memo_path, read_memo, write_memo
from ..errors import TargetInterpreterError
from ..models import Target
from . import _probe as probe_script
from .target import target_for_interpreter

PROBE = Path(__file__).with_name("_probe.py")
CACHE_BUCKET = "interpreters-v2"
PROBE_TIMEOUT = 60.0
SCHEME_KEYS = ("purelib", "platlib", "scripts", "data", "include", "stdlib")
_32BIT_ARCH = {"x86_64": "i686", "aarch64": "armv8l"}
# what `python -I` ignores and could change the probe's answer here (prefix, paths, executable)
STARTUP_VARIABLES = ("PYTHONHOME", "PYTHONPLATLIBDIR", "PYTHONEXECUTABLE", "PYTHONUSERBASE")


@dataclass(frozen=True)
class InterpreterInfo:
    """What one interpreter says about itself (all values as the interpreter reports them)."""

    executable: str
    prefix: str
    base_prefix: str
    version: tuple[int, int, int]
    implementation: str
    cache_tag: Optional[str]
    markers: Mapping[str, str]
    platform: str
    soabi: Optional[str] = None
    ext_suffix: Optional[str] = None
    abiflags: str = ""
    gil_disabled: bool = False
    py_debug: bool = False
    py_version_nodot: Optional[str] = None
    pointer_bits: int = 64
    libc_family: Optional[str] = None  # "glibc", "musl" or None (not Linux / unknown)
    libc_version: Optional[str] = None  # "2.36", "1.2"
    machine: str = ""
    scheme: str = "posix_prefix"
    paths: Mapping[str, str] = field(default_factory=dict)

    @functools.cached_property
    def is_venv(self) -> bool:
        """Asked once per wheel installed (its headers' directory): the two realpaths are made once."""
        return os.path.realpath(self.prefix) != os.path.realpath(self.base_prefix)

    @property
    def python_version(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def headers_dir(self, distribution: str) -> str:
        """Where a wheel's ``.data/headers`` go (pip's layout; a venv's own include/site)."""
        if self.is_venv:
            return os.path.join(self.prefix, "include", "site", f"python{self.python_version}", distribution)
        return os.path.join(self.paths["include"], distribution)

    def target(self) -> Target:
        """Marker values (as reported) and ordered wheel tags of this interpreter, as a Target."""
        return target_for_interpreter(self._tag_view())

    def _tag_view(self) -> InterpreterInfo:
        """A 32-bit Python on a 64-bit Linux kernel takes the 32-bit arch's tags (as packaging does)."""
        if self.pointer_bits != 32 or not self.platform.startswith("linux"):
            return self
        arch = _32BIT_ARCH.get(self.platform.split("-", 1)[-1])
        if arch is None:
            return self
        return dataclasses.replace(self, platform=f"linux-{arch}", machine=arch)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = list(self.version)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InterpreterInfo:
        """Build from the probe's JSON; raises ValueError when a key is missing or wrong."""
        try:
            values = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
            values["version"] = tuple(int(part) for part in data["version"][:3])
            values["markers"] = {str(k): str(v) for k, v in data["markers"].items()}
            values["paths"] = {k: str(v) for k, v in data["paths"].items() if k in SCHEME_KEYS and v is not None}
            return cls(**values)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"unusable interpreter description: {exc}") from exc


def query(python: Union[str, Path], *, cache_dir: Optional[Path] = None) -> InterpreterInfo:
    """Describe ``python`` (a path or a command on PATH), from the disk cache when fresh."""
    executable = _locate(python)
    key = _cache_key(executable)
    memo = memo_path(cache_dir, CACHE_BUCKET, key) if key is not None and cache_dir is not None else None
    cached = _described(read_memo(memo)) if memo is not None else None
    if cached is not None:
        return cached
    info = _probe(executable)
    if memo is not None:
        write_memo(memo, info.to_dict())
    return info


def _locate(python: Union[str, Path]) -> Path:
    text = os.fspath(python)
    found = shutil.which(text) if os.sep not in text else (text if os.path.exists(text) else None)
    if not found:
        raise TargetInterpreterError(
            f"Python interpreter {text!r} was not found",
            hint="pass --python with a path or a version such as 3.11",
        )
    return Path(os.path.abspath(found))


def _probe(executable: Path) -> InterpreterInfo:
    if _is_running(executable):
        return InterpreterInfo.from_dict(json.loads(json.dumps(probe_script.describe())))  # as the subprocess's JSON
    command = [str(executable), "-I", "-c", PROBE.read_text(encoding="utf-8")]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TargetInterpreterError(f"cannot run {executable}: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise TargetInterpreterError(f"{executable} failed to describe itself: {' '.join(tail)}")
    try:
        return InterpreterInfo.from_dict(json.loads(proc.stdout))
    except ValueError as exc:
        raise TargetInterpreterError(f"{executable} gave an unusable description: {exc}") from exc


def _is_running(executable: Path) -> bool:
    """``executable`` is this process's interpreter, started as ``-I`` would start it (``site`` run, no
    startup variable set): the probe answers the same here as in a subprocess."""
    if sys.flags.no_site or os.path.abspath(sys.executable) != str(executable) or not _runs_file(executable):
        return False
    return bool(sys.flags.ignore_environment) or not any(os.environ.get(name) for name in STARTUP_VARIABLES)


def _runs_file(executable: Path) -> bool:
    """This process runs the file at ``executable`` (Linux's ``/proc/self/exe``): not so when a launcher's
    argv[0] named another file, or the binary was replaced since the process started."""
    try:
        running = os.stat("/proc/self/exe")
    except OSError:
        return True  # no /proc: the path is all there is to go by
    try:
        found = os.stat(executable)
    except OSError:
        return False
    return (running.st_ino, running.st_dev) == (found.st_ino, found.st_dev)


def _cache_key(executable: Path) -> Optional[list[Any]]:
    """The path, the stat of the file it leads to (a re-pointed link leads to another file) and the
    machine's kernel and glibc; None for script shims (pyenv) and unreadable files."""
    if _is_script(executable):
        return None  # a shim may run another Python tomorrow with the same bytes
    stamp = file_stamp(executable)
    return [str(executable), *stamp, *_machine()] if stamp else None


def _machine() -> list[str]:
    """What the probe reports of the machine, not of the interpreter's file: the kernel (markers
    ``platform_release``, ``platform_version``) and the system's glibc (the manylinux tags)."""
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, OSError, ValueError):
        libc = ""
    return [platform.release(), platform.version(), platform.machine(), libc]


def _described(remembered: object) -> Optional[InterpreterInfo]:
    """A remembered description, if it still reads as one (else the interpreter is asked again)."""
    if not isinstance(remembered, dict):
        return None
    try:
        return InterpreterInfo.from_dict(remembered)
    except ValueError:
        return None


_VERSION_SPEC = re.compile(r"(?:python)?(\d+(?:\.\d+)?)")


def find_python(spec: Optional[str] = None) -> Path:
    """The interpreter meant by ``--python``: None (python3 on PATH), a path, a venv, or ``3.11``."""
    if spec is None:
        return _locate("python3")
    expanded = os.path.expanduser(spec)
    if os.sep in expanded or os.path.exists(expanded):
        return _from_path(Path(expanded))
    match = _VERSION_SPEC.fullmatch(spec)
    if match is None:
        return _locate(spec)
    return _by_version(match.group(1))


def _from_path(path: Path) -> Path:
    if path.is_dir():
        for candidate in (path / "bin" / "python3", path / "bin" / "python"):
            if candidate.exists():
                return Path(os.path.abspath(candidate))
    return _locate(str(path))


def _by_version(version: str) -> Path:
    """A real binary on PATH, then pyenv's installs; version-manager shims only as a last resort."""
    on_path = _which_all(f"python{version}")
    pyenv = Path(os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))) / "versions"
    installed = sorted(pyenv.glob(f"{version}*/bin/python{version}"), reverse=True)
    binaries = [p for p in on_path if not _is_script(p)] + installed
    candidates = binaries + [p for p in on_path if _is_script(p)]
    if candidates:
        return candidates[0]
    raise TargetInterpreterError(
        f"no Python {version} was found on PATH or in pyenv",
        hint=f"install Python {version}, or pass --python with the interpreter's path",
    )


def _which_all(name: str) -> list[Path]:
    found: list[Path] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / name
        if candidate.is_file() and os.access(candidate, os.X_OK) and candidate not in found:
            found.append(Path(os.path.abspath(candidate)))
    return found


def _is_script(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"#!"
    except OSError:
        return True
