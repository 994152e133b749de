"""Where the backend keeps jobs, cached results and job logs: one SQL schema, any DB-API database.

Layout (every table prefixed ``mt_`` so the store can share a database):

- ``mt_jobs``      one row per submitted request; ``request`` is the request
                   *with credentials removed*, ``problem`` the RFC 9457 body
                   of a failure, ``owner`` the replica that runs it.
- ``mt_results``   the result of a resolution, keyed by the request digest
                   (the cache), written once per successful resolution.
- ``mt_logs``      the log lines of a job, in order.
- ``mt_replicas``  a heartbeat per running replica (for operators).
- ``mt_schema``    the versions of ``MIGRATIONS`` applied, one row each.

``mt_jobs`` is also the queue: a replica *claims* the oldest queued job (or a
running one whose lease expired: its replica died) in one UPDATE, PostgreSQL
with ``FOR UPDATE SKIP LOCKED``, SQLite under its single writer lock, and
renews the lease of its jobs while they run. A ``pinned`` job carries
credentials that only its accepting replica holds (in memory): no other
replica takes it, and it fails, with a reason, when that replica is gone.

``databases`` has the two databases it runs on (SQLite, the default, and
PostgreSQL) and opens the one a URL names.
"""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import UsageError

_TABLES = (
    """CREATE TABLE IF NOT EXISTS mt_jobs (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        state TEXT NOT NULL,
        request TEXT NOT NULL,
        problem TEXT,
        cached INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION
    )""",
    "CREATE INDEX IF NOT EXISTS mt_jobs_digest ON mt_jobs (digest, state)",
    """CREATE TABLE IF NOT EXISTS mt_results (
        digest TEXT PRIMARY KEY,
        result TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS mt_logs (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS mt_replicas (
        owner TEXT PRIMARY KEY,
        seen_at DOUBLE PRECISION NOT NULL
    )""",
)
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, _TABLES),
    (2, (
        "ALTER TABLE mt_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'advise'",
        "ALTER TABLE mt_jobs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE mt_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE mt_jobs ADD COLUMN lease_until DOUBLE PRECISION",
        "CREATE INDEX IF NOT EXISTS mt_jobs_queue ON mt_jobs (state, created_at)",
    )),
    # jobs finished lately: the in-memory answers (fastpath.py) follow them. No index on created_at
    # alone: PostgreSQL would walk it to claim (ORDER BY created_at) instead of the queue index.
    (3, ("CREATE INDEX IF NOT EXISTS mt_jobs_finished ON mt_jobs (finished_at)",)),
    # the queue: unfinished jobs only, oldest first. A claim walks this small index (an index of every
    # job by state made PostgreSQL scan the whole table once finished jobs outnumbered the rest).
    (4, (
        "CREATE INDEX IF NOT EXISTS mt_jobs_active ON mt_jobs (created_at) WHERE state IN ('queued', 'running')",
        "DROP INDEX IF EXISTS mt_jobs_queue",
    )),
)  # fmt: skip
_JOB_COLUMNS = (
    "id, digest, state, request, problem, cached, owner, created_at, started_at, finished_at, "
    "kind, pinned, attempts, lease_until"
)
_ACTIVE = ("queued", "running")
_UNFINISHED = "state IN ('queued', 'running')"  # as written in the index of the queue (mt_jobs_active)
_INSERT_LOG = (
    "INSERT INTO mt_logs (job_id, seq, at, line) VALUES "
    "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mt_logs WHERE job_id = ?), ?, ?)"
)


def insert_job_sql(limited: bool) -> str:
    """The INSERT of one job; ``limited``: only while fewer than the last parameter are unfinished
    (counting at most that many rows: a full queue costs no more than a short one)."""
    marks = ", ".join("?" * 14)
    if not limited:
        return f"INSERT INTO mt_jobs ({_JOB_COLUMNS}) VALUES ({marks})"
    return (
        f"INSERT INTO mt_jobs ({_JOB_COLUMNS}) SELECT {marks} WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM "
        f"mt_jobs WHERE {_UNFINISHED} LIMIT ?) AS active) < ?"
    )


def job_values(job: JobRecord, max_active: Optional[int]) -> tuple[Any, ...]:
    return job.as_row() if max_active is None else (*job.as_row(), max_active, max_active)


_UPSERT_RESULT = (
    "INSERT INTO mt_results (digest, result, created_at) VALUES (?, ?, ?) "
    "ON CONFLICT (digest) DO UPDATE SET result = excluded.result, created_at = excluded.created_at"
)


