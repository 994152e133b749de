"""Dependency Monkey end to end: a release that breaks with one release of its dependency is found and avoided."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from micro_thoth.knowledge.prescriptions import load_file
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

BREAKS = "import dep\nif dep.__version__ == '1.5':\n    raise ImportError('app 2.0 does not work with dep 1.5')\n"
TEST = "python -c 'import app'"


@pytest.fixture
def breaking(index: LocalIndex) -> LocalIndex:
    """app 2.0 raises on import with dep 1.5 (and only then); app 1.0 works with anything."""
    for version in ("1.3", "1.4", "1.5"):
        index.add(Dist("dep", version))
    index.add(Dist("app", "1.0", requires_dist=["dep>=1.3"]))
    index.add(Dist("app", "2.0", requires_dist=["dep>=1.3"], files={"app/__init__.py": BREAKS}))
    return index


def _project(tmp_path: Path, index: LocalIndex) -> Path:
    app = tmp_path / "proj"
    app.mkdir()
    (app / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\napp = "*"\n'
    )
    return app


def test_bisect_finds_the_pair_and_the_next_lock_avoids_it(breaking, tmp_path, thoth) -> None:
    proj = _project(tmp_path, breaking)
    result = thoth("monkey", "-C", str(proj), "--test", TEST, "--strategy", "bisect", "--budget", "6", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert [(f["package"], f["version"], f["partner"]) for f in report["findings"]] == [
        ("app", "2.0", {"package": "dep", "version": "1.5"})]
    assert len(report["runs"]) <= 6 and report["failed"] >= 1 and report["passed"] >= 1
    (written,) = [Path(p) for p in report["prescriptions"]]
    assert written.parent == proj / ".thoth" / "prescriptions" and written.name.startswith("monkey-")
    (unit,) = load_file(written, origin="project")
    said = yaml.safe_load(written.read_text())["units"]["steps"][0]["run"]["justification"][0]["message"]
    assert unit.type == "step.Group" and TEST in said and "does not work with dep 1.5" in said
    html = Path(report["html"]).read_text()
    assert "class='fail'" in html and "class='pass'" in html and "app 2.0 does not work" in html
    lock = thoth("lock", "-C", str(proj))
    assert lock.code == 0, lock.err
    pins = {n: e["version"] for n, e in json.loads((proj / "Pipfile.lock").read_text())["default"].items()}
    assert (pins["app"], pins["dep"]) != ("==2.0", "==1.5")
    assert "Dependency Monkey" in lock.err  # the lock says why


def test_results_are_kept_and_reused(breaking, tmp_path, thoth) -> None:
    proj = _project(tmp_path, breaking)
    first = thoth("monkey", "-C", str(proj), "--test", TEST, "--strategy", "newest", "--json")
    assert first.code == 0, first.err
    (run,) = first.json()["runs"]
    assert run["passed"] is False and "does not work with dep 1.5" in run["excerpt"] and not run["reused"]
    again = thoth("monkey", "-C", str(proj), "--test", TEST, "--strategy", "sample", "--budget", "3", "--jobs", "2", "--json")
    runs = again.json()["runs"]
    assert runs[0]["stack"] == run["stack"] and runs[0]["reused"] is True  # not tested twice
    assert len({json.dumps(r["stack"], sort_keys=True) for r in runs}) == len(runs) == 4  # 1 kept + 3 distinct new


def test_plain_table_and_single_bad_release_becomes_a_sieve(index, tmp_path, thoth) -> None:
    index.add(Dist("dep", "1.0"))
    index.add(Dist("app", "1.0", requires_dist=["dep"]))
    index.add(Dist("app", "2.0", requires_dist=["dep"], files={"app/__init__.py": "raise ImportError('broken')\n"}))
    proj = _project(tmp_path, index)
    result = thoth("monkey", "-C", str(proj), "--test", TEST, "--budget", "4")
    assert result.code == 0, result.err
    assert "FAIL" in result.out and "pass" in result.out
    assert "app==2.0 breaks" in result.err
    (written,) = (proj / ".thoth" / "prescriptions").glob("monkey-*.yaml")
    assert load_file(written, origin="project")[0].type == "sieve"


def test_bad_input_is_refused_clearly(breaking, tmp_path, thoth) -> None:
    proj = _project(tmp_path, breaking)
    result = thoth("monkey", "-C", str(proj), "--test", " ", "--json")
    assert result.code != 0 and "--test" in (result.err + result.out)
    assert not (proj / ".thoth").exists()
