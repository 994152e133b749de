"""Discovery of the machine: the only reader of /proc, /etc/os-release, nvidia-smi, nvcc, lspci and sysconfig.

Every probe takes a :class:`Machine` (a root directory, an environment and a
command runner), so tests point it at a fixture tree and fake executables.
Probes never raise: a missing file or tool, a timeout or garbage output all
mean "not present" (None). ``THAMOS_DISABLE_CUDA=1`` turns CUDA and cuDNN
detection off, as in Thamos.
"""

from __future__ import annotations

import glob
import json
import os
import platform as _platform
import re
import sys
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..knowledge import abi
from .commands import CommandResult, Runner, subprocess_runner
from .runtime import DETECTED, RuntimeEnvironment, map_os_name, normalize_os_version

__all__ = ["CommandResult", "Machine", "Runner", "detect", "subprocess_runner"]


@dataclass(frozen=True)
class Machine:
    """Where probes look: a root directory (``/`` or a fixture), an environment, a runner."""

    root: Path
    environ: Mapping[str, str]
    run: Runner

    @classmethod
    def local(cls, environ: Optional[Mapping[str, str]] = None, *, cache_dir: Optional[Path] = None,
              refresh: bool = False) -> Machine:
        """This machine; its tools' answers remembered under ``cache_dir`` (``refresh``: asked again)."""
        env = dict(os.environ if environ is None else environ)
        return cls(root=Path("/"), environ=env, run=subprocess_runner(env, cache_dir=cache_dir, refresh=refresh))

    @property
    def is_local(self) -> bool:
        return self.root == Path("/")

    def path(self, absolute: str) -> Path:
        """``/proc/cpuinfo`` under this machine's root."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str, limit: int = 1 << 20) -> Optional[str]:
        try:
            with open(self.path(absolute), encoding="utf-8", errors="replace") as fh:
                return fh.read(limit)
        except OSError:
            return None

    def glob(self, pattern: str) -> list[str]:
        """Absolute (machine) paths matching ``pattern``, sorted."""
        base = str(self.root).rstrip("/")
        return sorted(p[len(base):] or "/" for p in glob.glob(glob.escape(base) + "/" + pattern.lstrip("/")))

    def output(self, *argv: str) -> Optional[str]:
        """The stdout of a successful command, else None."""
        result = self.run(argv)
        if result is None or result.returncode != 0:
            return None
        return result.stdout


# -- operating system ----------------------------------------------------------

def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release(5), quotes removed."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value.strip().strip("'\"")
    return out


def probe_os(machine: Machine) -> tuple[Optional[str], Optional[str]]:
    """(name, version) from ``/etc/os-release`` (or ``/usr/lib/os-release``), Thamos-normalised."""
    text = machine.read("/etc/os-release") or machine.read("/usr/lib/os-release")
    if text is None:
        if machine.is_local and sys.platform != "linux":
            return _non_linux_os()
        return (None, None)
    fields = parse_os_release(text)
    name = map_os_name(fields.get("ID") or None)
    version = fields.get("VERSION_ID") or None
    return (name, normalize_os_version(name, version))


def _non_linux_os() -> tuple[Optional[str], Optional[str]]:
    if sys.platform == "darwin":
        return ("macos", _platform.mac_ver()[0] or None)
    if sys.platform == "win32":
        return ("windows", _platform.release() or None)
    return (sys.platform, None)


# -- python, libc, architecture ------------------------------------------------

def probe_machine_arch(machine: Machine) -> Optional[str]:
    """The CPU architecture (``uname -m``) of the machine."""
    if machine.is_local:
        return _platform.machine() or None
    out = machine.output("uname", "-m")
    return (out.strip() or None) if out else None


def probe_libc(machine: Machine) -> tuple[Optional[str], Optional[str]]:
    """(family, "major.minor"): musl from its loader, glibc from confstr or ``ldd --version``."""
    musl = machine.glob("/lib/ld-musl-*.so.1")
    if musl:
        return ("musl", _musl_version(machine, musl[0]))
    if machine.is_local:
        try:
            text = os.confstr("CS_GNU_LIBC_VERSION") or ""
        except (AttributeError, ValueError, OSError):
            text = ""
        match = re.match(r"glibc (\d+\.\d+)", text)
        if match:
            return ("glibc", match.group(1))
    return _glibc_from_ldd(machine)


def _glibc_from_ldd(machine: Machine) -> tuple[Optional[str], Optional[str]]:
    out = machine.output("ldd", "--version")
    first = out.splitlines()[0] if out else ""
    match = re.search(r"(?:GLIBC|GNU libc|glibc).*?(\d+\.\d+)\s*$", first, re.IGNORECASE)
    return ("glibc", match.group(1)) if match else (None, None)


def _musl_version(machine: Machine, loader: str) -> Optional[str]:
    """From apk's database (cheap), else the loader's own banner on stderr."""
    installed = machine.read("/lib/apk/db/installed", limit=8 << 20) or ""
    match = re.search(r"^P:musl\nV:(\d+\.\d+)", installed, re.MULTILINE)
    if match:
        return match.group(1)
    result = machine.run([str(machine.path(loader))])
    banner = result.stderr if result else ""
    match = re.search(r"Version\s+(\d+\.\d+)", banner)
    return match.group(1) if match else None


def probe_abi(machine: Machine, cache_dir: Optional[Path] = None) -> tuple[tuple[str, ...], str]:
    """Symbol versions libc, libm, libstdc++, libgcc_s define, and which libraries were read
    (remembered under ``cache_dir`` while the files stay the same)."""
    directories = [d for pattern in abi.LIBRARY_DIRS for d in machine.glob(pattern)]  # each listed once
    found = {}
    for name in abi.SYSTEM_LIBRARIES:
        paths = [path for d in directories if os.path.lexists(path := machine.path(f"{d}/{name}"))]
        if paths:  # an absolute symlink in a container root points inside that root
            link = os.readlink(paths[0]) if paths[0].is_symlink() else ""
            found[name] = machine.path(link) if os.path.isabs(link) else paths[0]
    return abi.defined_by_files(found, cache_dir)


def probe_python(machine: Machine, interpreter: Any = None) -> dict[str, Optional[str]]:
    """Python facts of ``interpreter`` (duck-typed InterpreterInfo), else of the running one."""
    if interpreter is not None:
        return _python_of_info(interpreter)
    arch = probe_machine_arch(machine)
    family, version = probe_libc(machine)
    plat: Optional[str] = sysconfig.get_platform()
    if not machine.is_local:
        plat = f"linux-{arch}" if arch else None
    return {
        "python_version": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "python_full_version": _platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": plat,
        "libc_family": family,
        "libc_version": version,
        "machine": arch,
    }


def _python_of_info(info: Any) -> dict[str, Optional[str]]:
    markers = dict(getattr(info, "markers", {}) or {})
    return {
        "python_version": markers.get("python_version"),
        "python_full_version": markers.get("python_full_version"),
        "implementation": markers.get("implementation_name") or getattr(info, "implementation", None),
        "platform": getattr(info, "platform", None),
        "libc_family": getattr(info, "libc_family", None),
        "libc_version": getattr(info, "libc_version", None),
        "machine": getattr(info, "machine", None) or markers.get("platform_machine"),
    }


# -- CPU -----------------------------------------------------------------------

def probe_cpu(machine: Machine) -> dict[str, Any]:
    """Family, model, model name and flags of the first CPU in ``/proc/cpuinfo``."""
    text = machine.read("/proc/cpuinfo") or ""
    block = _first_block(text)
    flags = block.get("flags") or block.get("features") or ""
    return {
        "cpu_family": _int(block.get("cpu family")),
        "cpu_model": _int(block.get("model")),
        "cpu_model_name": block.get("model name") or block.get("hardware") or block.get("cpu") or None,
        "cpu_flags": tuple(sorted(set(flags.split()))),
    }


def _first_block(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if out:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value, 0) if value is not None else None
    except ValueError:
        return None


# -- GPU -----------------------------------------------------------------------

def probe_gpus(machine: Machine) -> tuple[tuple[str, ...], str]:
    """GPU models and where they came from: nvidia-smi, /proc/driver/nvidia, rocm-smi, lspci."""
    nvidia = _nvidia_smi_gpus(machine)
    source = "nvidia-smi"
    if not nvidia:
        nvidia, source = _proc_nvidia_gpus(machine), "/proc/driver/nvidia"
    amd = _rocm_smi_gpus(machine)
    if nvidia or amd:
        return (tuple(nvidia + amd), source if nvidia else "rocm-smi")
    found = _lspci_gpus(machine)
    return (tuple(found), "lspci" if found else "")


def _nvidia_smi_gpus(machine: Machine) -> list[str]:
    out = machine.output("nvidia-smi", "--query-gpu=name", "--format=csv,noheader")
    return [line.strip() for line in (out or "").splitlines() if line.strip()]


def _proc_nvidia_gpus(machine: Machine) -> list[str]:
    models = []
    for info in machine.glob("/proc/driver/nvidia/gpus/*/information"):
        match = re.search(r"^Model:\s*(.+?)\s*$", machine.read(info) or "", re.MULTILINE)
        if match:
            models.append(match.group(1))
    return models


def _rocm_smi_gpus(machine: Machine) -> list[str]:
    out = machine.output("rocm-smi", "--showproductname")
    found = re.findall(r"Card (?:series|SKU|model):\s*(.+?)\s*$", out or "", re.MULTILINE)
    return list(dict.fromkeys(found))


_LSPCI_GPU = re.compile(r"(?:VGA compatible controller|3D controller|Display controller)[^:]*:\s*(.+?)\s*$")


def _lspci_gpus(machine: Machine) -> list[str]:
    """VGA *and* 3D controllers (data-centre GPUs are the latter)."""
    out = machine.output("lspci")
    found = (_LSPCI_GPU.search(line) for line in (out or "").splitlines())
    return [m.group(1) for m in found if m]


# -- CUDA, cuDNN, ROCm ---------------------------------------------------------

def cuda_disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("THAMOS_DISABLE_CUDA", "").strip() == "1"


def _major_minor(text: Optional[str]) -> Optional[str]:
    match = re.search(r"(\d+)\.(\d+)", text or "")
    return f"{match.group(1)}.{match.group(2)}" if match else None


def cuda_homes(machine: Machine) -> list[str]:
    homes = [machine.environ.get(k, "") for k in ("CUDA_HOME", "CUDA_PATH")]
    return list(dict.fromkeys(h for h in [*homes, "/usr/local/cuda"] if h))


def probe_cuda(machine: Machine) -> tuple[Optional[str], str]:
    """(CUDA "major.minor", source): env, nvcc, version.json/txt, then the driver's CUDA."""
    if cuda_disabled(machine.environ):
        return (None, "THAMOS_DISABLE_CUDA=1")
    for probe in (_cuda_from_env, _cuda_from_nvcc, _cuda_from_files, _cuda_from_driver):
        version, source = probe(machine)
        if version:
            return (version, source)
    return (None, "")


