"""Thoth User API v1: the published thamos client against our backend, unchanged.

``test_thamos_cli_*`` run the real ``thamos advise`` (thamos always speaks
https) when an interpreter with thamos is known: ``THOTH_TEST_THAMOS_PYTHON``,
or this interpreter if it can import thamos. thamos pins old libraries
(packaging 21), so it lives in a venv of its own. The other tests replay the
exact request sequence thamos 1.29 sends, with httpx, and check every member
thamos' generated client insists on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import httpx
import pytest

from tests.server.conftest import Backend

THAMOS_PYTHON: Optional[str] = os.environ.get("THOTH_TEST_THAMOS_PYTHON") or (
    sys.executable if importlib.util.find_spec("thamos") else None
)
PIPFILE = """\
[[source]]
url = "https://alice:pw@private.example/simple"
verify_ssl = true
name = "private"

[packages]
requests = "==2.31.0"
six = "*"

[requires]
python_version = "3.11"
"""
THOTH_YAML = """\
host: 127.0.0.1:{port}
tls_verify: false
requirements_format: pipenv
runtime_environments:
  - name: ubi9
    operating_system:
      name: ubi
      version: "9"
    hardware:
      cpu_family: 6
      cpu_model: 94
    python_version: "3.11"
    recommendation_type: stable
