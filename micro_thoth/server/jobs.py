"""Jobs: submitting to the shared queue, the workers that claim and run them, leases, and the result cache.

A submitted request becomes a row of the store's queue (credentials removed);
``workers`` threads of every replica claim queued rows, run them (see
``runners``) and write the outcome. While a replica runs a job it renews the
job's lease; a job whose replica died is claimed again by any replica once
the lease expires (a resolution is a pure function of its request: doing it
twice is harmless). A request with credentials in its URLs is *pinned*: only
the accepting replica holds the credentials, in memory, so only it runs the
job; when it stops or dies the job fails with that reason.
"""

from __future__ import annotations

import datetime
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from ..resolve.problem import Problem
from ..resolve.scrub import scrub_text
from ..resolve.wire import AdviseRequest, AdviseResult, JobView, digest
from . import problems
from .config import ServerSettings
from .knowledge import knowledge_digest
from .runners import LogSink, ProcessRunner, Resolver, Tasks, ThreadRunner
from .storage import JobRecord, SqlJobStore

TASK_PREFIX = {"advise": "adviser", "provenance": "provenance-checker"}


class QueueFull(Exception):
    """The shared queue already holds ``max_jobs`` unfinished jobs."""


def new_job_id(task: str = "advise") -> str:
    """Thoth-style ids (``adviser-<UTC stamp>-<128 random bits>``): thamos derives the API path from the prefix."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%S")
    return f"{TASK_PREFIX[task]}-{stamp}-{secrets.token_hex(16)}"


@dataclass
class _Running:
    """A job this replica runs now, and its log lines not yet written."""

    job: JobRecord
    log: list[tuple[float, str]] = field(default_factory=list)
    done: bool = False
    started: float = 0.0


class Jobs:
    """Submit, run, cache and look up jobs; the queue and results live in the shared store."""

    PATIENCE = 1.0  # seconds a worker holds a job claimed ahead while the one before it runs

    def __init__(
        self,
        settings: ServerSettings,
        store: SqlJobStore,
        tasks: Tasks | Resolver,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.owner = f"replica-{secrets.token_hex(8)}"
        self.tasks: Tasks = dict(tasks) if isinstance(tasks, Mapping) else {"advise": tasks}
        self._held: dict[str, AdviseRequest] = {}  # pinned jobs' requests, with their credentials
        self._running: dict[str, _Running] = {}
        self._waiters: dict[str, list[Callable[[], None]]] = {}
        self._waited: dict[str, str] = {}  # job id -> digest, of the jobs waited for here
        # lately finished here, for waiters (``finished``): the view without its result, the result's JSON
        self._finished: dict[str, tuple[JobView, Optional[str]]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Semaphore(0)
        self._pruned = 0.0
        self._touched: dict[str, float] = {}
        self.changed: list[Callable[[list[str]], None]] = []  # told the digests of jobs created or finished here
        make_runner = ProcessRunner if settings.isolation == "process" else ThreadRunner
        self._runners = [make_runner(self.tasks) for _ in range(settings.workers)]
        self._threads = [
            threading.Thread(target=self._work, args=(runner,), name=f"worker-{i}", daemon=True)
            for i, runner in enumerate(self._runners)
        ]
        self._threads.append(threading.Thread(target=self._beat, name="lease", daemon=True))
        self._prepared = threading.Semaphore(0)  # released once per worker whose runner is ready

    def start(self) -> None:
        self.store.heartbeat(self.owner, self.clock())
        self._expire()
        self._prune()
        for thread in self._threads:
            thread.start()

    def ready(self, timeout: float) -> bool:
        """Wait until every worker's resolver process has started and warmed up (the server takes no
        request before: the first ones would wait for it), at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        return all(self._prepared.acquire(timeout=max(0.0, deadline - time.monotonic())) for _ in self._runners)

    def close(self) -> None:
        """Stop: running jobs go back to the queue (pinned ones fail: their credentials die with us)."""
        self._stopping.set()
        for _ in self._threads:
            self._wake.release()
        for runner in self._runners:
            runner.interrupt()
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        with self._lock:
            self._held.clear()
        self.store.fail_owned(self.owner, problems.stopped().to_dict(), self.clock())

    # -- submitting ------------------------------------------------------------
    def submit(self, request: AdviseRequest, task: str = "advise") -> tuple[JobRecord, bool]:
        """A job for the request: a cached answer, the same request in flight, or a new job.

        Returns the job and whether it was answered from the cache (or joined).
        Raises QueueFull when ``max_jobs`` jobs are queued or running (all replicas).
        """
        key = digest(request, f"{task}+{self.settings.knowledge_version}+{knowledge_digest()}")
        if not request.force:
            found = self._cached(key, request, task)
            if found is not None:
                return found, True
        now = self.clock()
        pinned = bool(request.credential_urls())
        job = JobRecord(
            id=new_job_id(task), digest=key, state="queued", request=request.scrubbed().to_dict(), created_at=now,
            kind=task, pinned=pinned, owner=self.owner if pinned else None,
            lease_until=now + self.settings.lease if pinned else None,
        )  # fmt: skip
        if pinned:
            with self._lock:
                self._held[job.id] = request
        if not self.store.create(job, [(now, "queued")], max_active=self.settings.max_jobs):
            with self._lock:
                self._held.pop(job.id, None)
            raise QueueFull()
        self._tell(job.digest)
        self._wake.release()
        return job, False

    def _cached(self, key: str, request: AdviseRequest, task: str) -> Optional[JobRecord]:
        """The job already answering this request (as Thoth, its id is the answer): no write,
        bar marking a cached result used (at most hourly), so pruning keeps it."""
        found = self.store.find_answer(key)
        if found is not None and found.state == "succeeded":
            now = self.clock()
            if now - self._touched.get(key, 0.0) > 3600:
                self._touched[key] = now
                self.store.touch_result(key, now)
        return found

    # -- looking up ------------------------------------------------------------
    def record(self, job_id: str) -> Optional[JobRecord]:
        return self.store.get(job_id)

    def view(self, job_id: str) -> Optional[JobView]:
        snapshot = self.snapshot(job_id)
        return snapshot[1] if snapshot is not None else None

    def snapshot(self, job_id: str) -> Optional[tuple[JobRecord, JobView]]:
        """The job's record and its view from one read of the store (never a view older than the record)."""
        job = self.store.get(job_id)
        return (job, self.view_of(job)) if job is not None else None

    def view_of(self, job: JobRecord) -> JobView:
        """The view of a record just read or written (a store read only for a succeeded job's result)."""
        result = None
        if job.state == "succeeded":
            stored = self.store.result(job.digest)
            result = AdviseResult.from_dict(stored) if stored is not None else None
        return JobView(
            id=job.id, state=job.state, cached=job.cached, created_at=job.created_at,
            started_at=job.started_at, finished_at=job.finished_at, result=result,
            problem=Problem.from_dict(job.problem) if job.problem else None,
        )  # fmt: skip

    def on_done(self, job_id: str, callback: Callable[[], None], digest: Optional[str] = None) -> None:
        """Call ``callback`` (from a worker thread) when this replica finishes the job, or (with its
        ``digest``) when the store's watcher sees a job of that digest finished by any replica
        (``finished_elsewhere``); waiters also look at the store now and then (``forget`` after)."""
        with self._lock:
            waiting = self._waiters.setdefault(job_id, [])
            if callback not in waiting:
                waiting.append(callback)
            if digest is not None:
                self._waited[job_id] = digest

    def forget(self, job_id: str, callback: Callable[[], None]) -> None:
        with self._lock:
            waiting = self._waiters.get(job_id, [])
            if callback in waiting:
                waiting.remove(callback)
            if not waiting:
                self._waiters.pop(job_id, None)
                self._waited.pop(job_id, None)

    def finished_elsewhere(self, digests: set[str]) -> None:
        """Wake the waiters of the jobs of these digests, which some replica finished (the store's watcher saw)."""
        with self._lock:
            woken = [wake for job_id, digest in self._waited.items() if digest in digests for wake in self._waiters.get(job_id, ())]
        for wake in woken:
            wake()

    def wait(self, job_id: str, timeout: float) -> Optional[JobView]:
        """The job once finished, or as it stands when ``timeout`` runs out (blocking)."""
        deadline = time.monotonic() + timeout
        event = threading.Event()
        self.on_done(job_id, event.set)
        try:
            view = self.view(job_id)
            while view is not None and not view.done and time.monotonic() < deadline:
                event.wait(min(self.settings.poll, max(0.0, deadline - time.monotonic())))
                event.clear()
                view = self.finished(job_id) or (view if self.runs_here(job_id) else self.view(job_id))
            return view
        finally:
            self.forget(job_id, event.set)

    def log(self, job_id: str) -> list[str]:
        return self.store.log(job_id)

    @property
    def pending(self) -> int:
        return self.store.count("queued")

    # -- working ---------------------------------------------------------------
    def _log(self, job_id: str, line: str) -> None:
        self.store.append_log(job_id, scrub_text(line), self.clock())

    def _take_log(self, running: _Running) -> list[tuple[float, str]]:
        lines, running.log = running.log, []
        return [(at, scrub_text(line)) for at, line in lines]

    def _sink(self, running: _Running) -> LogSink:
        """Log lines of a running job, written in batches (at most a second late)."""
        last = [time.monotonic()]

        def sink(line: str) -> None:
            running.log.append((self.clock(), line))
            if time.monotonic() - last[0] > 1.0:
                last[0] = time.monotonic()
                lines = self._take_log(running)
                if lines:
                    self.store.append_logs(running.job.id, lines)

        return sink

    def _claim(self) -> Optional[_Running]:
        """The next job for this replica, registered as running here (its lease renewed), or None."""
        now = self.clock()
        try:
            job = self.store.claim(self.owner, now, now + self.settings.lease, self.settings.max_attempts)
        except Exception:  # the store is unreachable for a moment: try again later
            return None
        return self._here(job)

    def _here(self, job: Optional[JobRecord]) -> Optional[_Running]:
        """A job just claimed, registered as running here (its lease renewed)."""
        if job is None:
            return None
        running = _Running(job)
        with self._lock:
            self._running[job.id] = running
        return running

    def _work(self, runner: Any) -> None:
        """Claim, run, record. A resolver process is not kept waiting for the store: while it runs a
        job, the worker claims the next one (``ahead``) and, once it has handed that one over, records
        the finished one, claiming the one after in the same trip to the store. A job held ahead goes
        back to the queue if the one before it takes more than ``PATIENCE`` seconds, so an idle worker
        or replica can take it meanwhile."""
        current: Optional[_Running] = None  # handed to the runner
        ahead: Optional[_Running] = None  # claimed when the job before it was recorded
        try:
            try:
                runner.prepare()
            except (RuntimeError, EOFError, OSError):
                pass  # reported on the first job that needs the runner
            finally:
                self._prepared.release()
            while not self._stopping.is_set():
                if current is None:
                    claimed = self._claim()
                    if claimed is None:
                        self._wake.acquire(timeout=self.settings.poll)
                        continue
                    current = self._hand(runner, claimed)
                else:
                    current, ahead = self._step(runner, current, ahead)
        finally:
            if ahead is not None:
                self._release(ahead, "returned to the queue: this replica is stopping")
            if current is not None:  # stopping: it ends as its resolver was interrupted (back to the queue)
                self._done(current, runner.collect(self._sink(current)))
            runner.stop()

    def _step(self, runner: Any, running: _Running, ahead: Optional[_Running]) -> tuple[Optional[_Running], Optional[_Running]]:
        """Wait for the job the runner has, record it; returns the next job, handed over, and the
        one after it when it was claimed with the record."""
        if ahead is None and runner.overlaps:
            ahead = self._claim()
        sink = self._sink(running)
        outcome = runner.collect(sink, time.monotonic() + self.PATIENCE if ahead is not None else None)
        if outcome is None:  # a long job: the one held ahead is better run by someone idle
            assert ahead is not None
            if not ahead.job.pinned:  # (a pinned one can run on this replica only: it stays)
                self._release(ahead, "returned to the queue: the job before it on this worker took long")
                ahead = None
            outcome = runner.collect(sink)
        if ahead is not None and self._stopping.is_set():
            self._release(ahead, "returned to the queue: this replica is stopping")
            ahead = None
        handed = self._hand(runner, ahead) if ahead is not None else None
        return handed, self._done(running, outcome, follow=handed is not None and not self._stopping.is_set())

    def _hand(self, runner: Any, running: _Running) -> Optional[_Running]:
        """Give a claimed job to the runner (it starts at once); None when it ended there and then."""
        running.started = self.clock()
        outcome = self._send(runner, running, running.started)
        if outcome is None:
            return running
        self._done(running, outcome)
        return None

    def _send(self, runner: Any, running: _Running, started: float) -> Optional[tuple[str, Any]]:
        """Hand the job to the runner; an outcome at once when it cannot run (nobody holds a pinned
        job's credentials any more, or the runner failed to take it)."""
        job = running.job
        request = self._request(job)
        retry = f" (attempt {job.attempts}: its previous replica stopped)" if job.attempts > 1 else ""
        running.log.append((started, f"started on {self.owner}{retry}"))
        if request is None:
            return "error", problems.stopped().to_dict()
        failed: Optional[tuple[str, Any]] = runner.send(job.kind, request, self.settings.timeout)
        return failed

    def _release(self, running: _Running, why: str) -> None:
        running.log.append((self.clock(), why))
        try:
            self.store.release(running.job.id, self.owner, running.job.attempts, self._take_log(running))
        except Exception:
            pass  # its lease lapses and a replica takes it again
        self._forget(running)

    def _done(self, running: _Running, outcome: tuple[str, Any], follow: bool = False) -> Optional[_Running]:
        """Record the outcome (or, failing that, give the job up), then wake who waits for it;
        ``follow``: claim the next job in the same trip to the store and return it."""
        try:
            return self._finish(running, outcome, running.started, follow)
        except Exception as exc:  # the store failed us: the job must not stay ours for ever
            self._abandon(running.job, exc)
            return None
        finally:
            self._forget(running)

    def _forget(self, running: _Running) -> None:
        with self._lock:
            running.done = True
            self._running.pop(running.job.id, None)
            waiting = self._waiters.pop(running.job.id, [])
            self._waited.pop(running.job.id, None)
        for callback in waiting:
            callback()

    def _request(self, job: JobRecord) -> Optional[Mapping[str, Any]]:
        """What the runner gets (``AdviseRequest.to_dict()``): the request held here (a pinned job's,
        with its credentials), else as stored (the resolver process decodes it)."""
        with self._lock:
            held = self._held.pop(job.id, None)
        if held is not None or job.pinned:
            return held.to_dict() if held is not None else None
        return job.request

    def _finish(self, running: _Running, outcome: tuple[str, Any], started: float, follow: bool) -> Optional[_Running]:
        job, (kind, value) = running.job, outcome
        finished = self.clock()
        if self._stopping.is_set() and kind != "ok" and not job.pinned:
            running.log.append((finished, "returned to the queue: this replica is stopping"))
            self.store.release(job.id, self.owner, job.attempts, self._take_log(running))
            return None
        if kind == "ok":  # ``value``: the result's JSON, credentials removed (runners.result_json)
            running.log.append((finished, f"succeeded in {finished - started:.2f}s"))
            done, claimed = self._record(job, finished, follow, result=value, lines=self._take_log(running))
            if done:
                self._publish(job, "succeeded", finished, value)
            return claimed
        if self._stopping.is_set():
            value = problems.stopped().to_dict()
        running.log.append((finished, f"failed in {finished - started:.2f}s: {value.get('detail', '')}"))
        done, claimed = self._record(job, finished, follow, problem=value, lines=self._take_log(running))
        if done:
            self._publish(job, "failed", finished, problem=Problem.from_dict(value))
        return claimed

    def _record(self, job: JobRecord, at: float, follow: bool = False, **outcome: Any) -> tuple[bool, Optional[_Running]]:
        """Write the outcome unless another replica took the job again meanwhile (this one stalled
        past its lease): then that replica's run is the one that counts, and ours is dropped.
        ``follow``: claim the next job in the same trip (returned, registered here); if that trip
        fails, the outcome is sent alone (PostgreSQL wrote neither: one transaction)."""
        claimed: Optional[JobRecord] = None
        try:
            if follow:
                done, claimed = self.store.complete_and_claim(
                    job.id, job.digest, at, owner=self.owner, attempt=job.attempts, lease_until=at + self.settings.lease,
                    max_attempts=self.settings.max_attempts, **outcome,
                )  # fmt: skip
        except Exception:  # PostgreSQL: one transaction, nothing written; the outcome alone then
            follow = False
        if not follow:
            done = self.store.complete(job.id, job.digest, at, owner=self.owner, attempt=job.attempts, **outcome)
        if done:
            self._tell(job.digest)
        return done, self._here(claimed)

    def _publish(self, job: JobRecord, state: str, at: float, result: Optional[str] = None, **outcome: Any) -> None:
        """The finished job as stored, for who waits for it here (``finished``: no read of the store),
        also one who starts waiting only now (it finished before its waiter registered); ``result``
        its JSON, kept as text (``finished_json``)."""
        with self._lock:
            self._finished[job.id] = JobView(
                id=job.id, state=state, cached=False, created_at=job.created_at, started_at=job.started_at,
                finished_at=at, **outcome,
            ), result  # fmt: skip
            while len(self._finished) > 256:
                self._finished.pop(next(iter(self._finished)))

    def runs_here(self, job_id: str) -> bool:
        """True while this replica holds the job (running or claimed ahead): its end wakes the waiters."""
        with self._lock:
            return job_id in self._running

    def finished(self, job_id: str) -> Optional[JobView]:
        """The job's view if this replica finished it lately for someone waiting, else None (ask ``view``)."""
        found = self.finished_json(job_id)
        if found is None or found[1] is None:
            return found[0] if found is not None else None
        return replace(found[0], result=AdviseResult.from_dict(json.loads(found[1])))

    def finished_json(self, job_id: str) -> Optional[tuple[JobView, Optional[str]]]:
        """As ``finished``, the result left as its JSON text (``None`` in the view): answered as it is."""
        with self._lock:
            return self._finished.get(job_id)

    def _tell(self, digest: str) -> None:
        for listener in self.changed:
            listener([digest])

    def _abandon(self, job: JobRecord, exc: Exception) -> None:
        """After a store error while finishing: fail the job, or, failing that, let its lease lapse."""
        problem = problems.crashed(f"the backend could not record the outcome: {type(exc).__name__}: {exc}")
        try:
            self._record(job, self.clock(), problem=problem.to_dict())
        except Exception:
            pass  # not running here any more: its lease lapses and a replica takes it again

    def _expire(self) -> None:
        self.store.expire(
            self.clock(), self.settings.max_attempts, problems.lost().to_dict(),
            problems.exhausted(self.settings.max_attempts).to_dict(),
        )  # fmt: skip

    def _prune(self) -> None:
        self._pruned = self.clock()
        self.store.prune(self._pruned - self.settings.keep_days * 86400)

    def _beat(self) -> None:
        while not self._stopping.wait(self.settings.lease / 3):
            try:
                now = self.clock()
                with self._lock:
                    running = list(self._running)
                self.store.renew(self.owner, now + self.settings.lease, running)
                self.store.heartbeat(self.owner, now)
                self._expire()
                if now - self._pruned > 3600:
                    self._prune()
            except Exception:  # a database hiccup must not kill the heartbeat; the next beat retries
                continue
