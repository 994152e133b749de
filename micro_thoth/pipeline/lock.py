"""``thoth-pip lock``: Pipfile -> Pipfile.lock, or requirements.in -> hashed requirements.txt."""

from __future__ import annotations

import sys
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from packaging.utils import NormalizedName, canonicalize_name

from ..environment import interpreter
from ..errors import InputFileError, ThothPipError
from ..formats import pipfile_lock, requirements
from ..fs import atomic_write
from ..models import DEFAULT_CATEGORY, Dependency, Lock, Pipfile, Source, Target
from ..reporting import Reporter
from ..resolve import Resolution, ResolverReporter, as_constraints, changed, improve, resolve
from ..settings import Settings
from . import lockfile
from .environment import runtime_environment
from .inputs import load_pipfile
from .project import ProjectFiles, discover, read_text
from .services import Services, open_services, parse_exclude_newer

Upgrade = Union[bool, Collection[NormalizedName]]


@dataclass(frozen=True)
class LockOutcome:
    """What a lock run produced; ``changes`` maps a name to (old, new) versions."""

    path: Optional[Path]
    text: str
    lock: Optional[Lock]
    resolutions: Mapping[str, Resolution]
    changes: Mapping[Any, tuple[Optional[str], Optional[str]]] = field(default_factory=dict)
    seconds: float = 0.0
    written: bool = True
    report: Any = None  # guidance.justification.Report of the default category

    @property
    def package_count(self) -> int:
        return len({key for resolution in self.resolutions.values() for key in resolution.pins})


@dataclass(frozen=True)
class GuidanceOptions:
    """What guides a resolution: recommendation type, knowledge, and the improvement search."""

    recommendation_type: Optional[str] = None  # None: .thoth.yaml's, else stable
    min_release_age: Optional[str] = None
    prescriptions: tuple[Path, ...] = ()
    deny_licenses: tuple[str, ...] = ()
    allow_vulnerabilities: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    limit: int = 0  # improvement re-resolutions (advise: 10); 0 keeps the first stack
    timeout: float = 30.0
    seed: int = 0


@dataclass(frozen=True)
class LockRequest:
    """How to lock, beyond Settings: guidance, upgrades, target overrides."""

    upgrade: Upgrade = False
    policy: Any = None  # a CandidatePolicy (guidance); None = newest first
    overrides: Mapping[str, Any] = field(default_factory=dict)  # RuntimeEnvironment flags
    runtime_environment: Optional[str] = None
    write: bool = True
    guidance: Optional[GuidanceOptions] = None  # None: the default guidance (stable), quietly


DEFAULT_REQUEST = LockRequest()


def lock(settings: Settings, environ: Mapping[str, str], reporter: Reporter, request: Optional[LockRequest] = None) -> LockOutcome:
    """Lock the project's Pipfile (or its requirements.in when it has no Pipfile)."""
    request = request or DEFAULT_REQUEST
    files = discover(settings)
    with open_services(settings, environ, reporter) as services:
        if files.pipfile is None and files.requirements_in is not None:
            return compile_requirements(settings, services, CompileRequest(src=files.requirements_in), request)
        return lock_pipfile(files, settings, services, request)


def lock_pipfile(files: ProjectFiles, settings: Settings, services: Services, request: LockRequest) -> LockOutcome:
    """Resolve every category of the Pipfile and write Pipfile.lock atomically."""
    # --- client mode: a configured backend resolves instead (pipeline/remote.py) ---
    from . import remote

    backend = remote.configured_backend(settings, services.environ)
    if backend is not None:
        return remote.lock_pipfile_remote(files, settings, services, request, backend)
    # --- end client mode ---
    started = time.monotonic()
    pipfile = load_pipfile(files, services)
    if pipfile is None:
        raise InputFileError(
            "no Pipfile here", path=str(settings.pipfile_path),
            hint="create one with `thoth-pip install PACKAGE`, or lock a requirements.in with -r",
        )
    _check_indexes(pipfile)
    previous = previous_lock(files)
    selected, target = lock_target(settings, services, request, pipfile.requires)
    exclude_newer = parse_exclude_newer(settings.exclude_newer)
    source = services.index_client(
        pipfile.sources,
        exclude_newer=exclude_newer,
        pinned=lockfile.pinned_indexes(pipfile.categories),
    )
    policy = request.policy or _policy(settings, services, request, selected, exclude_newer, pipfile.sources)
    try:
        resolutions = _resolve_guided(pipfile, source, target, policy, request, lockfile.preferences(previous), settings, services)
        report = _report(policy, resolutions, {c: [d.to_pep508() for d in deps] for c, deps in pipfile.categories.items()}, selected)
    finally:
        _close(policy)
    new = lockfile.build_lock(pipfile, resolutions, pipfile.sources)
    text = pipfile_lock.dump_lock(new)
    if request.write and not settings.dry_run:
        atomic_write(settings.lock_path, text)
    return LockOutcome(
        path=settings.lock_path,
        text=text,
        lock=new,
        resolutions=resolutions,
        changes=_changes(previous, resolutions),
        seconds=time.monotonic() - started,
        written=request.write and not settings.dry_run,
        report=report,
    )


