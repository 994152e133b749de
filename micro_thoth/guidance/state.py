"""``state`` conditions over a resolved stack: which pins a stateful rule speaks about, whether its state holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .units import MatchEntry, PackageMatch, Unit

__all__ = ["offenders", "parse_stack", "pins_matching", "state_holds"]


def parse_stack(resolved: Mapping[str, object]) -> dict[NormalizedName, Version]:
    out: dict[NormalizedName, Version] = {}
    for name, version in resolved.items():
        try:
            out[canonicalize_name(name)] = version if isinstance(version, Version) else Version(str(version).lstrip("="))
        except InvalidVersion:
            continue
    return out


def offenders(
    unit: Unit, entry: MatchEntry, stack: Mapping[NormalizedName, Version], index_of: Mapping[NormalizedName, Optional[str]]
) -> list[NormalizedName]:
    """Pins taking part in a violated state rule: the matched package (steps), or every resolved one (strides)."""
    if entry.package is not None:
        return [n for n in pins_matching(entry.package, stack, index_of) if state_holds(entry.resolved, stack, index_of, skip=n)]
    if not state_holds(entry.resolved, stack, index_of):
        return []
    hit = {n for w in entry.resolved for n in pins_matching(w, stack, index_of)}
    return [n for n in stack if n in hit]


def pins_matching(
    wanted: PackageMatch, stack: Mapping[NormalizedName, Version], index_of: Mapping[NormalizedName, Optional[str]]
) -> list[NormalizedName]:
    """The pins of ``stack`` (canonical names) that ``wanted`` matches, in stack order: by name, one look-up."""
    if wanted.name is not None:
        version = stack.get(wanted.name)
        return [wanted.name] if version is not None and wanted.matches(wanted.name, version, index_of.get(wanted.name)) else []
    return [n for n, v in stack.items() if wanted.matches(n, v, index_of.get(n))]


def state_holds(
    resolved: Sequence[PackageMatch], stack: Mapping[NormalizedName, Version], index_of: Mapping[NormalizedName, Optional[str]], skip: Optional[str] = None
) -> bool:
    if not resolved:
        return False
    for wanted in resolved:
        if wanted.name is not None:  # by name: one look-up, not a walk of the stack (a run checks thousands of wraps)
            version = stack.get(wanted.name)
            if wanted.name == skip or version is None or not wanted.matches(wanted.name, version, index_of.get(wanted.name)):
                return False
        elif not any(n != skip and wanted.matches(n, v, index_of.get(n)) for n, v in stack.items()):
            return False
    return True
