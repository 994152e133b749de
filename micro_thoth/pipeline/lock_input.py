"""What a lock starts from and how its result is written: a Pipfile (-> Pipfile.lock) or a requirements.in
(-> pip-compile's hashed requirements.txt).

Each input holds the roots, sources and previous pins a resolver reads
(``resolve.ResolverInput``), what a backend is sent (``wire_files``), and
renders a resolver's answer — resolutions made here, or the lock text a
backend sent — as the text to write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Union

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import RemoteResolutionError, ThothPipError, UsageError
from ..formats import pipfile_lock, requirements
from ..models import DEFAULT_CATEGORY, Dependency, Lock, Pin, Pipfile, Source, Target, expand_vars
from ..resolve import Resolution, changed
from ..resolve.resolver import Resolved, Upgrade, WireFiles
from . import lockfile

ANSWER = "the backend's lock"
_INCLUDE = re.compile(r"^\s*(-r|-c|--requirement|--constraint)\b")
Changes = dict[str, tuple[Optional[str], Optional[str]]]


@dataclass(frozen=True)
class Rendered:
    """A lock as it will be written: its text, its parsed form (when there is one), what moved."""

    text: str
    lock: Optional[Lock]
    changes: Mapping[str, tuple[Optional[str], Optional[str]]]


@dataclass(frozen=True)
class CompileRequest:
    """pip-compile's everyday flags."""

    src: Path
    output: Optional[str] = None  # a path, "-" for stdout; default: requirements.txt beside src
    index_url: Optional[str] = None
    extra_index_urls: Sequence[str] = ()
    find_links: Sequence[str] = ()
    constraints: Sequence[str] = ()
    upgrade_packages: Sequence[str] = ()
    header: bool = True
    annotate: bool = True
    command: str = ""


# --- Pipfile -> Pipfile.lock ---------------------------------------------------------------------


@dataclass(frozen=True)
class PipfileInput:
    """A Pipfile, its text as written and the Pipfile.lock it had; renders a Pipfile.lock."""

    pipfile: Pipfile
    text: str
    previous: Optional[Lock]
    output: Path
    upgrade: Upgrade = False
    constraints: tuple[Dependency, ...] = ()

    @property
    def categories(self) -> Mapping[str, Sequence[Dependency]]:
        return self.pipfile.categories

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(self.pipfile.sources)

    @property
    def pinned_indexes(self) -> Mapping[NormalizedName, str]:
        return lockfile.pinned_indexes(self.pipfile.categories)

    @property
    def allow_prereleases(self) -> bool:
        return self.pipfile.allow_prereleases

    @property
    def requires(self) -> Mapping[str, str]:
        return self.pipfile.requires

    def preferences(self) -> Mapping[str, Mapping[NormalizedName, str]]:
        return lockfile.preferences(self.previous)

    def wire_files(self, environ: Mapping[str, str]) -> WireFiles:
        """The Pipfile with ``${VAR}`` in source URLs expanded and the default index named; the previous lock."""
        _refuse_local_paths(self.pipfile)
        # imported here: only a lock through a backend sends the Pipfile; a lock here never needs tomlkit
        from ..formats import pipfile_edit

        urls = {s.url: expand_vars(s.url, environ) for s in self.pipfile.sources}
        text = pipfile_edit.with_sources(self.text, self.pipfile.sources[:1], {k: v for k, v in urls.items() if k != v})
        return WireFiles(text, "pipenv", _lock_text_for(self.previous, self.upgrade))

    def target_for(self, target: Target) -> Target:
        return target

    def render(self, resolved: Resolved, target: Target) -> Rendered:
        if resolved.answer is None:
            new = lockfile.build_lock(self.pipfile, resolved.resolutions, self.pipfile.sources)
            return Rendered(pipfile_lock.dump_lock(new), new, _changes(self.previous, resolved.resolutions))
        new = local_lock(resolved.answer, self.pipfile)
        return Rendered(pipfile_lock.dump_lock(new), new, lock_changes(self.previous, new))