def _policy(
    settings: Settings, services: Services, request: LockRequest, selected: Any, exclude_newer: Any, sources: Sequence[Source] = ()
) -> Any:
    """The guidance policy of this run (prescriptions, advisories, cooldown, licences; ``sources`` for pseudonyms' indexes)."""
    from .guidance import guidance_policy

    options = request.guidance or GuidanceOptions()
    return guidance_policy(
        settings,
        services.environ,
        recommendation_type=options.recommendation_type or configured_type(selected.environment),
        min_release_age=options.min_release_age,
        runtime_environment=selected.environment,
        labels={**dict(selected.environment.labels or {}), **dict(options.labels)},
        prescriptions=options.prescriptions,
        deny_licenses=options.deny_licenses,
        allow_vulnerabilities=options.allow_vulnerabilities,
        exclude_newer=exclude_newer,
        sources=sources,
        reporter=services.reporter,
    )


def configured_type(environment: Any) -> str:
    """.thoth.yaml's recommendation type when it names one; ``stable`` otherwise (the documented default)."""
    from ..environment.runtime import CONFIG, FLAG

    if environment.origin("recommendation_type") in (CONFIG, FLAG) and environment.recommendation_type:
        return str(environment.recommendation_type)
    return "stable"


def _close(policy: Any) -> None:
    from .guidance import close_policy

    if policy is not None and hasattr(policy, "advisories"):
        close_policy(policy)


def _resolve_guided(
    pipfile: Pipfile,
    source: Any,
    target: Target,
    policy: Any,
    request: LockRequest,
    preferences: Mapping[str, Mapping[NormalizedName, str]],
    settings: Settings,
    services: Services,
) -> dict[str, Resolution]:
    """Boots first; ``default`` under the policy (stack rules honoured, optionally improved), then the rest under its pins."""
    from ..guidance.stack import honour_stack_rules

    _boots(policy, [d for deps in pipfile.categories.values() for d in deps])
    allow_pre = pipfile.allow_prereleases or settings.pre
    progress = _ResolverProgress(services.reporter)
    default_deps = pipfile.categories.get(DEFAULT_CATEGORY, ())

    def default_with(excluded: Sequence[Dependency]) -> Resolution:
        return resolve(
            default_deps, source=source, target=target, constraints=excluded, allow_prereleases=allow_pre,
            preferences=preferences.get(DEFAULT_CATEGORY, {}), upgrade=request.upgrade, policy=policy, reporter=progress,
        )

    default = honour_stack_rules(default_with, policy) if hasattr(policy, "stack_violations") else default_with(())
    options = request.guidance or GuidanceOptions()
    if options.limit > 0:
        default = improve(
            default, default_deps, source=source, target=target, policy=policy, allow_prereleases=allow_pre,
            limit=options.limit, timeout=options.timeout, seed=options.seed,
        )
    out = {DEFAULT_CATEGORY: default}
    pinned = as_constraints(default)
    for category, deps in pipfile.categories.items():
        if category != DEFAULT_CATEGORY:
            out[category] = resolve(
                deps, source=source, target=target, constraints=pinned, allow_prereleases=allow_pre,
                preferences=preferences.get(category, {}), upgrade=request.upgrade, policy=policy, reporter=progress,
            )
    return out


def _boots(policy: Any, direct: Sequence[Dependency]) -> None:
    """Boot units, before any resolution: their stack_info goes to the report; ``not_acceptable`` stops here."""
    if hasattr(policy, "check_boots"):
        policy.check_boots(d.name for d in direct)


