"""A Pipfile ``file =`` archive (local, ``file://``, http) is locked with its sha256, as pipenv locks it,
and install checks it like any index file; a ``file =`` directory stays unhashed, as pipenv has it.

(Relative local wheels and sdists are in test_relative_paths.py; the backend's side in test_remote.py.)
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.pipeline.conftest import venv_import
from tests.support.builder import Dist, build_sdist, build_wheel
from tests.support.index_server import LocalIndex


def _project(tmp_path: Path, index: LocalIndex, entry: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    (project / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nlocalapp = {entry}\n'
    )
    return project


def _locked(project: Path) -> dict[str, object]:
    return json.loads((project / "Pipfile.lock").read_text())["default"]["localapp"]  # type: ignore[no-any-return]


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture
def app(index: LocalIndex) -> Dist:
    index.add(Dist("beta", "1.0"))
    return Dist("localapp", "0.1", requires_dist=("beta",))


def test_file_url_is_locked_with_its_hash_and_installed(index, app, tmp_path, thoth) -> None:
    wheel = tmp_path / app.wheel_filename
    wheel.write_bytes(build_wheel(app))
    project = _project(tmp_path, index, f'{{file = "{wheel.as_uri()}"}}')
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project) == {"file": wheel.as_uri(), "hashes": [_sha256(wheel.read_bytes())]}
    assert venv_import(project, "import localapp, beta; print(localapp.__version__)") == "0.1"


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_http_archive_is_downloaded_once_for_lock_and_install(index, app, tmp_path, thoth, kind) -> None:
    """The lock downloads it to hash it (pip-compile does too); install finds that copy in the cache."""
    (entry,) = index.add(app, wheel=kind == "wheel", sdist=kind == "sdist")
    url = f"{index.root}/files/{entry.filename}"
    project = _project(tmp_path, index, f'{{file = "{url}"}}')
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project)["hashes"] == [_sha256(entry.data)]
    assert len([r for r in index.requested(entry.filename) if r.startswith("GET")]) == 1, index.requests
    assert venv_import(project, "import localapp, beta; print(localapp.__version__)") == "0.1"


def test_url_digest_fragment_is_the_lock_hash_and_install_checks_it(index, app, tmp_path, thoth) -> None:
    (entry,) = index.add(app)
    url = f"{index.root}/files/{entry.filename}#sha256={entry.sha256}"
    project = _project(tmp_path, index, f'{{file = "{url}"}}')
    result = thoth("lock", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project) == {"file": url, "hashes": [f"sha256:{entry.sha256}"]}
    index.tamper(entry.filename)  # the host now serves other bytes under that URL
    result = thoth("install", "--deploy", "-C", str(project))
    assert result.code != 0 and entry.filename in result.err and "Traceback" not in result.err
    assert not (project / ".venv").exists() or "localapp" not in venv_import(project, "import sys; print(sys.modules)")


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_a_local_archive_changed_after_the_lock_is_refused_by_name(index, app, tmp_path, thoth, kind) -> None:
    project = _project(tmp_path, index, "")
    name = app.wheel_filename if kind == "wheel" else app.sdist_filename
    index_file = index.add(app, wheel=kind == "wheel", sdist=kind == "sdist")[0]
    (project / name).write_bytes(index_file.data)
    _project(tmp_path, index, f'{{file = "./{name}"}}')
    result = thoth("lock", "-C", str(project))
    assert result.code == 0, result.err
    (project / name).write_bytes(index_file.data + b"\0")  # rebuilt, or tampered with, after the lock
    result = thoth("install", "--deploy", "-C", str(project))
    assert result.code != 0, result.out
    assert name in result.err and "hash" in result.err and "Traceback" not in result.err
    assert "the local file changed since the lock" in result.err
    assert not (project / ".venv" / "lib").exists() or not list((project / ".venv" / "lib").glob("*/site-packages/localapp*"))


def test_file_directory_stays_unhashed_and_installs(index, app, tmp_path, thoth) -> None:
    """``file = "./app"`` names a project directory: built, never hashed (pipenv's collect_hashes skips it)."""
    project = _project(tmp_path, index, '{file = "./app"}')
    with tarfile.open(fileobj=io.BytesIO(build_sdist(app)), mode="r:gz") as tf:
        tf.extractall(tmp_path / "unpacked")
    (tmp_path / "unpacked" / f"{app.dist_name}-{app.version}").rename(project / "app")
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project) == {"file": "./app"}
    assert venv_import(project, "import localapp, beta; print(localapp.__version__)") == "0.1"
    result = thoth("sync", "-C", str(project))  # the unhashed entry is accepted by a lock-only install too
    assert result.code == 0, result.err


def test_pip_compile_mode_writes_the_hash_of_a_url_archive(index, app, tmp_path, thoth) -> None:
    """``name @ URL`` in requirements.in gets its ``--hash``, as ``pip-compile --generate-hashes`` writes it."""
    (entry,) = index.add(app)
    url = f"{index.root}/files/{entry.filename}"
    (tmp_path / "requirements.in").write_text(f"localapp @ {url}\n")
    out = tmp_path / "requirements.txt"
    result = thoth("lock", "-r", str(tmp_path / "requirements.in"), "-i", index.url, "-o", str(out))
    assert result.code == 0, result.err
    assert f"localapp @ {url} \\\n    --hash=sha256:{entry.sha256}\n" in out.read_text()


