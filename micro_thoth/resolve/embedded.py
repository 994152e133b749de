"""The embedded resolver: resolvelib over a PackageSource, errors translated once, guided improvement.

``resolve`` gives one stack; ``resolve_categories`` resolves pipenv categories
(``default`` first, its pins constraining the others); ``improve`` searches,
within a bound, for a stack the policy scores higher; ``EmbeddedResolver`` is
the ``Resolver`` of a guided lock made here.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Optional

import resolvelib
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifacts import ProjectPage
from ..errors import ResolutionError, ResolutionTooDeep
from ..guidance.justification import build_report
from ..guidance.policy import GuidancePolicy
from ..guidance.stack import honour_stack_rules
from ..models import DEFAULT_CATEGORY, Dependency, Source, Target
from .candidates import Requirement, from_dependency
from .choices import kept_preferences
from .explain import explain
from .finder import Finder
from .markers import evaluate
from .protocols import CandidatePolicy, PackageSource
from .provider import Provider
from .reporter import ReporterAdapter, ResolverReporter
from .resolver import LockPolicy, Resolved, ResolverInput, Upgrade
from .result import Resolution, ResolvedPin, assemble


def resolve(
    requirements: Sequence[Dependency],
    *,
    source: PackageSource,
    target: Target,
    constraints: Sequence[Dependency] = (),
    allow_prereleases: bool = False,
    preferences: Mapping[NormalizedName, str] = {},
    upgrade: Upgrade = False,
    policy: Optional[CandidatePolicy] = None,
    reporter: Optional[ResolverReporter] = None,
    max_rounds: int = 2000,
) -> Resolution:
    """Pin ``requirements`` (and their dependencies) for ``target``; raise ResolutionError if impossible.

    Requirements and constraints whose markers do not hold for the target are
    left out, as pipenv does.
    """
    roots = _for_target(requirements, target, allow_prereleases)
    provider = Provider(
        source,
        target,
        roots=roots,
        constraints=_for_target(constraints, target, False),
        allow_prereleases=allow_prereleases,
        preferences=preferences,
        upgrade=upgrade,
        policy=policy,
    )
    resolver = resolvelib.Resolver(provider, ReporterAdapter(reporter))
    try:
        result = resolver.resolve(roots, max_rounds=max_rounds)
    except resolvelib.ResolutionImpossible as exc:
        raise explain(exc.causes, provider) from exc
    except resolvelib.ResolutionTooDeep as exc:
        raise ResolutionTooDeep(
            f"gave up after {exc.round_count} rounds of backtracking",
            hint="pin some packages closer to the versions you expect, or raise the round limit",
        ) from exc
    return assemble(result.mapping, provider, roots)


def _for_target(deps: Sequence[Dependency], target: Target, prereleases: bool) -> list[Requirement]:
    requirements = [from_dependency(dep, allow_prereleases=prereleases) for dep in deps]
    return [r for r in requirements if evaluate(r.markers, target.markers)]


def resolve_categories(
    categories: Mapping[str, Sequence[Dependency]],
    *,
    source: PackageSource,
    target: Target,
    allow_prereleases: bool = False,
    preferences: Mapping[str, Mapping[NormalizedName, str]] = {},
    upgrade: Upgrade = False,
    policy: Optional[CandidatePolicy] = None,
    reporter: Optional[ResolverReporter] = None,
    max_rounds: int = 2000,
) -> dict[str, Resolution]:
    """Resolve pipenv categories: ``default`` first, then each other one under its pins.

    A package in both ``default`` and another category gets one version.
    ``preferences`` are the previous lock's pins per category.
    """
    def run(name: str, constraints: Sequence[Dependency]) -> Resolution:
        return resolve(
            categories.get(name, ()),
            source=source,
            target=target,
            constraints=constraints,
            allow_prereleases=allow_prereleases,
            preferences=preferences.get(name, {}),
            upgrade=upgrade,
            policy=policy,
            reporter=reporter,
            max_rounds=max_rounds,
        )

    out = {DEFAULT_CATEGORY: run(DEFAULT_CATEGORY, ())}
    pinned = as_constraints(out[DEFAULT_CATEGORY])
    for name in categories:
        if name != DEFAULT_CATEGORY:
            out[name] = run(name, pinned)
    return out


def as_constraints(resolution: Resolution) -> list[Dependency]:
    """A resolution's pins as constraints (same version, same index, same direct reference)."""
    return [_constraint(pin) for pin in resolution.pins.values()]


