"""A large JSON object read member by member from a text stream: the arrays asked for element by element, never whole.

A knowledge bundle's ``knowledge.json`` holds ~90,000 units; parsed whole (its text and
every object at once) it took ~600 MB. ``members`` reads it in blocks and hands out each
top-level member in file order: a small one decoded whole, a streamed array as an iterator
of its elements (each decoded by ``json``'s own decoder as soon as its text has arrived).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from typing import Any, Optional, TextIO, Union

_SPACE = re.compile(r"[ \t\n\r]*")  # one class, one star: no backtracking
_DECODER = json.JSONDecoder()
_BLOCK = 1 << 16
_AFTER_VALUE = frozenset(",]} \t\n\r")

Member = Union[Any, Iterator[Any]]


class _Text:
    """The stream's text from the reading position on, read one block ahead when needed."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.text, self.pos = stream, "", 0
        self.base = 0  # where ``text`` starts in the stream: an error names its place in the file, not in the block

    def where(self, pos: Optional[int] = None) -> str:
        return f"at character {self.base + (self.pos if pos is None else pos)}"

    def more(self) -> bool:
        """Read another block (as large as what is held, so a large value is decoded a bounded number of times)."""
        block = self.stream.read(max(_BLOCK, len(self.text) - self.pos))
        if not block:
            return False
        self.text, self.base, self.pos = self.text[self.pos :] + block, self.base + self.pos, 0
        return True

    def next_char(self) -> str:
        """The next character that is not white space ('' at the end), not consumed."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]  # matches the empty string
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos : self.pos + 1]

    def take(self, wanted: str) -> None:
        found = self.next_char()
        if found != wanted:
            raise ValueError(f"expected {wanted!r} {self.where()}, found {found or 'the end'!r}")
        self.pos += 1

    def value(self) -> Any:
        self.next_char()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.more():
                    continue
                raise ValueError(f"{exc.msg} {self.where(exc.pos)}") from None
            except RecursionError:  # json's decoder recurses once per level of nesting
                raise ValueError(f"a value nested too deeply {self.where()}") from None
            if not _cut(value, self.text, end) or not self.more():  # a number at the block's end may go on in the next one
                self.pos = end
                return value


def _cut(value: Any, text: str, end: int) -> bool:
    """A number not followed by what may follow a value: ``-4`` of ``-4.5e3`` cut by a block's end."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return numeric and (end == len(text) or text[end] not in _AFTER_VALUE)


def members(stream: TextIO, streamed: Collection[str] = ()) -> Iterator[tuple[str, Member]]:
    """(key, value) of every member of the JSON object in ``stream``, in file order; for a key in ``streamed`` whose
    value is an array the value is an iterator of its elements, valid until the next member is asked for.

    Malformed text raises ``ValueError`` naming the place in the stream (nesting too deep for ``json`` too)."""
    text = _Text(stream)
    text.take("{")
    if text.next_char() == "}":
        return
    while True:
        key = text.value()
        if not isinstance(key, str):
            raise ValueError(f"a member's name is not a string {text.where()}")
        text.take(":")
        if key in streamed and text.next_char() == "[":
            elements = _elements(text)
            yield key, elements
            for _rest in elements:  # what the reader left
                pass
        else:
            yield key, text.value()
        if text.next_char() != ",":
            text.take("}")
            return
        text.pos += 1


def _elements(text: _Text) -> Iterator[Any]:
    text.take("[")
    if text.next_char() == "]":
        text.pos += 1
        return
    while True:
        yield text.value()
        if text.next_char() != ",":
            text.take("]")
            return
        text.pos += 1


__all__ = ["members"]
