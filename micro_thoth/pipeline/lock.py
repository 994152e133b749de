"""``thoth-pip lock``: one flow, ``lock(input, resolver, target, policy)``, for a Pipfile or a requirements.in,
resolved here or on a backend.

``lock_project`` is the command: it reads the project input
(``lock_input.py``), learns the target and the lock policy, and runs ``lock``
with the resolver the run's services chose (``services.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

from packaging.utils import canonicalize_name

from ..environment import interpreter
from ..environment.runtime import CONFIG, FLAG, RuntimeEnvironment
from ..errors import InputFileError, ThothPipError
from ..formats import pipfile_lock, requirements
from ..formats.pipfile import section_name
from ..fs import atomic_write
from ..models import Justification, Lock, Pipfile, Source, Target
from ..reporting import Reporter
from ..resolve import Resolution
from ..resolve.resolver import LockPolicy, Resolver, Search, StackReport, Upgrade
from ..settings import Settings
from .backend import Backend
from .environment import SelectedEnvironment, running_interpreter, runtime_environment
from .inputs import load_pipfile
from .lock_input import CompileRequest, PipfileInput, ProjectInput, RequirementsInput, index_lines
from .project import ProjectFiles, discover, read_text
from .services import Services, open_services, parse_exclude_newer

__all__ = ["CompileRequest", "GuidanceOptions", "LockOutcome", "LockRequest", "lock", "lock_project"]


@dataclass(frozen=True)
class LockOutcome:
    """What a lock run produced; ``changes`` maps a name to (old, new) versions."""

    path: Optional[Path]
    text: str
    lock: Optional[Lock]
    resolutions: Mapping[str, Resolution]
    changes: Mapping[str, tuple[Optional[str], Optional[str]]] = field(default_factory=dict)
    seconds: float = 0.0
    written: bool = True
    report: Optional[StackReport] = None
    notes: tuple[Justification, ...] = ()  # about the lock as a whole (the target it was made for)

    @property
    def package_count(self) -> int:
        """Packages locked: counted from the resolutions, or from the lock a backend made."""
        if self.resolutions:
            return len({key for resolution in self.resolutions.values() for key in resolution.pins})
        return len({pin.key for pins in (self.lock.categories.values() if self.lock else ()) for pin in pins})


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
    overrides: Mapping[str, Any] = field(default_factory=dict)  # RuntimeEnvironment flags
    runtime_environment: Optional[str] = None
    write: bool = True
    guidance: Optional[GuidanceOptions] = None  # None: the default guidance (stable), quietly


DEFAULT_REQUEST = LockRequest()


# --- the one flow --------------------------------------------------------------------------------


def lock(project: ProjectInput, resolver: Resolver, target: Target, policy: LockPolicy, *, write: bool) -> LockOutcome:
    """Resolve ``project`` for ``target`` under ``policy``, render it in the input's format, write it atomically."""
    started = time.monotonic()
    resolved = resolver.resolve(project, target, policy)
    rendered = project.render(resolved, target)
    written = write and project.output is not None
    if written and project.output is not None:
        atomic_write(project.output, rendered.text)
    return LockOutcome(
        path=project.output, text=rendered.text, lock=rendered.lock, resolutions=resolved.resolutions,
        changes=rendered.changes, seconds=time.monotonic() - started, written=written, report=resolved.report,
    )


def run_lock(project: ProjectInput, services: Services, request: LockRequest) -> LockOutcome:
    """``lock`` with this run's target, policy and resolver."""
    started = time.monotonic()
    prefetch = getattr(services.resolver, "prefetch", None)  # the roots' pages while the target is learned
    if prefetch is not None:
        prefetch(project, parse_exclude_newer(services.settings.exclude_newer))
    selected, target = lock_target(services, request, project.requires)
    target = project.target_for(target)
    policy = lock_policy(services.settings, request, selected.environment)
    outcome = lock(project, services.resolver, target, policy, write=request.write and not services.settings.dry_run)
    return replace(_since(outcome, started), notes=target_notes(request.overrides, selected.environment, project.requires))


_TARGET_FLAGS = ("python_version", "platform", "os", "libc", "cuda_version")


