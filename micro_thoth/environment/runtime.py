"""RuntimeEnvironment, the one description of a machine: discovered, configured, sent, merged, and its Target.

Discovery (``detect.detect``) returns a *partial* RuntimeEnvironment: a value
it could not find is None (an empty tuple for flags and GPUs). The selected
``.thoth.yaml`` entry and the command-line flags are partial ones too, and
``RuntimeEnvironment.merge`` overlays them in that order, remembering where
each value came from. The backend's wire carries Thoth's ``runtime_environment``
shape: ``to_thoth_dict``/``from_thoth_dict``; a member the sender left out or
sent as null stays unknown (never filled from the receiving machine).
``target()`` turns it into the marker values and ordered wheel tags the
resolver and the installer take as an argument, so a lock can be made for
Python 3.9 on RHEL 8 from a 3.11 interpreter on Debian.

Pure: this module reads no file and runs no command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional, Protocol

from .. import values as read
from ..errors import EnvironmentError_, UsageError
from ..guidance.abi import summarize
from ..models import DEFAULT_RECOMMENDATION_TYPE, RECOMMENDATION_TYPES, Target
from .target import (
    compatible_tags,
    make_target,
    marker_environment,
    parse_pair,
    platform_tags,
    target_for_interpreter,
)

__all__ = [
    "CONFIG",
    "DEFAULT",
    "DETECTED",
    "FLAG",
    "RuntimeEnvironment",
    "compatible_tags",
    "libc_for_os",
    "make_target",
    "map_os_name",
    "marker_environment",
    "normalize_os_version",
    "platform_tags",
    "target_for_interpreter",
]

DEFAULT, DETECTED, CONFIG, FLAG = "default", "detected", ".thoth.yaml", "flag"
_NOTABLE_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "amx_tile", "neon", "asimd", "sve", "sve2", "vsx")
_PYTHON = re.compile(r"^\d+\.\d+(\.\d+)?$")
_GLIBC_OF_OS = {
    ("rhel", "7"): "2.17", ("rhel", "8"): "2.28", ("rhel", "9"): "2.34",
    ("centos", "7"): "2.17", ("centos", "8"): "2.28",
    ("fedora", "37"): "2.36", ("fedora", "38"): "2.37", ("fedora", "39"): "2.38", ("fedora", "40"): "2.39",
    ("fedora", "41"): "2.40",
    ("debian", "10"): "2.28", ("debian", "11"): "2.31", ("debian", "12"): "2.36",
    ("ubuntu", "18.04"): "2.27", ("ubuntu", "20.04"): "2.31", ("ubuntu", "22.04"): "2.35", ("ubuntu", "24.04"): "2.39",
}
# Keys a caller may override, in the order `thoth-pip env` shows them.
KEYS = (
    "name", "os_name", "os_version", "python_version", "python_full_version", "implementation", "platform",
    "machine", "libc_family", "libc_version", "cpu_family", "cpu_model", "cpu_model_name", "cpu_flags",
    "gpu_model", "cuda_version", "cudnn_version", "rocm_version", "mkl_version", "openblas_version", "openmpi_version",
    "base_image", "recommendation_type", "labels", "abi_symbols",
)


def map_os_name(name: Optional[str]) -> Optional[str]:
    """Thamos's mapping: UBI images are RHEL."""
    return "rhel" if name == "ubi" else name


def normalize_os_version(name: Optional[str], version: Optional[str]) -> Optional[str]:
    """Thamos's normalisation: RHEL keeps its major version only (``8.9`` -> ``8``)."""
    if name is None or version is None or name.lower() != "rhel":
        return version
    return version.split(".", 1)[0]


def libc_for_os(name: Optional[str], version: Optional[str]) -> Optional[tuple[str, str]]:
    """The C library a distribution release ships (for a target OS other than this one)."""
    if not name or not version:
        return None
    name = name.lower()
    if name == "alpine":
        return ("musl", "1.2" if parse_pair(version + ".0") >= (3, 13) else "1.1")
    major = version if name == "ubuntu" else version.split(".")[0]
    glibc = _GLIBC_OF_OS.get((name, major))
    return ("glibc", glibc) if glibc else None


def platform_arch(platform: str) -> Optional[str]:
    """``linux-x86_64`` -> ``x86_64``, ``macosx-11.0-arm64`` -> ``arm64``, ``win32`` -> ``x86``."""
    if platform == "win32":
        return "x86"
    head, sep, arch = platform.rpartition("-")
    return arch if sep and head else None


class Configured(Protocol):
    """A ``.thoth.yaml`` entry: what it states, as a partial RuntimeEnvironment."""

    def environment(self) -> RuntimeEnvironment: ...


