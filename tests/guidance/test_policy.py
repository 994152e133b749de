"""GuidancePolicy.judge and friends: each rule's effect per recommendation type, scores clamped, reasons kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from micro_thoth.artifacts import CoreMetadata
from micro_thoth.errors import ResolutionError, UsageError
from micro_thoth.guidance.licenses import LicensePolicy
from micro_thoth.guidance.prescriptions import MachineFacts, UnitContext
from micro_thoth.guidance.recommendation import Recommendation, parse_duration, reference_time
from micro_thoth.knowledge.advisories import AdvisoryDB

from .helpers import NOW, artifacts, no_metadata, policy

FIXTURES = Path(__file__).parent / "fixtures" / "osv"

SIEVE_AND_STEP = """
units:
  sieves:
  - name: BrokenOneTwo
    type: sieve
    match:
      package_version: {name: widget, version: "==1.2"}
    run:
      log: {type: WARNING, message: widget 1.2 corrupts its cache}
      stack_info:
      - {type: WARNING, message: widget 1.2 was removed, link: "https://example.invalid/widget/12"}
  steps:
  - name: SlowOneThree
    type: step
    match:
      package_version: {name: widget, version: "==1.3"}
    run:
      score: -0.6
      justification:
      - {type: WARNING, message: widget 1.3 is twice as slow, link: "https://example.invalid/widget/13"}
  - name: PraiseOneOne
    type: step
    match:
      package_version: {name: widget, version: "==1.1"}
    run:
      score: 0.9
  - name: AlsoPraiseOneOne
    type: step
    match:
      package_version: {name: widget, version: ">=1.1,<1.2"}
    run:
      score: 0.8
"""


def _judge(pol, name: str, version: str, **kwargs):  # type: ignore[no-untyped-def]
    return pol.judge(canonicalize_name(name), Version(version), artifacts(name, version, **kwargs), no_metadata)


def _order(pol, name: str, versions: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """The resolver's order: acceptable releases by score (stable sort, so newest first on ties)."""
    judged = [(_judge(pol, name, v), v) for v in versions]
    return [v for verdict, v in sorted(judged, key=lambda item: -item[0].score) if verdict.acceptable]


def test_sieve_removes_a_version_with_its_reason() -> None:
    pol = policy("stable", SIEVE_AND_STEP)
    verdict = _judge(pol, "widget", "1.2")
    assert not verdict.acceptable
    (reason,) = verdict.justifications
    assert "corrupts its cache" in reason.message and "BrokenOneTwo" in reason.message
    assert (reason.package, reason.version) == ("widget", "1.2")
    assert next(iter(pol.stack_info.values())).link == "https://example.invalid/widget/12"


def test_step_penalises_and_the_next_best_is_preferred() -> None:
    pol = policy("stable", SIEVE_AND_STEP)
    assert _judge(pol, "widget", "1.3").score == pytest.approx(-0.6)
    assert _order(pol, "widget", ["1.4", "1.3", "1.2", "1.1", "1.0"]) == ["1.1", "1.4", "1.0", "1.3"]


def test_scores_are_clamped() -> None:
    assert _judge(policy("stable", SIEVE_AND_STEP), "widget", "1.1").score == 1.0


def test_bundled_units_are_reported_not_enforced_under_latest() -> None:
    pol = policy("latest", SIEVE_AND_STEP, origin="bundled")
    verdict = _judge(pol, "widget", "1.2")
    assert verdict.acceptable and "reported only" in verdict.justifications[0].message
    assert _judge(pol, "widget", "1.3").score == 0.0
    assert _order(pol, "widget", ["1.4", "1.3", "1.2", "1.1"]) == ["1.4", "1.3", "1.2", "1.1"]


def test_user_units_are_enforced_under_every_type() -> None:
    for rtype in ("latest", "testing", "security"):
        assert not _judge(policy(rtype, SIEVE_AND_STEP, origin="user"), "widget", "1.2").acceptable


