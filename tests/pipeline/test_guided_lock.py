"""Guidance scenarios through the command line on a local index: what ``lock`` / ``advise`` pin, and what they say."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.builder import Dist

OSV = Path(__file__).resolve().parent.parent / "guidance" / "fixtures" / "osv"


def _project(path: Path, index, packages: str, *, extra_sources: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n{extra_sources}\n[packages]\n{packages}\n'
    )
    return path


def _lock(path: Path) -> dict:
    return json.loads((path / "Pipfile.lock").read_text())


def _locked(path: Path) -> dict[str, str]:
    return {name: entry["version"].lstrip("=") for name, entry in _lock(path)["default"].items()}


def _prescription(app: Path, name: str, text: str) -> None:
    directory = app / ".thoth" / "prescriptions"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)


# -- vulnerabilities --------------------------------------------------------------------------


def test_security_removes_a_vulnerable_version_after_advisories_import(index, tmp_path, thoth) -> None:
    index.add(Dist("fictional-parser", "1.0"))
    index.add(Dist("fictional-parser", "2.0.1"))  # PYSEC-test-0002: 2.0 up to 2.0.5 is affected
    app = _project(tmp_path / "app", index, 'fictional-parser = "*"')
    assert thoth("advisories", "import", str(OSV)).code == 0

    latest = thoth("lock", "--recommendation-type", "latest", "-C", str(app))
    assert latest.code == 0, latest.err
    assert _locked(app)["fictional-parser"] == "2.0.1"
    assert "fictional-parser 2.0.1: vulnerable, PYSEC-test-0002" in latest.err  # reported, not enforced

    secure = thoth("lock", "--upgrade", "--recommendation-type", "security", "--json", "-C", str(app))
    assert secure.code == 0, secure.err
    assert _locked(app)["fictional-parser"] == "1.0"
    assert secure.json()["warnings"] == []  # the chosen release is clean: nothing to warn about

    (app / "Pipfile.lock").unlink()  # advise keeps existing pins too (minimal churn)
    advised = thoth("advise", "--recommendation-type", "security", "--json", "-C", str(app))
    refused = advised.json()["refused"]
    assert refused[0]["package_name"] == "fictional-parser" and refused[0]["version"] == "2.0.1"
    assert "CVE-2099-0002" in json.dumps(refused)


def test_lock_and_install_print_the_warnings_of_the_chosen_packages(index, tmp_path, thoth) -> None:
    index.add(Dist("fictional-parser", "2.0.1"))
    app = _project(tmp_path / "app", index, 'fictional-parser = "*"\nreqeusts = "*"')
    index.add(Dist("reqeusts", "1.0"))
    assert thoth("advisories", "import", str(OSV)).code == 0
    locked = thoth("lock", "--json", "-C", str(app))  # stable: penalised, still the only release
    assert locked.code == 0, locked.err
    warnings = locked.json()["warnings"]
    assert any(w["type"] == "WARNING" and "PYSEC-test-0002" in w["message"] for w in warnings), warnings
    assert all(w["type"] != "INFO" for w in warnings)
    (app / "Pipfile.lock").unlink()
    installed = thoth("install", "--dry-run", "--json", "-C", str(app))
    assert installed.code == 0, installed.err
    assert any("PYSEC-test-0002" in w["message"] for w in installed.json()["lock"]["warnings"])
    assert installed.json()["lock"]["typos"] == ["'reqeusts' is not a popular project but looks like 'requests': did you mean 'requests'?"]
    assert not (app / "Pipfile.lock").exists()  # a dry run writes no lock
    plain = thoth("install", "-C", str(app))
    assert plain.code == 0, plain.err
    assert "fictional-parser 2.0.1: vulnerable (-0.5), PYSEC-test-0002" in plain.err
    assert "did you mean 'requests'?" in plain.err
    assert "recommendation type 'stable'" not in plain.err  # INFO lines stay out of the output


# -- knowledge gated on the runtime environment -----------------------------------------------

GPU_STEP = """\
units:
  steps:
  - name: Gpulib20OnV100
    type: step
    should_include:
      runtime_environments:
        hardware: [{gpu_models: ["Tesla V100"]}]
    match: {package_version: {name: gpulib, version: "==2.0"}}
    run:
      score: 0.5
      justification: [{type: INFO, message: gpulib 2.0 has the kernels for V100}]
