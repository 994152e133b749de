"""Prescription units: parsing (strict, with key paths), should_include on machines, loading, incompatibilities."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from micro_thoth.errors import InputFileError, UsageError
from micro_thoth.guidance.prescriptions import (
    MachineFacts,
    UnitContext,
    parse_units,
    select_units,
)
from micro_thoth.knowledge.prescriptions import (
    add_incompatibility,
    backend_manifest,
    bundled_dir,
    load_path,
    load_prescriptions,
    replace_backend_units,
    user_dir,
)

EVERY_SECTION = """
units:
  boots:
  - name: NoGPUBoot
    type: boot
    should_include:
      adviser_pipeline: true
      runtime_environments:
        cuda_version: ">=0.0"
        hardware:
        - gpu_models: [null]
    run:
      stack_info:
      - {type: WARNING, message: CUDA without a GPU, link: no_gpu}
  pseudonyms:
  - name: IntelTensorflowPseudonym
    type: pseudonym
    should_include: {adviser_pipeline: true}
    match:
      package_version: {name: tensorflow, version: ">=2.0"}
    run:
      yield:
        package_version: {name: intel-tensorflow, locked_version: "==2.5.0"}
  sieves:
  - name: BrokenSieve
    type: sieve
    should_include: {adviser_pipeline: true}
    match:
      package_version: {name: Foo_Bar, version: "==1.2.0"}
  - name: SkipSieve
    type: sieve.SkipPackage
    should_include: {adviser_pipeline: true}
    match: {package_name: enum34}
  steps:
  - name: Avx2Step
    type: step
    should_include:
      adviser_pipeline: true
      recommendation_types: [performance, stable]
      runtime_environments:
        hardware: {cpu_flags: [avx2]}
    match:
      package_version:
        name: fast
        index_url: {not: "https://user:secret@mirror.example.invalid/simple/"}
    run:
      score: 0.3
      justification:
      - {type: INFO, message: built for AVX2, link: "https://example.invalid/avx2"}
  strides:
  - name: ComboStride
    type: stride
    should_include: {adviser_pipeline: true}
    match:
      state:
        resolved_dependencies:
        - {name: left, version: "<2"}
        - {name: right}
    run:
      not_acceptable: left<2 and right do not mix
  wraps:
  - name: InfoWrap
    type: wrap
    should_include: {adviser_pipeline: true, labels: {team: ml}}
    run:
      justification:
      - {type: INFO, message: hello, link: wrap_link}
  dependency_overrides:
  - name: NumpyOverride
    type: dependency_override
    should_include: {adviser_pipeline: true}
    match:
      package_version: {name: oldlib, version: "<3"}
    run:
      override: {name: numpy, specifier: ">=1.20"}
