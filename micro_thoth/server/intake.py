"""Checking a request's files before any job exists: a Pipfile or lock that does not parse is the request's fault.

Every check is linear in the size of the request: TOML goes through the
standard library's parser (``tomllib``; ``tomli`` before Python 3.11), the
lock and requirements files through our own parsers, which scan line by line.
Errors name the request member (``application_stack.requirements``) and, inside
it, the key path the file parser reported.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .. import errors
from ..formats import pipfile_lock, requirements
from ..formats.pipfile import pipfile_from_data
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


def check_files(request: AdviseRequest, prefix: str = "") -> Mapping[str, Any]:
    """Parse the request's requirements and lock as the resolver will; returns the Pipfile data (pipenv)."""
    field, locked = f"{prefix}requirements", f"{prefix}requirements_lock"
    if request.requirements_format == "pipenv":
        data = toml_data(request.requirements, field)
        _within(field, lambda: pipfile_from_data(data, "Pipfile"))
        if request.requirements_lock:
            _within(locked, lambda: pipfile_lock.parse_lock(request.requirements_lock or "", "Pipfile.lock"))
        return data
    _within(field, lambda: requirements.parse_requirements(request.requirements, "requirements.in", read=_no_includes))
    if request.requirements_lock:
        text = request.requirements_lock
        _within(locked, lambda: requirements.parse_requirements(text, "requirements.txt", read=_no_includes))
    return {}
