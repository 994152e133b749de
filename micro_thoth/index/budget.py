"""A byte budget shared by threads: how much of the pages' bodies a process holds at once, fetched and not yet stored.

A cold lock fetches pages on eight prefetch threads and the resolver's own, and
speculation keeps them busy: without a bound, bodies of megabytes arrive while
the largest page is parsed and written (several times its size for a moment).
A page's load *holds* the bytes of its body from the first chunk read until its
rows are stored. Every load but the largest together may hold at most the
budget: a load starts, and reads each next chunk, only while they hold less,
unless it is the largest itself (or *urgent*: the resolver's own fetch). So the
bytes held stay below the largest body plus the budget and a chunk per load,
and no load waits on bytes held by one that waits on it: the largest never
waits on the budget, reads to its end, is stored and lets go. What the budget
costs is a read started or continued later, never a stall for good.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAGE_BODIES = 2 << 20  # measured: see docs/performance.md, "dependency speculation"


class Budget:
    """Bytes held across threads against a ``limit`` (see the module docstring)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._loads: dict[int, Hold] = {}  # the loads under way, by ticket
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        with self._changed:
            return self._held

    @contextmanager
    def holding(self, *, urgent: bool = False) -> Iterator[Hold]:
        """A load's hold, once the loads under way hold less than the limit but for the largest (at
        once when ``urgent``); every byte it holds is let go of on leaving."""
        with self._changed:
            while not urgent and self._loads and self._others() >= self.limit:
                self._changed.wait()
            ticket = next(self._tickets)
            hold = self._loads[ticket] = Hold(self, ticket, urgent)
        try:
            yield hold
        finally:
            with self._changed:
                del self._loads[ticket]
                self._held -= hold.size
                hold.size = 0
                self._changed.notify_all()

    def _largest(self) -> Hold:
        return max(self._loads.values(), key=lambda h: (h.size, -h.ticket))

    def _others(self) -> int:
        """The bytes held by every load but the largest."""
        return self._held - self._largest().size

    def _add(self, hold: Hold, size: int) -> None:
        with self._changed:
            while size > 0 and not hold.urgent and hold is not self._largest() and self._others() >= self.limit:
                self._changed.wait()
            self._held += size
            hold.size += size
            if size < 0:
                self._changed.notify_all()


class Hold:
    """The bytes one load holds, counted as they arrive."""

    def __init__(self, budget: Budget, ticket: int, urgent: bool) -> None:
        self._budget = budget
        self.ticket = ticket
        self.urgent = urgent
        self.size = 0

    def add(self, size: int) -> None:
        """``size`` more bytes held; waits first while the others hold the budget, unless this load is
        the largest or urgent."""
        self._budget._add(self, size)

    def reset(self) -> None:
        """Let go of every byte held so far (a retried read starts from nothing)."""
        self._budget._add(self, -self.size)
