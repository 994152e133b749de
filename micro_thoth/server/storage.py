"""Where the backend keeps jobs, cached results and job logs: SQLite or PostgreSQL, one SQL schema.

Layout (every table prefixed ``mt_`` so the store can share a database):

- ``mt_jobs``      one row per submitted request; ``request`` is the request
                   *with credentials removed*, ``problem`` the RFC 9457 body
                   of a failure, ``owner`` the replica that runs it.
- ``mt_results``   the result of a resolution, keyed by the request digest
                   (the cache), written once per successful resolution.
- ``mt_logs``      the log lines of a job, in order.
- ``mt_replicas``  a heartbeat per running replica, so a job whose replica
                   died is reported as failed instead of pending forever.

SQLite (the default) lives in one file in WAL mode; PostgreSQL
(``postgresql://...``, psycopg 3) lets several replicas share everything.
"""

from __future__ import annotations

import abc
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Protocol

from ..errors import UsageError

SCHEMA = (
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
_JOB_COLUMNS = "id, digest, state, request, problem, cached, owner, created_at, started_at, finished_at"
_ACTIVE = ("queued", "running")
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

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JobRecord:
        return cls(
            id=row[0],
            digest=row[1],
            state=row[2],
            request=json.loads(row[3]),
            problem=json.loads(row[4]) if row[4] else None,
            cached=bool(row[5]),
            owner=row[6],
            created_at=row[7],
            started_at=row[8],
            finished_at=row[9],
        )

    def as_row(self) -> tuple[Any, ...]:
        problem = json.dumps(self.problem) if self.problem is not None else None
        return (
            self.id, self.digest, self.state, json.dumps(self.request), problem, int(self.cached),
            self.owner, self.created_at, self.started_at, self.finished_at,
        )  # fmt: skip

    def failed(self, problem: dict[str, Any], at: float) -> JobRecord:
        return replace(self, state="failed", problem=problem, finished_at=at)


class JobStore(Protocol):
    """What the job runner and the API need from storage."""

    kind: str

    def create(self, job: JobRecord) -> None: ...

    def get(self, job_id: str) -> Optional[JobRecord]: ...

    def find_active(self, digest: str) -> Optional[JobRecord]: ...

    def mark_running(self, job_id: str, at: float) -> None: ...

    def start(self, job_id: str, at: float, lines: Sequence[tuple[float, str]] = ()) -> None: ...

    def complete(
        self,
        job_id: str,
        digest: str,
        at: float,
        *,
        result: Optional[dict[str, Any]] = None,
        problem: Optional[dict[str, Any]] = None,
        lines: Sequence[tuple[float, str]] = (),
    ) -> None: ...

    def finish(self, job_id: str, state: str, at: float, problem: Optional[dict[str, Any]] = None) -> None: ...

    def put_result(self, digest: str, result: dict[str, Any], at: float) -> None: ...

    def result(self, digest: str) -> Optional[dict[str, Any]]: ...

    def touch_result(self, digest: str, at: float) -> None: ...

    def prune(self, before: float) -> int: ...

    def append_log(self, job_id: str, line: str, at: float) -> None: ...

    def append_logs(self, job_id: str, lines: Sequence[tuple[float, str]]) -> None: ...

    def log(self, job_id: str) -> list[str]: ...

    def heartbeat(self, owner: str, at: float) -> None: ...

    def last_seen(self, owner: str) -> Optional[float]: ...

    def fail_unfinished(self, problem: dict[str, Any], at: float) -> int: ...

    def close(self) -> None: ...


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

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        conn = self._connection()
        cursor = conn.cursor()
        try:
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
        try:
            conn.rollback()
        except Exception:
            pass
        if getattr(conn, "broken", False) or getattr(conn, "closed", False):
            self._local.conn = None
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)

    def _execute(self, text: str, params: Sequence[Any] = ()) -> int:
        with self._cursor() as cursor:
            cursor.execute(self._sql(text), tuple(params))
            return int(cursor.rowcount or 0)

    def _fetch(self, text: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._cursor() as cursor:
            cursor.execute(self._sql(text), tuple(params))
            return list(cursor.fetchall())

    def create_schema(self) -> None:
        for statement in SCHEMA:
            self._execute(statement)

    # -- jobs ------------------------------------------------------------------
    def create(self, job: JobRecord) -> None:
        marks = ", ".join("?" * 10)
        self._execute(f"INSERT INTO mt_jobs ({_JOB_COLUMNS}) VALUES ({marks})", job.as_row())

    def get(self, job_id: str) -> Optional[JobRecord]:
        rows = self._fetch(f"SELECT {_JOB_COLUMNS} FROM mt_jobs WHERE id = ?", (job_id,))
        return JobRecord.from_row(rows[0]) if rows else None

    def find_active(self, digest: str) -> Optional[JobRecord]:
        rows = self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM mt_jobs WHERE digest = ? AND state IN (?, ?) "
            "ORDER BY created_at LIMIT 1",
            (digest, *_ACTIVE),
        )
        return JobRecord.from_row(rows[0]) if rows else None

    def mark_running(self, job_id: str, at: float) -> None:
        self._execute("UPDATE mt_jobs SET state = 'running', started_at = ? WHERE id = ?", (at, job_id))

    def finish(self, job_id: str, state: str, at: float, problem: Optional[dict[str, Any]] = None) -> None:
        body = json.dumps(problem) if problem is not None else None
        self._execute(
            "UPDATE mt_jobs SET state = ?, finished_at = ?, problem = ? WHERE id = ?",
            (state, at, body, job_id),
        )

    def start(self, job_id: str, at: float, lines: Sequence[tuple[float, str]] = ()) -> None:
        """Mark the job running and write its first log lines, in one transaction."""
        with self._cursor() as cursor:
            cursor.execute(self._sql("UPDATE mt_jobs SET state = 'running', started_at = ? WHERE id = ?"), (at, job_id))
            self._insert_logs(cursor, job_id, lines)

    def complete(
        self,
        job_id: str,
        digest: str,
        at: float,
        *,
        result: Optional[dict[str, Any]] = None,
        problem: Optional[dict[str, Any]] = None,
        lines: Sequence[tuple[float, str]] = (),
    ) -> None:
        """Finish a job in one transaction: its last log lines, its result (cached), its state."""
        with self._cursor() as cursor:
            self._insert_logs(cursor, job_id, lines)
            if result is not None:
                cursor.execute(self._sql(_UPSERT_RESULT), (digest, json.dumps(result), at))
            body = json.dumps(problem) if problem is not None else None
            state = "succeeded" if result is not None else "failed"
            cursor.execute(
                self._sql("UPDATE mt_jobs SET state = ?, finished_at = ?, problem = ? WHERE id = ?"),
                (state, at, body, job_id),
            )

    def fail_unfinished(self, problem: dict[str, Any], at: float) -> int:
        """Jobs left queued or running by a previous process of a single-replica store."""
        return self._execute(
            "UPDATE mt_jobs SET state = 'failed', finished_at = ?, problem = ? WHERE state IN (?, ?)",
            (at, json.dumps(problem), *_ACTIVE),
        )

    # -- results ---------------------------------------------------------------
    def put_result(self, digest: str, result: dict[str, Any], at: float) -> None:
        self._execute(_UPSERT_RESULT, (digest, json.dumps(result), at))

    def touch_result(self, digest: str, at: float) -> None:
        """Mark a cached result as used, so pruning keeps it as long as the jobs that read it."""
        self._execute("UPDATE mt_results SET created_at = ? WHERE digest = ?", (at, digest))

    def result(self, digest: str) -> Optional[dict[str, Any]]:
        rows = self._fetch("SELECT result FROM mt_results WHERE digest = ?", (digest,))
        return json.loads(rows[0][0]) if rows else None

    # -- logs ------------------------------------------------------------------
    def append_log(self, job_id: str, line: str, at: float) -> None:
        self._execute(
            "INSERT INTO mt_logs (job_id, seq, at, line) VALUES "
            "(?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mt_logs WHERE job_id = ?), ?, ?)",
            (job_id, job_id, at, line),
        )

    def append_logs(self, job_id: str, lines: Sequence[tuple[float, str]]) -> None:
        """Several lines at once, in one transaction."""
        with self._cursor() as cursor:
            self._insert_logs(cursor, job_id, lines)

    def _insert_logs(self, cursor: Any, job_id: str, lines: Sequence[tuple[float, str]]) -> None:
        if not lines:
            return
        cursor.execute(self._sql("SELECT COALESCE(MAX(seq), 0) FROM mt_logs WHERE job_id = ?"), (job_id,))
        first = int(cursor.fetchone()[0]) + 1
        rows = [(job_id, first + i, at, line) for i, (at, line) in enumerate(lines)]
        cursor.executemany(self._sql("INSERT INTO mt_logs (job_id, seq, at, line) VALUES (?, ?, ?, ?)"), rows)

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
        self._execute(
            "INSERT INTO mt_replicas (owner, seen_at) VALUES (?, ?) "
            "ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at",
            (owner, at),
        )

    def last_seen(self, owner: str) -> Optional[float]:
        rows = self._fetch("SELECT seen_at FROM mt_replicas WHERE owner = ?", (owner,))
        return float(rows[0][0]) if rows else None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except Exception:  # closing from another thread may be refused; the process ends anyway
                    pass
            self._connections.clear()
        self._local = threading.local()


