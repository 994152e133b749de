"""``.thoth.yaml`` in Thamos's format: parse into frozen values, select an entry, write one from discovery.

A file written by Thamos loads unchanged. Unknown keys become warnings (in
``ThothConfig.warnings``, for the caller to report); a bad value raises
``InputFileError`` naming its key path (``runtime_environments[0].python_version``).
``THAMOS_CONFIG_EXPAND_ENV=1`` expands ``{ENV_VAR}`` before parsing (off by
default: a config may come from an untrusted repository).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .. import values as read
from ..errors import InputFileError, UsageError
from ..models import RECOMMENDATION_TYPES, REQUIREMENTS_FORMAT_ALIASES, REQUIREMENTS_FORMATS
from ..settings import CONFIG_NAME as CONFIG_NAME  # re-exported: the file this module reads
from .runtime import RuntimeEnvironment

_FORMATS = (*REQUIREMENTS_FORMATS, *REQUIREMENTS_FORMAT_ALIASES)  # kept as written: Thamos reads the file too
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_PYTHON_VERSION = re.compile(r"^\d+\.\d+$")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOP_KEYS = ("host", "tls_verify", "requirements_format", "overlays_dir", "virtualenv", "runtime_environments",
             "managers")
_ENTRY_KEYS = ("name", "operating_system", "hardware", "python_version", "cuda_version", "cudnn_version",
               "mkl_version", "openblas_version", "openmpi_version", "base_image", "platform",
               "recommendation_type", "labels", "abi_symbols")
_VERSION_KEYS = ("cuda_version", "cudnn_version", "mkl_version", "openblas_version", "openmpi_version")


@dataclass(frozen=True)
class OperatingSystem:
    name: Optional[str] = None
    version: Optional[str] = None


@dataclass(frozen=True)
class Hardware:
    cpu_family: Optional[int] = None
    cpu_model: Optional[int] = None
    gpu_model: Optional[str] = None


@dataclass(frozen=True)
class RuntimeEnvironmentEntry:
    """One entry of ``runtime_environments``; None means "not stated"."""

    name: Optional[str] = None
    operating_system: OperatingSystem = OperatingSystem()
    hardware: Hardware = Hardware()
    python_version: Optional[str] = None
    cuda_version: Optional[str] = None
    cudnn_version: Optional[str] = None
    mkl_version: Optional[str] = None
    openblas_version: Optional[str] = None
    openmpi_version: Optional[str] = None
    base_image: Optional[str] = None
    platform: Optional[str] = None
    recommendation_type: Optional[str] = None
    labels: Mapping[str, str] = field(default_factory=dict)
    abi_symbols: Optional[tuple[str, ...]] = None  # symbol versions its system libraries define (GLIBCXX_3.4.30...)
    stated: frozenset[str] = frozenset()  # keys written in the file, null or not ("hardware.gpu_model")

    def environment(self) -> RuntimeEnvironment:
        """What the entry states, as a partial RuntimeEnvironment (an explicit "none" is in its origins)."""
        return RuntimeEnvironment(
            name=self.name, os_name=self.operating_system.name, os_version=self.operating_system.version,
            python_version=self.python_version, platform=self.platform, cpu_family=self.hardware.cpu_family,
            cpu_model=self.hardware.cpu_model, gpu_model=self.hardware.gpu_model, cuda_version=self.cuda_version,
            cudnn_version=self.cudnn_version, mkl_version=self.mkl_version, openblas_version=self.openblas_version,
            openmpi_version=self.openmpi_version, base_image=self.base_image,
            recommendation_type=self.recommendation_type, labels=dict(self.labels), abi_symbols=self.abi_symbols or (),
            origins={key: CONFIG_NAME for key, stated in NULL_MEANS_NONE.items() if stated in self.stated},
        )


# A null in .thoth.yaml means "none" for these (``cuda_version: null``: no CUDA on the target);
# for every other key it means "not stated", and discovery's value stays.
NULL_MEANS_NONE = {
    "cuda_version": "cuda_version", "cudnn_version": "cudnn_version", "mkl_version": "mkl_version",
    "openblas_version": "openblas_version", "openmpi_version": "openmpi_version", "base_image": "base_image",
    "gpu_model": "hardware.gpu_model",
}


@dataclass(frozen=True)
class ThothConfig:
    """A parsed ``.thoth.yaml``."""

    path: Optional[str] = None
    host: Optional[str] = None
    tls_verify: bool = True
    requirements_format: str = "pipenv"
    overlays_dir: Optional[str] = None
    virtualenv: bool = False
    runtime_environments: tuple[RuntimeEnvironmentEntry, ...] = ()
    managers: tuple[Mapping[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()

    def select(self, name: Optional[str] = None, environ: Mapping[str, str] = {}) -> RuntimeEnvironmentEntry:
        """By ``name``, else ``THAMOS_RUNTIME_ENVIRONMENT``, else the first entry."""
        wanted = name or environ.get("THAMOS_RUNTIME_ENVIRONMENT") or None
        if wanted is None:
            if not self.runtime_environments:
                raise InputFileError("no runtime environment is configured", path=self.path,
                                     key_path="runtime_environments")
            return self.runtime_environments[0]
        for entry in self.runtime_environments:
            if entry.name == wanted:
                return entry
        names = ", ".join(e.name for e in self.runtime_environments if e.name) or "(none)"
        raise UsageError(f"no runtime environment named {wanted!r} in {self.path or CONFIG_NAME}",
                         hint=f"configured: {names}")

    def overlay_directory(self, project_dir: Path, entry: RuntimeEnvironmentEntry) -> Path:
        """Where the selected entry's Pipfile, lock, constraints and .env live."""
        if self.overlays_dir is None or entry.name is None:
            return project_dir
        return project_dir / self.overlays_dir / entry.name