def _constraint(pin: ResolvedPin) -> Dependency:
    if pin.direct is not None:
        return Dependency(pin.name, direct=pin.direct)
    return Dependency(pin.name, f"=={pin.version}", index=pin.index.name if pin.index else None)


def improve(
    resolution: Resolution,
    requirements: Sequence[Dependency],
    *,
    source: PackageSource,
    target: Target,
    policy: CandidatePolicy,
    constraints: Sequence[Dependency] = (),
    allow_prereleases: bool = False,
    limit: int = 10,
    timeout: float = 30.0,
    seed: int = 0,
    max_rounds: int = 2000,
) -> Resolution:
    """Try to raise the stack's total score by excluding its negatively scored pins.

    At most ``limit`` re-resolutions within ``timeout`` seconds; each excludes
    one more version (lowest score first, ties ordered by ``seed``) and is kept
    only if the total score rises. Unacceptable candidates never enter a stack
    (the provider drops them), so neither does the result.
    """
    again = functools.partial(
        resolve, requirements, source=source, target=target, allow_prereleases=allow_prereleases,
        policy=policy, max_rounds=max_rounds,
    )
    best, excluded = resolution, list[Dependency]()
    rng, deadline, tried = random.Random(seed), time.monotonic() + timeout, set[tuple[str, str]]()
    for _ in range(limit):
        pin = _worst(best, tried, rng)
        if pin is None or time.monotonic() > deadline:
            break
        tried.add((pin.key, pin.version))
        attempt = [*excluded, Dependency(pin.name, f"!={pin.version}")]
        trial = _attempt(again, [*constraints, *attempt])
        if trial is not None and trial.score > best.score:
            best, excluded = trial, attempt
    return best


def _attempt(again: Callable[..., Resolution], constraints: Sequence[Dependency]) -> Optional[Resolution]:
    try:
        return again(constraints=constraints)
    except ResolutionError:
        return None


def _worst(resolution: Resolution, tried: set[tuple[str, str]], rng: random.Random) -> Optional[ResolvedPin]:
    bad = [
        p
        for p in resolution.pins.values()
        if p.score < 0 and p.direct is None and (p.key, p.version) not in tried
    ]
    rng.shuffle(bad)
    bad.sort(key=lambda p: p.score)
    return bad[0] if bad else None


def changed(before: Mapping[str, str], after: Resolution) -> dict[NormalizedName, tuple[Optional[str], Optional[str]]]:
    """Pins that differ between a previous lock's versions and a new resolution: name -> (old, new)."""
    old = {canonicalize_name(k): v.lstrip("=") for k, v in before.items()}
    new = after.versions()
    return {
        name: (old.get(name), new.get(name))
        for name in sorted(set(old) | set(new))
        if _parse(old.get(name)) != _parse(new.get(name))
    }


def _parse(version: Optional[str]) -> Optional[object]:
    if version is None:
        return None
    try:
        return Version(version)
    except InvalidVersion:
        return version


# --- the Resolver ------------------------------------------------------------------------------

SourceFor = Callable[[Sequence[Source], Mapping[NormalizedName, str], Optional[datetime]], PackageSource]
OpenPolicy = Callable[[LockPolicy, Sequence[Source]], AbstractContextManager[GuidancePolicy]]


def _source_key(project: ResolverInput, exclude_newer: Optional[datetime]) -> object:
    return project.sources, tuple(sorted(project.pinned_indexes.items())), exclude_newer