@dataclass(frozen=True)
class JobRecord:
    """One row of ``mt_jobs``; ``request`` and ``problem`` are JSON data (credentials removed)."""

    id: str
    digest: str
    state: str
    request: dict[str, Any]
    created_at: float
    cached: bool = False
    owner: Optional[str] = None
    problem: Optional[dict[str, Any]] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    kind: str = "advise"
    pinned: bool = False  # credentials held by ``owner`` only
    attempts: int = 0
    lease_until: Optional[float] = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JobRecord:
        return cls(
            id=row[0], digest=row[1], state=row[2], request=json.loads(row[3]),
            problem=json.loads(row[4]) if row[4] else None, cached=bool(row[5]), owner=row[6],
            created_at=row[7], started_at=row[8], finished_at=row[9], kind=row[10], pinned=bool(row[11]),
            attempts=int(row[12]), lease_until=row[13],
        )  # fmt: skip

    def as_row(self) -> tuple[Any, ...]:
        problem = json.dumps(self.problem) if self.problem is not None else None
        return (
            self.id, self.digest, self.state, json.dumps(self.request), problem, int(self.cached),
            self.owner, self.created_at, self.started_at, self.finished_at,
            self.kind, int(self.pinned), self.attempts, self.lease_until,
        )  # fmt: skip


