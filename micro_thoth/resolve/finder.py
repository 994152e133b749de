"""Candidates of a project for a target: versions whose files the target can use.

A release is usable when at least one of its files is: a wheel whose tags the
target supports or an sdist, whose ``Requires-Python`` admits the target's
Python, and which is not yanked (PEP 592) -- yanked files count only for a
requirement that pins ``==`` that version. Every file of the version is kept
too, because the lock carries the hash of each.

When the target says which symbol versions its system libraries define, its
wheels are judged file by file, as pip judges tags: the best-ranked wheel that
needs no missing version is the one used, the better-ranked ones that do are
left out of the lock (``AbiVerdict.skipped``), and a release is refused only
when none of its wheels runs (``abi_verdict``: asked lazily, only of releases
the resolver is about to try; the next wheel is read only if the best fails).
A wheel whose ELF members cannot be read (not a readable zip, an index error)
has an unknown ABI: it is used as pip would use it, unchecked, and the lock
says so (``AbiVerdict.notes``), naming the wheel and why.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from ..artifacts import Artifact, ProjectPage, version_or_none
from ..cached import cached_property
from ..errors import IndexUnreachable, PackageIndexError, PackageNotFound
from ..guidance.abi import MissingSymbol, WheelAbi, missing_symbols, refusal_message, summarize
from ..models import Justification, Source, Target
from .protocols import PackageSource


@dataclass(frozen=True)
class Release:
    """One version of a project on one index, judged for the target when first asked.

    A page may list thousands of files; most releases are ruled out by a specifier
    before anyone needs to know which of their files the target could install.
    """

    name: NormalizedName
    version: Version
    index: Source
    files: Callable[[], tuple[Artifact, ...]] = field(compare=False, repr=False)  # built when first asked
    fits: Callable[[Artifact], bool] = field(default=lambda artifact: True, compare=False, repr=False)

    @cached_property
    def artifacts(self) -> tuple[Artifact, ...]:
        """Every file of the version on its index."""
        return self.files()

    @cached_property
    def _judged(self) -> tuple[tuple[Artifact, ...], tuple[Artifact, ...]]:
        fit = [a for a in self.artifacts if self.fits(a)]
        return tuple(a for a in fit if a.yanked is None), tuple(a for a in fit if a.yanked is not None)

    @property
    def usable(self) -> tuple[Artifact, ...]:
        """Installable on the target and not yanked."""
        return self._judged[0]

    @property
    def yanked(self) -> tuple[Artifact, ...]:
        """Installable on the target but yanked."""
        return self._judged[1]

    @property
    def requires_python(self) -> Optional[str]:
        for artifact in self.usable or self.yanked or self.artifacts:
            if artifact.requires_python:
                return artifact.requires_python
        return None

    def installable(self, *, allow_yanked: bool) -> tuple[Artifact, ...]:
        return self.usable or (self.yanked if allow_yanked else ())


def python_admits(requires_python: Optional[str], target: Target) -> bool:
    """Does a Requires-Python specifier admit the target's Python? Invalid ones do."""
    if not requires_python:
        return True
    return _admits(requires_python, target.python_full_version)


