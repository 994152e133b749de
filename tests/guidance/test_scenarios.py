"""Guided resolution end to end: micro_thoth.resolve.resolve over an in-memory index with a GuidancePolicy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from micro_thoth.errors import ResolutionError
from micro_thoth.guidance.advisories import Advisory, MemoryAdvisories
from micro_thoth.guidance.justification import build_report
from micro_thoth.guidance.policy import GuidancePolicy
from micro_thoth.guidance.prescriptions import (
    MachineFacts,
    UnitContext,
    parse_units,
)
from micro_thoth.guidance.recommendation import Recommendation, reference_time
from micro_thoth.guidance.stack import honour_stack_rules
from micro_thoth.knowledge.advisories import AdvisoryDB
from micro_thoth.knowledge.prescriptions import add_incompatibility, load_prescriptions
from micro_thoth.models import Dependency
from micro_thoth.resolve import Resolution, improve, resolve
from tests.resolve.memory_source import MemorySource
from tests.resolve.support import dependency, make_target

from .helpers import NOW

FIXTURES = Path(__file__).parent / "fixtures" / "osv"
OLD = "2026-01-01T00:00:00Z"


def _release(version: str, *deps: str, uploaded: str = OLD, **extra: Any) -> dict[str, Any]:
    return {"version": version, "requires_dist": list(deps), "upload_time": uploaded, **extra}


INDEX = {
    "main": {
        "app": [_release("1.0", "widget>=1.0", "fictional-http>=1.0")],
        "widget": [_release(v) for v in ("1.0", "1.1", "1.2", "1.3", "1.4")],
        "fictional-http": [_release(v) for v in ("1.3.0", "1.4.1", "1.4.2")],
        "foo": [_release("1.1"), _release("1.2", "bar>=2")],
        "bar": [_release("2.5"), _release("3.0")],
        "oldlib": [_release("2.0", "numpy<1.20")],
        "numpy": [_release("1.19.5"), _release("1.26.0")],
        "gpulib": [_release("2.0"), _release("2.1")],
    }
}


def _policy(rtype: str = "stable", units: str = "", *, now: Any = NOW, **kwargs: Any) -> GuidancePolicy:
    parsed = parse_units(units, path="scenario.yaml", origin="project") if units else ()
    return GuidancePolicy(Recommendation.for_type(rtype), now=now, units=parsed, **kwargs)


def _resolve(requirements: Sequence[str], policy: GuidancePolicy, source: MemorySource | None = None,
             constraints: Sequence[Dependency] = ()) -> Resolution:
    return resolve([dependency(r) for r in requirements], source=source or MemorySource(INDEX), target=make_target(),
                   policy=policy, constraints=constraints)


def test_sieve_removes_a_version_from_the_stack() -> None:
    units = "units:\n  sieves:\n  - name: NoWidget14\n    type: sieve\n    match: {package_version: {name: widget, version: '==1.4'}}\n"
    assert _resolve(["widget"], _policy("stable", units)).versions()["widget"] == "1.3"
    assert _resolve(["widget"], _policy("stable")).versions()["widget"] == "1.4"


def test_step_penalises_and_the_next_best_is_chosen() -> None:
    units = (
        "units:\n  steps:\n  - name: SlowWidget\n    type: step\n"
        "    match: {package_version: {name: widget, version: '>=1.3'}}\n    run: {score: -0.4}\n"
    )
    pol = _policy("stable", units)
    resolution = _resolve(["widget"], pol)
    assert resolution.versions()["widget"] == "1.2"
    assert resolution.pins["widget"].score == 0.0


def test_runtime_environment_gated_step_applies_only_on_matching_hardware() -> None:
    units = (
        "units:\n  steps:\n  - name: Gpulib20ForAvx512\n    type: step\n"
        "    should_include:\n      runtime_environments:\n        hardware: [{cpu_flags: [avx512f]}]\n"
        "    match: {package_version: {name: gpulib, version: '==2.0'}}\n    run: {score: 0.5}\n"
    )
    avx512 = UnitContext(MachineFacts(cpu_family=6, cpu_model=85, cpu_flags=frozenset({"avx2", "avx512f"})))
    plain = UnitContext(MachineFacts(cpu_family=6, cpu_model=23, cpu_flags=frozenset({"sse4_2"})))
    assert _resolve(["gpulib"], _policy("performance", units, context=avx512)).versions()["gpulib"] == "2.0"
    assert _resolve(["gpulib"], _policy("performance", units, context=plain)).versions()["gpulib"] == "2.1"


@pytest.fixture
def advisories(tmp_path: Path) -> AdvisoryDB:
    db = AdvisoryDB.open(tmp_path / "k.sqlite3")
    db.import_path(FIXTURES)
    yield db
    db.close()


def test_security_removes_a_vulnerable_version(advisories: AdvisoryDB) -> None:
    source = MemorySource({"main": {"fictional-http": [_release("1.4.1")], "app": [_release("1.0", "fictional-http")]}})
    assert _resolve(["app"], _policy("latest", advisories=advisories), source).versions()["fictional-http"] == "1.4.1"
    with pytest.raises(ResolutionError):
        _resolve(["app"], _policy("security", advisories=advisories), source)
    fixed = _resolve(["app"], _policy("security", advisories=advisories))
    assert fixed.versions()["fictional-http"] == "1.4.2"


def test_stable_prefers_a_fixed_release_when_the_newest_is_fresh(advisories: AdvisoryDB) -> None:
    fresh = (NOW - timedelta(days=1)).isoformat()
    source = MemorySource({"main": {"fictional-http": [_release("1.4.1"), _release("1.4.2", uploaded=fresh)]}})
    pol = _policy("stable", advisories=advisories)
    resolution = _resolve(["fictional-http"], pol, source)
    assert resolution.versions()["fictional-http"] == "1.4.1"  # the fix is within the cooldown
    assert resolution.pins["fictional-http"].score == pytest.approx(-0.5)
    report = build_report(pol, resolution)
    assert report.packages[0].index == "main"
    refused = {(r.name, r.version): r for r in report.refused}
    assert "cooldown" in refused[("fictional-http", "1.4.2")].reasons[0].message
    assert any("GHSA-test-0001" in j.message for j in report.packages[0].justifications)


def test_cooldown_skips_a_fresh_release_and_exclude_newer_makes_it_deterministic() -> None:
    fresh = (NOW - timedelta(days=3)).isoformat()
    index = {"main": {"widget": [_release("1.0"), _release("2.0", uploaded=fresh)]}}
    assert _resolve(["widget"], _policy("stable"), MemorySource(index)).versions()["widget"] == "1.0"
    assert _resolve(["widget"], _policy("latest"), MemorySource(index)).versions()["widget"] == "2.0"
    for clock in (NOW + timedelta(days=365), NOW + timedelta(days=700)):  # the clock does not matter
        for days, expected in ((2, "1.0"), (10, "2.0")):  # 2.0 is 5 days old at the first snapshot, 13 at the second
            snapshot = NOW + timedelta(days=days)
            pol = _policy("stable", now=reference_time(clock, snapshot))
            source = MemorySource(index, exclude_newer=snapshot.isoformat())
            assert _resolve(["widget"], pol, source).versions()["widget"] == expected


def test_dependency_override_resolves_an_otherwise_unsatisfiable_stack() -> None:
    requirements = ["oldlib", "numpy>=1.26"]
    with pytest.raises(ResolutionError):
        _resolve(requirements, _policy("stable"))
    units = (
        "units:\n  dependency_overrides:\n  - name: OldlibWorksWithNewNumpy\n    type: dependency_override\n"
        "    match: {package_version: {name: oldlib, version: '<3'}}\n"
        "    run: {override: {name: numpy, specifier: '>=1.19'}}\n"
    )
    pol = _policy("stable", units)
    resolution = _resolve(requirements, pol)
    assert resolution.versions()["numpy"] == "1.26.0"
    report = build_report(pol, resolution.versions())
    oldlib = next(p for p in report.packages if p.name == "oldlib")
    assert any("OldlibWorksWithNewNumpy" in j.message for j in oldlib.justifications)


def test_user_recorded_incompatibility_is_honoured() -> None:
    requirements = [dependency("foo")]
    plain = _policy("stable")
    assert _resolve(["foo"], plain).versions() == {"foo": "1.2", "bar": "3.0"}
    add_incompatibility("foo==1.2", "bar>=3", "foo 1.2 calls an API bar 3 removed")
    pol = GuidancePolicy(Recommendation.for_type("latest"), now=NOW, units=load_prescriptions(bundled=False))

    def attempt(excluded: Sequence[Dependency]) -> Resolution:
        return resolve(requirements, source=MemorySource(INDEX), target=make_target(), policy=pol, constraints=excluded)

    resolution = honour_stack_rules(attempt, pol)
    assert resolution.versions() == {"foo": "1.1"}  # foo 1.2 excluded first; the breadth-first search stops there
    assert pol.judge_stack(resolution.versions()).acceptable


def test_incompatibility_with_a_pinned_side_excludes_the_other() -> None:
    add_incompatibility("foo==1.2", "bar>=3", "broken together")
    pol = GuidancePolicy(Recommendation.for_type("stable"), now=NOW, units=load_prescriptions(bundled=False))

    def attempt(excluded: Sequence[Dependency]) -> Resolution:
        return resolve([dependency("foo==1.2")], source=MemorySource(INDEX), target=make_target(), policy=pol,
                       constraints=excluded)

    assert honour_stack_rules(attempt, pol).versions() == {"foo": "1.2", "bar": "2.5"}


def test_unsatisfiable_stack_rule_is_a_resolution_error() -> None:
    add_incompatibility("foo==1.2", "bar>=2", "never together")
    pol = GuidancePolicy(Recommendation.for_type("stable"), now=NOW, units=load_prescriptions(bundled=False))

    def attempt(excluded: Sequence[Dependency]) -> Resolution:
        return resolve([dependency("foo==1.2")], source=MemorySource(INDEX), target=make_target(), policy=pol,
                       constraints=excluded)

    with pytest.raises(ResolutionError, match="never together"):
        honour_stack_rules(attempt, pol)


def test_improve_keeps_a_higher_scored_stack() -> None:
    units = (
        "units:\n  steps:\n  - name: Bar3Penalty\n    type: step\n"
        "    match: {package_version: {name: bar, version: '>=3'}}\n    run: {score: -0.9}\n"
        "  - name: Foo12Praise\n    type: step\n"
        "    match: {package_version: {name: foo, version: '==1.2'}}\n    run: {score: 0.2}\n"
    )
    pol = _policy("stable", units)
    first = _resolve(["foo"], pol)
    assert first.versions()["bar"] == "2.5"  # the provider already tries higher scores first
    better = improve(first, [dependency("foo")], source=MemorySource(INDEX), target=make_target(), policy=pol)
    assert better.score >= first.score


PSEUDONYM = """\
units:
  pseudonyms:
  - name: IntelTensorflowOnAvx512
    type: pseudonym
    should_include:
      runtime_environments:
        hardware: [{cpu_flags: [avx512f]}]
    match: {package_version: {name: tensorflow, version: ">=2.0"}}
    run:
      yield:
        yield_matched_version: true
        package_version: {name: intel-tensorflow, index_url: "https://intel.example.invalid/simple/"}
