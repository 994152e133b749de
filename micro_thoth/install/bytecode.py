"""Bytecode compiled by the *target* interpreter (a subprocess), never by the one running us."""

from __future__ import annotations

import collections
import enum
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Optional, Union

from ..reporting import Reporter
from .cores import cores
from .environment import TargetEnvironment
from .transaction import Transaction

_COMPILE = """
import compileall, functools, sys
files = [line for line in sys.stdin.read().split("\\n") if line]
compile_one = functools.partial(compileall.compile_file, quiet=2)
if len(files) > 400:
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor() as pool:
        list(pool.map(compile_one, files, chunksize=64))
else:
    for name in files:
        compile_one(name)
"""

# A worker of CompilePool: compiles each path it reads; an empty line asks for an empty line back
# once everything before it is compiled (so the pool knows a batch done and hands out the next).
_WORKER = """
import compileall, sys
for line in iter(sys.stdin.readline, ""):
    name = line.rstrip("\\n")
    if name:
        compileall.compile_file(name, quiet=2)
    else:
        sys.stdout.write("\\n")
        sys.stdout.flush()
"""
BATCH = 16  # files handed to a worker at a time: few enough that the last batches end together
AHEAD = 2  # batches a worker holds at once: it starts the next while the pool hears of the last


def compile_bytecode(files: Sequence[Path], env: TargetEnvironment) -> int:
    """Compile ``files`` to ``__pycache__`` with the target interpreter; returns how many were given."""
    sources = [str(p) for p in files if p.suffix == ".py" and "\n" not in str(p)]
    if not sources:
        return 0
    subprocess.run(
        [env.python, "-I", "-c", _COMPILE],
        input="\n".join(sources),
        text=True,
        capture_output=True,
        check=False,
    )
    return len(sources)


def pyc_path(source: str, tag: str) -> str:
    directory, name = os.path.split(source)
    return os.path.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")


def compile_written(transaction: Transaction, env: TargetEnvironment, reporter: Reporter) -> int:
    roots = [Path(os.path.abspath(p)) for p in (env.paths["purelib"], env.paths["platlib"])]
    prefixes = tuple(str(root).rstrip(os.sep) + os.sep for root in roots)
    tag = env.interpreter.cache_tag
    files = [
        Path(p) for p in transaction.written
        if p.endswith(".py") and p.startswith(prefixes) and not (tag and os.path.exists(pyc_path(p, tag)))
    ]
    reporter.message(f"compiling {len(files)} files to bytecode", "debug")
    return compile_bytecode(files, env)


class _Handed:
    """The files of one ``CompilePool.submit``: ``then`` runs once every batch of them is compiled."""

    def __init__(self, batches: int, then: Optional[Callable[[], None]]) -> None:
        self._left = batches
        self._then = then
        self._failed = False
        self._lock = threading.Lock()

    def done(self, *, compiled: bool) -> None:
        with self._lock:
            self._left -= 1
            self._failed = self._failed or not compiled
            last = self._left == 0 and not self._failed
        if last and self._then is not None:
            self._then()


_Batch = tuple[list[str], _Handed]


class _Signal(enum.Enum):
    CLOSE = "no more batches"
    NOTHING = "no batch to hand over right now"