@lru_cache(maxsize=4096)
def _admits(requires_python: str, python_full_version: str) -> bool:
    """Memoised: a page repeats the same few specifiers over thousands of files."""
    try:
        return SpecifierSet(requires_python).contains(python_full_version, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


@dataclass(frozen=True)
class AbiVerdict:
    """What the target's symbol versions say of a release's wheels."""

    refusal: Optional[Justification] = None  # none of its wheels runs: the release is refused
    skipped: frozenset[str] = frozenset()  # better-ranked wheels that do not run: not locked, never installed
    notes: tuple[Justification, ...] = ()  # which wheel is used instead of the skipped ones; one not checked


RUNS = AbiVerdict()
GUESSES = 3  # a page's newest final releases the ELF-facts speculation considers (read_likely_abi)


def best_artifact(artifacts: Sequence[Artifact], target: Target) -> Artifact:
    """The file to read metadata from: the best-ranked wheel for the target, else an sdist."""
    wheels = [a for a in artifacts if a.is_wheel and target.tag_rank(a.tags) is not None]
    if wheels:
        return min(wheels, key=lambda a: (target.tag_rank(a.tags), not a.has_metadata_file))
    return next((a for a in artifacts if not a.is_wheel), artifacts[0])


class Finder:
    """Project pages from a PackageSource, turned into releases for one target."""

    def __init__(self, source: PackageSource, target: Target) -> None:
        self.source = source
        self.target = target
        self._releases: dict[tuple[NormalizedName, Optional[str]], tuple[Release, ...]] = {}
        self.missing: dict[NormalizedName, PackageNotFound] = {}
        self._abi: dict[tuple[NormalizedName, Version, str], AbiVerdict] = {}

    @property
    def skipped(self) -> dict[NormalizedName, dict[str, str]]:
        """name -> version -> why the target cannot use it (judged now: only errors ask)."""
        notes: dict[NormalizedName, dict[str, str]] = {}
        for (name, _index), releases in self._releases.items():
            for release in releases:
                if not (release.usable or release.yanked):
                    notes.setdefault(name, {})[str(release.version)] = self._why_unusable(release.artifacts)
                elif not release.usable:
                    reason = next((a.yanked for a in release.yanked if a.yanked), "") or "no reason given"
                    notes.setdefault(name, {})[str(release.version)] = f"is yanked ({reason}; pin it with == to take it)"
        return notes

    def releases(self, name: NormalizedName, index: Optional[str] = None) -> tuple[Release, ...]:
        """Releases, newest first, each judged for the target when first asked (empty, and
        noted in ``missing``, if no index has the project)."""
        key = (name, index)
        if key not in self._releases:
            try:
                page = self.source.project(name, index=index)
            except PackageNotFound as exc:
                self.missing[name] = exc
                page = None
            self._releases[key] = self._judge(page) if page is not None else ()
        return self._releases[key]

    def abi_refusal(self, release: Release) -> Optional[Justification]:
        """Why the target can run none of the release's wheels (a missing symbol version), or None."""
        return self.abi_verdict(release).refusal

    def abi_verdict(self, release: Release) -> AbiVerdict:
        """The release's wheels judged by the target's symbol versions, best-ranked first (once)."""
        key = (release.name, release.version, release.index.url)
        if key not in self._abi:
            self._abi[key] = self._judge_abi(release)
        return self._abi[key]

    def read_likely_abi(self, page: ProjectPage, preferred: Optional[str] = None,
                        held_back: Callable[[Sequence[Artifact]], bool] = lambda files: False) -> None:
        """Speculation, on the thread that brought a page: the ELF facts of the wheel ``abi_verdict``
        reads first, for the likely pin (the ``preferred`` version, else the newest of the
        ``GUESSES`` newest final releases the target can install that is not ``held_back``), so
        that the source holds them when the resolver judges it (just after matching: too late to
        start then). A wrong guess costs a read; an error is left for that judgement, which reads
        again. Nothing of the finder's own state is touched, and only the guessed versions' files built."""
        read = getattr(self.source, "wheel_abi", None)
        if not self.target.abi_symbols or read is None:
            return
        files = dict(page.version_files())
        pin = version_or_none(preferred) if preferred is not None else None
        newest = heapq.nlargest(GUESSES, (v for v in files if not v.is_prerelease))
        for version in ([pin] if pin in files else []) + [v for v in newest if v != pin]:
            release = Release(page.name, version, page.index, files[version], self._fits)
            if release.usable and (version == pin or not held_back(release.artifacts)):
                wheels = self._abi_wheels(release)
                if wheels and not _pure(wheels[0]):
                    read(wheels[0])
                return

    def _abi_wheels(self, release: Release) -> list[Artifact]:
        """The release's wheels the target can install, in the order their ELF members are judged
        (each wheel's rank computed once)."""
        ranked = [(rank, not a.has_metadata_file, i, a) for i, a in enumerate(release.installable(allow_yanked=True))
                  if a.is_wheel and (rank := self.target.tag_rank(a.tags)) is not None]
        return [a for *_key, a in sorted(ranked)]

    def _judge_abi(self, release: Release) -> AbiVerdict:
        read = getattr(self.source, "wheel_abi", None)
        if not self.target.abi_symbols or read is None:  # asked of every candidate: nothing built then
            return RUNS
        wheels = self._abi_wheels(release)
        if not wheels:
            return RUNS
        failed: list[tuple[Artifact, tuple[MissingSymbol, ...]]] = []
        for wheel in wheels:
            try:
                missing = self._missing(read, wheel)
            except IndexUnreachable:  # the network's fault, not the wheel's: the lock stops, as on any page
                raise
            except PackageIndexError as exc:  # unknown, not "runs": used as pip would, and said
                verdict = self._skipping(release, failed, wheel) if failed else RUNS
                return replace(verdict, notes=(*verdict.notes, self._unchecked(release, wheel, exc)))
            if not missing:
                return self._skipping(release, failed, wheel) if failed else RUNS
            failed.append((wheel, missing))
        best, missing = failed[0]
        message = (f"refused: {refusal_message(best.filename, missing)} (target: {summarize(self.target.abi_symbols)}); "
                   "another release is used. `thoth-pip env` shows where the target's symbols come from")
        return AbiVerdict(refusal=Justification("WARNING", message, None, release.name, str(release.version)))

    def _missing(self, read: Callable[[Artifact], WheelAbi], wheel: Artifact) -> tuple[MissingSymbol, ...]:
        """The symbol versions the wheel needs and the target lacks (PackageIndexError: unreadable)."""
        return () if _pure(wheel) else missing_symbols(read(wheel), self.target.abi_symbols)

    def _unchecked(self, release: Release, wheel: Artifact, exc: PackageIndexError) -> Justification:
        """Why a wheel's ABI is unknown, and what is done with it: it is locked unchecked, as pip would lock it."""
        reason = str(exc) if wheel.filename in str(exc) else f"{wheel.filename}: {exc}"
        message = (f"ABI not checked: {reason}; it is locked as pip would lock it, unchecked against the target's "
                   f"symbol versions (target: {summarize(self.target.abi_symbols)}). Once installed, "
                   "`thoth-pip check` reads its shared objects")
        return Justification("WARNING", message, None, release.name, str(release.version))

    def _skipping(self, release: Release, failed: Sequence[tuple[Artifact, tuple[MissingSymbol, ...]]],
                  used: Artifact) -> AbiVerdict:
        names = [wheel.filename for wheel, _ in failed]
        best, missing = failed[0]
        message = (f"{refusal_message(best.filename, missing)} (target: {summarize(self.target.abi_symbols)}); the lock leaves out "
                   f"{', '.join(names)}, so pip and thoth-pip install {used.filename}")
        note = Justification("WARNING", message, None, release.name, str(release.version))
        return AbiVerdict(skipped=frozenset(names), notes=(note,))

    def _judge(self, page: ProjectPage) -> tuple[Release, ...]:
        return tuple(
            Release(page.name, version, page.index, files, self._fits)
            for version, files in sorted(page.version_files(), key=lambda vf: vf[0], reverse=True)
        )

    def _fits(self, artifact: Artifact) -> bool:
        if not python_admits(artifact.requires_python, self.target):
            return False
        if not self.target.formats.allows(artifact.name, wheel=artifact.is_wheel):
            return False
        return not artifact.is_wheel or self.target.tag_rank(artifact.tags) is not None

    def _why_unusable(self, artifacts: Iterable[Artifact]) -> str:
        artifacts = list(artifacts)
        for artifact in artifacts:
            if not python_admits(artifact.requires_python, self.target):
                return f"requires Python {artifact.requires_python}"
        formats = self.target.formats
        if artifacts and not formats.allows(artifacts[0].name, wheel=False):
            return "has no wheel for the target (--only-binary refuses its sdist)"
        if artifacts and not formats.allows(artifacts[0].name, wheel=True):
            return "has no sdist (--no-binary refuses its wheels)"
        return "has no file for the target (no compatible wheel, no sdist)"


def matching(
    releases: Sequence[Release],
    specifiers: Sequence[SpecifierSet],
    *,
    prereleases: bool,
    pinned: Iterable[Version] = (),
) -> list[Release]:
    """Releases every specifier admits, with pip's pre-release rule, order kept.

    Pre-releases are kept when allowed, when a specifier names one, or when
    nothing else matches. Yanked-only releases are kept only if ``pinned``.
    """
    return list(matching_lazily(admitted(releases, specifiers), specifiers, prereleases=prereleases, pinned=pinned))


def admitted(releases: Sequence[Release], specifiers: Sequence[SpecifierSet]) -> list[Release]:
    """Releases every specifier admits (cheap: the version only, no file is judged). An empty set
    admits every version and is packaging's slowest ``contains``: it is not asked (a ``*`` root
    asks it of every release of its project, each time the resolver looks)."""
    specifiers = [s for s in specifiers if s]
    if not specifiers:
        return list(releases)
    return [r for r in releases if all(s.contains(r.version, prereleases=True) for s in specifiers)]


def matching_lazily(
    found: Sequence[Release],
    specifiers: Sequence[SpecifierSet],
    *,
    prereleases: bool,
    pinned: Iterable[Version] = (),
) -> Iterator[Release]:
    """``matching`` of releases the specifiers admit (``admitted``), one at a time: a release's
    files are judged only when it is reached."""
    pinned = set(pinned)

    def usable(release: Release) -> bool:
        return bool(release.installable(allow_yanked=release.version in pinned))  # judges the release's files

    if prereleases or any(s.prereleases for s in specifiers):
        yield from (r for r in found if usable(r))
        return
    final = False
    for release in found:
        if not release.version.is_prerelease and usable(release):
            final = True
            yield release
    if not final:  # nothing else matches: the pre-releases (the only usable ones left)
        yield from (r for r in found if usable(r))


def binary_first(releases: Sequence[Release]) -> list[Release]:
    """``--prefer-binary``: releases with a usable wheel before newer ones with only an sdist."""
    return sorted(releases, key=lambda r: not any(a.is_wheel for a in r.usable))


def _pure(wheel: Artifact) -> bool:
    """A wheel for any platform: no ELF member to judge."""
    return all(t.platform == "any" for t in wheel.tags)
