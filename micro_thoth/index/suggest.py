"""Did-you-mean suggestions for an unknown project name, from the popular-packages list we ship."""

from __future__ import annotations

import functools
from importlib import resources

from packaging.utils import canonicalize_name

from ..closest import closest

POPULAR_RESOURCE = "popular-packages.txt"
SCORE_CUTOFF = 80.0


@functools.lru_cache(maxsize=1)
def popular_names() -> tuple[str, ...]:
    """The shipped list, most downloaded first (comment lines skipped); read once, on first use."""
    text = (resources.files("micro_thoth") / "data" / POPULAR_RESOURCE).read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def suggest(name: str, *, limit: int = 3, candidates: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Up to ``limit`` close, popular names (best match first; ties keep popularity order)."""
    wanted = canonicalize_name(name)
    pool = popular_names() if candidates is None else candidates
    return closest(wanted, (name for name in pool if name != wanted), limit=limit, cutoff=SCORE_CUTOFF)
