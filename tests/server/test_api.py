"""The backend's HTTP API, against a real ``thoth-pip serve`` process on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
from pathlib import Path

import httpx

from tests.server.conftest import PIPFILE, Backend, wait_done


def submit(client: httpx.Client, **changes: object) -> httpx.Response:
    body = {"requirements": PIPFILE, "requirements_format": "pipenv", **changes}
    return client.post("/api/v2/advise", json=body)


def test_submit_poll_result(backend: Backend) -> None:
    with backend.client() as client:
        response = submit(client, labels={"team": "ml"}, exclude_newer="2024-05-01", recommendation_type="stable")
        assert response.status_code == 202
        job_id = response.json()["id"]
        assert response.headers["location"] == f"/api/v2/advise/{job_id}"
        body = wait_done(client, job_id)
    assert body["state"] == "succeeded" and body["cached"] is False
    lock = json.loads(body["result"]["lock"])
    assert lock["default"]["requests"]["version"] == "==2.31.0"
    assert lock["default"]["flask"]["version"] == "==1.0.0"
    assert "pytest" not in lock["default"]
    report = body["result"]["report"]
    assert report["labels"] == {"team": "ml"} and report["exclude_newer"] == "2024-05-01"
    assert report["stack_info"][0]["message"] == "recommendation type stable"
    assert body["result"]["knowledge_version"] == "test-knowledge-1"


def test_sync_variant_and_dev(backend: Backend) -> None:
    with backend.client() as client:
        response = client.post("/api/v2/advise/sync", json={"requirements": PIPFILE, "dev": True})
    assert response.status_code == 200
    lock = json.loads(response.json()["result"]["lock"])
    assert lock["default"]["pytest"]["version"] == "==8.0"


def test_a_sync_answer_names_each_key_once(backend: Backend) -> None:
    """The sync answer's JSON (the result spliced in as the resolver process wrote it) has one "result":
    a parser that keeps the first of duplicate names would read null."""

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        names = [name for name, _ in pairs]
        assert len(names) == len(set(names)), names
        return dict(pairs)

    with backend.client() as client:
        response = client.post("/api/v2/advise/sync", json={"requirements": PIPFILE})
    assert response.status_code == 200
    body = json.loads(response.text, object_pairs_hook=unique)
    assert body["state"] == "succeeded" and json.loads(body["result"]["lock"])["default"]


def test_requirements_in_format(backend: Backend) -> None:
    text = "-i https://idx.example/simple\nattrs==23.1\nsix\n"
    with backend.client() as client:
        body = client.post("/api/v2/advise/sync", json={"requirements": text, "requirements_format": "pip"}).json()
    assert body["result"]["lock"].splitlines()[:2] == ["--index-url https://idx.example/simple", "attrs==23.1 \\"]


def test_second_identical_request_is_cached(backend: Backend) -> None:
    with backend.client() as client:
        first = client.post("/api/v2/advise/sync", json={"requirements": PIPFILE}).json()
        second = submit(client)
        assert second.json()["cached"] is True
        body = wait_done(client, second.json()["id"])
        forced = submit(client, force=True).json()
    assert second.json()["id"] == first["id"]  # as Thoth: the answer is the analysis that computed it
    assert body["state"] == "succeeded" and body["result"] == first["result"]
    assert forced["cached"] is False and forced["id"] != first["id"]


def test_resolution_errors_keep_their_class(backend: Backend) -> None:
    with backend.client() as client:
        conflict = client.post("/api/v2/advise/sync", json={"requirements": '[packages]\nconflict-a = "==1"\n'})
        missing = submit(client, requirements='[packages]\nmissing-thing = "*"\n')
        failed = wait_done(client, missing.json()["id"])
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    problem = conflict.json()
    assert problem["error_class"] == "ResolutionImpossible"
    assert problem["causes"] == [{"requirement": "conflict-a>=2", "chain": ["Pipfile", "conflict-a==1"]}]
    assert failed["state"] == "failed"
    assert failed["problem"]["error_class"] == "PackageNotFound"
    assert failed["problem"]["suggestions"] == ["requests"]


def test_malformed_input_is_problem_json(backend: Backend) -> None:
    with backend.client() as client:
        not_json = client.post("/api/v2/advise", content=b"{nope", headers={"content-type": "application/json"})
        wrong = submit(client, runtime_environment={"hardware": {"cpu_family": "x86"}})
        unknown = client.get("/api/v2/advise/adviser-000-nothing")
        no_route = client.get("/api/v2/nothing-here")
    assert not_json.status_code == 400 and not_json.json()["error_class"] == "InputFileError"
    assert wrong.status_code == 422
    body = wrong.json()
    assert set(body) >= {"type", "title", "status", "detail", "error_class"}
    assert body["key_path"] == "runtime_environment.hardware.cpu_family"
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert no_route.status_code == 404 and no_route.json()["status"] == 404


def test_oversize_body_is_413(backend_factory: object) -> None:
    backend = backend_factory("--max-body", "2048")  # type: ignore[operator]
    big = {"requirements": PIPFILE + "#" * 4096}
    with backend.client() as client:
        declared = client.post("/api/v2/advise", json=big)
        streamed = client.post("/api/v2/advise", content=iter([json.dumps(big).encode()]))
        small = client.post("/api/v2/advise/sync", json={"requirements": PIPFILE})
    assert declared.status_code == 413 and declared.json()["status"] == 413
    assert streamed.status_code == 413
    assert small.status_code == 200


def test_time_limit_fails_the_job_and_the_worker_recovers(backend_factory: object) -> None:
    backend = backend_factory("--timeout", "1.5", "--workers", "1")  # type: ignore[operator]
    with backend.client() as client:
        slow = client.post("/api/v2/advise/sync", json={"requirements": '[packages]\nsleepy = "==30"\n'})
        after = client.post("/api/v2/advise/sync", json={"requirements": '[packages]\nsleepy = "==0.1"\n'})
    assert slow.status_code == 504
    assert slow.json()["type"].endswith(":timeout")
    assert after.status_code == 200


def test_crashing_resolver_is_a_failed_job(backend: Backend) -> None:
    with backend.client() as client:
        crashed = client.post("/api/v2/advise/sync", json={"requirements": '[packages]\ncrash-now = "*"\n'})
        fine = client.post("/api/v2/advise/sync", json={"requirements": PIPFILE})
    assert crashed.status_code == 500 and "exited" in crashed.json()["detail"]
    assert fine.status_code == 200


def test_full_queue_is_503_with_retry_after(backend_factory: object) -> None:
    backend = backend_factory("--workers", "1", "--max-jobs", "2", "--timeout", "20")  # type: ignore[operator]
    with backend.client() as client:
        answers = [submit(client, requirements=f'[packages]\nsleepy = "==2"\nn{i} = "*"\n') for i in range(4)]
    codes = [a.status_code for a in answers]
    assert codes[:2] == [202, 202] and codes[2:] == [503, 503]
    assert answers[2].headers["retry-after"].isdigit()
    assert answers[2].json()["title"] == "Backend busy"


def test_token_auth(backend_factory: object, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("sekrit\n")
    backend = backend_factory("--token-file", str(token_file))  # type: ignore[operator]
    with backend.client() as anonymous, backend.client("sekrit") as member, backend.client("wrong") as intruder:
        assert anonymous.get("/health").status_code == 200
        refused = submit(anonymous)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert submit(intruder).status_code == 401
        accepted = submit(member)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]
        assert anonymous.get(f"/api/v2/advise/{job_id}").status_code == 401
        assert wait_done(member, job_id)["state"] == "succeeded"
        by_query = anonymous.post("/api/v2/advise?token=sekrit", json={"requirements": PIPFILE})
        assert by_query.status_code == 202
    output = (backend.data_dir / "server.log").read_text()
    assert "/api/v2/advise?token=**** HTTP/1.1" in output and "sekrit" not in output


def test_credentials_are_never_stored_logged_or_returned(backend: Backend) -> None:
    with backend.client() as client:
        job_id = submit(client, requirements_lock='{"_meta": {"sources": [{"name": "x", "url": "https://x:lockpw@h.example/", "verify_ssl": true}]}, "default": {}, "develop": {}}').json()["id"]
        body = wait_done(client, job_id)
        log = client.get(f"/api/v2/advise/{job_id}/log").json()["log"]
        v1 = client.get(f"/api/v1/advise/python/{job_id}").text
    assert "using index https://private.example/simple" in log
    everything = json.dumps(body) + log + v1
    database = backend.data_dir / "jobs.sqlite3"
    with sqlite3.connect(database) as conn:
        for table in ("mt_jobs", "mt_results", "mt_logs"):
            everything += json.dumps(conn.execute(f"SELECT * FROM {table}").fetchall())
    everything += (backend.data_dir / "server.log").read_text()
    assert "s3cr3t-token" not in everything and "alice" not in everything and "lockpw" not in everything
    assert "https://private.example/simple" in json.loads(body["result"]["lock"])["_meta"]["sources"][0]["url"]


def test_health_environments_openapi(backend: Backend) -> None:
    with backend.client() as client:
        health = client.get("/health").json()
        environments = client.get("/api/v2/environments").json()
        openapi = client.get("/openapi.json").json()
    assert health["status"] == "ok" and health["database"] == "sqlite" and health["isolation"] == "process"
    assert environments["any_target"] is True and environments["environments"][0]["python_version"]
    assert "/api/v2/advise" in openapi["paths"] and "/api/v1/advise/python" in openapi["paths"]


def test_concurrent_clients(backend: Backend) -> None:
    def one(i: int) -> str:
        with backend.client() as client:
            response = client.post("/api/v2/advise/sync", json={"requirements": f'[packages]\npkg{i} = "=={i}.0"\n'})
            return json.loads(response.json()["result"]["lock"])["default"][f"pkg{i}"]["version"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        versions = list(pool.map(one, range(16)))
    assert versions == [f"=={i}.0" for i in range(16)]


def test_postgres_backend_replicas_share_jobs(backend_factory: object, postgres_url: str) -> None:
    first = backend_factory("--database-url", postgres_url)  # type: ignore[operator]
    second = backend_factory("--database-url", postgres_url)  # type: ignore[operator]
    with first.client() as one, second.client() as two:
        job_id = submit(one).json()["id"]
        body = wait_done(two, job_id)
        cached = submit(two).json()
        assert two.get("/health").json()["database"] == "postgresql"
    assert body["state"] == "succeeded"
    assert cached["cached"] is True


def test_openapi_documents_the_request_body(backend: Backend) -> None:
    with backend.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    schema = paths["/api/v2/advise"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["requirements"]
    assert "pip-tools" in schema["properties"]["requirements_format"]["enum"]