def local_lock(text: str, pipfile: Pipfile) -> Lock:
    """The backend's Pipfile.lock, validated, with this Pipfile's ``_meta`` (sources as written, hash)."""
    try:
        lock = pipfile_lock.parse_lock(text, ANSWER)
    except ThothPipError as exc:
        raise RemoteResolutionError(f"{ANSWER} is not a valid Pipfile.lock: {exc.message}") from exc
    names = {source.name for source in pipfile.sources}
    for category, pins in lock.categories.items():
        for pin in pins:
            if pin.index is not None and pin.index not in names:
                raise RemoteResolutionError(f"{ANSWER} pins {category}.{pin.name} to an index the Pipfile does not name: {pin.index!r}")
            if pin.direct is None and not pin.hashes:
                raise RemoteResolutionError(f"{ANSWER} has no hashes for {category}.{pin.name}")
    return replace(lock, sources=pipfile.sources, pipfile_hash=pipfile.hash, requires=dict(pipfile.requires))


def _refuse_local_paths(pipfile: Pipfile) -> None:
    for category, deps in pipfile.categories.items():
        for dep in deps:
            if dep.direct is not None and dep.direct.local_path() is not None:  # a path, ./x.whl, file:///x.whl
                raise UsageError(
                    f"{category}.{dep.name} is a local path ({dep.direct.location}), which a backend cannot read",
                    hint="lock without --backend (and without THOTH_HOST / .thoth.yaml host)",
                )


def _lock_text_for(previous: Optional[Lock], upgrade: Upgrade) -> Optional[str]:
    """The previous lock as the backend's preferences: none for ``--upgrade``, without the named packages for ``-P``."""
    if previous is None or upgrade is True:
        return None
    if upgrade:
        keys = {canonicalize_name(str(name)) for name in upgrade}
        kept = {category: tuple(p for p in pins if p.key not in keys) for category, pins in previous.categories.items()}
        previous = replace(previous, categories=kept)
    return pipfile_lock.dump_lock(previous)


def _changes(previous: Optional[Lock], resolutions: Mapping[str, Resolution]) -> Changes:
    out: Changes = {}
    for category, resolution in resolutions.items():
        before = {p.name: p.version for p in (previous.categories.get(category, ()) if previous else ()) if p.version}
        out.update(_by_name(changed(before, resolution)))
    return out


def _by_name(changes: Mapping[NormalizedName, tuple[Optional[str], Optional[str]]]) -> Changes:
    return {str(name): versions for name, versions in changes.items()}


def lock_changes(previous: Optional[Lock], new: Lock) -> Changes:
    """name -> (old, new) version for every pin that moved, category by category (as the embedded lock reports)."""
    out: Changes = {}
    for category, pins in new.categories.items():
        before = _versions(previous.categories.get(category, ()) if previous else ())
        after = _versions(pins)
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                out[name] = (before.get(name), after.get(name))
    return out


def _versions(pins: Sequence[Pin]) -> dict[str, str]:
    return {str(p.key): p.version.lstrip("=") for p in pins if p.version}


# --- requirements.in -> requirements.txt -----------------------------------------------------------