def test_cooldown_skips_a_fresh_release() -> None:
    pol = policy("stable")
    fresh = _judge(pol, "widget", "2.0", uploaded=(NOW - timedelta(days=2)).isoformat())
    assert not fresh.acceptable and "cooldown" in fresh.justifications[0].message
    old = _judge(pol, "widget", "1.9", uploaded=(NOW - timedelta(days=8)).isoformat())
    assert old.acceptable and old.justifications == ()


def test_cooldown_uses_the_newest_file_and_the_injected_clock() -> None:
    pol = policy("stable", now=NOW + timedelta(days=30))
    files = (*artifacts("widget", "2.0", uploaded="2026-01-01T00:00:00Z"), *artifacts("widget", "2.0", uploaded=(NOW + timedelta(days=29)).isoformat()))
    assert not pol.judge(canonicalize_name("widget"), Version("2.0"), files, no_metadata).acceptable
    assert policy("latest").recommendation.min_release_age == timedelta(0)
    assert _judge(policy("stable", min_release_age=timedelta(0)), "widget", "2.0", uploaded=NOW.isoformat()).acceptable


def test_too_young_answers_as_the_cooldown_judges_and_notes_nothing() -> None:
    """The resolver's speculation asks it from its threads: the same answer as judging, no side effect."""
    pol = policy("stable")
    for days, version in ((2, "2.0"), (8, "1.9")):
        files = artifacts("widget", version, uploaded=(NOW - timedelta(days=days)).isoformat())
        assert pol.too_young(files) == (not pol.judge(canonicalize_name("widget"), Version(version), files, no_metadata).acceptable)
    assert pol.too_young(artifacts("widget", "2.0", uploaded=(NOW - timedelta(days=2)).isoformat()))
    assert not policy("latest").too_young(artifacts("widget", "2.0", uploaded=NOW.isoformat()))
    undated = policy("stable")
    assert not undated.too_young(artifacts("widget", "2.0", uploaded=""))
    assert undated.undated == set()  # judging would note it; the question does not


def test_cooldown_reads_the_upload_time_as_indexes_write_it() -> None:
    # "Z" and two fraction digits: datetime.fromisoformat refuses both before Python 3.11
    fresh = _judge(policy("stable"), "widget", "2.0", uploaded="2026-05-30T19:01:02.12Z")
    assert not fresh.acceptable and "cooldown" in fresh.justifications[0].message


def test_exclude_newer_is_the_reference_time() -> None:
    snapshot = NOW - timedelta(days=100)
    assert reference_time(NOW, snapshot) == snapshot
    pol = policy("stable", now=reference_time(NOW, snapshot))
    assert not _judge(pol, "widget", "1.0", uploaded=(snapshot - timedelta(days=1)).isoformat()).acceptable
    assert _judge(pol, "widget", "0.9", uploaded=(snapshot - timedelta(days=10)).isoformat()).acceptable


def test_yanked_releases_refused_by_stable_reported_by_latest() -> None:
    assert not _judge(policy("stable"), "widget", "1.0", yanked="broken wheel").acceptable
    latest = _judge(policy("latest"), "widget", "1.0", yanked="broken wheel")
    assert latest.acceptable and "broken wheel" in latest.justifications[0].message


@pytest.fixture
def advisories(tmp_path: Path) -> AdvisoryDB:
    db = AdvisoryDB.open(tmp_path / "k.sqlite3")
    db.import_path(FIXTURES)
    yield db
    db.close()


def test_security_removes_a_vulnerable_version(advisories: AdvisoryDB) -> None:
    pol = policy("security", advisories=advisories)
    verdict = _judge(pol, "fictional-http", "1.4.1")
    assert not verdict.acceptable
    (reason,) = verdict.justifications
    assert reason.type == "ERROR" and "GHSA-test-0001" in reason.message and "CVE-2099-0001" in reason.message
    assert "fixed in 1.4.2" in reason.message and reason.link
    assert _judge(pol, "fictional-http", "1.4.2").acceptable


