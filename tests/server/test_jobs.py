"""The job queue in-process: caching, joining identical requests, capacity, lost replicas, logs."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from micro_thoth import errors
from micro_thoth.resolve.wire import AdviseRequest, AdviseResult
from micro_thoth.server.config import ServerSettings
from micro_thoth.server.databases import PostgresJobStore, SqliteJobStore
from micro_thoth.server.jobs import Jobs, QueueFull, new_job_id
from micro_thoth.server.storage import JobRecord, SqlJobStore
from tests.server.conftest import scratch_postgres

gate = threading.Event()
calls: list[str] = []


def gated(request: AdviseRequest) -> AdviseResult:
    """Waits for ``gate`` so tests can hold jobs in the running state."""
    calls.append(request.requirements)
    if "conflict" in request.requirements:
        raise errors.ResolutionImpossible("cannot")
    gate.wait(10)
    return AdviseResult(lock=request.requirements.upper(), report={"n": len(calls)})


@pytest.fixture
def jobs(tmp_path: Path) -> Jobs:
    gate.clear()
    calls.clear()
    settings = ServerSettings(data_dir=tmp_path, workers=1, max_jobs=2, timeout=5, isolation="thread", lease=0.6, poll=0.05)
    made = Jobs(settings, SqliteJobStore(tmp_path / "jobs.sqlite3"), gated)
    made.start()
    yield made
    gate.set()
    made.close()


def req(text: str = "alpha\n", **kw: object) -> AdviseRequest:
    return AdviseRequest(requirements=text, requirements_format="pip", **kw)  # type: ignore[arg-type]


def test_submit_wait_then_cache(jobs: Jobs) -> None:
    gate.set()
    job, cached = jobs.submit(req())
    assert not cached and job.id.startswith("adviser-")
    view = jobs.wait(job.id, 5)
    assert view.state == "succeeded" and view.result.lock == "ALPHA\n"
    again, cached = jobs.submit(req())
    assert cached and again.id == job.id and jobs.view(again.id).result == view.result
    forced, cached = jobs.submit(req(force=True))
    assert not cached and jobs.wait(forced.id, 5).state == "succeeded"
    assert calls == ["alpha\n", "alpha\n"]
    assert jobs.log(job.id)[0] == "queued" and jobs.log(job.id)[-1].startswith("succeeded in")


def test_identical_request_in_flight_is_joined(jobs: Jobs) -> None:
    first, _ = jobs.submit(req())
    second, cached = jobs.submit(req())
    assert cached and second.id == first.id
    gate.set()
    assert jobs.wait(first.id, 5).state == "succeeded"
    assert calls == ["alpha\n"]


def test_waiters_are_woken_when_a_job_of_their_digest_finishes_elsewhere(jobs: Jobs) -> None:
    woken: list[str] = []
    jobs.on_done("adviser-a", lambda: woken.append("a"), "d1")
    jobs.on_done("adviser-a", lambda: woken.append("a again"))  # another waiter of the same job
    jobs.on_done("adviser-b", lambda: woken.append("b"), "d2")
    jobs.finished_elsewhere({"d1", "d9"})
    assert sorted(woken) == ["a", "a again"]


def test_capacity(jobs: Jobs) -> None:
    jobs.submit(req("a\n"))
    jobs.submit(req("b\n"))
    with pytest.raises(QueueFull):
        jobs.submit(req("c\n"))
    gate.set()


def test_errors_become_failed_jobs_with_problems(jobs: Jobs) -> None:
    job, _ = jobs.submit(req("conflict\n"))
    view = jobs.wait(job.id, 5)
    assert view.state == "failed" and view.problem.error_class == "ResolutionImpossible"
    assert view.problem.status == 409


def test_time_limit_in_thread_isolation(tmp_path: Path) -> None:
    gate.clear()
    settings = ServerSettings(data_dir=tmp_path, workers=1, timeout=0.3, isolation="thread")
    made = Jobs(settings, SqliteJobStore(tmp_path / "j.sqlite3"), gated)
    made.start()
    try:
        job, _ = made.submit(req())
        view = made.wait(job.id, 5)
        assert view.state == "failed" and view.problem.status == 504
    finally:
        gate.set()
        made.close()


def _orphan(store: SqliteJobStore, text: str, state: str, attempts: int = 1, **kw: object) -> str:
    """A job left by a replica that died (its ``attempts``-th): its lease ran out a minute ago."""
    request = req(text).to_dict()
    job = JobRecord(id=new_job_id(), digest=f"d-{text}", state=state, request=request, created_at=1.0,
                    owner="replica-gone", lease_until=time.time() - 60, attempts=attempts, **kw)  # type: ignore[arg-type]
    store.create(job)
    return job.id


def test_running_job_of_a_dead_replica_is_taken_again(jobs: Jobs) -> None:
    gate.set()
    orphan = _orphan(jobs.store, "orphan\n", "running")
    jobs._wake.release()
    view = jobs.wait(orphan, 5)
    assert view.state == "succeeded" and view.result.lock == "ORPHAN\n"
    assert any("attempt 2" in line for line in jobs.log(orphan))


def test_pinned_job_of_a_dead_replica_fails_with_a_reason(jobs: Jobs) -> None:
    orphan = _orphan(jobs.store, "secret\n", "queued", pinned=True)
    view = jobs.wait(orphan, 5)
    assert view.state == "failed" and view.problem.type.endswith("job-lost")
    assert "credentials" in view.problem.detail
    assert calls == []


def test_job_whose_replicas_keep_dying_is_abandoned(jobs: Jobs) -> None:
    # created at its last attempt in one write: no worker can take it in between (it used to be
    # created at attempt 1, then raised to 3, and a worker quick enough ran it meanwhile)
    orphan = _orphan(jobs.store, "deadly\n", "running", attempts=jobs.settings.max_attempts)
    view = jobs.wait(orphan, 60)  # returns once it fails: the lease thread expires it within a beat
    assert view.state == "failed" and view.problem.type.endswith("abandoned")
    assert calls == []  # never run a fourth time


def test_credentials_stay_in_memory_and_pin_the_job(jobs: Jobs) -> None:
    gate.set()
    job, _ = jobs.submit(req("-i https://u:hunter2@private.example/simple\nalpha\n"))
    stored = jobs.store.get(job.id)
    assert stored.pinned and stored.owner == jobs.owner and "hunter2" not in str(stored.request)
    assert jobs.wait(job.id, 5).state == "succeeded"
    assert "hunter2" in calls[-1]


def test_close_returns_the_running_job_to_the_queue(tmp_path: Path) -> None:
    gate.clear()
    settings = ServerSettings(data_dir=tmp_path, workers=1, isolation="thread", lease=0.6, poll=0.05)
    store = SqliteJobStore(tmp_path / "j.sqlite3")
    first = Jobs(settings, store, gated)
    first.start()
    job, _ = first.submit(req("held\n"))
    while store.get(job.id).state != "running":
        time.sleep(0.02)
    first.close()
    assert store.get(job.id).state == "queued"
    assert first.log(job.id)[-1] == "returned to the queue: this replica is stopping"
    gate.set()
    second = Jobs(settings, SqliteJobStore(tmp_path / "j.sqlite3"), gated)  # a restart resumes it
    second.start()
    try:
        assert second.wait(job.id, 5).state == "succeeded"
    finally:
        second.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlJobStore]:
    if request.param == "sqlite":
        made: SqlJobStore = SqliteJobStore(tmp_path / "j.sqlite3")
        yield made
        made.close()
        return
    with scratch_postgres() as url:
        made = PostgresJobStore(url)
        yield made
        made.close()


def test_a_stalled_replica_does_not_overwrite_the_run_of_the_replica_that_took_its_job(
    tmp_path: Path, any_store: SqlJobStore
) -> None:
    """Replica A runs a job and stalls past its lease; B takes the job again. When A wakes up and
    finishes, its outcome is dropped: the job stays B's, running, with no result, until B finishes."""
    gate.clear()
    settings = ServerSettings(data_dir=tmp_path, workers=1, isolation="thread", lease=30, poll=0.05)
    replica_a = Jobs(settings, any_store, gated)
    replica_a.start()
    try:
        job, _ = replica_a.submit(req("stalled\n"))
        while any_store.get(job.id).state != "running":
            time.sleep(0.02)
        any_store._execute("UPDATE mt_jobs SET lease_until = ? WHERE id = ?", (time.time() - 1, job.id))  # A stalls
        taken = any_store.claim("replica-b", time.time(), time.time() + 30, 3)
        assert taken is not None and taken.id == job.id and taken.attempts == 2
        finished = threading.Event()
        replica_a.on_done(job.id, finished.set)
        gate.set()  # A wakes up and finishes its (now stale) run
        assert finished.wait(5)
        current = any_store.get(job.id)
        assert (current.state, current.owner, current.finished_at) == ("running", "replica-b", None)
        assert any_store.result(job.digest) is None
        assert not any("succeeded" in line for line in any_store.log(job.id))
        assert any_store.complete(job.id, job.digest, time.time(), owner="replica-b", attempt=2, result=json.dumps({"lock": "B"}))
        assert replica_a.view(job.id).result.lock == "B"
    finally:
        gate.set()
        replica_a.close()


