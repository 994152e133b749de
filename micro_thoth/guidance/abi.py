"""ABI compatibility of native wheels: the symbol versions a wheel's ELF files need vs what a target provides.

Values only, and the pure judgement: ``WheelAbi`` (read by ``knowledge/abi.py``
from the wheel's ELF members, kept by the wheel's digest) against the set of
symbol versions the target's libc, libstdc++ and libgcc_s define
(``GLIBC_2.28``, ``GLIBCXX_3.4.25``, ``CXXABI_1.3.11``, ``GCC_7.0.0``...).
A version is judged only when the target names at least one version of its
family (``GLIBCXX``): libraries the wheel bundles, or the target does not
describe, are nobody's business here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class ElfNeeds:
    """What one ELF member of a wheel needs: libraries (DT_NEEDED) and (library, symbol version) pairs."""

    member: str
    needed: tuple[str, ...] = ()
    versions: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"member": self.member, "needed": list(self.needed), "versions": [list(v) for v in self.versions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ElfNeeds:
        return cls(str(data["member"]), tuple(str(n) for n in data.get("needed", ())),
                   tuple((str(lib), str(ver)) for lib, ver in data.get("versions", ())))


@dataclass(frozen=True)
class WheelAbi:
    """The ELF members of one wheel and what each needs (no member: pure Python or not Linux)."""

    members: tuple[ElfNeeds, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WheelAbi:
        return cls(tuple(ElfNeeds.from_dict(m) for m in data.get("members", ())))

    @property
    def required(self) -> frozenset[str]:
        return frozenset(version for member in self.members for _lib, version in member.versions)


@dataclass(frozen=True)
class MissingSymbol:
    """A symbol version a member needs that the target lacks; ``newest``: the target's newest of its family."""

    member: str
    library: str
    version: str
    newest: Optional[str]

    def describe(self) -> str:
        has = f"the target's newest {family(self.version)} is {self.newest}" if self.newest else "the target has none"
        return f"{self.version} (from {self.library}, needed by {self.member}); {has}"


def family(version: str) -> str:
    """``GLIBCXX_3.4.30`` -> ``GLIBCXX``; a name without a numeric tail (``GLIBC_PRIVATE``) is its own family."""
    head, sep, tail = version.rpartition("_")
    return head if sep and head and _numeric(tail) else version


def _numeric(text: str) -> bool:
    return bool(text) and all(part.isdigit() for part in text.split("."))


def _number(version: str) -> Optional[Version]:
    tail = version.rpartition("_")[2]
    try:
        return Version(tail) if _numeric(tail) else None
    except InvalidVersion:
        return None


def newest_of(family_name: str, provided: Iterable[str]) -> Optional[str]:
    """The highest ``family_name`` version in ``provided`` (``GLIBCXX`` -> ``GLIBCXX_3.4.30``)."""
    ranked = [(n, v) for v in provided if family(v) == family_name and (n := _number(v)) is not None]
    return max(ranked)[1] if ranked else None


def missing_symbols(abi: WheelAbi, provided: frozenset[str]) -> tuple[MissingSymbol, ...]:
    """Every needed version of a family the target describes that it does not define."""
    known = {family(v) for v in provided}
    out: list[MissingSymbol] = []
    for member in abi.members:
        for library, version in member.versions:
            if version not in provided and family(version) in known and _number(version) is not None:
                out.append(MissingSymbol(member.member, library, version, newest_of(family(version), provided)))
    return tuple(dict.fromkeys(out))


def summarize(provided: Iterable[str]) -> str:
    """``GLIBC 2.36, GLIBCXX 3.4.30, CXXABI 1.3.13, GCC 12.0.0``: the newest of each family."""
    names = sorted({family(v) for v in provided if _number(v) is not None})
    return ", ".join(f"{name} {newest.rpartition('_')[2]}" for name in names if (newest := newest_of(name, provided)))


def refusal_message(filename: str, missing: tuple[MissingSymbol, ...]) -> str:
    """Why a wheel cannot run on the target, naming the wheel, the symbols and what the target has."""
    shown = "; ".join(m.describe() for m in missing[:3])
    more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
    return f"{filename} needs symbol version {shown}{more}"
