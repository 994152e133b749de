"""Prefetching (index/prefetch.py): hints on the shared pool, and nothing of a closed prefetcher's run after."""

from __future__ import annotations

import threading

from micro_thoth.index.prefetch import Prefetcher, running_a_hint

WAIT = 10.0  # seconds a thread is given to get past a point it must get past


def test_a_hint_given_by_a_running_hint_after_close_is_dropped() -> None:
    """A speculation (a hint that gives hints: a likely pin's metadata, then its dependencies' pages)
    still running when the command closes its prefetcher gives no work to the pool: the interpreter's
    exit would wait for it, and a server's resolver process would fetch for a job already answered."""
    prefetcher = Prefetcher(1)  # a pool of one thread: its hints run in the order given
    started, go, gave = threading.Event(), threading.Event(), threading.Event()
    ran: list[str] = []

    def speculation(_: None) -> None:
        started.set()
        go.wait(WAIT)
        prefetcher.submit(ran.append, "late")
        gave.set()

    prefetcher.submit(speculation, None)
    assert started.wait(WAIT)
    prefetcher.close()
    go.set()
    assert gave.wait(WAIT)
    after = Prefetcher(1)  # the same pool: its hint runs after any the speculation gave
    done = threading.Event()
    after.submit(lambda _: done.set(), None)
    assert done.wait(WAIT)
    assert ran == []


def test_a_hint_knows_it_is_one_and_a_caller_that_it_is_not() -> None:
    seen: list[bool] = []
    done = threading.Event()
    Prefetcher(2).submit(lambda _: (seen.append(running_a_hint()), done.set()), None)
    assert done.wait(WAIT)
    assert seen == [True] and not running_a_hint()
