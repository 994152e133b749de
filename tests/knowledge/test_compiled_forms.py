"""What a store keeps compiled so a lock does not redo it: units' checked forms, advisories per package, count and fingerprint."""

from __future__ import annotations

import json
import os
from pathlib import Path

from packaging.version import Version

from micro_thoth.guidance.advisories import Advisory, PackageAdvisories
from micro_thoth.guidance.prescriptions import parse_unit
from micro_thoth.guidance.unit_form import LAYOUT, form_unit, form_units, unit_form
from micro_thoth.knowledge.advisories import AdvisoryDB
from micro_thoth.knowledge.bundle import export_bundle, import_bundle
from micro_thoth.knowledge.lookup import StoreUnits
from micro_thoth.knowledge.sources import open_tree
from micro_thoth.knowledge.store import KnowledgeStore
from micro_thoth.knowledge.sync import COMPILER, ORIGIN, sync_tree

from .repos import prescriptions_repo

NAMES = ["gadget", "gizmo", "widget"]


def _synced(tmp_path: Path) -> KnowledgeStore:
    store = KnowledgeStore.open(tmp_path / "kd")
    with open_tree(str(prescriptions_repo(tmp_path / "repo")), tmp_path / "kd", os.environ) as tree:
        sync_tree(store, tree)
    return store


def _read(store: KnowledgeStore) -> dict[str, object]:
    lookup = StoreUnits(store)
    units = [*lookup.units_for(NAMES), *lookup.units_in_stack(NAMES), *lookup.independent("images.example.invalid/app:v1"), *lookup.units_pinned([("gadget", "1")])]
    return {u.name: u for u in units}


def test_layout_names_the_fields_of_every_class_a_form_holds() -> None:
    # A field added to, removed from or renamed in a unit's classes changes LAYOUT: forms written before are then not
    # read. If this fails, bump COMPILER in knowledge/sync.py (every store recompiles at its next sync) and update both.
    assert (LAYOUT, COMPILER) == ("f1b2f28e7983", 5)


def test_every_synced_unit_keeps_a_form_that_builds_the_unit_its_document_parses_to(tmp_path: Path) -> None:
    with _synced(tmp_path) as store:
        rows = list(store.all_units())
        forms = {row[0]: row[1:] for row in store.connection.execute("SELECT unit, layout FROM unit_forms")}
        assert len(rows) == 8 and set(forms) == {row.id for row in rows} and {f[0] for f in forms.values()} == {LAYOUT}
        read = _read(store)
        assert set(read) == {row.name for row in rows}
        for row in rows:
            parsed = parse_unit(row.section, row.document, path=row.path, origin=ORIGIN, index=row.position)
            assert read[row.name] == parsed and repr(read[row.name]) == repr(parsed)
            assert form_unit(row.name, unit_form(parsed), origin=ORIGIN, path=row.path) == parsed


def test_a_form_that_does_not_decode_is_left_out_and_the_rest_are_built() -> None:
    good = unit_form(parse_unit("wraps", {"name": "W", "type": "wrap", "run": {"justification": [{"type": "INFO", "message": "m"}]}}, path="p"))
    bad = good._replace(run='{"@NoSuchClass":[]}')
    built = form_units([("W", good, "p"), ("X", bad, "p")], origin=ORIGIN)
    assert built[1] is None and built[0] is not None and built[0].run.justification[0].message == "m"


def test_a_store_an_older_thoth_pip_compiled_is_read_from_its_documents_then_recompiled(tmp_path: Path) -> None:
    with _synced(tmp_path) as store:
        expected = _read(store)
        with store.connection:  # as compiler 4 left it: no forms (or forms of another layout), its number on the source
            store.connection.execute("UPDATE unit_forms SET layout = 'older' WHERE unit % 2 = 0")
            store.connection.execute("DELETE FROM unit_forms WHERE unit % 2 = 1")
            details = {**store.sources()[0].details, "compiler": 4}
            store.connection.execute("UPDATE sources SET details = ?", (json.dumps(details),))
        assert _read(store) == expected
        with open_tree(str(tmp_path / "repo"), tmp_path / "kd", os.environ) as tree:
            summary = sync_tree(store, tree)
        assert summary.compiled_files == summary.files  # every file compiled afresh, unchanged as they are
        layouts = [row[0] for row in store.connection.execute("SELECT layout FROM unit_forms")]
        assert layouts == [LAYOUT] * 8 and _read(store) == expected


def test_a_bundle_import_compiles_the_forms_its_units_need(tmp_path: Path) -> None:
    with _synced(tmp_path) as store:
        expected = _read(store)
        export_bundle(store, {}, tmp_path / "k.zip")
    with KnowledgeStore.open(tmp_path / "other") as other:
        import_bundle(other, tmp_path / "k.zip", where="k.zip")
        assert other.connection.execute("SELECT COUNT(*) FROM unit_forms WHERE layout = ?", (LAYOUT,)).fetchone()[0] == 8
        assert _read(other) == expected


def _advisory(identifier: str, ranges=(), versions=()) -> Advisory:
    return Advisory(identifier, "widget", summary=identifier, ranges=tuple(tuple(r) for r in ranges), versions=tuple(versions))


