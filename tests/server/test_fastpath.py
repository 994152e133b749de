"""Answers to repeated identical requests from memory: bounded, authenticated, and following the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from micro_thoth.server.fastpath import Answer, Answers
from tests.server.conftest import Backend, scratch_postgres, wait_done

STACK = {"requirements": '[packages]\nsix = "*"\n', "requirements_format": "pipenv"}


def answer(digest: str, body: bytes = b"{}", at: float | None = None) -> Answer:
    return Answer(digest, True, 200, ((b"content-type", b"application/json"),), body, time.monotonic() if at is None else at)


def test_lru_is_bounded_by_count_and_bytes() -> None:
    answers = Answers(size=3, max_bytes=1600)
    for n in range(5):
        answers.put(bytes([n]), answer(f"d{n}"), answers.mark())
    assert len(answers) == 3 and answers.get(bytes([0])) is None and answers.get(bytes([4])) is not None
    assert sorted(answers._keys) == ["d2", "d3", "d4"]  # the digest index follows evictions
    answers.put(b"big", answer("big", b"x" * 1000), answers.mark())  # over max_bytes/16: never kept
    assert answers.get(b"big") is None
    small = Answers(size=100, max_bytes=16 * 100)
    for n in range(5):
        small.put(bytes([n]), answer(f"d{n}", b"y" * 100), small.mark())
    assert len(small) <= 16


def test_an_answer_expires_and_is_dropped_with_its_digest() -> None:
    answers = Answers(ttl=30)
    answers.put(b"old", answer("d1", at=time.monotonic() - 31), answers.mark())
    answers.put(b"a", answer("d1"), answers.mark())
    answers.put(b"b", answer("d2"), answers.mark())
    assert answers.get(b"old") is None and answers.get(b"a") is not None
    answers.put(b"a2", answer("d1"), answers.mark())
    answers.drop(["d1"])
    assert answers.get(b"a") is None and answers.get(b"a2") is None and answers.get(b"b") is not None
    assert list(answers._keys) == ["d2"]
    answers.clear()
    assert answers.get(b"b") is None


def test_an_answer_computed_before_its_digest_changed_is_not_kept() -> None:
    answers = Answers()
    mark = answers.mark()  # a handler starts reading the store
    answers.drop(["d1"])  # meanwhile a job of that digest finishes
    answers.put(b"stale", answer("d1"), mark)
    answers.put(b"other", answer("d2"), mark)
    assert answers.get(b"stale") is None and answers.get(b"other") is not None
    answers.put(b"fresh", answer("d1"), answers.mark())
    assert answers.get(b"fresh") is not None


def test_the_watcher_follows_the_store_and_the_knowledge() -> None:
    answers = Answers()
    current: list[tuple[str, float | None]] = []  # what the store reports at every look
    knowledge = ["k1"]
    asked: list[float] = []

    def changed(since: float) -> list[tuple[str, float | None]]:
        asked.append(since)
        return list(current)

    watcher = threading.Thread(target=answers.watch, args=(changed, lambda: knowledge[0], 0.01), daemon=True)
    for key, digest in ((b"a", "d1"), (b"b", "d2"), (b"c", "d3")):
        answers.put(key, answer(digest), answers.mark())
    watcher.start()
    try:
        current[:] = [("d1", 5.0)]  # a job of d1 finished
        _until(lambda: answers.get(b"a") is None)
        assert answers.get(b"b") is not None
        answers.put(b"a", answer("d1"), answers.mark())  # answered again after that
        current[:] = [("d1", 5.0), ("d3", None)]  # the same finished job (seen: kept), d3 running
        _until(lambda: answers.get(b"c") is None)
        assert answers.get(b"a") is not None
        knowledge[0] = "k2"
        _until(lambda: answers.get(b"b") is None)
    finally:
        answers.close()
        watcher.join(5)
    assert asked and all(since < time.time() - 1.5 for since in asked)  # looks back over clock skew


def test_the_watcher_tells_each_finished_job_once() -> None:
    answers = Answers()
    current: list[tuple[str, float | None]] = []
    told: list[set[str]] = []
    answers.finished.append(told.append)
    watcher = threading.Thread(target=answers.watch, args=(lambda since: list(current), lambda: "k", 0.01), daemon=True)
    watcher.start()
    try:
        current[:] = [("d1", 5.0), ("d2", None)]  # d1 finished, d2 running: only d1 is news
        _until(lambda: told == [{"d1"}])
        current[:] = [("d1", 5.0), ("d2", 6.0)]
        _until(lambda: len(told) == 2)
        time.sleep(0.1)  # further looks: nothing new, nobody told
    finally:
        answers.close()
        watcher.join(5)
    assert told == [{"d1"}, {"d2"}]


def _until(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def _memory(client: httpx.Client) -> int:
    return int(client.get("/health").json()["answered_from_memory"])


def _from_memory(client: httpx.Client, method: str, path: str, **kw: object) -> httpx.Response:
    """Ask until the answer comes from memory (one remembered just before the replica saw its job
    finish in the store is forgotten once)."""
    for _ in range(200):
        before = _memory(client)
        response = client.request(method, path, **kw)  # type: ignore[arg-type]
        if _memory(client) == before + 1:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{method} {path} never answered from memory")


def test_identical_requests_are_answered_from_memory_until_the_result_changes(backend_factory: object) -> None:
    backend: Backend = backend_factory()  # type: ignore[operator]
    with backend.client() as client:
        first = client.post("/api/v2/advise/sync", json=STACK).json()
        assert first["cached"] is False
        stored = client.post("/api/v2/advise/sync", json=STACK)  # from storage; remembered
        again = _from_memory(client, "POST", "/api/v2/advise/sync", json=STACK)
        assert again.content == stored.content and again.json()["id"] == first["id"]
        assert again.headers["x-thoth-version"] and again.headers["content-type"] == "application/json"
        forced = client.post("/api/v2/advise", json={**STACK, "force": True}).json()
        assert wait_done(client, forced["id"])["state"] == "succeeded"
        after = client.post("/api/v2/advise/sync", json=STACK).json()
        assert after["id"] == forced["id"] and after["cached"] is True
        bad = client.post("/api/v2/advise/sync", content=b"{not json")
        assert bad.status_code == 400


def test_a_remembered_answer_still_needs_the_token(backend_factory: object, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("sekrit\n")
    backend: Backend = backend_factory("--token-file", str(token_file))  # type: ignore[operator]
    with backend.client("sekrit") as member, backend.client("wrong") as intruder, backend.client() as anonymous:
        for _ in range(2):
            assert member.post("/api/v2/advise/sync", json=STACK).status_code == 200
        assert _from_memory(member, "POST", "/api/v2/advise/sync", json=STACK).status_code == 200
        assert intruder.post("/api/v2/advise/sync", json=STACK).status_code == 401
        assert anonymous.post("/api/v2/advise/sync", json=STACK).status_code == 401
        job_id = member.post("/api/v2/advise", json=STACK).json()["id"]
        assert _from_memory(member, "GET", f"/api/v2/advise/{job_id}").status_code == 200
        assert anonymous.get(f"/api/v2/advise/{job_id}").status_code == 401
        assert intruder.get(f"/api/v2/advise/{job_id}").status_code == 401


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """How two replicas share one store: one SQLite data dir, or one PostgreSQL database."""
    if request.param == "sqlite":
        yield {"data_dir": tmp_path / "shared"}
        return
    with scratch_postgres() as url:
        yield {"args": ("--database-url", url)}


def test_an_answer_remembered_by_one_replica_follows_a_change_made_by_another(
    backend_factory: object, shared_store: dict[str, object]
) -> None:
    args, data_dir = shared_store.get("args", ()), shared_store.get("data_dir")
    one: Backend = backend_factory(*args, data_dir=data_dir)  # type: ignore[operator]
    two: Backend = backend_factory(*args, data_dir=data_dir)  # type: ignore[operator]
    with one.client() as first, two.client() as second:
        original = first.post("/api/v2/advise/sync", json=STACK).json()["id"]
        assert _from_memory(first, "POST", "/api/v2/advise/sync", json=STACK).json()["id"] == original
        forced = second.post("/api/v2/advise", json={**STACK, "force": True}).json()["id"]
        assert wait_done(second, forced)["state"] == "succeeded"
        _until(lambda: first.post("/api/v2/advise/sync", json=STACK).json()["id"] == forced)


def test_a_listener_that_fails_does_not_stop_the_watcher() -> None:
    """A waiter's wake that raises (its event loop closed meanwhile) must not end the thread that
    keeps the answers in memory in step with the store."""
    answers = Answers()
    current: list[tuple[str, float | None]] = []
    told: list[set[str]] = []

    def closed(news: set[str]) -> None:
        raise RuntimeError("Event loop is closed")

    answers.finished.extend([closed, told.append])
    watcher = threading.Thread(target=answers.watch, args=(lambda since: list(current), lambda: "k", 0.01), daemon=True)
    watcher.start()
    try:
        current[:] = [("d1", 5.0)]
        _until(lambda: told == [{"d1"}])
        current[:] = [("d1", 5.0), ("d2", 6.0)]
        _until(lambda: len(told) == 2)
        assert watcher.is_alive()
    finally:
        answers.close()
        watcher.join(5)
    assert told == [{"d1"}, {"d2"}]
