"""End to end: ``thoth-pip sync`` / ``install --deploy`` from locks made by real pipenv, on the local index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.pipeline.conftest import thoth_subprocess, venv_import, venv_python


def test_deploy_installs_pipenv_made_lock(indexes, project, thoth, monkeypatch) -> None:
    app = project("pipenv-made/small")
    result = thoth("sync", "--deploy", "-C", str(app))
    assert result.code == 0, result.err
    assert "Installed" in result.err
    versions = venv_import(app, "import alpha, beta, gamma, delta; print(alpha.__version__, beta.__version__, gamma.__version__)")
    assert versions == "1.1 2.0 0.5"
    # sys_platform == 'win32' entry is not installed on linux; the dev package is not installed without --dev
    missing = subprocess.run([str(venv_python(app)), "-c", "import win_only"], capture_output=True)
    assert missing.returncode != 0
    assert subprocess.run([str(venv_python(app)), "-c", "import devtool"], capture_output=True).returncode != 0


def test_second_run_changes_nothing_and_says_so(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    one, _ = indexes
    before = len(one.requests)
    again = thoth("sync", "-C", str(app))
    assert again.code == 0
    assert "Nothing to do" in again.err
    assert len(one.requests) == before  # no network at all


def test_dev_and_categories(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "--dev", "-C", str(app)).code == 0
    assert venv_import(app, "import devtool; print(devtool.__version__)") == "4.2"
    docs = project("pipenv-made/custom-category")
    assert thoth("sync", "--categories", "docs", "-C", str(docs)).code == 0
    assert venv_import(docs, "import docgen; print(docgen.__version__)") == "7.0"


def test_index_pinning_never_asks_other_index(indexes, project, thoth) -> None:
    one, two = indexes
    app = project("pipenv-made/two-sources")
    lock = json.loads((app / "Pipfile.lock").read_text())
    assert lock["default"]["shadowed"]["index"] == "second"
    result = thoth("sync", "-C", str(app))
    assert result.code == 0, result.err
    assert venv_import(app, "import shadowed; print(shadowed.__version__)") == "1.0"
    assert not one.requested("/simple/shadowed/")  # 9.0 on the first index is never looked at
    assert two.requested("/simple/shadowed/")


def test_stale_lock_refused_under_deploy(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    pipfile = app / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace('devtool = "*"', 'devtool = "*"\ngamma = "*"'))
    result = thoth("sync", "--deploy", "-C", str(app))
    assert result.code == 1
    assert "out of date" in result.err and "Traceback" not in result.err
    assert not (app / ".venv" / "lib").exists() or not list((app / ".venv").rglob("alpha"))


def test_tampered_artifact_installs_nothing(indexes, project, thoth) -> None:
    one, _ = indexes
    one.tamper("beta-2.0-py3-none-any.whl")
    app = project("pipenv-made/small")
    result = thoth("sync", "-C", str(app))
    assert result.code == 1
    assert "hash mismatch" in result.err and "beta" in result.err
    assert not list((app / ".venv").rglob("alpha/__init__.py"))  # nothing installed, not even untampered ones
    assert not list((app / ".venv").rglob(".thoth-pip-staging-*"))  # what was unpacked meanwhile is gone


def test_dry_run_prints_plan_and_changes_nothing(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    result = thoth("sync", "--dry-run", "--json", "-C", str(app))
    assert result.code == 0, result.err
    plan = result.json()["plan"]
    assert "install alpha==1.1" in plan
    assert not list((app / ".venv").rglob("alpha/__init__.py"))


def test_replaces_installed_version(indexes, project, thoth) -> None:
    one, _ = indexes
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    lock = json.loads((app / "Pipfile.lock").read_text())
    from tests.support.builder import Dist

    (new,) = one.add(Dist("gamma", "0.6"))
    lock["default"]["gamma"] = {"hashes": [f"sha256:{new.sha256}"], "index": "local", "version": "==0.6"}
    (app / "Pipfile.lock").write_text(json.dumps(lock, indent=4, sort_keys=True) + "\n")
    result = thoth("sync", "-C", str(app))
    assert result.code == 0, result.err
    assert venv_import(app, "import gamma; print(gamma.__version__)") == "0.6"
    site = next((app / ".venv").rglob("site-packages"))
    assert [p.name for p in site.glob("gamma-*.dist-info")] == ["gamma-0.6.dist-info"]


def test_sdist_fallback_builds_and_installs(indexes, project, thoth, tmp_path) -> None:
    one, _ = indexes
    from tests.support.builder import Dist

    (sdist,) = one.add(Dist("onlysrc", "1.5"), wheel=False, sdist=True)
    app = tmp_path / "srcapp"
    app.mkdir()
    lock = {
        "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6, "requires": {},
                  "sources": [{"name": "local", "url": "${THOTH_TEST_INDEX}", "verify_ssl": False}]},
        "default": {"onlysrc": {"hashes": [f"sha256:{sdist.sha256}"], "index": "local", "version": "==1.5"}},
        "develop": {},
    }
    (app / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    result = thoth("sync", "-C", str(app))
    assert result.code == 0, result.err
    assert venv_import(app, "import onlysrc; print(onlysrc.__version__)") == "1.5"


def test_malformed_lock_is_one_paragraph(tmp_path, thoth) -> None:
    (tmp_path / "Pipfile.lock").write_text('{"_meta": {"pipfile-spec": 6}, "default": {"a": {"version": 3}}}')
    result = thoth("sync", "-C", str(tmp_path))
    assert result.code == 1
    assert "Pipfile.lock" in result.err and "default.a.version" in result.err
    assert "Traceback" not in result.err


def test_subprocess_entry_point(indexes, project, tmp_path) -> None:
    import os

    app = project("pipenv-made/small")
    proc = thoth_subprocess("sync", "--deploy", cwd=app, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "Installed" in proc.stderr


def test_system_installs_into_the_given_interpreter(indexes, project, thoth, tmp_path) -> None:
    scratch = tmp_path / "scratch-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(scratch)], check=True)
    app = project("pipenv-made/small")
    result = thoth("sync", "--system", "--python", str(scratch / "bin" / "python"), "-C", str(app))
    assert result.code == 0, result.err
    assert not (app / ".venv").exists()  # --system: no project environment
    out = subprocess.run([str(scratch / "bin" / "python"), "-c", "import alpha; print(alpha.__version__)"], capture_output=True, text=True)
    assert out.stdout.strip() == "1.1"


def test_externally_managed_system_python_is_refused(indexes, project, thoth, tmp_path, monkeypatch) -> None:
    from micro_thoth import install

    scratch = tmp_path / "distro-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(scratch)], check=True)
    monkeypatch.setattr(install.TargetEnvironment, "externally_managed", property(lambda self: "use apt"))
    app = project("pipenv-made/small")
    result = thoth("sync", "--system", "--python", str(scratch / "bin" / "python"), "-C", str(app))
    assert result.code == 1
    assert "externally managed" in result.err and "PIP_BREAK_SYSTEM_PACKAGES" in result.err
    monkeypatch.setenv("PIP_BREAK_SYSTEM_PACKAGES", "1")
    assert thoth("sync", "--system", "--python", str(scratch / "bin" / "python"), "-C", str(app)).code == 0


def test_dotenv_supplies_the_index_url_variable(indexes, project, thoth, monkeypatch) -> None:
    one, _ = indexes
    monkeypatch.delenv("THOTH_TEST_INDEX")
    app = project("pipenv-made/small")
    (app / ".env").write_text(f"THOTH_TEST_INDEX={one.url}\n")
    result = thoth("sync", "-C", str(app))
    assert result.code == 0, result.err
    assert venv_import(app, "import alpha; print(alpha.__version__)") == "1.1"


def _pyc_valid_for(source: Path, tag: str) -> bool:
    """The ``.pyc`` of ``source`` exists and its header names the source's time and size (so the
    interpreter uses it instead of compiling again)."""
    pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
    if not pyc.is_file():
        return False
    header, st = pyc.read_bytes()[:16], source.stat()
    return int.from_bytes(header[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF and int.from_bytes(header[12:16], "little") == st.st_size


def test_bytecode_is_compiled_once_kept_in_the_cache_and_placed(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    tag = sys.implementation.cache_tag
    site = next((app / ".venv" / "lib").glob("python*/site-packages"))
    installed = [p for p in (site / "alpha").rglob("*.py")]
    assert installed and all(_pyc_valid_for(p, tag) for p in installed)
    assert not list(site.glob(".thoth-pip-staging-*"))  # the staging directory is gone
    cache = Path(os.environ["THOTH_PIP_CACHE_DIR"])
    assert not (cache / "unpacked-v1").exists()  # clone/copy: every file is created once, in the environment
    archives = list((cache / "bytecode-v1").glob(f"*/*/{tag}.zip"))
    assert archives
    # a new environment gets the kept bytecode, valid for its own sources, and compiles nothing
    for archive in archives:
        os.utime(archive, (1, 1))
    subprocess.run(["rm", "-rf", str(app / ".venv")], check=True)
    result = thoth("sync", "-C", str(app), "-v")
    assert result.code == 0, result.err
    site = next((app / ".venv" / "lib").glob("python*/site-packages"))
    installed = [p for p in (site / "alpha").rglob("*.py")]
    assert installed and all(_pyc_valid_for(p, tag) for p in installed)
    assert all(archive.stat().st_mtime == 1 for archive in archives)  # read, not written again


def test_hardlink_mode_places_bytecode_compiled_in_the_cache_trees(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app), "--link-mode", "hardlink").code == 0
    tag = sys.implementation.cache_tag
    site = next((app / ".venv" / "lib").glob("python*/site-packages"))
    installed = [p for p in (site / "alpha").rglob("*.py")]
    assert installed and all(_pyc_valid_for(p, tag) for p in installed)
    cache = Path(os.environ["THOTH_PIP_CACHE_DIR"]) / "unpacked-v1"
    trees = [p for p in cache.glob("*/alpha/*.py")]
    assert trees and all(_pyc_valid_for(p, tag) for p in trees)
    assert all(p.stat().st_nlink > 1 for p in installed)