def _ids(store: SqliteJobStore) -> list[str]:
    return [row[0] for row in store._fetch("SELECT id FROM mt_jobs")]


def test_cache_key_follows_the_knowledge(tmp_path, monkeypatch) -> None:
    """A result cached before the server's prescriptions or advisories changed is not served after."""
    from micro_thoth.pipeline.guidance import user_prescriptions_dir
    from micro_thoth.server import knowledge as knowledge_module

    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(tmp_path / "data"))
    knowledge_module._knowledge_memo[:] = [0.0, ""]
    before = knowledge_module.knowledge_digest()
    folder = user_prescriptions_dir(os.environ)
    folder.mkdir(parents=True)
    (folder / "local.yaml").write_text("units: {}\n")
    knowledge_module._knowledge_memo[:] = [0.0, ""]
    assert knowledge_module.knowledge_digest() != before


def _logged(jobs: Jobs, job_id: str, text: str, within: float = 60) -> bool:
    """Whether a line containing ``text`` reaches the job's log within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(text in line for line in jobs.log(job_id)):
            return True
        time.sleep(0.02)
    return False


def test_a_job_claimed_ahead_goes_back_to_the_queue_when_the_one_before_takes_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker claims the next job while its resolver process runs one; if that one runs long, the
    next goes back to the queue and an idle replica takes it (it does not wait behind the long one)."""
    from tests.server.resolvers import resolve

    monkeypatch.setattr(Jobs, "PATIENCE", 0.2)
    settings = ServerSettings(data_dir=tmp_path, workers=1, timeout=120, poll=0.05)  # resolver processes
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    busy = Jobs(settings, store, resolve)
    slow, _ = busy.submit(req("sleepy==60\n"))
    quick, _ = busy.submit(req("alpha\n"))
    busy.start()
    idle = Jobs(settings, SqliteJobStore(tmp_path / "jobs.sqlite3"), resolve)
    try:
        assert _logged(busy, quick.id, "returned to the queue: the job before it on this worker took long")
        idle.start()
        view = idle.wait(quick.id, 60)
        assert view is not None and view.state == "succeeded" and view.result.lock.startswith("alpha==1.0.0")
        assert any(line.startswith(f"started on {idle.owner}") for line in idle.log(quick.id))
        assert store.get(slow.id).state == "running" and store.get(slow.id).owner == busy.owner
    finally:
        idle.close()
        busy.close()
    assert store.get(slow.id).state == "queued"  # back to the queue when its replica stops


