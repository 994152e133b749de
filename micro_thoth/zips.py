"""Zip archives we did not write (wheels): the one list of zipfile's ways to fail, translated once.

``zipfile`` fails in many ways on a damaged or hostile archive: ``BadZipFile``
(no central directory, a bad CRC), ``LargeZipFile``, ``NotImplementedError``
(an unknown compression method), ``EOFError`` (truncated), ``zlib.error`` (a
corrupt deflate stream), ``RuntimeError`` (a member flagged encrypted). The
index's metadata reads, the ABI reader and the installer's checks each turn all
of them into their own error through here.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

UNREADABLE: tuple[type[Exception], ...] = (
    zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error,
    RuntimeError,  # a member flagged encrypted: "password required for extraction"
)


@contextmanager
def unreadable_as(fail: Callable[[str], Exception], *also: type[Exception]) -> Iterator[None]:
    """Run the block; an archive that cannot be read raises ``fail("not a readable wheel: <why>")``
    from the cause (``also``: more exceptions the caller counts as unreadable, e.g. ``KeyError``)."""
    try:
        yield
    except (*UNREADABLE, *also) as exc:
        raise fail(f"not a readable wheel: {exc}") from exc