def test_security_allows_a_vulnerability_by_id(advisories: AdvisoryDB) -> None:
    pol = policy("security", advisories=advisories, allow_vulnerabilities=["cve-2099-0001"])
    verdict = _judge(pol, "fictional-http", "1.4.1")
    assert verdict.acceptable and "allowed by id" in verdict.justifications[0].message


def test_stable_penalises_and_latest_reports_vulnerabilities(advisories: AdvisoryDB) -> None:
    stable = _judge(policy("stable", advisories=advisories), "fictional-http", "1.4.1")
    assert stable.acceptable and stable.score == pytest.approx(-0.5)
    latest = _judge(policy("latest", advisories=advisories), "fictional-http", "1.4.1")
    assert latest.acceptable and latest.score == 0.0 and latest.justifications[0].type == "WARNING"


def test_licence_metadata_is_fetched_only_with_a_deny_list() -> None:
    calls: list[int] = []

    def metadata() -> CoreMetadata:
        calls.append(1)
        return CoreMetadata("widget", "1.0", license_expression="MIT OR GPL-3.0-only")

    assert policy("stable").judge(canonicalize_name("widget"), Version("1.0"), artifacts("widget", "1.0"), metadata).acceptable
    assert calls == []
    assert policy("stable", licenses=LicensePolicy.deny(["GPL-3.0-only"])).judge(
        canonicalize_name("widget"), Version("1.0"), artifacts("widget", "1.0"), metadata
    ).acceptable  # MIT may be chosen
    denied = policy("stable", licenses=LicensePolicy.deny(["gpl-3.0-only", "mit"])).judge(
        canonicalize_name("widget"), Version("1.0"), artifacts("widget", "1.0"), metadata
    )
    assert not denied.acceptable and denied.justifications[0].type == "ERROR"
    assert calls == [1, 1]


@pytest.mark.parametrize(
    ("metadata", "deny", "refused"),
    [
        (CoreMetadata("a", "1", license_expression="Apache-2.0 AND GPL-2.0-or-later"), ["GPL-2.0-or-later"], True),
        (CoreMetadata("a", "1", license_expression="(MIT OR GPL-3.0-only) AND BSD-3-Clause"), ["GPL-3.0-only"], False),
        (CoreMetadata("a", "1", license_expression="GPL-2.0-only WITH Classpath-exception-2.0"), ["gpl-2.0-only"], True),
        (CoreMetadata("a", "1", license="GPLv3"), ["gplv3"], True),
        (CoreMetadata("a", "1", classifiers=("License :: OSI Approved :: GNU Affero General Public License v3",)),
         ["GNU Affero General Public License v3"], True),
        (CoreMetadata("a", "1", classifiers=("License :: OSI Approved :: MIT License",)), ["GPL-3.0-only"], False),
    ],
)
def test_licence_policy(metadata: CoreMetadata, deny: list[str], refused: bool) -> None:
    assert (LicensePolicy.deny(deny).denied_by(metadata) is not None) is refused


OVERRIDES = """
units:
  dependency_overrides:
  - name: LoosenNumpy
    type: dependency_override
    match:
      package_version: {name: oldlib, version: "<3"}
    run:
      override:
      - {name: numpy, specifier: ">=1.20"}
      - {name: toml, drop: true}
  sieves:
  - name: NoEnum34
    type: sieve.SkipPackage
    match: {package_name: enum34}
"""


def test_dependency_override_replaces_and_drops_requirements() -> None:
    pol = policy("stable", OVERRIDES)
    reqs = ["numpy<1.20,>=1.0", "toml", "enum34; python_version < '3.4'", "six[extra]>=1; os_name == 'posix'"]
    out = pol.override_requirements(canonicalize_name("oldlib"), Version("2.0"), reqs)
    assert out == ["numpy>=1.20", "six[extra]>=1; os_name == 'posix'"]  # untouched lines stay as written
    notes = pol.notes[("oldlib", "2.0")]
    assert any("LoosenNumpy" in n.message and "numpy>=1.20" in n.message for n in notes)
    assert any("NoEnum34" in n.message for n in notes)
    untouched = pol.override_requirements(canonicalize_name("oldlib"), Version("3.0"), ["numpy<1.20"])
    assert list(untouched) == ["numpy<1.20"]