def target_notes(overrides: Mapping[str, Any], environment: RuntimeEnvironment, requires: Mapping[str, str]) -> tuple[Justification, ...]:
    """A lock made for another machine than this one (--python-version, --platform...) says so, and
    what pipenv will make of the Pipfile's ``[requires]`` it keeps."""
    given = [key for key in _TARGET_FLAGS if overrides.get(key)]
    if not given:
        return ()
    flags = ", ".join(f"--{key.replace('_', '-')} {overrides[key]}" for key in given)
    made = f"locked for Python {environment.python_version} on {environment.platform} ({flags}), not for this machine"
    kept = requires.get("python_full_version") or requires.get("python_version")
    python = str(environment.python_version or "")
    if kept and not python.startswith(kept) and not kept.startswith(python):
        made += (f"; the lock keeps the Pipfile's python_version {kept} in _meta.requires, which `pipenv install --deploy` "
                 f"checks: install it with Python {kept}, or set python_version = \"{python}\" under [requires]")
    return (Justification("WARNING", made, "target"),)


def _since(outcome: LockOutcome, started: float) -> LockOutcome:
    return replace(outcome, seconds=time.monotonic() - started)


# --- the command -----------------------------------------------------------------------------------


def lock_project(
    settings: Settings, environ: Mapping[str, str], reporter: Reporter, request: Optional[LockRequest] = None,
    *, backend: Optional[Backend] = None,
) -> LockOutcome:
    """Lock the project's Pipfile (or its requirements.in when it has no Pipfile); ``backend`` overrides the configured one."""
    request = request or DEFAULT_REQUEST
    files = discover(settings)
    with open_services(settings, environ, reporter, backend=backend) as services:
        if files.pipfile is None and files.requirements_in is not None:
            return run_lock(requirements_input(services, CompileRequest(src=files.requirements_in), request), services, request)
        return run_lock(pipfile_input(files, services, request), services, request)


def remote_lock(
    settings: Settings, environ: Mapping[str, str], reporter: Reporter, request: LockRequest,
    *, url: str, token: Optional[str] = None, verify: bool = True,
) -> LockOutcome:
    """``thoth-pip lock`` through the backend at ``url``: Pipfile.lock, or requirements.txt from requirements.in."""
    return lock_project(settings, environ, reporter, request, backend=Backend(url, token, verify))


def lock_target(services: Services, request: LockRequest, requires: Mapping[str, str]) -> tuple[SelectedEnvironment, Target]:
    """The environment the lock is for: detection, .thoth.yaml, flags; the Pipfile's Python by default."""
    settings = services.settings
    overrides = dict(request.overrides)
    wanted = _python_version(settings.python) or requires.get("python_full_version") or requires.get("python_version")
    if wanted and "python_version" not in overrides:
        overrides["python_version"] = wanted
    info = running_interpreter(services.cache.root)
    if overrides.get("python_version") in (info.python_version, info.markers.get("python_full_version")):
        overrides.pop("python_version")  # the running interpreter is the target: use its own values
    selected = runtime_environment(
        settings.project_dir, environ=services.environ, name=request.runtime_environment, overrides=overrides,
        interpreter=info, reporter=services.reporter, cache_dir=services.cache.root, refresh=settings.refresh,
    )
    return selected, replace(selected.environment.target(info), formats=settings.formats)


def _python_version(spec: Optional[str]) -> Optional[str]:
    """``--python 3.9`` names a version; ``--python /usr/bin/python3`` a path (asked for its version)."""
    if not spec:
        return None
    if spec.replace(".", "").isdigit():
        return spec
    return interpreter.query(interpreter.find_python(spec)).python_version


def lock_policy(settings: Settings, request: LockRequest, environment: RuntimeEnvironment) -> LockPolicy:
    """The lock policy of this run: the request's guidance over the environment's (``stable`` by default)."""
    options = request.guidance or GuidanceOptions()
    return LockPolicy(
        environment=environment,
        recommendation_type=options.recommendation_type or configured_type(environment),
        labels={**dict(environment.labels or {}), **dict(options.labels)},
        min_release_age=options.min_release_age,
        prescriptions=options.prescriptions,
        deny_licenses=options.deny_licenses,
        allow_vulnerabilities=options.allow_vulnerabilities,
        exclude_newer=parse_exclude_newer(settings.exclude_newer),
        exclude_newer_text=settings.exclude_newer,
        pre=settings.pre,
        dev=settings.dev,
        search=Search(options.limit, options.timeout, options.seed),
    )


def configured_type(environment: RuntimeEnvironment) -> str:
    """.thoth.yaml's recommendation type when it names one; ``stable`` otherwise (the documented default)."""
    if environment.origin("recommendation_type") in (CONFIG, FLAG) and environment.recommendation_type:
        return str(environment.recommendation_type)
    return "stable"


