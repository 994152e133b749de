"""Credentials out of wire data: where the URLs of a text are, and their userinfo removed.

What the backend stores, logs or answers is scrubbed; the client keeps the
originals (``credential_urls``) to put back into the lock it receives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_SCHEME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-"
_NOT_FIRST = "0123456789+.-"  # scheme characters a scheme cannot start with
_URL_REST = re.compile(r"[^\s\"'<>]+")  # anchored at one place: linear in what it matches
# The userinfo of a URL: after "://", up to the netloc's last "@" (each netloc is read once).
_USERINFO = re.compile(r"(?<=://)[^\s\"'<>/?#]*@")


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


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def scrub_text(text: str) -> str:
    """Remove the userinfo (user, password, token) of every URL in a text, in linear time."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO.sub("", text)


def scrub(value: Any) -> Any:
    """``scrub_text`` applied to every string of JSON data (keys included)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {scrub_text(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def credential_urls(value: Any) -> dict[str, str]:
    """URLs in JSON data that carry credentials, keyed by their scrubbed form."""
    found: dict[str, str] = {}
    for text in _texts(value):
        if "@" not in text:
            continue
        for url in (text[a:b] for a, b in url_spans(text)):
            if "@" in url and scrub_text(url) != url:
                found[scrub_text(url)] = url
    return found
