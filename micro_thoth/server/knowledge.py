"""What this replica resolves with, as one digest: a cached result is not served once that knowledge changes."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from ..pipeline.guidance import knowledge_files
from ..pipeline.knowledge_store import open_store as open_knowledge

_KNOWLEDGE_TTL = 5.0
_knowledge_memo: list[Any] = [0.0, ""]


def knowledge_digest() -> str:
    """A digest of what this replica resolves with (prescriptions, advisories), so a cached
    result is not served once that knowledge changes; recomputed at most every few seconds."""
    now = time.monotonic()
    if now - _knowledge_memo[0] < _KNOWLEDGE_TTL and _knowledge_memo[1]:
        return str(_knowledge_memo[1])
    hasher = hashlib.sha256()
    for name, text in sorted(knowledge_files(os.environ).items()):
        hasher.update(f"{name}\0{text}\0".encode())
    with open_knowledge(os.environ) as store:  # synced units and advisories
        hasher.update(store.digest().encode())
    _knowledge_memo[:] = [now, hasher.hexdigest()[:16]]
    return str(_knowledge_memo[1])
