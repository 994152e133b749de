"""The guidance commands end to end: advisories import, audit (exit 1 when vulnerable), prescription add/list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_thoth.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "osv"


def _lock(project: Path, version: str) -> None:
    project.mkdir(parents=True, exist_ok=True)
    lock = {
        "_meta": {
            "hash": {"sha256": "0" * 64},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.11"},
            "sources": [{"name": "main", "url": "https://index.example.invalid/simple", "verify_ssl": True}],
        },
        "default": {"fictional-http": {"hashes": ["sha256:" + "a" * 64], "index": "main", "version": f"=={version}"}},
        "develop": {"fictional-parser": {"hashes": ["sha256:" + "b" * 64], "index": "main", "version": "==3.0"}},
    }
    (project / "Pipfile.lock").write_text(json.dumps(lock, indent=4) + "\n")


def test_import_then_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advisories", "import", str(FIXTURES)]) == 0
    assert "imported 2 advisories" in capsys.readouterr().err
    _lock(tmp_path / "vulnerable", "1.4.0")
    assert main(["audit", "-C", str(tmp_path / "vulnerable")]) == 1
    out = capsys.readouterr()
    assert "GHSA-test-0001 (CVE-2099-0001)" in out.out and "1.4.2" in out.out
    assert main(["audit", "--json", "-C", str(tmp_path / "vulnerable")]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["vulnerable"] and data["findings"][0]["id"] == "GHSA-test-0001"
    _lock(tmp_path / "fixed", "1.4.2")
    assert main(["audit", "-C", str(tmp_path / "fixed")]) == 0
    assert "no known vulnerabilities" in capsys.readouterr().err


def test_audit_without_a_lock_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "-C", str(tmp_path)]) == 1
    assert "no lock to audit" in capsys.readouterr().err


def test_import_of_a_broken_file_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.json").write_text("[1, 2")
    assert main(["advisories", "import", str(tmp_path)]) == 1
    assert "broken.json" in capsys.readouterr().err


def test_prescription_add_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["prescription", "add", "--incompatible", "foo==1.2", "bar>=3", "--reason", "bar 3 broke foo"])
    assert code == 0
    assert "recorded" in capsys.readouterr().err
    assert main(["prescription", "list", "--json", "-C", str(tmp_path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = [u for u in listed if u["origin"] == "user"]
    assert len(mine) == 1 and mine[0]["type"] == "step.Group"
    assert any(u["origin"] == "bundled" for u in listed)


def test_prescription_add_needs_what_to_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prescription", "add", "--reason", "x"]) == 2
    assert "--incompatible" in capsys.readouterr().err


def test_invalid_project_prescription_is_reported_with_its_key_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    units = tmp_path / ".thoth" / "prescriptions"
    units.mkdir(parents=True)
    (units / "bad.yaml").write_text("units:\n  sieves:\n  - name: Oops\n    type: sieve\n    match: {package_version: {nme: x}}\n")
    assert main(["prescription", "list", "-C", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml: units.sieves[0].match.package_version.nme" in err and "'Oops'" in err
