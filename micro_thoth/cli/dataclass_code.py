"""Start-up speed: the methods ``dataclasses`` writes for each class, compiled once per installation.

For every dataclass, Python (3.9 to 3.12) writes ``__init__``, ``__repr__`` and ``__eq__`` (and, for a
frozen class, ``__hash__``, ``__setattr__`` and ``__delattr__``) as source text and compiles each
with ``exec`` as the class is made: a lock makes ≈ 90 classes, ≈ 540 compilations of ≈ 130 KB of
source on every start, a third of the instructions of a lock's imports (callgrind: 932 M -> 619 M
for ``thoth-pip lock --help``) and 14 % of a warm lock's. ``install`` gives the ``dataclasses``
module an ``exec`` that looks the text up in a table of code objects compiled by an earlier run
and runs that code object; a text it does not find is compiled as the built-in ``exec`` compiles it
(file name ``<string>``, no ``__future__`` flags inherited), so every class gets the same methods.

The table is keyed by the source text itself (a changed class is a new text), lives beside this
module's own bytecode (its ``__pycache__``, or under ``sys.pycache_prefix``), one file per
interpreter bytecode tag and optimisation level, and is written back at exit (atomically, only when
it grew, only where Python itself writes bytecode: not under ``PYTHONDONTWRITEBYTECODE``). The file
starts with the interpreter's bytecode magic number and the CRC-32 of what follows: a table of
another build of Python (same tag, other bytecode) or damaged on disk is never unmarshalled (one byte
changed in a code object crashed every later start, and no run rewrote it). A table that cannot be
read is an empty one; one that cannot be written is not written.
"""

from __future__ import annotations

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
import types
from typing import Any, Optional

MAX_ENTRIES = 2000  # every command's classes make ≈ 800 texts; a table grown past this keeps one run's


class _Table:
    """The code objects by source text: the table read (at the first class), and those this run used."""

    def __init__(self) -> None:
        self.path: Optional[str] = None
        self.known: Optional[dict[str, types.CodeType]] = None  # found and read when the first class is made
        self.used: dict[str, types.CodeType] = {}
        self.grew = False

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        """``exec`` as ``dataclasses`` calls it, with the text's code object compiled once."""
        if type(source) is str:
            if self.known is None:
                self.path = table_path()
                self.known = _read(self.path)
            code = self.known.get(source)
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.known[source] = code
                self.grew = True
            self.used[source] = code
            source = code
        builtins.exec(source, globals, locals)

    def save(self) -> None:
        """Write the table back when this run compiled a text it did not have (see the module's docstring)."""
        if not self.grew or self.known is None or self.path is None or sys.dont_write_bytecode:
            return
        table = self.known if len(self.known) <= MAX_ENTRIES else self.used
        # imported at exit, and only here: a run that compiled nothing new never needs it
        from pathlib import Path

        from ..fs import atomic_write

        try:
            payload = marshal.dumps(table)
            atomic_write(Path(self.path), _header(payload) + payload, durable=False)
        except (OSError, ValueError):
            pass  # a read-only installation: the next run compiles again, as without the table


_table: Optional[_Table] = None


_HEADER = 8  # the interpreter's bytecode magic number, then the CRC-32 of the marshalled table


def _header(payload: bytes) -> bytes:
    """What a table written by this interpreter starts with, for these marshalled bytes."""
    # imported here: only a run that makes a dataclass needs them (table_path imported importlib.util)
    import importlib.util
    import zlib

    return importlib.util.MAGIC_NUMBER + zlib.crc32(payload).to_bytes(4, "little")


def _read(path: Optional[str]) -> dict[str, types.CodeType]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as file:
            data = file.read()
        payload = data[_HEADER:]
        if data[:_HEADER] != _header(payload):
            return {}  # another build's bytecode, a damaged or a truncated file: compiled again
        table = marshal.loads(payload)
    except (OSError, EOFError, ValueError, TypeError, MemoryError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if type(k) is str and type(v) is types.CodeType}


def table_path() -> Optional[str]:
    """Where this interpreter's table lives: beside this module's ``.pyc`` file."""
    # imported here: only a run that makes a dataclass needs it (``--version`` does not)
    import importlib.util

    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    beside = os.path.dirname(importlib.util.cache_from_source(__file__))  # with a cache tag, it cannot refuse
    level = sys.flags.optimize
    return os.path.join(beside, f"dataclass-code.{tag}{f'.opt-{level}' if level else ''}.marshal")


def install() -> None:
    """Give ``dataclasses`` the cached ``exec`` (once per process) and write the table back at exit."""
    global _table
    if _table is not None:
        return
    _table = _Table()
    dataclasses.exec = _table.exec  # type: ignore[attr-defined]  # shadows the built-in there only
    atexit.register(_table.save)


def uninstall() -> None:
    """Back to the built-in ``exec`` (tests)."""
    global _table
    if _table is None:
        return
    atexit.unregister(_table.save)
    vars(dataclasses).pop("exec", None)
    _table = None
