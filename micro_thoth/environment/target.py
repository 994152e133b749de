"""Wheel tags and PEP 508 marker values for a *target* environment, never read from this machine.

Every function takes the target's Python version, implementation, platform,
libc and machine as arguments, so a lock for Python 3.9 on manylinux x86_64
can be computed from a 3.11 interpreter on macOS. The order of the tags is the
order of ``packaging.tags.sys_tags()`` (packaging >= 26.3: the native
``linux_<arch>`` tag first, then ``manylinux``, then ``musllinux``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional

from packaging import tags as _tags
from packaging.tags import Tag

from ..models import Target

Libc = Optional[tuple[str, tuple[int, int]]]

# Implementation: (tag abbreviation, implementation_name, platform_python_implementation).
_IMPLEMENTATIONS = {
    "cp": ("cp", "cpython", "CPython"),
    "pp": ("pp", "pypy", "PyPy"),
    "gp": ("gp", "graalpy", "GraalVM"),
    "ip": ("ip", "ironpython", "IronPython"),
    "jy": ("jy", "jython", "Jython"),
}
_IMPLEMENTATION_ALIASES = {long: short for short, (_, long, _) in _IMPLEMENTATIONS.items()}
_LINUX_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "i586": "i686", "x86": "i686"}
_WINDOWS_PLATFORM = {"x86_64": "win_amd64", "amd64": "win_amd64", "aarch64": "win_arm64", "arm64": "win_arm64",
                     "x86": "win32", "i686": "win32", "i386": "win32"}
_WINDOWS_MACHINE = {"win_amd64": "AMD64", "win_arm64": "ARM64", "win32": "x86"}
_MANYLINUX_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_MAC_VERSION = re.compile(r"^macosx[-_](\d+)[._](\d+)")
DEFAULT_MACOS = (11, 0)


def implementation_abbrev(implementation: str) -> str:
    """``cpython`` or ``cp`` -> ``cp``; an unknown name is returned lower-cased."""
    name = implementation.lower()
    return _IMPLEMENTATION_ALIASES.get(name, name)


def os_family(platform: str) -> str:
    """``linux`` / ``darwin`` / ``win32`` for a sys.platform or sysconfig platform string."""
    text = platform.lower()
    if text.startswith("linux") or text.startswith("manylinux") or text.startswith("musllinux"):
        return "linux"
    if text.startswith(("darwin", "macosx", "macos")):
        return "darwin"
    if text.startswith("win"):
        return "win32"
    return text


def linux_arch(machine: str) -> str:
    """The architecture as it appears in linux wheel tags (``x86_64``, ``aarch64``...)."""
    arch = machine.lower()
    return _LINUX_ARCH.get(arch, arch).replace("-", "_").replace(".", "_")


def manylinux_platforms(arch: str, glibc: tuple[int, int]) -> Iterator[str]:
    """``manylinux_2_{m}_{arch}`` from the glibc minor down, with the legacy aliases."""
    oldest = 5 if arch in ("x86_64", "i686") else 17
    major, minor = glibc
    if major != 2:
        return
    for m in range(minor, oldest - 1, -1):
        yield f"manylinux_2_{m}_{arch}"
        legacy = _MANYLINUX_LEGACY.get((2, m))
        if legacy:
            yield f"{legacy}_{arch}"


def musllinux_platforms(arch: str, musl: tuple[int, int]) -> Iterator[str]:
    """``musllinux_{major}_{m}_{arch}`` from the musl minor down to 0."""
    major, minor = musl
    for m in range(minor, -1, -1):
        yield f"musllinux_{major}_{m}_{arch}"


def linux_platforms(machine: str, libc: Libc) -> list[str]:
    """Platform tags of a linux target: ``linux_<arch>``, then manylinux or musllinux."""
    arch = linux_arch(machine)
    out = [f"linux_{arch}"]
    if libc is not None:
        family, version = libc
        if family.lower() in ("glibc", "gnu", "manylinux"):
            out.extend(manylinux_platforms(arch, version))
        elif family.lower() in ("musl", "musllinux"):
            out.extend(musllinux_platforms(arch, version))
    return out


def mac_version(platform: str) -> Optional[tuple[int, int]]:
    """The macOS version in ``macosx-14.0-arm64`` / ``macosx_14_0_arm64``, if any."""
    match = _MAC_VERSION.match(platform.lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def mac_platforms(platform: str, machine: str, version: Optional[tuple[int, int]] = None) -> list[str]:
    """macOS platform tags through ``packaging.tags.mac_platforms`` with explicit values."""
    arch = "arm64" if machine.lower() in ("arm64", "aarch64") else machine.lower()
    return list(_tags.mac_platforms(version or mac_version(platform) or DEFAULT_MACOS, arch))


def windows_platforms(platform: str, machine: str) -> list[str]:
    """The one Windows platform tag (``win_amd64``, ``win_arm64``, ``win32``); the machine decides."""
    by_machine = _WINDOWS_PLATFORM.get(machine.lower())
    if by_machine:
        return [by_machine]
    text = platform.lower().replace("-", "_")
    return [text if text in _WINDOWS_MACHINE else "win_amd64"]


def platform_tags(
    *, platform: str, libc: Libc, machine: str, os_version: Optional[tuple[int, int]] = None
) -> list[str]:
    """Compatible platform tags of a target, most specific first."""
    family = os_family(platform)
    if family == "linux":
        return linux_platforms(machine, libc)
    if family == "darwin":
        return mac_platforms(platform, machine, os_version)
    if family == "win32":
        return windows_platforms(platform, machine)
    return [re.sub(r"[.-]", "_", platform.lower())]


def compatible_tags(
    *,
    python_version: tuple[int, int],
    implementation: str = "cp",
    abis: Optional[Sequence[str]] = None,
    platform: str,
    libc: Libc,
    machine: str,
    os_version: Optional[tuple[int, int]] = None,
) -> tuple[Tag, ...]:
    """The ordered wheel tags a target accepts, most preferred first (as ``sys_tags()``)."""
    return _compatible_tags(tuple(python_version[:2]), implementation, None if abis is None else tuple(abis),
                            platform, libc, machine, None if os_version is None else (os_version[0], os_version[1]))


@functools.lru_cache(maxsize=64)  # the same few targets, job after job, in a backend's resolver process
def _compatible_tags(
    version: tuple[int, ...], implementation: str, abis: Optional[tuple[str, ...]], platform: str, libc: Libc,
    machine: str, os_version: Optional[tuple[int, int]],
) -> tuple[Tag, ...]:
    platforms = platform_tags(platform=platform, libc=libc, machine=machine, os_version=os_version)
    impl = implementation_abbrev(implementation)
    nodot = "".join(map(str, version))
    if impl == "cp":
        specific = _tags.cpython_tags(version, abis=list(abis) if abis is not None else [f"cp{nodot}"],
                                      platforms=platforms)
        generic_interpreter = f"cp{nodot}"
    else:
        specific = _tags.generic_tags(f"{impl}{nodot}", abis=list(abis or []), platforms=platforms)
        generic_interpreter = "pp3" if impl == "pp" else ""
    rest = _tags.compatible_tags(version, interpreter=generic_interpreter or None, platforms=platforms)
    return _unique([*specific, *rest])


def _unique(tags: Sequence[Tag]) -> tuple[Tag, ...]:
    return tuple(dict.fromkeys(tags))


def marker_environment(
    *,
    python_version: str,
    implementation: str = "cpython",
    platform: str,
    machine: str,
    implementation_version: Optional[str] = None,
    platform_release: str = "",
    platform_version: str = "",
) -> dict[str, str]:
    """PEP 508 marker values of a target; ``python_version`` is ``"3.9"`` or ``"3.9.18"``."""
    full = full_version(python_version)
    short = ".".join(full.split(".")[:2])
    _, impl_name, impl_display = _IMPLEMENTATIONS.get(
        implementation_abbrev(implementation), ("", implementation.lower(), implementation))
    family = os_family(platform)
    return {
        "implementation_name": impl_name,
        "implementation_version": implementation_version or full,
        "os_name": "nt" if family == "win32" else "posix",
        "platform_machine": marker_machine(family, machine, platform),
        "platform_python_implementation": impl_display,
        "platform_release": platform_release,
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}.get(family, family.title()),
        "platform_version": platform_version,
        "python_full_version": full,
        "python_version": short,
        "sys_platform": family,
    }


def full_version(python_version: str) -> str:
    """``3.9`` -> ``3.9.0`` (as pip's ``--python-version``); a full version is kept."""
    parts = python_version.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"not a Python version: {python_version!r}")
    return python_version.strip() if len(parts) > 2 else f"{parts[0]}.{parts[1]}.0"


