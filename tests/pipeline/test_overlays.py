"""``.thoth.yaml`` overlays: the selected runtime environment's Pipfile and lock live in overlays/<name>/."""

from __future__ import annotations

import json

from tests.pipeline.conftest import venv_import
from tests.support.builder import Dist

CONFIG = """\
host: khemenu.thoth-station.ninja
tls_verify: true
requirements_format: pipenv
overlays_dir: overlays
runtime_environments:
  - name: web
    operating_system:
      name: rhel
      version: "8"
    python_version: "3.11"
    recommendation_type: latest
  - name: worker
    python_version: "3.11"
    recommendation_type: latest
"""


def _pipfile(index, package: str) -> str:
    return f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n{package} = "*"\n'


def _app(tmp_path, index):
    index.add(Dist("webby", "1.0"))
    index.add(Dist("worky", "2.0"))
    (tmp_path / ".thoth.yaml").write_text(CONFIG)
    for name, package in (("web", "webby"), ("worker", "worky")):
        (tmp_path / "overlays" / name).mkdir(parents=True)
        (tmp_path / "overlays" / name / "Pipfile").write_text(_pipfile(index, package))
    return tmp_path


def test_lock_and_install_use_the_selected_overlay(index, tmp_path, thoth) -> None:
    app = _app(tmp_path, index)
    result = thoth("install", "-C", str(app))  # the first entry: web
    assert result.code == 0, result.err
    assert json.loads((app / "overlays" / "web" / "Pipfile.lock").read_text())["default"]["webby"]["version"] == "==1.0"
    assert not (app / "Pipfile.lock").exists()
    assert venv_import(app, "import webby; print(webby.__version__)") == "1.0"
    result = thoth("install", "--runtime-environment", "worker", "-C", str(app))
    assert result.code == 0, result.err
    assert (app / "overlays" / "worker" / "Pipfile.lock").exists()
    assert venv_import(app, "import worky; print(worky.__version__)") == "2.0"


def test_environment_variable_selects_the_overlay(index, tmp_path, thoth, monkeypatch) -> None:
    app = _app(tmp_path, index)
    monkeypatch.setenv("THAMOS_RUNTIME_ENVIRONMENT", "worker")
    assert thoth("lock", "-C", str(app)).code == 0
    assert (app / "overlays" / "worker" / "Pipfile.lock").exists()
    assert not (app / "overlays" / "web" / "Pipfile.lock").exists()


def test_missing_overlay_is_a_clear_error(index, tmp_path, thoth) -> None:
    app = _app(tmp_path, index)
    (app / "overlays" / "web" / "Pipfile").unlink()
    (app / "overlays" / "web").rmdir()
    result = thoth("lock", "-C", str(app))
    assert result.code == 1
    assert "overlay" in result.err and "web" in result.err and "Traceback" not in result.err
