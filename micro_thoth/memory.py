"""What a long-lived process keeps in memory from one job to the next: bounded maps, used only once ``keep()`` is called.

A backend's resolver process runs job after job on one machine, against the
same indexes and stores. Once it calls ``keep()``, the layers that read the
stores keep what they read in bounded LRU maps (``Kept``): the index's parsed
project pages (under the same freshness window as the store: a page fetched at
T is served until T + ttl, ``--refresh`` always asks the index), each file's
metadata (by digest: it never changes), the open stores, this machine's
detection (for a short while). A command-line run never calls it: every run
reads its stores afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Optional, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_KEEPING = False


def keep() -> None:
    """From now on this process keeps what the ``Kept`` maps hold (a resolver process calls it once)."""
    global _KEEPING
    _KEEPING = True


def keeping() -> bool:
    return _KEEPING


class Kept(Generic[K, V]):
    """A thread-safe map of at most ``size`` entries, the least recently used dropped first;
    empty and inert unless the process ``keep()``s."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: Optional[K]) -> Optional[V]:
        if not _KEEPING or key is None:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Optional[K], value: V) -> None:
        if not _KEEPING or key is None:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def setdefault(self, key: K, make: Callable[[], V]) -> V:
        """The kept value of ``key``, else ``make()`` (kept when keeping)."""
        found = self.get(key)
        if found is not None:
            return found
        value = make()
        self.put(key, value)
        return value

    def drop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)