class SqliteJobStore(SqlJobStore):
    """The default store: one SQLite file in WAL mode, one connection per thread."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.create_schema()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn


class PostgresJobStore(SqlJobStore):
    """A PostgreSQL store (psycopg 3) shared by several replicas of the backend."""

    kind = "postgresql"
    placeholder = "%s"
    _SCHEMA_LOCK = 4_242_001  # pg_advisory_lock key: replicas create the schema one at a time

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        try:
            import psycopg
        except ImportError as exc:
            raise UsageError(
                "a PostgreSQL database URL needs psycopg 3", hint="install micro-thoth[server]"
            ) from exc
        self._psycopg = psycopg
        self.create_schema()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=False)
        except self._psycopg.OperationalError as exc:
            from ..models import redact_url

            raise UsageError(f"cannot connect to {redact_url(self.url)}: {exc}") from exc

    def create_schema(self) -> None:
        self._execute(f"SELECT pg_advisory_lock({self._SCHEMA_LOCK})")
        try:
            super().create_schema()
        finally:
            self._execute(f"SELECT pg_advisory_unlock({self._SCHEMA_LOCK})")


def open_store(database_url: Optional[str], data_dir: Path) -> SqlJobStore:
    """The store a URL names: ``postgresql://...``, ``sqlite:///path``, or SQLite in ``data_dir``."""
    if not database_url:
        return SqliteJobStore(Path(data_dir) / "jobs.sqlite3")
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresJobStore(database_url)
    if database_url.startswith("sqlite:///"):
        return SqliteJobStore(Path(database_url[len("sqlite:///") :]))
    raise UsageError(
        f"unsupported database URL {database_url.split(':', 1)[0]}:...",
        hint="use postgresql://user@host/dbname or sqlite:///path/to/file",
    )