# -- loading -------------------------------------------------------------------

def expand_placeholders(text: str, values: Mapping[str, Any], *, path: Optional[str] = None) -> str:
    """``{name}`` -> ``values[name]`` (``{{``/``}}`` escape braces); only plain names, never attributes."""

    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name not in values:
            raise InputFileError(f"{{{name}}} has no value (not discovered, not in the environment)", path=path)
        return "null" if values[name] is None else str(values[name])

    return _PLACEHOLDER.sub(repl, text)


def expand_env_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get("THAMOS_CONFIG_EXPAND_ENV", "").strip() not in ("", "0")


def load_config(path: Path, environ: Mapping[str, str] = {}) -> ThothConfig:
    """Read and parse ``path``; a missing or unreadable file is an InputFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read: {exc.strerror or exc}", path=str(path)) from exc
    return parse_config(text, path=str(path), environ=environ)


def parse_config(text: str, *, path: Optional[str] = None, environ: Mapping[str, str] = {}) -> ThothConfig:
    """Parse the text of a ``.thoth.yaml``."""
    # imported here: only a project with a .thoth.yaml parses YAML (pyyaml's import is ≈ 10 ms)
    import yaml

    if expand_env_enabled(environ):
        text = expand_placeholders(text, environ, path=path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputFileError(f"not valid YAML: {exc}", path=path) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputFileError("expected a mapping at the top level", path=path)
    return _Parser(path).config(data)


class _Parser:
    """Turns the YAML mapping into values, collecting warnings, raising with key paths."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.warnings: list[str] = []

    def fail(self, key_path: str, message: str) -> InputFileError:
        return read.fail(message, self.path, key_path)

    def unknown(self, data: Mapping[str, Any], known: Sequence[str], prefix: str) -> None:
        for key in data:
            if key not in known:
                self.warnings.append(f"{self.path or CONFIG_NAME}: unknown key {prefix}{key} ignored")

    def config(self, data: Mapping[str, Any]) -> ThothConfig:
        self.unknown(data, _TOP_KEYS, "")
        entries = self.entries(data.get("runtime_environments"))
        return ThothConfig(
            path=self.path, host=self.optional_str(data, "host", "host"),
            tls_verify=self.boolean(data, "tls_verify", True),
            requirements_format=self.choice(data, "requirements_format", _FORMATS, "pipenv"),
            overlays_dir=self.optional_str(data, "overlays_dir", "overlays_dir"),
            virtualenv=self.boolean(data, "virtualenv", False), runtime_environments=entries,
            managers=self.managers(data.get("managers")), warnings=tuple(self.warnings))

    def optional_str(self, data: Mapping[str, Any], key: str, key_path: str) -> Optional[str]:
        return read.optional_string(data.get(key), self.path, key_path, mapping="a mapping")

    def version(self, data: Mapping[str, Any], key: str, key_path: str) -> Optional[str]:
        """Versions may be written unquoted (``cuda_version: 11.8``); YAML reads those as numbers."""
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return self.optional_str(data, key, key_path)

    def boolean(self, data: Mapping[str, Any], key: str, default: bool) -> bool:
        value = read.optional(data.get(key), (bool,), self.path, key)
        return default if value is None else bool(value)

    def choice(self, data: Mapping[str, Any], key: str, allowed: Sequence[str], default: Optional[str],
               prefix: str = "") -> Any:
        value = data.get(key)
        return default if value is None else read.choice(value, allowed, self.path, prefix + key)

    def managers(self, value: Any) -> tuple[Mapping[str, Any], ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
            raise self.fail("managers", "expected a list of mappings")
        return tuple(value)

    def entries(self, value: Any) -> tuple[RuntimeEnvironmentEntry, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail("runtime_environments", "expected a list of runtime environments")
        entries = tuple(self.entry(item, f"runtime_environments[{i}]") for i, item in enumerate(value))
        self.check_names(entries)
        return entries

    def check_names(self, entries: Sequence[RuntimeEnvironmentEntry]) -> None:
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if entry.name is None and len(entries) > 1:
                raise self.fail(f"runtime_environments[{i}].name", "every entry needs a name when there are several")
            if entry.name in seen:
                raise self.fail(f"runtime_environments[{i}].name", f"duplicate name {entry.name!r}")
            if entry.name is not None:
                seen.add(entry.name)

    def entry(self, data: Any, at: str) -> RuntimeEnvironmentEntry:
        data = read.mapping_of(data, self.path, at, mapping="a mapping")
        self.unknown(data, _ENTRY_KEYS, at + ".")
        versions = {key: self.version(data, key, f"{at}.{key}") for key in _VERSION_KEYS}
        return RuntimeEnvironmentEntry(
            name=self.name(data, at), operating_system=self.operating_system(data.get("operating_system"), at),
            hardware=self.hardware(data.get("hardware"), at), python_version=self.python_version(data, at),
            base_image=self.optional_str(data, "base_image", f"{at}.base_image"),
            platform=self.optional_str(data, "platform", f"{at}.platform"),
            recommendation_type=self.choice(data, "recommendation_type", RECOMMENDATION_TYPES, None, f"{at}."),
            labels=self.labels(data.get("labels"), f"{at}.labels"), stated=_stated(data),
            abi_symbols=self.symbols(data.get("abi_symbols"), f"{at}.abi_symbols"), **versions)

    def symbols(self, value: Any, at: str) -> Optional[tuple[str, ...]]:
        if value is None:
            return None
        symbols = tuple(v.strip() for v in read.string_list(value, self.path, at))
        if "" in symbols:
            raise self.fail(f"{at}[{symbols.index('')}]", "expected a symbol version like GLIBCXX_3.4.30, got an empty string")
        return symbols

    def name(self, data: Mapping[str, Any], at: str) -> Optional[str]:
        value = self.version(data, "name", f"{at}.name")
        if value is not None and not _NAME.match(value):
            raise self.fail(f"{at}.name", f"{value!r} may contain only letters, digits, '-' and '_'")
        return value

    def python_version(self, data: Mapping[str, Any], at: str) -> Optional[str]:
        value = data.get("python_version")
        if isinstance(value, float):
            raise self.fail(f"{at}.python_version", f"{value!r} is a number; quote it ('3.10' is not 3.1)")
        value = self.optional_str(data, "python_version", f"{at}.python_version")
        if value is not None and not _PYTHON_VERSION.match(value):
            raise self.fail(f"{at}.python_version", f"expected 'major.minor', got {value!r}")
        return value

    def operating_system(self, data: Any, at: str) -> OperatingSystem:
        if data is None:
            return OperatingSystem()
        data = read.mapping_of(data, self.path, f"{at}.operating_system", mapping="a mapping")
        self.unknown(data, ("name", "version"), f"{at}.operating_system.")
        return OperatingSystem(name=self.optional_str(data, "name", f"{at}.operating_system.name"),
                               version=self.version(data, "version", f"{at}.operating_system.version"))

    def hardware(self, data: Any, at: str) -> Hardware:
        if data is None:
            return Hardware()
        data = read.mapping_of(data, self.path, f"{at}.hardware", mapping="a mapping")
        self.unknown(data, ("cpu_family", "cpu_model", "gpu_model"), f"{at}.hardware.")
        return Hardware(cpu_family=self.cpu_number(data, "cpu_family", at),
                        cpu_model=self.cpu_number(data, "cpu_model", at),
                        gpu_model=self.version(data, "gpu_model", f"{at}.hardware.gpu_model"))

    def cpu_number(self, data: Mapping[str, Any], key: str, at: str) -> Optional[int]:
        """An integer; Thamos writes ``Unknown`` when discovery failed, which reads as not stated."""
        value = data.get(key)
        if value is None or (isinstance(value, str) and value.strip().lower() in ("unknown", "null", "")):
            return None
        return read.optional_integer(value, self.path, f"{at}.hardware.{key}")

    def labels(self, value: Any, at: str) -> Mapping[str, str]:
        return read.text_mapping(value, self.path, at, mapping="a mapping")


def _stated(data: Mapping[str, Any]) -> frozenset[str]:
    keys = set(data)
    for group in ("operating_system", "hardware"):
        if isinstance(data.get(group), dict):
            keys.update(f"{group}.{key}" for key in data[group])
    return frozenset(keys)


# -- labels --------------------------------------------------------------------

def parse_labels(text: str) -> dict[str, str]:
    """``key=value;key2=value2`` (as ``--labels`` and Thamos take them)."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"label {item!r} is not key=value", hint="write labels as key=value;key2=value2")
        out[key.strip()] = value.strip()
    return out


def merge_labels(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win, key by key."""
    out: dict[str, str] = {}
    for layer in layers:
        out.update(layer)
    return out


# -- writing -------------------------------------------------------------------

DEFAULT_TEMPLATE = """\
# Thoth configuration of this project (read by thoth-pip and by Thamos).
# Each runtime environment describes a machine the application runs on; the
# first one is used unless --runtime-environment or THAMOS_RUNTIME_ENVIRONMENT
# names another.
host: {host_yaml}
tls_verify: true
# pipenv, pip or pip-tools:
requirements_format: {requirements_format}
# Per-environment Pipfile/lock directories (overlays/<name>/), or null:
overlays_dir: null
virtualenv: false

runtime_environments:
  - name: {runtime_environment_name_yaml}
    operating_system:
      name: {os_name_yaml}
      version: {os_version_yaml}
    # key: value pairs used by prescriptions during resolution:
    labels: null
    hardware:
      # {cpu_model_name}
      cpu_family: {cpu_family_yaml}
      cpu_model: {cpu_model_yaml}
      gpu_model: {gpu_model_yaml}
    python_version: {python_version_yaml}
    cuda_version: {cuda_version_yaml}
    cudnn_version: {cudnn_version_yaml}
    mkl_version: {mkl_version_yaml}
    openblas_version: {openblas_version_yaml}
    openmpi_version: {openmpi_version_yaml}
    # latest, stable, performance, security or testing:
    recommendation_type: latest
    # sysconfig.get_platform() of the target, e.g. linux-x86_64:
    platform: {platform_yaml}
    base_image: {base_image_yaml}
"""


def yaml_scalar(value: Any) -> str:
    """One value as a YAML flow scalar: ``null``, ``6``, ``'12.2'``."""
    if value is None:
        return "null"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def runtime_environment_name(detected: RuntimeEnvironment) -> str:
    """``{os}-{version}`` with anything but letters, digits and ``-`` replaced by ``-`` (as Thamos)."""
    return re.sub(r"[^0-9a-zA-Z-]", "-", f"{detected.os_name}-{detected.os_version}")


def template_values(detected: RuntimeEnvironment, environ: Mapping[str, str] = {}) -> dict[str, Any]:
    """The placeholders a template may use: Thamos's (raw) and ``<name>_yaml`` (quoted YAML scalars)."""
    fmt = environ.get("THAMOS_REQUIREMENTS_FORMAT", "pipenv")
    typed: dict[str, Any] = {
        "host": environ.get("THAMOS_HOST") or None,
        "runtime_environment_name": runtime_environment_name(detected),
        "os_name": detected.os_name, "os_version": detected.os_version,
        "python_version": detected.python_version, "platform": detected.platform,
        "cpu_family": detected.cpu_family, "cpu_model": detected.cpu_model,
        "cpu_model_name": detected.cpu_model_name or "CPU detection failed", "gpu_model": detected.gpu_model,
        "cuda_version": detected.cuda_version, "cudnn_version": detected.cudnn_version,
        "mkl_version": detected.mkl_version, "openblas_version": detected.openblas_version,
        "openmpi_version": detected.openmpi_version, "base_image": detected.base_image,
    }
    values = {k: ("null" if v is None else v) for k, v in typed.items()}
    values["cuda_version"] = yaml_scalar(detected.cuda_version)  # Thamos pastes it pre-quoted
    values["requirements_format"] = fmt if fmt in _FORMATS else "pipenv"
    values.update({f"{k}_yaml": yaml_scalar(v) for k, v in typed.items()})
    return values


def write_config(
    detected: RuntimeEnvironment, template: Optional[str] = None, *, environ: Mapping[str, str] = {},
    template_path: Optional[str] = None,
) -> str:
    """The text of a ``.thoth.yaml`` for ``detected``, from ``template`` (Thamos-style ``{placeholders}``).

    With ``THAMOS_CONFIG_EXPAND_ENV=1`` environment variables are placeholders too
    (discovery wins on a clash). The result is parsed before it is returned, so a
    broken template fails here, naming the template.
    """
    values: dict[str, Any] = dict(environ) if expand_env_enabled(environ) else {}
    values.update(template_values(detected, environ))
    text = expand_placeholders(template if template is not None else DEFAULT_TEMPLATE, values, path=template_path)
    try:
        parse_config(text, path=template_path or "<template>")
    except InputFileError as exc:
        raise InputFileError(f"the template does not give a valid {CONFIG_NAME}: {exc.reason}",
                             path=template_path, key_path=exc.key_path) from exc
    return text
