"""A value computed once per object and kept in its ``__dict__``, with no lock: Python 3.12's ``cached_property``.

Up to Python 3.11, ``functools.cached_property`` holds one lock per property *of the class* while
it computes a value: the first read of ``Release._judged`` of any release, on any thread, waits
for every other release's judging on every other thread. A warm lock's main thread waited
80 to 160 ms on that lock while the prefetch threads judged the releases of their own guesses
(``Finder.read_likely_abi``). Python 3.12 dropped the lock (a value may be computed twice by two
threads; both are the same, one is kept); this is that form, for 3.9 to 3.11. The values kept
here are pure functions of the object, so computing one twice changes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar

__all__ = ["cached_property"]

if TYPE_CHECKING or sys.version_info >= (3, 12):
    from functools import cached_property
else:
    _T = TypeVar("_T")

    class cached_property(Generic[_T]):  # functools' name: it reads the same
        """``functools.cached_property`` of Python 3.12: no lock."""

        def __init__(self, func: Callable[[Any], _T]) -> None:
            self.func = func
            self.attrname: Optional[str] = None
            self.__doc__ = func.__doc__
            self.__module__ = func.__module__

        def __set_name__(self, owner: type, name: str) -> None:
            if self.attrname is None:
                self.attrname = name
            elif name != self.attrname:
                raise TypeError(f"cannot assign the same cached_property to two names ({self.attrname!r} and {name!r})")

        def __get__(self, instance: Any, owner: Optional[type] = None) -> Any:
            if instance is None:
                return self
            if self.attrname is None:
                raise TypeError("cannot use cached_property without calling __set_name__ on it")
            value = self.func(instance)
            instance.__dict__[self.attrname] = value  # read from there from now on (no __set__ here)
            return value
