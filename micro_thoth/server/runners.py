"""Where one job's work runs: a long-lived resolver process per worker (killed on time-out), or a thread.

A runner takes ``(task, request)``: ``task`` names one of the functions it was
made with (``advise`` resolves, ``provenance`` checks a lock). Errors become
RFC 9457 problem bodies; log records and reporter messages become job log lines.
Only the worker thread that owns a runner calls ``run`` (or ``send`` then
``collect``: the worker does its bookkeeping while the job runs) and ``stop``;
any thread may ``interrupt`` it (shutdown), which only kills the process.
"""

from __future__ import annotations

import abc
import inspect
import json
import logging
import multiprocessing
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, Optional

from .. import errors, memory
from ..cli import collector
from ..reporting import Reporter
from ..resolve.scrub import scrub
from ..resolve.wire import AdviseRequest, AdviseResult
from . import problems

Resolver = Callable[[AdviseRequest], AdviseResult]
Tasks = Mapping[str, Resolver]
Outcome = tuple[str, Any]  # ("ok", result JSON text: ``result_json``) or ("error", problem dict)
LogSink = Callable[[str], None]
WARM_UP = AdviseRequest(requirements="[packages]\n", requirements_format="pipenv", search_limit=0)  # reads no index


class _LogReporter(Reporter):
    """Resolver progress messages become job log lines."""

    def __init__(self, sink: LogSink) -> None:
        self.sink = sink

    def message(self, text: str, level: str = "info") -> None:
        self.sink(f"{level}: {text}")


class _LogHandler(logging.Handler):
    def __init__(self, sink: LogSink) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink(f"{record.levelname.lower()}: {record.name}: {record.getMessage()}")


def _accepts_reporter(resolver: Resolver) -> bool:
    try:
        return "reporter" in inspect.signature(resolver).parameters
    except (TypeError, ValueError):
        return False