class SqlJobStore(abc.ABC):
    """The JobStore over any DB-API connection; subclasses say how to connect and quote."""

    kind = "sql"
    placeholder = "?"

    def __init__(self) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------
    @abc.abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection (one per thread)."""

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _transaction(self, conn: Any, single: bool) -> Any:
        """What the statements of one ``_cursor`` run in: SQLite's implicit transaction, committed after."""
        return nullcontext()

    @contextmanager
    def _cursor(self, single: bool = False) -> Iterator[Any]:
        """A cursor whose statements are one transaction (``single``: there is only one statement)."""
        conn = self._connection()
        cursor = conn.cursor()
        try:
            with self._transaction(conn, single):
                yield cursor
            conn.commit()
        except BaseException:
            self._recover(conn)
            raise
        finally:
            with suppress(Exception):
                cursor.close()

    def _recover(self, conn: Any) -> None:
        """Roll back; a connection the database dropped is forgotten so the next call reconnects."""
        with suppress(Exception):
            conn.rollback()
        if getattr(conn, "broken", False) or getattr(conn, "closed", False):
            self._local.conn = None
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)

    def _execute(self, text: str, params: Sequence[Any] = ()) -> int:
        with self._cursor(single=True) as cursor:
            cursor.execute(self._sql(text), tuple(params))
            return int(cursor.rowcount or 0)

    def _fetch(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._cursor(single=True) as cursor:
            cursor.execute(self._sql(text), tuple(params))
            return list(cursor.fetchall())

    @abc.abstractmethod
    def _schema_lock(self) -> Any:
        """A context manager: a cursor in a transaction no other store migrates in at the same time."""

    def create_schema(self) -> None:
        """Apply the migrations this store has not seen, in order, each version once."""
        with self._schema_lock() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS mt_schema (version INTEGER NOT NULL)")
            cursor.execute("SELECT MAX(version) FROM mt_schema")
            current = cursor.fetchone()[0] or 0
            if current > MIGRATIONS[-1][0]:
                raise UsageError(
                    f"the job store is at schema version {current}, newer than this micro-thoth knows",
                    hint="upgrade micro-thoth on this replica",
                )
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        cursor.execute(statement)
                    cursor.execute(self._sql("INSERT INTO mt_schema (version) VALUES (?)"), (version,))

    @property
    def schema_version(self) -> int:
        return int(self._fetch("SELECT MAX(version) FROM mt_schema")[0][0] or 0)

    # -- jobs ------------------------------------------------------------------
    def create(self, job: JobRecord, lines: Sequence[tuple[float, str]] = (), max_active: Optional[int] = None) -> bool:
        """A new job and its first log lines, in one transaction (a worker may take it at once). With
        ``max_active``: only while fewer jobs are queued or running (all replicas), else False and
        nothing written."""
        with self._cursor() as cursor:
            cursor.execute(self._sql(insert_job_sql(max_active is not None)), job_values(job, max_active))
            if not cursor.rowcount:
                return False
            self._insert_logs(cursor, job.id, lines)
            return True

    def get(self, job_id: str) -> Optional[JobRecord]:
        rows = self._fetch(f"SELECT {_JOB_COLUMNS} FROM mt_jobs WHERE id = ?", (job_id,))
        return JobRecord.from_row(rows[0]) if rows else None

    def find_answer(self, digest: str) -> Optional[JobRecord]:
        """The job that answers a request of this digest: one still queued or running, else the
        newest that succeeded (its result is the cached one)."""
        rows = self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM mt_jobs WHERE digest = ? AND state IN ('queued', 'running', 'succeeded') "
            "ORDER BY CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END, created_at DESC LIMIT 1",
            (digest,),
        )
        return JobRecord.from_row(rows[0]) if rows else None

    def complete(
        self,
        job_id: str,
        digest: str,
        at: float,
        *,
        owner: str,
        attempt: int,
        result: Optional[str] = None,
        problem: Optional[dict[str, Any]] = None,
        lines: Sequence[tuple[float, str]] = (),
    ) -> bool:
        """Finish a job ``owner`` still holds from its claim number ``attempt``, in one transaction: its
        state, last log lines and result (cached). False, and nothing written, when the job was taken
        again meanwhile (this replica stalled past its lease) or already finished."""
        body = json.dumps(problem) if problem is not None else None
        state = "succeeded" if result is not None else "failed"
        with self._cursor() as cursor:
            cursor.execute(
                self._sql("UPDATE mt_jobs SET state = ?, finished_at = ?, problem = ?, lease_until = NULL "
                          "WHERE id = ? AND owner = ? AND attempts = ? AND state = 'running'"),
                (state, at, body, job_id, owner, attempt),
            )  # fmt: skip
            if not cursor.rowcount:
                return False
            self._insert_logs(cursor, job_id, lines)
            if result is not None:
                cursor.execute(self._sql(_UPSERT_RESULT), (digest, result, at))
            return True

    def changed(self, since: float) -> list[tuple[str, Optional[float]]]:
        """What may change an answer: the digests of unfinished jobs (at ``None``) and of jobs
        finished after ``since`` (at their ``finished_at``), by any replica."""
        rows = self._fetch(
            f"SELECT digest, NULL FROM mt_jobs WHERE {_UNFINISHED} "
            "UNION ALL SELECT digest, finished_at FROM mt_jobs WHERE finished_at > ?",
            (since,),
        )
        return [(row[0], row[1]) for row in rows]

    # -- the queue -------------------------------------------------------------
    skip_locked = ""  # PostgreSQL: " FOR UPDATE SKIP LOCKED"

    def claim(self, owner: str, now: float, lease_until: float, max_attempts: int) -> Optional[JobRecord]:
        """Take the oldest job this replica may run: queued (a pinned one only by its owner), or
        running under an expired lease (its replica died); it becomes ``owner``'s, running."""
        rows = self._fetch(*self._claim_statement(owner, now, lease_until, max_attempts))
        return JobRecord.from_row(rows[0]) if rows else None

    def _claim_statement(
        self, owner: str, now: float, lease_until: float, max_attempts: int, besides: Optional[str] = None
    ) -> tuple[str, tuple[Any, ...]]:
        """The claim as one UPDATE; ``besides``: never that job (one finished in the same statement)."""
        other = "id <> ? AND " if besides is not None else ""
        text = (
            "UPDATE mt_jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, "
            f"started_at = COALESCE(started_at, ?) WHERE id = (SELECT id FROM mt_jobs WHERE {other}"
            f"{_UNFINISHED} AND ((state = 'queued' AND (pinned = 0 OR owner = ?)) "
            "OR (state = 'running' AND pinned = 0 AND lease_until < ? AND attempts < ?)) "
            f"ORDER BY created_at LIMIT 1{self.skip_locked}) AND {_UNFINISHED} "
            f"RETURNING {_JOB_COLUMNS}"
        )
        before = (besides,) if besides is not None else ()
        return self._sql(text), (owner, lease_until, now, *before, owner, now, max_attempts)

    def complete_and_claim(
        self, job_id: str, digest: str, at: float, *, owner: str, attempt: int, lease_until: float,
        max_attempts: int, result: Optional[str] = None, problem: Optional[dict[str, Any]] = None,
        lines: Sequence[tuple[float, str]] = (),
    ) -> tuple[bool, Optional[JobRecord]]:
        """``complete``, then ``claim`` the next job at ``at``: what a worker keeping its resolver busy
        does between two jobs (PostgreSQL: in one round-trip). A claim that fails here leaves the
        outcome recorded and claims nothing (the worker claims again later)."""
        done = self.complete(job_id, digest, at, owner=owner, attempt=attempt, result=result, problem=problem, lines=lines)
        try:
            return done, self.claim(owner, at, lease_until, max_attempts)
        except Exception:  # not a failure to record: the caller would give up a job already recorded
            return done, None

    def renew(self, owner: str, lease_until: float, running: Sequence[str] = ()) -> int:
        """Extend the leases of ``owner``'s queued (pinned) jobs and of the ``running`` ones it still runs."""
        ids = f" OR id IN ({', '.join('?' * len(running))})" if running else ""
        query = f"UPDATE mt_jobs SET lease_until = ? WHERE owner = ? AND (state = 'queued'{ids})"
        return self._execute(query, (lease_until, owner, *running))

    def release(self, job_id: str, owner: str, attempt: int, lines: Sequence[tuple[float, str]] = ()) -> bool:
        """Put a job this replica was running (claim number ``attempt``) back on the queue (it stops before finishing it)."""
        with self._cursor() as cursor:
            cursor.execute(
                self._sql("UPDATE mt_jobs SET state = 'queued', owner = NULL, lease_until = NULL "
                          "WHERE id = ? AND owner = ? AND attempts = ? AND state = 'running' AND pinned = 0"),
                (job_id, owner, attempt),
            )  # fmt: skip
            released = bool(cursor.rowcount)
            if released:
                self._insert_logs(cursor, job_id, lines)
            return released

    def expire(self, now: float, max_attempts: int, orphaned: dict[str, Any], exhausted: dict[str, Any]) -> int:
        """Fail, with a reason, jobs no replica can finish: pinned ones whose replica is gone, and
        ones whose replicas died ``max_attempts`` times while running them."""
        fail = "UPDATE mt_jobs SET state = 'failed', finished_at = ?, problem = ? WHERE lease_until < ? AND "
        count = self._execute(fail + f"pinned = 1 AND {_UNFINISHED}", (now, json.dumps(orphaned), now))
        return count + self._execute(
            fail + f"{_UNFINISHED} AND state = 'running' AND attempts >= ?", (now, json.dumps(exhausted), now, max_attempts)
        )

    def fail_owned(self, owner: str, problem: dict[str, Any], at: float) -> int:
        """Fail the unfinished pinned jobs of a replica that stops (nobody else holds their credentials)."""
        return self._execute(
            "UPDATE mt_jobs SET state = 'failed', finished_at = ?, problem = ? WHERE owner = ? AND pinned = 1 "
            f"AND {_UNFINISHED}",
            (at, json.dumps(problem), owner),
        )

    def count(self, *states: str) -> int:
        marks = ", ".join("?" * len(states))
        within = f"{_UNFINISHED} AND " if set(states) <= set(_ACTIVE) else ""  # the queue's index then
        return int(self._fetch(f"SELECT COUNT(*) FROM mt_jobs WHERE {within}state IN ({marks})", states)[0][0])

    # -- results ---------------------------------------------------------------
    def put_result(self, digest: str, result: dict[str, Any], at: float) -> None:  # tests, operators
        self._execute(_UPSERT_RESULT, (digest, json.dumps(result), at))

    def touch_result(self, digest: str, at: float) -> None:
        """Mark a cached result as used, so pruning keeps it as long as the jobs that read it."""
        self._execute("UPDATE mt_results SET created_at = ? WHERE digest = ?", (at, digest))

    def result(self, digest: str) -> Optional[dict[str, Any]]:
        rows = self._fetch("SELECT result FROM mt_results WHERE digest = ?", (digest,))
        return json.loads(rows[0][0]) if rows else None

    # -- logs ------------------------------------------------------------------
    def append_log(self, job_id: str, line: str, at: float) -> None:
        self.append_logs(job_id, [(at, line)])

    def append_logs(self, job_id: str, lines: Sequence[tuple[float, str]]) -> None:
        """Several lines at once, in one transaction."""
        with self._cursor(single=len(lines) == 1) as cursor:
            self._insert_logs(cursor, job_id, lines)

    def _insert_logs(self, cursor: Any, job_id: str, lines: Sequence[tuple[float, str]]) -> None:
        """Each line numbered after the job's last one (one round-trip where the driver pipelines)."""
        if lines:
            cursor.executemany(self._sql(_INSERT_LOG), [(job_id, job_id, at, line) for at, line in lines])

    def log(self, job_id: str) -> list[str]:
        rows = self._fetch("SELECT line FROM mt_logs WHERE job_id = ? ORDER BY seq", (job_id,))
        return [row[0] for row in rows]

    def prune(self, before: float) -> int:
        """Forget finished jobs, their logs, results and replicas not touched since ``before``."""
        finished = "SELECT id FROM mt_jobs WHERE state IN ('succeeded', 'failed') AND finished_at < ?"
        self._execute(f"DELETE FROM mt_logs WHERE job_id IN ({finished})", (before,))
        count = self._execute("DELETE FROM mt_jobs WHERE state IN ('succeeded', 'failed') AND finished_at < ?", (before,))
        self._execute("DELETE FROM mt_results WHERE created_at < ?", (before,))
        self._execute("DELETE FROM mt_replicas WHERE seen_at < ?", (before,))
        return count

    # -- replicas --------------------------------------------------------------
    def heartbeat(self, owner: str, at: float) -> None:
        upsert = "ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at"
        self._execute(f"INSERT INTO mt_replicas (owner, seen_at) VALUES (?, ?) {upsert}", (owner, at))

    def last_seen(self, owner: str) -> Optional[float]:
        rows = self._fetch("SELECT seen_at FROM mt_replicas WHERE owner = ?", (owner,))
        return float(rows[0][0]) if rows else None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with suppress(Exception):  # closing from another thread may be refused; the process ends anyway
                    conn.close()
            self._connections.clear()
        self._local = threading.local()
