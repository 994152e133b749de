"""The job store, the same tests over SQLite and PostgreSQL (when THOTH_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from micro_thoth.errors import UsageError
from micro_thoth.server.databases import (
    PostgresJobStore,
    SqliteJobStore,
    _complete_statement,
    open_store,
)
from micro_thoth.server.storage import MIGRATIONS, JobRecord, SqlJobStore
from tests.server.conftest import scratch_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJobStore]:
    if request.param == "sqlite":
        made: SqlJobStore = SqliteJobStore(tmp_path / "jobs.sqlite3")
        yield made
        made.close()
        return
    with scratch_postgres() as url:
        made = PostgresJobStore(url)
        yield made
        made.close()


def job(job_id: str = "adviser-1", digest: str = "d1", state: str = "queued", **kw: object) -> JobRecord:
    return JobRecord(id=job_id, digest=digest, state=state, request={"requirements": "x"}, created_at=1.0, **kw)


def test_job_round_trip(store: SqlJobStore) -> None:
    store.create(job(owner="replica-a"))
    found = store.get("adviser-1")
    assert found == job(owner="replica-a")
    assert store.get("adviser-unknown") is None


def test_lifecycle_running_then_failed(store: SqlJobStore) -> None:
    store.create(job())
    claimed = store.claim("replica-a", 2.0, 32.0, 3)
    assert claimed is not None and (claimed.state, claimed.owner, claimed.attempts) == ("running", "replica-a", 1)
    assert store.get("adviser-1").state == "running"
    done = store.complete("adviser-1", "d1", 3.5, owner="replica-a", attempt=1, problem={"status": 409, "detail": "conflict"})
    assert done
    found = store.get("adviser-1")
    assert (found.state, found.started_at, found.finished_at) == ("failed", 2.0, 3.5)
    assert found.problem == {"status": 409, "detail": "conflict"}


def test_find_answer_prefers_an_unfinished_job_then_the_newest_success(store: SqlJobStore) -> None:
    store.create(job("adviser-1", "d1", "succeeded"))
    store.create(job("adviser-2", "d2", "running"))
    store.create(job("adviser-3", "d2", "succeeded"))
    store.create(job("adviser-4", "d3", "failed"))
    assert store.find_answer("d1").id == "adviser-1"
    assert store.find_answer("d2").id == "adviser-2"
    assert store.find_answer("d3") is None


def test_results_are_upserted_by_digest(store: SqlJobStore) -> None:
    assert store.result("d1") is None
    store.put_result("d1", {"lock": "one"}, 1.0)
    store.put_result("d1", {"lock": "two"}, 2.0)
    assert store.result("d1") == {"lock": "two"}


def test_log_keeps_order_per_job(store: SqlJobStore) -> None:
    for i in range(5):
        store.append_log("adviser-1", f"line {i}", float(i))
    store.append_log("adviser-2", "other", 0.0)
    assert store.log("adviser-1") == [f"line {i}" for i in range(5)]
    assert store.log("adviser-2") == ["other"]
    assert store.log("adviser-3") == []


def test_heartbeat(store: SqlJobStore) -> None:
    assert store.last_seen("replica-a") is None
    store.heartbeat("replica-a", 1.0)
    store.heartbeat("replica-a", 5.0)
    assert store.last_seen("replica-a") == 5.0


def test_concurrent_writers(store: SqlJobStore) -> None:
    def write(n: int) -> None:
        for i in range(20):
            store.create(job(f"adviser-{n}-{i}", f"d{n}"))
            store.put_result(f"d{n}", {"i": i}, float(i))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(store.get(f"adviser-{n}-19") is not None for n in range(6))
    assert store.result("d3") == {"i": 19}


def test_two_stores_share_one_database(store: SqlJobStore, tmp_path: Path) -> None:
    """Replicas see each other's jobs and results (the scaling story)."""
    other = PostgresJobStore(store.url) if store.kind == "postgresql" else SqliteJobStore(store.path)  # type: ignore[attr-defined]
    try:
        store.create(job())
        store.put_result("d1", {"lock": "x"}, 1.0)
        assert other.get("adviser-1") is not None
        assert other.result("d1") == {"lock": "x"}
    finally:
        other.close()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "j.sqlite3")
    assert store._fetch("PRAGMA journal_mode")[0][0] == "wal"
    store.close()


def test_open_store_by_url(tmp_path: Path) -> None:
    assert open_store(None, tmp_path).kind == "sqlite"
    assert (tmp_path / "jobs.sqlite3").exists()
    explicit = open_store(f"sqlite:///{tmp_path}/other.db", tmp_path)
    assert Path(explicit.path) == tmp_path / "other.db"
    with pytest.raises(UsageError, match="unsupported database URL mysql"):
        open_store("mysql://root:pw@db/x", tmp_path)


