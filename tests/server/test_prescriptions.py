"""The backend's knowledge: ``GET /api/v2/prescriptions`` and ``thoth-pip prescription sync`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_thoth import errors
from micro_thoth.cli import main
from micro_thoth.knowledge.locations import bundled_dir
from micro_thoth.resolve.remote import RemoteResolver
from tests.support.builder import Dist

SIEVE = """\
units:
  sieves:
  - name: ServerKnowsWidget2IsBroken
    type: sieve
    match:
      package_version: {name: widget, version: "==2.0"}
    run:
      stack_info:
      - {type: WARNING, message: widget 2.0 loses data (the backend's knowledge)}
"""


def _server_knowledge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str = SIEVE) -> Path:
    """The data dir the backend process reads its own user prescriptions from."""
    data = tmp_path / "server-data"
    (data / "prescriptions").mkdir(parents=True, exist_ok=True)
    (data / "prescriptions" / "widget.yaml").write_text(text)
    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(data))
    return data


def _client_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "client-data"
    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(data))
    return data


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_endpoint_serves_the_units_the_backend_resolves_with(backend_factory, tmp_path, monkeypatch) -> None:
    _server_knowledge(tmp_path, monkeypatch)
    server = backend_factory()
    with RemoteResolver(server.url) as remote:
        knowledge = remote.prescriptions()
    assert knowledge.files["user/widget.yaml"] == SIEVE
    bundled = {f"bundled/{p.name}" for p in bundled_dir().glob("*.yaml")}
    assert bundled and bundled <= set(knowledge.files)
    assert knowledge.knowledge_version.startswith("micro-thoth ")
    assert knowledge.digest == server.client().get("/api/v2/prescriptions").json()["digest"]


def test_sync_stores_them_and_a_later_lock_honours_them(backend_factory, index, tmp_path, monkeypatch, capsys) -> None:
    _server_knowledge(tmp_path, monkeypatch)
    server = backend_factory()
    client_data = _client_data_dir(tmp_path, monkeypatch)
    index.add(Dist("widget", "1.0"))
    index.add(Dist("widget", "2.0"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "Pipfile").write_text(f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nwidget = "*"\n')

    code, out, err = _run(capsys, "prescription", "sync", "--backend", server.url, "--json")
    assert code == 0, err
    synced = json.loads(out)
    assert synced["changed"] is True and synced["units"] >= 1
    stored = client_data / "prescriptions" / "backend"
    assert (stored / "user" / "widget.yaml").read_text() == SIEVE
    listed = json.loads(_run(capsys, "prescription", "list", "--json")[1])
    assert {"name": "ServerKnowsWidget2IsBroken", "origin": "backend"} in [{k: u[k] for k in ("name", "origin")} for u in listed]

    code, out, err = _run(capsys, "lock", "-C", str(app))
    assert code == 0, err
    assert json.loads((app / "Pipfile.lock").read_text())["default"]["widget"]["version"] == "==1.0"
    assert "widget 2.0 loses data" in err  # the unit's WARNING is printed by lock
    assert json.loads(_run(capsys, "prescription", "sync", "--backend", server.url, "--json")[1])["changed"] is False


def test_a_second_sync_replaces_the_whole_set(backend_factory, tmp_path, monkeypatch, capsys) -> None:
    server_data = _server_knowledge(tmp_path, monkeypatch)
    server = backend_factory()
    client_data = _client_data_dir(tmp_path, monkeypatch)
    assert _run(capsys, "prescription", "sync", "--backend", server.url)[0] == 0
    (server_data / "prescriptions" / "widget.yaml").unlink()
    (server_data / "prescriptions" / "other.yaml").write_text(SIEVE.replace("ServerKnows", "Renamed"))
    code, _out, err = _run(capsys, "prescription", "sync", "--backend", server.url)
    assert code == 0, err
    assert "updated" in err
    stored = client_data / "prescriptions" / "backend"
    assert sorted(p.name for p in (stored / "user").iterdir()) == ["other.yaml"]
    live = {"backend", stored.resolve().name}  # the symlink and the set it points to
    leftovers = [p.name for p in (client_data / "prescriptions").iterdir() if p.name not in live]
    assert leftovers == [], leftovers  # the previous set is gone


def test_sync_needs_the_token_when_the_backend_asks_for_one(backend_factory, tmp_path, monkeypatch, capsys) -> None:
    token = tmp_path / "token"
    token.write_text("sesame\n")
    _server_knowledge(tmp_path, monkeypatch)
    server = backend_factory("--token-file", str(token))
    client_data = _client_data_dir(tmp_path, monkeypatch)
    with RemoteResolver(server.url, retries=0) as remote, pytest.raises(errors.ThothPipError):
        remote.prescriptions()
    monkeypatch.setenv("THAMOS_TOKEN", "sesame")
    code, _out, err = _run(capsys, "prescription", "sync", "--backend", server.url)
    assert code == 0, err
    assert (client_data / "prescriptions" / "backend" / "user" / "widget.yaml").is_file()


def test_a_backend_unit_that_does_not_parse_is_refused_and_nothing_is_replaced(backend_factory, tmp_path, monkeypatch, capsys) -> None:
    server_data = _server_knowledge(tmp_path, monkeypatch)
    server = backend_factory()
    client_data = _client_data_dir(tmp_path, monkeypatch)
    assert _run(capsys, "prescription", "sync", "--backend", server.url)[0] == 0
    (server_data / "prescriptions" / "widget.yaml").write_text(SIEVE.replace("name: widget", "nme: widget"))
    code, _out, err = _run(capsys, "prescription", "sync", "--backend", server.url)
    assert code != 0
    assert "nme" in err
    assert (client_data / "prescriptions" / "backend" / "user" / "widget.yaml").read_text() == SIEVE


@pytest.mark.parametrize("path", ["../escape.yaml", "a/../../b.yaml", "/etc/x.yaml", "notes.txt", ".hidden.yaml", "a//b.yaml"])
def test_knowledge_refuses_paths_a_client_must_not_write(path: str) -> None:
    from micro_thoth.resolve.wire import Knowledge

    with pytest.raises(errors.InputFileError):
        Knowledge.from_dict({"prescriptions": [{"path": path, "text": ""}]})


def test_knowledge_round_trips_and_checks_its_digest() -> None:
    from micro_thoth.resolve.wire import Knowledge

    knowledge = Knowledge("v", {"bundled/a.yaml": SIEVE, "user/b.yml": ""})
    assert Knowledge.from_dict(knowledge.to_dict()).files == knowledge.files
    tampered = knowledge.to_dict()
    tampered["prescriptions"][0]["text"] += "# changed\n"
    with pytest.raises(errors.InputFileError, match="digest"):
        Knowledge.from_dict(tampered)


def test_sync_finds_the_backend_in_thoth_yaml_or_says_it_has_none(backend_factory, tmp_path, monkeypatch, capsys) -> None:
    _server_knowledge(tmp_path, monkeypatch)
    server = backend_factory()
    client_data = _client_data_dir(tmp_path, monkeypatch)
    project = tmp_path / "project"
    project.mkdir()
    code, _out, err = _run(capsys, "prescription", "sync", "-C", str(project))
    assert code == 2 and "no backend to sync from" in err
    (project / ".thoth.yaml").write_text(f"host: {server.url}\ntls_verify: false\nruntime_environments: []\n")
    code, _out, err = _run(capsys, "prescription", "sync", "-C", str(project))
    assert code == 0, err
    assert (client_data / "prescriptions" / "backend" / "user" / "widget.yaml").is_file()
