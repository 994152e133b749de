"""Jobs: the bounded queue, the worker pool with a time limit per resolution, and the result cache.

A submitted request becomes a row in the store (credentials removed) and an
entry on this replica's in-memory queue (credentials kept, used once, then
dropped). ``workers`` supervisor threads take entries off the queue; with
process isolation each keeps one resolver process alive between jobs and
kills it when a resolution exceeds the time limit.
"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import logging
import multiprocessing
import os
import queue
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from .. import errors
from ..reporting import Reporter
from ..resolve.wire import AdviseRequest, AdviseResult, JobView, Problem, digest, scrub_text
from . import problems
from .settings import ServerSettings
from .storage import JobRecord, JobStore

Resolver = Callable[[AdviseRequest], AdviseResult]
Outcome = tuple[str, Any]  # ("ok", result dict) or ("error", problem dict)
LogSink = Callable[[str], None]


class QueueFull(Exception):
    """This replica already holds ``max_jobs`` unfinished jobs."""


def new_job_id() -> str:
    """Thoth-style ids (``adviser-<UTC stamp>-<128 random bits>``): thamos derives the API path from the prefix."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%S")
    return f"adviser-{stamp}-{secrets.token_hex(16)}"


# -- running one resolution -------------------------------------------------------


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
    """Call the resolver; its errors become problem bodies, its log lines go to ``sink``."""
    handler = _LogHandler(sink)
    root = logging.getLogger("micro_thoth")
    root.addHandler(handler)
    try:
        if _accepts_reporter(resolver):
            result = resolver(request, reporter=_LogReporter(sink))  # type: ignore[call-arg]
        else:
            result = resolver(request)
        return "ok", result.to_dict()
    except errors.ThothPipError as exc:
        return "error", problems.from_error(exc).to_dict()
    except Exception as exc:
        sink("error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip())
        return "error", problems.crashed(f"{type(exc).__name__}: {exc}").to_dict()
    finally:
        root.removeHandler(handler)


def _child_main(conn: Any, resolver: Resolver) -> None:
    """The loop of a resolver process: one request in, log lines and one outcome out."""
    logging.getLogger("micro_thoth").setLevel(logging.INFO)
    conn.send(("ready", None))
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        request = AdviseRequest.from_dict(payload)
        outcome = resolve_once(resolver, request, lambda line: conn.send(("log", line)))
        conn.send(outcome)


class ProcessRunner:
    """Runs resolutions in one long-lived child process; kills and replaces it on timeout."""

    START_TIMEOUT = 120.0

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_child_main, args=(child, self.resolver), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(self.START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the resolver process did not start within {self.START_TIMEOUT}s")
        parent.recv()

    def prepare(self) -> None:
        """Start the resolver process now, so the first job does not pay for it."""
        if self._process is None or not self._process.is_alive():
            self._start()

    def run(self, request: AdviseRequest, timeout: float, sink: LogSink) -> Outcome:
        try:
            self.prepare()
        except (RuntimeError, EOFError, OSError) as exc:
            return "error", problems.crashed(str(exc) or "the resolver process did not start").to_dict()
        conn, process = self._conn, self._process
        deadline = time.monotonic() + timeout
        try:
            conn.send(request.to_dict())
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not conn.poll(remaining):
                    self.stop()
                    return "error", problems.timeout(timeout).to_dict()
                kind, value = conn.recv()
                if kind != "log":
                    return kind, value
                sink(value)
        except (EOFError, OSError):  # the process died, or stop() closed the pipe at shutdown
            process.join(1)
            self.stop()
            return "error", problems.crashed(f"the resolver process exited (code {process.exitcode})").to_dict()

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None


class ThreadRunner:
    """Runs resolutions in a helper thread: a late one is reported failed but cannot be stopped."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def run(self, request: AdviseRequest, timeout: float, sink: LogSink) -> Outcome:
        box: list[Outcome] = []
        thread = threading.Thread(target=lambda: box.append(resolve_once(self.resolver, request, sink)), daemon=True)
        thread.start()
        thread.join(timeout)
        return box[0] if box else ("error", problems.timeout(timeout).to_dict())

    def prepare(self) -> None:
        pass

    def stop(self) -> None:
        pass


# -- the queue --------------------------------------------------------------------


@dataclass
class _Entry:
    job_id: str
    digest: str
    request: AdviseRequest  # with credentials: never stored
    done: threading.Event = field(default_factory=threading.Event)
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    log: list[tuple[float, str]] = field(default_factory=list)


class Jobs:
    """Submit, run, cache and look up resolutions on this replica."""

    def __init__(
        self,
        settings: ServerSettings,
        store: JobStore,
        resolver: Resolver,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.owner = f"replica-{secrets.token_hex(8)}"
        self._slots = threading.BoundedSemaphore(settings.max_jobs)
        self._queue: queue.Queue[Optional[_Entry]] = queue.Queue()
        self._entries: dict[str, _Entry] = {}
        self._entries_lock = threading.Lock()
        self._stopping = threading.Event()
        self._pruned = 0.0
        make_runner = ProcessRunner if settings.isolation == "process" else ThreadRunner
        self._runners = [make_runner(resolver) for _ in range(settings.workers)]
        self._threads = [
            threading.Thread(target=self._work, args=(runner,), name=f"resolver-{i}", daemon=True)
            for i, runner in enumerate(self._runners)
        ]
        self._threads.append(threading.Thread(target=self._beat, name="heartbeat", daemon=True))

    def start(self) -> None:
        if self.store.kind == "sqlite":  # one replica per file: nobody else will finish these
            self.store.fail_unfinished(problems.lost("the backend restarted before this job ran").to_dict(), self.clock())
        self.store.heartbeat(self.owner, self.clock())
        self._prune()
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Stop taking jobs; resolutions still running are killed (their jobs stay unfinished)."""
        self._stopping.set()
        for _ in range(self.settings.workers):
            self._queue.put(None)
        for runner in self._runners:
            runner.stop()
        for thread in self._threads:
            thread.join(10)

    # -- submitting ------------------------------------------------------------
    def submit(self, request: AdviseRequest) -> tuple[JobRecord, bool]:
        """A job for the request: a cached answer, the same request in flight, or a new job.

        Returns the job and whether it was answered from the cache (or joined).
        Raises QueueFull when this replica holds ``max_jobs`` unfinished jobs.
        """
        key = digest(request, f"{self.settings.knowledge_version}+{knowledge_digest()}")
        if not request.force:
            found = self._cached(key, request)
            if found is not None:
                return found, True
        if not self._slots.acquire(blocking=False):
            raise QueueFull()
        job = JobRecord(
            id=new_job_id(), digest=key, state="queued", request=request.scrubbed().to_dict(),
            created_at=self.clock(), owner=self.owner,
        )  # fmt: skip
        self.store.create(job)
        entry = _Entry(job.id, key, request)
        entry.log.append((job.created_at, "queued"))
        with self._entries_lock:
            self._entries[job.id] = entry
        self._queue.put(entry)
        return job, False

    def _cached(self, key: str, request: AdviseRequest) -> Optional[JobRecord]:
        active = self.store.find_active(key)
        current = self.record(active.id) if active is not None else None
        if current is not None and current.state in ("queued", "running"):
            return current
        if self.store.result(key) is None:
            return None
        now = self.clock()
        self.store.touch_result(key, now)
        job = JobRecord(
            id=new_job_id(), digest=key, state="succeeded", request=request.scrubbed().to_dict(),
            created_at=now, started_at=now, finished_at=now, cached=True, owner=self.owner,
        )  # fmt: skip
        self.store.create(job)
        self._log(job.id, "answered from the cache")
        return job

    # -- looking up ------------------------------------------------------------
    def record(self, job_id: str) -> Optional[JobRecord]:
        """The job as stored, with unfinished jobs of a vanished replica reported as lost."""
        job = self.store.get(job_id)
        if job is None or job.state not in ("queued", "running") or job.owner == self.owner:
            return job
        seen = self.store.last_seen(job.owner or "")
        if seen is None or self.clock() - seen > self.settings.stale_after:
            return job.failed(problems.lost("the backend replica running this job stopped").to_dict(), self.clock())
        return job

    def view(self, job_id: str) -> Optional[JobView]:
        job = self.record(job_id)
        if job is None:
            return None
        result = None
        if job.state == "succeeded":
            stored = self.store.result(job.digest)
            result = AdviseResult.from_dict(stored) if stored is not None else None
        return JobView(
            id=job.id, state=job.state, cached=job.cached, created_at=job.created_at,
            started_at=job.started_at, finished_at=job.finished_at, result=result,
            problem=Problem.from_dict(job.problem) if job.problem else None,
        )  # fmt: skip

    def on_done(self, job_id: str, callback: Callable[[], None]) -> bool:
        """Call ``callback`` (from a worker thread) when this replica finishes the job.

        False when the job is not running here (finished, or another replica's):
        then the caller polls the store.
        """
        with self._entries_lock:
            entry = self._entries.get(job_id)
            if entry is None or entry.done.is_set():
                return False
            entry.callbacks.append(callback)
            return True

    def wait(self, job_id: str, timeout: float) -> Optional[JobView]:
        """The job once finished, or as it stands when ``timeout`` runs out (blocking)."""
        event = threading.Event()
        deadline = time.monotonic() + timeout
        if self.on_done(job_id, event.set):
            event.wait(timeout)
        view = self.view(job_id)
        while view is not None and not view.done and time.monotonic() < deadline:
            time.sleep(0.1)  # a job of another replica: poll the shared store
            view = self.view(job_id)
        return view

    def log(self, job_id: str) -> list[str]:
        return self.store.log(job_id)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    # -- working ---------------------------------------------------------------
    def _log(self, job_id: str, line: str) -> None:
        self.store.append_log(job_id, scrub_text(line), self.clock())

    def _take_log(self, entry: _Entry) -> list[tuple[float, str]]:
        lines, entry.log = entry.log, []
        return [(at, scrub_text(line)) for at, line in lines]

    def _flush(self, entry: _Entry) -> None:
        lines = self._take_log(entry)
        if lines:
            self.store.append_logs(entry.job_id, lines)

    def _sink(self, entry: _Entry) -> LogSink:
        """Log lines of a running job, written in batches (at most a second late)."""
        last = [time.monotonic()]

        def sink(line: str) -> None:
            entry.log.append((self.clock(), line))
            if time.monotonic() - last[0] > 1.0:
                last[0] = time.monotonic()
                self._flush(entry)

        return sink

    def _work(self, runner: Any) -> None:
        try:
            try:
                runner.prepare()
            except (RuntimeError, EOFError, OSError):
                pass  # reported on the first job that needs the runner
            while not self._stopping.is_set():
                entry = self._queue.get()
                if entry is None:
                    return
                try:
                    self._run(runner, entry)
                finally:
                    self._slots.release()
                    with self._entries_lock:
                        entry.done.set()
                        self._entries.pop(entry.job_id, None)
                    for callback in entry.callbacks:
                        callback()
        finally:
            runner.stop()

    def _run(self, runner: Any, entry: _Entry) -> None:
        started = self.clock()
        entry.log.append((started, "started"))
        self.store.start(entry.job_id, started, self._take_log(entry))
        kind, value = runner.run(entry.request, self.settings.timeout, self._sink(entry))
        finished = self.clock()
        if kind == "ok":
            result = AdviseResult.from_dict(value).scrubbed().to_dict()
            entry.log.append((finished, f"succeeded in {finished - started:.2f}s"))
            self.store.complete(entry.job_id, entry.digest, finished, result=result, lines=self._take_log(entry))
        else:
            entry.log.append((finished, f"failed in {finished - started:.2f}s: {value.get('detail', '')}"))
            self.store.complete(entry.job_id, entry.digest, finished, problem=value, lines=self._take_log(entry))

    def _prune(self) -> None:
        self._pruned = self.clock()
        self.store.prune(self._pruned - self.settings.keep_days * 86400)

    def _beat(self) -> None:
        while not self._stopping.wait(self.settings.heartbeat):
            try:
                self.store.heartbeat(self.owner, self.clock())
                if self.clock() - self._pruned > 3600:
                    self._prune()
            except Exception:  # a database hiccup must not kill the heartbeat; the next beat retries
                continue


_KNOWLEDGE_TTL = 5.0
_knowledge_memo: list[Any] = [0.0, ""]


def knowledge_digest() -> str:
    """A digest of what this replica resolves with (prescriptions, advisories), so a cached
    result is not served once that knowledge changes; recomputed at most every few seconds."""
    now = time.monotonic()
    if now - _knowledge_memo[0] < _KNOWLEDGE_TTL and _knowledge_memo[1]:
        return str(_knowledge_memo[1])
    from ..knowledge.locations import data_dir
    from ..pipeline.guidance import ADVISORIES_DB, knowledge_files

    hasher = hashlib.sha256()
    for name, text in sorted(knowledge_files(os.environ).items()):
        hasher.update(f"{name}\0{text}\0".encode())
    database = data_dir(os.environ) / ADVISORIES_DB
    for path in (database, database.with_name(database.name + "-wal")):  # imports may sit in the WAL
        if path.exists():
            stat = path.stat()
            hasher.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    _knowledge_memo[:] = [now, hasher.hexdigest()[:16]]
    return str(_knowledge_memo[1])
