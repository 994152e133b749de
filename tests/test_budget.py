"""The byte budget on page bodies held at once (index/budget.py): the bound, and that every load finishes."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from micro_thoth.index.budget import Budget, Hold

WAIT = 10.0  # seconds a thread is given to get past a point it must get past (never reached when it works)
BLOCKED = 0.2  # seconds a thread that must be waiting is watched for


@contextmanager
def started(budget: Budget, size: int = 0) -> Iterator[Hold]:
    with budget.holding() as hold:
        hold.add(size)
        yield hold


def in_thread(work: object) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        work()  # type: ignore[operator]
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def test_a_load_starts_only_while_the_others_hold_less_than_the_budget() -> None:
    budget = Budget(10)
    with ExitStack() as stack:
        stack.enter_context(started(budget, 50))  # the largest: not counted against the budget
        small = stack.enter_context(started(budget, 5))
        stack.enter_context(started(budget, 6))  # 5 + 6 by the others: the budget is spent
        assert budget.held == 61
        _thread, began = in_thread(lambda: started(budget).__enter__())
        assert not began.wait(BLOCKED)  # waits ...
        small.reset()  # ... until the others hold less than the budget
        assert began.wait(WAIT)


def test_a_load_past_the_budget_waits_before_its_next_chunk_and_goes_on_when_another_lets_go() -> None:
    budget = Budget(10)
    with ExitStack() as stack:
        stack.enter_context(started(budget, 50))
        other = stack.enter_context(started(budget, 4))
        mine = stack.enter_context(started(budget, 6))
        _thread, read = in_thread(lambda: mine.add(1))
        assert not read.wait(BLOCKED)
        other.reset()
        assert read.wait(WAIT)
        assert budget.held == 57


def test_the_largest_load_and_an_urgent_one_never_wait() -> None:
    budget = Budget(1)
    with started(budget, 5) as largest, started(budget, 3):
        _thread, read = in_thread(lambda: largest.add(100))  # the others hold 3 > 1: the largest reads on
        assert read.wait(WAIT)

        def urgent() -> None:
            with budget.holding(urgent=True) as hold:
                hold.add(7)

        _thread, done = in_thread(urgent)
        assert done.wait(WAIT)
    assert budget.held == 0


def test_every_load_finishes_and_the_bytes_held_stay_within_the_bound() -> None:
    """Eight threads, each loading pages chunk by chunk, then parsing them one at a time (as project pages
    are): all of them finish, and the bytes held never pass the largest body plus the budget and a chunk
    a thread; without the budget they would hold every body at once."""
    limit, chunk, threads, biggest = 50_000, 1_000, 8, 200_000
    budget, parsing, seen = Budget(limit), threading.Semaphore(1), []
    rng = random.Random(17)
    sizes = [[rng.randrange(chunk, biggest + 1, chunk) for _ in range(6)] for _ in range(threads)]
    read_first, arrived = threading.Condition(), [0]

    def loads(mine: list[int]) -> None:
        for n, size in enumerate(mine):
            with budget.holding() as hold:
                for _ in range(size // chunk):
                    hold.add(chunk)
                    seen.append(budget.held)
                if n == 0:  # every first body read before any is let go of, as far as the budget allows
                    with read_first:
                        arrived[0] += 1
                        read_first.notify_all()
                        read_first.wait_for(lambda: arrived[0] == threads, BLOCKED)
                with parsing:
                    seen.append(budget.held)

    workers = [threading.Thread(target=loads, args=(mine,), daemon=True) for mine in sizes]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT * 3)
    assert not any(w.is_alive() for w in workers)
    assert budget.held == 0
    assert max(seen) <= biggest + limit + threads * chunk < sum(max(s) for s in sizes)


def test_of_two_loads_equally_large_the_older_reads_on_and_the_other_once_it_is_done() -> None:
    budget = Budget(1)
    older_done, newer_done = ExitStack(), ExitStack()
    older = older_done.enter_context(budget.holding())
    newer = newer_done.enter_context(budget.holding())
    newer.add(5)
    older.add(5)  # the others held 0 until it was counted
    _thread, newer_read = in_thread(lambda: newer.add(1))  # 5 and 5: the older is the largest
    assert not newer_read.wait(BLOCKED)
    _thread, older_read = in_thread(lambda: older.add(1))
    assert older_read.wait(WAIT)
    older_done.close()  # the largest is done: the other is the largest now
    assert newer_read.wait(WAIT)
    newer_done.close()
    assert budget.held == 0


def test_a_load_that_raises_mid_body_lets_go_of_its_bytes_and_wakes_those_waiting() -> None:
    budget = Budget(1)
    with started(budget, 50):
        waiting = threading.Event()

        def failing() -> None:
            try:
                with budget.holding() as hold:
                    hold.add(3)
                    waiting.wait(WAIT)
                    raise OSError("connection lost mid-body")
            except OSError:
                pass

        _thread, failed = in_thread(failing)
        _thread, began = in_thread(lambda: started(budget).__enter__())
        assert not began.wait(BLOCKED)  # the failing load holds 3 > 1
        waiting.set()
        assert failed.wait(WAIT) and began.wait(WAIT)
        assert budget.held == 50