@dataclass(frozen=True)
class RuntimeEnvironment:
    """A machine as far as it is known (None: unknown); ``origins[key]`` says where each value came from.

    ``gpu_models`` are every GPU of the machine; ``gpu_model`` is Thoth's one
    GPU, always the first of them. Give either (``__post_init__`` fills the
    other); giving both that disagree is a bug and raises ValueError.
    """

    name: Optional[str] = None
    os_name: Optional[str] = None
    os_version: Optional[str] = None
    python_version: Optional[str] = None
    python_full_version: Optional[str] = None
    implementation: Optional[str] = None  # "cpython" once merged
    platform: Optional[str] = None
    machine: Optional[str] = None
    libc_family: Optional[str] = None
    libc_version: Optional[str] = None
    cpu_family: Optional[int] = None
    cpu_model: Optional[int] = None
    cpu_model_name: Optional[str] = None
    cpu_flags: tuple[str, ...] = ()
    gpu_models: tuple[str, ...] = ()
    gpu_model: Optional[str] = None
    cuda_version: Optional[str] = None
    cudnn_version: Optional[str] = None
    rocm_version: Optional[str] = None
    mkl_version: Optional[str] = None
    openblas_version: Optional[str] = None
    openmpi_version: Optional[str] = None
    base_image: Optional[str] = None
    recommendation_type: Optional[str] = None  # DEFAULT_RECOMMENDATION_TYPE (stable) once merged
    labels: Mapping[str, str] = field(default_factory=dict)
    abi_symbols: tuple[str, ...] = ()  # symbol versions libc, libstdc++, libgcc_s define (empty: unknown)
    origins: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)  # how discovery found a value ("nvcc --version")

    def __post_init__(self) -> None:
        if self.gpu_model is None and self.gpu_models:
            object.__setattr__(self, "gpu_model", self.gpu_models[0])
        elif self.gpu_model is not None and not self.gpu_models:
            object.__setattr__(self, "gpu_models", (self.gpu_model,))
        elif self.gpu_model is not None and self.gpu_models[0] != self.gpu_model:
            raise ValueError(f"gpu_model {self.gpu_model!r} is not the first of gpu_models {self.gpu_models!r}")

    @classmethod
    def merge(
        cls,
        detected: Optional[RuntimeEnvironment] = None,
        entry: Optional[Configured] = None,
        overrides: Mapping[str, Any] = {},
    ) -> RuntimeEnvironment:
        """Discovery, overlaid by the ``.thoth.yaml`` entry, overlaid by flags."""
        layers = [
            (DEFAULT, cls(implementation="cpython", recommendation_type=DEFAULT_RECOMMENDATION_TYPE)),
            (DETECTED, detected or cls()),
            (CONFIG, entry.environment() if entry is not None else cls()),
            (FLAG, from_flags(overrides)),
        ]
        values, origins = _overlay(layers)
        merged = cls(**values, origins=origins, sources=dict(detected.sources) if detected is not None else {})
        return _derive(merged, detected)

    @classmethod
    def from_thoth_dict(
        cls, data: object, *, path: Optional[str] = None, prefix: str = "runtime_environment"
    ) -> RuntimeEnvironment:
        """Thoth's ``runtime_environment`` (as Thamos sends it); a missing or null member stays unknown.

        A bad member raises ``InputFileError`` naming it (``runtime_environment.hardware.cpu_family``).
        """
        return _from_thoth(read.object_of(data, path, prefix), path, prefix)

    def labelled(self, origin: str) -> RuntimeEnvironment:
        """The same values, each known one marked as coming from ``origin``."""
        return replace(self, origins={key: origin for key in KEYS if _known(getattr(self, key))})

    # -- views -------------------------------------------------------------------
    def origin(self, key: str) -> str:
        return self.origins.get(key, "")

    def explain(self, key: str) -> str:
        """The origin, with the probe for a detected value: ``detected (nvcc --version)``."""
        origin = self.origin(key)
        probe = self.sources.get(key)
        return f"{origin} ({probe})" if origin == DETECTED and probe else origin

    @property
    def libc(self) -> Optional[tuple[str, tuple[int, int]]]:
        if not self.libc_family or not self.libc_version:
            return None
        return (self.libc_family, parse_pair(self.libc_version))

    def target(self, interpreter: Any = None) -> Target:
        """Marker values and wheel tags for this environment.

        When nothing that shapes them was overridden and ``interpreter`` (an
        InterpreterInfo of the detected interpreter) is given, its own marker
        values are used as they are.
        """
        shaping = ("python_version", "implementation", "platform", "machine", "libc_family", "libc_version")
        symbols = frozenset(self.abi_symbols)
        if interpreter is not None and all(self.origin(k) in (DETECTED, DEFAULT, "") for k in shaping):
            return replace(target_for_interpreter(interpreter), abi_symbols=symbols)
        if not self.python_version or not self.platform:
            raise EnvironmentError_("the target needs a Python version and a platform",
                                    hint="set python_version and platform in .thoth.yaml or pass "
                                         "--python-version and --platform")
        target = make_target(python_version=self.python_full_version or self.python_version,
                             implementation=self.implementation or "cpython", platform=self.platform,
                             libc=self.libc, machine=self.machine or platform_arch(self.platform) or "")
        return replace(target, abi_symbols=symbols)

    def to_thoth_dict(self) -> dict[str, Any]:
        """The shape of Thoth's ``runtime_environment`` (thoth-common's RuntimeEnvironment.to_dict)."""
        return {
            "hardware": {"cpu_family": self.cpu_family, "cpu_model": self.cpu_model, "gpu_model": self.gpu_model},
            "operating_system": {"name": self.os_name, "version": self.os_version},
            "python_version": ".".join(self.python_version.split(".")[:2]) if self.python_version else None,
            "cuda_version": self.cuda_version, "openblas_version": self.openblas_version,
            "openmpi_version": self.openmpi_version, "cudnn_version": self.cudnn_version,
            "mkl_version": self.mkl_version, "labels": dict(self.labels) or None, "base_image": self.base_image,
            "name": self.name, "platform": self.platform, "recommendation_type": self.recommendation_type,
        } | ({"abi_symbols": list(self.abi_symbols)} if self.abi_symbols else {})  # ours, when known

    def to_dict(self) -> dict[str, Any]:
        """Every value with its origin (``thoth-pip env --json``)."""
        return {key: {"value": _jsonable(getattr(self, key)), "origin": self.explain(key) or None} for key in KEYS}

    def describe(self) -> list[tuple[str, str, str]]:
        """(key, value, origin) rows for ``thoth-pip env``."""
        return [(key, _symbols_text(self.abi_symbols) if key == "abi_symbols" else _text(getattr(self, key)),
                 self.explain(key) or "-") for key in KEYS]


