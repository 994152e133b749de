"""The backend serves its compiled knowledge as one bundle; ``prescription sync URL`` loads it in one download."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_thoth.cli import main
from tests.knowledge.repos import osv_all_zip, prescriptions_repo


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_from_a_backend_loads_its_compiled_store(backend_factory, tmp_path: Path, monkeypatch, capsys) -> None:
    server_data = tmp_path / "server-data"
    assert _run(capsys, "prescription", "sync", str(prescriptions_repo(tmp_path / "repo")), "--knowledge-dir", str(server_data))[0] == 0
    assert _run(capsys, "advisories", "import", str(osv_all_zip(tmp_path / "all.zip")), "--knowledge-dir", str(server_data))[0] == 0
    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(server_data))  # what the backend process resolves with
    server = backend_factory()
    bundle = server.client().get("/api/v2/knowledge/bundle")
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"

    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(tmp_path / "client-data"))
    code, out, err = _run(capsys, "prescription", "sync", server.url, "--json")
    assert code == 0, err
    assert json.loads(out)["units"] >= 8
    status = json.loads(_run(capsys, "knowledge", "status", "--json")[1])
    assert status["units"] == 8 and status["advisories"] == 1
    assert {s["name"] for s in status["sources"]} == {"prescriptions", "advisories"}
