"""Credentials out of wire data: where the URLs of a text are, and their userinfo removed.

What the backend stores, logs or answers is scrubbed; the client keeps the
originals (``credential_urls``) to put back into the lock it receives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..urls import url_spans

# The userinfo of a URL: after "://", up to the netloc's last "@" (each netloc is read once).
_USERINFO = re.compile(r"(?<=://)[^\s\"'<>/?#]*@")


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
