"""A Pipfile's relative ``path =`` / ``file =`` is relative to the Pipfile's directory, as pipenv has it.

The process runs from another directory (``-C DIR`` and ``PIPENV_PIPFILE``); the lock keeps the
path as written, and lock and install read the project's copy, never the current directory's.
A path typed on the command line (``install ./sub``) is the user's, and goes into the Pipfile
relative to the Pipfile's directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import tomlkit

from tests.support.builder import Dist, build_sdist, build_wheel


def _local_project(parent: Path, dist: Dist, where: str = "app") -> None:
    with tarfile.open(fileobj=io.BytesIO(build_sdist(dist, editable=True)), mode="r:gz") as tf:
        tf.extractall(parent / "_unpacked")
    (parent / "_unpacked" / f"{dist.dist_name}-{dist.version}").rename(parent / where)


def _project(tmp_path: Path, url: str, entry: str) -> tuple[Path, Path]:
    """``proj/`` with ``proj/app`` (localapp 0.1, needs beta) and a decoy ``elsewhere/app`` (9.9, needs nothing)."""
    project, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    _local_project(project, Dist("localapp", "0.1", requires_dist=("beta",)))
    _local_project(elsewhere, Dist("localapp", "9.9"))
    (project / "Pipfile").write_text(
        f'[[source]]\nurl = "{url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nlocalapp = {entry}\n'
    )
    return project, elsewhere


def _installed_version(project: Path) -> str:
    python = project / ".venv" / "bin" / "python"
    code = "import importlib.metadata as m, localapp; print(m.version('localapp'), localapp.__file__)"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("entry", ['{path = "./app"}', '{path = "app", editable = true}'])
def test_lock_and_install_read_paths_from_the_pipfile_directory(index, tmp_path, thoth, monkeypatch, entry) -> None:
    index.add(Dist("beta", "1.0"))
    project, elsewhere = _project(tmp_path, index.url, entry)
    monkeypatch.chdir(elsewhere)
    result = thoth("lock", "-C", str(project))
    assert result.code == 0, result.err
    default = json.loads((project / "Pipfile.lock").read_text())["default"]
    assert default["localapp"]["path"] == entry.split('"')[1]  # as written, like pipenv
    assert "beta" in default  # the project's app was read, not the decoy
    result = thoth("install", "--deploy", "-C", str(project))
    assert result.code == 0, result.err
    installed = _installed_version(project)
    assert installed.startswith("0.1 "), installed
    if "editable" in entry:
        assert str(project / "app") in installed


def test_pipenv_pipfile_elsewhere_anchors_paths_at_the_pipfile(index, tmp_path, thoth, monkeypatch) -> None:
    index.add(Dist("beta", "1.0"))
    project, elsewhere = _project(tmp_path, index.url, '{path = "./app"}')
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PIPENV_PIPFILE", str(project / "Pipfile"))
    result = thoth("lock")
    assert result.code == 0, result.err
    default = json.loads((project / "Pipfile.lock").read_text())["default"]
    assert default["localapp"]["path"] == "./app" and "beta" in default


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_a_relative_file_is_read_from_the_pipfile_directory(index, tmp_path, thoth, monkeypatch, kind) -> None:
    """``file = "./x.whl"`` (a local archive, not a directory) is the project's, not the cwd's namesake."""
    index.add(Dist("beta", "1.0"))
    project, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    real, decoy = Dist("localapp", "0.1", requires_dist=("beta",)), Dist("localapp", "0.1")
    name = real.wheel_filename if kind == "wheel" else real.sdist_filename
    make = build_wheel if kind == "wheel" else build_sdist
    (project / name).write_bytes(make(real))
    (elsewhere / name).write_bytes(make(decoy))  # same name, no dependency
    (project / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n'
        f'[packages]\nlocalapp = {{file = "./{name}"}}\n'
    )
    monkeypatch.chdir(elsewhere)
    result = thoth("lock", "-C", str(project))
    assert result.code == 0, result.err
    default = json.loads((project / "Pipfile.lock").read_text())["default"]
    assert default["localapp"]["file"] == f"./{name}"  # as written, like pipenv
    assert "beta" in default  # the project's archive was read, not the decoy
    # The lock has the project's file's hash (pipenv's), which the decoy's would not match.
    digest = hashlib.sha256((project / name).read_bytes()).hexdigest()
    assert default["localapp"]["hashes"] == [f"sha256:{digest}"]
    result = thoth("install", "--deploy", "-C", str(project))
    assert result.code == 0, result.err
    assert _installed_version(project).startswith("0.1 ")


@pytest.mark.parametrize("args", [("./sub",), ("-e", "./sub"), ("--editable=sub",)])
def test_install_writes_a_typed_path_relative_to_the_pipfile(index, tmp_path, thoth, monkeypatch, args) -> None:
    """``install -C DIR ./sub``: ``./sub`` is the user's (cwd's); the Pipfile gets it relative to DIR, as pipenv writes it."""
    index.add(Dist("beta", "1.0"))
    project, work = tmp_path / "proj", tmp_path / "work"
    project.mkdir()
    work.mkdir()
    _local_project(work, Dist("localapp", "0.1", requires_dist=("beta",)), "sub")
    _local_project(project, Dist("localapp", "9.9"), "sub")  # what ./sub would be read as from DIR
    (project / "Pipfile").write_text(f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n')
    monkeypatch.chdir(work)
    result = thoth("install", "-C", str(project), *args)
    assert result.code == 0, result.err
    entry = tomlkit.parse((project / "Pipfile").read_text()).unwrap()["packages"]["localapp"]
    editable = args[0] != "./sub"
    assert entry == ({"path": "../work/sub", "editable": True} if editable else {"path": "../work/sub"})
    default = json.loads((project / "Pipfile.lock").read_text())["default"]
    assert default["localapp"]["path"] == "../work/sub" and "beta" in default
    installed = _installed_version(project)
    assert installed.startswith("0.1 "), installed
    if editable:
        assert str(work / "sub") in installed


def test_install_refuses_a_typed_path_that_is_not_there(index, tmp_path, thoth, monkeypatch) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    pipfile = f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n'
    (project / "Pipfile").write_text(pipfile)
    monkeypatch.chdir(tmp_path)
    result = thoth("install", "-C", str(project), "./missing")
    assert result.code != 0 and "./missing" in result.err and "Traceback" not in result.err
    assert (project / "Pipfile").read_text() == pipfile