def _report(policy: Any, resolutions: Mapping[str, Resolution], requested: Mapping[str, Sequence[str]], selected: Any) -> Any:
    """The guidance report of the ``default`` resolution (None for a policy that keeps no verdicts)."""
    if not hasattr(policy, "judge_stack"):
        return None
    from ..guidance.justification import build_report

    return build_report(
        policy,
        resolutions[DEFAULT_CATEGORY],
        requirements=dict(requested),
        runtime_environment=selected.environment.to_thoth_dict(),
    )


def _check_indexes(pipfile: Pipfile) -> None:
    """Every ``index = "..."`` must name one of the Pipfile's sources."""
    from ..formats.pipfile import section_name

    known = {source.name for source in pipfile.sources}
    for category, deps in pipfile.categories.items():
        for dep in deps:
            if dep.index is not None and dep.index not in known:
                raise InputFileError(
                    f"unknown index '{dep.index}'",
                    path=pipfile.path,
                    key_path=f"{section_name(category)}.{dep.name}.index",
                    hint="the [[source]] names are: " + (", ".join(sorted(known)) or "(none)"),
                )


def previous_lock(files: ProjectFiles) -> Optional[Lock]:
    """The existing Pipfile.lock, for minimal churn; an unreadable one is simply not used."""
    if files.pipfile_lock is None:
        return None
    try:
        return pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
    except ThothPipError:
        return None


def _changes(
    previous: Optional[Lock], resolutions: Mapping[str, Resolution]
) -> dict[NormalizedName, tuple[Optional[str], Optional[str]]]:
    out: dict[NormalizedName, tuple[Optional[str], Optional[str]]] = {}
    for category, resolution in resolutions.items():
        before = {p.name: p.version for p in (previous.categories.get(category, ()) if previous else ()) if p.version}
        out.update(changed(before, resolution))
    return out


def lock_target(
    settings: Settings, services: Services, request: LockRequest, requires: Mapping[str, str]
) -> tuple[Any, Target]:
    """The environment the lock is for: detection, .thoth.yaml, flags; the Pipfile's Python by default."""
    overrides = dict(request.overrides)
    wanted = _python_version(settings.python) or requires.get("python_full_version") or requires.get("python_version")
    if wanted and "python_version" not in overrides:
        overrides["python_version"] = wanted
    info = interpreter.query(sys.executable, cache_dir=services.cache.root)
    if overrides.get("python_version") in (info.python_version, info.markers.get("python_full_version")):
        overrides.pop("python_version")  # the running interpreter is the target: use its own values
    selected = runtime_environment(
        settings.project_dir,
        environ=services.environ,
        name=request.runtime_environment,
        overrides=overrides,
        interpreter=info,
        reporter=services.reporter,
    )
    return selected, selected.environment.target(info)


def _python_version(spec: Optional[str]) -> Optional[str]:
    """``--python 3.9`` names a version; ``--python /usr/bin/python3`` a path (asked for its version)."""
    if not spec:
        return None
    if spec.replace(".", "").isdigit():
        return spec
    return interpreter.query(interpreter.find_python(spec)).python_version


# --- pip-compile mode ----------------------------------------------------------------------------


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