"""


def test_every_section_parses() -> None:
    units = {u.name: u for u in parse_units(EVERY_SECTION, path="every.yaml")}
    assert [units[n].kind for n in units] == [
        "boot", "pseudonym", "sieve", "skip_package", "step", "stride", "wrap", "dependency_override",
    ]
    sieve = units["BrokenSieve"].match[0].package
    assert sieve is not None and sieve.name == "foo-bar" and sieve.matches("FOO.bar", Version("1.2"))
    step = units["Avx2Step"].match[0].package
    assert step is not None and step.index_url == "https://mirror.example.invalid/simple" and step.index_negate
    assert units["Avx2Step"].run.score == 0.3
    assert units["IntelTensorflowPseudonym"].run.alternative.name == "intel-tensorflow"  # type: ignore[union-attr]
    override = units["NumpyOverride"].run.overrides[0]
    assert (override.name, str(override.specifier), override.drop) == ("numpy", ">=1.20", False)


@pytest.mark.parametrize(
    ("text", "key_path", "words"),
    [
        (
            "units:\n  sieves:\n  - name: Typo\n    type: sieve\n    match:\n      package_version: {nme: foo}\n",
            "units.sieves[0].match.package_version.nme",
            ["unit 'Typo'", "unknown key 'nme'", "did you mean 'name'"],
        ),
        (
            "units:\n  steps:\n  - name: Big\n    type: step\n    match: {package_version: {name: a}}\n    run: {score: 2}\n",
            "units.steps[0].run.score",
            ["unit 'Big'", "from -1 to 1"],
        ),
        (
            "units:\n  steps:\n  - name: Spec\n    type: step\n    match: {package_version: {name: a, version: '=>1'}}\n    run: {score: 0.1}\n",
            "units.steps[0].match.package_version.version",
            ["not a version specifier"],
        ),
        (
            "units:\n  sieves:\n  - name: Kind\n    type: step\n    match: {package_version: {name: a}}\n",
            "units.sieves[0].type",
            ["not supported in sieves"],
        ),
        (
            "units:\n  wraps:\n  - name: Hw\n    type: wrap\n    should_include:\n      runtime_environments:\n        hardware: [{cpu_families: [six]}]\n    run: {}\n",
            "units.wraps[0].should_include.runtime_environments.hardware[0].cpu_families[0]",
            ["expected an integer"],
        ),
        ("unit: {}\n", "unit", ["unknown key 'unit'"]),
        (
            "units:\n  steps:\n  - name: Dup\n    type: step\n    match: {package_version: {name: a}}\n    run: {score: 0.1}\n"
            "  - name: Dup\n    type: step\n    match: {package_version: {name: b}}\n    run: {score: 0.1}\n",
            None,
            ["unit 'Dup'", "two units"],
        ),
    ],
)
def test_invalid_units_name_file_unit_and_key_path(text: str, key_path: str, words: list[str]) -> None:
    with pytest.raises(InputFileError) as info:
        parse_units(text, path="bad.yaml")
    assert info.value.path == "bad.yaml"
    assert info.value.key_path == key_path
    for word in words:
        assert word in str(info.value)


def test_invalid_yaml_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("units:\n  sieves: [\n")
    with pytest.raises(InputFileError) as info:
        load_path(tmp_path)
    assert info.value.path == str(bad) and "invalid YAML" in str(info.value)


X86_AVX2 = MachineFacts(os_name="rhel", os_version="8.6", python_version="3.11", cpu_family=6, cpu_model=85,
                        cpu_flags=frozenset({"sse4_2", "avx2"}), gpu_models=("NVIDIA A100",), cuda_version="12.2")
OLD_CPU = MachineFacts(os_name="debian", os_version="12", python_version="3.9", cpu_family=6, cpu_model=23,
                       cpu_flags=frozenset({"sse4_2"}), cuda_version="11.8")
UNKNOWN = MachineFacts(python_version="3.11")


def _names(facts: MachineFacts, rtype: str = "stable", labels: dict[str, str] | None = None) -> set[str]:
    units = parse_units(EVERY_SECTION, path="every.yaml")
    return {u.name for u in select_units(units, UnitContext(facts, rtype, labels or {}))}


def test_hardware_gated_units_apply_only_on_matching_machines() -> None:
    assert "Avx2Step" in _names(X86_AVX2)
    assert "Avx2Step" not in _names(OLD_CPU)
    assert "Avx2Step" not in _names(UNKNOWN)  # flags unknown: not assumed


def test_gpu_null_means_no_gpu_and_cuda_must_be_known() -> None:
    assert "NoGPUBoot" in _names(OLD_CPU)  # CUDA, no GPU
    assert "NoGPUBoot" not in _names(X86_AVX2)  # has a GPU
    assert "NoGPUBoot" not in _names(UNKNOWN)  # no CUDA


def test_recommendation_types_and_labels_gate_units() -> None:
    assert "Avx2Step" not in _names(X86_AVX2, "latest")
    assert "InfoWrap" not in _names(X86_AVX2)
    assert "InfoWrap" in _names(X86_AVX2, labels={"team": "ml"})


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        ("operating_systems: [{name: rhel, version: '8'}]", X86_AVX2, True),
        ("operating_systems: [{name: rhel, version: '9'}]", X86_AVX2, False),
        ("operating_systems: {not: [{name: rhel}]}", X86_AVX2, False),
        ("operating_systems: {not: [{name: rhel}]}", OLD_CPU, True),
        ("python_version: '>=3.10'", OLD_CPU, False),
        ("python_version: '>=3.10'", X86_AVX2, True),
        ("cuda_version: '>=12'", X86_AVX2, True),
        ("hardware: [{cpu_families: [6], cpu_models: [23]}, {cpu_families: [25]}]", OLD_CPU, True),
        ("hardware: [{cpu_families: [6], cpu_models: [23]}, {cpu_families: [25]}]", X86_AVX2, False),
        ("hardware: {cpu_flags: {not: [avx2]}}", OLD_CPU, True),
        ("hardware: {gpu_models: {not: [null]}}", X86_AVX2, True),
        ("platforms: [linux-x86_64]", MachineFacts(platform="linux-x86_64"), True),
        ("platforms: {not: [linux-x86_64]}", MachineFacts(platform="linux-x86_64"), False),
        ("base_images: [quay.io/org/img]", MachineFacts(base_image="quay.io/org/img:v1"), True),
        ("base_images: [quay.io/org/img:v2]", MachineFacts(base_image="quay.io/org/img:v1"), False),
        ("abi: [GLIBC_2.17]", X86_AVX2, False),
    ],
)
def test_runtime_environment_conditions(condition: str, facts: MachineFacts, expected: bool) -> None:
    text = (
        "units:\n  wraps:\n  - name: W\n    type: wrap\n    should_include:\n      runtime_environments:\n"
        f"        {condition}\n    run: {{}}\n"
    )
    units = parse_units(text, path="w.yaml")
    assert bool(select_units(units, UnitContext(facts))) is expected


def test_pipeline_flags_follow_thoth() -> None:
    base = "units:\n  wraps:\n  - name: W\n    type: wrap\n    should_include: {%s}\n    run: {}\n"
    assert select_units(parse_units(base % "", path="a"), UnitContext())
    assert not select_units(parse_units(base % "adviser_pipeline: false", path="a"), UnitContext())
    assert not select_units(parse_units(base % "dependency_monkey_pipeline: true", path="a"), UnitContext())
    assert not select_units(parse_units(base % "times: 0", path="a"), UnitContext())


def test_unit_dependencies_must_be_included() -> None:
    text = """
