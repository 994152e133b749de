"""Typo-squatting checks and did-you-mean suggestions over the most downloaded project names.

``micro_thoth/data/popular-packages.txt`` lists ~15,000 normalised names, most
downloaded first (``#`` lines are comments). It is read once, on first use; a
name found in it is popular and needs nothing more (a lock's requested names
usually are). Otherwise the list is indexed by name length, so a query compares
only names within the edit distance (optimal string alignment: a swap of two
letters counts as one edit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Optional

from packaging.utils import canonicalize_name

from ..cached import cached_property

POPULAR_TOP = 5000  # a "much more popular" project is among these


@dataclass(frozen=True)
class PopularNames:
    """The popularity list: rank by name; the indexes by length and by bare name are built on
    first use (a lock whose requested names are all popular needs only ``rank``)."""

    rank: dict[str, int]

    @classmethod
    def parse(cls, text: str) -> PopularNames:
        """The list's names, normalised; the shipped list already is (every lock reads it), which one
        ``canonicalize_name`` of all its names at once proves: then none is normalised one by one."""
        names = [name for line in text.splitlines() if (name := line.strip()) and not line.startswith("#")]
        joined = "\n".join(names)
        if canonicalize_name(joined) != joined:  # a name to normalise (no separator spans a line)
            names = [canonicalize_name(name) for name in names]
        rank: dict[str, int] = {}
        for i, name in enumerate(names):
            rank.setdefault(name, i)
        return cls(rank)

    @cached_property
    def by_length(self) -> dict[int, tuple[str, ...]]:
        grouped: dict[int, list[str]] = {}
        for known in self.rank:
            grouped.setdefault(len(known), []).append(known)
        return {n: tuple(v) for n, v in grouped.items()}

    @cached_property
    def by_bare(self) -> dict[str, tuple[str, ...]]:
        """The name without separators -> names (a normalised name's only separator is ``-``)."""
        bare: dict[str, list[str]] = {}
        for known in self.rank:
            bare.setdefault(known.replace("-", ""), []).append(known)
        return {b: tuple(v) for b, v in bare.items()}

    def near(self, name: str, distance: int) -> list[tuple[str, int]]:
        """(popular name, edit distance) within ``distance`` of ``name``, excluding itself."""
        # imported here: rapidfuzz (≈ 8 ms) serves only a name that is not popular itself
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        pool = [n for length in range(len(name) - distance, len(name) + distance + 1) for n in self.by_length.get(length, ())]
        found = process.extract(name, pool, scorer=OSA.distance, score_cutoff=distance, limit=None)
        return [(match, int(score)) for match, score, _ in found if match != name]


@lru_cache(maxsize=1)
def popular_names() -> PopularNames:
    text = resources.files("micro_thoth").joinpath("data/popular-packages.txt").read_text(encoding="utf-8")
    return PopularNames.parse(text)


def _max_distance(name: str) -> int:
    return 1 if len(name) <= 5 else 2


def suggest(name: str, *, limit: int = 3, names: Optional[PopularNames] = None) -> list[str]:
    """Popular names close to ``name``, closest and most popular first (for "did you mean")."""
    names = names or popular_names()
    key = canonicalize_name(name)
    found = names.near(key, _max_distance(key) + (1 if len(key) > 8 else 0))
    found += [(n, 0) for n in _same_without_separators(key, names)]
    ranked = sorted(dict(found).items(), key=lambda item: (item[1], names.rank[item[0]]))
    return [n for n, _ in ranked[:limit]]


def _same_without_separators(key: str, names: PopularNames) -> list[str]:
    return [n for n in names.by_bare.get(key.replace("-", ""), ()) if n != key]


def looks_like_typosquat(name: str, *, names: Optional[PopularNames] = None) -> Optional[str]:
    """The popular project ``name`` imitates, if it is not popular itself and is one or two edits away."""
    names = names or popular_names()
    key = canonicalize_name(name)
    if key in names.rank:
        return None
    close = [(n, d) for n, d in names.near(key, _max_distance(key)) if names.rank[n] < POPULAR_TOP]
    close += [(n, 0) for n in _same_without_separators(key, names) if names.rank[n] < POPULAR_TOP]
    if not close:
        return None
    return min(close, key=lambda item: (item[1], names.rank[item[0]]))[0]


def typosquat_warnings(requirements: Sequence[str], *, names: Optional[PopularNames] = None) -> dict[str, str]:
    """``{requested name: the popular name it resembles}`` for the names that look like typos."""
    out: dict[str, str] = {}
    for requested in requirements:
        target = looks_like_typosquat(requested, names=names)
        if target is not None:
            out[requested] = target
    return out


def typo_warnings(names: Iterable[str]) -> list[str]:
    """One line per requested name that looks like a typo of a much more popular project."""
    out = []
    for name in names:
        popular = looks_like_typosquat(name)
        if popular is not None:
            out.append(f"'{name}' is not a popular project but looks like '{popular}': did you mean '{popular}'?")
    return out
