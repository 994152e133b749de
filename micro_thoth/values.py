"""Typed reads of parsed TOML / JSON / YAML values, failing with the file and the key path.

The one reader of the house: formats/, ``.thoth.yaml``, prescriptions, the
backend's wire and the runtime environment read untrusted data through these
functions, so a bad value always raises ``InputFileError`` naming the file
(``path``) and the member (``key_path``, e.g. ``runtime_environment.hardware.cpu_family``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Optional

from micro_thoth.errors import InputFileError

_KINDS = {bool: "a boolean", int: "a number", float: "a number", list: "an array", str: "a string"}


def kind(value: Any, *, mapping: str = "an object") -> str:
    """How an error names a value's type (``mapping``: "a table" in TOML, "an object" in JSON)."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return mapping
    return _KINDS.get(type(value), type(value).__name__)


def join(prefix: Optional[str], key: object) -> str:
    """``hardware`` + ``cpu_family`` -> ``hardware.cpu_family`` (no prefix: the key alone)."""
    return f"{prefix}.{key}" if prefix else str(key)


def fail(message: str, path: Optional[str], key_path: Optional[str]) -> InputFileError:
    return InputFileError(message, path=path, key_path=key_path or None)


_EXPECTED = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list", dict: "an object"}


def optional(value: Any, kinds: tuple[type, ...], path: Optional[str], key_path: str) -> Any:
    """``value`` if it is None or one of ``kinds`` (a boolean only when ``bool`` is one of them)."""
    if value is None:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_EXPECTED.get(k, k.__name__) for k in kinds)
        raise fail(f"expected {expected}, got {kind(value)}", path, key_path)
    return value


def choice(value: str, choices: Sequence[str], path: Optional[str], key_path: str) -> str:
    if value not in choices:
        raise fail(f"{value!r} is not one of {', '.join(choices)}", path, key_path)
    return value


def string(value: Any, path: Optional[str], key_path: str, *, mapping: str = "an object") -> str:
    if not isinstance(value, str):
        raise fail(f"expected a string, got {kind(value, mapping=mapping)}", path, key_path)
    return value


def optional_string(value: Any, path: Optional[str], key_path: str, *, mapping: str = "an object") -> Optional[str]:
    return None if value is None else string(value, path, key_path, mapping=mapping)


def optional_integer(value: Any, path: Optional[str], key_path: str) -> Optional[int]:
    """An integer or None; a boolean is not an integer here."""
    return optional(value, (int,), path, key_path)  # type: ignore[no-any-return]


def mapping_of(value: Any, path: Optional[str], key_path: Optional[str], *, mapping: str = "an object") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(f"expected {mapping}, got {kind(value, mapping=mapping)}", path, key_path)
    return value


def object_of(value: Any, path: Optional[str], key_path: Optional[str]) -> Mapping[str, Any]:
    """A JSON object (any mapping) whose keys are all strings."""
    if not isinstance(value, Mapping):
        raise fail(f"expected an object, got {kind(value)}", path, key_path or "(root)")
    for key in value:
        if not isinstance(key, str):
            raise fail(f"keys must be strings, got {key!r}", path, key_path or "(root)")
    return value


def string_list(value: Any, path: Optional[str], key_path: str) -> list[str]:
    """A list of strings; the culprit's index is in the key path (``platform[1]``)."""
    if not isinstance(value, list):
        raise fail(f"expected a list of strings, got {kind(value)}", path, key_path)
    for i, item in enumerate(value):
        string(item, path, f"{key_path}[{i}]")
    return value


def text_mapping(value: Any, path: Optional[str], key_path: str, *, mapping: str = "an object") -> dict[str, str]:
    """Names to scalar values, as text (YAML's ``1`` is ``"1"``, null is ``""``); a nested value is refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(f"expected {mapping}, got {kind(value, mapping=mapping)}", path, key_path)
    for key, item in value.items():
        if isinstance(item, (Mapping, list)):
            raise fail(f"expected a string, got {kind(item, mapping=mapping)}", path, join(key_path, key))
    return {str(key): "" if item is None else str(item) for key, item in value.items()}


def frozen(value: Any) -> Any:
    """A read-only deep copy of JSON data (mappings become mapping proxies, lists tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain, mutable JSON data from a value made by ``frozen`` (or any JSON-like value)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return copy.copy(value)


def json_value(value: Any, path: Optional[str], key_path: str) -> None:
    """Refuse anything JSON cannot carry (data that must survive a round trip)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, Mapping):
        for key, item in object_of(value, path, key_path).items():
            json_value(item, path, join(key_path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            json_value(item, path, f"{key_path}[{i}]")
    else:
        raise fail(f"not a JSON value: {type(value).__name__}", path, key_path)