"""


def test_runtime_environment_gated_unit_applies_only_when_the_gpu_matches(index, tmp_path, thoth) -> None:
    index.add(Dist("gpulib", "2.0"))
    index.add(Dist("gpulib", "2.1"))
    app = _project(tmp_path / "app", index, 'gpulib = "*"')
    _prescription(app, "gpu.yaml", GPU_STEP)
    assert thoth("lock", "-C", str(app)).code == 0
    assert _locked(app)["gpulib"] == "2.1"  # no GPU here (or not this one): the unit is not included
    assert thoth("lock", "--upgrade", "--gpu-model", "Tesla V100", "-C", str(app)).code == 0
    assert _locked(app)["gpulib"] == "2.0"
    assert thoth("lock", "--upgrade", "--gpu-model", "Tesla T4", "-C", str(app)).code == 0
    assert _locked(app)["gpulib"] == "2.1"
    (app / ".thoth.yaml").write_text(
        "runtime_environments:\n- name: training\n  hardware: {gpu_model: Tesla V100}\n  python_version: null\n"
    )
    result = thoth("lock", "--upgrade", "-C", str(app))
    assert result.code == 0, result.err
    assert _locked(app)["gpulib"] == "2.0"


# -- prescriptions that change what can be resolved -------------------------------------------

OVERRIDE = """\
units:
  dependency_overrides:
  - name: OldlibRunsOnNewNumpy
    type: dependency_override
    match: {package_version: {name: oldlib, version: "<3"}}
    run:
      override: {name: numpy, specifier: ">=1.20"}
"""


def test_dependency_override_resolves_an_otherwise_unsatisfiable_stack(index, tmp_path, thoth) -> None:
    index.add(Dist("oldlib", "2.0", requires_dist=["numpy<1.20"]))
    index.add(Dist("numpy", "1.19.5"))
    index.add(Dist("numpy", "1.26.0"))
    app = _project(tmp_path / "app", index, 'oldlib = "*"\nnumpy = ">=1.26"')
    refused = thoth("lock", "-C", str(app))
    assert refused.code != 0
    assert not (app / "Pipfile.lock").exists()
    _prescription(app, "override.yaml", OVERRIDE)
    fixed = thoth("advise", "--json", "-C", str(app))
    assert fixed.code == 0, fixed.err
    assert _locked(app) == {"oldlib": "2.0", "numpy": "1.26.0"}
    assert "requirement 'numpy<1.20' replaced by 'numpy>=1.20' [prescription OldlibRunsOnNewNumpy]" in fixed.out


def test_user_recorded_incompatibility_is_honoured_by_a_later_lock(index, tmp_path, thoth) -> None:
    for version in ("1.0", "2.0"):
        index.add(Dist("widget", version))
    for version in ("2.0", "3.0"):
        index.add(Dist("gadget", version))
    app = _project(tmp_path / "app", index, 'widget = "*"\ngadget = "*"')
    assert thoth("lock", "-C", str(app)).code == 0
    assert _locked(app) == {"widget": "2.0", "gadget": "3.0"}
    recorded = thoth("prescription", "add", "--incompatible", "widget==2.0", "gadget>=3", "--reason", "gadget 3 crashes widget 2")
    assert recorded.code == 0, recorded.err
    for rtype in ("latest", "stable"):  # the user's own finding applies under every type
        result = thoth("lock", "--upgrade", "--recommendation-type", rtype, "-C", str(app))
        assert result.code == 0, result.err
        pins = _locked(app)
        assert not (pins["widget"] == "2.0" and pins["gadget"] == "3.0"), (rtype, pins)


def test_deny_license_refuses_a_release_and_says_why(index, tmp_path, thoth) -> None:
    index.add(Dist("relicensed", "1.0", license="MIT"))
    index.add(Dist("relicensed", "2.0", license="GPL-3.0-only"))
    app = _project(tmp_path / "app", index, 'relicensed = "*"')
    result = thoth("advise", "--deny-license", "GPL-3.0-only", "--json", "-C", str(app))
    assert result.code == 0, result.err
    assert _locked(app)["relicensed"] == "1.0"
    refused = result.json()["refused"]
    assert refused[0]["version"] == "2.0"
    assert "licence 'GPL-3.0-only' is denied" in refused[0]["justification"][0]["message"]


# -- pseudonyms -------------------------------------------------------------------------------

PSEUDONYM = """\
units:
  pseudonyms:
  - name: OptimisedTensorflowOnV100
    type: pseudonym
    should_include:
      runtime_environments:
        hardware: [{{gpu_models: ["Tesla V100"]}}]
    match: {{package_version: {{name: tensorflow}}}}
    run:
      yield:
        yield_matched_version: true
        package_version: {{name: tensorflow-v100, index_url: "{url}"}}
