"""GuidancePolicy: the CandidatePolicy that judges each release by recommendation type and knowledge.

One ``judge`` call = the terms of every rule that speaks about the release
(yank, cooldown, prescriptions, advisories, licence), each an (acceptable,
score, justification) triple; the verdict is their conjunction, with the
scores summed and clamped to [-1, 1]. Rules that need the whole resolved stack
(strides, steps with ``state``, wraps) are in ``judge_stack``. Every verdict is
kept, so the report can say what was chosen, what was refused and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..artifacts import Artifact, CoreMetadata
from ..errors import ResolutionError
from ..models import Justification, Substitute, Verdict
from ..reporting import NULL_REPORTER, Reporter
from ..timestamps import parse_upload_time
from .advisories import Advisory, AdvisoryLookup, PackageAdvisories
from .catalog import UnitCatalog, UnitLookup
from .licenses import LicensePolicy
from .recommendation import Recommendation, describe_duration
from .selection import UnitContext
from .state import offenders, parse_stack, pins_matching, state_holds
from .terms import (
    Exclusion,
    Term,
    about,
    advisory_score,
    advisory_term,
    clamp,
    combine,
    release_notes_terms,
)
from .units import Override, Unit, normalize_index_url


class GuidancePolicy:
    """Recommendation type + prescriptions + advisories + licence policy + cooldown, as a CandidatePolicy."""

    def __init__(
        self,
        recommendation: Recommendation,
        *,
        now: datetime,
        units: Iterable[Unit] = (),
        context: Optional[UnitContext] = None,
        knowledge: Optional[UnitLookup] = None,
        knowledge_info: Optional[Mapping[str, object]] = None,
        advisories: Optional[AdvisoryLookup] = None,
        licenses: Optional[LicensePolicy] = None,
        allow_vulnerabilities: Iterable[str] = (),
        indexes: Optional[Mapping[str, str]] = None,
        reporter: Reporter = NULL_REPORTER,
    ) -> None:
        self.recommendation = recommendation
        self.now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        self.context = replace(context or UnitContext(), recommendation_type=recommendation.type)
        self.catalog = UnitCatalog(units, self.context, knowledge)
        self.knowledge_info = dict(knowledge_info or {})  # where the store's knowledge came from (for the report)
        self.applied: dict[str, Unit] = {}  # name -> every unit that spoke in this run
        self.advisories = advisories
        self.licenses = licenses or LicensePolicy.deny(())
        self.allowed_ids = frozenset(i.upper() for i in allow_vulnerabilities)
        self.reporter = reporter
        self.indexes = {normalize_index_url(url): name for url, name in (indexes or {}).items()}  # URL -> source name
        self.verdicts: dict[tuple[NormalizedName, str], Verdict] = {}
        self.notes: dict[tuple[NormalizedName, str], list[Justification]] = {}
        self.stack_info: dict[tuple[str, str], Justification] = {}
        self._index_of: dict[tuple[NormalizedName, str], Optional[str]] = {}
        self._logged: set[str] = set()
        self.told: set[str] = set()  # the logs it printed as it went: a report shown after them does not repeat them
        self.undated: set[str] = set()  # releases the cooldown could not judge (no upload times)
        self.spared: set[tuple[NormalizedName, str]] = set()  # pinned by the existing lock: no cooldown
        self._generation = -1  # the catalog state _candidates_of was derived from
        self._candidates_of: dict[tuple[str, NormalizedName], list[Unit]] = {}
        self._advisory_said: dict[tuple[str, str], Term] = {}
        self._advised_of: dict[NormalizedName, PackageAdvisories] = {}

    @property
    def allow_prereleases(self) -> bool:
        """Whether the finder should offer pre-releases (the ``testing`` type)."""
        return self.recommendation.allow_prereleases

    def ranks(self, name: str, versions: Sequence[Version]) -> bool:
        """Whether judging may score some of these releases of ``name`` apart, or offer a stand-in
        for one (a step or pseudonym unit about it, a penalised vulnerability): the resolver then
        judges them all up front to order them. Otherwise it judges them newest first, only as far
        as it goes: the yank, cooldown, sieve, refusing-advisory and licence rules only refuse."""
        key = canonicalize_name(name)
        self.catalog.consider((key,))
        if any(self.catalog.for_package(kind, n) for kind in ("step", "pseudonym") for n in (key, None)):
            return True
        if self.advisories is None or not self.recommendation.penalises_vulnerabilities:
            return False
        advised = self._advised(key)
        return bool(advised.count) and any(advised.indices_each(versions))

    def version_scores(self, name: str, versions: Sequence[Version], indexes: Sequence[Optional[str]]) -> Optional[list[float]]:
        """The score judging will give each of these releases of ``name`` (from the index URLs ``indexes``) when
        their versions alone decide it, as when a penalised vulnerability is the only rule scoring them: the
        resolver judges them lazily in that order. None when only judging tells (a step or pseudonym matches one)."""
        key, reached = canonicalize_name(name), {*indexes, None}
        entries = (e for kind in ("step", "pseudonym") for u in self._candidates(kind, key) for e in u.package_entries() if not e.resolved)
        for package in (e.package for e in entries if e.package is not None and any(e.package.index_matches(url) for url in reached)):
            if package.version is None or any(package.version.contains(v, prereleases=True) for v in versions):
                return None  # a step or pseudonym may match one of them: judge them all
        advised = self._advised(key) if self.recommendation.penalises_vulnerabilities else PackageAdvisories(())
        if not advised.count:
            return [0.0] * len(versions)
        score = advisory_score(self.recommendation)  # every advisory's term scores the same: none needs reading
        by_count: dict[int, float] = {}  # the score of so many advisories, summed once (as judging sums their terms)
        out = []
        for found in advised.indices_each(versions):
            count = len(found)
            if count not in by_count:
                by_count[count] = clamp(sum(score for _ in found))
            out.append(by_count[count])
        return out

    def notices(self) -> list[Justification]:
        """What the report should say about the policy itself (rules it could not apply)."""
        if not self.undated:
            return []
        count = len(self.undated)
        return [Justification(
            "WARNING",
            f"the index gave no upload time for {count} release{'s' if count != 1 else ''}; "
            f"the {describe_duration(self.recommendation.min_release_age)} cooldown was not applied to {'them' if count != 1 else 'it'}",
            "cooldown",
        )]

    @property
    def units(self) -> list[Unit]:  # a compiled store's units join as their packages are considered
        return self.catalog.units

    def of_kind(self, kind: str) -> list[Unit]:
        return self.catalog.of_kind(kind)

    def enforced(self, unit: Unit) -> bool:
        return self.recommendation.enforce_prescriptions or unit.enforced_always

    # -- CandidatePolicy ----------------------------------------------------------------------

    def judge(
        self,
        name: NormalizedName,
        version: Version,
        artifacts: Sequence[Artifact],
        metadata: Callable[[], CoreMetadata],
    ) -> Verdict:
        key = (canonicalize_name(name), str(version))
        index = _index_url(artifacts)
        if key in self.verdicts and self._index_of.get(key) == index:
            return self.verdicts[key]
        self._index_of[key] = index
        terms = self._release_terms(artifacts, key)
        if self._may_speak(key[0]):  # most packages of a lock: no unit, advisory or licence rule is about them
            terms += [*self._unit_terms(key[0], version, index), *self._advisory_terms(key[0], version), *self._license_terms(metadata)]
        verdict = combine([Term(t.acceptable, t.score, about(t.justification, key)) for t in terms])
        self.verdicts[key] = verdict
        return verdict

    def _may_speak(self, name: NormalizedName) -> bool:
        """Whether a unit, an advisory or the licence policy may say anything about releases of ``name``."""
        if self.licenses or self._advised(name).count:
            return True
        return any(self._candidates(kind, name) for kind in ("sieve", "step", "pseudonym"))

    def override_requirements(
        self, name: NormalizedName, version: Version, requirements: Sequence[str]
    ) -> Sequence[str]:
        key = (canonicalize_name(name), str(version))
        self.catalog.consider_requirements(requirements)
        overrides = self._overrides_for(key[0], version, self._index_of.get(key))
        skipped = self._skipped_packages(key[0], version)
        if not overrides and not skipped:
            return requirements
        out: list[str] = []
        for text in requirements:
            changed = self._override_one(text, overrides, skipped, key)
            if changed is not None:
                out.append(changed)
        return out

    # -- release terms (yank, cooldown) -------------------------------------------------------

    def spare(self, pinned: Mapping[str, str]) -> None:
        """Releases the existing lock pins (name -> version): a cooldown never takes them away, so
        a re-lock over a lock made elsewhere (pipenv's) never downgrades for want of age."""
        self.spared.update((canonicalize_name(n), v.lstrip("=")) for n, v in pinned.items())

    def _release_terms(self, artifacts: Sequence[Artifact], key: tuple[NormalizedName, str] = (NormalizedName(""), "")) -> list[Term]:
        return [t for t in (self._yank_term(artifacts), self._cooldown_term(artifacts, key in self.spared)) if t is not None]

    def _yank_term(self, artifacts: Sequence[Artifact]) -> Optional[Term]:
        if not artifacts or any(a.yanked is None for a in artifacts):
            return None
        reason = next((a.yanked for a in artifacts if a.yanked), "") or "no reason given"
        if self.recommendation.allow_yanked:
            return Term(True, 0.0, Justification("WARNING", f"this release is yanked ({reason})"))
        way_out = f"the '{self.recommendation.type}' type takes no yanked release; `--recommendation-type latest` takes it when pinned with =="
        return Term(False, 0.0, Justification("WARNING", f"refused: the release is yanked ({reason}); {way_out}"))

    def too_young(self, artifacts: Sequence[Artifact]) -> bool:
        """Whether the cooldown refuses a release of these files (unless the existing lock pins it);
        nothing is noted: the resolver's speculation asks it from its threads."""
        age = self._age(artifacts)
        return age is not None and age < self.recommendation.min_release_age.total_seconds()

    def _age(self, artifacts: Sequence[Artifact]) -> Optional[float]:
        """Seconds since the last of these files was uploaded; None without a cooldown or an upload time."""
        if not self.recommendation.min_release_age:
            return None  # no upload time is read: most releases of most locks
        times = [t for t in (parse_upload_time(a.upload_time) for a in artifacts) if t is not None]
        return (self.now - max(times)).total_seconds() if times else None

    def _cooldown_term(self, artifacts: Sequence[Artifact], spared: bool = False) -> Optional[Term]:
        cooldown = self.recommendation.min_release_age
        age = self._age(artifacts)
        if age is None:
            if cooldown and artifacts:
                self.undated.add(artifacts[0].filename)
            return None
        if age >= cooldown.total_seconds():
            return None
        uploaded = f"uploaded {describe_duration(timedelta(seconds=max(age, 0)))} ago, {self.recommendation.type} waits {describe_duration(cooldown)} (cooldown)"
        if spared:
            return Term(True, 0.0, Justification("INFO", f"kept: {uploaded}, but the existing lock pins it (a cooldown never downgrades)", link="cooldown"))
        way_out = "`--recommendation-type latest` takes it" if self.recommendation.type != "latest" else "`--min-release-age 0` takes it"
        return Term(False, 0.0, Justification("WARNING", f"refused: {uploaded}; {way_out}", link="cooldown"))

    # -- prescription terms -------------------------------------------------------------------

    def _candidates(self, kind: str, name: NormalizedName) -> list[Unit]:
        """Units of ``kind`` that may match releases of ``name`` (by name, then any-name), derived once per catalog state."""
        found = self._candidates_of.get((kind, name)) if self._generation == self.catalog.generation else None
        if found is None:
            self.catalog.consider((name,))
            if self._generation != self.catalog.generation:
                self._generation, self._candidates_of = self.catalog.generation, {}  # units were added
            both = [*self.catalog.for_package(kind, name), *self.catalog.for_package(kind, None)]
            found = self._candidates_of[(kind, name)] = [u for i, u in enumerate(both) if all(u is not other for other in both[:i])]
        return found

    def _matching(self, kind: str, name: NormalizedName, version: Version, index: Optional[str]) -> list[Unit]:
        """Units of ``kind`` whose state-free ``package_version`` matches (looked up by name, then any-name)."""
        return [
            u for u in self._candidates(kind, name)
            if any(e.package is not None and e.package.matches(name, version, index) for e in u.package_entries() if not e.resolved)
        ]

    def _unit_terms(self, name: NormalizedName, version: Version, index: Optional[str]) -> list[Term]:
        terms: list[Term] = []
        for unit in self._matching("sieve", name, version, index):
            terms.append(self._sieve_term(unit))
        for unit in self._matching("step", name, version, index):
            terms += self._step_terms(unit)
        for unit in self._matching("pseudonym", name, version, index):
            terms.append(self._pseudonym_term(unit))
        return terms

    def _noticed(self, unit: Unit) -> None:
        self.applied[unit.name] = unit
        for info in unit.run.stack_info:
            self.stack_info.setdefault((info.message, unit.name), info)
        if unit.run.log is not None and unit.name not in self._logged:
            self._logged.add(unit.name)
            level = "warning" if unit.run.log.type != "INFO" else "info"
            self.reporter.message(f"{unit.run.log.message} (prescription {unit.name})", level)
            if self.reporter is not NULL_REPORTER:
                self.told.add(unit.run.log.message)

    def _sieve_term(self, unit: Unit) -> Term:
        self._noticed(unit)
        said = unit.run.said
        text = said.message if said else "removed by a prescription"
        link = said.link if said else None
        if self.enforced(unit):
            return Term(False, 0.0, Justification("WARNING", f"refused: {text} [prescription {unit.name}]", link))
        return Term(True, 0.0, Justification("WARNING", f"{text} [prescription {unit.name}; reported only]", link))

    def _step_terms(self, unit: Unit) -> list[Term]:
        self._noticed(unit)
        run, enforced = unit.run, self.enforced(unit)
        refusal = run.not_acceptable or run.eager_stop_pipeline
        terms: list[Term] = []
        if refusal and enforced:
            terms.append(Term(False, 0.0, Justification("ERROR", f"refused: {refusal} [prescription {unit.name}]")))
        elif refusal:
            terms.append(Term(True, 0.0, Justification("WARNING", f"{refusal} [prescription {unit.name}; reported only]")))
        score = run.score if (run.score is not None and enforced) else 0.0
        said = list(run.justification) or ([Justification("INFO", f"scored {run.score:+g}")] if run.score else [])
        for i, justification in enumerate(said):
            text = f"{justification.message} [prescription {unit.name}]"
            terms.append(Term(True, score if i == 0 else 0.0, replace(justification, message=text)))
        return terms

    def _pseudonym_term(self, unit: Unit) -> Term:
        self._noticed(unit)
        alt = unit.run.alternative
        assert alt is not None
        what = alt.name + (alt.locked_version or "") + (f" from {alt.index_url}" if alt.index_url else "")
        applied = "" if self.enforced(unit) else "; reported only"
        return Term(True, 0.0, Justification("INFO", f"{what} can stand in for this release [prescription {unit.name}{applied}]"))

    def alternatives(self, name: NormalizedName, version: Version, artifacts: Sequence[Artifact]) -> tuple[Substitute, ...]:
        """What enforced pseudonyms offer in place of this release (an index they name must be a configured source)."""
        out = []
        for unit in self._matching("pseudonym", canonicalize_name(name), version, _index_url(artifacts)):
            alt = unit.run.alternative
            if alt is None or not self.enforced(unit):
                continue
            index = self.indexes.get(alt.index_url) if alt.index_url else None
            if alt.index_url and index is None:
                self._unconfigured(unit, alt.index_url)
                continue
            specifier = f"=={version}" if alt.yield_matched_version else (alt.locked_version or "")
            out.append(Substitute(alt.name, specifier, index, f"prescription {unit.name}", said.link if (said := unit.run.said) else None))
        return tuple(out)

    def _unconfigured(self, unit: Unit, url: str) -> None:
        message = f"pseudonym {unit.name} offers a build from {url}, which is not a configured index: add it as a source to use it"
        self.stack_info.setdefault((message, unit.name), Justification("WARNING", message))

    # -- advisories and licences --------------------------------------------------------------

    def _advised(self, name: NormalizedName) -> PackageAdvisories:
        found = self._advised_of.get(name)
        if found is None:
            found = self._advised_of[name] = self.advisories.concerning(name) if self.advisories is not None else PackageAdvisories(())
        return found

    def _advisory_terms(self, name: NormalizedName, version: Version) -> list[Term]:
        return [self._advisory_term(a) for a in self._advised(name).affecting(version)]

    def _advisory_term(self, advisory: Advisory) -> Term:
        """What ``advisory`` says of every release it affects (the same words each time: said once)."""
        key = (advisory.id, advisory.package)
        if key not in self._advisory_said:
            self._advisory_said[key] = advisory_term(advisory, self.recommendation, self.allowed_ids)
        return self._advisory_said[key]

    def _license_terms(self, metadata: Callable[[], CoreMetadata]) -> list[Term]:
        if not self.licenses:
            return []
        denied = self.licenses.denied_by(metadata())
        if denied is None:
            return []
        return [Term(False, 0.0, Justification("ERROR", f"refused: licence '{denied}' is denied by the licence policy", "license-policy"))]

    # -- dependency overrides and skipped packages -------------------------------------------

    def _overrides_for(self, name: NormalizedName, version: Version, index: Optional[str]) -> list[tuple[Unit, Override]]:
        units = [u for u in self._matching("dependency_override", name, version, index) if self.enforced(u)]
        return [(u, op) for u in units for op in u.run.overrides]

    def _skipped_packages(self, parent: NormalizedName, version: Version) -> dict[NormalizedName, Unit]:
        """Packages not to install when ``parent`` ``version`` requires them (a SkipPackage may name who introduces them)."""
        out: dict[NormalizedName, Unit] = {}
        for unit in self.of_kind("skip_package"):
            if self.enforced(unit):
                for entry in unit.match:
                    skipped = entry.package_name or (entry.package.name if entry.package else None)
                    if skipped and (not entry.introduced_by or any(w.matches(parent, version) for w in entry.introduced_by)):
                        out[skipped] = unit
        return out

    def _override_one(
        self, text: str, overrides: Sequence[tuple[Unit, Override]], skipped: Mapping[NormalizedName, Unit], key: tuple[NormalizedName, str]
    ) -> Optional[str]:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            return text
        dep = canonicalize_name(req.name)
        if dep in skipped:
            self._note(key, f"requirement '{text}' skipped [prescription {skipped[dep].name}]")
            return None
        chosen = [(u, op) for u, op in overrides if op.name == dep]
        if not chosen:
            return text
        unit, op = chosen[-1]
        if op.drop:
            self._note(key, f"requirement '{text}' dropped [prescription {unit.name}]")
            return None
        req.specifier = op.specifier or SpecifierSet()
        self._note(key, f"requirement '{text}' replaced by '{req}' [prescription {unit.name}]")
        return str(req)

    def _note(self, key: tuple[NormalizedName, str], message: str) -> None:
        notes = self.notes.setdefault(key, [])
        note = Justification("INFO", message, package=key[0], version=key[1])
        if note not in notes:
            notes.append(note)

    # -- whole-stack rules --------------------------------------------------------------------

    def judge_stack(self, resolved: Mapping[str, object], indexes: Optional[Mapping[str, Optional[str]]] = None) -> Verdict:
        """Strides, steps with ``state`` and wraps, over a complete stack ``{name: version}``."""
        stack = parse_stack(resolved)
        self.catalog.consider_stack(stack)
        index_of = {canonicalize_name(k): v for k, v in (indexes or {}).items()}
        terms: list[Term] = []
        for unit in self.of_kind("step"):
            terms += self._stateful_step_terms(unit, stack, index_of)
        held: dict[int, bool] = {}  # match -> whether its state holds: a store's wraps of one package share their match
        for unit in self.of_kind("stride") + self.of_kind("wrap"):
            holds = held.get(id(unit.match))
            if holds is None:
                holds = held[id(unit.match)] = not unit.match or any(state_holds(e.resolved, stack, index_of) for e in unit.match)
            if holds:
                terms += self._stack_unit_terms(unit)
                terms += release_notes_terms(unit, stack, index_of)
        return combine(terms)

    def _stateful_step_terms(self, unit: Unit, stack: Mapping[NormalizedName, Version], index_of: Mapping[NormalizedName, Optional[str]]) -> list[Term]:
        terms: list[Term] = []
        for entry in unit.match:
            if not entry.resolved or entry.package is None:
                continue
            for name in pins_matching(entry.package, stack, index_of):
                if state_holds(entry.resolved, stack, index_of, skip=name):
                    terms += [replace(t, justification=about(t.justification, (name, str(stack[name])))) for t in self._step_terms(unit)]
        return terms

    def _stack_unit_terms(self, unit: Unit) -> list[Term]:
        self._noticed(unit)
        terms = [  # built, not replace()d: a stack's wraps say hundreds of these
            Term(True, 0.0, Justification(j.type, f"{j.message} [prescription {unit.name}]", j.link, j.package, j.version))
            for j in unit.run.justification
        ]
        refusal = unit.run.not_acceptable or unit.run.eager_stop_pipeline
        if refusal:
            enforced = self.enforced(unit)
            terms.append(Term(not enforced, 0.0, Justification("ERROR" if enforced else "WARNING", f"{refusal} [prescription {unit.name}]")))
        return terms

    def stack_violations(
        self, resolved: Mapping[str, object], indexes: Optional[Mapping[str, Optional[str]]] = None
    ) -> list[tuple[NormalizedName, Version, Justification]]:
        """The pins that make a stack unacceptable (refusing steps with ``state``, strides), for re-resolution."""
        stack = parse_stack(resolved)
        self.catalog.consider_stack(stack)
        index_of = {canonicalize_name(k): v for k, v in (indexes or {}).items()}
        out: list[tuple[NormalizedName, Version, Justification]] = []
        for unit in self._refusing("step") + self._refusing("stride"):
            refusal = Justification("ERROR", f"{unit.run.not_acceptable or unit.run.eager_stop_pipeline} [prescription {unit.name}]")
            for entry in unit.match:
                if entry.resolved:
                    out += [(n, stack[n], about(refusal, (n, str(stack[n])))) for n in offenders(unit, entry, stack, index_of)]
        return out

    def _refusing(self, kind: str) -> list[Unit]:
        return [u for u in self.of_kind(kind) if (u.run.not_acceptable or u.run.eager_stop_pipeline) and self.enforced(u)]

    def exclusions(self, name: NormalizedName, version: Version) -> tuple[Exclusion, ...]:
        """Pairwise incompatibilities (steps whose state names one package) as exclusions the resolver can apply."""
        out = []
        index = self._index_of.get((canonicalize_name(name), str(version)))
        self.catalog.consider((name,))
        for unit in self.of_kind("step"):
            refusal = unit.run.not_acceptable or unit.run.eager_stop_pipeline
            if not refusal or not self.enforced(unit):
                continue
            for entry in unit.match:
                if entry.package and len(entry.resolved) == 1 and entry.package.matches(name, version, index):
                    other = entry.resolved[0]
                    reason = Justification("ERROR", f"{refusal} [prescription {unit.name}]", package=name, version=str(version))
                    out.append(Exclusion(other.name or NormalizedName(""), other.version or SpecifierSet(), reason))
        return tuple(out)

    def check_boots(self, direct: Iterable[str] = ()) -> None:
        """Run boot units for the direct requirements: note their stack_info, stop on ``not_acceptable``."""
        names = {canonicalize_name(n) for n in direct}
        self.catalog.consider(names)
        for unit in self.of_kind("boot"):
            if unit.match and not any(e.package_name in names for e in unit.match):
                continue
            self._noticed(unit)
            refusal = unit.run.not_acceptable or unit.run.eager_stop_pipeline
            if refusal and self.enforced(unit):
                raise ResolutionError(f"{refusal} [prescription {unit.name}]")


def _index_url(artifacts: Sequence[Artifact]) -> Optional[str]:
    for artifact in artifacts:
        if artifact.index is not None:
            return artifact.index.url
    return None
