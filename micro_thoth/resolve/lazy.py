"""Candidates made on demand and kept: resolvelib may iterate them many times, each is built once.

A project's releases are judged (their files read, the policy asked) newest first and
only as far as the resolver goes: it usually takes the first, so a page of hundreds
of releases costs the judging of a few.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Optional, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """An iterable over ``source``'s items, pulled when first reached and remembered.

    ``estimate`` is what the provider tells resolvelib's preference about the count
    without pulling anything: the releases the specifiers admit, before their files
    and the policy are judged.
    """

    def __init__(self, source: Iterator[T], estimate: int) -> None:
        self._source: Optional[Iterator[T]] = source
        self._seen: list[T] = []
        self.estimate = estimate

    def __iter__(self) -> Iterator[T]:
        index = 0
        while True:
            if index < len(self._seen):
                yield self._seen[index]
                index += 1
                continue
            if self._source is None:
                return
            item = next(self._source, None)
            if item is None:
                self._source = None
                return
            self._seen.append(item)

    def first(self) -> Optional[T]:
        return next(iter(self), None)


def newer_touched_first(items: Iterable[T], newest_first: Iterable[T], not_older: Callable[[T, T], bool], touch: Callable[[T], object]) -> Iterator[T]:
    """``items`` in their own order, each once ``touch`` has seen every item of ``newest_first`` not older than it, in
    that order: releases offered by score are judged as offering them newest first would have (what a report says
    held a pin back is judged) — only ever a prefix of ``newest_first``."""
    source = iter(newest_first)
    pending: list[T] = []
    for item in items:
        while True:
            if not pending:
                nxt = next(source, None)
                if nxt is None:
                    break
                pending.append(nxt)
            if not not_older(pending[0], item):
                break
            touch(pending.pop())
        yield item