# --- the inputs ------------------------------------------------------------------------------------


def pipfile_input(files: ProjectFiles, services: Services, request: LockRequest) -> PipfileInput:
    """The project's Pipfile (checked), its text and its previous lock."""
    settings = services.settings
    pipfile = load_pipfile(files, services)
    if pipfile is None or files.pipfile is None:
        raise InputFileError(
            "no Pipfile here", path=str(settings.pipfile_path),
            hint="create one with `thoth-pip install PACKAGE`, or lock a requirements.in with -r",
        )
    _check_indexes(pipfile)
    return PipfileInput(pipfile, read_text(files.pipfile), previous_lock(files, services.reporter), settings.lock_path, request.upgrade)


def _check_indexes(pipfile: Pipfile) -> None:
    """Every ``index = "..."`` must name one of the Pipfile's sources."""
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


def previous_lock(files: ProjectFiles, reporter: Optional[Reporter] = None) -> Optional[Lock]:
    """The existing Pipfile.lock, for minimal churn; an unreadable one is not used (``reporter`` hears why:
    its versions are then not kept)."""
    if files.pipfile_lock is None:
        return None
    try:
        return pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
    except ThothPipError as exc:
        if reporter is not None:
            reporter.message(
                f"the existing {files.pipfile_lock.name} cannot be read ({exc.message}), so its versions are not kept: "
                "the new lock takes the newest allowed versions; keep a copy of the old file if you need it", "warning")
        return None


def requirements_input(services: Services, compile_request: CompileRequest, request: LockRequest) -> RequirementsInput:
    """A requirements.in with pip-compile's flags, its indexes and the requirements.txt it had."""
    src = compile_request.src
    text = read_text(src)
    parsed = requirements.parse_requirements(text, str(src), read=lambda p: read_text(Path(p)))
    constraints = tuple(
        line.dependency
        for path in compile_request.constraints
        for line in requirements.parse_requirements(read_text(Path(path)), path, read=lambda p: read_text(Path(p))).requirements
    )
    output = _output_path(compile_request, src)
    pip_sources = services.pip_sources() if (compile_request.index_url or parsed.index_url) is None else ()
    injected = () if parsed.index_url or parsed.extra_index_urls else pip_sources
    upgrade = request.upgrade or {canonicalize_name(n) for n in compile_request.upgrade_packages}
    return RequirementsInput(
        request=compile_request, text=text, parsed=parsed, extra_constraints=constraints,
        sources=_compile_sources(compile_request, parsed, pip_sources), output=output,
        previous_text=_previous_output(output, services.reporter),
        upgrade=upgrade, index_lines=index_lines(injected, services.environ),
    )


def _previous_output(output: Optional[Path], reporter: Reporter) -> Optional[str]:
    """The requirements.txt there was, whose pins are kept; one that cannot be read is not used, and said so."""
    if output is None or not output.is_file():
        return None
    text = read_text(output)
    try:
        requirements.parse_requirements(text, str(output))
    except ThothPipError as exc:
        reporter.message(
            f"the existing {output.name} cannot be read ({exc.message}), so its pins are not kept: "
            "the new file takes the newest allowed versions", "warning")
        return None
    return text


def _output_path(compile_request: CompileRequest, src: Path) -> Optional[Path]:
    if compile_request.output == "-":
        return None
    if compile_request.output:
        return Path(compile_request.output)
    return src.with_suffix(".txt") if src.suffix == ".in" else src.with_name("requirements.txt")


def _compile_sources(
    compile_request: CompileRequest, parsed: requirements.RequirementsFile, pip_sources: tuple[Source, ...]
) -> tuple[Source, ...]:
    """Flags beat the file's own -i/--extra-index-url, which beat pip's configuration."""
    index = compile_request.index_url or parsed.index_url
    extras = list(compile_request.extra_index_urls) or list(parsed.extra_index_urls)
    if index is None:
        index = pip_sources[0].url if pip_sources else None
        extras = extras or [s.url for s in pip_sources[1:]]
    urls = [u for u in dict.fromkeys([index, *extras]) if u]
    links = [*compile_request.find_links, *parsed.find_links]
    sources = [Source(f"index-{i}", url) for i, url in enumerate(urls)]
    sources += [Source(f"find-links-{i}", _as_url(link)) for i, link in enumerate(links)]
    return tuple(sources)


def _as_url(link: str) -> str:
    return link if "://" in link else Path(link).resolve().as_uri()

