"""The job queue in-process: caching, joining identical requests, capacity, lost replicas, logs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from micro_thoth import errors
from micro_thoth.resolve.wire import AdviseRequest, AdviseResult
from micro_thoth.server.jobs import Jobs, QueueFull, new_job_id
from micro_thoth.server.settings import ServerSettings
from micro_thoth.server.storage import JobRecord, SqliteJobStore

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
    settings = ServerSettings(data_dir=tmp_path, workers=1, max_jobs=2, timeout=5, isolation="thread", heartbeat=0.2)
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
    assert cached and again.id != job.id and jobs.view(again.id).result == view.result
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


def test_unfinished_job_of_a_vanished_replica_is_lost(jobs: Jobs) -> None:
    store = jobs.store
    store.heartbeat("replica-gone", jobs.clock() - 3600)
    store.create(JobRecord(id=new_job_id(), digest="d", state="running", request={}, created_at=1.0, owner="replica-gone"))
    store.heartbeat("replica-alive", jobs.clock())
    alive = JobRecord(id=new_job_id(), digest="e", state="running", request={}, created_at=1.0, owner="replica-alive")
    store.create(alive)
    lost = next(j for j in (store.get(i) for i in _ids(store)) if j.owner == "replica-gone")
    assert jobs.view(lost.id).state == "failed"
    assert jobs.view(lost.id).problem.type.endswith("job-lost")
    assert jobs.view(alive.id).state == "running"


def test_sqlite_start_fails_jobs_left_by_a_previous_process(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "j.sqlite3")
    store.create(JobRecord(id="adviser-old-1", digest="d", state="queued", request={}, created_at=1.0))
    made = Jobs(ServerSettings(data_dir=tmp_path, workers=1, isolation="thread"), store, gated)
    made.start()
    try:
        assert made.view("adviser-old-1").state == "failed"
    finally:
        gate.set()
        made.close()


def _ids(store: SqliteJobStore) -> list[str]:
    return [row[0] for row in store._fetch("SELECT id FROM mt_jobs")]


def test_cache_key_follows_the_knowledge(tmp_path, monkeypatch) -> None:
    """A result cached before the server's prescriptions or advisories changed is not served after."""
    from micro_thoth.pipeline.guidance import user_prescriptions_dir
    from micro_thoth.server import jobs as jobs_module

    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(tmp_path / "data"))
    jobs_module._knowledge_memo[:] = [0.0, ""]
    before = jobs_module.knowledge_digest()
    folder = user_prescriptions_dir(os.environ)
    folder.mkdir(parents=True)
    (folder / "local.yaml").write_text("units: {}\n")
    jobs_module._knowledge_memo[:] = [0.0, ""]
    assert jobs_module.knowledge_digest() != before
