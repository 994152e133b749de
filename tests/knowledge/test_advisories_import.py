"""``advisories import SOURCE``: OSV JSON or PyPA YAML, from a directory, a zip, a .tar.gz or git; nothing found is an error."""

from __future__ import annotations

from pathlib import Path

from .repos import git_repo, osv_all_zip, pypa_database, tar_gz


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
