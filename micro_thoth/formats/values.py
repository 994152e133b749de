"""Typed reads of parsed TOML / JSON values, failing with the file and key path."""

from __future__ import annotations

from typing import Any, Optional

from micro_thoth.errors import InputFileError

_KINDS = {bool: "a boolean", int: "a number", float: "a number", list: "an array", str: "a string"}


def kind(value: Any, *, mapping: str = "an object") -> str:
    """How an error names a value's type (``mapping``: "a table" in TOML, "an object" in JSON)."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return mapping
    return _KINDS.get(type(value), type(value).__name__)


def string(value: Any, path: Optional[str], key_path: str, *, mapping: str = "an object") -> str:
    if not isinstance(value, str):
        raise InputFileError(f"expected a string, got {kind(value, mapping=mapping)}", path=path, key_path=key_path)
    return value


def optional_string(value: Any, path: Optional[str], key_path: str, *, mapping: str = "an object") -> Optional[str]:
    return None if value is None else string(value, path, key_path, mapping=mapping)


def mapping_of(value: Any, path: Optional[str], key_path: Optional[str], *, mapping: str = "an object") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputFileError(f"expected {mapping}, got {kind(value, mapping=mapping)}", path=path, key_path=key_path)
    return value
