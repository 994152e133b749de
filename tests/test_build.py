"""build.py: real pip and git subprocesses, offline (in-tree backends), local git repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from micro_thoth import build
from micro_thoth.artifacts import CoreMetadata
from micro_thoth.build import (
    build_wheel,
    build_wheel_for,
    prepare_metadata,
    prepare_metadata_for,
    scrub,
)
from micro_thoth.errors import BuildError
from micro_thoth.models import DirectReference
from tests.support.builder import Dist, build_sdist

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _sdist(tmp_path: Path, dist: Dist) -> Path:
    path = tmp_path / dist.sdist_filename
    path.write_bytes(build_sdist(dist))
    return path


def _unpack(sdist: Path, into: Path) -> Path:
    import tarfile

    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data") if hasattr(tarfile, "data_filter") else archive.extractall(into)
    return next(into.iterdir())


def test_build_wheel_from_sdist_offline(tmp_path: Path) -> None:
    sdist = _sdist(tmp_path, Dist("built-pkg", "1.2", files={"built_pkg/mod.py": "Y = 2\n"}))
    wheel = build_wheel(sdist, tmp_path / "out", python=sys.executable, environ=dict(os.environ))
    assert wheel == tmp_path / "out" / "built_pkg-1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("built_pkg/mod.py") == b"Y = 2\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [wheel.name]


def test_build_wheel_for_a_venv_without_pip(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    sdist = _sdist(tmp_path, Dist("other", "0.1"))
    wheel = build_wheel(sdist, tmp_path / "out", python=str(tmp_path / "venv" / "bin" / "python"),
                        environ=dict(os.environ))
    assert wheel.name == "other-0.1-py3-none-any.whl"


def test_build_failure_is_a_build_error_without_secrets(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "nope"\n')
    index = "http://user:s3cret-token@127.0.0.1:9/simple/"
    with pytest.raises(BuildError) as info:
        build_wheel(broken, tmp_path / "out", python=sys.executable, environ=dict(os.environ), index_urls=[index],
                    package="broken")
    assert info.value.distribution == "broken"
    assert info.value.output
    assert "s3cret-token" not in info.value.output + str(info.value)


def test_credentials_never_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    envs: list[dict[str, str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(command)
        envs.append(kwargs["env"])  # type: ignore[arg-type]
        return subprocess.CompletedProcess(command, 1, "", "could not fetch http://u:tok3n@host/x.tar.gz")

    monkeypatch.setattr(build.subprocess, "run", fake_run)
    with pytest.raises(BuildError) as info:
        build_wheel("https://u:tok3n@host/x.tar.gz", tmp_path / "out", python=sys.executable, environ={},
                    index_urls=["https://a:pw1@host/simple/", "https://b:pw2@host2/simple/"])
    assert not any("tok3n" in arg or "pw1" in arg for arg in seen[0])
    assert "-r" in seen[0]
    assert envs[0]["PIP_INDEX_URL"] == "https://a:pw1@host/simple/"
    assert envs[0]["PIP_EXTRA_INDEX_URL"] == "https://b:pw2@host2/simple/"
    assert "tok3n" not in info.value.output and "****" in info.value.output


def test_scrub() -> None:
    text = "GET https://me:hunter2@example.invalid/simple/ failed; token hunter2"
    assert scrub(text, ["hunter2"]) == "GET https://me:****@example.invalid/simple/ failed; token ****"


def test_prepare_metadata_for_an_sdist(tmp_path: Path) -> None:
    dist = Dist("meta-pkg", "3.0", requires_dist=["attrs>=20", 'tomli; python_version < "3.11"'],
                requires_python=">=3.8", extras=["fast"])
    text = prepare_metadata(_sdist(tmp_path, dist), python=sys.executable, environ=dict(os.environ))
    meta = CoreMetadata.from_text(text)
    assert (meta.name, meta.version, meta.requires_python) == ("meta-pkg", "3.0", ">=3.8")
    assert meta.requires_dist == ("attrs>=20", 'tomli; python_version < "3.11"')
    assert meta.provides_extras == ("fast",)


def test_static_pkg_info_needs_no_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = Dist("static", "1.0", requires_dist=["six"])
    root = _unpack(_sdist(tmp_path, dist), tmp_path / "src")
    pkg_info = root / "PKG-INFO"
    pkg_info.write_text(pkg_info.read_text().replace("Metadata-Version: 2.1", "Metadata-Version: 2.2"))
    repacked = tmp_path / "static-1.0.tar.gz"
    subprocess.run(["tar", "-czf", str(repacked), "-C", str(root.parent), root.name], check=True)
    monkeypatch.setattr(build.subprocess, "run", lambda *a, **k: pytest.fail("PKG-INFO should have sufficed"))
    assert CoreMetadata.from_text(prepare_metadata(repacked, python=sys.executable, environ={})).requires_dist == ("six",)


def test_prepare_metadata_for_a_path_and_a_wheel_url(tmp_path: Path) -> None:
    root = _unpack(_sdist(tmp_path, Dist("local", "0.5", requires_dist=["idna"])), tmp_path / "src")
    text, ref = prepare_metadata_for(DirectReference("path", str(root)), python=sys.executable, environ=dict(os.environ))
    assert CoreMetadata.from_text(text).requires_dist == ("idna",)
    assert ref == DirectReference("path", str(root))
    wheel = build_wheel(root, tmp_path / "out", python=sys.executable, environ=dict(os.environ))
    text, _ = prepare_metadata_for(DirectReference("file", wheel.as_uri()), python=sys.executable, environ={})
    assert CoreMetadata.from_text(text).version == "0.5"


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    root = _unpack(_sdist(tmp_path, Dist("gitpkg", "1.0", requires_dist=["six"])), tmp_path / "src")
    repo = tmp_path / "repo"
    shutil.copytree(root, repo)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "one")
    _git(repo, "tag", "v1.0")
    spec = (repo / "spec.json").read_text().replace("Requires-Dist: six", "Requires-Dist: six\\nRequires-Dist: idna")
    (repo / "spec.json").write_text(spec)
    _git(repo, "commit", "--quiet", "-am", "two")
    return repo


@needs_git
def test_git_reference_resolved_to_a_commit(git_repo: Path) -> None:
    first = _git(git_repo, "rev-parse", "v1.0")
    head = _git(git_repo, "rev-parse", "HEAD")
    for ref, commit, requires in (("v1.0", first, ("six",)), ("main", head, ("six", "idna")), (None, head, ("six", "idna")),
                                  (first[:10], first, ("six",))):
        text, locked = prepare_metadata_for(DirectReference("git", git_repo.as_uri(), ref=ref),
                                            python=sys.executable, environ=dict(os.environ))
        assert locked.ref == commit, ref
        assert CoreMetadata.from_text(text).requires_dist == requires, ref


@needs_git
def test_git_unknown_ref(git_repo: Path) -> None:
    with pytest.raises(BuildError, match="no-such-branch"):
        prepare_metadata_for(DirectReference("git", git_repo.as_uri(), ref="no-such-branch"),
                             python=sys.executable, environ=dict(os.environ))


@needs_git
def test_build_wheel_for_git_reference(git_repo: Path, tmp_path: Path) -> None:
    wheel = build_wheel_for(DirectReference("git", f"git+{git_repo.as_uri()}", ref="v1.0"), tmp_path / "out",
                            python=sys.executable, environ=dict(os.environ))
    assert "Requires-Dist: idna" not in build.wheel_metadata(wheel)


def test_git_credentials_go_through_askpass(tmp_path: Path) -> None:
    parts = build.urllib.parse.urlsplit("https://alice:p%40ss@example.invalid/r.git")
    env = build._git_environment({}, parts, tmp_path)
    assert env["THOTH_PIP_GIT_PASSWORD"] == "p@ss" and env["THOTH_PIP_GIT_USERNAME"] == "alice"
    out = subprocess.run([env["GIT_ASKPASS"], "Password for 'https://alice@example.invalid': "], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out == "p@ss\n"


_EDITABLE_BACKEND = '''
import base64, hashlib, os, zipfile
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME, VERSION = "editme", "0.1"
INFO = NAME + "-" + VERSION + ".dist-info"

def _h(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def _wheel(directory, members):
    filename = NAME + "-" + VERSION + "-py3-none-any.whl"
    members[INFO + "/METADATA"] = ("Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: " + VERSION + "\\n").encode()
    members[INFO + "/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    rows = []
    with zipfile.ZipFile(os.path.join(directory, filename), "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
            rows.append("%s,%s,%d" % (name, _h(data), len(data)))
        zf.writestr(INFO + "/RECORD", "\\n".join(rows + [INFO + "/RECORD,,"]) + "\\n")
    return filename

def get_requires_for_build_wheel(config_settings=None):
    return []

get_requires_for_build_editable = get_requires_for_build_wheel

def build_wheel(directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(ROOT, "editme.py"), "rb") as fh:
        return _wheel(directory, {"editme.py": fh.read()})

def build_editable(directory, config_settings=None, metadata_directory=None):
    return _wheel(directory, {"editme.pth": (ROOT + "\\n").encode()})
'''


def test_install_editable_links_the_source(tmp_path: Path) -> None:
    from micro_thoth.install import WantedPackage, ensure_venv, installed_distributions, plan

    project = tmp_path / "editme"
    (project / "_backend").mkdir(parents=True)
    (project / "_backend" / "edbackend.py").write_text(_EDITABLE_BACKEND)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "edbackend"\nbackend-path = ["_backend"]\n')
    (project / "editme.py").write_text("VALUE = 1\n")
    env = ensure_venv(tmp_path / "venv", sys.executable)
    reference = DirectReference("path", str(project), editable=True)
    step = plan([WantedPackage("editme", "0.1", direct=reference)], env)
    assert step.editables and not step.wheels_needed
    build.install_editable(reference, python=env.python, environ=dict(os.environ))
    (project / "editme.py").write_text("VALUE = 2\n")
    out = subprocess.run([env.python, "-c", "import editme; print(editme.VALUE)"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "2"
    assert "editme" in installed_distributions(env)
    assert plan([WantedPackage("editme", "0.1", direct=reference)], env).is_empty
    import sysconfig

    assert not list(Path(sysconfig.get_paths()["purelib"]).glob("editme*"))  # never into the running venv


def test_scrub_redacts_every_url_in_one_linear_pass() -> None:
    text = "a https://u:p@one.invalid/x b svn+ssh://u:p@two.invalid c no-url://"
    assert scrub(text) == "a https://u:****@one.invalid/x b svn+ssh://u:****@two.invalid c no-url://"
    # Build output is not ours to trust: a long run of scheme characters before many "://"
    # made the old pattern backtrack quadratically (minutes for 1 MiB); the scan is linear.
    adversarial = "a" * (1 << 20) + ":/" + "b" * 1000 + "://" * 1000
    started = time.process_time()
    scrub(adversarial)
    assert time.process_time() - started < 1.0
