"""User actions about the runtime environment: show the merged environment, write ``.thoth.yaml``.

``runtime_environment()`` is what lock and install call to learn their target:
discovery, overlaid by the selected ``.thoth.yaml`` entry, overlaid by flags.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from ..environment import config as thoth_config
from ..environment import interpreter
from ..environment.detect import Machine, detect
from ..environment.runtime import RuntimeEnvironment
from ..errors import InputFileError, UsageError
from ..fs import atomic_write
from ..memory import Kept
from ..reporting import Reporter


@dataclass(frozen=True)
class SelectedEnvironment:
    """The merged environment, the config it came from (if any) and its overlay directory."""

    environment: RuntimeEnvironment
    config: Optional[thoth_config.ThothConfig]
    overlay_dir: Path
    detected: RuntimeEnvironment

    def to_dict(self) -> dict[str, Any]:
        target = self.environment.target() if self.environment.python_version and self.environment.platform else None
        return {
            "runtime_environment": self.environment.name,
            "config": self.config.path if self.config else None,
            "overlay_dir": str(self.overlay_dir),
            "values": self.environment.to_dict(),
            "thoth": self.environment.to_thoth_dict(),
            "markers": dict(target.markers) if target else None,
            "tags": [str(t) for t in target.tags] if target else [],
        }


def load_project_config(
    project_dir: Path, environ: Mapping[str, str], reporter: Optional[Reporter] = None
) -> Optional[thoth_config.ThothConfig]:
    """``.thoth.yaml`` of the project, or None; its warnings go to ``reporter``."""
    path = project_dir / thoth_config.CONFIG_NAME
    if not path.is_file():
        return None
    config = thoth_config.load_config(path, environ)
    for warning in config.warnings:
        (reporter or Reporter()).message(warning, "warning")
    return config


def runtime_environment(
    project_dir: Path,
    *,
    environ: Mapping[str, str],
    name: Optional[str] = None,
    overrides: Mapping[str, Any] = {},
    machine: Optional[Machine] = None,
    interpreter: Any = None,
    reporter: Optional[Reporter] = None,
    cache_dir: Optional[Path] = None,
    refresh: bool = False,
) -> SelectedEnvironment:
    """Detect (under ``overrides["target_root"]`` when given; slow probes remembered under ``cache_dir``
    unless ``refresh``),
    load ``.thoth.yaml``, select an entry, merge flags."""
    overrides = dict(overrides)
    root = overrides.pop("target_root", None)
    host_hardware = overrides.pop("host_hardware", True)  # False: a backend's request, not this machine
    if root is not None:
        machine = Machine(root=Path(root), environ=environ, run=lambda argv: None)  # never run host tools on it
    if machine is None:
        detected = _kept_detection(environ, interpreter, cache_dir, refresh)
    else:
        detected = detect(machine, interpreter=interpreter, cache_dir=cache_dir)
    config = load_project_config(project_dir, environ, reporter)
    wanted = name or environ.get("THAMOS_RUNTIME_ENVIRONMENT") or None
    if config is None and wanted:
        raise UsageError(f"--runtime-environment {wanted} needs a {thoth_config.CONFIG_NAME} in {project_dir}",
                         hint="create one with `thoth-pip config`")
    entry = config.select(name, environ) if config and config.runtime_environments else None
    known = detected if host_hardware else replace(
        detected, **_HARDWARE_UNKNOWN, origins={k: v for k, v in detected.origins.items() if k not in _HARDWARE_UNKNOWN})
    environment = RuntimeEnvironment.merge(known, entry, overrides)
    overlay = config.overlay_directory(project_dir, entry) if config and entry else project_dir
    return SelectedEnvironment(environment, config, overlay, detected)


# What a backend never takes from its own machine for a request that does not state it: the
# hardware, accelerators, numeric libraries, OS and base image (issue 19: an omitted or null
# field stays unknown). The interpreter and platform stay: they are the lock's tags and markers.
_HARDWARE_UNKNOWN: dict[str, Any] = {
    "os_name": None, "os_version": None, "cpu_family": None, "cpu_model": None, "cpu_model_name": None,
    "cpu_flags": (), "gpu_models": (), "gpu_model": None, "cuda_version": None, "cudnn_version": None,
    "rocm_version": None, "mkl_version": None, "openblas_version": None, "openmpi_version": None,
    "base_image": None,
}

DETECTION_KEPT = 60.0  # seconds a resolver process (memory.py) reuses its machine's detection
_DETECTED: Kept[tuple[Any, ...], tuple[float, RuntimeEnvironment]] = Kept(8)


def _kept_detection(environ: Mapping[str, str], interpreter: Any, cache_dir: Optional[Path],
                    refresh: bool = False) -> RuntimeEnvironment:
    """This machine's detection (probes run as subprocesses: tens of ms), reused for DETECTION_KEPT
    seconds for the same environment and interpreter when the process keeps what it reads."""
    key = (tuple(sorted(environ.items())), repr(interpreter), str(cache_dir))
    now = time.monotonic()
    kept = _DETECTED.get(key)
    if kept is not None and now - kept[0] < DETECTION_KEPT and not refresh:
        return kept[1]
    detected = detect(Machine.local(environ, cache_dir=cache_dir, refresh=refresh), interpreter=interpreter,
                      cache_dir=cache_dir)
    _DETECTED.put(key, (now, detected))
    return detected


_INTERPRETERS: Kept[str, tuple[float, interpreter.InterpreterInfo]] = Kept(4)


def running_interpreter(cache_dir: Optional[Path]) -> interpreter.InterpreterInfo:
    """The running interpreter's description (``interpreter.query``: a stat of it and a cache file read
    and parsed), reused for DETECTION_KEPT seconds when the process keeps what it reads."""
    now = time.monotonic()
    kept = _INTERPRETERS.get(str(cache_dir))
    if kept is not None and now - kept[0] < DETECTION_KEPT:
        return kept[1]
    info = interpreter.query(sys.executable, cache_dir=cache_dir)
    _INTERPRETERS.put(str(cache_dir), (now, info))
    return info


def write_config(
    project_dir: Path,
    *,
    environ: Mapping[str, str],
    template: Optional[Path] = None,
    force: bool = False,
    machine: Optional[Machine] = None,
) -> Path:
    """Write ``.thoth.yaml`` from discovery (and ``--template``/``THAMOS_CONFIG_TEMPLATE``), atomically."""
    target = project_dir / thoth_config.CONFIG_NAME
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    template_path = template or (Path(environ["THAMOS_CONFIG_TEMPLATE"]) if environ.get("THAMOS_CONFIG_TEMPLATE")
                                 else None)
    text = thoth_config.write_config(detect(machine or Machine.local(environ)), _read_template(template_path),
                                     environ=environ, template_path=str(template_path) if template_path else None)
    atomic_write(target, text)
    return target


def _read_template(path: Optional[Path]) -> Optional[str]:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read the template: {exc}", path=str(path)) from exc
