"""End to end: client mode — ``lock`` / ``install`` / ``advise`` asking a real ``thoth-pip serve`` process.

The backend runs the embedded guided lock (``micro_thoth.pipeline.advise:advise_request``)
against the same local index, so its Pipfile.lock must be byte for byte the
one the embedded ``thoth-pip lock`` writes for the same project.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.conftest import venv_import
from tests.server.conftest import Backend, backend_factory, free_port, tls  # noqa: F401 - fixtures
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

RESOLVER = "micro_thoth.pipeline.advise:advise_request"


@pytest.fixture
def backend(backend_factory) -> Backend:  # noqa: F811 - the imported fixture
    return backend_factory("--resolver", RESOLVER)  # type: ignore[no-any-return]


@pytest.fixture
def stack(index: LocalIndex) -> LocalIndex:
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=2"]))
    index.add(Dist("alpha", "1.1", requires_dist=["beta>=2"]))
    index.add(Dist("beta", "2.0"))
    index.add(Dist("beta", "2.5"))
    index.add(Dist("devtool", "0.3"))
    return index


def _pipfile(url: str, packages: str = 'alpha = "*"') -> str:
    return (
        f'[[source]]\nurl = "{url}"\nverify_ssl = false\nname = "local"\n\n'
        f'[packages]\n{packages}\n\n[dev-packages]\ndevtool = "*"\n\n[requires]\npython_version = "3.11"\n'
    )


def _project(root: Path, name: str, pipfile: str) -> Path:
    app = root / name
    app.mkdir()
    (app / "Pipfile").write_text(pipfile)
    return app


def _embedded_lock(tmp_path: Path, pipfile: str, thoth) -> str:
    app = _project(tmp_path, "embedded", pipfile)
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    return (app / "Pipfile.lock").read_text()


def _error_line(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("error:"))


def _asked(backend: Backend) -> int:
    """How many resolutions the backend was asked for (its access log)."""
    return backend.output.read_text().count("POST /api/v2/advise")


def test_lock_through_backend_is_the_embedded_lock_byte_for_byte(stack, backend, tmp_path, thoth) -> None:
    pipfile = _pipfile(stack.url)
    embedded = _embedded_lock(tmp_path, pipfile, thoth)
    app = _project(tmp_path, "remote", pipfile)
    result = thoth("lock", "--backend", backend.url, "-C", str(app))
    assert result.code == 0, result.err
    assert _asked(backend) == 1
    assert (app / "Pipfile.lock").read_text() == embedded
    assert json.loads(embedded)["default"]["alpha"]["version"] == "==1.1"
    assert "Locked 3 packages" in result.err


def test_install_through_backend_locks_there_and_installs_here(stack, backend, tmp_path, thoth) -> None:
    pipfile = _pipfile(stack.url)
    embedded = _embedded_lock(tmp_path, pipfile, thoth)
    app = _project(tmp_path, "remote", pipfile)
    result = thoth("install", "--dev", "--backend", backend.url, "-C", str(app))
    assert result.code == 0, result.err
    assert _asked(backend) == 1
    assert (app / "Pipfile.lock").read_text() == embedded
    assert venv_import(app, "import alpha, beta, devtool; print(alpha.__version__, beta.__version__)") == "1.1 2.5"


def test_install_package_through_backend_keeps_the_previous_pins(stack, backend, tmp_path, thoth) -> None:
    app = _project(tmp_path, "remote", _pipfile(stack.url, 'alpha = "*"\nbeta = "==2.0"'))
    assert thoth("lock", "--backend", backend.url, "-C", str(app)).code == 0
    stack.add(Dist("alpha", "1.2", requires_dist=["beta>=2"]))
    result = thoth("install", "--backend", backend.url, "-C", str(app), "devtool")
    assert result.code == 0, result.err
    lock = json.loads((app / "Pipfile.lock").read_text())
    assert lock["default"]["alpha"]["version"] == "==1.1"  # the previous lock went along as preferences
    assert lock["default"]["devtool"]["version"] == "==0.3"
    assert venv_import(app, "import devtool; print(devtool.__version__)") == "0.3"


def test_thoth_host_is_honoured(stack, backend, tmp_path, thoth, monkeypatch) -> None:
    app = _project(tmp_path, "remote", _pipfile(stack.url))
    monkeypatch.setenv("THOTH_HOST", backend.url)
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    assert _asked(backend) == 1


def test_thoth_yaml_host_is_honoured_and_the_flag_wins(stack, backend, tmp_path, thoth) -> None:
    app = _project(tmp_path, "remote", _pipfile(stack.url))
    (app / ".thoth.yaml").write_text(f"host: {backend.url}\ntls_verify: false\n")
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    assert _asked(backend) == 1
    dead = f"http://127.0.0.1:{free_port()}"
    (app / ".thoth.yaml").write_text(f"host: {dead}\ntls_verify: false\n")
    assert thoth("lock", "--backend", backend.url, "-C", str(app)).code == 0
    assert _asked(backend) == 2


def test_conflict_on_the_backend_is_the_embedded_error(stack, backend, tmp_path, thoth) -> None:
    pipfile = _pipfile(stack.url, 'alpha = "*"\nbeta = "<2"')
    local = thoth("lock", "-C", str(_project(tmp_path, "embedded", pipfile)))
    app = _project(tmp_path, "remote", pipfile)
    remote = thoth("lock", "--backend", backend.url, "-C", str(app))
    assert local.code != 0
    assert remote.code == local.code
    assert "beta" in remote.err and "Traceback" not in remote.err
    assert _error_line(remote.err) == _error_line(local.err)
    assert "cannot be satisfied" in _error_line(remote.err)
    assert not (app / "Pipfile.lock").exists()


def test_a_file_archive_url_locks_through_the_backend_with_its_hash(stack, backend, tmp_path, thoth) -> None:
    """The backend hashes a ``file =`` archive as the embedded lock does; install verifies it here."""
    (wheel,) = stack.add(Dist("gamma", "0.5", requires_dist=["beta"]))
    pipfile = _pipfile(stack.url, f'gamma = {{file = "{stack.root}/files/{wheel.filename}"}}')
    embedded = _embedded_lock(tmp_path, pipfile, thoth)
    assert json.loads(embedded)["default"]["gamma"]["hashes"] == [f"sha256:{wheel.sha256}"]
    app = _project(tmp_path, "remote", pipfile)
    result = thoth("install", "--backend", backend.url, "-C", str(app))
    assert result.code == 0, result.err
    assert (app / "Pipfile.lock").read_text() == embedded
    assert venv_import(app, "import gamma, beta; print(gamma.__version__)") == "0.5"


@pytest.mark.parametrize("where", ["./gamma.whl", "file-url"])
def test_a_local_archive_is_not_sent_to_a_backend(stack, backend, tmp_path, thoth, where) -> None:
    """A file only this machine has (a path, a ``file://`` URL) is refused before the backend is asked."""
    location = (tmp_path / "gamma-0.5-py3-none-any.whl").as_uri() if where == "file-url" else where
    app = _project(tmp_path, "remote", _pipfile(stack.url, f'gamma = {{file = "{location}"}}'))
    result = thoth("lock", "--backend", backend.url, "-C", str(app))
    assert result.code != 0 and "backend cannot read" in result.err and "Traceback" not in result.err
    assert _asked(backend) == 0


def test_unreachable_backend_is_one_paragraph_and_changes_nothing(stack, tmp_path, thoth, monkeypatch) -> None:
    monkeypatch.setenv("THAMOS_RETRY_ON_ERROR_COUNT", "0")
    app = _project(tmp_path, "remote", _pipfile(stack.url))
    assert thoth("lock", "-C", str(app)).code == 0
    before = {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()}
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (("lock",), ("install", "devtool"), ("advise",)):
        _refused_unreachable(thoth(*args, "--backend", dead, "-C", str(app)))
        assert {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()} == before
        assert not (app / ".venv").exists()
    fresh = _project(tmp_path, "fresh", _pipfile(stack.url))
    _refused_unreachable(thoth("install", "--backend", dead, "-C", str(fresh)))
    assert sorted(p.name for p in fresh.iterdir()) == ["Pipfile"]


def _refused_unreachable(result) -> None:
    assert result.code != 0
    assert "cannot reach the backend" in result.err
    assert "Traceback" not in result.err
    assert len([line for line in result.err.splitlines() if line.strip()]) <= 3, result.err


def test_credentials_in_a_source_url_stay_variables_in_the_lock(backend_factory, tmp_path, thoth, monkeypatch) -> None:  # noqa: F811
    private = LocalIndex(username="alice", password="s3cr3t-token")
    try:
        private.add(Dist("alpha", "1.0"))
        backend = backend_factory("--resolver", RESOLVER)
        url = private.url.replace("://", "://${INDEX_USER}:${INDEX_PASSWORD}@")
        pipfile = _pipfile(url).replace('[dev-packages]\ndevtool = "*"\n', "[dev-packages]\n")
        monkeypatch.setenv("INDEX_USER", "alice")
        monkeypatch.setenv("INDEX_PASSWORD", "s3cr3t-token")
        embedded = _embedded_lock(tmp_path, pipfile, thoth)
        app = _project(tmp_path, "remote", pipfile)
        result = thoth("lock", "--backend", backend.url, "-C", str(app))
        assert result.code == 0, result.err
        text = (app / "Pipfile.lock").read_text()
        assert text == embedded
        assert "${INDEX_PASSWORD}" in text and "s3cr3t-token" not in text
        assert "s3cr3t-token" not in backend.output.read_text()
    finally:
        private.close()


def test_requirements_in_through_backend_is_the_embedded_requirements_txt(stack, backend, tmp_path, thoth, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", stack.url)  # the index comes from pip's configuration, as usual
    embedded, remote = tmp_path / "embedded", tmp_path / "remote"
    for app in (embedded, remote):
        app.mkdir()
        (app / "requirements.in").write_text("alpha\n")
    assert thoth("lock", "-C", str(embedded)).code == 0
    result = thoth("install", "--backend", backend.url, "-C", str(remote))
    assert result.code == 0, result.err
    assert _asked(backend) == 1
    assert (remote / "requirements.txt").read_text() == (embedded / "requirements.txt").read_text()
    assert "--index-url" not in (remote / "requirements.txt").read_text()
    assert venv_import(remote, "import alpha; print(alpha.__version__)") == "1.1"


def test_advise_through_backend_shows_the_report(stack, backend, tmp_path, thoth) -> None:
    app = _project(tmp_path, "remote", _pipfile(stack.url))
    result = thoth("advise", "--json", "--backend", backend.url, "-C", str(app))
    assert result.code == 0, result.err
    report = result.json()
    assert report["products"] and {p["package_name"] for p in report["packages"]} >= {"alpha", "beta"}
    table = thoth("advise", "--backend", backend.url, "-C", str(app))
    assert table.code == 0, table.err
    assert "alpha" in table.out + table.err and "stack score" in table.out + table.err


def test_search_and_policy_options_travel_to_the_backend(stack, backend, tmp_path, thoth) -> None:
    flags = ("--pre", "--deny-license", "GPL-3.0-only", "--min-release-age", "1d", "--allow-vulnerability", "OSV-1")
    here = _project(tmp_path, "here", _pipfile(stack.url))
    remote = _project(tmp_path, "remote", _pipfile(stack.url))
    assert thoth("lock", *flags, "-C", str(here)).code == 0
    result = thoth("lock", *flags, "--backend", backend.url, "-C", str(remote))
    assert result.code == 0, result.err
    assert (remote / "Pipfile.lock").read_text() == (here / "Pipfile.lock").read_text()


def test_binary_options_travel_to_the_backend(stack, backend, tmp_path, thoth, monkeypatch) -> None:
    stack.add(Dist("docopt", "0.6.2"), wheel=False, sdist=True)
    _wheel, sdist = stack.add(Dist("beta", "2.6"), sdist=True)
    pipfile = _pipfile(stack.url, 'alpha = "*"\ndocopt = "*"')
    for flags in (("--only-binary", ":all:"), ("--only-binary", "docopt")):
        local = thoth("lock", *flags, "-C", str(_project(tmp_path, f"embedded{flags[1]}", pipfile)))
        remote = thoth("lock", *flags, "--backend", backend.url, "-C", str(_project(tmp_path, f"remote{flags[1]}", pipfile)))
        assert local.code == remote.code == 1, remote.err
        assert "0.6.2 has no wheel for the target (--only-binary refuses its sdist)" in _error_line(remote.err)
        assert _error_line(remote.err) == _error_line(local.err)
    monkeypatch.setenv("PIP_NO_BINARY", "beta")  # pip's variable, read here and sent
    here = _project(tmp_path, "here", _pipfile(stack.url))
    remote = _project(tmp_path, "remote", _pipfile(stack.url))
    assert thoth("lock", "-C", str(here)).code == 0
    result = thoth("lock", "--backend", backend.url, "-C", str(remote))
    assert result.code == 0, result.err
    assert (remote / "Pipfile.lock").read_text() == (here / "Pipfile.lock").read_text()
    hashes = json.loads((remote / "Pipfile.lock").read_text())["default"]["beta"]["hashes"]
    assert hashes == [f"sha256:{sdist.sha256}"]


def test_thamos_default_host_in_thoth_yaml_still_resolves_here(stack, tmp_path, thoth) -> None:
    app = _project(tmp_path, "migrated", _pipfile(stack.url))
    (app / ".thoth.yaml").write_text("host: khemenu.thoth-station.ninja\ntls_verify: true\n")
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    assert "backend" not in result.err
    assert json.loads((app / "Pipfile.lock").read_text())["default"]["alpha"]["version"] == "==1.1"


def test_upgrade_package_through_backend_moves_only_that_package(stack, backend, tmp_path, thoth) -> None:
    pipfile = _pipfile(stack.url, 'alpha = "*"\nbeta = "*"')
    embedded, remote = _project(tmp_path, "embedded", pipfile), _project(tmp_path, "remote", pipfile)
    assert thoth("lock", "-C", str(embedded)).code == 0
    assert thoth("lock", "--backend", backend.url, "-C", str(remote)).code == 0
    stack.add(Dist("alpha", "1.2", requires_dist=["beta>=2"]))
    stack.add(Dist("beta", "2.6"))
    assert thoth("lock", "-P", "alpha", "--refresh", "-C", str(embedded)).code == 0
    result = thoth("lock", "-P", "alpha", "--refresh", "--backend", backend.url, "-C", str(remote))
    assert result.code == 0, result.err
    assert "alpha 1.1 -> 1.2" in result.err
    lock = json.loads((remote / "Pipfile.lock").read_text())
    assert (lock["default"]["alpha"]["version"], lock["default"]["beta"]["version"]) == ("==1.2", "==2.5")
    assert (remote / "Pipfile.lock").read_text() == (embedded / "Pipfile.lock").read_text()


def test_pip_compile_options_are_not_sent_to_a_backend(stack, tmp_path, thoth) -> None:
    (tmp_path / "requirements.in").write_text("alpha\n")
    dead = f"http://127.0.0.1:{free_port()}"
    result = thoth("lock", "-r", str(tmp_path / "requirements.in"), "-o", str(tmp_path / "out.txt"), "--backend", dead)
    assert result.code == 2
    assert "pip-compile options" in result.err
    assert not (tmp_path / "out.txt").exists()


def test_thamos_token_is_sent(stack, backend_factory, tmp_path, thoth, monkeypatch) -> None:  # noqa: F811
    (tmp_path / "token").write_text("let-me-in")
    backend = backend_factory("--resolver", RESOLVER, "--token-file", str(tmp_path / "token"))
    app = _project(tmp_path, "remote", _pipfile(stack.url))
    refused = thoth("lock", "--backend", backend.url, "-C", str(app))
    assert refused.code != 0 and "THAMOS_TOKEN" in refused.err
    assert not (app / "Pipfile.lock").exists()
    monkeypatch.setenv("THAMOS_TOKEN", "let-me-in")
    result = thoth("lock", "--backend", backend.url, "-C", str(app))
    assert result.code == 0, result.err
    assert json.loads((app / "Pipfile.lock").read_text())["default"]["alpha"]["version"] == "==1.1"


def test_thoth_yaml_tls_verify(stack, backend_factory, tls, tmp_path, thoth, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("THAMOS_RETRY_ON_ERROR_COUNT", "0")
    backend = backend_factory("--resolver", RESOLVER, "--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], scheme="https")
    host = backend.url.removeprefix("https://")  # a bare host:port means https, as in thamos
    app = _project(tmp_path, "remote", _pipfile(stack.url))
    (app / ".thoth.yaml").write_text(f"host: {host}\ntls_verify: true\n")
    untrusted = thoth("lock", "-C", str(app))
    assert untrusted.code != 0 and "CERTIFICATE_VERIFY_FAILED" in untrusted.err
    (app / ".thoth.yaml").write_text(f"host: {host}\ntls_verify: false\n")
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    assert (app / "Pipfile.lock").exists()


def test_remote_lock_api(stack, backend, tmp_path, monkeypatch) -> None:
    import os

    from micro_thoth.pipeline.lock import LockOutcome, LockRequest, remote_lock
    from micro_thoth.reporting import NULL_REPORTER
    from micro_thoth.settings import Settings

    app = _project(tmp_path, "remote", _pipfile(stack.url))
    outcome = remote_lock(Settings(project_dir=app), os.environ, NULL_REPORTER, LockRequest(), url=backend.url)
    assert isinstance(outcome, LockOutcome) and outcome.written
    assert outcome.path == app / "Pipfile.lock" and outcome.path.read_text() == outcome.text
    assert {pin.name: pin.version for pin in outcome.lock.categories["default"]} == {"alpha": "1.1", "beta": "2.5"}
    assert outcome.package_count == 3
    assert outcome.changes == {"alpha": (None, "1.1"), "beta": (None, "2.5"), "devtool": (None, "0.3")}
    assert {p.name for p in outcome.report.packages} == {"alpha", "beta"}
    assert outcome.report.to_thoth_json()["products"]
