"""The pipenv and micropipenv shims: pipenv's own command lines on fixture projects, refusals, shim install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_thoth.cli import main
from tests.shims.conftest import ROOT, SHIMS, imports, load_shim, run


def test_package_data_copies_are_identical_to_the_sources() -> None:
    for name in ("pipenv", "micropipenv"):
        assert (ROOT / "micro_thoth" / "data" / "shims" / name).read_bytes() == (SHIMS / name).read_bytes(), name
        assert (SHIMS / name).stat().st_mode & 0o111, f"shims/{name} is not executable"


# --- translation (the shim's plan, no process) ------------------------------------------------

TRANSLATIONS = [
    (["install", "--deploy", "--system"], [["install", "--deploy", "--system"]]),
    (["--python", "3.11", "install", "-d"], [["install", "--python", "3.11", "--dev"]]),
    (["install", "requests", "--categories=docs", "-i", "private"], [["install", "--categories", "docs", "--index", "private", "requests"]]),
    (["install", "-dv"], [["install", "--dev", "-v"]]),
    (["sync", "--dev", "--clean"], [["sync", "--dev"], ["clean"]]),
    (["sync", "--bare"], [["sync", "-q"]]),
    (["lock", "--pre", "--clear"], [["lock", "--pre", "--clear"]]),
    (["requirements", "--dev", "--hash", "--exclude-markers"], [["requirements", "--dev", "--hash", "--exclude-markers"]]),
    (["update", "--outdated"], [["update", "--dry-run"]]),
    (["upgrade", "alpha"], [["update", "--lock-only", "alpha"]]),
    (["uninstall", "beta", "--dev"], [["uninstall", "--dev", "beta"]]),
    (["clean", "--dry-run"], [["clean", "--dry-run"]]),
    (["graph", "--json-tree"], [["graph", "--json-tree"]]),
    (["verify"], [["verify"]]),
    (["run", "python", "-c", "print(1)", "-v"], [["run", "--", "python", "-c", "print(1)", "-v"]]),
    (["run", "--system", "pytest", "-x"], [["run", "--system", "--", "pytest", "-x"]]),
    (["--venv"], [["--venv"]]),
    (["--where"], [["--where"]]),
    (["--py"], [["--py"]]),
]


@pytest.mark.parametrize(("argv", "expected"), TRANSLATIONS, ids=lambda v: " ".join(v) if isinstance(v[0], str) else "")
def test_pipenv_command_lines_translate(argv: list[str], expected: list[list[str]]) -> None:
    assert load_shim("pipenv").plan(argv) == expected


REFUSED = [
    (["install", "--skip-lock"], "pipenv install --skip-lock"),
    (["install", "-r", "requirements.txt"], "pipenv install -r"),
    (["install", "--extra-pip-args=--user"], "pipenv install --extra-pip-args"),
    (["install", "-e", "."], "pipenv install -e"),
    (["uninstall", "--all"], "pipenv uninstall --all"),
    (["shell"], "pipenv shell"),
    (["check"], "pipenv check"),
    (["scripts"], "pipenv scripts"),
    (["--rm"], "pipenv --rm"),
    (["--pypi-mirror", "http://mirror/simple", "install"], "pipenv --pypi-mirror"),
    (["verify", "--python", "3.11"], "pipenv verify --python"),
    (["lock", "--dev-only"], "pipenv lock --dev-only"),
    (["requirements", "stray-positional"], "pipenv requirements stray-positional"),
    (["--python", "3.11"], "pipenv --python 3.11"),
    (["--clear"], "pipenv --clear"),
    (["--python", "3.11", "run", "python"], "pipenv run --python"),
]


@pytest.mark.parametrize(("argv", "named"), REFUSED, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_unsupported_pipenv_usage_is_refused_loudly(argv: list[str], named: str, tool_bin, shell_env, tmp_path) -> None:
    result = run([str(tool_bin / "pipenv"), *argv], cwd=tmp_path, env=shell_env)
    assert result.returncode == 2
    assert f"`{named}" in result.stderr and "not supported" in result.stderr
    assert result.stdout == "" and not (tmp_path / ".venv").exists()


def test_help_and_version(tool_bin, shell_env, tmp_path) -> None:
    out = run([str(tool_bin / "pipenv"), "--version"], cwd=tmp_path, env=shell_env).stdout
    assert out.startswith("pipenv, version ") and "thoth-pip shim" in out
    usage = run([str(tool_bin / "pipenv")], cwd=tmp_path, env=shell_env)
    assert usage.returncode == 0 and "refused" in usage.stdout


# --- pipenv's command lines on the fixture projects --------------------------------------------


def test_pipenv_workflow_through_the_shim(indexes, project, tool_bin, shell_env) -> None:
    app = project("pipenv-made/small")
    pipenv = str(tool_bin / "pipenv")
    installed = run([pipenv, "install", "--deploy", "--dev"], cwd=app, env=shell_env)
    assert installed.returncode == 0, installed.stderr
    python = app / ".venv" / "bin" / "python"
    assert imports(python, "import alpha, devtool").returncode == 0
    assert run([pipenv, "--venv"], cwd=app, env=shell_env).stdout.strip() == str(app / ".venv")
    assert run([pipenv, "--py"], cwd=app, env=shell_env).stdout.strip() == str(python)
    (app / "sub" / "dir").mkdir(parents=True)
    assert run([pipenv, "--where"], cwd=app / "sub" / "dir", env=shell_env).stdout.strip() == str(app)
    assert run([pipenv, "verify"], cwd=app / "sub", env=shell_env).stdout == "Pipfile.lock is up-to-date.\n"
    hashed = run([pipenv, "requirements", "--hash"], cwd=app, env=shell_env).stdout
    assert "alpha[fast]==1.1 --hash=sha256:0c515b" in hashed
    graph = json.loads(run([pipenv, "graph", "--json"], cwd=app, env=shell_env).stdout)
    assert {e["package"]["key"] for e in graph} >= {"alpha", "beta", "devtool"}
    ran = run([pipenv, "run", "python", "-c", "import sys, alpha; print(sys.prefix, alpha.__version__)"], cwd=app, env=shell_env)
    assert ran.stdout.split() == [str(app / ".venv"), "1.1"], ran.stderr


def test_pipenv_sync_clean_removes_strays(indexes, project, tool_bin, shell_env) -> None:
    app = project("pipenv-made/small")
    pipenv = str(tool_bin / "pipenv")
    assert run([pipenv, "sync", "--dev"], cwd=app, env=shell_env).returncode == 0
    # drop devtool from the environment's point of view: sync without --dev keeps it, --clean does not
    lock = json.loads((app / "Pipfile.lock").read_text())
    del lock["develop"]["devtool"]
    (app / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    assert run([pipenv, "clean", "--dry-run"], cwd=app, env=shell_env).stdout == "devtool\n"
    cleaned = run([pipenv, "sync", "--clean"], cwd=app, env=shell_env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert imports(app / ".venv" / "bin" / "python", "import devtool").returncode != 0


def test_pipenv_verify_exit_code_when_stale(project, tool_bin, shell_env) -> None:
    app = project("pipenv-made/small")
    (app / "Pipfile").write_text((app / "Pipfile").read_text().replace("[dev-packages]", "[dev-packages]\nzeta = '*'"))
    result = run([str(tool_bin / "pipenv"), "verify"], cwd=app, env=shell_env)
    assert result.returncode == 1 and "out-of-date" in result.stderr


def test_pipenv_lock_writes_a_lock_pipenv_would_verify(indexes, project, tool_bin, shell_env) -> None:
    app = project("pipenv-made/small")
    (app / "Pipfile.lock").unlink()
    locked = run([str(tool_bin / "pipenv"), "lock"], cwd=app, env=shell_env)
    assert locked.returncode == 0, locked.stderr
    assert json.loads((app / "Pipfile.lock").read_text())["default"]["alpha"]["version"] == "==1.1"
    assert run([str(tool_bin / "pipenv"), "verify"], cwd=app, env=shell_env).returncode == 0


# --- micropipenv ---------------------------------------------------------------------------


def test_micropipenv_install_deploy_into_the_python_on_path(indexes, project, tool_bin, shell_env, scratch_venv) -> None:
    app = project("pipenv-made/small")
    env = {**shell_env, "PATH": f"{scratch_venv / 'bin'}:{shell_env['PATH']}"}
    result = run([str(tool_bin / "micropipenv"), "install", "--deploy"], cwd=app, env=env)
    assert result.returncode == 0, result.stderr
    assert imports(scratch_venv / "bin" / "python", "import alpha, gamma").returncode == 0
    assert imports(scratch_venv / "bin" / "python", "import devtool").returncode != 0
    assert not (app / ".venv").exists()
    dev = run([str(tool_bin / "micropipenv"), "install"], cwd=app, env={**env, "MICROPIPENV_DEV": "1"})
    assert dev.returncode == 0 and imports(scratch_venv / "bin" / "python", "import devtool").returncode == 0


def test_micropipenv_requirements_and_refusals(project, tool_bin, shell_env, monkeypatch) -> None:
    app = project("pipenv-made/small")
    micropipenv = str(tool_bin / "micropipenv")
    env = {**shell_env, "THOTH_TEST_INDEX": "http://127.0.0.1:9/simple"}
    out = run([micropipenv, "requirements", "--no-hashes", "--no-comments"], cwd=app, env=env).stdout
    assert out.startswith("--index-url http://127.0.0.1:9/simple\n--trusted-host 127.0.0.1:9\nalpha[fast]==1.1\n")
    assert run([micropipenv, "req", "--no-indexes"], cwd=app, env={**env, "MICROPIPENV_NO_HASHES": "1"}).stdout.startswith(
        "#\n# Default dependencies\n#\nalpha[fast]==1.1\n")
    for argv, named in ([["install", "--", "--user"], "--user"], [["install", "--method", "poetry"], "poetry.lock"],
                        [["requirements", "--only-dev"], "--only-dev"], [["freeze"], "freeze"]):
        refused = run([micropipenv, *argv], cwd=app, env=env)
        assert refused.returncode == 2 and named in refused.stderr, argv
    assert run([micropipenv, "verify"], cwd=app, env=env).returncode == 0
    missing = run([micropipenv, "install"], cwd=app, env={**env, "MICROPIPENV_PIP_BIN": "/nonexistent/bin/pip"})
    assert missing.returncode == 2 and "MICROPIPENV_PIP_BIN" in missing.stderr


def test_micropipenv_pip_bin_picks_the_target_python(indexes, project, tool_bin, shell_env, scratch_venv) -> None:
    app = project("pipenv-made/small")
    (scratch_venv / "bin" / "pip").write_text("#!/bin/sh\nexit 1\n")
    env = {**shell_env, "MICROPIPENV_PIP_BIN": str(scratch_venv / "bin" / "pip")}  # not first on PATH
    result = run([str(tool_bin / "micropipenv"), "install"], cwd=app, env=env)
    assert result.returncode == 0, result.stderr
    assert imports(scratch_venv / "bin" / "python", "import alpha").returncode == 0


# --- shim install -----------------------------------------------------------------------------


def test_shim_install_copies_executables_and_respects_foreign_files(tmp_path, capsys) -> None:
    target = tmp_path / "bin"
    assert main(["shim", "install", "--dir", str(target)]) == 0
    for name in ("pipenv", "micropipenv"):
        assert (target / name).read_bytes() == (SHIMS / name).read_bytes()
        assert (target / name).stat().st_mode & 0o755 == 0o755
    assert main(["shim", "install", "--dir", str(target)]) == 0  # idempotent
    (target / "pipenv").write_text("#!/bin/sh\necho real pipenv\n")
    assert main(["shim", "install", "--dir", str(target)]) == 2
    assert "not a thoth-pip shim" in capsys.readouterr().err
    assert (target / "pipenv").read_text().endswith("echo real pipenv\n")
    assert main(["shim", "install", "--dir", str(target), "--force"]) == 0
    assert (target / "pipenv").read_bytes() == (SHIMS / "pipenv").read_bytes()


def test_shim_install_defaults_to_the_thoth_pip_directory(tmp_path: Path) -> None:
    from micro_thoth.pipeline import shims

    script = tmp_path / "venv" / "bin" / "thoth-pip"
    script.parent.mkdir(parents=True)
    script.write_text("")
    assert shims.default_directory(str(script)) == script.parent