def test_unreachable_postgres_is_a_usage_error_without_password() -> None:
    port = __import__("tests.server.conftest", fromlist=["free_port"]).free_port()
    with pytest.raises(UsageError) as info:
        PostgresJobStore(f"postgresql://thoth:hunter2@127.0.0.1:{port}/db?connect_timeout=2")
    assert "hunter2" not in str(info.value)
    assert "****" in str(info.value)


def test_prune_forgets_old_finished_jobs_and_unused_results(store: SqlJobStore) -> None:
    store.create(job("adviser-old", "d-old", "succeeded", finished_at=10.0))
    store.create(job("adviser-new", "d-new", "succeeded", finished_at=100.0))
    store.create(job("adviser-running", "d-run", "running"))
    store.append_log("adviser-old", "x", 10.0)
    store.append_log("adviser-new", "y", 100.0)
    store.put_result("d-old", {"lock": "old"}, 10.0)
    store.put_result("d-used", {"lock": "used"}, 10.0)
    store.touch_result("d-used", 100.0)
    assert store.prune(50.0) == 1
    assert store.get("adviser-old") is None and store.log("adviser-old") == []
    assert store.get("adviser-new") is not None and store.log("adviser-new") == ["y"]
    assert store.get("adviser-running") is not None
    assert store.result("d-old") is None and store.result("d-used") == {"lock": "used"}


def test_create_and_complete_are_single_transactions(store: SqlJobStore) -> None:
    store.create(job(), [(1.0, "started")])
    store.claim("replica-a", 2.0, 32.0, 3)
    assert store.complete("adviser-1", "d1", 3.0, owner="replica-a", attempt=1, result=json.dumps({"lock": "L"}), lines=[(3.0, "done")])
    assert store.get("adviser-1").state == "succeeded" and store.result("d1") == {"lock": "L"}
    assert store.log("adviser-1") == ["started", "done"]
    store.create(job("adviser-2", "d2"))
    store.claim("replica-a", 3.0, 33.0, 3)
    assert store.complete("adviser-2", "d2", 4.0, owner="replica-a", attempt=1, problem={"status": 504})
    assert store.get("adviser-2").state == "failed" and store.result("d2") is None


def test_create_refuses_a_job_beyond_max_active_and_writes_nothing(store: SqlJobStore) -> None:
    assert store.create(job("adviser-1", "d1"), [(1.0, "queued")], max_active=2)
    assert store.create(job("adviser-2", "d2", "running"), [(1.0, "queued"), (1.5, "it's, {odd}")], max_active=2)
    assert not store.create(job("adviser-3", "d3"), [(1.0, "queued")], max_active=2)
    assert store.get("adviser-3") is None and store.log("adviser-3") == []
    assert store.log("adviser-2") == ["queued", "it's, {odd}"]
    store.create(job("adviser-0", "d0", "succeeded"))  # finished jobs do not count
    store.claim("replica-a", 2.0, 32.0, 3)
    assert store.complete("adviser-1", "d1", 3.0, owner="replica-a", attempt=1, result=json.dumps({"lock": "L"}))
    assert store.create(job("adviser-3", "d3"), [(4.0, "queued")], max_active=2)
    assert store.count("queued", "running") == 2 and store.log("adviser-3") == ["queued"]


