"""Bytecode compiled by the *target* interpreter (a subprocess), never by the one running us."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Optional

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
# once everything before it is compiled (so the pool hands the next batch to whoever is idle).
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
BATCH = 32  # files handed to a worker at a time


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


class CompilePool:
    """Workers of the target interpreter (one per core) compiling files as they are handed over:
    each unpacked tree as soon as it is in the cache, while the others still download and unpack.
    The workers start with the first file handed over (a warm install, whose bytecode comes from
    the cache, starts none). ``close`` (or leaving the ``with``) waits until every file handed
    over is compiled."""

    def __init__(self, python: str, workers: int) -> None:
        self._python = python
        self._queue: queue.Queue[Optional[list[str]]] = queue.Queue()
        self._threads = [threading.Thread(target=self._feed, name="compile", daemon=True) for _ in range(max(1, workers))]
        self.submitted = 0
        self.healthy = True  # every worker started and lived: every file handed over was tried
        self._closed = False
        self._started = False
        self._starting = threading.Lock()  # submit() is called from several unpacking threads

    def submit(self, files: Sequence[str]) -> None:
        sources = [f for f in files if f.endswith(".py") and "\n" not in f]
        if sources and not self._started:
            with self._starting:
                if not self._started:
                    for thread in self._threads:
                        thread.start()
                    self._started = True
        self.submitted += len(sources)
        for start in range(0, len(sources), BATCH):
            self._queue.put(sources[start : start + BATCH])

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
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
        self.healthy = self.healthy and not cancel
        return self.submitted if self.healthy else None

    def _feed(self) -> None:
        """One worker process, fed a batch at a time; one that cannot start or dies leaves its
        files uncompiled (bytecode is an optimisation: ``precompile_trees`` tries them again)."""
        worker: Optional[subprocess.Popen[str]] = None
        try:
            worker = subprocess.Popen([self._python, "-I", "-c", _WORKER], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            self.healthy = False
        while (batch := self._queue.get()) is not None:
            if worker is not None and not _compiled(worker, batch):
                _ended(worker)
                worker, self.healthy = None, False
        if worker is not None:
            _ended(worker)

    def __enter__(self) -> CompilePool:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self.close(cancel=error is not None)


def _compiled(worker: subprocess.Popen[str], batch: Sequence[str]) -> bool:
    """Hand ``batch`` to ``worker`` and wait until it is compiled; False if the worker is gone."""
    stdin, stdout = worker.stdin, worker.stdout
    assert stdin is not None and stdout is not None
    try:
        stdin.write("\n".join(batch) + "\n\n")
        stdin.flush()
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
