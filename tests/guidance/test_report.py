"""The guidance report: per-package scores and reasons, refusals, stack_info, Thoth's JSON shape and its schema."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from micro_thoth.guidance.justification import build_report, report_schema
from micro_thoth.models import Pin

from .helpers import NOW, artifacts, no_metadata, policy

UNITS = """
units:
  steps:
  - name: GoodWidget
    type: step
    match: {package_version: {name: widget, version: "==1.1"}}
    run:
      score: 0.4
      justification: [{type: INFO, message: widget 1.1 is the fast one, link: "https://example.invalid/w"}]
  sieves:
  - name: NoWidget12
    type: sieve
    match: {package_version: {name: widget, version: "==1.2"}}
    run:
      stack_info: [{type: WARNING, message: widget 1.2 is broken, link: "https://example.invalid/w12"}]
  wraps:
  - name: Hello
    type: wrap
    run:
      justification: [{type: INFO, message: consider the slim image, link: slim_image}]
"""


def _judged():  # type: ignore[no-untyped-def]
    pol = policy("stable", UNITS)
    for version, uploaded in (("1.3", NOW - timedelta(days=1)), ("1.2", NOW - timedelta(days=40)), ("1.1", NOW - timedelta(days=50))):
        pol.judge(canonicalize_name("widget"), Version(version), artifacts("widget", version, uploaded=uploaded.isoformat()), no_metadata)
    pol.judge(canonicalize_name("six"), Version("1.16.0"), artifacts("six", "1.16.0"), no_metadata)
    return pol


def test_report_says_what_was_chosen_and_refused() -> None:
    pol = _judged()
    report = build_report(pol, [Pin("widget", "==1.1", index="main"), Pin("six", "==1.16.0")])
    assert [(p.name, p.version, p.score) for p in report.packages] == [("six", "1.16.0", 0.0), ("widget", "1.1", 0.4)]
    assert report.score == pytest.approx(0.4)
    assert [(r.name, r.version) for r in report.refused] == [("widget", "1.3"), ("widget", "1.2")]
    assert "cooldown" in report.refused[0].reasons[0].message
    assert "NoWidget12" in report.refused[1].reasons[0].message
    assert [j.message for j in report.stack_info][1:] == ["widget 1.2 is broken"]
    assert "recommendation type 'stable'" in report.stack_info[0].message
    assert report.justification[0].message.startswith("consider the slim image")


def test_thoth_json_shape_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pol = _judged()
    report = build_report(
        pol,
        {"widget": "1.1", "six": "1.16.0"},
        requirements={"packages": {"widget": "*"}, "source": [{"name": "main", "url": "https://index.example.invalid/simple", "verify_ssl": True}]},
        requirements_locked={"_meta": {"pipfile-spec": 6}, "default": {"widget": {"version": "==1.1"}}},
        runtime_environment={"name": "rhel9", "python_version": "3.11"},
    )
    data = json.loads(json.dumps(report.to_thoth_json()))
    jsonschema.Draft202012Validator.check_schema(report_schema())
    jsonschema.validate(data, report_schema(), cls=jsonschema.Draft202012Validator)
    product = data["products"][0]
    assert product["project"]["requirements_locked"]["default"]["widget"]["version"] == "==1.1"
    assert product["score"] == pytest.approx(0.4)
    assert {"type": "INFO", "message": "widget 1.1 is the fast one [prescription GoodWidget]",
            "link": "https://example.invalid/w", "package_name": "widget", "version": "1.1"} in product["justification"]
    assert data["refused"][0]["package_name"] == "widget"


def test_schema_rejects_a_broken_report() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = build_report(_judged(), {"widget": "1.1"}).to_thoth_json()
    data["products"][0]["justification"].append({"type": "FATAL", "message": "x"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_schema(), cls=jsonschema.Draft202012Validator)
