"""Wheels unpacked as soon as each is verified, while the others still download.

Unpacking (and compiling a tree's bytecode, when a compile pool is given, then keeping it) writes only into
an install's staging directory or the cache's trees (``install.unpacking_for``), never
where the environment imports from: nothing is installed until every artifact of the plan
is verified, and a failed download leaves at most some unpacked trees in the cache.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Optional

from packaging.utils import NormalizedName

from .. import install
from ..cache import Cache

Stage = Callable[[Path, Optional[str]], Path]  # (wheel, its sha256 if known) -> unpacked tree


class EarlyUnpacker:
    """A pool that unpacks (``stage``) each verified wheel of the cache as it arrives (``ready``),
    hands each new tree's missing bytecode to ``compiler`` (the target's cache tag ``tag``), gives
    each tree to ``compiled`` once its bytecode is (while the others still compile: so nothing is
    left to keep at the end), and hands the trees over once every wheel is known (``trees``)."""

    def __init__(self, cache: Cache, stage: Stage, workers: int, compiler: Optional[install.CompilePool] = None,
                 tag: Optional[str] = None, compiled: Optional[Callable[[Path], None]] = None) -> None:
        self._cache = cache
        self._stage = stage
        self._compiler = compiler if tag else None
        self._compiled = compiled
        self._tag = tag or ""
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(workers, install.cores())), thread_name_prefix="unpack")
        self._started: dict[Path, Future[Path]] = {}
        self._lock = threading.Lock()

    def ready(self, path: Path) -> None:
        """A verified file is in the cache: unpack it now if it is a wheel (its digest is its directory)."""
        digest = self._cache.artifact_digest(path)
        if not path.name.endswith(".whl") or digest is None:
            return
        with self._lock:
            if path not in self._started:
                self._started[path] = self._pool.submit(self._unpack, path, digest)

    def trees(self, wheels: Mapping[NormalizedName, Path], digests: Mapping[NormalizedName, str]) -> dict[NormalizedName, Path]:
        """The unpacked tree of each wheel: those started early joined, the others (built ones) unpacked now."""
        with self._lock:
            futures = {
                key: self._started.get(wheel) or self._pool.submit(self._unpack, wheel, digests.get(key))
                for key, wheel in wheels.items()
            }
        return {key: future.result() for key, future in futures.items()}

    def _unpack(self, wheel: Path, digest: Optional[str]) -> Path:
        tree = self._stage(wheel, digest)
        if self._compiler is not None:
            then = None if self._compiled is None else functools.partial(self._keep, tree)
            self._compiler.submit(install.missing_bytecode(tree, self._tag), then=then)
        return tree

    def _keep(self, tree: Path) -> None:
        """Called by the compile pool: ``compiled`` runs on this pool, not on the pool's own thread
        (whose worker would wait for it); once this pool is shut down, the caller keeps the rest."""
        assert self._compiled is not None
        with contextlib.suppress(RuntimeError):  # shut down
            self._pool.submit(self._compiled, tree)

    def __enter__(self) -> EarlyUnpacker:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
