"""Hashing of artifacts, and the one check that decides whether bytes may be installed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from .errors import DigestMismatch
from .models import Hash

CHUNK = 1 << 20


class StreamingHasher:
    """Hashes bytes as they stream past (sha256, plus any algorithm a lock asks for)."""

    def __init__(self, algorithms: Iterable[str] = ("sha256",)) -> None:
        names = dict.fromkeys(["sha256", *algorithms])
        self._hashers = {name: hashlib.new(name) for name in names}
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        for hasher in self._hashers.values():
            hasher.update(chunk)

    def digests(self) -> tuple[Hash, ...]:
        return tuple(Hash(name, h.hexdigest()) for name, h in self._hashers.items())

    @property
    def sha256(self) -> str:
        return self._hashers["sha256"].hexdigest()


def file_digests(path: Path, algorithms: Iterable[str] = ("sha256",)) -> tuple[Hash, ...]:
    with open(path, "rb") as fh:
        return stream_digests(fh, algorithms)


def stream_digests(handle: IO[bytes], algorithms: Iterable[str] = ("sha256",)) -> tuple[Hash, ...]:
    """The digests of what is left to read from an open file (sha256 first, then ``algorithms``)."""
    hasher = StreamingHasher(algorithms)
    while chunk := handle.read(CHUNK):
        hasher.update(chunk)
    return hasher.digests()


def sha256_file(path: Path) -> str:
    return file_digests(path)[0].value


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(
    actual: Iterable[Hash],
    allowed: Iterable[Hash],
    *,
    package: str,
    filename: str,
    index: str | None,
) -> None:
    """Raise DigestMismatch unless one of ``actual`` is among ``allowed``.

    ``allowed`` must be non-empty: an entry without hashes is refused by the
    caller before any download (see MissingHashError).
    """
    actual = tuple(actual)
    allowed = tuple(allowed)
    if any(digest in allowed for digest in actual):
        return
    shown = next((d for d in actual if d.algorithm == "sha256"), actual[0] if actual else None)
    raise DigestMismatch(
        package=package,
        filename=filename,
        index=index,
        expected=[str(h) for h in allowed],
        actual=str(shown) if shown else "(no digest)",
    )
