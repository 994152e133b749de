"""``advisories import SOURCE``: OSV JSON or PyPA YAML, from a directory, a zip, a .tar.gz or git; nothing found is an error."""

from __future__ import annotations

from pathlib import Path

from micro_thoth.knowledge.advisories import LEGACY_FILE, AdvisoryDB
from micro_thoth.pipeline.knowledge_store import open_store
from tests.support.builder import Dist

from .repos import git_repo, osv_all_zip, pypa_database, tar_gz

OSV = Path(__file__).resolve().parent.parent / "guidance" / "fixtures" / "osv"


def _known(thoth, *args: str) -> dict:
    imported = thoth("advisories", "import", *args, "--json")
    assert imported.code == 0, imported.err
    return imported.json()


def _affected(thoth, app: Path, kd: Path, version: str) -> bool:
    lock = app / "Pipfile.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(
        '{"_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6, "requires": {}, "sources": []},'
        f' "default": {{"widget": {{"hashes": ["sha256:{"a" * 64}"], "version": "=={version}"}}}}, "develop": {{}}}}\n'
    )
    return thoth("audit", "-C", str(app), "--knowledge-dir", str(kd)).code == 1


def test_the_pypa_layout_in_yaml_imports(tmp_path: Path, thoth) -> None:
    database = pypa_database(tmp_path / "advisory-database")
    kd = tmp_path / "kd"
    found = _known(thoth, str(database), "--knowledge-dir", str(kd))
    assert (found["files"], found["advisories"], found["packages"]) == (1, 1, 1)  # the workflow file is not a record
    assert _affected(thoth, tmp_path / "app", kd, "2.5")  # "fixed: 2.10" stays the version 2.10, not the number 2.1
    assert not _affected(thoth, tmp_path / "app", kd, "2.10")


def test_osv_all_zip_tar_gz_and_git_import(tmp_path: Path, thoth) -> None:
    assert _known(thoth, str(osv_all_zip(tmp_path / "all.zip")), "--knowledge-dir", str(tmp_path / "a"))["advisories"] == 1
    database = pypa_database(tmp_path / "advisory-database")
    assert _known(thoth, str(tar_gz(database, tmp_path / "db.tar.gz")), "--knowledge-dir", str(tmp_path / "b"))["advisories"] == 1
    git_repo(database)
    assert _known(thoth, f"file://{database}", "--knowledge-dir", str(tmp_path / "c"))["advisories"] == 1
    status = thoth("knowledge", "status", "--json", "--knowledge-dir", str(tmp_path / "c")).json()
    [source] = status["sources"]
    assert source["name"] == "advisories" and source["kind"] == "osv" and len(source["revision"]) == 40


def test_zero_records_is_an_error_saying_what_was_looked_for(tmp_path: Path, thoth) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    (tmp_path / "empty" / "notes" / "README.md").write_text("no records here\n")
    imported = thoth("advisories", "import", str(tmp_path / "empty"), "--knowledge-dir", str(tmp_path / "kd"))
    assert imported.code != 0
    assert "no OSV records found" in imported.err and "*.yaml" in imported.err and "*.json" in imported.err


def _legacy(data: Path) -> Path:
    """An ``advisories-v1.sqlite3`` as thoth-pip kept it in the data dir before the compiled store (the same table)."""
    legacy = data / LEGACY_FILE
    database = AdvisoryDB.open(legacy)
    database.import_path(OSV)
    database.close()
    return legacy


def test_advisories_of_an_older_thoth_pip_join_the_shared_store_once(index, tmp_path: Path, thoth, monkeypatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(data))
    legacy = _legacy(data)
    index.add(Dist("fictional-parser", "2.0.1"))  # PYSEC-test-0002: 2.0 up to 2.0.5 is affected
    app = tmp_path / "app"
    app.mkdir()
    (app / "Pipfile").write_text(f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nfictional-parser = "*"\n')

    first = thoth("lock", "--recommendation-type", "latest", "-C", str(app))
    assert first.code == 0, first.err
    assert f"imported 2 advisories from {legacy}" in first.err and "advisories-v1.sqlite3.migrated" in first.err
    assert "fictional-parser 2.0.1: vulnerable, PYSEC-test-0002" in first.err  # the old advisories speak again
    assert not legacy.exists() and (data / "advisories-v1.sqlite3.migrated").is_file()
    again = thoth("lock", "--recommendation-type", "latest", "-C", str(app))
    assert again.code == 0 and "imported" not in again.err and "PYSEC-test-0002" in again.err  # once
    [source] = thoth("knowledge", "status", "--json").json()["sources"]
    assert source["name"] == "advisories" and source["migrated_from"] == str(legacy)


def test_a_pinned_knowledge_dir_never_takes_the_old_shared_advisories(tmp_path: Path, thoth, monkeypatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("THOTH_PIP_DATA_DIR", str(data))
    legacy = _legacy(data)
    status = thoth("knowledge", "status", "--json", "--knowledge-dir", str(tmp_path / "kd")).json()
    assert status["advisories"] == 0 and legacy.is_file()  # left for the shared store
    assert thoth("knowledge", "status", "--json").json()["advisories"] == 2 and not legacy.exists()


def test_an_unreadable_old_database_is_named_with_the_way_out(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / LEGACY_FILE).write_bytes(b"not a database, but a file an older thoth-pip might have left half-written")
    said: list[str] = []
    with open_store({"THOTH_PIP_DATA_DIR": str(data)}, say=said.append) as store:
        assert store.advisories.count() == 0
    assert "could not be read" in said[0] and "thoth-pip advisories import PATH" in said[0]
