"""The guidance report: the stack score, each chosen release with its score and reasons, what was refused.

``build_report`` reads the verdicts a ``GuidancePolicy`` kept during resolution.
``Report.to_thoth_json`` gives the shape of Thoth's advise report
(``products[].project.{requirements, requirements_locked, runtime_environment}``,
``score``, ``justification``, ``advised_runtime_environment``; ``stack_info``)
plus our own keys (``recommendation_type``, ``packages``, ``refused``);
``report.schema.json`` beside this module is its JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Optional, Union

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..models import Justification, Pin, Verdict
from .knowledge import held_back, judged_releases, knowledge_section
from .policy import GuidancePolicy
from .recommendation import describe_duration

RECOMMENDATION_LINK = "https://thoth-station.ninja/recommendation-types/"


@dataclass(frozen=True)
class PackageReport:
    """One chosen release: its score and every reason said about it."""

    name: str
    version: str
    score: float
    justifications: tuple[Justification, ...] = ()
    index: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "package_name": self.name, "version": self.version, "index": self.index, "score": self.score,
            "justification": [j.to_dict() for j in self.justifications],
        }


@dataclass(frozen=True)
class Refusal:
    """One release guidance refused, and why (advisory ids, prescription names, cooldown...)."""

    name: str
    version: str
    justifications: tuple[Justification, ...]

    @property
    def reasons(self) -> tuple[Justification, ...]:
        refusing = tuple(j for j in self.justifications if j.message.startswith("refused"))
        return refusing or self.justifications

    def to_dict(self) -> dict[str, Any]:
        return {"package_name": self.name, "version": self.version, "justification": [j.to_dict() for j in self.reasons]}


@dataclass(frozen=True)
class Report:
    """Everything ``thoth-pip advise`` says about a resolved stack."""

    recommendation_type: str
    score: float
    packages: tuple[PackageReport, ...]
    refused: tuple[Refusal, ...] = ()
    justification: tuple[Justification, ...] = ()  # about the whole stack (wraps, strides)
    stack_info: tuple[Justification, ...] = ()
    requirements: Mapping[str, Any] = field(default_factory=dict)
    requirements_locked: Mapping[str, Any] = field(default_factory=dict)
    runtime_environment: Mapping[str, Any] = field(default_factory=dict)
    advised_runtime_environment: Optional[Mapping[str, Any]] = None
    knowledge: Mapping[str, Any] = field(default_factory=dict)  # what was known, what it said per package
    told: frozenset[str] = frozenset()  # messages the run printed as it went (a unit's log): not in the JSON, not printed again

    def all_justifications(self) -> list[Justification]:
        chosen = [j for p in self.packages for j in p.justifications]
        refused = [j for r in self.refused for j in r.reasons]
        return [*self.justification, *chosen, *refused]

    def to_thoth_json(self) -> dict[str, Any]:
        product = {
            "project": {
                "requirements": dict(self.requirements),
                "requirements_locked": dict(self.requirements_locked),
                "runtime_environment": dict(self.runtime_environment),
            },
            "score": self.score,
            "justification": [j.to_dict() for j in self.all_justifications()],
            "advised_runtime_environment": dict(self.advised_runtime_environment) if self.advised_runtime_environment else None,
            "advised_manifest_changes": [],
        }
        return {
            "products": [product],
            "stack_info": [j.to_dict() for j in self.stack_info],
            "recommendation_type": self.recommendation_type,
            "score": self.score,
            "packages": [p.to_dict() for p in self.packages],
            "refused": [r.to_dict() for r in self.refused],
            "knowledge": dict(self.knowledge),
        }

    @property
    def has_errors(self) -> bool:
        return any(j.type == "ERROR" for j in (*self.justification, *self.stack_info))


Stack = Union[Sequence[Pin], Mapping[str, str], Any]  # Any: a resolve.Resolution (``.pins``)


def _chosen(stack: Stack) -> list[tuple[str, str, Optional[str]]]:
    """(name, version, index) of each pin: Pins, ResolvedPins, a Resolution or ``{name: version}``."""
    if hasattr(stack, "pins"):
        stack = list(stack.pins.values())
    if isinstance(stack, Mapping):
        return [(str(canonicalize_name(n)), str(v).lstrip("="), None) for n, v in stack.items()]
    return [(str(p.key), (p.version or "").lstrip("="), _index_name(p.index)) for p in stack if p.version]


def _said_by_resolver(stack: Stack) -> dict[str, tuple[Justification, ...]]:
    """What a resolved stack's pins say beyond the policy's verdicts (why a pseudonym's stand-in is there)."""
    pins = stack.pins.values() if hasattr(stack, "pins") else ()
    return {str(p.key): tuple(getattr(p, "justifications", ())) for p in pins}


def _index_name(index: Any) -> Optional[str]:
    """A Pin's index is a source name; a ResolvedPin's is a Source."""
    value = getattr(index, "name", index)
    return None if value is None else str(value)


def build_report(
    policy: GuidancePolicy,
    stack: Stack,
    *,
    requirements: Optional[Mapping[str, Any]] = None,
    requirements_locked: Optional[Mapping[str, Any]] = None,
    runtime_environment: Optional[Mapping[str, Any]] = None,
    extra_stack_info: Iterable[Justification] = (),
) -> Report:
    """The report for the resolved ``stack`` (pins, or ``{name: version}``) from the policy's verdicts."""
    chosen = _chosen(stack)
    said = _said_by_resolver(stack)
    packages = tuple(_package(policy, name, version, index, said.get(name, ())) for name, version, index in sorted(chosen))
    whole = policy.judge_stack({name: version for name, version, _ in chosen})
    judged = judged_releases(policy)
    packages = tuple(replace(p, justifications=p.justifications + held_back(judged, p.name, p.version)) for p in packages)
    return Report(
        recommendation_type=policy.recommendation.type,
        score=round(sum(p.score for p in packages) + whole.score, 6),
        packages=packages,
        refused=_refusals(policy, {name for name, _, _ in chosen}),
        justification=whole.justifications,
        stack_info=(_type_info(policy), *policy.notices(), *policy.stack_info.values(), *extra_stack_info),
        requirements=requirements or {},
        requirements_locked=requirements_locked or {},
        runtime_environment=runtime_environment or {},
        knowledge=knowledge_section(policy, [*whole.justifications, *(j for p in packages for j in p.justifications)]),
        told=frozenset(policy.told),
    )


def _package(
    policy: GuidancePolicy, name: str, version: str, index: Optional[str], said: Sequence[Justification] = ()
) -> PackageReport:
    key = (canonicalize_name(name), version)
    verdict = policy.verdicts.get(key, Verdict())
    notes = tuple(policy.notes.get(key, ()))
    extra = tuple(j for j in said if j not in verdict.justifications and j not in notes)
    return PackageReport(name, version, verdict.score, verdict.justifications + notes + extra, index)


def _version_key(text: str) -> tuple[int, Any]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _refusals(policy: GuidancePolicy, names: set[str]) -> tuple[Refusal, ...]:
    refused = [(n, v, verdict) for (n, v), verdict in policy.verdicts.items() if not verdict.acceptable]
    refused.sort(key=lambda item: _version_key(item[1]), reverse=True)
    refused.sort(key=lambda item: (item[0] not in names, item[0]))  # stable: versions stay newest first
    return tuple(Refusal(n, v, verdict.justifications) for n, v, verdict in refused)


def _type_info(policy: GuidancePolicy) -> Justification:
    rec = policy.recommendation
    parts = [f"recommendation type '{rec.type}'"]
    if rec.min_release_age:
        parts.append(f"releases younger than {describe_duration(rec.min_release_age)} at {policy.now:%Y-%m-%d %H:%M} UTC skipped")
    parts.append(_VULNERABILITY_WORDS[rec.vulnerabilities])
    return Justification("INFO", "; ".join(parts), RECOMMENDATION_LINK)


_VULNERABILITY_WORDS = {
    "report": "vulnerabilities reported",
    "penalise": "vulnerable releases penalised",
    "remove": "vulnerable releases removed",
}


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``Report.to_thoth_json()``."""
    text = resources.files("micro_thoth.guidance").joinpath("report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
