"""Settings: one frozen value built from CLI flags, PIPENV_* / THAMOS_* variables and defaults.

Precedence is pipenv's: a flag beats an environment variable beats the default.
Nothing here reads a file or keeps module state; callers pass ``environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from .categories import DEFAULT_CATEGORY, DEVELOP_CATEGORY
from .errors import UsageError
from .format_control import ANY_FORMAT, Formats

CONFIG_NAME = ".thoth.yaml"  # the project's Thamos configuration

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}


def env_flag(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean environment variable as pipenv reads them (1/true/yes/on)."""
    value = environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f"{name}={value!r} is not a boolean (use 1 or 0)")


def env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{name}={value!r} is not a number") from None


LINK_MODES = ("clone", "copy", "hardlink", "symlink")  # uv's --link-mode values (install/linking.py)
DEFAULT_LINK_MODE = "clone"


def link_mode(given: Optional[str], environ: Mapping[str, str]) -> str:
    """``--link-mode``, else THOTH_PIP_LINK_MODE, else clone; anything else is a UsageError."""
    value = (given or environ.get("THOTH_PIP_LINK_MODE") or DEFAULT_LINK_MODE).strip().lower()
    if value not in LINK_MODES:
        where = "--link-mode" if given else "THOTH_PIP_LINK_MODE"
        raise UsageError(f"{where}={value!r} is not a link mode", hint=f"use one of {', '.join(LINK_MODES)}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything a pipeline action needs to know about how it was asked to run."""

    project_dir: Path
    pipfile: Optional[Path] = None  # PIPENV_PIPFILE: an explicit Pipfile path
    cache_dir: Optional[Path] = None
    python: Optional[str] = None  # --python: version or path of the target interpreter
    system: bool = False
    deploy: bool = False
    dev: bool = False
    categories: tuple[str, ...] = ()
    dry_run: bool = False
    compile_bytecode: bool = True
    link_mode: str = DEFAULT_LINK_MODE  # how installed files come from the cache (install/linking.py)
    verbosity: int = 0
    json_output: bool = False
    clear: bool = False
    pre: bool = False
    ignore_virtualenvs: bool = False
    virtual_env: Optional[Path] = None  # the active virtualenv, if any
    timeout: float = 15.0
    install_timeout: float = 300.0
    workers: int = 8
    exclude_newer: Optional[str] = None
    refresh: bool = False
    offline: bool = False  # --offline: the cache and the knowledge store only, never the network
    backend_url: Optional[str] = None
    runtime_environment: Optional[str] = None  # the .thoth.yaml entry (THAMOS_RUNTIME_ENVIRONMENT)
    input_dir: Optional[Path] = None  # the selected entry's overlay directory, when .thoth.yaml has overlays_dir
    formats: Formats = ANY_FORMAT  # --no-binary / --only-binary / --prefer-binary (and PIP_*)
    follow_declared_direct: bool = True  # the backend's resolver: False (a package's `x @ file:///...` is refused)

    @classmethod
    def from_sources(cls, args: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
        """Merge parsed CLI arguments (None = not given) with the environment."""
        project_dir, pipfile = _project_location(args.get("directory"), environ)
        virtual_env = environ.get("VIRTUAL_ENV")
        categories = _categories(args.get("categories"), environ)
        cache = args.get("cache_dir") or environ.get("THOTH_PIP_CACHE_DIR") or environ.get("PIPENV_CACHE_DIR")
        return cls(
            project_dir=project_dir,
            pipfile=pipfile,
            cache_dir=Path(cache) if cache else None,
            python=args.get("python") or environ.get("PIPENV_PYTHON") or None,
            system=bool(args.get("system")) or env_flag(environ, "PIPENV_SYSTEM"),
            deploy=bool(args.get("deploy")) or env_flag(environ, "PIPENV_DEPLOY"),
            dev=bool(args.get("dev")) or env_flag(environ, "PIPENV_DEV"),
            categories=categories,
            dry_run=bool(args.get("dry_run")),
            compile_bytecode=not args.get("no_compile") and not env_flag(environ, "PIP_NO_COMPILE"),
            link_mode=link_mode(args.get("link_mode"), environ),
            verbosity=int(args.get("verbose") or 0) - int(args.get("quiet") or 0),
            json_output=bool(args.get("json")),
            clear=bool(args.get("clear")),
            pre=bool(args.get("pre")),
            ignore_virtualenvs=env_flag(environ, "PIPENV_IGNORE_VIRTUALENVS"),
            virtual_env=Path(virtual_env) if virtual_env else None,
            timeout=env_float(environ, "PIPENV_REQUESTS_TIMEOUT", env_float(environ, "PIP_DEFAULT_TIMEOUT", 15.0)),
            install_timeout=env_float(environ, "PIPENV_INSTALL_TIMEOUT", 300.0),
            workers=int(env_float(environ, "PIPENV_MAX_SUBPROCESS", 8)),
            exclude_newer=args.get("exclude_newer"),
            refresh=bool(args.get("refresh")),
            offline=bool(args.get("offline")),
            backend_url=args.get("backend") or environ.get("THOTH_HOST") or None,
            runtime_environment=args.get("runtime_environment") or environ.get("THAMOS_RUNTIME_ENVIRONMENT") or None,
            formats=_formats(args, environ),
        )

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def inputs(self) -> Path:
        """Where the Pipfile, locks and requirements files are: the overlay, else the project."""
        return self.input_dir or self.project_dir

    @property
    def pipfile_path(self) -> Path:
        return self.pipfile or self.inputs / "Pipfile"

    @property
    def lock_path(self) -> Path:
        return self.pipfile_path.with_name(self.pipfile_path.name + ".lock")

    def selected_categories(self) -> tuple[str, ...]:
        """Lock sections to install: pipenv's rules for --dev and --categories."""
        if self.categories:
            return self.categories
        return (DEFAULT_CATEGORY, DEVELOP_CATEGORY) if self.dev else (DEFAULT_CATEGORY,)

    @property
    def use_active_virtualenv(self) -> bool:
        return self.virtual_env is not None and not self.ignore_virtualenvs and not self.system


def _formats(args: Mapping[str, Any], environ: Mapping[str, str]) -> Formats:
    """pip's binary options: PIP_NO_BINARY / PIP_ONLY_BINARY / PIP_PREFER_BINARY, then the flags."""
    formats = ANY_FORMAT
    for option, env in (("--no-binary", "PIP_NO_BINARY"), ("--only-binary", "PIP_ONLY_BINARY")):
        if environ.get(env, "").strip():
            formats = formats.with_option(option, environ[env].replace(" ", ","))
    for option, key in (("--no-binary", "no_binary"), ("--only-binary", "only_binary")):
        for value in args.get(key) or ():
            formats = formats.with_option(option, value)
    prefer = bool(args.get("prefer_binary")) or env_flag(environ, "PIP_PREFER_BINARY")
    return replace(formats, prefer_binary=prefer)


def _project_location(directory: Optional[str], environ: Mapping[str, str]) -> tuple[Path, Optional[Path]]:
    """``-C DIR`` wins; else ``PIPENV_PIPFILE`` names the Pipfile (and so the project); else cwd."""
    if directory:
        path = Path(directory).expanduser()
        if not path.is_dir():
            raise UsageError(f"project directory {directory} does not exist")
        return path.resolve(), None
    pipfile = environ.get("PIPENV_PIPFILE")
    if pipfile:
        path = Path(pipfile).expanduser().resolve()
        return path.parent, path
    return Path(os.getcwd()), None


def _categories(given: Optional[Sequence[str] | str], environ: Mapping[str, str]) -> tuple[str, ...]:
    raw = given if given else environ.get("PIPENV_CATEGORIES") or environ.get("PIPENV_DEFAULT_CATEGORIES", "")
    if isinstance(raw, str):
        raw = [raw]
    names: list[str] = []
    for chunk in raw:
        for name in chunk.replace(",", " ").split():
            name = {"packages": DEFAULT_CATEGORY, "dev-packages": DEVELOP_CATEGORY}.get(name, name)
            if name not in names:
                names.append(name)
    return tuple(names)
