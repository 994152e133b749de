"""The thin resolvelib provider: requirements, candidates, and the order to try them in.

Matching lives in ``finder``, requirements and candidates in ``candidates``,
whose word counts (the user's, not a package's) in ``choices``;
what is acceptable and how good it is comes from the ``CandidatePolicy``. Identifiers are canonical names, with sorted extras
in brackets (``a[x,y]``) handled pip's way: the extras candidate depends on
the plain candidate of the same version plus the extras' requirements. A
special identifier ``<python>`` stands for the target's Python, which
``Requires-Python`` from metadata is checked against.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Optional, Union

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider

from ..artifacts import Artifact, CoreMetadata, ProjectPage, version_or_none
from ..models import DirectReference, Justification, Substitute, Target, Verdict
from .candidates import (
    PYTHON,
    Candidate,
    Requirement,
    _direct_satisfies,
    from_pep508,
)
from .choices import declared_direct_refused, index_pins, kept_preferences, users_choice
from .finder import (
    Finder,
    Release,
    admitted,
    best_artifact,
    binary_first,
    matching,
    matching_lazily,
    python_admits,
)
from .lazy import Lazy, newer_touched_first
from .markers import evaluate
from .protocols import CandidatePolicy, PackageSource

PREFERENCE_COUNT_CAP = 100
NEUTRAL = Verdict()


Matches = Union[Sequence[Candidate], Iterator[Candidate], Callable[[], Iterator[Candidate]]]


class Provider(AbstractProvider):  # type: ignore[type-arg]
    """resolvelib's view of our world: the finder for candidates, the policy for their order."""

    def __init__(
        self,
        source: PackageSource,
        target: Target,
        *,
        roots: Sequence[Requirement],
        constraints: Sequence[Requirement] = (),
        allow_prereleases: bool = False,
        preferences: Mapping[NormalizedName, str] = {},
        upgrade: Union[Collection[NormalizedName], bool] = False,
        policy: Optional[CandidatePolicy] = None,
    ) -> None:
        self.source = source
        self.target = target
        self.finder = Finder(source, target)
        # a policy may allow pre-releases for every package (the ``testing`` type)
        self.allow_prereleases = allow_prereleases or bool(getattr(policy, "allow_prereleases", False))
        self.policy = policy
        self.preferences = kept_preferences(preferences, upgrade)
        self.python = Candidate(PYTHON, Version(target.python_full_version))
        self.constraints: dict[str, list[Requirement]] = {}
        for con in constraints:
            self.constraints.setdefault(con.name, []).append(con)
        self.index_pins = index_pins([*roots, *constraints])
        self.pre_names = {r.name for r in [*roots, *constraints] if r.allow_prereleases}
        self.directs = {r.name: r.direct for r in [*constraints, *roots] if r.direct is not None}
        # a source may read only the direct references the user gave, not those a package declares
        self._follows_declared = getattr(source, "follows_declared_direct", True)
        self.verdicts: dict[tuple[str, Version, str], Verdict] = {}
        self.refusals: list[Justification] = []
        self.abi_refusals: dict[NormalizedName, list[Justification]] = {}  # said on the chosen pin
        self.requested: dict[str, list[Requirement]] = {}
        self.kept: dict[NormalizedName, tuple[Version, Version]] = {}  # name -> (previous pin kept, newer one passed over)
        self._dependencies: dict[Candidate, tuple[Requirement, ...]] = {}
        self._metadata: dict[tuple[str, Version, str], CoreMetadata] = {}
        self._asked: set[tuple[str, Version, str]] = set()
        self._found: dict[tuple[str, frozenset[str], bool, frozenset[Version]], Union[tuple[Candidate, ...], Lazy[Candidate]]] = {}
        self._direct: dict[tuple[str, DirectReference], tuple[CoreMetadata, DirectReference, tuple[Artifact, ...]]] = {}
        self._counts: dict[tuple[str, tuple[int, ...]], int] = {}  # (identifier, requirement ids) -> count before ABI checks
        for root in roots:
            self.requested.setdefault(root.key, []).append(root)
        self._prefetch_pages(roots)  # every root's page at once: resolvelib asks for them one by one

    # resolvelib interface -------------------------------------------------

    def identify(self, requirement_or_candidate: Union[Requirement, Candidate]) -> str:
        return requirement_or_candidate.key

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[bool, bool, bool, int, bool, str]:
        infos = list(information[identifier])
        pinned = any(i.requirement.direct or i.requirement.pinned_versions() for i in infos)
        causes = {c.requirement.key for c in backtrack_causes}
        causes.update(c.parent.key for c in backtrack_causes if c.parent is not None)
        count = self._candidate_count(identifier, infos, candidates)
        is_root = any(i.parent is None for i in infos)
        return (identifier != PYTHON, not pinned, identifier not in causes, count, not is_root, identifier)

    def _candidate_count(self, identifier: str, infos: Sequence[Any], candidates: Mapping[str, Iterator[Candidate]]) -> int:
        """How many candidates (up to the cap) the identifier has. With ABI checks the count is the
        one find_matches saw before them: counting through the lazy filter would read the ELF members
        of up to a hundred wheels per project that the resolver never tries."""
        known = self._counts.get((identifier, tuple(id(i.requirement) for i in infos)))
        if known is not None:
            return known
        return sum(1 for _ in itertools.islice(candidates[identifier], PREFERENCE_COUNT_CAP))

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Matches:
        reqs = list(requirements[identifier])
        bad = set(incompatibilities[identifier])
        found = self._matches(identifier, reqs) if reqs else ()
        ids = (identifier, tuple(id(r) for r in reqs))
        if isinstance(found, Lazy):  # judged as far as the resolver goes; counted before judging
            self._counts[ids] = min(max(found.estimate - len(bad), 0), PREFERENCE_COUNT_CAP)
            lazy = found
            return lambda: (c for c in lazy if c not in bad and (not self.target.abi_symbols or self._runs_on_target(c)))
        kept = [c for c in found if c not in bad] if bad else list(found)
        if not self.target.abi_symbols:
            return kept
        self._counts[ids] = min(len(kept), PREFERENCE_COUNT_CAP)
        return lambda: (c for c in kept if self._runs_on_target(c))  # lazy: only candidates tried are read

    def _runs_on_target(self, candidate: Candidate) -> bool:
        """False (and the refusal noted once) when the target lacks a symbol version its wheel needs."""
        refusal = self.finder.abi_refusal(candidate.release) if candidate.release is not None else None
        if refusal is not None and refusal not in self.refusals:
            self.refusals.append(refusal)
            self.abi_refusals.setdefault(candidate.name, []).append(refusal)
        return refusal is None

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if requirement.direct is not None:
            return _direct_satisfies(requirement.direct, candidate)
        if candidate.stands_for is not None:
            return requirement.admits(candidate.stands_for[1])
        return requirement.admits(candidate.version)

    def get_dependencies(self, candidate: Candidate) -> Iterable[Requirement]:
        if candidate.is_python:
            return ()
        if candidate not in self._dependencies:
            deps = tuple(self._compute_dependencies(candidate))
            self._dependencies[candidate] = deps
            for dep in deps:
                self.requested.setdefault(dep.key, []).append(dep)
            self._prefetch_pages(deps)
        return self._dependencies[candidate]

    def _prefetch_pages(self, deps: Iterable[Requirement]) -> None:
        """Names about to be matched; not those pinned to an index: prefetch() searches every
        index, and a private name must never be asked of another one."""
        names = {d.name for d in deps if d.name != PYTHON and d.direct is None and d.index is None and d.name not in self.index_pins}
        if names:
            self.source.prefetch(sorted(names), then=self._read_likely_abi if self.target.abi_symbols else None)

    def _read_likely_abi(self, page: ProjectPage) -> None:
        """On the thread that brought a page: the likely pin's wheel's ELF facts (``Finder.read_likely_abi``);
        the likely pin is the existing lock's, else the newest the policy's cooldown would not hold back."""
        held_back = self.policy.too_young if self.policy is not None else (lambda files: False)
        self.finder.read_likely_abi(page, self.preferences.get(page.name), held_back)

    # candidates -------------------------------------------------------------

    def _matches(self, identifier: str, reqs: Sequence[Requirement]) -> Union[Sequence[Candidate], Lazy[Candidate]]:
        everything = [*reqs, *self.constraints.get(reqs[0].name, ())]
        direct = next((r.direct for r in reqs if r.direct is not None), self.directs.get(reqs[0].name))
        if direct is not None and direct != self.directs.get(reqs[0].name) and not self._follows_declared:
            raise declared_direct_refused(next(r for r in reqs if r.direct == direct))
        if identifier == PYTHON:
            one = self.python
        elif direct is not None:
            one = self._direct_candidate(reqs[0].name, direct, reqs[0].extras)
        else:
            return self._from_index(reqs, everything)
        return [one] if all(self.is_satisfied_by(r, one) for r in everything) else []

    def _from_index(self, reqs: Sequence[Requirement], everything: Sequence[Requirement]) -> Union[Sequence[Candidate], Lazy[Candidate]]:
        """Releases every requirement and constraint admits, in preference order (memoised)."""
        first = reqs[0]
        index = self.index_pins.get(first.name) or next((r.index for r in reqs if r.index), None)
        releases = self.finder.releases(first.name, index)
        missing = self.finder.missing.get(first.name)
        if missing is not None and any(r.parent is None for r in reqs):
            raise missing
        allowed = self.allow_prereleases or first.name in self.pre_names or any(r.allow_prereleases for r in everything)
        pinned = frozenset(v for r in everything if users_choice(r) for v in r.pinned_versions())
        key = (first.key, frozenset(str(r.specifier) for r in everything), allowed, pinned)
        if key not in self._found:
            specifiers = [r.specifier for r in everything]
            admits = admitted(releases, specifiers)
            order = self._lazy_order(first.name, admits)
            if order is None:
                fitting = matching(releases, specifiers, prereleases=allowed, pinned=pinned)
                fitting = binary_first(fitting) if self.target.formats.prefer_binary else fitting
                found = [self._release_candidate(r, first.extras) for r in self._ordered(fitting)]
                if not first.extras and self.policy is not None:
                    found = self._with_stand_ins(found, everything, allowed)
                self._found[key] = tuple(found)
            else:
                fits = matching_lazily(order, specifiers, prereleases=allowed, pinned=pinned)
                if order is not admits:  # by score: what newest-first judging would have judged before each is judged first
                    fits = newer_touched_first(fits, matching_lazily(admits, specifiers, prereleases=allowed, pinned=pinned),
                                               lambda r, than: r.version >= than.version, self.verdict)
                ordered = self._preferred_first(first.name, (r for r in fits if self.verdict(r).acceptable), order is admits)
                self._found[key] = Lazy((self._release_candidate(r, first.extras) for r in ordered), len(admits))
            self._prefetch_metadata(list(itertools.islice(self._found[key], 1)))
        return self._found[key]

    def _lazy_order(self, name: NormalizedName, releases: Sequence[Release]) -> Optional[Sequence[Release]]:
        """The order the admitted releases are judged in lazily: newest first (``releases`` itself), or by the score
        their versions alone decide (a penalised vulnerability: ``version_scores``), as ``_ordered`` sorts them.
        None when every one must be judged before the first is tried: to order them (--prefer-binary; a policy
        that may score them apart or offer stand-ins) or to find a previous pin that is no PEP 440 version."""
        preferred = self.preferences.get(name)
        if self.target.formats.prefer_binary or (preferred is not None and version_or_none(preferred) is None):
            return None
        if self.policy is None:
            return releases
        ranks, scores_of = getattr(self.policy, "ranks", None), getattr(self.policy, "version_scores", None)
        if ranks is not None and not ranks(name, [r.version for r in releases]):
            return releases
        scores = scores_of(name, [r.version for r in releases], [r.index.url for r in releases]) if scores_of is not None else None
        if scores is None or len(set(scores)) <= 1:
            return None if scores is None else releases
        return [r for _s, _i, r in sorted(zip((-s for s in scores), itertools.count(), releases))]

    def _preferred_first(self, name: NormalizedName, releases: Iterator[Release], newest_first: bool = True) -> Iterator[Release]:
        """``_ordered``'s previous pin first, lazily: when the releases come newest first, only
        those newer than the pin are judged before it is offered (else those ordered before it)."""
        preferred = self.preferences.get(name)
        wanted = version_or_none(preferred) if preferred is not None else None
        if wanted is None:
            yield from releases
            return
        head: list[Release] = []
        for release in releases:
            head.append(release)
            if release.version <= wanted if newest_first else release.version == wanted:
                break
        first = [r for r in head if r.version == wanted]
        if first and head[0] not in first and head[0].version > first[0].version:
            self.kept[name] = (first[0].version, head[0].version)
        yield from first
        yield from (r for r in head if r not in first)
        yield from releases

    def _prefetch_metadata(self, candidates: Sequence[Candidate]) -> None:
        """Ask the source (if it can) to fetch the metadata of the likely next pin in the background."""
        prefetch = getattr(self.source, "prefetch_metadata", None)
        wanted = [c.release for c in candidates if c.release is not None and _release_key(c.release) not in self._asked]
        if prefetch is None or not wanted:
            return
        self._asked.update(_release_key(r) for r in wanted)
        prefetch([best_artifact(r.installable(allow_yanked=True) or r.artifacts, self.target) for r in wanted],
                 self._prefetch_dependency_pages)

    def _prefetch_dependency_pages(self, metadata: CoreMetadata) -> None:
        """Speculation, on the thread that brought a likely pin's metadata: the pages of the dependencies
        the target's markers keep (not an extra's; Requires-Dist as published: the policy's overrides are
        the resolver's to apply), in hand when the resolver gets there. The same rules as every page
        prefetch (``_prefetch_pages``): no name bound to an index, no direct reference."""
        deps = (from_pep508(text, None) for text in metadata.requires_dist)
        self._prefetch_pages(d for d in deps if d is not None and evaluate(d.markers, self.target.markers, ""))

    def _release_candidate(self, release: Release, extras: frozenset[str]) -> Candidate:
        return Candidate(release.name, release.version, extras, release.index, release=release)

    # pseudonyms ---------------------------------------------------------------

    def _with_stand_ins(self, found: Sequence[Candidate], everything: Sequence[Requirement], allowed: bool) -> list[Candidate]:
        """Each candidate preceded by the stand-ins its pseudonyms offer that score at least as
        well, and followed by the others; every stand-in must satisfy what the originals must."""
        alternatives = getattr(self.policy, "alternatives", None)
        if alternatives is None:
            return list(found)
        out: list[Candidate] = []
        seen = set(found)
        for candidate in found:
            assert candidate.release is not None
            offers = [s for sub in alternatives(candidate.name, candidate.version, candidate.release.artifacts)
                      for s in self._stand_ins(candidate, sub, allowed)]
            offers = [s for s in offers if s not in seen and all(self.is_satisfied_by(r, s) for r in everything)]
            seen.update(offers)
            floor = self._score(candidate)
            out += [s for s in offers if self._score(s) >= floor] + [candidate] + [s for s in offers if self._score(s) < floor]
        return out

    def _stand_ins(self, matched: Candidate, sub: Substitute, allowed: bool) -> list[Candidate]:
        """The acceptable releases ``sub`` names, best scored first, as candidates for ``matched``'s identifier."""
        name = canonicalize_name(sub.name)
        pinned = self.index_pins.get(name)
        if pinned is not None and sub.index not in (None, pinned):
            return []  # the user pinned this project to another index: never look elsewhere
        releases = self.finder.releases(name, sub.index or pinned)
        fitting = [r for r in matching(releases, [SpecifierSet(sub.specifier)], prereleases=allowed) if self.verdict(r).acceptable]
        fitting.sort(key=lambda r: -self.verdict(r).score)
        stands_for = None if name == matched.name else (matched.name, matched.version)
        return [
            Candidate(name, r.version, frozenset(), r.index, stands_for=stands_for, release=r, reason=_stand_in_reason(r, matched, sub))
            for r in fitting
        ]

    def _score(self, candidate: Candidate) -> float:
        return self.verdict(candidate.release).score if candidate.release is not None else 0.0

    def _direct_candidate(self, name: str, reference: DirectReference, extras: frozenset[str]) -> Candidate:
        key = (name, reference)
        if key not in self._direct:
            self._direct[key] = self.source.direct(name, reference)
        metadata, locked, files = self._direct[key]
        return Candidate(
            canonicalize_name(name),
            Version(metadata.version),
            extras,
            direct=locked,
            requested=reference,
            metadata=metadata,
            files=files,
        )

    def _ordered(self, releases: list[Release]) -> list[Release]:
        """Previous pin first (unless upgraded), then by policy score, then newest."""
        if self.policy is not None:
            judged = [(self.verdict(r), r) for r in releases]
            releases = [r for v, r in sorted(judged, key=lambda vr: -vr[0].score) if v.acceptable]
        preferred = self.preferences.get(releases[0].name) if releases else None
        if preferred is not None:
            first = [r for r in releases if str(r.version) == preferred or r.version == version_or_none(preferred)]
            if first and releases[0] not in first and releases[0].version > first[0].version:
                self.kept[releases[0].name] = (first[0].version, releases[0].version)
            releases = first + [r for r in releases if r not in first]
        return releases

    def verdict(self, release: Release) -> Verdict:
        """What the policy says of a release (asked once, refusals recorded)."""
        key = _release_key(release)
        if self.policy is None:
            return NEUTRAL
        if key not in self.verdicts:
            verdict = self.policy.judge(
                release.name, release.version, release.artifacts, lambda: self._metadata_of(release)
            )
            self.verdicts[key] = verdict
            if not verdict.acceptable:
                self.refusals.extend(verdict.justifications)
        return self.verdicts[key]

    # dependencies -------------------------------------------------------------

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        if candidate.metadata is not None:
            return candidate.metadata
        assert candidate.release is not None
        return self._metadata_of(candidate.release)

    def _metadata_of(self, release: Release) -> CoreMetadata:
        key = _release_key(release)
        if key not in self._metadata:
            artifacts = release.installable(allow_yanked=True) or release.artifacts
            self._metadata[key] = self.source.metadata(best_artifact(artifacts, self.target))
        return self._metadata[key]

    def _compute_dependencies(self, candidate: Candidate) -> Iterator[Requirement]:
        if candidate.stands_for is not None:
            yield self._base_requirement(candidate)
            return
        metadata = self.metadata(candidate)
        if candidate.extras:
            yield self._base_requirement(candidate)
        elif metadata.requires_python and not self._python_ok(metadata.requires_python):
            yield Requirement(PYTHON, SpecifierSet(metadata.requires_python), f"Python {metadata.requires_python}", parent=candidate)
        for text in self._requires_dist(candidate, metadata):
            req = from_pep508(text, candidate)
            if req is not None and self._wanted(req, candidate.extras):
                yield req

    def _requires_dist(self, candidate: Candidate, metadata: CoreMetadata) -> Sequence[str]:
        if self.policy is None:
            return metadata.requires_dist
        return self.policy.override_requirements(candidate.name, candidate.version, metadata.requires_dist)

    def _wanted(self, req: Requirement, extras: frozenset[str]) -> bool:
        """Plain candidates take requirements without extras; extras candidates only the extras' own."""
        env = self.target.markers
        if not extras:
            return evaluate(req.markers, env, "")
        if evaluate(req.markers, env, ""):
            return False
        return any(evaluate(req.markers, env, extra) for extra in sorted(extras))

    def _python_ok(self, requires_python: str) -> bool:
        return python_admits(requires_python, self.target)

    def _base_requirement(self, candidate: Candidate) -> Requirement:
        if candidate.requested is not None:
            text = f"{candidate.name} @ {candidate.requested.pip_url()}"
            return Requirement(candidate.name, SpecifierSet(), text, direct=candidate.requested, parent=candidate)
        spec = SpecifierSet(f"=={candidate.version}")
        index = candidate.index.name if candidate.stands_for is not None and candidate.index is not None else None
        return Requirement(candidate.name, spec, f"{candidate.name}=={candidate.version}", index=index, parent=candidate)

    def dependencies_of(self, candidate: Candidate) -> tuple[Requirement, ...]:
        """Dependencies already computed for a candidate (empty if never asked)."""
        return self._dependencies.get(candidate, ())

    def declared_requirements(self, candidate: Candidate) -> tuple[Requirement, ...]:
        """Every requirement a chosen candidate declares, whatever its markers say of this target.

        The lock's markers say *when* a package is needed: ``numpy>=2.0; python_version < "3.14"``
        and ``numpy>=2.3; python_version >= "3.14"`` together mean "always", though only one
        of them holds here. Extras are left to the marker algebra (``markers.parse``).
        """
        resolved = self.dependencies_of(candidate)
        if candidate.is_python or candidate.stands_for is not None or candidate not in self._dependencies:
            return resolved
        seen = {(r.key, r.text, r.markers) for r in resolved}
        extra: list[Requirement] = []
        for text in self._requires_dist(candidate, self.metadata(candidate)):
            req = from_pep508(text, candidate)
            if req is not None and (req.key, req.text, req.markers) not in seen:
                seen.add((req.key, req.text, req.markers))
                extra.append(req)
        return (*resolved, *extra)


def _stand_in_reason(release: Release, matched: Candidate, sub: Substitute) -> Justification:
    where = f" from {release.index.name}" if matched.index is None or release.index.url != matched.index.url else ""
    message = f"{release.name} {release.version}{where} stands in for {matched.name} {matched.version}"
    return Justification("INFO", f"{message} [{sub.reason}]" if sub.reason else message, sub.link, release.name, str(release.version))


def _release_key(release: Release) -> tuple[str, Version, str]:
    return release.name, release.version, release.index.url


def release_artifacts(candidate: Candidate, target: Target, skipped: frozenset[str] = frozenset()) -> tuple[Artifact, ...]:
    """Every file of the candidate's version on its index that the target's binary options allow
    (a direct reference's own archive, if any): with ``--no-binary :all:`` no wheel hash, as pip-compile;
    nor the ``skipped`` wheels the target cannot run (``finder.AbiVerdict``)."""
    if candidate.release is None:
        return candidate.files
    formats = target.formats
    return tuple(
        a for a in candidate.release.artifacts if formats.allows(a.name, wheel=a.is_wheel) and a.filename not in skipped
    )
