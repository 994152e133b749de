"""Stdlib-only script run inside a target interpreter; prints what it knows of itself as JSON.

It is executed with ``python -I -c <this file's text>`` by ``interpreter.query``,
so it must run on any Python 3.7+ with nothing installed: no packaging, no pip.
``interpreter.query`` of the running interpreter calls ``describe()`` in-process instead.
Marker values are computed exactly as packaging's ``default_environment()``.
"""

import json
import os
import platform
import re
import struct
import subprocess
import sys
import sysconfig


def _full_version(info):
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def _markers():
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": _full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _elf_interpreter(path):
    """The PT_INTERP of an ELF executable (the dynamic loader), or None."""
    try:
        with open(path, "rb") as fh:
            ident = fh.read(16)
            if ident[:4] != b"\x7fELF":
                return None
            is64, little = ident[4] == 2, ident[5] == 1
            order = "<" if little else ">"
            fh.seek(0)
            header = fh.read(64 if is64 else 52)
            fmt = order + ("HHIQQQIHHH" if is64 else "HHIIIIIHHH")
            fields = struct.unpack(fmt, header[16 : 16 + struct.calcsize(fmt)])
            phoff, phentsize, phnum = fields[4], fields[8], fields[9]
            for i in range(phnum):
                fh.seek(phoff + i * phentsize)
                entry = fh.read(phentsize)
                kind = struct.unpack(order + "I", entry[:4])[0]
                if kind != 3:  # PT_INTERP
                    continue
                if is64:
                    offset, size = struct.unpack(order + "Q", entry[8:16])[0], struct.unpack(order + "Q", entry[32:40])[0]
                else:
                    offset, size = struct.unpack(order + "I", entry[4:8])[0], struct.unpack(order + "I", entry[16:20])[0]
                fh.seek(offset)
                return fh.read(size).rstrip(b"\0").decode("ascii", "replace")
    except (OSError, struct.error, IndexError):
        return None
    return None


def _musl_version(loader):
    """Run the musl loader with no arguments: it prints ``Version X.Y.Z`` on stderr."""
    try:
        proc = subprocess.run([loader], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(rb"Version\s+(\d+)\.(\d+)", proc.stderr)
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _libc():
    """``[family, version]``: ("glibc", "2.36"), ("musl", "1.2") or (None, None)."""
    if sys.platform != "linux":
        return [None, None]
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, OSError, ValueError):
        text = ""
    match = re.match(r"glibc (\d+)\.(\d+)", text)
    if match:
        return ["glibc", f"{int(match.group(1))}.{int(match.group(2))}"]
    loader = _elf_interpreter(os.path.realpath(sys.executable))
    if loader and "musl" in loader:
        return ["musl", _musl_version(loader)]
    return [None, None]


def _default_scheme():
    getter = getattr(sysconfig, "get_default_scheme", None) or getattr(sysconfig, "_get_default_scheme", None)
    return getter() if getter else ("posix_prefix" if os.name == "posix" else "nt")


def _config(name):
    value = sysconfig.get_config_var(name)
    return None if value is None else value


def describe() -> dict:
    """What this interpreter knows of itself (a JSON-ready dict)."""
    paths = sysconfig.get_paths(_default_scheme())
    family, libc_version = _libc()
    info = {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "version": list(sys.version_info[:3]),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "markers": _markers(),
        "platform": sysconfig.get_platform(),
        "soabi": _config("SOABI"),
        "ext_suffix": _config("EXT_SUFFIX"),
        "abiflags": getattr(sys, "abiflags", ""),
        "gil_disabled": bool(_config("Py_GIL_DISABLED")),
        "py_debug": bool(_config("Py_DEBUG")) or hasattr(sys, "gettotalrefcount"),
        "py_version_nodot": _config("py_version_nodot"),
        "pointer_bits": struct.calcsize("P") * 8,
        "libc_family": family,
        "libc_version": libc_version,
        "machine": platform.machine(),
        "scheme": _default_scheme(),
        "paths": {key: paths.get(key) for key in ("purelib", "platlib", "scripts", "data", "include", "stdlib")},
    }
    return info


def main():
    sys.stdout.write(json.dumps(describe()))


if __name__ == "__main__":
    main()