"""
TF_INDEXES = {
    "main": {"app": [_release("1.0", "tensorflow>=2.0")], "tensorflow": [_release("2.0"), _release("2.1")]},
    "intel": {"intel-tensorflow": [_release("2.0"), _release("2.1", "oneccl>=1")], "oneccl": [_release("1.2")]},
}
AVX512 = UnitContext(MachineFacts(cpu_flags=frozenset({"avx2", "avx512f"})))
INTEL = {"https://intel.example.invalid/simple": "intel"}


def test_pseudonym_substitutes_a_package_on_matching_hardware_from_its_index() -> None:
    pol = _policy("performance", PSEUDONYM, context=AVX512, indexes=INTEL)
    resolution = _resolve(["app"], pol, MemorySource(TF_INDEXES))
    assert resolution.versions() == {"app": "1.0", "intel-tensorflow": "2.1", "oneccl": "1.2"}
    assert resolution.pins["intel-tensorflow"].index.name == "intel"
    report = build_report(pol, resolution)
    said = [j.message for p in report.packages if p.name == "intel-tensorflow" for j in p.justifications]
    assert any("stands in for tensorflow 2.1 [prescription IntelTensorflowOnAvx512]" in m for m in said), said


def test_pseudonym_is_not_applied_elsewhere() -> None:
    plain = UnitContext(MachineFacts(cpu_flags=frozenset({"avx2"})))
    other_machine = _resolve(["app"], _policy("performance", PSEUDONYM, context=plain, indexes=INTEL), MemorySource(TF_INDEXES))
    assert other_machine.versions()["tensorflow"] == "2.1"
    unconfigured = _policy("performance", PSEUDONYM, context=AVX512)  # the unit's index is not a source of this run
    assert _resolve(["app"], unconfigured, MemorySource(TF_INDEXES)).versions()["tensorflow"] == "2.1"
    assert any("not a configured index" in j.message for j in unconfigured.stack_info.values())
    bundled = parse_units(PSEUDONYM, path="b.yaml", origin="bundled")
    latest = GuidancePolicy(Recommendation.for_type("latest"), now=NOW, units=bundled, context=AVX512, indexes=INTEL)
    assert _resolve(["app"], latest, MemorySource(TF_INDEXES)).versions()["tensorflow"] == "2.1"  # reported only


def test_ranks_says_when_releases_may_score_apart() -> None:
    """Only a scoring unit or a penalised vulnerability makes the resolver judge every release up front."""
    step = ("units:\n  steps:\n  - name: SlowWidget\n    type: step\n"
            "    match: {package_version: {name: widget, version: '>=1.3'}}\n    run: {score: -0.4}\n")
    versions = [Version("1.3"), Version("1.2")]
    assert not _policy("stable").ranks("widget", versions)
    assert _policy("stable", step).ranks("Widget", versions) and not _policy("stable", step).ranks("other", versions)
    flawed = MemoryAdvisories((Advisory("OSV-1", canonicalize_name("widget"), versions=("1.2",)),))
    assert _policy("stable", advisories=flawed).ranks("widget", versions)  # stable penalises
    assert not _policy("stable", advisories=flawed).ranks("widget", [Version("1.3")])
    assert not _policy("security", advisories=flawed).ranks("widget", versions)  # security only refuses


class _JudgesUpFront(GuidancePolicy):
    """A policy that cannot tell a release's score from its version: the resolver judges every release first."""

    version_scores = None  # type: ignore[assignment]


