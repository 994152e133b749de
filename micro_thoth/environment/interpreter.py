"""Asks a Python interpreter about itself: markers, tags, ABI, libc and install scheme.

``query`` runs the interpreter once with the stdlib-only ``_probe.py`` (the
target may have neither pip nor packaging) and memoises the answer on disk,
keyed by the executable's path, size and mtime, so later runs cost no
subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from packaging.tags import Tag, compatible_tags, cpython_tags, generic_tags

from ..errors import TargetInterpreterError
from ..models import Target

PROBE = Path(__file__).with_name("_probe.py")
CACHE_BUCKET = "interpreters-v1"
PROBE_TIMEOUT = 60.0
SCHEME_KEYS = ("purelib", "platlib", "scripts", "data", "include")


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

    @property
    def is_venv(self) -> bool:
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
        """Marker values and ordered wheel tags of this interpreter, as a Target."""
        try:
            from .runtime import target_for_interpreter
        except ImportError:
            return Target(markers=dict(self.markers), tags=tuple(fallback_tags(self)))
        return target_for_interpreter(self)

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
            values["paths"] = {k: str(v) for k, v in data["paths"].items() if v is not None}
            return cls(**values)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"unusable interpreter description: {exc}") from exc


def query(python: Union[str, Path], *, cache_dir: Optional[Path] = None) -> InterpreterInfo:
    """Describe ``python`` (a path or a command on PATH), from the disk cache when fresh."""
    executable = _locate(python)
    key = _cache_key(executable)
    cached = _read_cache(cache_dir, key) if key else None
    if cached is not None:
        return cached
    info = _probe(executable)
    if key and cache_dir is not None:
        _write_cache(cache_dir, key, info)
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


def _cache_key(executable: Path) -> Optional[str]:
    """Path + size + mtime of the file and of the link; None for script shims (pyenv)."""
    if _is_script(executable):
        return None  # a shim may run another Python tomorrow with the same bytes
    try:
        target, link = executable.stat(), executable.lstat()
    except OSError:
        return None
    parts = [str(executable), target.st_size, target.st_mtime_ns, link.st_mtime_ns, target.st_ino]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _read_cache(cache_dir: Optional[Path], key: str) -> Optional[InterpreterInfo]:
    if cache_dir is None:
        return None
    try:
        return InterpreterInfo.from_dict(json.loads((cache_dir / CACHE_BUCKET / f"{key}.json").read_text()))
    except (OSError, ValueError):
        return None


def _write_cache(cache_dir: Path, key: str, info: InterpreterInfo) -> None:
    bucket = cache_dir / CACHE_BUCKET
    try:
        bucket.mkdir(parents=True, exist_ok=True)
        tmp = bucket / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(info.to_dict()), encoding="utf-8")
        os.replace(tmp, bucket / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written only costs a subprocess next time


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


# --- wheel tags; used until environment/runtime.py provides target_for_interpreter --------

_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_INTERPRETER_SHORT = {"cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}


def _normalize(text: str) -> str:
    return text.replace(".", "_").replace("-", "_").replace(" ", "_")


def _linux_archs(info: InterpreterInfo) -> list[str]:
    arch = _normalize(info.platform).split("_", 1)[1]
    if info.pointer_bits == 32:
        arch = {"x86_64": "i686", "aarch64": "armv8l"}.get(arch, arch)
    return ["armv8l", "armv7l"] if arch == "armv8l" else [arch]


def _manylinux(arch: str, glibc: str) -> Iterator[str]:
    major, minor = (int(p) for p in glibc.split(".")[:2])
    if major != 2:
        return
    oldest = 5 if arch in ("x86_64", "i686") else 17
    for m in range(minor, oldest - 1, -1):
        yield f"manylinux_2_{m}_{arch}"
        if (2, m) in _LEGACY_MANYLINUX:
            yield f"{_LEGACY_MANYLINUX[(2, m)]}_{arch}"


def _musllinux(arch: str, musl: str) -> Iterator[str]:
    major, minor = (int(p) for p in musl.split(".")[:2])
    for m in range(minor, -1, -1):
        yield f"musllinux_{major}_{m}_{arch}"


def platform_tags(info: InterpreterInfo) -> list[str]:
    """Platform tags of the interpreter, most specific first (packaging's order)."""
    if not info.platform.startswith("linux"):
        return [_normalize(info.platform)]
    archs = _linux_archs(info)
    out = [f"linux_{arch}" for arch in archs]
    for arch in archs:
        if info.libc_family == "glibc" and info.libc_version:
            out.extend(_manylinux(arch, info.libc_version))
        elif info.libc_family == "musl" and info.libc_version:
            out.extend(_musllinux(arch, info.libc_version))
    return out


def cpython_abis(info: InterpreterInfo) -> list[str]:
    nodot = f"{info.version[0]}{info.version[1]}"
    threading = "t" if info.gil_disabled else ""
    if info.py_debug:
        return [f"cp{nodot}{threading}d", f"cp{nodot}{threading}"]
    pymalloc = "m" if info.version[:2] < (3, 8) and "m" in info.abiflags else ""
    return [f"cp{nodot}{threading}{pymalloc}"]


def _generic_abis(info: InterpreterInfo) -> list[str]:
    """The ABI tag a non-CPython interpreter's extension suffix names (``pypy310_pp73``)."""
    parts = (info.ext_suffix or "").lstrip(".").split("-")
    if len(parts) < 3:
        return [_normalize(info.soabi)] if info.soabi else []
    head = parts[:2] if info.implementation == "pypy" else parts[:1]
    return [_normalize("_".join(head))]


def fallback_tags(info: InterpreterInfo) -> Iterator[Tag]:
    """Ordered tags of ``info`` computed with packaging's generators and explicit inputs."""
    platforms = platform_tags(info)
    version = info.version[:2]
    short = _INTERPRETER_SHORT.get(info.implementation, info.implementation)
    nodot = info.py_version_nodot or f"{version[0]}{version[1]}"
    if short == "cp":
        yield from cpython_tags(version, cpython_abis(info), platforms)
        yield from compatible_tags(version, f"cp{nodot}", platforms)
        return
    yield from generic_tags(f"{short}{nodot}", _generic_abis(info), platforms)
    yield from compatible_tags(version, "pp3" if short == "pp" else None, platforms)
