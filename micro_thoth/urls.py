"""URLs inside free text: where they are, found in one linear pass (no backtracking)."""

from __future__ import annotations

import re
from collections.abc import Iterator

_SCHEME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-"
_NOT_FIRST = "0123456789+.-"  # scheme characters a scheme cannot start with
_URL_REST = re.compile(r"[^\s\"'<>]+")  # anchored at one place: linear in what it matches


def url_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where URLs (``scheme://rest``) are in a text, in one linear pass.

    The same matches as ``[A-Za-z][A-Za-z0-9+.-]*://[^\\s"'<>]+`` scanned left
    to right, without its quadratic backtracking over long runs of letters:
    each ``://`` is found once; its scheme is read backwards no further than
    the previous ``://`` or match (``:`` and ``/`` end a scheme), so no
    character is read twice; its rest is matched forwards once.
    """
    done = search = 0
    while (mark := text.find("://", search)) >= 0:
        run = text[max(done, search - 1 if search else 0) : mark]
        scheme = run[len(run.rstrip(_SCHEME_CHARS)) :].lstrip(_NOT_FIRST)
        rest = _URL_REST.match(text, mark + 3) if scheme else None
        if rest is None:
            search = mark + 1
            continue
        yield mark - len(scheme), rest.end()
        done = search = rest.end()