def test_releases_scored_by_their_versions_alone_are_judged_lazily_in_score_order() -> None:
    """A penalised vulnerability scores by version alone: releases are offered best scored first, as judging them
    all would order them, and judged only as far as the resolver goes (and every newer one, which the report names)."""
    widget = canonicalize_name("widget")
    flawed = MemoryAdvisories((Advisory("OSV-NEW", widget, ranges=((("introduced", "1.4"),),)),
                               Advisory("OSV-OLD", widget, versions=("1.0", "1.1"))))
    lazy = _policy("stable", advisories=flawed)
    eager = _JudgesUpFront(Recommendation.for_type("stable"), now=NOW, advisories=flawed)
    assert lazy.version_scores("widget", [Version("1.4"), Version("1.3")], [None, None]) == [-0.5, 0.0]
    chosen, reference = _resolve(["widget"], lazy), _resolve(["widget"], eager)
    assert chosen.versions() == reference.versions() == {"widget": "1.3"}
    assert sorted(v for n, v in lazy.verdicts if n == widget) == ["1.3", "1.4"]  # 1.0-1.2 never judged
    assert len([v for n, v in eager.verdicts if n == widget]) == 5
    said, expected = build_report(lazy, chosen), build_report(eager, reference)
    assert said.packages == expected.packages and "held back from newer releases: 1.4" in str(said.packages)
    step = ("units:\n  steps:\n  - name: SlowWidget\n    type: step\n"
            "    match: {package_version: {name: widget, version: '>=1.3'}}\n    run: {score: -0.4}\n")
    assert _policy("stable", step, advisories=flawed).version_scores("widget", [Version("1.4")], [None]) is None
    elsewhere = step.replace("name: widget,", "name: widget, index_url: 'https://elsewhere.example.invalid/simple',")
    assert _policy("stable", elsewhere).version_scores("widget", [Version("1.4")], ["https://main.example.invalid/simple"]) == [0.0]
