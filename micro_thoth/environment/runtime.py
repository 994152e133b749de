"""The merged runtime environment (detected, then .thoth.yaml, then flags) and its Target.

``RuntimeEnvironment.merge`` overlays discovery with the selected
``.thoth.yaml`` entry and then with command-line overrides, and remembers
where each value came from. ``target()`` turns it into the marker values and
ordered wheel tags the resolver and the installer take as an argument, so a
lock can be made for Python 3.9 on RHEL 8 from a 3.11 interpreter on Debian.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional

from ..errors import EnvironmentError_, UsageError
from ..models import Target
from .config import RECOMMENDATION_TYPES, RuntimeEnvironmentEntry
from .detect import Detected, map_os_name, normalize_os_version
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
    "marker_environment",
    "platform_tags",
    "target_for_interpreter",
]

DEFAULT, DETECTED, CONFIG, FLAG = "default", "detected", ".thoth.yaml", "flag"
_NONE = object()  # an explicit null from .thoth.yaml
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
    "base_image", "recommendation_type", "labels",
)


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


@dataclass(frozen=True)
class RuntimeEnvironment:
    """The environment a lock or an install is for; ``origins[key]`` says where each value came from."""

    name: Optional[str] = None
    os_name: Optional[str] = None
    os_version: Optional[str] = None
    python_version: Optional[str] = None
    python_full_version: Optional[str] = None
    implementation: str = "cpython"
    platform: Optional[str] = None
    machine: Optional[str] = None
    libc_family: Optional[str] = None
    libc_version: Optional[str] = None
    cpu_family: Optional[int] = None
    cpu_model: Optional[int] = None
    cpu_model_name: Optional[str] = None
    cpu_flags: tuple[str, ...] = ()
    gpu_model: Optional[str] = None
    cuda_version: Optional[str] = None
    cudnn_version: Optional[str] = None
    rocm_version: Optional[str] = None
    mkl_version: Optional[str] = None
    openblas_version: Optional[str] = None
    openmpi_version: Optional[str] = None
    base_image: Optional[str] = None
    recommendation_type: str = "latest"
    labels: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)
    probes: Mapping[str, str] = field(default_factory=dict)  # how discovery found a value ("nvcc --version")

    @classmethod
    def merge(
        cls,
        detected: Optional[Detected] = None,
        entry: Optional[RuntimeEnvironmentEntry] = None,
        overrides: Mapping[str, Any] = {},
    ) -> RuntimeEnvironment:
        """Discovery, overlaid by the ``.thoth.yaml`` entry, overlaid by flags."""
        _check_overrides(overrides)
        layers = [(DETECTED, from_detected(detected)), (CONFIG, from_entry(entry)), (FLAG, dict(overrides))]
        values: dict[str, Any] = {}
        origins: dict[str, str] = {key: DEFAULT for key in ("implementation", "recommendation_type")}
        for key in explicit_nones(entry):
            layers[1][1][key] = _NONE
        for origin, layer in layers:
            for key, value in layer.items():
                if value is not None and key != "labels":
                    values[key], origins[key] = (None if value is _NONE else value), origin
        _merge_labels(layers, values, origins)
        probes = dict(detected.sources) if detected is not None else {}
        return _derive(cls(**values, origins=origins, probes=probes), detected)

    # -- views -------------------------------------------------------------------
    def origin(self, key: str) -> str:
        return self.origins.get(key, "")

    def explain(self, key: str) -> str:
        """The origin, with the probe for a detected value: ``detected (nvcc --version)``."""
        origin = self.origin(key)
        probe = self.probes.get(key)
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
        if interpreter is not None and all(self.origin(k) in (DETECTED, DEFAULT, "") for k in shaping):
            return target_for_interpreter(interpreter)
        if not self.python_version or not self.platform:
            raise EnvironmentError_("the target needs a Python version and a platform",
                                    hint="set python_version and platform in .thoth.yaml or pass "
                                         "--python-version and --platform")
        return make_target(python_version=self.python_full_version or self.python_version,
                           implementation=self.implementation, platform=self.platform, libc=self.libc,
                           machine=self.machine or platform_arch(self.platform) or "")

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
        }

    def to_dict(self) -> dict[str, Any]:
        """Every value with its origin (``thoth-pip env --json``)."""
        return {key: {"value": _jsonable(getattr(self, key)), "origin": self.explain(key) or None} for key in KEYS}

    def describe(self) -> list[tuple[str, str, str]]:
        """(key, value, origin) rows for ``thoth-pip env``."""
        return [(key, _text(getattr(self, key)), self.explain(key) or "-") for key in KEYS]


def from_detected(detected: Optional[Detected]) -> dict[str, Any]:
    if detected is None:
        return {}
    names = {f.name for f in fields(RuntimeEnvironment)}
    values = {k: v for k, v in vars(detected).items() if k in names and v not in (None, ())}
    values["gpu_model"] = detected.gpu_model
    return values


# A null in .thoth.yaml means "none" for these (``cuda_version: null``: no CUDA on the target);
# for every other key it means "not stated", and discovery's value stays.
NULL_MEANS_NONE = {
    "cuda_version": "cuda_version", "cudnn_version": "cudnn_version", "mkl_version": "mkl_version",
    "openblas_version": "openblas_version", "openmpi_version": "openmpi_version", "base_image": "base_image",
    "gpu_model": "hardware.gpu_model",
}


def explicit_nones(entry: Optional[RuntimeEnvironmentEntry]) -> set[str]:
    """Keys the entry sets to null on purpose."""
    if entry is None:
        return set()
    return {key for key, stated in NULL_MEANS_NONE.items() if stated in entry.stated and getattr(
        entry.hardware if key == "gpu_model" else entry, key) is None}


def from_entry(entry: Optional[RuntimeEnvironmentEntry]) -> dict[str, Any]:
    if entry is None:
        return {}
    return {
        "name": entry.name, "os_name": entry.operating_system.name, "os_version": entry.operating_system.version,
        "python_version": entry.python_version, "platform": entry.platform,
        "cpu_family": entry.hardware.cpu_family, "cpu_model": entry.hardware.cpu_model,
        "gpu_model": entry.hardware.gpu_model, "cuda_version": entry.cuda_version,
        "cudnn_version": entry.cudnn_version, "mkl_version": entry.mkl_version,
        "openblas_version": entry.openblas_version, "openmpi_version": entry.openmpi_version,
        "base_image": entry.base_image, "recommendation_type": entry.recommendation_type,
        "labels": dict(entry.labels),
    }


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


def _merge_labels(layers: list[tuple[str, dict[str, Any]]], values: dict[str, Any],
                  origins: dict[str, str]) -> None:
    labels: dict[str, str] = {}
    seen: list[str] = []
    for origin, layer in layers:
        if layer.get("labels"):
            labels.update(layer["labels"])
            seen.append(origin)
    values["labels"] = labels
    if seen:
        origins["labels"] = " + ".join(seen)


def _derive(env: RuntimeEnvironment, detected: Optional[Detected]) -> RuntimeEnvironment:
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
    return replace(env, **changes, origins=origins)


def _derived_libc(env: RuntimeEnvironment, detected: Optional[Detected], origins: dict[str, str]) -> dict[str, Any]:
    if env.origin("libc_family") == FLAG or env.origin("os_name") in (DETECTED, ""):
        return {}
    if detected is not None and (detected.os_name, detected.os_version) == (env.os_name, env.os_version):
        return {}
    libc = libc_for_os(env.os_name, env.os_version)
    if libc is None:
        return {}
    origins["libc_family"] = origins["libc_version"] = f"{env.origin('os_name')} (operating_system)"
    return {"libc_family": libc[0], "libc_version": libc[1]}


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
