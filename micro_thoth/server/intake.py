"""Checking a request's files before any job exists: a Pipfile or lock that does not parse is the request's fault.

Every check is linear in the size of the request: TOML goes through the
standard library's parser (``tomllib``; ``tomli`` before Python 3.11), the
lock and requirements files through our own parsers, which scan line by line.
Errors name the request member (``application_stack.requirements``) and, inside
it, the key path the file parser reported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .. import errors
from ..formats import pipfile_lock, requirements
from ..formats.pipfile import pipfile_from_data, section_name
from ..models import Dependency, redact_url
from ..resolve.wire import AdviseRequest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the [server] extra installs tomli there
    import tomli as tomllib

T = TypeVar("T")
SOURCE = "advise input"


def toml_data(text: str, field: str = "requirements") -> dict[str, Any]:
    """TOML text as plain data, in linear time; a syntax error names ``field``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise errors.InputFileError(f"the Pipfile is not valid TOML: {exc}", path=SOURCE, key_path=field) from exc


def _within(field: str, check: Callable[[], T]) -> T:
    """Run a file parser; its error is re-raised naming the request member it came from."""
    try:
        return check()
    except errors.InputFileError as exc:
        inner = f"{field}.{exc.key_path}" if exc.key_path else field
        raise errors.InputFileError(exc.reason, path=SOURCE, key_path=inner, hint=exc.hint) from exc


def _no_includes(path: str) -> str:
    raise OSError(f"{path}: the backend does not read files named in a request")


def _no_local_files(entries: Iterable[tuple[Dependency, str]]) -> None:
    """Refuse a path or ``file://`` entry: it names a file of the client's machine, and the backend
    reads none of its own for a request (the client refuses them before asking, too)."""
    for dep, key_path in entries:
        if dep.direct is not None and dep.direct.local_path() is not None:
            raise errors.InputFileError(
                f"{dep.name} is a local path ({redact_url(dep.direct.location)}), which the backend does not read",
                path=SOURCE, key_path=key_path, hint="lock it where the file is, without a backend",
            )


def check_files(request: AdviseRequest, prefix: str = "") -> Mapping[str, Any]:
    """Parse the request's requirements and lock as the resolver will; returns the Pipfile data (pipenv)."""
    field, locked = f"{prefix}requirements", f"{prefix}requirements_lock"
    if request.requirements_format == "pipenv":
        data = toml_data(request.requirements, field)
        pipfile = _within(field, lambda: pipfile_from_data(data, "Pipfile"))
        _no_local_files((dep, f"{field}.{section_name(c)}.{dep.name}") for c, deps in pipfile.categories.items() for dep in deps)
        if request.requirements_lock:
            _within(locked, lambda: pipfile_lock.parse_lock(request.requirements_lock or "", "Pipfile.lock"))
        return data
    parsed = _within(field, lambda: requirements.parse_requirements(request.requirements, "requirements.in", read=_no_includes))
    _no_local_files((line.dependency, f"{field}.{line.where}") for line in parsed.requirements)
    if request.requirements_lock:
        text = request.requirements_lock
        _within(locked, lambda: requirements.parse_requirements(text, "requirements.txt", read=_no_includes))
    return {}
