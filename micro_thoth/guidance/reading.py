"""Strict reads of prescription YAML values; a failure names the file, the unit and the key path (pure).

``prescriptions.py`` builds units from these: each reader takes the ``At``
where the value stands and either returns it typed or raises ``InputFileError``
(``units.sieves[0].match.package_version.nme: unknown key ...``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn, Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from .. import values as read
from ..closest import closest
from .units import Selector


class At(NamedTuple):
    """Where in which file the parser is, to name it in errors (a tuple: a sync builds millions, a lock thousands)."""

    path: str
    keys: str = ""
    unit: Optional[str] = None

    def key(self, name: object) -> At:
        return At(self.path, f"{self.keys}.{name}" if self.keys else str(name), self.unit)

    def item(self, index: int) -> At:
        return At(self.path, f"{self.keys}[{index}]", self.unit)

    def about(self, unit: str) -> At:
        """The same place, in the unit called ``unit``."""
        return At(self.path, self.keys, unit)

    def fail(self, message: str) -> NoReturn:
        text = f"prescription unit '{self.unit}': {message}" if self.unit else message
        raise read.fail(text, self.path, self.keys)


def mapping_at(at: At, value: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        at.fail(f"expected a mapping, got {kind_of(value)}")
    for key in value:
        if key not in allowed:
            close = closest(str(key), allowed)
            at.key(key).fail(f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    for key in required:
        if key not in value:
            at.key(key).fail("this key is required")
    return value


def kind_of(value: Any) -> str:
    return read.kind(value, mapping="a mapping")


def list_at(at: At, value: Any, *, allow_single: bool = False) -> list[Any]:
    if isinstance(value, list) and value:
        return value
    if allow_single and isinstance(value, dict):
        return [value]
    at.fail(f"expected a non-empty list, got {kind_of(value)}")


def string_at(at: At, value: Any, key: Optional[str] = None) -> str:
    """``value`` stripped; it stands at ``at``, or under its ``key`` when one is given (named only on failure)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    stripped = value.strip() if isinstance(value, str) else ""
    if not stripped:
        (at if key is None else at.key(key)).fail(f"expected a non-empty string, got {kind_of(value)}")
    return stripped


def bool_at(at: At, value: Any) -> bool:
    if not isinstance(value, bool):
        at.fail(f"expected true or false, got {kind_of(value)}")
    return value


def name_at(at: At, value: Any, key: Optional[str] = None) -> NormalizedName:
    """``value`` as a canonical package name; placed as ``string_at`` places it."""
    text = string_at(at, value, key)
    name = _name(text)
    if name is None:
        (at if key is None else at.key(key)).fail(f"'{text}' is not a valid package name")
    return name


_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


@lru_cache(maxsize=4096)  # a compiled store's wraps name the same few packages again and again
def _name(text: str) -> Optional[NormalizedName]:
    """``text`` canonicalized, or None when it is not a valid package name."""
    return canonicalize_name(text) if _NAME.fullmatch(text) else None


def specifier_at(at: At, value: Any) -> SpecifierSet:
    text = string_at(at, value)
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        at.fail(f"'{text}' is not a version specifier (example: '>=1.0,<2')")
        raise AssertionError from exc  # unreachable; keeps the chain for type checkers


def selector_at(at: At, value: Any, item: Any) -> Selector:
    negate = isinstance(value, dict)
    if negate:
        value = mapping_at(at, value, ("not",), ("not",))["not"]
        at = at.key("not")
    items = list_at(at, value)
    return Selector(tuple(None if v is None else item(at.item(i), v) for i, v in enumerate(items)), negate)


def int_at(at: At, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        at.fail(f"expected an integer, got {kind_of(value)}")
    return value