"""


def test_pseudonym_substitutes_a_package_from_its_index_on_matching_hardware(index, index_factory, tmp_path, thoth) -> None:
    optimised = index_factory()
    index.add(Dist("app", "1.0", requires_dist=["tensorflow>=2"]))
    index.add(Dist("tensorflow", "2.1"))
    optimised.add(Dist("tensorflow-v100", "2.1", requires_dist=["cudalib"]))
    optimised.add(Dist("cudalib", "12.0"))
    index.add(Dist("tensorflow-v100", "9.9"))  # the same name elsewhere is never used: the unit names its index
    extra = f'\n[[source]]\nurl = "{optimised.url}"\nverify_ssl = false\nname = "optimised"\n'
    app = _project(tmp_path / "app", index, 'app = "*"', extra_sources=extra)
    _prescription(app, "pseudonym.yaml", PSEUDONYM.format(url=optimised.url))

    assert thoth("lock", "-C", str(app)).code == 0
    assert _locked(app) == {"app": "1.0", "tensorflow": "2.1"}  # not that machine: no substitution

    (app / "Pipfile.lock").unlink()
    advised = thoth("advise", "--gpu-model", "Tesla V100", "--json", "-C", str(app))
    assert advised.code == 0, advised.err
    lock = _lock(app)["default"]
    assert {n: e["version"] for n, e in lock.items()} == {"app": "==1.0", "tensorflow-v100": "==2.1", "cudalib": "==12.0"}
    assert lock["tensorflow-v100"]["index"] == "optimised" and lock["tensorflow-v100"]["hashes"]
    said = json.dumps(advised.json()["packages"])
    assert "tensorflow-v100 2.1 from optimised stands in for tensorflow 2.1 [prescription OptimisedTensorflowOnV100]" in said


# -- determinism ------------------------------------------------------------------------------


def test_exclude_newer_and_recommendation_type_give_the_same_lock_every_time(index, tmp_path, thoth) -> None:
    index.add(Dist("steady", "1.0"), upload_time="2026-01-01T00:00:00Z")
    index.add(Dist("steady", "1.1"), upload_time="2026-03-01T00:00:00Z")  # 4 days before the snapshot: cooling down
    index.add(Dist("steady", "1.2"), upload_time="2026-06-01T00:00:00Z")  # after the snapshot: invisible
    app = _project(tmp_path / "app", index, 'steady = "*"')
    texts = []
    for _ in range(2):
        result = thoth("lock", "--upgrade", "--exclude-newer", "2026-03-05", "--recommendation-type", "stable", "-C", str(app))
        assert result.code == 0, result.err
        texts.append((app / "Pipfile.lock").read_text())
    assert texts[0] == texts[1]
    assert _locked(app)["steady"] == "1.0"
    assert thoth("lock", "--upgrade", "--exclude-newer", "2026-03-05", "--recommendation-type", "latest", "-C", str(app)).code == 0
    assert _locked(app)["steady"] == "1.1"


BOOTS = """\
units:
  boots:
  - name: LegacylibIsRetired
    type: boot
    match: {package_name: legacylib}
    run:
      not_acceptable: legacylib is retired; depend on newlib instead
  - name: WidgetNeedsACacheDir
    type: boot
    match: {package_name: widget}
    run:
      stack_info: [{type: WARNING, message: widget needs WIDGET_CACHE set at run time}]
"""


def test_boots_run_before_resolution_and_are_reported(index, tmp_path, thoth) -> None:
    index.add(Dist("widget", "1.0"))
    index.add(Dist("legacylib", "1.0"))
    app = _project(tmp_path / "app", index, 'widget = "*"')
    _prescription(app, "boots.yaml", BOOTS)
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    assert "widget needs WIDGET_CACHE set at run time" in result.err
    assert "legacylib" not in result.err  # a boot for a package not requested stays silent
    _project(app, index, 'widget = "*"\nlegacylib = "*"')
    stopped = thoth("lock", "-C", str(app))
    assert stopped.code != 0
    assert "legacylib is retired; depend on newlib instead [prescription LegacylibIsRetired]" in stopped.err
    assert _locked(app) == {"widget": "1.0"}  # the lock was left as it was


def test_pip_compile_mode_applies_the_same_guidance(index, tmp_path, thoth) -> None:
    for version in ("1.0", "2.0"):
        index.add(Dist("widget", version))
    for version in ("2.0", "3.0"):
        index.add(Dist("gadget", version))
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.in").write_text(f"-i {index.url}\nwidget\ngadget\n")
    _prescription(app, "boots.yaml", BOOTS)
    assert thoth("prescription", "add", "--incompatible", "widget==2.0", "gadget>=3", "--reason", "crash").code == 0
    result = thoth("lock", "-r", str(app / "requirements.in"), "--json", "-C", str(app))
    assert result.code == 0, result.err
    pinned = dict(line.split(" ")[0].split("==") for line in (app / "requirements.txt").read_text().splitlines() if "==" in line)
    assert not (pinned["widget"] == "2.0" and pinned["gadget"] == "3.0"), pinned
    assert "widget needs WIDGET_CACHE set at run time" in json.dumps(result.json()["warnings"])