def marker_machine(family: str, machine: str, platform: str = "") -> str:
    """``platform_machine`` as the target's ``platform.machine()`` spells it."""
    lower = machine.lower()
    if family == "win32":
        return _WINDOWS_MACHINE.get(windows_platforms(platform, machine)[0], machine)
    if family == "darwin":
        return "arm64" if lower in ("arm64", "aarch64") else lower
    if family == "linux":
        return linux_arch(machine)
    return machine


def make_target(
    *,
    python_version: str,
    implementation: str = "cpython",
    platform: str,
    libc: Libc,
    machine: str,
    abis: Optional[Sequence[str]] = None,
    implementation_version: Optional[str] = None,
    platform_release: str = "",
    platform_version: str = "",
    os_version: Optional[tuple[int, int]] = None,
) -> Target:
    """A ``models.Target`` (markers and tags) for the described environment."""
    markers = marker_environment(
        python_version=python_version, implementation=implementation, platform=platform, machine=machine,
        implementation_version=implementation_version, platform_release=platform_release,
        platform_version=platform_version)
    major, minor = (int(p) for p in markers["python_version"].split("."))
    tags = compatible_tags(python_version=(major, minor), implementation=implementation, abis=abis,
                           platform=platform, libc=libc, machine=machine, os_version=os_version)
    return Target(markers=markers, tags=tags)


