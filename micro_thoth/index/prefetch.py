"""Prefetching: work started early on a small thread pool, joined (never repeated) by the caller who needs it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Memo:
    """Computes each key once however many threads ask at once; failures are not remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Hashable, object] = {}
        self._running: dict[Hashable, Future[object]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._done:
                return self._done[key]  # type: ignore[return-value]
            future = self._running.get(key)
            owner = future is None
            if future is None:
                future = self._running[key] = Future()
        if not owner:
            return future.result()  # type: ignore[return-value]
        return self._compute(key, future, compute)

    def _compute(self, key: Hashable, future: Future[object], compute: Callable[[], T]) -> T:
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._running[key]
            future.set_exception(exc)
            raise
        with self._lock:
            self._done[key] = value
            del self._running[key]
        future.set_result(value)
        return value


_HINTS = threading.local()  # ``running`` on a pool thread while it runs a hint


def running_a_hint() -> bool:
    """Whether this thread runs a prefetch (a hint), not a caller's own ask (the main thread's, a server job's)."""
    return getattr(_HINTS, "running", False)


_POOLS: dict[int, ThreadPoolExecutor] = {}  # by size: started once per process, shared by every client
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="thoth-index")
        return pool


class Prefetcher:
    """Runs hints on a pool of ``workers`` threads, started on first use and kept for the process
    (a long-lived resolver process runs job after job: starting threads for each cost more than
    a small resolution); their errors are dropped (the real call raises them again).
    ``close`` cancels this prefetcher's hints that have not started, and drops those given after (a
    speculation running at close gives hints: the pool would run them for a command already done)."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[[T], object], arg: T) -> None:
        with self._lock:
            if self._closed:
                return
            if len(self._futures) >= 256:
                self._futures = [f for f in self._futures if not f.done()]
            self._futures.append(_pool(self._workers).submit(_quietly, fn, arg))

    def close(self) -> None:
        with self._lock:
            futures, self._futures, self._closed = self._futures, [], True
        for future in futures:
            future.cancel()


def _quietly(fn: Callable[[T], object], arg: T) -> None:
    _HINTS.running = True
    try:
        fn(arg)
    except Exception:  # a prefetch is a hint; the real call raises the error again
        pass
    finally:
        _HINTS.running = False