ADVISORIES = [
    _advisory("PYSEC-1", [[("introduced", "0"), ("fixed", "1.2")]], ["1.0", "1.1"]),  # listed versions its range covers
    _advisory("PYSEC-2", [[("introduced", "1.1"), ("last_affected", "1.4")], [("introduced", "2.0"), ("fixed", "2.1")]]),
    _advisory("PYSEC-3", [], ["1.3", "2.5", "not-pep-440"]),  # listed only
    _advisory("PYSEC-4", [[("introduced", "1.0"), ("limit", "3.0")]], ["3.0.0", "0.9"]),  # 0.9 and 3.0 outside its range
]
VERSIONS = [Version(v) for v in ("3.1", "3.0", "2.5", "2.1", "2.0.1", "2.0", "1.4", "1.3", "1.2", "1.1", "1.0", "0.9", "0.1")]


def test_advisories_are_compiled_at_import_and_answer_as_their_records_do(tmp_path: Path) -> None:
    db = AdvisoryDB.open(tmp_path / "a.sqlite3")
    db.add(ADVISORIES)
    stored = json.loads(db.connection.execute("SELECT form FROM osv_forms WHERE package = 'widget'").fetchone()[0])
    assert [text for text, _indices in stored["listed"]] == ["0.9", "1.3", "2.5", "3.0.0"]  # what no range of theirs covers
    compiled, direct = db.concerning("widget"), PackageAdvisories(ADVISORIES)
    assert compiled._advisories is None  # nothing read yet
    assert compiled.indices_each(VERSIONS) == direct.indices_each(VERSIONS)
    assert compiled._advisories is None  # scoring releases reads no advisory
    for version in VERSIONS:
        assert compiled.affecting(version) == direct.affecting(version) == [a for a in ADVISORIES if a.affects(version)]
    assert compiled.affecting("not-pep-440") == [ADVISORIES[2]]
    db.close()


def test_an_advisory_form_of_another_version_or_none_is_compiled_from_the_records(tmp_path: Path) -> None:
    db = AdvisoryDB.open(tmp_path / "a.sqlite3")
    db.add(ADVISORIES)
    with db.connection:
        db.connection.execute("UPDATE osv_forms SET form = json_set(form, '$.version', 0)")
    db._memo.clear()
    assert [db.affected("widget", v) for v in VERSIONS] == [PackageAdvisories(ADVISORIES).affecting(v) for v in VERSIONS]
    with db.connection:
        db.connection.execute("DELETE FROM osv_forms")
    db._memo.clear()
    assert db.concerning("widget").affecting_each(VERSIONS) == PackageAdvisories(ADVISORIES).affecting_each(VERSIONS)
    db.close()


def test_the_count_and_fingerprint_kept_at_import_are_the_ones_the_records_give(tmp_path: Path) -> None:
    with _synced(tmp_path) as store:
        store.advisories.add(ADVISORIES[:2])
        store.advisories._forget("PYSEC-1")
        store.advisories.add(ADVISORIES[2:])
        kept = dict(store.connection.execute("SELECT key, value FROM summary").fetchall())
        assert (kept["advisories"], kept["advisory_fingerprint"]) == store.advisories._computed_summary()
        assert kept["advisories"] == 3 and kept["units"] == store.connection.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        forms = [row[0] for row in store.connection.execute("SELECT package FROM osv_forms")]
        assert forms == ["widget"] and store.advisories.concerning("widget").count == 3
        digest, totals = store.digest(), store.totals()
    with KnowledgeStore.open(tmp_path / "kd") as again:  # a fresh connection reads what was kept...
        assert (again.digest(), again.totals()) == (digest, totals)
        with again.connection:
            again.connection.execute("DELETE FROM summary")
    with KnowledgeStore.open(tmp_path / "kd") as older:  # ...and a store without it (an older thoth-pip's) computes the same
        assert (older.digest(), older.totals()) == (digest, totals)


def test_what_an_older_thoth_pip_writes_leaves_no_stale_form_count_or_fingerprint(tmp_path: Path) -> None:
    with _synced(tmp_path) as store:
        store.advisories.add(ADVISORIES[:2])
        with store.connection:  # writes that know nothing of forms or the summary
            store.connection.execute("INSERT INTO osv_advisories VALUES ('PYSEC-9', 'widget', NULL, ?)", (json.dumps(ADVISORIES[2].to_dict()),))
            dropped = store.connection.execute("SELECT id FROM units ORDER BY id LIMIT 1").fetchone()[0]
            store.connection.execute("DELETE FROM units WHERE id = ?", (dropped,))
        assert store.connection.execute("SELECT COUNT(*) FROM osv_forms").fetchone()[0] == 0
        assert store.connection.execute("SELECT COUNT(*) FROM unit_forms WHERE unit = ?", (dropped,)).fetchone()[0] == 0
        assert store.connection.execute("SELECT COUNT(*) FROM summary").fetchone()[0] == 0
    with KnowledgeStore.open(tmp_path / "kd") as again:
        assert again.totals() == (7, 3) and again.advisories.concerning("widget").count == 3