def target_for_interpreter(info: Any) -> Target:
    """The Target of a queried interpreter (duck-typed over ``interpreter.InterpreterInfo``).

    Reads ``markers`` (the interpreter's own marker values, kept as they are),
    ``platform`` (sysconfig), ``soabi``, ``libc`` (family, (major, minor)) and
    ``machine``. Only tags are computed here, from those values.
    """
    markers: Mapping[str, str] = dict(getattr(info, "markers", None) or info.marker_environment)
    machine = getattr(info, "machine", None) or markers["platform_machine"]
    platform = getattr(info, "platform", None) or markers["sys_platform"]
    impl = implementation_abbrev(markers.get("implementation_name", "cpython"))
    major, minor = (int(p) for p in markers["python_version"].split(".")[:2])
    tags = compatible_tags(
        python_version=(major, minor), implementation=impl, abis=abis_from_soabi(impl, getattr(info, "soabi", None)),
        platform=platform, libc=_libc_of(info), machine=machine, os_version=_mac_release(info, markers))
    return Target(markers=markers, tags=tags)


def abis_from_soabi(implementation: str, soabi: Optional[str]) -> Optional[list[str]]:
    """ABI tags from ``SOABI`` (``cpython-311-x86_64-linux-gnu`` -> ``cp311``); None when unknown."""
    if not soabi:
        return None
    parts = soabi.split("-")
    if parts[0] == "cpython" and len(parts) > 1:
        abi = f"cp{parts[1]}"
        return [abi, abi[:-1]] if abi.endswith("d") else [abi]
    if implementation == "pp" or parts[0].startswith("pypy"):
        return ["_".join(parts[:2]).replace(".", "_").replace("-", "_").lower()]
    return [re.sub(r"[.-]", "_", soabi).lower()]


def _libc_of(info: Any) -> Libc:
    libc = getattr(info, "libc", None)
    if libc is not None and not isinstance(libc, tuple):
        libc = (getattr(libc, "family", None), getattr(libc, "version", None))
    if libc is None:
        family, version = getattr(info, "libc_family", None), getattr(info, "libc_version", None)
        libc = (family, version) if family else None
    if libc is None or not libc[0] or not libc[1]:
        return None
    return (str(libc[0]), parse_pair(libc[1]))


def _mac_release(info: Any, markers: Mapping[str, str]) -> Optional[tuple[int, int]]:
    value = getattr(info, "mac_version", None)
    if value:
        return parse_pair(value)
    if markers.get("sys_platform") == "darwin" and markers.get("platform_release"):
        return macos_from_darwin(markers["platform_release"])
    return None


def macos_from_darwin(release: str) -> Optional[tuple[int, int]]:
    """The macOS version of a Darwin kernel release (``23.1.0`` -> 14.0, ``19.6.0`` -> 10.15)."""
    match = re.match(r"(\d+)", release)
    if not match:
        return None
    darwin = int(match.group(1))
    if darwin >= 25:
        return (darwin + 1, 0)
    return (darwin - 9, 0) if darwin >= 20 else (10, max(darwin - 4, 0))


def parse_pair(value: Any) -> tuple[int, int]:
    """``"2.35"`` / ``(2, 35)`` / ``[2, 35, 1]`` -> ``(2, 35)``."""
    if isinstance(value, str):
        value = value.split(".")
    major, minor = (int(p) for p in list(value)[:2])
    return (major, minor)
