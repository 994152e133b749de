"""Replicas share the queue: a job whose replica dies is finished by another; SIGTERM is clean.

Real server processes (the stub resolver's ``sleepy==N`` holds a job for N
seconds) over one store: one SQLite file, or PostgreSQL when
``THOTH_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.server.conftest import Backend, scratch_postgres, wait_done

SLOW = '[packages]\nsleepy = "==3"\n'


def _store_args(kind: str, tmp_path: Path, stack: list) -> tuple[str, ...]:
    if kind == "sqlite":
        return ("--database-url", f"sqlite:///{tmp_path / 'shared.sqlite3'}")
    context = scratch_postgres()
    stack.append(context)
    return ("--database-url", context.__enter__())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_args(request: pytest.FixtureRequest, tmp_path: Path):
    contexts: list = []
    yield _store_args(request.param, tmp_path, contexts)
    for context in contexts:
        context.__exit__(None, None, None)


def _running(client, job_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.get(f"/api/v2/advise/{job_id}").json()["state"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)


def test_a_job_survives_the_death_of_its_replica(backend_factory, store_args) -> None:
    first: Backend = backend_factory(*store_args, "--lease", "2", "--workers", "1")
    with first.client() as client:
        job_id = client.post("/api/v2/advise", json={"requirements": SLOW}).json()["id"]
        _running(client, job_id)
    first.process.kill()  # no goodbye: the lease runs out
    first.process.wait(10)
    second: Backend = backend_factory(*store_args, "--lease", "2", "--workers", "1")
    with second.client() as client:
        done = wait_done(client, job_id, timeout=60)
        log = client.get(f"/api/v2/advise/{job_id}/log").json()["log"]
    assert done["state"] == "succeeded", done
    assert done["result"]["lock"] and "attempt 2" in log


def test_sigterm_returns_the_running_job_and_a_restart_finishes_it(backend_factory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first: Backend = backend_factory("--workers", "1", data_dir=data)
    with first.client() as client:
        job_id = client.post("/api/v2/advise", json={"requirements": SLOW}).json()["id"]
        _running(client, job_id)
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(15) == 0
    output = first.output.read_text()
    assert "Traceback" not in output and "Bad file descriptor" not in output
    again: Backend = backend_factory("--workers", "1", data_dir=data)
    with again.client() as client:
        done = wait_done(client, job_id, timeout=60)
        log = client.get(f"/api/v2/advise/{job_id}/log").json()["log"]
    assert done["state"] == "succeeded"
    assert "returned to the queue: this replica is stopping" in log


@pytest.mark.parametrize("busy", [False, True])
def test_sigterm_is_clean_idle_and_busy(backend_factory, busy: bool) -> None:
    for _ in range(3):
        backend: Backend = backend_factory("--workers", "2")
        if busy:
            with backend.client() as client:
                for n in range(2):
                    client.post("/api/v2/advise", json={"requirements": f'[packages]\nsleepy = "==2{n}"\n'})
                client.post("/api/v2/advise", json={"requirements": '[packages]\nquick = "*"\n'})
        backend.process.send_signal(signal.SIGTERM)
        assert backend.process.wait(15) == 0
        output = backend.output.read_text()
        assert "Traceback" not in output and "Bad file descriptor" not in output, output