def compile_requirements(
    settings: Settings, services: Services, compile_request: CompileRequest, request: LockRequest
) -> LockOutcome:
    """Resolve a requirements.in into a pip-compile-style requirements.txt with hashes."""
    # --- client mode: a configured backend resolves instead (pipeline/remote.py) ---
    from . import remote

    backend = remote.configured_backend(settings, services.environ)
    if backend is not None:
        return remote.compile_remote(settings, services, compile_request, request, backend)
    # --- end client mode ---
    started = time.monotonic()
    src = compile_request.src
    parsed = requirements.parse_requirements(read_text(src), str(src), read=lambda p: read_text(Path(p)))
    constraints = [
        line.dependency
        for path in compile_request.constraints
        for line in requirements.parse_requirements(read_text(Path(path)), path, read=lambda p: read_text(Path(p))).requirements
    ]
    output = _output_path(compile_request, src)
    sources = _compile_sources(compile_request, parsed, services)
    selected, target = lock_target(settings, services, request, {})
    exclude_newer = parse_exclude_newer(settings.exclude_newer)
    source = services.index_client(sources, exclude_newer=exclude_newer)
    policy = request.policy or _policy(settings, services, request, selected, exclude_newer, sources)
    previous = _previous_requirements(output)
    upgrade = request.upgrade or {canonicalize_name(n) for n in compile_request.upgrade_packages}

    def resolve_with(excluded: Sequence[Dependency]) -> Resolution:
        return resolve(
            parsed.dependencies, source=source, target=target, constraints=[*parsed.constraints, *constraints, *excluded],
            allow_prereleases=parsed.pre or settings.pre, preferences=previous, upgrade=upgrade, policy=policy,
            reporter=_ResolverProgress(services.reporter),
        )

    try:
        resolution = _guided(resolve_with, policy, parsed.dependencies)
        report = _report(policy, {DEFAULT_CATEGORY: resolution}, {DEFAULT_CATEGORY: [d.to_pep508() for d in parsed.dependencies]}, selected)
    finally:
        _close(policy)
    explicit = compile_request.index_url or compile_request.extra_index_urls or parsed.index_url or parsed.extra_index_urls
    text = requirements.dump_requirements(
        lockfile.requirement_entries(resolution, src.name),
        header=(compile_request.command or f"thoth-pip lock -r {src.name}") if compile_request.header else None,
        python_version=target.python_version,
        annotate=compile_request.annotate,
        index_url=sources[0].url if explicit and sources else None,
        extra_index_urls=[s.url for s in sources[1:]] if explicit else (),
        find_links=list(compile_request.find_links) + list(parsed.find_links),
    )
    written = output is not None and request.write and not settings.dry_run
    if written:
        atomic_write(output, text)  # type: ignore[arg-type]
    return LockOutcome(
        path=output,
        text=text,
        lock=None,
        resolutions={"default": resolution},
        changes=changed({k: v for k, v in previous.items()}, resolution),
        seconds=time.monotonic() - started,
        written=written,
        report=report,
    )


def _guided(resolve_with: Any, policy: Any, direct: Sequence[Dependency]) -> Resolution:
    """Boots, then one resolution with the whole-stack rules honoured (as ``default`` is in a Pipfile lock)."""
    from ..guidance.stack import honour_stack_rules

    _boots(policy, direct)
    return honour_stack_rules(resolve_with, policy) if hasattr(policy, "stack_violations") else resolve_with(())  # type: ignore[no-any-return]


def _output_path(compile_request: CompileRequest, src: Path) -> Optional[Path]:
    if compile_request.output == "-":
        return None
    if compile_request.output:
        return Path(compile_request.output)
    return src.with_suffix(".txt") if src.suffix == ".in" else src.with_name("requirements.txt")


def _compile_sources(compile_request: CompileRequest, parsed: requirements.RequirementsFile, services: Services) -> tuple[Source, ...]:
    """Flags beat the file's own -i/--extra-index-url, which beat pip's configuration."""
    index = compile_request.index_url or parsed.index_url
    extras = list(compile_request.extra_index_urls) or list(parsed.extra_index_urls)
    if index is None:
        pip_sources = services.pip_sources()
        index = pip_sources[0].url if pip_sources else None
        extras = extras or [s.url for s in pip_sources[1:]]
    urls = [u for u in dict.fromkeys([index, *extras]) if u]
    links = [*compile_request.find_links, *parsed.find_links]
    sources = [Source(f"index-{i}", url) for i, url in enumerate(urls)]
    sources += [Source(f"find-links-{i}", _as_url(link)) for i, link in enumerate(links)]
    return tuple(sources)


def _as_url(link: str) -> str:
    return link if "://" in link else Path(link).resolve().as_uri()


def _previous_requirements(output: Optional[Path]) -> dict[NormalizedName, str]:
    if output is None or not output.is_file():
        return {}
    try:
        parsed = requirements.parse_requirements(read_text(output), str(output))
    except ThothPipError:
        return {}
    return {dep.key: version for dep in parsed.dependencies if (version := dep.pinned_version())}


class _ResolverProgress(ResolverReporter):
    """Resolver events as progress lines (verbose only)."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter

    def pinning(self, name: str, version: str) -> None:
        self._reporter.message(f"pinned {name}=={version}", "debug")