def _members(dist: Dist) -> dict[str, bytes]:
    """The files of ``dist``'s sdist, without its top directory."""
    with tarfile.open(fileobj=io.BytesIO(build_sdist(dist)), mode="r:gz") as tf:
        return {m.name.split("/", 1)[1]: tf.extractfile(m).read() for m in tf if m.isfile()}  # type: ignore[union-attr]


def _monorepo(path: Path, projects: dict[str, Dist]) -> bytes:
    """An archive as a forge serves a repository: one top directory holding a project per
    subdirectory ("" the one at its root), written as ``.zip`` or ``.tar.gz`` by ``path``'s name."""
    files = {f"mono-main/{sub}/{rel}".replace("//", "/"): data for sub, dist in projects.items() for rel, data in _members(dist).items()}
    buf = io.BytesIO()
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in sorted(files.items()):
                zf.writestr(name, data)
    else:
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for name, data in sorted(files.items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_file_archive_with_subdirectory_locks_and_installs_that_project(index, app, tmp_path, thoth, suffix) -> None:
    """``{file = "...archive", subdirectory = "pkg"}`` is the project in ``pkg/`` of the archive, as pip's
    ``#subdirectory=``: its metadata for the lock, its wheel for install; the lock hashes the whole archive."""
    archive = tmp_path / f"mono{suffix}"
    data = _monorepo(archive, {"": Dist("decoy", "9.0", requires_dist=("nowhere-to-be-found",)), "pkg": app})
    project = _project(tmp_path, index, f'{{file = "{archive.as_uri()}", subdirectory = "pkg"}}')
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project) == {"file": archive.as_uri(), "subdirectory": "pkg", "hashes": [_sha256(data)]}
    assert venv_import(project, "import localapp, beta; print(localapp.__version__)") == "0.1"
    assert venv_import(project, "import importlib.util; print(importlib.util.find_spec('decoy'))") == "None"
    result = thoth("sync", "--deploy", "-C", str(project))  # from the lock alone, the built wheel reused
    assert result.code == 0, result.err


def test_two_subdirectories_of_one_archive_are_two_projects(index, app, tmp_path, thoth) -> None:
    archive = tmp_path / "mono.tar.gz"
    _monorepo(archive, {"pkg": app, "other": Dist("otherapp", "0.2")})
    pipfile = (
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n'
        f'localapp = {{file = "{archive.as_uri()}", subdirectory = "pkg"}}\n'
        f'otherapp = {{file = "{archive.as_uri()}", subdirectory = "other"}}\n'
    )
    project = tmp_path / "proj"
    project.mkdir()
    (project / "Pipfile").write_text(pipfile)
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert venv_import(project, "import localapp, otherapp; print(localapp.__version__, otherapp.__version__)") == "0.1 0.2"


def test_a_subdirectory_the_archive_does_not_have_is_named(index, app, tmp_path, thoth) -> None:
    archive = tmp_path / "mono.zip"
    _monorepo(archive, {"pkg": app})
    project = _project(tmp_path, index, f'{{file = "{archive.as_uri()}", subdirectory = "pgk"}}')
    result = thoth("lock", "-C", str(project))
    assert result.code != 0 and "Traceback" not in result.err
    assert "pgk" in result.err and "localapp" in result.err, result.err
    assert not (project / "Pipfile.lock").exists()


def test_path_with_subdirectory_builds_the_project_there(index, app, tmp_path, thoth) -> None:
    """``{path = "./repo", subdirectory = "pkg"}``: pip reads ``#subdirectory=`` on a URL only, so the
    directory goes to pip as a ``file:`` URL."""
    archive = tmp_path / "mono.zip"
    _monorepo(archive, {"": Dist("decoy", "9.0"), "pkg": app})
    project = _project(tmp_path, index, '{path = "./repo", subdirectory = "pkg"}')
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "unpacked")
    (tmp_path / "unpacked" / "mono-main").rename(project / "repo")
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project) == {"path": "./repo", "subdirectory": "pkg"}
    assert venv_import(project, "import localapp, beta; print(localapp.__version__)") == "0.1"


@pytest.mark.parametrize("digest", [False, True], ids=["hashed-by-download", "url-digest"])
def test_http_archive_with_subdirectory(index, app, tmp_path, thoth, digest) -> None:
    """Downloaded once into the cache to be hashed, or, with ``#sha256=`` in the URL, read by pip from the
    URL (the fragment joined with ``&subdirectory=``); install builds the project in that directory either way."""
    data = _monorepo(tmp_path / "mono.tar.gz", {"": Dist("decoy", "9.0"), "pkg": app})
    entry = index.add_file(Dist("mono", "1"), "mono.tar.gz", data)
    url = f"{index.root}/files/mono.tar.gz" + (f"#sha256={entry.sha256}" if digest else "")
    project = _project(tmp_path, index, f'{{file = "{url}", subdirectory = "pkg"}}')
    result = thoth("install", "-C", str(project))
    assert result.code == 0, result.err
    assert _locked(project) == {"file": url, "subdirectory": "pkg", "hashes": [_sha256(data)]}
    assert venv_import(project, "import localapp, beta; print(localapp.__version__)") == "0.1"
