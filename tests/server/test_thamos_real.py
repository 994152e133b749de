"""The published thamos client, end to end, against ``thoth-pip serve`` with the real resolver.

No stub: the backend runs the embedded guided lock against a local index of
real wheels, over https with a certificate made here; thamos (a venv of its
own, ``THOTH_TEST_THAMOS_PYTHON``) advises, shows status, log, version and
graph, checks provenance and installs from the answer; the lock it wrote
passes our own ``verify`` (pipenv's hash) and ``install --deploy``, and the
published ``pipenv verify`` (``THOTH_TEST_PIPENV``, or ``pipenv`` on PATH; .ci/run
installs both from the default index into venvs of their own).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import tomlkit

from micro_thoth import __version__
from tests.pipeline.conftest import thoth, venv_import  # noqa: F401 - fixture
from tests.server.conftest import Backend, backend_factory, tls  # noqa: F401 - fixtures
from tests.server.test_thamos import THAMOS_PYTHON, needs_thamos
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

REAL_RESOLVER = "micro_thoth.pipeline.advise:advise_request"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Read at import: the autouse isolation fixture removes every THOTH_* variable.
PIPENV = os.environ.get("THOTH_TEST_PIPENV") or shutil.which("pipenv")
needs_pipenv = pytest.mark.skipif(PIPENV is None, reason="set THOTH_TEST_PIPENV to the published pipenv (.ci/run installs it)")
THOTH_YAML = """\
host: 127.0.0.1:{port}
tls_verify: false
requirements_format: pipenv
runtime_environments:
  - name: cpu-only
    operating_system:
      name: rhel
      version: "9"
    python_version: "{python}"
    cuda_version: null
    recommendation_type: stable
"""


def _thamos(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert THAMOS_PYTHON is not None
    env = dict(os.environ, THAMOS_NO_PROGRESSBAR="1", THAMOS_DISABLE_TLS_WARNING="1", THAMOS_NO_EMOJI="1")
    code = "import sys; from thamos.cli import cli; sys.exit(cli())"
    return subprocess.run([THAMOS_PYTHON, "-c", code, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def real_backend(backend_factory, tls) -> Backend:  # noqa: F811 - the imported fixtures
    return backend_factory(  # type: ignore[no-any-return]
        "--resolver", REAL_RESOLVER, "--timeout", "240", "--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], scheme="https"
    )


@pytest.fixture
def stack(index: LocalIndex) -> LocalIndex:
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=2"]))
    index.add(Dist("beta", "2.0"))
    index.add(Dist("beta", "2.5"))
    return index


def _project(root: Path, index: LocalIndex, backend: Backend) -> Path:
    app = root / "app"
    app.mkdir()
    (app / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n'
        f'[packages]\nalpha = "*"\n\n[requires]\npython_version = "{PYTHON}"\n'
    )
    (app / ".thoth.yaml").write_text(THOTH_YAML.format(port=backend.port, python=PYTHON))
    return app


def _document(backend: Backend, path: str) -> dict:
    response = httpx.get(f"{backend.url}/api/v1/{path}", verify=False, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@needs_thamos
def test_thamos_advise_then_install_against_the_real_resolver(stack, real_backend, tmp_path, thoth) -> None:  # noqa: F811
    app = _project(tmp_path, stack, real_backend)
    advised = _thamos(app, "advise", "--no-static-analysis")
    assert advised.returncode == 0, advised.stderr + advised.stdout
    lock = json.loads((app / "Pipfile.lock").read_text())
    assert {name: entry["version"] for name, entry in lock["default"].items()} == {"alpha": "==1.0", "beta": "==2.5"}
    assert lock["_meta"]["hash"]["sha256"] and lock["default"]["beta"]["hashes"]
    analysis_id = (app / ".thoth_last_analysis_id").read_text().strip()
    product = _document(real_backend, f"advise/python/{analysis_id}")["result"]["report"]["products"][0]
    sent = product["project"]["runtime_environment"]
    assert sent["operating_system"] == {"name": "rhel", "version": "9"} and sent["cuda_version"] is None
    assert sent["python_version"] == PYTHON and not sent.get("platform") and not sent.get("hardware")
    graph = product["dependency_graph"]
    assert [graph["nodes"].index("alpha"), graph["nodes"].index("beta")] in graph["edges"]
    assert product["project"]["requirements"]["packages"] == {"alpha": "*"}

    for command, expected in (("status", "succeeded"), ("log", "started"), ("version", __version__), ("graph", "beta==2.5")):
        shown = _thamos(app, command)
        assert shown.returncode == 0 and expected in shown.stdout, f"thamos {command}: {shown.stderr}{shown.stdout}"

    checked = _thamos(app, "provenance-check", "--json")
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "ARTIFACTS-VERIFIED" in checked.stdout

    verified = thoth("verify", "-C", str(app))
    assert verified.code == 0, verified.err

    target = tmp_path / "site"
    installed = _thamos(app, "install", "--", "--target", str(target))
    assert installed.returncode == 0, installed.stderr + installed.stdout
    assert (target / "alpha").is_dir() and (target / "beta").is_dir()
    deployed = thoth("install", "--deploy", "-C", str(app))
    assert deployed.code == 0, deployed.err
    assert venv_import(app, "import beta; print(beta.__name__)") == "beta"


@needs_thamos
def test_thamos_provenance_check_finds_a_digest_the_index_does_not_have(stack, real_backend, tmp_path) -> None:
    app = _project(tmp_path, stack, real_backend)
    assert _thamos(app, "advise", "--no-static-analysis").returncode == 0
    lock = json.loads((app / "Pipfile.lock").read_text())
    lock["default"]["beta"]["hashes"] = ["sha256:" + "0" * 64]
    (app / "Pipfile.lock").write_text(json.dumps(lock))
    checked = _thamos(app, "provenance-check", "--json")
    assert checked.returncode == 4, checked.stderr + checked.stdout
    assert "ARTIFACT-DIFFERENT-SOURCE" in checked.stdout and "beta" in checked.stdout


@needs_thamos
@needs_pipenv
def test_the_lock_thamos_wrote_passes_pipenv_verify(stack, real_backend, tmp_path) -> None:
    app = _project(tmp_path, stack, real_backend)
    advised = _thamos(app, "advise", "--no-static-analysis")
    assert advised.returncode == 0, advised.stderr + advised.stdout
    # thamos always rewrites the Pipfile with its own [thoth] table (keep_thoth_section=True);
    # pipenv reads every unknown table as a package category and fails on its booleans
    # whatever the backend answered, so the check runs on the Pipfile thamos wrote less that table.
    pipfile = tomlkit.parse((app / "Pipfile").read_text())
    assert "thoth" in pipfile and pipfile["packages"] == {"alpha": "*"}
    del pipfile["thoth"]
    (app / "Pipfile").write_text(tomlkit.dumps(pipfile))
    verified = _pipenv(app, "verify")
    assert verified.returncode == 0, verified.stderr + verified.stdout
    assert "up-to-date" in verified.stdout
    # and the check can fail: an edited Pipfile no longer matches the lock's _meta hash
    (app / "Pipfile").write_text((app / "Pipfile").read_text().replace('alpha = "*"', 'alpha = ">=1"'))
    stale = _pipenv(app, "verify")
    assert stale.returncode == 1 and "out-of-date" in stale.stderr + stale.stdout


def _pipenv(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert PIPENV is not None
    env = dict(os.environ, PIPENV_IGNORE_VIRTUALENVS="1", PIPENV_NOSPIN="1", PIPENV_MAX_DEPTH="1", NO_COLOR="1")
    return subprocess.run([PIPENV, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120)
