"""Knowledge at lock time: read by package name, shown per package with unit and origin, pinned per project."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from packaging.version import Version

from tests.support.builder import Dist

from .repos import osv_all_zip, prescriptions_repo


def _project(path: Path, index, packages: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Pipfile").write_text(f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n{packages}\n')
    return path


def _locked(app: Path) -> dict[str, str]:
    return {n: e["version"].lstrip("=") for n, e in json.loads((app / "Pipfile.lock").read_text())["default"].items()}


def _synced(thoth, tmp_path: Path) -> Path:
    kd = tmp_path / "kd"
    synced = thoth("prescription", "sync", str(prescriptions_repo(tmp_path / "repo")), "--knowledge-dir", str(kd), "--json")
    assert synced.code == 0, synced.err
    assert "GizmoGitUnknownSizeWrap" in synced.err  # the skipped unit is named
    return kd


def test_lock_reads_only_the_units_of_the_packages_it_considers_and_says_what_they_said(index, tmp_path, thoth) -> None:
    for version in ("1.0", "2.0"):
        index.add(Dist("widget", version))
    index.add(Dist("gadget", "1.0"))
    index.add(Dist("gizmo", "1.0"))
    kd = _synced(thoth, tmp_path)
    app = _project(tmp_path / "app", index, 'widget = "*"\ngadget = "*"')
    locked = thoth("lock", "--json", "-C", str(app), "--knowledge-dir", str(kd))
    assert locked.code == 0, locked.err
    assert _locked(app) == {"widget": "1.0", "gadget": "1.0"}
    knowledge = locked.json()["knowledge"]
    assert knowledge["units_available"] == 8
    assert knowledge["units_read"] == 6  # gizmo is never considered, nor the image: their units stay in the store
    assert knowledge["sources"][0]["name"] == "prescriptions" and knowledge["digest"]
    widget = knowledge["by_package"]["widget"]
    held = [e for e in widget if e["message"].startswith("held back from newer releases: 2.0: refused: widget 2.0 loses data")]
    assert held and held[0]["unit"] == "WidgetTwoLosesDataSieve" and held[0]["origin"] == "synced"
    assert held[0]["path"] == "wi_/widget/sieve.yaml"
    gadget = {e["unit"]: e for e in knowledge["by_package"]["gadget"]}
    assert gadget["GadgetHostedWrap"]["link"] == "https://forge.example.invalid/gadget"
    assert gadget["GadgetOldWarningWrap"]["type"] == "WARNING"
    assert gadget["GadgetOneSizeWrap"]["message"].startswith("gadget 1.0 installs up to 12 KiB")  # read for the pinned 1.0


def test_advise_prints_the_knowledge_summary_and_its_warnings_in_full(index, tmp_path, thoth) -> None:
    index.add(Dist("gadget", "1.0"))
    kd = _synced(thoth, tmp_path)
    app = _project(tmp_path / "app", index, 'gadget = "*"')
    advised = thoth("advise", "-C", str(app), "--knowledge-dir", str(kd))
    assert advised.code == 0, advised.err
    assert "knowledge: 5 of 8 synced units read for 1 packages, 0 advisories (prescriptions unversioned; digest" in advised.err
    assert "knowledge said 3 things (2 INFO, 1 WARNING) from 3 units and advisories about 1 packages" in advised.err
    assert advised.err.count("gadget before 9 is unmaintained [prescription GadgetOldWarningWrap]") == 1  # in full, once


def test_plain_lock_prints_the_same_knowledge_summary_as_advise(index, tmp_path, thoth) -> None:
    index.add(Dist("gadget", "1.0"))
    kd = _synced(thoth, tmp_path)
    app = _project(tmp_path / "app", index, 'gadget = "*"')
    advised = thoth("advise", "-C", str(app), "--knowledge-dir", str(kd))
    (app / "Pipfile.lock").unlink()
    locked = thoth("lock", "-C", str(app), "--knowledge-dir", str(kd))
    assert locked.code == 0, locked.err
    summary = [line for line in advised.err.splitlines() if line.startswith(("knowledge:", "knowledge said", "warning: gadget:"))]
    assert len(summary) == 3 and summary == [line for line in locked.err.splitlines() if line.startswith(("knowledge:", "knowledge said", "warning: gadget:"))]
    assert locked.err.count("gadget before 9 is unmaintained") == 1  # summarised, its warning in full, once
    assert "Package 'gadget' is hosted on a forge" not in locked.err  # an INFO: counted, listed by advise --json
    plain = _project(tmp_path / "plain", index, 'gadget = "*"')
    quiet = thoth("lock", "-C", str(plain), "--knowledge-dir", str(tmp_path / "empty-kd"))
    assert quiet.code == 0 and "knowledge" not in quiet.err  # nothing known, nothing said


def test_an_advisory_in_the_shared_store_does_not_reach_a_project_pinned_to_its_own(index, tmp_path, thoth) -> None:
    index.add(Dist("widget", "1.0"))
    index.add(Dist("widget", "2.1"))  # PYSEC-9999-1 affects 2.0 up to 2.10
    assert thoth("advisories", "import", str(osv_all_zip(tmp_path / "all.zip"))).code == 0  # the shared user data dir
    shared = _project(tmp_path / "experiment", index, 'widget = "*"')
    pinned = _project(tmp_path / "service", index, 'widget = "*"')

    own = thoth("lock", "--json", "--recommendation-type", "security", "-C", str(pinned), "--knowledge-dir", str(tmp_path / "service-kd"))
    assert own.code == 0, own.err
    assert _locked(pinned) == {"widget": "2.1"}  # unchanged by knowledge the project did not choose
    assert own.json()["knowledge"]["advisories"] == 0

    affected = thoth("lock", "--json", "--recommendation-type", "security", "-C", str(shared))
    assert affected.code == 0, affected.err
    assert _locked(shared) == {"widget": "1.0"}
    [held] = [e for e in affected.json()["knowledge"]["by_package"]["widget"] if e["message"].startswith("held back")]
    assert "PYSEC-9999-1" in held["message"] and held["origin"] == "advisories"


def test_the_environment_variable_pins_the_store_too(index, tmp_path, thoth, monkeypatch) -> None:
    index.add(Dist("widget", "1.0"))
    index.add(Dist("widget", "2.1"))
    assert thoth("advisories", "import", str(osv_all_zip(tmp_path / "all.zip"))).code == 0
    monkeypatch.setenv("THOTH_PIP_KNOWLEDGE_DIR", str(tmp_path / "ci-kd"))
    app = _project(tmp_path / "app", index, 'widget = "*"')
    assert thoth("lock", "--recommendation-type", "security", "-C", str(app)).code == 0
    assert _locked(app) == {"widget": "2.1"}


def test_export_then_import_carries_the_whole_store(index, tmp_path, thoth) -> None:
    kd = _synced(thoth, tmp_path)
    assert thoth("advisories", "import", str(osv_all_zip(tmp_path / "all.zip")), "--knowledge-dir", str(kd)).code == 0
    assert thoth("prescription", "add", "--incompatible", "widget==1.0", "gadget<2", "--reason", "r", "--knowledge-dir", str(kd)).code == 0
    bundle = tmp_path / "knowledge.zip"
    exported = thoth("knowledge", "export", str(bundle), "--knowledge-dir", str(kd), "--json")
    assert exported.code == 0, exported.err
    assert exported.json() == {"sources": ["advisories", "prescriptions"], "units": 8, "advisories": 1, "user_units": 1, "wheel_abi": 0,
                               "skipped": 1}
    other = tmp_path / "other-kd"
    imported = thoth("knowledge", "import", str(bundle), "--knowledge-dir", str(other), "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["skipped"] == 1
    before = thoth("knowledge", "status", "--json", "--knowledge-dir", str(kd)).json()
    after = thoth("knowledge", "status", "--json", "--knowledge-dir", str(other)).json()
    for key in ("units", "packages", "package_independent_units", "advisories", "user_units", "digest", "skipped_units", "skipped_by_reason"):
        assert before[key] == after[key], key
    assert after["skipped_units"] == 1 and after["skipped_unknown"] == []
    assert [s["revision"] for s in before["sources"]] == [s["revision"] for s in after["sources"]]
    plain = thoth("knowledge", "status", "--knowledge-dir", str(other))
    assert "1 units skipped at sync (1 version is not PEP 440)" in plain.out + plain.err


def test_a_bundle_that_does_not_say_what_its_producer_skipped_says_unknown_not_0(tmp_path, thoth) -> None:
    kd = _synced(thoth, tmp_path)
    assert thoth("knowledge", "export", str(tmp_path / "k.zip"), "--knowledge-dir", str(kd)).code == 0
    document = json.loads(zipfile.ZipFile(tmp_path / "k.zip").read("knowledge.json"))
    del document["skipped_units"]  # a bundle made before they were carried
    with zipfile.ZipFile(tmp_path / "older.zip", "w") as zf:
        zf.writestr("knowledge.json", json.dumps(document, sort_keys=True))
    other = tmp_path / "other-kd"
    imported = thoth("knowledge", "import", str(tmp_path / "older.zip"), "--knowledge-dir", str(other))
    assert imported.code == 0 and "units skipped by the bundle's producer: unknown" in imported.out + imported.err
    status = thoth("knowledge", "status", "--json", "--knowledge-dir", str(other)).json()
    assert status["skipped_units"] is None and status["skipped_unknown"] == ["prescriptions"] and status["units"] == 8
    plain = thoth("knowledge", "status", "--knowledge-dir", str(other))
    assert "units skipped at sync: unknown for prescriptions" in plain.out + plain.err
    assert thoth("knowledge", "export", str(tmp_path / "again.zip"), "--knowledge-dir", str(other)).code == 0
    passed_on = thoth("knowledge", "import", str(tmp_path / "again.zip"), "--knowledge-dir", str(tmp_path / "third"), "--json")
    assert passed_on.json()["skipped"] is None  # passed on, still unknown
    assert thoth("knowledge", "status", "--json", "--knowledge-dir", str(tmp_path / "third")).json()["skipped_unknown"] == ["prescriptions"]
    synced = thoth("prescription", "sync", str(tmp_path / "repo"), "--knowledge-dir", str(other))  # a sync knows again
    assert synced.code == 0, synced.err
    assert thoth("knowledge", "status", "--json", "--knowledge-dir", str(other)).json()["skipped_units"] == 1


def test_a_bundle_that_is_not_one_is_refused(tmp_path, thoth) -> None:
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    refused = thoth("knowledge", "import", str(tmp_path / "x.zip"), "--knowledge-dir", str(tmp_path / "kd"))
    assert refused.code != 0 and "not a thoth-pip knowledge bundle" in refused.err


def test_no_version_is_lower_for_knowledge_without_a_justification_naming_what_held_it_back(index, tmp_path, thoth) -> None:
    for name, versions in (("widget", ("1.0", "1.5", "2.0", "2.1")), ("gadget", ("1.0", "1.1")), ("gizmo", ("1.0",))):
        for version in versions:
            index.add(Dist(name, version))
    kd = _synced(thoth, tmp_path)  # a sieve refuses widget >=2.0
    assert thoth("advisories", "import", str(osv_all_zip(tmp_path / "all.zip")), "--knowledge-dir", str(kd)).code == 0
    for kind in ("stable", "performance", "security", "latest"):
        plain = _project(tmp_path / f"plain-{kind}", index, 'widget = "*"\ngadget = "*"\ngizmo = "*"')
        known = _project(tmp_path / f"known-{kind}", index, 'widget = "*"\ngadget = "*"\ngizmo = "*"')
        args = ("lock", "--json", "--recommendation-type", kind)
        assert thoth(*args, "-C", str(plain), "--knowledge-dir", str(tmp_path / "empty-kd")).code == 0
        locked = thoth(*args, "-C", str(known), "--knowledge-dir", str(kd))
        assert locked.code == 0, locked.err
        without, with_knowledge = _locked(plain), _locked(known)
        lower = {n for n, v in with_knowledge.items() if Version(v) < Version(without[n])}
        assert lower == ({"widget"} if kind != "latest" else set()), (kind, without, with_knowledge)
        by_package = locked.json()["knowledge"]["by_package"]
        for name in lower:
            held = [e for e in by_package[name] if e["message"].startswith("held back from newer releases: ")]
            assert held, (kind, name, by_package.get(name))
            assert all(f"{v}: " in held[0]["message"] for v in ("2.1", "2.0")) and "refused" in held[0]["message"]


def test_a_bundle_whose_member_is_encrypted_is_refused_without_a_traceback(tmp_path, thoth) -> None:
    with zipfile.ZipFile(tmp_path / "k.zip", "w") as zf:
        zf.writestr("knowledge.json", "{}")
    data = bytearray((tmp_path / "k.zip").read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the central directory flags the member encrypted
    (tmp_path / "k.zip").write_bytes(bytes(data))
    refused = thoth("knowledge", "import", str(tmp_path / "k.zip"), "--knowledge-dir", str(tmp_path / "kd"))
    assert refused.code != 0 and "not a thoth-pip knowledge bundle" in refused.err and "Traceback" not in refused.err