"""
RUNTIME = {"name": "ubi9", "operating_system": {"name": "ubi", "version": "9"}, "python_version": "3.11"}
THAMOS_QUERY = "recommendation_type=stable&origin=None&source_type=cli&dev=False&debug=False&force=False"


def run_thamos(project: Path, backend: Backend, token: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    assert THAMOS_PYTHON is not None
    env = dict(os.environ, THAMOS_NO_PROGRESSBAR="1", THAMOS_DISABLE_TLS_WARNING="1")
    if token:
        env["THAMOS_TOKEN"] = token
    (project / ".thoth.yaml").write_text(THOTH_YAML.format(port=backend.port))
    code = "import sys; from thamos.cli import cli; sys.exit(cli())"
    command = [THAMOS_PYTHON, "-c", code, "advise", "--no-static-analysis"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)


needs_thamos = pytest.mark.skipif(THAMOS_PYTHON is None, reason="set THOTH_TEST_THAMOS_PYTHON to a Python with thamos")


@needs_thamos
def test_thamos_cli_advise_writes_the_lock(backend_factory: object, tls: tuple[str, str], tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("t0ken")
    backend = backend_factory("--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], "--token-file", str(token_file), scheme="https")  # type: ignore[operator]
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pipfile").write_text(PIPFILE)
    refused = run_thamos(project, backend)
    assert refused.returncode != 0 and not (project / "Pipfile.lock").exists()
    done = run_thamos(project, backend, token="t0ken")
    assert done.returncode == 0, done.stderr + done.stdout
    lock = json.loads((project / "Pipfile.lock").read_text())
    assert lock["default"]["requests"]["version"] == "==2.31.0"
    assert lock["default"]["six"]["version"] == "==1.0.0"
    assert "pw@" not in (project / "Pipfile.lock").read_text()
    assert "requests pinned to 2.31.0" in done.stdout


@needs_thamos
def test_thamos_cli_shows_a_resolution_error(backend_factory: object, tls: tuple[str, str], tmp_path: Path) -> None:
    backend = backend_factory("--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], scheme="https")  # type: ignore[operator]
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pipfile").write_text('[packages]\nconflict-x = "==1"\n')
    failed = run_thamos(project, backend)
    assert failed.returncode == 4
    assert "no version satisfies both ==1 and >=2" in failed.stdout


def thamos_like_submit(client: httpx.Client, pipfile: str = PIPFILE, query: str = THAMOS_QUERY) -> httpx.Response:
    discovery = client.get("/api/v1", headers={"Accept": "application/json"})
    assert discovery.status_code == 200 and "/api/v1/advise/python" in discovery.json()["paths"]
    assert discovery.headers["x-thoth-version"]
    body = {
        "application_stack": {"requirements": pipfile, "requirements_lock": ""},
        "runtime_environment": RUNTIME,
        "library_usage": None,
        "labels": {"team": "ml"},
    }
    return client.post(f"/api/v1/advise/python?{query}", json=body, headers={"Accept": "application/json"})


def poll_v1(client: httpx.Client, analysis_id: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/advise/python/{analysis_id}")
        if response.status_code != 202:
            return response
        assert response.json()["status"]["state"] in ("pending", "running")
        time.sleep(0.05)
    raise AssertionError("analysis did not finish")


def test_v1_sequence_and_document_shape(backend: Backend) -> None:
    with backend.client() as client:
        submitted = thamos_like_submit(client)
        assert submitted.status_code == 202
        body = submitted.json()
        assert set(body) == {"analysis_id", "parameters", "cached", "authenticated"}
        analysis_id = body["analysis_id"]
        assert analysis_id.rsplit("-", maxsplit=2)[0] == "adviser"  # thamos derives the endpoint from it
        assert "alice" not in json.dumps(body["parameters"])
        document = poll_v1(client, analysis_id)
        status = client.get(f"/api/v1/advise/python/{analysis_id}/status").json()
        log = client.get(f"/api/v1/advise/python/{analysis_id}/log").json()
        again = thamos_like_submit(client).json()
    assert document.status_code == 200
    data = document.json()
    assert set(data["metadata"]) >= {
        "analyzer", "analyzer_version", "arguments", "datetime", "distribution", "document_id",
        "duration", "hostname", "os_release", "python", "thoth_deployment_name", "timestamp",
    }  # fmt: skip
    assert data["metadata"]["document_id"] == analysis_id
    result = data["result"]
    assert result["error"] is False and result["parameters"]["recommendation_type"] == "stable"
    product = result["report"]["products"][0]
    assert set(product) >= {"advised_manifest_changes", "dependency_graph", "justification", "project", "score"}
    assert all(set(j) >= {"link", "message", "type"} for j in product["justification"] + result["report"]["stack_info"])
    assert product["project"]["requirements"]["packages"] == {"requests": "==2.31.0", "six": "*"}
    assert product["project"]["requirements_locked"]["default"]["six"]["version"] == "==1.0.0"
    assert set(product["project"]) >= {"constraints", "runtime_environment"}
    assert status["status"]["state"] == "succeeded" and status["parameters"] == {"analysis_id": analysis_id}
    assert "started" in log["log"]
    assert again["cached"] is True


def test_v1_errors(backend_factory: object, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("t0ken")
    backend = backend_factory("--timeout", "1", "--token-file", str(token_file))  # type: ignore[operator]
    with backend.client() as client:
        unauthenticated = thamos_like_submit(client)
        slow = thamos_like_submit(client, '[packages]\nsleepy = "==20"\n', THAMOS_QUERY + "&token=t0ken")
        timed_out = poll_v1(client, slow.json()["analysis_id"])
        conflict = thamos_like_submit(client, '[packages]\nconflict-a = "*"\n', THAMOS_QUERY + "&token=t0ken")
        failed_doc = poll_v1(client, conflict.json()["analysis_id"])
        wrong_id = client.get("/api/v1/advise/python/provenance-1-2")
        unknown = client.get("/api/v1/advise/python/adviser-1-2")
        bad_input = client.post(f"/api/v1/advise/python?{THAMOS_QUERY}&token=t0ken", json={"runtime_environment": {}})
    assert unauthenticated.status_code == 401 and "error" in unauthenticated.json()
    assert slow.json()["authenticated"] is True
    assert timed_out.status_code == 400 and timed_out.json()["status"]["state"] == "failed"
    assert failed_doc.status_code == 200
    assert failed_doc.json()["result"]["error"] is True
    assert "conflict-a" in failed_doc.json()["result"]["error_msg"]
    assert wrong_id.status_code == 400 and unknown.status_code == 404 and "error" in unknown.json()
    assert bad_input.status_code == 400 and bad_input.json()["key_path"] == "application_stack"


def test_v1_requirements_in_answers_in_pipfile_shape(backend: Backend) -> None:
    body = {
        "application_stack": {"requirements": "six\nrequests==2.31.0\n", "requirements_format": ["pip-tools"]},
        "runtime_environment": {"python_version": "3.11", "cuda_version": None},
    }
    with backend.client() as client:
        submitted = client.post(f"/api/v1/advise/python?{THAMOS_QUERY}", json=body)
        assert submitted.status_code == 202, submitted.text
        document = poll_v1(client, submitted.json()["analysis_id"]).json()
    project = document["result"]["report"]["products"][0]["project"]
    assert project["requirements"]["packages"] == {"six": "*", "requests": "==2.31.0"}
    assert project["requirements_locked"]["default"]["requests"]["version"] == "==2.31.0"
    assert project["requirements_locked"]["default"]["requests"]["hashes"]
    assert project["runtime_environment"] == {"python_version": "3.11", "cuda_version": None}
