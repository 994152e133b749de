"""Term: what one rule says of one release, and how the terms of the rules make a verdict (pure).

``GuidancePolicy`` gathers the terms; the words of the terms that do not need
the policy's state (an advisory's, a release-notes wrap's) are built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from ..models import Justification, Verdict
from .advisories import Advisory
from .recommendation import Recommendation
from .state import pins_matching
from .units import Unit


@dataclass(frozen=True)
class Term:
    """What one rule says of one release."""

    acceptable: bool
    score: float
    justification: Justification


@dataclass(frozen=True)
class Exclusion:
    """If the judged release is pinned, releases of ``name`` in ``specifier`` must not be."""

    name: NormalizedName
    specifier: SpecifierSet
    justification: Justification


def clamp(score: float) -> float:
    return max(-1.0, min(1.0, score))


def combine(terms: Sequence[Term]) -> Verdict:
    return Verdict(
        acceptable=all(t.acceptable for t in terms),
        score=clamp(sum(t.score for t in terms)),
        justifications=tuple(t.justification for t in terms),
    )


def advisory_term(advisory: Advisory, recommendation: Recommendation, allowed_ids: frozenset[str]) -> Term:
    """What ``advisory`` says of a release it affects, under the recommendation's vulnerability mode."""
    mode = recommendation.vulnerabilities
    fixed = f"; fixed in {', '.join(advisory.fixed_versions)}" if advisory.fixed_versions else ""
    text = f"{advisory.title()}: {advisory.summary or 'known vulnerability'}{fixed}"
    if mode == "remove" and not allowed_ids.intersection(i.upper() for i in advisory.ids):
        way_out = f"; `--allow-vulnerability {advisory.id}` accepts it"
        return Term(False, 0.0, Justification("ERROR", f"refused: vulnerable, {text}{way_out}", advisory.link))
    if mode == "penalise":
        penalty = advisory_score(recommendation)
        return Term(True, penalty, Justification("WARNING", f"vulnerable ({penalty:+g}), {text}", advisory.link))
    allowed = " (allowed by id)" if mode == "remove" else ""
    return Term(True, 0.0, Justification("WARNING", f"vulnerable{allowed}, {text}", advisory.link))


def advisory_score(recommendation: Recommendation) -> float:
    """The score ``advisory_term`` gives for any advisory: the same for every one (so releases can be scored without
    reading the advisories that affect them)."""
    return recommendation.vulnerability_penalty if recommendation.vulnerabilities == "penalise" else 0.0


def about(justification: Justification, key: tuple[str, str]) -> Justification:
    """``justification`` about the release ``key`` (name, version) unless it names one already."""
    if justification.package and justification.version:
        return justification
    j = justification  # built, not replace()d: a lock says this of thousands of releases
    return Justification(j.type, j.message, j.link, j.package or key[0], j.version or key[1])


def release_notes_terms(
    unit: Unit, stack: Mapping[NormalizedName, Version], index_of: Mapping[NormalizedName, Optional[str]]
) -> list[Term]:
    """``wrap.GHReleaseNotes``: a link to the release notes of each matched, resolved package."""
    notes = unit.run.release_notes
    if notes is None:
        return []
    names = {n for e in unit.match for w in e.resolved for n in pins_matching(w, stack, index_of)}
    return [
        Term(True, 0.0, Justification("INFO", f"release notes of {n} {stack[n]} [prescription {unit.name}]", notes.link(str(stack[n])), package=n, version=str(stack[n])))
        for n in sorted(names)
    ]