def test_simultaneous_submissions_never_exceed_max_active(store: SqlJobStore) -> None:
    """Each submission counts the unfinished jobs and inserts only below the bound: submissions at
    the same moment (one connection each, as replicas' threads) must not all count the same rows."""
    threads, bound, rounds = 12, 3, 4

    def submit(r: int, i: int, start: threading.Barrier, admitted: list[int]) -> None:
        store.count("queued")  # this thread's connection opens before the barrier, not after it
        start.wait()
        if store.create(job(f"adviser-{r}-{i}", f"d{r}-{i}"), [(1.0, "queued")], max_active=bound):
            admitted.append(i)

    for r in range(rounds):
        start, admitted = threading.Barrier(threads), []
        workers = [threading.Thread(target=submit, args=(r, i, start, admitted)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(admitted) == bound and store.count("queued", "running") == bound, (r, admitted)
        for _ in admitted:  # finished: the next round starts from an empty queue
            claimed = store.claim(f"replica-{r}", 2.0, 32.0, 3)
            assert claimed is not None
            store.complete(claimed.id, claimed.digest, 3.0, owner=f"replica-{r}", attempt=1, problem={"status": 500})
        assert store.count("queued", "running") == 0


def test_complete_and_claim_records_one_job_and_takes_the_next(store: SqlJobStore) -> None:
    store.create(job("adviser-1", "d1"))
    store.create(JobRecord(id="adviser-2", digest="d2", state="queued", request={}, created_at=2.0))
    store.claim("replica-a", 3.0, 33.0, 3)
    done, claimed = store.complete_and_claim(
        "adviser-1", "d1", 4.0, owner="replica-a", attempt=1, lease_until=34.0, max_attempts=3,
        result=json.dumps({"lock": "L"}), lines=[(4.0, "done")],
    )  # fmt: skip
    assert done and claimed is not None and claimed.id == "adviser-2" and claimed.owner == "replica-a"
    assert claimed.state == "running" and claimed.lease_until == 34.0 and claimed.attempts == 1
    assert store.get("adviser-1").state == "succeeded" and store.result("d1") == {"lock": "L"}
    assert store.log("adviser-1") == ["done"]
    done, claimed = store.complete_and_claim(  # fenced (not ours any more), and nothing left to claim
        "adviser-1", "d1", 5.0, owner="replica-a", attempt=1, lease_until=35.0, max_attempts=3, problem={"status": 500},
    )  # fmt: skip
    assert not done and claimed is None and store.get("adviser-1").state == "succeeded"


def test_complete_and_claim_a_failed_claim_never_leaves_half_a_trip(store: SqlJobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The claim fails after the outcome was sent: PostgreSQL (one transaction) writes neither and
    raises; the others keep the outcome recorded and claim nothing (the worker claims again later).
    Never a job recorded and also claimed by this trip, nor the next one claimed unseen."""
    store.create(job("adviser-1", "d1"))
    store.create(JobRecord(id="adviser-2", digest="d2", state="queued", request={}, created_at=2.0))
    store.claim("replica-a", 3.0, 33.0, 3)
    monkeypatch.setattr(store, "_claim_statement", lambda *args, **kw: ("SELECT no_such_column FROM mt_jobs", ()))
    monkeypatch.setattr(store, "claim", lambda *args: (_ for _ in ()).throw(RuntimeError("store unreachable")))
    call = dict(owner="replica-a", attempt=1, lease_until=34.0, max_attempts=3, result=json.dumps({"lock": "L"}))
    if isinstance(store, PostgresJobStore):
        import psycopg

        with pytest.raises(psycopg.errors.UndefinedColumn):
            store.complete_and_claim("adviser-1", "d1", 4.0, **call)  # type: ignore[arg-type]
        assert store.get("adviser-1").state == "running" and store.result("d1") is None
    else:
        assert store.complete_and_claim("adviser-1", "d1", 4.0, **call) == (True, None)  # type: ignore[arg-type]
        assert store.get("adviser-1").state == "succeeded" and store.result("d1") == {"lock": "L"}
    assert store.get("adviser-2").state == "queued" and store.get("adviser-2").owner is None


def test_postgres_store_reconnects_after_the_server_drops_it(tmp_path: Path) -> None:
    with scratch_postgres() as url:
        store = PostgresJobStore(url)
        store.create(job())
        import psycopg

        with psycopg.connect(url, autocommit=True) as admin:
            pid = store._connection().info.backend_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            store.get("adviser-1")
        assert store.get("adviser-1") is not None
        store.close()


def test_a_job_finished_before_its_submission_wrote_its_log_keeps_both(tmp_path: Path) -> None:
    """PostgreSQL commits a job before its first log lines (its ``create`` is two transactions): a
    worker may claim and finish it in between (a submission's connection starved for a moment).
    Neither write may fail over the numbering of the lines (the submission's answer was a 500
    without the job's id, or the outcome was lost), and the log still begins with "queued"."""
    psycopg = pytest.importorskip("psycopg")
    with scratch_postgres() as url:
        submitter, worker = PostgresJobStore(url), PostgresJobStore(url)
        admitted: list[bool] = []
        with psycopg.connect(url) as between:  # one transaction: the worker's trips, while the submission waits
            between.execute("LOCK TABLE mt_logs IN SHARE MODE")  # the submission stops where it writes its lines
            thread = threading.Thread(target=lambda: admitted.append(submitter.create(job(), [(1.0, "queued")], 8)))
            thread.start()
            _until_waiting_for(between, "mt_logs")
            claimed = between.execute(*worker._claim_statement("replica-b", 2.0, 32.0, 3)).fetchone()
            if claimed is not None:  # visible before its lines: the worker finishes it first
                lines = [(2.0, "started"), (3.0, "done")]
                finished = between.execute(*_complete_statement("adviser-1", "d1", 3.0, "replica-b", 1, '{"lock": "L"}', None, lines))
                assert finished.fetchone()[0] == 1
        thread.join(30)
        assert admitted == [True] and worker.get("adviser-1").state == ("succeeded" if claimed else "queued")
        assert worker.log("adviser-1") == (["queued", "started", "done"] if claimed else ["queued"])
        submitter.close()
        worker.close()


def _until_waiting_for(conn: object, table: str) -> None:
    """Until another connection waits for a lock on ``table`` (the one ``conn`` holds)."""
    deadline = time.monotonic() + 30
    query = "SELECT COUNT(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted"
    while not conn.execute(query, (table,)).fetchone()[0]:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"nobody waited for {table}"
        time.sleep(0.01)


def test_a_store_made_before_versioning_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0][1]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO mt_jobs (id, digest, state, request, cached, created_at) VALUES "
            "('adviser-old', 'd', 'queued', '{}', 0, 1.0)"
        )
    store = SqliteJobStore(path)
    try:
        assert store.schema_version == MIGRATIONS[-1][0]
        old = store.get("adviser-old")
        assert old is not None and old.kind == "advise" and not old.pinned and old.attempts == 0
        assert store.claim("replica-a", 2.0, 32.0, 3).id == "adviser-old"
    finally:
        store.close()
    assert SqliteJobStore(path).schema_version == MIGRATIONS[-1][0]  # applied once


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    SqliteJobStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO mt_schema (version) VALUES (99)")
    with pytest.raises(UsageError, match="schema version 99"):
        SqliteJobStore(path)


def test_claim_takes_each_queued_job_once(store: SqlJobStore) -> None:
    for n in range(6):
        store.create(job(f"adviser-{n}", f"d{n}", "queued"))
    taken: list[str] = []
    lock = threading.Lock()

    def worker(owner: str) -> None:
        while (claimed := store.claim(owner, 10.0, 40.0, 3)) is not None:
            with lock:
                taken.append(claimed.id)

    threads = [threading.Thread(target=worker, args=(f"replica-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken) == [f"adviser-{n}" for n in range(6)]


def test_a_stalled_replica_cannot_finish_a_job_taken_again(store: SqlJobStore) -> None:
    """Replica A stalls past its lease, B takes the job again: A's late outcome (and its release) is refused."""
    store.create(job(), [(1.0, "queued")])
    first = store.claim("replica-a", 10.0, 40.0, 3)
    assert first is not None and first.attempts == 1
    again = store.claim("replica-b", 50.0, 80.0, 3)  # A's lease ran out at 40
    assert again is not None and (again.id, again.owner, again.attempts) == ("adviser-1", "replica-b", 2)
    late = store.complete("adviser-1", "d1", 60.0, owner="replica-a", attempt=1, result=json.dumps({"lock": "A"}), lines=[(60.0, "A done")])
    assert not late
    assert not store.release("adviser-1", "replica-a", 1)
    current = store.get("adviser-1")
    assert (current.state, current.owner, current.attempts, current.finished_at) == ("running", "replica-b", 2, None)
    assert store.result("d1") is None and store.log("adviser-1") == ["queued"]
    assert store.complete("adviser-1", "d1", 70.0, owner="replica-b", attempt=2, result=json.dumps({"lock": "B"}), lines=[(70.0, "B done")])
    assert store.get("adviser-1").state == "succeeded" and store.result("d1") == {"lock": "B"}
    assert store.log("adviser-1") == ["queued", "B done"]
    assert not store.complete("adviser-1", "d1", 71.0, owner="replica-b", attempt=2, problem={"status": 500})


def test_the_same_replica_claiming_again_fences_its_older_claim(store: SqlJobStore) -> None:
    store.create(job())
    store.claim("replica-a", 10.0, 40.0, 3)
    store.claim("replica-a", 50.0, 80.0, 3)  # its own lease ran out; another worker of A took it
    assert not store.complete("adviser-1", "d1", 60.0, owner="replica-a", attempt=1, result=json.dumps({"lock": "old"}))
    assert store.complete("adviser-1", "d1", 61.0, owner="replica-a", attempt=2, result=json.dumps({"lock": "new"}))
    assert store.result("d1") == {"lock": "new"}


def test_changed_names_unfinished_jobs_and_jobs_finished_since(store: SqlJobStore) -> None:
    store.create(job("adviser-old", "d-old", "succeeded", finished_at=5.0))
    store.create(JobRecord(id="adviser-new", digest="d-new", state="queued", request={}, created_at=20.0))
    store.create(job("adviser-run", "d-run", "queued"))
    store.claim("replica-a", 21.0, 51.0, 3)  # takes adviser-run (created at 1.0)
    assert sorted(store.changed(10.0)) == [("d-new", None), ("d-run", None)]
    store.complete("adviser-run", "d-run", 30.0, owner="replica-a", attempt=1, result=json.dumps({"lock": "L"}))
    assert sorted(store.changed(10.0), key=str) == [("d-new", None), ("d-run", 30.0)]
    assert sorted(store.changed(1.0), key=str) == [("d-new", None), ("d-old", 5.0), ("d-run", 30.0)]
    assert store.changed(40.0) == [("d-new", None)]
