"""The databases a job store runs on: SQLite (the default) or PostgreSQL, and which one a URL names.

SQLite lives in one file in WAL mode (several processes on one machine may
share it); PostgreSQL (``postgresql://...``, psycopg 3) lets replicas on
several machines share everything. The schema and the queue are
``storage``'s; each database says how to connect, lock the schema while it
migrates, and (PostgreSQL) finish a job in one round-trip.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Optional

from ..errors import UsageError
from ..models import redact_url
from .storage import JobRecord, SqlJobStore, insert_job_sql, job_values


class SqliteJobStore(SqlJobStore):
    """The default store: one SQLite file in WAL mode, one connection per thread."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.create_schema()

    @contextmanager
    def _schema_lock(self) -> Iterator[Any]:
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")  # the write lock: another process migrates before or after
            try:
                yield conn.cursor()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

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
    _QUEUE_LOCK = 4_242_002  # with the schema's hash: submissions count and insert one at a time (``create``)

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
            conn = self._psycopg.connect(self.url, autocommit=True)
        except self._psycopg.OperationalError as exc:
            raise UsageError(f"cannot connect to {redact_url(self.url)}: {exc}") from exc
        # Claims, leases, logs, outcomes can be redone (a resolution is a function of its request): their
        # commits need not wait for the disk (as SQLite's WAL, synchronous=NORMAL). See docs/backend.md.
        conn.execute("SET synchronous_commit = off")
        return conn

    skip_locked = " FOR UPDATE SKIP LOCKED"

    def _transaction(self, conn: Any, single: bool) -> Any:
        """The connection is in autocommit: one statement goes alone (one round-trip, not BEGIN, it,
        COMMIT: three, each a wait for the server); several go in an explicit transaction."""
        return nullcontext() if single else conn.transaction()

    def create(self, job: JobRecord, lines: Sequence[tuple[float, str]] = (), max_active: Optional[int] = None) -> bool:
        """As ``SqlJobStore.create``, in one round-trip: one query string (bound here, not by the server:
        a prepared statement cannot hold several), two transactions.

        With ``max_active``, the count and the insert hold a transaction-scoped advisory lock
        (``_QUEUE_LOCK``, per schema): submissions of all replicas take turns, and each counts the
        jobs of those before it, so the bound holds exactly. That transaction commits without
        waiting for the disk, so the lock is held for microseconds, not for a flush (3 to 10 ms on a
        virtual disk: every submission would wait for the one before it); the second transaction,
        the job's first log lines, waits for the disk, and so for the first one's commit too, which
        comes before it in the WAL: a ``202`` still means the job survives a crash of the database
        server (with no lines, the job's commit is not waited for). A worker may claim and finish the
        job between the two (this connection starved a moment): its lines are numbered from 1, so the
        job's first lines take the numbers up to 0, before them whichever is written first."""
        insert = insert_job_sql(max_active is not None).replace("?", "%s")
        lock = f"SELECT pg_advisory_xact_lock({self._QUEUE_LOCK}, hashtext(current_schema())); " if max_active else ""
        text = (
            f"BEGIN; {lock}WITH job AS ({insert} RETURNING id) SELECT COUNT(*) AS admitted FROM job; COMMIT; "
            "BEGIN; SET LOCAL synchronous_commit = on; INSERT INTO mt_logs (job_id, seq, at, line) "
            "SELECT %s, line.n - %s, line.at, line.text FROM unnest(%s::double precision[], %s::text[]) "
            "WITH ORDINALITY AS line(at, text, n) WHERE EXISTS (SELECT 1 FROM mt_jobs WHERE id = %s); COMMIT"
        )
        params = (*job_values(job, max_active), job.id, len(lines), [line[0] for line in lines], [line[1] for line in lines], job.id)
        conn = self._connection()
        try:
            with self._psycopg.ClientCursor(conn) as cursor:
                cursor.execute(text, params)
                admitted = None
                while admitted is None:
                    if cursor.description is not None and cursor.description[0].name == "admitted":
                        row = cursor.fetchone()
                        admitted = bool(row and row[0])
                    elif not cursor.nextset():
                        raise RuntimeError("PostgreSQL did not answer the job's insert")
                return admitted
        except BaseException:
            self._recover(conn)
            raise

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
        """As ``SqlJobStore.complete``, in one statement (one round-trip, atomic on its own): the
        log lines and the result are written only if the UPDATE took the job."""
        rows = self._fetch(*_complete_statement(job_id, digest, at, owner, attempt, result, problem, lines))
        return bool(rows[0][0])

    def complete_and_claim(
        self, job_id: str, digest: str, at: float, *, owner: str, attempt: int, lease_until: float,
        max_attempts: int, result: Optional[str] = None, problem: Optional[dict[str, Any]] = None,
        lines: Sequence[tuple[float, str]] = (),
    ) -> tuple[bool, Optional[JobRecord]]:
        """As ``SqlJobStore.complete_and_claim``, in one statement (one round-trip, atomic: a failure
        writes neither): the claim is one more data-modifying CTE after the outcome's, never taking the
        job it finishes (each CTE sees the table as the statement began)."""
        done, done_params = _complete_statement(job_id, digest, at, owner, attempt, result, problem, lines)
        claim, claim_params = self._claim_statement(owner, at, lease_until, max_attempts, besides=job_id)
        outcome = done[: done.rindex(_COUNT_DONE)]
        text = (f"{outcome}, claimed AS ({claim}) SELECT (SELECT COUNT(*) FROM done), claimed.* "
                "FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE")  # fmt: skip
        row = self._fetch(text, (*done_params, *claim_params))[0]
        return bool(row[0]), JobRecord.from_row(row[1:]) if row[1] is not None else None

    @contextmanager
    def _schema_lock(self) -> Iterator[Any]:
        with self._cursor() as cursor:  # one transaction; the advisory lock ends with it
            cursor.execute(f"SELECT pg_advisory_xact_lock({self._SCHEMA_LOCK})")
            yield cursor


_COUNT_DONE = " SELECT COUNT(*) FROM done"


def _complete_statement(
    job_id: str, digest: str, at: float, owner: str, attempt: int, result: Optional[str],
    problem: Optional[dict[str, Any]], lines: Sequence[tuple[float, str]],
) -> tuple[str, tuple[Any, ...]]:
    """One job's outcome as one statement (a data-modifying CTE): state, log lines and result."""
    body = json.dumps(problem) if problem is not None else None
    state = "succeeded" if result is not None else "failed"
    return (
        "WITH done AS (UPDATE mt_jobs SET state = %s, finished_at = %s, problem = %s, lease_until = NULL "
        "WHERE id = %s AND owner = %s AND attempts = %s AND state = 'running' RETURNING id), "
        "logs AS (INSERT INTO mt_logs (job_id, seq, at, line) SELECT done.id, "
        "(SELECT COALESCE(MAX(seq), 0) FROM mt_logs WHERE job_id = done.id) + line.n, line.at, line.text "
        "FROM done, unnest(%s::double precision[], %s::text[]) WITH ORDINALITY AS line(at, text, n)), "
        "kept AS (INSERT INTO mt_results (digest, result, created_at) SELECT %s, %s, %s FROM done "
        "WHERE %s ON CONFLICT (digest) DO UPDATE SET result = excluded.result, "
        f"created_at = excluded.created_at){_COUNT_DONE}",
        (state, at, body, job_id, owner, attempt, [line[0] for line in lines], [line[1] for line in lines],
         digest, result, at, result is not None),
    )  # fmt: skip


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