def test_a_pinned_job_claimed_ahead_stays_with_its_replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this replica holds a pinned job's credentials: held ahead behind a long job, it is not given
    back (no one else could run it) and, its lease renewed meanwhile, runs once the long one ends."""
    from tests.server.resolvers import resolve

    monkeypatch.setattr(Jobs, "PATIENCE", 0.1)
    settings = ServerSettings(data_dir=tmp_path, workers=1, timeout=120, lease=0.6, poll=0.05)
    busy = Jobs(settings, SqliteJobStore(tmp_path / "jobs.sqlite3"), resolve)
    slow, _ = busy.submit(req("sleepy==2\n"))
    pinned, _ = busy.submit(req("-i https://u:hunter2@private.example/simple\nalpha\n"))
    busy.start()
    try:
        view = busy.wait(pinned.id, 60)
        assert view is not None and view.state == "succeeded", view
        assert busy.view(slow.id).state == "succeeded"
        assert not any("returned to the queue" in line for line in busy.log(pinned.id))
    finally:
        busy.close()


def test_an_outcome_is_recorded_alone_when_the_trip_with_the_next_claim_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL sends the outcome and the next claim in one transaction: a claim that fails there
    writes neither. The outcome is then recorded alone (it used to be given up: the job failed with
    "could not record the outcome" though its resolution succeeded)."""
    settings = ServerSettings(data_dir=tmp_path, workers=1, isolation="thread", lease=30, poll=0.05)
    store = SqliteJobStore(tmp_path / "j.sqlite3")
    jobs = Jobs(settings, store, gated)
    job, _ = jobs.submit(req("recorded\n"))
    claimed = store.claim(jobs.owner, time.time(), time.time() + 30, 3)
    assert claimed is not None and claimed.id == job.id

    def one_transaction_failed(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the claim failed: nothing written")

    monkeypatch.setattr(store, "complete_and_claim", one_transaction_failed)
    done, ahead = jobs._record(claimed, time.time(), True, result=json.dumps({"lock": "L"}))
    assert done and ahead is None
    assert store.get(job.id).state == "succeeded" and store.result(job.digest) == {"lock": "L"}
    store.close()