def resolve_once(resolver: Resolver, request: AdviseRequest, sink: LogSink) -> Outcome:
    """Call the resolver; its result becomes JSON text, credentials removed (``result_json``: stored
    and answered as it is, never decoded again by the server), its errors problem bodies, its log
    lines go to ``sink``."""
    handler = _LogHandler(sink)
    root = logging.getLogger("micro_thoth")
    root.addHandler(handler)
    try:
        if _accepts_reporter(resolver):
            result = resolver(request, reporter=_LogReporter(sink))  # type: ignore[call-arg]
        else:
            result = resolver(request)
        return "ok", result_json(result)
    except errors.ThothPipError as exc:
        return "error", problems.from_error(exc).to_dict()
    except Exception as exc:
        sink("error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip())
        return "error", problems.crashed(f"{type(exc).__name__}: {exc}").to_dict()
    finally:
        root.removeHandler(handler)


def result_json(result: AdviseResult) -> str:
    """A result as the backend stores and answers it: compact JSON of its credential-free form."""
    return json.dumps(scrub(result.to_dict()), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _child_main(conn: Any, tasks: Tasks) -> None:
    """The loop of a resolver process: one (task, request) in, log lines and one outcome out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server stops us
    logging.getLogger("micro_thoth").setLevel(logging.INFO)
    memory.keep()  # job after job: parsed pages, metadata, stores and detection stay in memory (memory.py)
    collector.configure()  # rare collections, as every command sets them: those kept maps make a large heap
    if "advise" in tasks:  # what every job needs, loaded before the first: modules, detection, knowledge
        resolve_once(tasks["advise"], WARM_UP, lambda line: None)
    conn.send(("ready", None))
    while True:
        try:
            task, payload = conn.recv()
        except (EOFError, OSError):
            return
        try:  # the request as stored (credentials removed) or held: the server did not decode it
            request = AdviseRequest.from_dict(payload)
        except errors.ThothPipError as exc:
            conn.send(("error", problems.from_error(exc).to_dict()))
            continue
        outcome = resolve_once(tasks[task], request, lambda line: conn.send(("log", line)))
        conn.send(outcome)


class _Runner(abc.ABC):
    """What both runners share: ``run``, one job from ``send`` to its outcome from ``collect``."""

    def run(self, task: str, request: AdviseRequest, timeout: float, sink: LogSink) -> Outcome:
        failed = self.send(task, request.to_dict(), timeout)
        if failed is not None:
            return failed
        outcome = self.collect(sink)
        assert outcome is not None
        return outcome

    @abc.abstractmethod
    def send(self, task: str, request: Mapping[str, Any], timeout: float) -> Optional[Outcome]:
        """Start one job (``request``: an ``AdviseRequest.to_dict()``); its outcome at once when it could
        not start (None: collect it)."""

    @abc.abstractmethod
    def collect(self, sink: LogSink, until: Optional[float] = None) -> Optional[Outcome]:
        """The started job's outcome, its log lines to ``sink`` meanwhile (None: not done by ``until``)."""


class ProcessRunner(_Runner):
    """Runs resolutions in one long-lived child process; kills and replaces it on timeout."""

    overlaps = True  # the worker may do its bookkeeping between ``send`` and ``collect``

    START_TIMEOUT = 120.0

    def __init__(self, tasks: Tasks) -> None:
        self.tasks = dict(tasks)
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()
        self._deadline = 0.0
        self._timeout = 0.0

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_child_main, args=(child, self.tasks), daemon=True)
        process.start()
        child.close()
        with self._lock:
            self._process, self._conn = process, parent
        if not parent.poll(self.START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the resolver process did not start within {self.START_TIMEOUT}s")
        parent.recv()

    def prepare(self) -> None:
        """Start the resolver process now, so the first job does not pay for it."""
        if self._process is None or not self._process.is_alive():
            self._start()

    def send(self, task: str, request: Mapping[str, Any], timeout: float) -> Optional[Outcome]:
        """Hand one job to the resolver process (it starts at once); its outcome comes from ``collect``.
        An error outcome when the process could not take it."""
        try:
            self.prepare()
            self._deadline = time.monotonic() + timeout
            self._timeout = timeout
            self._conn.send((task, request))
        except (RuntimeError, EOFError, OSError) as exc:
            self.stop()
            return "error", problems.crashed(str(exc) or "the resolver process did not start").to_dict()
        return None

    def collect(self, sink: LogSink, until: Optional[float] = None) -> Optional[Outcome]:
        """The outcome of the job sent last, its log lines to ``sink``; None if it is still running at
        ``until`` (a ``time.monotonic()``; call again later). Over its time limit the process is killed."""
        conn, process = self._conn, self._process
        try:
            if conn is None:
                raise EOFError
            while True:
                now = time.monotonic()
                wait = self._deadline - now if until is None else min(self._deadline, until) - now
                if not conn.poll(max(0.0, wait)):
                    if until is not None and time.monotonic() < self._deadline:
                        return None
                    self.stop()
                    return "error", problems.timeout(self._timeout).to_dict()
                kind, value = conn.recv()
                if kind != "log":
                    return kind, value
                sink(value)
        except (EOFError, OSError):  # the process died (or was interrupted at shutdown)
            if process is not None:
                process.join(1)
            code = process.exitcode if process is not None else None
            self.stop()
            return "error", problems.crashed(f"the resolver process exited (code {code})").to_dict()

    def interrupt(self) -> None:
        """Kill the resolver process (from any thread); the owning thread then sees it exit."""
        with self._lock:
            process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def stop(self) -> None:
        """Kill the process and close the pipe: only the owning thread calls this."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is not None:
            process.kill()
            process.join(5)
        if conn is not None:
            conn.close()


class ThreadRunner(_Runner):
    """Runs resolutions in a helper thread: a late or interrupted one is reported, but runs on unseen."""

    overlaps = False  # the job runs in ``collect``

    def __init__(self, tasks: Tasks) -> None:
        self.tasks = dict(tasks)
        self._interrupted = threading.Event()
        self._sent: Any = None

    def send(self, task: str, request: Mapping[str, Any], timeout: float) -> Optional[Outcome]:
        """Start one job in a helper thread; its outcome comes from ``collect``. ``request`` is the
        dict form on purpose, the one interface of both runners: a stored job's request reaches them
        as stored, undecoded by the job loop, so this runner decodes it as the resolver process does."""
        try:
            self._sent = (task, AdviseRequest.from_dict(request), time.monotonic() + timeout, timeout)
        except errors.ThothPipError as exc:
            return "error", problems.from_error(exc).to_dict()
        return None

    def collect(self, sink: LogSink, until: Optional[float] = None) -> Optional[Outcome]:
        """The outcome of the job sent last (``until`` is not honoured: the job runs to its end here)."""
        task, request, deadline, timeout = self._sent
        box: list[Outcome] = []
        resolver = self.tasks[task]
        thread = threading.Thread(target=lambda: box.append(resolve_once(resolver, request, sink)), daemon=True)
        thread.start()
        while thread.is_alive() and time.monotonic() < deadline and not self._interrupted.is_set():
            thread.join(min(0.1, max(0.0, deadline - time.monotonic())))
        if box:
            return box[0]
        if self._interrupted.is_set():
            return "error", problems.stopped().to_dict()
        return "error", problems.timeout(timeout).to_dict()

    def prepare(self) -> None:
        pass

    def interrupt(self) -> None:
        self._interrupted.set()

    def stop(self) -> None:
        pass
