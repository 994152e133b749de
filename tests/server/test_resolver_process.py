"""A long-lived resolver process keeps what it reads from job to job (memory.py) and answers as fresh ones do."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import replace
from typing import Any

from micro_thoth.cache import Cache
from micro_thoth.index import prefetch
from micro_thoth.pipeline.advise import advise_request
from micro_thoth.pipeline.knowledge import import_advisories
from micro_thoth.resolve.wire import AdviseRequest, AdviseResult
from micro_thoth.server.runners import ProcessRunner
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex


def _request(index: LocalIndex, *names: str, recommendation_type: str = "latest") -> AdviseRequest:
    packages = "".join(f'{name} = "*"\n' for name in names)
    pipfile = f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n{packages}'
    return AdviseRequest(
        requirements=pipfile, runtime_environment={"python_version": "3.11"}, search_limit=0,
        recommendation_type=recommendation_type,
    )


def _lock(runner: ProcessRunner, request: AdviseRequest) -> str:
    kind, value = runner.run("advise", request, 120, lambda line: None)
    assert kind == "ok", value
    lock: str = json.loads(value)["lock"]
    return lock


def _fresh(request: AdviseRequest) -> str:
    runner = ProcessRunner({"advise": advise_request})
    try:
        return _lock(runner, request)
    finally:
        runner.stop()


def _pinned(lock: str, name: str) -> Any:
    return json.loads(lock)["default"][name]["version"]


def test_jobs_in_one_process_answer_as_fresh_processes(index: LocalIndex) -> None:
    for version in ("1.0", "1.1"):
        index.add(Dist("alpha", version, requires_dist=["beta>=2"]))
    index.add(Dist("beta", "2.0"))
    index.add(Dist("beta", "2.5"))
    index.add(Dist("gamma", "1.0", requires_dist=["beta<2.5"]))
    requests = [
        _request(index, "alpha"),
        _request(index, "gamma"),
        _request(index, "alpha", "gamma"),
        _request(index, "alpha"),
    ]
    kept = ProcessRunner({"advise": advise_request})
    try:
        in_one = [_lock(kept, request) for request in requests]
    finally:
        kept.stop()
    assert in_one == [_fresh(request) for request in requests]
    assert _pinned(in_one[0], "beta") == "==2.5" and _pinned(in_one[2], "beta") == "==2.0"


def test_a_new_release_is_seen_once_the_freshness_window_passes(index: LocalIndex) -> None:
    index.add(Dist("alpha", "1.0"))
    runner = ProcessRunner({"advise": advise_request})
    try:
        assert _pinned(_lock(runner, _request(index, "alpha")), "alpha") == "==1.0"
        index.add(Dist("alpha", "1.1"))
        within = _lock(runner, _request(index, "alpha"))
        assert (
            _pinned(within, "alpha") == "==1.0"
        )  # the page as fetched, within the window: as a fresh process
        assert within == _fresh(_request(index, "alpha"))
        with sqlite3.connect(Cache.default(os.environ).metadata_db) as db:  # the window passes
            db.execute("UPDATE pages SET fetched_at = fetched_at - 86400")
        assert _pinned(_lock(runner, _request(index, "alpha")), "alpha") == "==1.1"
    finally:
        runner.stop()


def test_knowledge_changed_by_another_process_is_seen_by_the_next_job(index: LocalIndex, tmp_path: Any) -> None:
    index.add(Dist("alpha", "1.0"))
    index.add(Dist("alpha", "1.1"))
    runner = ProcessRunner({"advise": advise_request})
    try:
        secure = _request(index, "alpha", recommendation_type="security")  # vulnerable releases removed
        assert _pinned(_lock(runner, secure), "alpha") == "==1.1"
        record = {
            "id": "GHSA-test-kept", "modified": "2026-01-01T00:00:00Z", "summary": "alpha 1.1 is broken",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "alpha"}, "versions": ["1.1"]}],
        }  # fmt: skip
        (tmp_path / "GHSA-test-kept.json").write_text(json.dumps(record))
        import_advisories(tmp_path / "GHSA-test-kept.json", os.environ)  # another connection writes the store
        after = _lock(runner, secure)
        assert _pinned(after, "alpha") == "==1.0"
        assert after == _fresh(secure)
    finally:
        runner.stop()


def advise_counting_handoffs(request: AdviseRequest) -> AdviseResult:
    """``advise_request`` (run in the resolver process), its report saying how many tasks it handed to
    the prefetch threads."""
    handed: list[object] = []
    submit = prefetch.Prefetcher.submit

    def counted(self: prefetch.Prefetcher, fn: Any, arg: Any) -> None:
        handed.append(arg)
        submit(self, fn, arg)

    prefetch.Prefetcher.submit = counted  # type: ignore[method-assign]
    try:
        result = advise_request(request)
    finally:
        prefetch.Prefetcher.submit = submit  # type: ignore[method-assign]
    return replace(result, report={**result.report, "prefetch_handoffs": len(handed)})


def test_a_warm_process_hands_no_prefetch_to_threads(index: LocalIndex) -> None:
    """Pages parsed within the freshness window and metadata in memory are read on the spot: a hand-off
    to a thread would cost more than it spares (the first job, cold, does prefetch)."""
    index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    index.add(Dist("beta", "2.0"))
    runner = ProcessRunner({"advise": advise_counting_handoffs})
    try:
        outcomes = [runner.run("advise", _request(index, "alpha"), 120, lambda line: None) for _ in range(2)]
    finally:
        runner.stop()
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    cold, warm = (json.loads(value)["report"]["prefetch_handoffs"] for _, value in outcomes)
    assert cold > 0 and warm == 0
    assert json.loads(outcomes[0][1])["lock"] == json.loads(outcomes[1][1])["lock"]