units:
  wraps:
  - name: Base
    type: wrap
    should_include: {recommendation_types: [security]}
    run: {}
  - name: Dependent
    type: wrap
    should_include: {dependencies: {wraps: [Base]}}
    run: {}
"""
    units = parse_units(text, path="d")
    assert {u.name for u in select_units(units, UnitContext(recommendation_type="security"))} == {"Base", "Dependent"}
    assert select_units(units, UnitContext(recommendation_type="stable")) == ()


def test_bundled_prescriptions_load_and_are_real_sieves() -> None:
    units = load_path(bundled_dir(), "bundled")
    assert units and all(u.origin == "bundled" for u in units)
    requests = next(u for u in units if u.name == "RequestsYankedCVE202435195Sieve")
    assert any(e.package.matches("requests", Version("2.32.0")) for e in requests.match)  # type: ignore[union-attr]
    assert not any(e.package.matches("requests", Version("2.32.2")) for e in requests.match)  # type: ignore[union-attr]
    assert all(u.run.stack_info and u.run.stack_info[0].link for u in units)


def test_later_sources_replace_units_by_name(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".thoth" / "prescriptions").mkdir(parents=True)
    (project / ".thoth" / "prescriptions" / "off.yaml").write_text(
        "units:\n  sieves:\n  - name: RequestsYankedCVE202435195Sieve\n    type: sieve\n"
        "    should_include: {times: 0}\n    match: {package_version: {name: requests}}\n"
    )
    units = {u.name: u for u in load_prescriptions(project_root=project)}
    replaced = units["RequestsYankedCVE202435195Sieve"]
    assert replaced.origin == "project" and replaced.should_include.times == 0
    assert "Urllib3TruncatedCompressedBodySieve" in units


def test_explicit_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        load_prescriptions(paths=[tmp_path / "nope.yaml"], bundled=False, user=False)


def test_add_incompatibility_records_a_group_step_in_the_user_dir() -> None:
    path, text = add_incompatibility("Foo==1.2", "bar>=3", "bar 3 removed the API foo 1.2 calls")
    assert path.parent == user_dir() and path.exists()
    (unit,) = load_prescriptions(bundled=False)
    assert (unit.origin, unit.type, unit.kind) == ("user", "step.Group", "step")
    foo, bar = unit.match
    assert foo.package.matches("foo", Version("1.2")) and foo.resolved[0].matches("bar", Version("3.1"))  # type: ignore[union-attr]
    assert bar.package.matches("bar", Version("4")) and bar.resolved[0].matches("foo", Version("1.2"))  # type: ignore[union-attr]
    assert "bar 3 removed the API" in (unit.run.not_acceptable or "")
    assert "UserIncompatibility" in text and "step.Group" in text


def test_group_steps_and_unit_metadata_parse_as_thoth_writes_them() -> None:
    text = """
units:
  steps:
  - name: ClickBlackGroup
    type: step.Group
    should_include: {adviser_pipeline: true}
    match:
    - group:
      - package_version: {name: click, version: "<8.1.0"}
      - package_version: {name: black, version: ">22.1.0"}
      - package_version: {name: tomli}
    run:
      not_acceptable: these three do not mix
    metadata: {prescriptions_version: 0.8.0}
