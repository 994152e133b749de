"""End to end: ``thoth-pip lock / install PKG / update / uninstall`` on the local index."""

from __future__ import annotations

import json

from micro_thoth.formats.pipfile import parse_pipfile
from tests.pipeline.conftest import FIXTURES, venv_import
from tests.support.builder import Dist


def _versions(lock: dict, category: str = "default") -> dict[str, str]:
    return {name: entry.get("version", "") for name, entry in lock[category].items()}


def test_lock_matches_pipenv_made_lock(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    theirs = json.loads((app / "Pipfile.lock").read_text())
    (app / "Pipfile.lock").unlink()
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    ours = json.loads((app / "Pipfile.lock").read_text())
    assert ours["_meta"]["hash"] == theirs["_meta"]["hash"]  # pipenv's own _meta hash algorithm
    assert ours["_meta"]["sources"] == theirs["_meta"]["sources"]  # ${VAR} kept, never expanded
    for category in ("default", "develop"):
        for name, entry in theirs[category].items():
            if entry.get("version") == "*":
                continue  # pipenv's unresolved sys_platform entry; we honour the marker instead
            assert ours[category][name]["version"] == entry["version"], name
            assert ours[category][name]["hashes"] == entry["hashes"], name
    assert (app / "Pipfile.lock").read_text().endswith("}\n")


def test_lock_then_deploy_accepts_it(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("lock", "-C", str(app)).code == 0
    result = thoth("install", "--deploy", "-C", str(app))
    assert result.code == 0, result.err
    assert venv_import(app, "import alpha; print(alpha.__version__)") == "1.1"


def test_install_without_lock_locks_then_installs(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    (app / "Pipfile.lock").unlink()
    result = thoth("install", "-C", str(app))
    assert result.code == 0, result.err
    assert (app / "Pipfile.lock").exists()
    assert "Locked" in result.err and "Installed" in result.err


def test_install_package_adds_to_pipfile_keeping_comments(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    pipfile = app / "Pipfile"
    pipfile.write_text("# my project\n" + pipfile.read_text())
    result = thoth("install", "-C", str(app), "delta==3.0", "devtool")
    assert result.code == 0, result.err
    text = pipfile.read_text()
    assert text.startswith("# my project\n")
    parsed = parse_pipfile(text)
    assert {d.name for d in parsed.categories["default"]} >= {"devtool", "delta"}
    lock = json.loads((app / "Pipfile.lock").read_text())
    assert _versions(lock)["devtool"] == "==4.2"
    assert venv_import(app, "import devtool; print(devtool.__version__)") == "4.2"


def test_failed_add_leaves_pipfile_and_environment_unchanged(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    before = (app / "Pipfile").read_text()
    lock_before = (app / "Pipfile.lock").read_text()
    result = thoth("install", "-C", str(app), "no-such-package-here")
    assert result.code == 1
    assert "no-such-package-here" in result.err and "Traceback" not in result.err
    assert (app / "Pipfile").read_text() == before
    assert (app / "Pipfile.lock").read_text() == lock_before
    assert not (app / ".venv").exists()


def test_update_moves_only_named_package(indexes, project, thoth) -> None:
    one, _ = indexes
    app = project("pipenv-made/small")
    one.add(Dist("gamma", "0.7"))
    one.add(Dist("beta", "2.1"))
    result = thoth("update", "--lock-only", "-C", str(app), "gamma")
    assert result.code == 0, result.err
    lock = json.loads((app / "Pipfile.lock").read_text())
    assert _versions(lock)["gamma"] == "==0.7"
    assert _versions(lock)["beta"] == "==2.0"  # not involved: stays as it was
    assert "gamma 0.5 -> 0.7" in result.err


def test_uninstall_removes_from_pipfile_and_environment(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("install", "--dev", "-C", str(app)).code == 0
    result = thoth("uninstall", "-C", str(app), "devtool")
    assert result.code == 0, result.err
    assert "devtool" not in (app / "Pipfile").read_text()
    assert "devtool" not in json.loads((app / "Pipfile.lock").read_text())["develop"]
    assert not list((app / ".venv").rglob("devtool-*.dist-info"))


def test_conflict_explains_the_chain(index, tmp_path, thoth, monkeypatch) -> None:
    index.add(Dist("app-core", "1.0", requires_dist=["shared<2"]))
    index.add(Dist("plugin", "1.0", requires_dist=["shared>=2"]))
    index.add(Dist("shared", "1.5"))
    index.add(Dist("shared", "2.5"))
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n'
        '[packages]\napp-core = "*"\nplugin = "*"\n'
    )
    result = thoth("lock", "-C", str(tmp_path))
    assert result.code == 1
    assert "shared" in result.err and "app-core" in result.err and "plugin" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "Pipfile.lock").exists()


def test_typo_gets_a_suggestion(index, tmp_path, thoth) -> None:
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nreqeusts = "*"\n'
    )
    result = thoth("lock", "-C", str(tmp_path))
    assert result.code == 1
    assert "reqeusts" in result.err and "requests" in result.err


def test_pip_compile_mode_writes_hashes_and_via(index, tmp_path, thoth) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=1"]))
    (beta,) = index.add(Dist("beta", "1.2"))
    (tmp_path / "requirements.in").write_text("alpha\n")
    result = thoth("lock", "-r", str(tmp_path / "requirements.in"), "-i", index.url, "-o", str(tmp_path / "requirements.txt"))
    assert result.code == 0, result.err
    text = (tmp_path / "requirements.txt").read_text()
    assert "alpha==1.0 \\\n" in text and f"--hash=sha256:{beta.sha256}" in text
    assert "# via alpha" in text and "-r requirements.in" in text
    # the output is itself a lock thoth-pip can install
    result = thoth("sync", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert venv_import(tmp_path, "import beta; print(beta.__version__)") == "1.2"


def test_lock_for_older_python_honours_requires_python(index, tmp_path, thoth) -> None:
    index.add(Dist("modern", "1.0", requires_dist=["backport; python_version < '3.10'"]))
    index.add(Dist("modern", "2.0", requires_python=">=3.10"))
    index.add(Dist("backport", "0.1"))
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n'
        '[packages]\nmodern = "*"\n\n[requires]\npython_version = "3.9"\n'
    )
    result = thoth("lock", "-C", str(tmp_path))
    assert result.code == 0, result.err
    lock = json.loads((tmp_path / "Pipfile.lock").read_text())
    assert _versions(lock)["modern"] == "==1.0"
    assert "backport" in lock["default"]
    assert lock["_meta"]["requires"] == {"python_version": "3.9"}


def test_exclude_newer_is_a_snapshot(index, tmp_path, thoth) -> None:
    index.add(Dist("snap", "1.0"), upload_time="2024-01-01T00:00:00Z")
    index.add(Dist("snap", "2.0"), upload_time="2025-06-01T00:00:00Z")
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nsnap = "*"\n'
    )
    assert thoth("lock", "--exclude-newer", "2025-01-01", "-C", str(tmp_path)).code == 0
    assert _versions(json.loads((tmp_path / "Pipfile.lock").read_text()))["snap"] == "==1.0"


def test_fixture_dir_is_untouched() -> None:
    # the copies above never write back into the committed fixtures
    assert (FIXTURES / "pipenv-made" / "small" / "Pipfile.lock").exists()
    assert not (FIXTURES / "pipenv-made" / "small" / ".venv").exists()


def test_unknown_index_name_points_at_the_entry(index, tmp_path, thoth) -> None:
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n'
        '[packages]\nalpha = {version = "*", index = "private"}\n'
    )
    result = thoth("lock", "-C", str(tmp_path))
    assert result.code == 1
    assert "packages.alpha.index" in result.err and "'private'" in result.err and "local" in result.err
    assert index.requests == []  # nothing was asked of any index


def test_pip_compile_mode_writes_no_requires_python_markers(index, tmp_path, thoth) -> None:
    index.add(Dist("modern", "1.0", requires_python=">=3.8", requires_dist=["winonly; sys_platform == 'win32'"]))
    index.add(Dist("winonly", "1.0"))
    (tmp_path / "requirements.in").write_text("modern\n")
    result = thoth("lock", "-r", str(tmp_path / "requirements.in"), "-i", index.url, "-o", "-", "--python-version", "3.11", "--platform", "win-amd64")
    assert result.code == 0, result.err
    assert "modern==1.0 \\\n" in result.out  # no "; python_version >= '3.8'" as pip-compile writes none
    assert 'winonly==1.0 ; sys_platform == "win32"' in result.out


def test_an_unreadable_previous_lock_is_replaced_and_says_so(index, tmp_path, thoth) -> None:
    """Its versions cannot be kept: that changes what the user gets, so it is said, with the reason."""
    index.add(Dist("alpha", "1.0"))
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nalpha = "*"\n'
    )
    (tmp_path / "Pipfile.lock").write_text('{"_meta": {"hash": ')
    result = thoth("lock", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert "warning: the existing Pipfile.lock cannot be read" in result.err and "not kept" in result.err
    assert _versions(json.loads((tmp_path / "Pipfile.lock").read_text())) == {"alpha": "==1.0"}


def test_pip_compile_mode_says_when_the_old_output_cannot_be_read(index, tmp_path, thoth) -> None:
    """pip-compile keeps the pins of the requirements.txt it had; one that cannot be read is not used, and said so."""
    index.add(Dist("alpha", "1.0"))
    index.add(Dist("alpha", "2.0"))
    (tmp_path / "requirements.in").write_text("alpha\n")
    out = tmp_path / "requirements.txt"
    out.write_text("alpha==1.0\n")
    args = ("lock", "-r", str(tmp_path / "requirements.in"), "-i", index.url, "-o", str(out))
    result = thoth(*args)
    assert result.code == 0 and "alpha==1.0" in out.read_text() and "warning" not in result.err, result.err
    out.write_text("alpha==1.0\n--frobnicate\n")
    result = thoth(*args)
    assert result.code == 0, result.err
    assert "warning: the existing requirements.txt cannot be read" in result.err and "--frobnicate" in result.err
    assert "alpha==2.0" in out.read_text()