INCOMPATIBLE = """
units:
  steps:
  - name: FooBar
    type: step
    match:
      package_version: {name: foo, version: "==1.2"}
      state:
        resolved_dependencies: [{name: bar, version: ">=3"}]
    run:
      not_acceptable: foo 1.2 breaks with bar 3
  strides:
  - name: NoTriple
    type: stride
    match:
      state:
        resolved_dependencies: [{name: x}, {name: y, version: "<2"}]
    run:
      not_acceptable: x with old y crashes
  wraps:
  - name: Hello
    type: wrap
    run:
      justification: [{type: INFO, message: hello from a wrap}]
"""


def test_judge_stack_applies_state_steps_strides_and_wraps() -> None:
    pol = policy("stable", INCOMPATIBLE)
    bad = pol.judge_stack({"foo": "1.2", "bar": "3.0"})
    assert not bad.acceptable and any("foo 1.2 breaks" in j.message for j in bad.justifications)
    assert pol.stack_violations({"foo": "1.2", "bar": "3.0"})[0][:2] == ("foo", Version("1.2"))
    good = pol.judge_stack({"foo": "1.2", "bar": "2.9"})
    assert good.acceptable and [j.message for j in good.justifications] == ["hello from a wrap [prescription Hello]"]
    stride = pol.judge_stack({"x": "1", "y": "1.5"})
    assert not stride.acceptable
    assert {n for n, _, _ in pol.stack_violations({"x": "1", "y": "1.5", "z": "1"})} == {"x", "y"}
    assert pol.judge_stack({"x": "1", "y": "2"}).acceptable


def test_exclusions_turn_pairwise_incompatibilities_into_constraints() -> None:
    pol = policy("stable", INCOMPATIBLE)
    (exclusion,) = pol.exclusions(canonicalize_name("foo"), Version("1.2"))
    assert exclusion.name == "bar" and str(exclusion.specifier) == ">=3"
    assert pol.exclusions(canonicalize_name("foo"), Version("1.3")) == ()


def test_boot_not_acceptable_stops_and_stack_info_is_kept() -> None:
    boots = """
units:
  boots:
  - name: NoLegacy
    type: boot
    match: {package_name: legacy}
    run: {not_acceptable: legacy is not supported on this platform}
  - name: Info
    type: boot
    run:
      stack_info: [{type: INFO, message: booted, link: boot}]
"""
    pol = policy("stable", boots)
    pol.check_boots(["requests"])
    assert [j.message for j in pol.stack_info.values()] == ["booted"]
    with pytest.raises(ResolutionError, match="legacy is not supported"):
        pol.check_boots(["Legacy"])


def test_runtime_gated_step_applies_only_on_matching_hardware() -> None:
    units = """
units:
  steps:
  - name: Cuda12Build
    type: step
    should_include:
      runtime_environments:
        cuda_version: ">=12,<13"
        hardware: {gpu_models: {not: [null]}}
    match:
      package_version: {name: gpulib, version: ">=2"}
    run:
      score: 0.5
"""
    gpu = UnitContext(MachineFacts(gpu_models=("NVIDIA A100",), cuda_version="12.2"))
    cpu = UnitContext(MachineFacts(cuda_version="12.2"))
    assert _judge(policy("performance", units, context=gpu), "gpulib", "2.1").score == 0.5
    assert _judge(policy("performance", units, context=cpu), "gpulib", "2.1").score == 0.0


def test_pseudonym_is_reported() -> None:
    units = """
units:
  pseudonyms:
  - name: TfIntel
    type: pseudonym
    match: {package_version: {name: tensorflow}}
    run:
      yield: {package_version: {name: intel-tensorflow, locked_version: "==2.5.0"}}
"""
    verdict = _judge(policy("stable", units), "tensorflow", "2.5.0")
    assert verdict.acceptable and "intel-tensorflow==2.5.0" in verdict.justifications[0].message