class CompilePool:
    """Workers of the target interpreter (one per core) compiling files as they are handed over:
    each unpacked tree as soon as it is in the cache, while the others still download and unpack.
    The workers start with the first file handed over (a warm install, whose bytecode comes from
    the cache, starts none); each holds ``AHEAD`` batches, so it never waits for this process
    (busy unpacking) to hand it the next. ``close`` (or leaving the ``with``) waits until every
    file handed over is compiled."""

    def __init__(self, python: str, workers: int) -> None:
        self._python = python
        self._queue: queue.Queue[Union[_Batch, _Signal]] = queue.Queue()
        self._threads = [threading.Thread(target=self._feed, name="compile", daemon=True) for _ in range(max(1, workers))]
        self.submitted = 0
        self.healthy = True  # every worker started and lived: every file handed over was tried
        self._closed = False
        self._started = False
        self._starting = threading.Lock()  # submit() is called from several unpacking threads (start, count)

    def submit(self, files: Sequence[str], then: Optional[Callable[[], None]] = None) -> None:
        """Compile ``files`` (the ``.py`` ones); ``then`` is called (on a thread of the pool) once they
        all are, unless a worker failed on them (if it raises, ``close`` says not every file is known compiled)."""
        sources = [f for f in files if f.endswith(".py") and "\n" not in f]
        if not sources:
            if then is not None:
                then()
            return
        if not self._started:
            with self._starting:
                if not self._started:
                    for thread in self._threads:
                        thread.start()
                    self._started = True
        with self._starting:  # several unpacking threads submit: the count is read-modify-write
            self.submitted += len(sources)
        handed = _Handed(-(-len(sources) // BATCH), then)
        for start in range(0, len(sources), BATCH):
            self._queue.put((sources[start : start + BATCH], handed))

    def close(self, *, cancel: bool = False) -> Optional[int]:
        """Wait for the workers; how many files they were handed, or None if one failed (the
        trees then need looking over: ``precompile_trees``)."""
        if self._closed:
            return self.submitted if self.healthy else None
        self._closed = True
        if cancel:  # nothing more worth compiling: drop what waits
            with self._queue.mutex:
                self._queue.queue.clear()
        with self._starting:
            started = self._started
        if started:
            for _ in self._threads:
                self._queue.put(_Signal.CLOSE)
            for thread in self._threads:
                thread.join()
        self.healthy = self.healthy and not cancel
        return self.submitted if self.healthy else None

    def _feed(self) -> None:
        """One worker process, holding up to ``AHEAD`` batches; one that cannot start or dies leaves
        its files uncompiled (bytecode is an optimisation: ``precompile_trees`` tries them again)."""
        worker = self._start()
        held: collections.deque[_Handed] = collections.deque()
        open_ = True
        while open_ or held:
            batch = self._next(wait=not held) if open_ and len(held) < AHEAD else _Signal.NOTHING
            if isinstance(batch, tuple):
                files, handed = batch
                if worker is not None and _hand(worker, files):
                    held.append(handed)
                else:
                    worker = self._lost(worker)
                    self._done(handed, compiled=False)
            elif batch is _Signal.CLOSE:
                open_ = False
            else:  # as many batches held as wanted, or nothing else to hand: wait for the oldest
                compiled = worker is not None and _answered(worker)
                if not compiled:
                    worker = self._lost(worker)
                self._done(held.popleft(), compiled=compiled)
        if worker is not None:
            _ended(worker)

    def _start(self) -> Optional[subprocess.Popen[str]]:
        try:
            return subprocess.Popen([self._python, "-I", "-c", _WORKER], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self.healthy = False
            return None

    def _next(self, *, wait: bool) -> Union[_Batch, _Signal]:
        try:
            return self._queue.get(block=wait)
        except queue.Empty:
            return _Signal.NOTHING

    def _done(self, handed: _Handed, *, compiled: bool) -> None:
        """Say a batch compiled (or not); a ``then`` that fails is not this thread's end (its worker and the batches
        it holds would be left): that hand-over counts as not kept, so the trees are looked over again."""
        try:
            handed.done(compiled=compiled)
        except Exception:
            self.healthy = False

    def _lost(self, worker: Optional[subprocess.Popen[str]]) -> Optional[subprocess.Popen[str]]:
        """A worker that failed, ended (None: its files stay uncompiled); the pool is no longer healthy."""
        if worker is not None:
            _ended(worker)
        self.healthy = False
        return None

    def __enter__(self) -> CompilePool:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self.close(cancel=error is not None)


def _hand(worker: subprocess.Popen[str], batch: Sequence[str]) -> bool:
    """Hand ``batch`` to ``worker`` (its answer comes later: ``_answered``); False if the worker is gone."""
    stdin = worker.stdin
    assert stdin is not None
    try:
        stdin.write("\n".join(batch) + "\n\n")
        stdin.flush()
        return True
    except (OSError, ValueError):
        return False


def _answered(worker: subprocess.Popen[str]) -> bool:
    """Wait until ``worker`` compiled the oldest batch it holds; False if it is gone."""
    stdout = worker.stdout
    assert stdout is not None
    try:
        return stdout.readline() == "\n"
    except (OSError, ValueError):
        return False


def _ended(worker: subprocess.Popen[str]) -> None:
    for stream in (worker.stdin, worker.stdout):
        _close_quietly(stream)
    worker.wait()


def _close_quietly(stream: Optional[IO[str]]) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass


def compile_pool(env: TargetEnvironment, workers: Optional[int] = None) -> Optional[CompilePool]:
    """A CompilePool for ``env``'s interpreter, one worker per core (at most ``workers``); None when
    the interpreter writes no bytecode cache."""
    if not env.interpreter.cache_tag:
        return None
    return CompilePool(env.python, min(cores(), workers or cores()))