class EmbeddedResolver:
    """The ``Resolver`` that resolves here: boots, ``default`` under the stack rules (optionally improved), then the rest.

    ``source_for(sources, pinned_indexes, exclude_newer)`` gives the indexes'
    PackageSource and ``open_policy(policy, sources)`` the live GuidancePolicy:
    both are I/O, so the pipeline passes them in.
    """

    def __init__(self, source_for: SourceFor, open_policy: OpenPolicy, reporter: Optional[ResolverReporter] = None) -> None:
        self._source_for = source_for
        self._open_policy = open_policy
        self._reporter = reporter
        self._prepared: Optional[tuple[object, PackageSource]] = None  # (its key, the source prefetch() started)
        self._likely: Optional[Callable[[ProjectPage], None]] = None  # the roots' pages' speculation, once the target is known

    def prefetch(self, project: ResolverInput, exclude_newer: Optional[datetime]) -> None:
        """Start fetching the roots' pages while the target is still being learned (a hint: the next
        ``resolve`` of this input uses this source and joins them). Only what the Provider would
        prefetch itself: no direct reference, no name bound to an index, nor one a marker may leave out."""
        source = self._source_for(project.sources, project.pinned_indexes, exclude_newer)
        self._prepared = (_source_key(project, exclude_newer), source)
        pinned = {canonicalize_name(name) for name in project.pinned_indexes}
        names = {d.key for deps in project.categories.values() for d in deps
                 if d.direct is None and d.index is None and not d.markers and d.key not in pinned}
        self._likely = None
        source.prefetch(sorted(names), then=self._read_likely_abi)

    def _read_likely_abi(self, page: ProjectPage) -> None:
        """A root's page arrived, on the thread that fetched it: once the resolution has begun (the target
        known), the likely pin's wheel's ELF facts are read there too, as the Provider's own page prefetches
        do (``Finder.read_likely_abi``); before, nothing (the resolver reads them when it judges the pin)."""
        likely = self._likely
        if likely is not None:
            likely(page)

    def _source(self, project: ResolverInput, exclude_newer: Optional[datetime]) -> PackageSource:
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == _source_key(project, exclude_newer):
            return prepared[1]
        return self._source_for(project.sources, project.pinned_indexes, exclude_newer)

    def resolve(self, project: ResolverInput, target: Target, policy: LockPolicy) -> Resolved:
        source = self._source(project, policy.exclude_newer)
        with self._open_policy(policy, project.sources) as guide:
            self._likely = self._speculation(project, source, target, guide) if target.abi_symbols else None
            try:
                guide.check_boots(d.name for deps in project.categories.values() for d in deps)
                guide.spare({name: version for pins in project.preferences().values() for name, version in pins.items()})
                resolutions = self._categories(project, source, target, policy, guide)
            finally:
                self._likely = None
            report = build_report(
                guide,
                resolutions[DEFAULT_CATEGORY],
                requirements={c: [d.to_pep508() for d in deps] for c, deps in project.categories.items()},
                runtime_environment=policy.environment.to_thoth_dict(),
            )
        return Resolved(resolutions=resolutions, report=report)

    @staticmethod
    def _speculation(project: ResolverInput, source: PackageSource, target: Target, guide: GuidancePolicy
                     ) -> Callable[[ProjectPage], None]:
        """What a root's page does on arrival once the target is known: the Provider's guess of its pin."""
        kept = kept_preferences(project.preferences().get(DEFAULT_CATEGORY, {}), project.upgrade)
        finder = Finder(source, target)
        return lambda page: finder.read_likely_abi(page, kept.get(page.name), guide.too_young)

    def _categories(
        self, project: ResolverInput, source: PackageSource, target: Target, policy: LockPolicy, guide: GuidancePolicy
    ) -> dict[str, Resolution]:
        allow_pre = project.allow_prereleases or policy.pre
        preferences = project.preferences()
        roots = project.categories.get(DEFAULT_CATEGORY, ())
        run = functools.partial(
            resolve, source=source, target=target, allow_prereleases=allow_pre, upgrade=project.upgrade, policy=guide,
            reporter=self._reporter,
        )

        def default_with(excluded: Sequence[Dependency]) -> Resolution:
            return run(roots, constraints=[*project.constraints, *excluded], preferences=preferences.get(DEFAULT_CATEGORY, {}))

        default = honour_stack_rules(default_with, guide)
        if policy.search.limit > 0:
            default = improve(
                default, roots, source=source, target=target, policy=guide, constraints=project.constraints,
                allow_prereleases=allow_pre, limit=policy.search.limit, timeout=policy.search.timeout, seed=policy.search.seed,
            )
        out = {DEFAULT_CATEGORY: default}
        pinned = as_constraints(default)
        for category, deps in project.categories.items():
            if category != DEFAULT_CATEGORY:
                out[category] = run(deps, constraints=pinned, preferences=preferences.get(category, {}))
        return out
