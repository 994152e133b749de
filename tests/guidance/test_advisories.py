"""OSV import (directory and zip), range evaluation, the SQLite table, and the audit of a lock."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from micro_thoth.errors import InputFileError
from micro_thoth.guidance.advisories import Advisory, PackageAdvisories, audit, parse_osv
from micro_thoth.knowledge.advisories import AdvisoryDB
from micro_thoth.models import Lock, Pin

FIXTURES = Path(__file__).parent / "fixtures" / "osv"


@pytest.fixture
def db(tmp_path: Path) -> AdvisoryDB:
    database = AdvisoryDB.open(tmp_path / "knowledge.sqlite3")
    yield database
    database.close()


def test_import_directory_keeps_pypi_records_only(db: AdvisoryDB) -> None:
    summary = db.import_path(FIXTURES)
    assert (summary.files, summary.advisories, summary.skipped) == (4, 2, 2)
    assert db.count() == 2


def test_import_zip_gives_the_same_answers(tmp_path: Path, db: AdvisoryDB) -> None:
    archive = tmp_path / "osv-pypi.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for file in FIXTURES.glob("*.json"):
            out.write(file, f"pypi/{file.name}")
    db.import_path(archive)
    assert [a.id for a in db.affected("fictional-http", "1.4.1")] == ["GHSA-test-0001"]


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("fictional-http", "0.9", []),
        ("fictional-http", "1.0", ["GHSA-test-0001"]),
        ("Fictional.HTTP", "1.3.7", ["GHSA-test-0001"]),  # in the range, not in the versions list
        ("fictional-http", "1.4.2", []),
        ("fictional-parser", "0.1", ["PYSEC-test-0002"]),
        ("fictional-parser", "0.9.3", ["PYSEC-test-0002"]),
        ("fictional-parser", "0.9.4", []),
        ("fictional-parser", "2.0.4", ["PYSEC-test-0002"]),
        ("fictional-parser", "2.0.5", []),
        ("unrelated", "1.0", []),
    ],
)
def test_affected_evaluates_ranges(db: AdvisoryDB, name: str, version: str, expected: list[str]) -> None:
    db.import_path(FIXTURES)
    assert [a.id for a in db.affected(name, Version(version))] == expected


def test_advisory_keeps_ids_links_and_fixes(db: AdvisoryDB) -> None:
    db.import_path(FIXTURES)
    (advisory,) = db.affected("fictional-http", "1.1")
    assert advisory.cve_ids == ("CVE-2099-0001",)
    assert advisory.fixed_versions == ("1.4.2",)
    assert advisory.title() == "GHSA-test-0001 (CVE-2099-0001)"
    assert advisory.severity[0] == "HIGH"
    assert advisory.link.endswith("/GHSA-test-0001")


def test_reimport_replaces_a_record(tmp_path: Path, db: AdvisoryDB) -> None:
    db.import_path(FIXTURES)
    record = json.loads((FIXTURES / "GHSA-test-0001.json").read_text())
    record["affected"][0]["ranges"][0]["events"][1] = {"fixed": "1.1"}
    record["affected"][0]["versions"] = ["1.0"]
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "GHSA-test-0001.json").write_text(json.dumps(record))
    db.import_path(newer)
    assert db.affected("fictional-http", "1.3") == []
    assert db.count() == 2


def test_invalid_json_names_the_file(tmp_path: Path, db: AdvisoryDB) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputFileError) as info:
        db.import_path(tmp_path)
    assert info.value.path == str(tmp_path / "bad.json")


def test_not_a_record_is_an_input_error() -> None:
    with pytest.raises(InputFileError):
        parse_osv(["no", "id"], path="x.json")


def test_round_trip_through_dict() -> None:
    (advisory,) = parse_osv(json.loads((FIXTURES / "PYSEC-test-0002.json").read_text()), path="p")
    assert Advisory.from_dict(advisory.to_dict()) == advisory
    assert len(advisory.ranges) == 2  # the GIT range is not evaluated


def test_audit_reports_vulnerable_pins(db: AdvisoryDB) -> None:
    db.import_path(FIXTURES)
    lock = Lock(
        categories={
            "default": (Pin("fictional-http", "==1.4.0"), Pin("fictional-parser", "==1.0")),
            "develop": (Pin("fictional-parser", "==2.0.1"),),
        }
    )
    findings = audit(lock, db)
    assert [(f.package, f.version, f.category, f.advisory.id) for f in findings] == [
        ("fictional-http", "1.4.0", "default", "GHSA-test-0001"),
    ]
    assert findings[0].to_dict()["fixed_in"] == ["1.4.2"]
    develop_only = audit(lock, db, categories=["develop"])
    assert [f.advisory.id for f in develop_only] == ["PYSEC-test-0002"]


def _ranged(ident: str, *ranges: tuple[tuple[str, str], ...], versions: tuple[str, ...] = ()) -> Advisory:
    return Advisory(id=ident, package="fictional-http", ranges=ranges, versions=versions)  # type: ignore[arg-type]


def test_package_advisories_answer_as_each_advisory_walks_its_events() -> None:
    """The ranked evaluation of a package's advisories agrees with each advisory's own OSV walk, bound by bound."""
    advisories = [
        _ranged("A", (("introduced", "0"), ("fixed", "1.2"))),
        _ranged("B", (("introduced", "1.0"), ("last_affected", "1.4.1")), (("introduced", "2.0rc1"), ("limit", "2.1"))),
        _ranged("C", (("introduced", "1.2"),), versions=("0.5", "3.0.post1")),
        _ranged("D", (("introduced", "1.4.1"), ("fixed", "1.4.1.post1"), ("introduced", "1.5"), ("fixed", "1.6.dev0"))),
        _ranged("E", (("fixed", "1.0"), ("introduced", "1.1.0")), versions=("not-pep-440",)),
        _ranged("F", (("introduced", "1.1.0"), ("fixed", "1.1"))),  # the same version written twice
    ]
    compiled = PackageAdvisories(advisories)
    texts = ["0", "0.5", "0.9", "1.0", "1.0.0", "1.1", "1.2.dev1", "1.2", "1.3", "1.4.1", "1.4.1.post1", "1.4.2",
             "1.5", "1.6.dev0", "1.6", "2.0a1", "2.0rc1", "2.0", "2.1", "3.0", "3.0.post1", "9"]
    for text in texts:
        version = Version(text)
        expected = [a.id for a in advisories if a.affects(version)]
        assert [a.id for a in compiled.affecting(version)] == expected, text
        assert [a.id for a in compiled.affecting(text)] == expected, text  # asked again (and by text): the same answer
    newest_first = sorted((Version(t) for t in texts), reverse=True)
    for order in (newest_first, newest_first[::-1]):  # one walk down the bounds, or one bisection each
        assert compiled.affecting_each(order) == [compiled.affecting(v) for v in order]
    assert [a.id for a in compiled.affecting("not-pep-440")] == ["E"]
    assert [a.id for a in compiled.affecting(Version("1.4.1"))] == ["B", "C", "D", "E"]  # a hand-checked answer
    assert PackageAdvisories(()).affecting("1.0") == []