@dataclass(frozen=True)
class RequirementsInput:
    """A requirements.in with pip-compile's flags, and the requirements.txt it had; renders a requirements.txt."""

    request: CompileRequest
    text: str
    parsed: requirements.RequirementsFile
    extra_constraints: tuple[Dependency, ...]
    sources: tuple[Source, ...]
    output: Optional[Path]
    previous_text: Optional[str]
    upgrade: Upgrade = False
    index_lines: tuple[str, ...] = ()  # the indexes pip would use, told to a backend (the file names none)
    requires: Mapping[str, str] = field(default_factory=dict)
    pinned_indexes: Mapping[NormalizedName, str] = field(default_factory=dict)

    @property
    def categories(self) -> Mapping[str, Sequence[Dependency]]:
        return {DEFAULT_CATEGORY: self.parsed.dependencies}

    @property
    def constraints(self) -> Sequence[Dependency]:
        return [*self.parsed.constraints, *self.extra_constraints]

    @property
    def allow_prereleases(self) -> bool:
        return self.parsed.pre

    def preferences(self) -> Mapping[str, Mapping[NormalizedName, str]]:
        return {DEFAULT_CATEGORY: self._previous_pins()}

    def _previous_pins(self) -> dict[NormalizedName, str]:
        if self.previous_text is None or self.output is None:
            return {}
        try:
            parsed = requirements.parse_requirements(self.previous_text, str(self.output))
        except ThothPipError:
            return {}
        return {dep.key: version for dep in parsed.dependencies if (version := dep.pinned_version())}

    def wire_files(self, environ: Mapping[str, str]) -> WireFiles:
        """requirements.in with the indexes pip would use here; the previous requirements.txt."""
        self._refuse_for_backend()
        text = "\n".join([*self.index_lines, self.text]) if self.index_lines else self.text
        return WireFiles(text, "pip-tools", None if self.upgrade else self.previous_text)

    def _refuse_for_backend(self) -> None:
        if self.request != CompileRequest(src=self.request.src) or self.request.src.name != "requirements.in":
            raise UsageError("pip-compile options (-r FILE, -o, -i, -f, -c, -P, --no-header...) are not sent to a backend",
                             hint="lock requirements.in without them, or lock without --backend")
        if self.upgrade and self.upgrade is not True:
            raise UsageError("-P/--upgrade-package is not sent to a backend in pip-compile mode", hint="use -U, or lock without --backend")
        if any(_INCLUDE.match(line) for line in self.text.splitlines()):
            raise UsageError(f"{self.request.src.name} includes other files (-r/-c), which a backend cannot read",
                             hint="lock without --backend, or put the requirements in one file")

    def target_for(self, target: Target) -> Target:
        """The target with this file's binary options after the command line's, as pip reads them."""
        return replace(target, formats=self.parsed.formats_after(target.formats))

    def render(self, resolved: Resolved, target: Target) -> Rendered:
        path = self.output or self.request.src.with_name("requirements.txt")
        if resolved.answer is None:
            resolution = resolved.resolutions[DEFAULT_CATEGORY]
            return Rendered(self._dump(resolution, target), None, _by_name(changed({str(k): v for k, v in self._previous_pins().items()}, resolution)))
        text = _without_indexes(resolved.answer, self.index_lines)
        new = local_requirements_lock(text, path)
        return Rendered(text, new, lock_changes(_requirements_lock_or_none(self.previous_text, path), new))

    def _dump(self, resolution: Resolution, target: Target) -> str:
        request, parsed, sources = self.request, self.parsed, self.sources
        explicit = request.index_url or request.extra_index_urls or parsed.index_url or parsed.extra_index_urls
        src = request.src
        return requirements.dump_requirements(
            lockfile.requirement_entries(resolution, src.name),
            header=(request.command or f"thoth-pip lock -r {src.name}") if request.header else None,
            python_version=target.python_version,
            annotate=request.annotate,
            index_url=sources[0].url if explicit and sources else None,
            extra_index_urls=[s.url for s in sources[1:]] if explicit else (),
            find_links=list(request.find_links) + list(parsed.find_links),
            trusted_hosts=parsed.trusted_hosts,
            formats=target.formats,
        )


def local_requirements_lock(text: str, path: Path) -> Lock:
    """The backend's requirements.txt, validated: every entry pinned and hashed."""
    try:
        return requirements.to_lock(requirements.parse_requirements(text, str(path)))
    except ThothPipError as exc:
        raise RemoteResolutionError(f"{ANSWER} is not a pinned, hashed requirements.txt: {exc.message}") from exc


def index_lines(sources: Sequence[Source], environ: Mapping[str, str]) -> tuple[str, ...]:
    """``--index-url`` / ``--extra-index-url`` lines for ``sources`` (URLs expanded)."""
    return tuple(f"{'--index-url' if i == 0 else '--extra-index-url'} {s.expanded_url(environ)}" for i, s in enumerate(sources))


def _without_indexes(text: str, flags: Sequence[str]) -> str:
    """The backend's answer without the index lines it was told (pip-compile omits implicit ones)."""
    if not flags:
        return text
    lines = text.split("\n")
    kept = [line for line in lines if line not in flags]
    if len(kept) < len(lines):
        at = next((i for i, line in enumerate(lines) if line in flags), 0)
        if at < len(kept) and kept[at] == "":
            del kept[at]  # the blank line after the flag block
    return "\n".join(kept)


def _requirements_lock_or_none(text: Optional[str], path: Path) -> Optional[Lock]:
    """The requirements.txt that was there before, for the change list; an unpinned one is not used."""
    if text is None:
        return None
    try:
        return requirements.to_lock(requirements.parse_requirements(text, str(path)))
    except ThothPipError:
        return None


ProjectInput = Union[PipfileInput, RequirementsInput]
