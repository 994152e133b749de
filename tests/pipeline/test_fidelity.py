"""Lock fidelity (issue 15): the answers pipenv and pip-compile give, and every difference said.

Each test runs ``thoth-pip`` end to end against the local index on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

from micro_thoth.cli import main
from micro_thoth.formats.pipfile import hash_text
from micro_thoth.pipconf import default_index_url
from tests.guidance.test_cli import FIXTURES as OSV_FIXTURES
from tests.support.builder import Dist


def _pipfile(path: Path, url: str, packages: str, extra: str = "") -> Path:
    (path / "Pipfile").write_text(
        f'[[source]]\nurl = "{url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n{packages}\n{extra}'
    )
    return path


def _locked(path: Path, category: str = "default") -> dict[str, str]:
    lock = json.loads((path / "Pipfile.lock").read_text())
    return {name: entry.get("version", "") for name, entry in lock[category].items()}


# --- item 5: testing takes pre-releases for every package ----------------------------------------


def test_testing_type_takes_prereleases_for_every_package(index, tmp_path, thoth) -> None:
    index.add(Dist("app", "1.0", requires_dist=["lib>=1"]))
    index.add(Dist("app", "2.0rc1", requires_dist=["lib>=1"]))
    index.add(Dist("lib", "1.0"))
    index.add(Dist("lib", "1.1b2"))
    _pipfile(tmp_path, index.url, 'app = "*"')
    assert thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path)).code == 0
    assert _locked(tmp_path) == {"app": "==1.0", "lib": "==1.0"}
    result = thoth("lock", "-U", "--recommendation-type", "testing", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert _locked(tmp_path) == {"app": "==2.0rc1", "lib": "==1.1b2"}


# --- item 6: update with an unknown name -------------------------------------------------------


def test_update_unknown_name_fails_with_did_you_mean(index, tmp_path, thoth) -> None:
    index.add(Dist("click", "8.0"))
    index.add(Dist("colorama", "0.4"))
    _pipfile(tmp_path, index.url, 'click = "*"\ncolorama = "*"')
    assert thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path)).code == 0
    before = (tmp_path / "Pipfile.lock").read_text()
    result = thoth("update", "--lock-only", "-C", str(tmp_path), "clik")
    assert result.code == 1
    assert "'clik'" in result.err and "did you mean 'click'" in result.err and "Traceback" not in result.err
    assert (tmp_path / "Pipfile.lock").read_text() == before
    json_result = thoth("update", "--lock-only", "--json", "-C", str(tmp_path), "colorama", "nope-nothing")
    assert json_result.code == 1 and "nope-nothing" in json_result.json()["error"]["message"]
    assert thoth("update", "--lock-only", "-C", str(tmp_path), "Click").code == 0  # names compare canonically


# --- item 4: yanked exact pins and advisories name themselves -----------------------------------


def test_yanked_exact_pin_names_the_yank_reason_and_way_out(index, tmp_path, thoth) -> None:
    index.add(Dist("numpy", "2.3.0"))
    index.add(Dist("numpy", "2.4.0"), yanked="regression in matmul")
    _pipfile(tmp_path, index.url, 'numpy = "==2.4.0"')
    result = thoth("lock", "-C", str(tmp_path))  # stable refuses yanked releases
    assert result.code == 1
    assert "yanked (regression in matmul)" in result.err
    assert "--recommendation-type latest" in result.err
    result = thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path))
    assert result.code == 0, result.err  # as pipenv and pip-compile: the user's == takes it
    assert _locked(tmp_path) == {"numpy": "==2.4.0"}


def test_yanked_only_range_names_the_reason(index, tmp_path, thoth) -> None:
    index.add(Dist("numpy", "2.3.0"))
    index.add(Dist("numpy", "2.4.0"), yanked="regression in matmul")
    _pipfile(tmp_path, index.url, 'numpy = ">2.3"')
    result = thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path))
    assert result.code == 1
    assert "2.4.0 is yanked (regression in matmul; pin it with == to take it)" in result.err


def test_advisory_refusal_names_the_advisory(index, tmp_path, thoth) -> None:
    assert main(["advisories", "import", str(OSV_FIXTURES)]) == 0
    index.add(Dist("fictional-http", "1.4.1"))
    _pipfile(tmp_path, index.url, 'fictional-http = "==1.4.1"')
    result = thoth("lock", "--recommendation-type", "security", "-C", str(tmp_path))
    assert result.code == 1
    assert "GHSA-test-0001" in result.err and "--allow-vulnerability GHSA-test-0001" in result.err
    result = thoth("lock", "--recommendation-type", "security", "--allow-vulnerability", "GHSA-test-0001", "-C", str(tmp_path))
    assert result.code == 0, result.err


# --- item 7: PIPENV_PYPI_MIRROR ------------------------------------------------------------------


def test_pypi_mirror_stands_in_for_the_default_index(index, tmp_path, thoth, monkeypatch) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    index.add(Dist("beta", "2.0"))
    (tmp_path / "Pipfile").write_text('[packages]\nalpha = "*"\n')  # no [[source]]: the default index
    monkeypatch.setenv("PIPENV_PYPI_MIRROR", index.url)
    result = thoth("install", "--recommendation-type", "latest", "-C", str(tmp_path))
    assert result.code == 0, result.err
    lock = json.loads((tmp_path / "Pipfile.lock").read_text())
    assert _locked(tmp_path) == {"alpha": "==1.0", "beta": "==2.0"}
    assert index.url not in (tmp_path / "Pipfile.lock").read_text()  # the lock names the default index
    assert any(r.startswith("GET /simple/alpha/") for r in index.requests)
    assert list((tmp_path / ".venv").rglob("beta-2.0.dist-info"))
    (current, *_legacy) = hash_text((tmp_path / "Pipfile").read_text(), default_index_url=default_index_url())
    assert lock["_meta"]["hash"] == {"sha256": current}  # the Pipfile hash of the default index, not the mirror


# --- item 8: an editable path alone is installed; the summary counts every package ---------------


def _local_project(path: Path, dist: Dist) -> None:
    import io
    import tarfile

    from tests.support.builder import build_sdist

    with tarfile.open(fileobj=io.BytesIO(build_sdist(dist, editable=True)), mode="r:gz") as tf:
        tf.extractall(path / "_unpacked")
    (path / "_unpacked" / f"{dist.dist_name}-{dist.version}").rename(path / "app")


def test_editable_path_only_pipfile_installs_it(index, tmp_path, thoth, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _local_project(tmp_path, Dist("localapp", "0.1"))
    _pipfile(tmp_path, index.url, 'localapp = {path = "./app", editable = true}')
    result = thoth("install", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert "Nothing to do" not in result.err and "1 package" in result.err
    python = tmp_path / ".venv" / "bin" / "python"
    import subprocess

    out = subprocess.run([str(python), "-c", "import localapp; print(localapp.__file__)"], capture_output=True, text=True)
    assert str(tmp_path / "app") in out.stdout, out.stderr
    result = thoth("install", "--deploy", "-C", str(tmp_path))  # already there: nothing left to do
    assert result.code == 0, result.err
    import shutil

    shutil.rmtree(tmp_path / ".venv")
    result = thoth("install", "--deploy", "-C", str(tmp_path))  # a fresh checkout with the lock
    assert result.code == 0, result.err
    assert "Installed 1 package" in result.err
    out = subprocess.run([str(python), "-c", "import localapp; print(localapp.__file__)"], capture_output=True, text=True)
    assert str(tmp_path / "app") in out.stdout, out.stderr


def test_summary_counts_editables_beside_registry_packages(index, tmp_path, thoth, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    index.add(Dist("beta", "2.0"))
    _local_project(tmp_path, Dist("localapp", "0.1"))
    _pipfile(tmp_path, index.url, 'localapp = {path = "./app", editable = true}\nbeta = "*"')
    result = thoth("install", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert "Installed 2 packages" in result.err, result.err


# --- item 9: installing for another Python says so -----------------------------------------------


def test_sync_on_another_python_warns_and_lists_skipped_entries(index, tmp_path, thoth) -> None:
    index.add(Dist("app", "1.0"))
    index.add(Dist("backport", "1.0"))
    _pipfile(tmp_path, index.url, 'app = "*"\nbackport = {version = "*", markers = "python_version < \'3.11\'"}',
             '\n[requires]\npython_version = "3.10"\n')
    result = thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert _locked(tmp_path) == {"app": "==1.0", "backport": "==1.0"}
    result = thoth("sync", "--python", "3.11", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert "the lock was made for Python 3.10" in result.err and "Python is 3.11" in result.err
    assert "skipped backport==1.0 (default): its marker python_version < '3.11' does not hold" in result.err
    assert "Installed 1 package" in result.err


def test_python_flag_with_a_venv_of_another_python_is_refused(index, tmp_path, thoth) -> None:
    index.add(Dist("app", "1.0"))
    _pipfile(tmp_path, index.url, 'app = "*"')
    assert thoth("install", "--recommendation-type", "latest", "-C", str(tmp_path)).code == 0
    cfg = tmp_path / ".venv" / "pyvenv.cfg"
    cfg.write_text("\n".join("version = 3.10.13" if line.startswith("version") else line for line in cfg.read_text().splitlines()) + "\n")
    before = sorted(p.name for p in (tmp_path / ".venv").rglob("*"))
    result = thoth("sync", "--python", "3.11", "-C", str(tmp_path))
    assert result.code == 2
    assert "has Python 3.10.13, but --python 3.11 asks for Python 3.11" in result.err
    assert sorted(p.name for p in (tmp_path / ".venv").rglob("*")) == before
    assert thoth("sync", "-C", str(tmp_path)).code == 0  # without --python the .venv is used as it is


# --- item 2: pip's binary options, at lock and install time -------------------------------------


def _compile(thoth, path: Path, url: str, body: str, *flags: str):  # type: ignore[no-untyped-def]
    (path / "requirements.in").write_text(body)
    return thoth("lock", "-r", str(path / "requirements.in"), "-i", url, "--no-header", "--recommendation-type", "latest", *flags)


def test_only_binary_all_refuses_an_sdist_only_release(index, tmp_path, thoth) -> None:
    index.add(Dist("docopt", "0.6.2"), wheel=False, sdist=True)
    for body, flags in (("--only-binary :all:\ndocopt==0.6.2\n", ()), ("docopt==0.6.2\n", ("--only-binary", ":all:"))):
        result = _compile(thoth, tmp_path, index.url, body, *flags)
        assert result.code == 1, body
        assert "0.6.2 has no wheel for the target (--only-binary refuses its sdist)" in result.err
        assert not (tmp_path / "requirements.txt").exists()


def test_binary_options_are_written_as_pip_compile_does_and_filter_hashes(index, tmp_path, thoth) -> None:
    (a_wheel, a_sdist) = index.add(Dist("a", "1.0", requires_dist=["b"]), sdist=True)
    (b_wheel, b_sdist) = index.add(Dist("b", "1.0"), sdist=True)
    body = "--trusted-host 127.0.0.1\n--prefer-binary\n--no-binary b\n--only-binary a\na\n"
    result = _compile(thoth, tmp_path, index.url, body)
    assert result.code == 0, result.err
    text = (tmp_path / "requirements.txt").read_text()
    assert text.startswith(f"--index-url {index.url}\n--trusted-host 127.0.0.1\n--no-binary b\n--only-binary a\n\n")
    assert a_wheel.sha256 in text and a_sdist.sha256 not in text  # as pip-compile: the files pip may use
    assert b_sdist.sha256 in text and b_wheel.sha256 not in text


def test_no_binary_all_locks_sdists_and_installs_from_them(index, tmp_path, thoth) -> None:
    (wheel, sdist) = index.add(Dist("b", "1.0"), sdist=True)
    result = _compile(thoth, tmp_path, index.url, "--no-binary :all:\nb\n")
    assert result.code == 0, result.err
    text = (tmp_path / "requirements.txt").read_text()
    assert "--no-binary :all:\n" in text and sdist.sha256 in text and wheel.sha256 not in text
    result = thoth("sync", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert list((tmp_path / ".venv").rglob("b-1.0.dist-info"))
    assert not any(r.endswith(wheel.filename) for r in index.requests)  # built from the sdist


def test_no_binary_flag_at_install_time_builds_from_the_sdist(index, tmp_path, thoth) -> None:
    (wheel, _sdist) = index.add(Dist("b", "1.0"), sdist=True)
    _pipfile(tmp_path, index.url, 'b = "*"')
    assert thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path)).code == 0  # both hashes, as pipenv
    result = thoth("sync", "--no-binary", "b", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert list((tmp_path / ".venv").rglob("b-1.0.dist-info"))
    assert not any(r.endswith(wheel.filename) for r in index.requests)


def test_prefer_binary_takes_an_older_release_with_a_wheel(index, tmp_path, thoth) -> None:
    index.add(Dist("c", "1.0"))
    index.add(Dist("c", "2.0"), wheel=False, sdist=True)
    assert _compile(thoth, tmp_path, index.url, "c\n").code == 0
    assert "c==2.0" in (tmp_path / "requirements.txt").read_text()
    assert _compile(thoth, tmp_path, index.url, "--prefer-binary\nc\n", "-U").code == 0
    assert "c==1.0" in (tmp_path / "requirements.txt").read_text()
    assert _compile(thoth, tmp_path, index.url, "c\n", "-U", "--prefer-binary").code == 0
    assert "c==1.0" in (tmp_path / "requirements.txt").read_text()


def test_unsupported_option_in_requirements_in_is_refused_naming_the_line(index, tmp_path, thoth) -> None:
    index.add(Dist("b", "1.0"))
    result = _compile(thoth, tmp_path, index.url, "b\n--use-feature truststore\n")
    assert result.code != 0
    assert "--use-feature" in result.err and "line 2" in result.err and "not supported" in result.err


# --- item 1: the default cooldown says what it holds back; never downgrades an existing pin --------


def _fresh(days: float) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def test_cooldown_names_each_release_held_back(index, tmp_path, thoth) -> None:
    index.add(Dist("idna", "3.20"), upload_time=_fresh(30))
    index.add(Dist("idna", "3.21"), upload_time=_fresh(2))
    _pipfile(tmp_path, index.url, 'idna = "*"')
    result = thoth("lock", "-C", str(tmp_path))  # stable, the default
    assert result.code == 0, result.err
    assert _locked(tmp_path) == {"idna": "==3.20"}
    assert "idna 3.21 held back: uploaded 2 days ago, stable waits 7 days (cooldown); `--recommendation-type latest` takes it" in result.err
    assert thoth("lock", "--json", "-C", str(tmp_path)).json()["held_back"] == [  # type: ignore[index]
        "idna 3.21 held back: uploaded 2 days ago, stable waits 7 days (cooldown); `--recommendation-type latest` takes it"]


def test_cooldown_never_downgrades_what_the_existing_lock_pins(index, tmp_path, thoth) -> None:
    index.add(Dist("idna", "3.20"), upload_time=_fresh(30))
    index.add(Dist("idna", "3.21"), upload_time=_fresh(2))
    _pipfile(tmp_path, index.url, 'idna = "*"')
    assert thoth("lock", "--recommendation-type", "latest", "-C", str(tmp_path)).code == 0  # as pipenv would
    before = (tmp_path / "Pipfile.lock").read_text()
    assert _locked(tmp_path) == {"idna": "==3.21"}
    result = thoth("lock", "-C", str(tmp_path))  # stable over the existing lock: nothing moves
    assert result.code == 0, result.err
    assert (tmp_path / "Pipfile.lock").read_text() == before and "held back" not in result.err
    result = thoth("update", "--lock-only", "-C", str(tmp_path))  # not even an update goes down for a cooldown
    assert result.code == 0, result.err
    assert _locked(tmp_path) == {"idna": "==3.21"}


def test_env_shows_the_recommendation_type_in_force(tmp_path, thoth) -> None:
    result = thoth("env", "-C", str(tmp_path))
    assert result.code == 0, result.err
    line = next(line for line in (result.out + result.err).splitlines() if line.startswith("recommendation_type"))
    assert line.split()[1:] == ["stable", "default"]


# --- item 11: a lock made for another target says so ----------------------------------------------


def test_lock_for_another_python_says_which_target_it_was_made_for(index, tmp_path, thoth) -> None:
    index.add(Dist("app", "1.0"))
    _pipfile(tmp_path, index.url, 'app = "*"', '\n[requires]\npython_version = "3.11"\n')
    result = thoth("lock", "--python-version", "3.9", "--platform", "linux-aarch64", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert "locked for Python 3.9 on linux-aarch64 (--python-version 3.9, --platform linux-aarch64), not for this machine" in result.err
    assert "keeps the Pipfile's python_version 3.11" in result.err and "pipenv install --deploy" in result.err
    warnings = thoth("lock", "--json", "--python-version", "3.9", "-C", str(tmp_path)).json()["warnings"]  # type: ignore[index]
    assert any("locked for Python 3.9" in w["message"] for w in warnings)
    assert "not for this machine" not in thoth("lock", "-C", str(tmp_path)).err  # an ordinary lock says nothing


# --- item 10: lock keeps the existing pins (and names what it kept); update re-resolves as pipenv lock ---


def test_lock_keeps_existing_pins_and_names_them_update_moves_them(index, tmp_path, thoth) -> None:
    index.add(Dist("idna", "3.20"))
    _pipfile(tmp_path, index.url, 'idna = "*"')
    assert thoth("lock", "-C", str(tmp_path)).code == 0
    index.add(Dist("idna", "3.21"))
    result = thoth("lock", "--refresh", "-C", str(tmp_path))
    assert result.code == 0, result.err
    assert _locked(tmp_path) == {"idna": "==3.20"}  # pipenv lock would move; we keep (docs/differences.md)
    assert "idna 3.20 kept from the existing lock (3.21 is newer; `thoth-pip update idna` takes it)" in result.err
    result = thoth("update", "--lock-only", "--refresh", "-C", str(tmp_path))  # pipenv lock's answer
    assert result.code == 0, result.err
    assert _locked(tmp_path) == {"idna": "==3.21"} and "idna 3.20 -> 3.21" in result.err
    assert "kept from the existing lock" not in thoth("lock", "-C", str(tmp_path)).err