def _cuda_from_env(machine: Machine) -> tuple[Optional[str], str]:
    return (_major_minor(machine.environ.get("CUDA_VERSION")), "CUDA_VERSION")


def _cuda_from_nvcc(machine: Machine) -> tuple[Optional[str], str]:
    out = machine.output("nvcc", "--version") or ""
    match = re.search(r"release (\d+\.\d+)", out)
    return (match.group(1) if match else None, "nvcc --version")


def _cuda_from_files(machine: Machine) -> tuple[Optional[str], str]:
    for home in cuda_homes(machine):
        text = machine.read(f"{home}/version.json")
        if text:
            version = _cuda_json_version(text)
            if version:
                return (version, f"{home}/version.json")
        text = machine.read(f"{home}/version.txt")
        match = re.search(r"CUDA Version\s+(\d+\.\d+)", text or "")
        if match:
            return (match.group(1), f"{home}/version.txt")
    return (None, "")


def _cuda_json_version(text: str) -> Optional[str]:
    try:
        data = json.loads(text)
        return _major_minor(str(data["cuda"]["version"]))
    except (ValueError, KeyError, TypeError):
        return None


def _cuda_from_driver(machine: Machine) -> tuple[Optional[str], str]:
    out = machine.output("nvidia-smi") or ""
    match = re.search(r"CUDA Version:\s*(\d+\.\d+)", out)
    return (match.group(1) if match else None, "nvidia-smi (driver)")