"""
    (unit,) = parse_units(text, path="g.yaml")
    assert [(e.package.name, sorted(r.name for r in e.resolved)) for e in unit.match] == [  # type: ignore[union-attr]
        ("click", ["black", "tomli"]), ("black", ["click", "tomli"]), ("tomli", ["black", "click"]),
    ]
    with pytest.raises(InputFileError) as info:
        parse_units(text.replace("      - package_version: {name: black, version: \">22.1.0\"}\n      - package_version: {name: tomli}\n", ""), path="g.yaml")
    assert info.value.key_path == "units.steps[0].match[0].group"


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [("foo==1", "foo>2", "same package"), ("foo[x]==1", "bar", "extras"), ("not a req!", "bar", "bad"), ("a==1", "b==2", " ")],
)
def test_add_incompatibility_rejects_bad_input(a: str, b: str, reason: str) -> None:
    with pytest.raises(UsageError):
        add_incompatibility(a, b, reason)


def test_facts_from_a_runtime_environment() -> None:
    from micro_thoth.environment.runtime import RuntimeEnvironment

    env = RuntimeEnvironment(os_name="rhel", os_version="9.2", python_version="3.11.4", platform="linux-x86_64",
                             cpu_family=6, cpu_model=85, cpu_flags=("AVX2", "sse4_2"), gpu_model="NVIDIA A100",
                             cuda_version="12.2", labels={"team": "ml"})
    context = UnitContext.from_runtime(env, "performance", {"stage": "prod"})
    facts = context.facts
    assert (facts.os_name, facts.os_version, facts.python_version, facts.platform) == ("rhel", "9.2", "3.11", "linux-x86_64")
    assert facts.cpu_flags == frozenset({"avx2", "sse4_2"}) and facts.gpu_models == ("NVIDIA A100",)
    assert context.labels == {"team": "ml", "stage": "prod"} and context.recommendation_type == "performance"
    assert "Avx2Step" in {u.name for u in select_units(parse_units(EVERY_SECTION, path="e"), context)}
    assert MachineFacts.from_runtime(RuntimeEnvironment()).cpu_flags is None


def test_distinct_incompatibilities_get_distinct_files() -> None:
    first, _ = add_incompatibility("foo==1.2", "bar>=3", "one")
    second, _ = add_incompatibility("foo==1.2", "bar<=3", "two")
    again, _ = add_incompatibility("foo==1.2", "bar>=3", "one, reworded")
    assert first != second and first == again
    assert len(load_prescriptions(bundled=False)) == 2


def _sieve(name: str) -> str:
    return f"units:\n  sieves:\n  - name: {name}\n    type: sieve\n    match: {{package_version: {{name: widget}}}}\n"


def test_backend_units_load_between_bundled_and_user_and_apply_like_bundled(tmp_path: Path) -> None:
    user = tmp_path / "prescriptions"
    (user / ".trash").mkdir(parents=True)
    (user / ".trash" / "old.yaml").write_text(_sieve("Hidden"))
    (user / "mine.yaml").write_text(_sieve("Mine"))
    replace_backend_units({"user/a.yaml": _sieve("FromBackend"), "user/b.yaml": _sieve("Mine")}, {"digest": "x"}, directory=user)
    units = {u.name: u for u in load_prescriptions(user_directory=user, bundled=False)}
    assert set(units) == {"FromBackend", "Mine"}  # hidden entries are not read
    assert units["FromBackend"].origin == "backend" and not units["FromBackend"].enforced_always
    assert units["Mine"].origin == "user"  # the user's own unit wins over the backend's of that name
    assert backend_manifest(user) == {"digest": "x"}


def test_backend_units_are_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    user = tmp_path / "prescriptions"
    replace_backend_units({"one.yaml": _sieve("One")}, {}, directory=user)
    with pytest.raises(InputFileError) as caught:
        replace_backend_units({"two.yaml": _sieve("Two").replace("name: widget", "nme: widget")}, {}, directory=user)
    assert "backend/two.yaml" in str(caught.value)
    assert [u.name for u in load_prescriptions(user_directory=user, bundled=False)] == ["One"]
    replace_backend_units({"two.yaml": _sieve("Two")}, {}, directory=user)
    assert [u.name for u in load_prescriptions(user_directory=user, bundled=False)] == ["Two"]
    assert sorted(p.name for p in user.iterdir() if not p.name.startswith(".backend-")) == ["backend"]
    assert len([p for p in user.iterdir() if p.name.startswith(".backend-")]) == 1  # the live set only
