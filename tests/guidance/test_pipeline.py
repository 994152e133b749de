"""pipeline.guidance: the policy factory a lock/advise run uses, typo warnings, report printing."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from micro_thoth.console import Console
from micro_thoth.environment.runtime import RuntimeEnvironment
from micro_thoth.guidance.justification import build_report
from micro_thoth.guidance.typosquat import typo_warnings
from micro_thoth.models import Source
from micro_thoth.pipeline import guidance
from micro_thoth.reporting import Reporter
from micro_thoth.settings import Settings

from .helpers import artifacts, no_metadata

FIXTURES = Path(__file__).parent / "fixtures" / "osv"
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


class Recorder(Reporter):
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def message(self, text: str, level: str = "info") -> None:
        self.lines.append((level, text))


def _settings(project: Path) -> Settings:
    return Settings.from_sources({"directory": str(project)}, os.environ)


def test_policy_factory_combines_environment_units_and_advisories(tmp_path: Path) -> None:
    guidance.import_advisories(FIXTURES, os.environ)
    units = tmp_path / ".thoth" / "prescriptions"
    units.mkdir(parents=True)
    (units / "mine.yaml").write_text(
        "units:\n  sieves:\n  - name: NoWidget2\n    type: sieve\n    match: {package_version: {name: widget, version: '==2.0'}}\n"
        "    run: {log: {type: WARNING, message: widget 2.0 eats data}}\n"
    )
    env = RuntimeEnvironment(python_version="3.11", platform="linux-x86_64", recommendation_type="security")
    reporter = Recorder()
    policy = guidance.guidance_policy(_settings(tmp_path), os.environ, runtime_environment=env, now=NOW, reporter=reporter)
    try:
        assert policy.recommendation.type == "security"  # from the runtime environment
        http = canonicalize_name("fictional-http")
        assert not policy.judge(http, Version("1.4.1"), artifacts("fictional-http", "1.4.1"), no_metadata).acceptable
        widget = canonicalize_name("widget")
        assert not policy.judge(widget, Version("2.0"), artifacts("widget", "2.0"), no_metadata).acceptable
        other = Source("other", "https://other.example.invalid/simple")
        assert not policy.judge(widget, Version("2.0"), artifacts("widget", "2.0", index=other), no_metadata).acceptable
        assert reporter.lines == [("warning", "widget 2.0 eats data (prescription NoWidget2)")]
        assert any(u.origin == "bundled" for u in policy.units)
    finally:
        guidance.close_policy(policy)


def test_policy_factory_flags_win_and_exclude_newer_is_the_clock(tmp_path: Path) -> None:
    env = RuntimeEnvironment(recommendation_type="latest")
    snapshot = NOW - timedelta(days=30)
    policy = guidance.guidance_policy(_settings(tmp_path), os.environ, runtime_environment=env, recommendation_type="stable",
                                      min_release_age="10d", now=NOW, exclude_newer=snapshot)
    try:
        assert policy.recommendation.min_release_age == timedelta(days=10) and policy.now == snapshot
        fresh = (snapshot - timedelta(days=3)).isoformat()
        assert not policy.judge(canonicalize_name("w"), Version("1"), artifacts("w", "1", uploaded=fresh), no_metadata).acceptable
    finally:
        guidance.close_policy(policy)


def test_typo_warnings() -> None:
    assert typo_warnings(["requests", "reqeusts", "my-internal-thing"]) == [
        "'reqeusts' is not a popular project but looks like 'requests': did you mean 'requests'?"
    ]


def test_show_report_json_and_table(tmp_path: Path) -> None:
    policy = guidance.guidance_policy(_settings(tmp_path), os.environ, recommendation_type="stable", now=NOW)
    try:
        policy.judge(canonicalize_name("widget"), Version("1.0"), artifacts("widget", "1.0"), no_metadata)
        report = build_report(policy, {"widget": "1.0"})
        out, err = io.StringIO(), io.StringIO()
        guidance.show_report(report, Console(stream=err, out=out), json_output=True)
        assert json.loads(out.getvalue())["packages"][0]["package_name"] == "widget"
        out, err = io.StringIO(), io.StringIO()
        guidance.show_report(report, Console(stream=err, out=out), json_output=False)
        assert "widget" in out.getvalue() and "stack score +0.00 (stable)" in err.getvalue()
    finally:
        guidance.close_policy(policy)


def test_show_report_does_not_repeat_what_a_units_log_told(tmp_path: Path) -> None:
    units = tmp_path / ".thoth" / "prescriptions"
    units.mkdir(parents=True)
    (units / "boot.yaml").write_text(  # a boot whose log and stack_info say the same (as the prescriptions repository's info boot)
        "units:\n  boots:\n  - name: InfoBoot\n    type: boot\n    should_include: {adviser_pipeline: true}\n"
        "    run:\n      stack_info: [{type: INFO, message: Using the team's prescriptions, link: 'https://example.invalid/p'}]\n"
        "      log: {type: INFO, message: Using the team's prescriptions}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    console = Console(stream=err, out=out)
    policy = guidance.guidance_policy(_settings(tmp_path), os.environ, recommendation_type="stable", now=NOW, reporter=console)
    try:
        policy.check_boots(["widget"])  # as a lock does before resolving: the log is printed then
        policy.judge(canonicalize_name("widget"), Version("1.0"), artifacts("widget", "1.0"), no_metadata)
        report = build_report(policy, {"widget": "1.0"})
        guidance.show_report(report, console, json_output=False)
        assert (out.getvalue() + err.getvalue()).count("Using the team's prescriptions") == 1
        json_out = io.StringIO()
        guidance.show_report(report, Console(stream=io.StringIO(), out=json_out), json_output=True)
        said = [j["message"] for j in json.loads(json_out.getvalue())["stack_info"]]
        assert "Using the team's prescriptions" in said  # the report itself keeps it
    finally:
        guidance.close_policy(policy)