# -- merging -----------------------------------------------------------------------

# Fields a layer may set; the GPUs travel as one value under the key "gpu_model".
_LAYERED = tuple(f.name for f in fields(RuntimeEnvironment) if f.name not in ("gpu_model", "labels", "origins", "sources"))


def _known(value: Any) -> bool:
    return value is not None and value != () and value != {}


def _overlay(layers: list[tuple[str, RuntimeEnvironment]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Later layers win, value by value: a known value, or an unknown one its layer states on purpose."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in layers:
        for name in _LAYERED:
            key = "gpu_model" if name == "gpu_models" else name
            value = getattr(layer, name)
            if _known(value) or key in layer.origins:
                values[name], origins[key] = value, origin
    labels: dict[str, str] = {}
    seen: list[str] = []
    for origin, layer in layers:
        if layer.labels:
            labels.update(layer.labels)
            seen.append(origin)
    values["labels"] = labels
    if seen:
        origins["labels"] = " + ".join(seen)
    return values, origins


def from_flags(overrides: Mapping[str, Any]) -> RuntimeEnvironment:
    """The command line's values (``--python-version 3.9``...), checked."""
    _check_overrides(overrides)
    return RuntimeEnvironment(**overrides)


def _check_overrides(overrides: Mapping[str, Any]) -> None:
    for key in overrides:
        if key not in KEYS:
            raise UsageError(f"{key!r} is not a runtime environment value", hint="one of: " + ", ".join(KEYS))
    version = overrides.get("python_version")
    if version is not None and not _PYTHON.match(str(version)):
        raise UsageError(f"--python-version {version!r} is not a version like 3.9 or 3.9.18")
    kind = overrides.get("recommendation_type")
    if kind is not None and kind not in RECOMMENDATION_TYPES:
        raise UsageError(f"--recommendation-type {kind!r} is not one of {', '.join(RECOMMENDATION_TYPES)}")


def _derive(env: RuntimeEnvironment, detected: Optional[RuntimeEnvironment]) -> RuntimeEnvironment:
    """Values implied by overridden ones: full version, machine from platform, libc from the OS."""
    changes: dict[str, Any] = {"os_name": map_os_name(env.os_name),
                               "os_version": normalize_os_version(map_os_name(env.os_name), env.os_version)}
    origins = dict(env.origins)
    if env.origin("python_version") not in (DETECTED, "") and env.python_version:
        full = env.python_version if env.python_version.count(".") == 2 else None
        same_minor = detected is not None and detected.python_version == env.python_version
        if not same_minor:
            changes["python_full_version"] = full
            origins["python_full_version"] = env.origin("python_version") if full else ""
        if full:
            changes["python_version"] = ".".join(full.split(".")[:2])
    if env.origin("platform") not in (DETECTED, "") and env.platform and platform_arch(env.platform):
        changes["machine"] = platform_arch(env.platform)
        origins["machine"] = env.origin("platform")
    changes.update(_derived_libc(replace(env, **changes), detected, origins))
    if env.origin("abi_symbols") == DETECTED and _elsewhere(replace(env, **changes), detected):
        changes["abi_symbols"] = ()
        origins.pop("abi_symbols", None)
    return replace(env, **changes, origins=origins)


def _elsewhere(env: RuntimeEnvironment, detected: Optional[RuntimeEnvironment]) -> bool:
    """The target is another OS or platform than the one detected: its libraries are not these."""
    if detected is None:
        return True
    return (env.os_name, env.os_version, env.platform) != (
        map_os_name(detected.os_name), normalize_os_version(map_os_name(detected.os_name), detected.os_version),
        detected.platform)


def _derived_libc(env: RuntimeEnvironment, detected: Optional[RuntimeEnvironment],
                  origins: dict[str, str]) -> dict[str, Any]:
    if env.origin("libc_family") == FLAG or env.origin("os_name") in (DETECTED, ""):
        return {}
    if detected is not None and (detected.os_name, detected.os_version) == (env.os_name, env.os_version):
        return {}
    libc = libc_for_os(env.os_name, env.os_version)
    if libc is None:
        return {}
    origins["libc_family"] = origins["libc_version"] = f"{env.origin('os_name')} (operating_system)"
    return {"libc_family": libc[0], "libc_version": libc[1]}


# -- Thoth's runtime_environment -------------------------------------------------------

THOTH_STRINGS = (
    "name", "python_version", "cuda_version", "cudnn_version", "mkl_version",
    "openblas_version", "openmpi_version", "base_image", "recommendation_type",
)  # fmt: skip


def _from_thoth(data: Mapping[str, Any], path: Optional[str], prefix: str) -> RuntimeEnvironment:
    def text(key: str, section: Mapping[str, Any] = data, at: str = prefix) -> Optional[str]:
        return read.optional_string(section.get(key), path, read.join(at, key))

    system, hardware = _section(data, "operating_system", path, prefix), _section(data, "hardware", path, prefix)
    at = read.join(prefix, "hardware")
    flags, symbols = hardware.get("cpu_flags"), data.get("abi_symbols")
    return RuntimeEnvironment(
        name=text("name"), python_version=_python_version(text("python_version"), path, prefix),
        cuda_version=text("cuda_version"), cudnn_version=text("cudnn_version"), mkl_version=text("mkl_version"),
        openblas_version=text("openblas_version"), openmpi_version=text("openmpi_version"),
        base_image=text("base_image"), recommendation_type=text("recommendation_type"),
        os_name=text("name", system, read.join(prefix, "operating_system")),
        os_version=text("version", system, read.join(prefix, "operating_system")),
        platform=_platform(data.get("platform"), path, read.join(prefix, "platform")),
        cpu_family=read.optional_integer(hardware.get("cpu_family"), path, read.join(at, "cpu_family")),
        cpu_model=read.optional_integer(hardware.get("cpu_model"), path, read.join(at, "cpu_model")),
        cpu_flags=tuple(read.string_list(flags, path, read.join(at, "cpu_flags"))) if flags is not None else (),
        gpu_model=text("gpu_model", hardware, at),
        labels=read.text_mapping(data.get("labels"), path, read.join(prefix, "labels")),
        abi_symbols=tuple(read.string_list(symbols, path, read.join(prefix, "abi_symbols"))) if symbols is not None else (),
    )


def _python_version(value: Optional[str], path: Optional[str], prefix: str) -> Optional[str]:
    if value is not None and not _PYTHON.fullmatch(value):
        raise read.fail(f"{value!r} is not a Python version like '3.11'", path, read.join(prefix, "python_version"))
    return value


def _section(data: Mapping[str, Any], key: str, path: Optional[str], prefix: str) -> Mapping[str, Any]:
    section = data.get(key)
    return {} if section is None else read.object_of(section, path, read.join(prefix, key))


def _platform(value: Any, path: Optional[str], key_path: str) -> Optional[str]:
    """A platform, or Thoth's list of them (the first is the target's)."""
    if isinstance(value, list):
        platforms = read.string_list(value, path, key_path)
        return platforms[0] if platforms else None
    return read.optional_string(value, path, key_path)


# -- showing -------------------------------------------------------------------------


def _symbols_text(symbols: tuple[str, ...]) -> str:
    return f"{summarize(symbols)} ({len(symbols)} symbol versions)" if symbols else "-"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _text(value: Any) -> str:
    if value is None or value == () or value == {}:
        return "-"
    if isinstance(value, tuple):
        notable = [flag for flag in _NOTABLE_FLAGS if flag in value]
        return " ".join(notable) + f" ({len(value)} flags)"
    if isinstance(value, Mapping):
        return ";".join(f"{k}={v}" for k, v in value.items())
    return str(value)
