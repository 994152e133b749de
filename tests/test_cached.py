"""``cached.cached_property``: computed once per object, kept in its ``__dict__``, and no lock across objects."""

from __future__ import annotations

import threading
from dataclasses import FrozenInstanceError, dataclass

import pytest

from micro_thoth.cached import cached_property


@dataclass(frozen=True)
class Counted:
    name: str

    @cached_property
    def upper(self) -> str:
        CALLS.append(self.name)
        return self.name.upper()


CALLS: list[str] = []


def test_computed_once_per_object_and_kept() -> None:
    CALLS.clear()
    a, b = Counted("a"), Counted("b")
    assert (a.upper, a.upper, b.upper) == ("A", "A", "B")
    assert CALLS == ["a", "b"]
    assert a.__dict__["upper"] == "A"  # where the next read finds it (also what index/pages.py fills in advance)
    with pytest.raises(FrozenInstanceError):
        a.name = "c"  # type: ignore[misc]  # the object stays frozen


def test_one_object_computing_does_not_hold_up_another() -> None:
    """Python 3.11's functools.cached_property holds one lock per property of the class while it
    computes: here, reading ``other`` would wait for ``first`` (which waits for that read) until
    the guard's timeout, and ``first`` would see the read never happened."""
    inside, read_done, saw = threading.Event(), threading.Event(), []

    class Slow:
        def __init__(self, wait: bool) -> None:
            self.wait = wait

        @cached_property
        def value(self) -> int:
            if self.wait:
                inside.set()
                saw.append(read_done.wait(timeout=10))  # a guard against a hang, not a timing
            return 1

    first = threading.Thread(target=lambda: Slow(True).value)
    first.start()
    assert inside.wait(timeout=10)
    assert Slow(False).value == 1  # another object's value, while the first is being computed
    read_done.set()
    first.join()
    assert saw == [True]
