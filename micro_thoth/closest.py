"""Did-you-mean: the known names closest to a mistyped one, for every suggestion thoth-pip makes.

One scorer for all of them (rapidfuzz's normalised Indel similarity, the ratio
``difflib`` computes, at C speed): unknown Pipfile and prescription keys,
unknown commands, unknown project names (``index/suggest.py`` over the
popular-packages list). rapidfuzz is imported on the first suggestion: they are
made on error paths only, and a no-op sync must not pay for the import.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_CUTOFF = 60.0  # difflib.get_close_matches' 0.6


def closest(word: str, choices: Iterable[str], *, limit: int = 1, cutoff: float = DEFAULT_CUTOFF) -> tuple[str, ...]:
    """Up to ``limit`` of ``choices`` scoring at least ``cutoff`` (0-100) against ``word``, best first;
    equal scores keep the order of ``choices`` (a popularity order stays one)."""
    from rapidfuzz import fuzz, process

    pool = list(choices)
    matches = process.extract(word, pool, scorer=fuzz.ratio, limit=None, score_cutoff=cutoff)
    ranked = sorted(matches, key=lambda match: (-match[1], match[2]))
    return tuple(match[0] for match in ranked[:limit])