def test_index_conditions_use_the_candidate_index() -> None:
    units = """
units:
  sieves:
  - name: OnlyFromMain
    type: sieve
    match:
      package_version: {index_url: {not: "https://index.example.invalid/simple/"}}
"""
    from micro_thoth.models import Source

    pol = policy("stable", units)
    assert _judge(pol, "a", "1").acceptable
    mirror = Source("mirror", "https://mirror.example.invalid/simple")
    assert not _judge(pol, "b", "1", index=mirror).acceptable


def test_recommendation_types() -> None:
    assert Recommendation.for_type(None).type == "stable"
    assert Recommendation.for_type("TESTING").allow_prereleases
    assert Recommendation.for_type("security").vulnerabilities == "remove"
    assert Recommendation.for_type("stable", min_release_age=timedelta(hours=1)).min_release_age == timedelta(hours=1)
    with pytest.raises(UsageError):
        Recommendation.for_type("fastest")
    assert parse_duration("36h") == timedelta(hours=36)
    assert parse_duration("3") == timedelta(days=3)
    with pytest.raises(UsageError):
        parse_duration("soon")


def test_releases_without_upload_times_are_not_judged_by_the_cooldown_and_the_report_says_so() -> None:
    from micro_thoth.guidance.justification import build_report

    pol = policy("stable")
    undated = tuple(replace(a, upload_time=None) for a in artifacts("widget", "3.0"))
    assert pol.judge(canonicalize_name("widget"), Version("3.0"), undated, no_metadata).acceptable
    report = build_report(pol, {"widget": "3.0"})
    assert any("no upload time for 1 release" in j.message for j in report.stack_info)
    assert policy("latest").notices() == []


def test_release_notes_wrap_links_the_resolved_version() -> None:
    units = """
units:
  wraps:
  - name: WidgetReleaseNotes
    type: wrap.GHReleaseNotes
    match:
      state:
        resolved_dependencies:
        - name: widget
    run:
      release_notes: {organization: widget-org, repository: widget, tag_version_prefix: v}
"""
    pol = policy("stable", units)
    (note,) = pol.judge_stack({"widget": "1.4", "six": "1.16.0"}).justifications
    assert note.link == "https://github.com/widget-org/widget/releases/tag/v1.4" and note.package == "widget"
    assert pol.judge_stack({"six": "1.16.0"}).justifications == ()


@pytest.mark.parametrize(
    ("text", "spdx"),
    [
        ("License :: OSI Approved :: MIT License", "MIT"),
        ("License :: OSI Approved :: GNU General Public License v3 (GPLv3)", "GPL-3.0-only"),
        ("License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPL-3.0-or-later"),
        ("License :: OSI Approved :: Apache Software License 2.0", "Apache-2.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("new bsd", "BSD-3-Clause"),
        ("mit", "MIT"),
        ("License :: OSI Approved :: BSD License", None),  # names no one licence
        ("my own licence", None),
    ],
)
def test_licence_names_map_to_spdx_ids(text: str, spdx: str | None) -> None:
    from micro_thoth.guidance.spdx import spdx_id

    assert spdx_id(text) == spdx


def test_a_denied_classifier_is_reported_by_its_spdx_id() -> None:
    metadata = CoreMetadata("a", "1", classifiers=("License :: OSI Approved :: GNU General Public License v3 (GPLv3)",))
    assert LicensePolicy.deny(["GPL-3.0-only"]).denied_by(metadata) == "GPL-3.0-only"
    assert LicensePolicy.deny(["GPLv3"]).denied_by(metadata) == "GPL-3.0-only"
    assert LicensePolicy.deny(["GPL-3.0-or-later"]).denied_by(metadata) is None
    assert LicensePolicy.deny(["gplv3"]).denied_by(CoreMetadata("a", "1", license="GNU GPL v3")) is None  # not a known spelling