def probe_cudnn(machine: Machine) -> Optional[str]:
    """cuDNN from the CUDNN_MAJOR/MINOR/PATCHLEVEL defines of its header."""
    if cuda_disabled(machine.environ):
        return None
    dirs = [f"{home}/include" for home in cuda_homes(machine)] + ["/usr/include", *machine.glob("/usr/include/*-linux-gnu")]
    for directory in dirs:
        for header in ("cudnn_version.h", "cudnn.h"):
            version = _cudnn_defines(machine.read(f"{directory}/{header}") or "")
            if version:
                return version
    return None


def _cudnn_defines(text: str) -> Optional[str]:
    parts = {k: v for k, v in re.findall(r"#define\s+CUDNN_(MAJOR|MINOR|PATCHLEVEL)\s+(\d+)", text)}
    if "MAJOR" not in parts:
        return None
    return ".".join(parts[k] for k in ("MAJOR", "MINOR", "PATCHLEVEL") if k in parts)


def probe_rocm(machine: Machine) -> Optional[str]:
    for path in ("/opt/rocm/.info/version", *machine.glob("/opt/rocm-*/.info/version")):
        version = _major_minor(machine.read(path))
        if version:
            return version
    return None


# -- math libraries, base image ------------------------------------------------

_LIB_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib/*-linux-gnu", "/usr/local/lib", "/opt/OpenBLAS/lib")


def probe_mkl(machine: Machine) -> Optional[str]:
    """MKL's version from a oneAPI install directory or ``MKLROOT``."""
    roots = [machine.environ.get("MKLROOT", ""), *machine.glob("/opt/intel/oneapi/mkl/*")]
    for root in roots:
        match = re.search(r"(\d{4}\.\d+(?:\.\d+)?)", os.path.basename(root.rstrip("/")))
        if match:
            return match.group(1)
    return None


def probe_openblas(machine: Machine) -> Optional[str]:
    """OpenBLAS's version from its library's file name (``libopenblasp-r0.3.21.so``)."""
    for directory in _LIB_DIRS:
        for lib in machine.glob(f"{directory}/libopenblas*-r*.so"):
            match = re.search(r"-r(\d+\.\d+\.\d+)", lib)
            if match:
                return match.group(1)
    return None


def probe_base_image(environ: Mapping[str, str]) -> Optional[str]:
    """Thamos's rule: ``IMAGE_NAME``/``IMAGE_TAG`` (AICoE CI), else ``THOTH_S2I_NAME``/``THOTH_S2I_VERSION``."""
    name = environ.get("IMAGE_NAME") or environ.get("THOTH_S2I_NAME")
    version = environ.get("IMAGE_TAG")
    if not version and environ.get("THOTH_S2I_VERSION"):
        version = "v" + environ["THOTH_S2I_VERSION"]
    return f"{name}:{version}" if name and version else None


# -- everything ----------------------------------------------------------------

def _safely(probe: Callable[..., Any], default: Any, *args: Any) -> Any:
    """Run one probe; a bug in it or an odd machine yields ``default``, never a crash."""
    try:
        return probe(*args)
    except Exception:  # discovery must never fail the command
        return default


def detect(machine: Optional[Machine] = None, *, interpreter: Any = None, cache_dir: Optional[Path] = None,
           refresh: bool = False) -> RuntimeEnvironment:
    """Run every probe: a partial RuntimeEnvironment (what was not found is None); never raises.
    ``cache_dir``: where slow probes' answers are remembered while their inputs stay the same
    (the local machine's tools too, unless ``refresh``)."""
    machine = machine or Machine.local(cache_dir=cache_dir, refresh=refresh)
    os_name, os_version = _safely(probe_os, (None, None), machine)
    gpus, gpu_source = _safely(probe_gpus, ((), ""), machine)
    cuda, cuda_source = _safely(probe_cuda, (None, ""), machine)
    symbols, abi_source = _safely(probe_abi, ((), ""), machine, cache_dir)
    sources = {"gpu_model": gpu_source, "cuda_version": cuda_source, "abi_symbols": abi_source}
    found = RuntimeEnvironment(
        os_name=os_name, os_version=os_version,
        **_safely(probe_python, {}, machine, interpreter), **_safely(probe_cpu, {}, machine),
        gpu_models=gpus, cuda_version=cuda, cudnn_version=_safely(probe_cudnn, None, machine),
        rocm_version=_safely(probe_rocm, None, machine), mkl_version=_safely(probe_mkl, None, machine),
        openblas_version=_safely(probe_openblas, None, machine),
        base_image=_safely(probe_base_image, None, machine.environ), abi_symbols=symbols,
        sources={k: v for k, v in sources.items() if v},
    )
    return found.labelled(DETECTED)
