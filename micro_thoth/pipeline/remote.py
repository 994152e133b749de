"""Client mode: a resolver backend makes the lock; it is checked and written here, then synced as usual.

The backend is chosen by ``--backend URL`` > ``THOTH_HOST`` > ``.thoth.yaml``'s
``host`` (with its ``tls_verify``); none means the embedded resolver. The
request carries what the embedded lock would use: the Pipfile (or
requirements.in), the existing lock, the target runtime environment, the
recommendation type, labels, ``--exclude-newer`` and the prescriptions of the
user and the project. Source URLs go out with ``${VAR}`` expanded (the backend
cannot see this machine's variables); the lock written here keeps the
Pipfile's own ``_meta`` (sources as written, hash), so it is the lock the
embedded resolver writes for the same input.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from packaging.utils import canonicalize_name

from ..errors import InputFileError, RemoteResolutionError, ThothPipError, UsageError
from ..formats import pipfile as pipfile_format
from ..formats import pipfile_lock, requirements
from ..fs import atomic_write
from ..guidance.justification import PackageReport, Refusal
from ..knowledge.locations import project_dir, user_prescriptions_dir
from ..models import Justification, Lock, Pipfile, Source, expand_vars, redact_url
from ..reporting import Reporter
from ..resolve.remote import RemoteResolver
from ..resolve.wire import AdviseRequest, AdviseResult
from ..settings import Settings
from .environment import load_project_config
from .inputs import load_pipfile
from .lock import (
    CompileRequest,
    GuidanceOptions,
    LockOutcome,
    LockRequest,
    configured_type,
    lock_target,
    previous_lock,
)
from .project import ProjectFiles, discover, read_text
from .services import Services, open_services, parse_exclude_newer

ANSWER = "the backend's lock"
RETIRED_DOMAIN = "thoth-station.ninja"  # the public Thoth deployments (thamos' default host)
_INCLUDE = re.compile(r"^\s*(-r|-c|--requirement|--constraint)\b")


@dataclass(frozen=True)
class Backend:
    """Where to resolve: the backend's URL, the bearer token, TLS verification."""

    url: str
    token: Optional[str] = None
    verify: bool = True


def configured_backend(settings: Settings, environ: Mapping[str, str]) -> Optional[Backend]:
    """``--backend`` / ``THOTH_HOST`` (in ``settings``), else ``.thoth.yaml``'s ``host``; None: embedded."""
    config = load_project_config(settings.project_dir, environ)
    url = settings.backend_url or (config.host if config is not None and not retired_host(config.host) else None)
    if not url or not url.strip():
        return None
    verify = config.tls_verify if config is not None else True
    return Backend(url.strip(), token=environ.get("THAMOS_TOKEN") or None, verify=verify)


def retired_host(host: Optional[str]) -> bool:
    """A host of the retired public Thoth service, which thamos writes into every ``.thoth.yaml`` it generates.

    Such a ``host:`` says where thamos used to send requests, not that a backend
    is wanted: honouring it would break every project migrated from thamos.
    Named explicitly (``--backend``, ``THOTH_HOST``), it is still used.
    """
    if not host:
        return False
    name = host.strip().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return name == RETIRED_DOMAIN or name.endswith("." + RETIRED_DOMAIN)


@dataclass(frozen=True)
class RemoteLockOutcome(LockOutcome):
    """A lock made by a backend: counted from the lock itself (there are no local resolutions)."""

    @property
    def package_count(self) -> int:
        return len({pin.key for pins in (self.lock.categories.values() if self.lock else ()) for pin in pins})


def remote_lock(
    settings: Settings,
    environ: Mapping[str, str],
    reporter: Reporter,
    request: LockRequest,
    *,
    url: str,
    token: Optional[str] = None,
    verify: bool = True,
) -> LockOutcome:
    """``thoth-pip lock`` through the backend at ``url``: Pipfile.lock, or requirements.txt from requirements.in."""
    files = discover(settings)
    backend = Backend(url, token, verify)
    with open_services(settings, environ, reporter) as services:
        if files.pipfile is None and files.requirements_in is not None:
            return compile_remote(settings, services, CompileRequest(src=files.requirements_in), request, backend)
        return lock_pipfile_remote(files, settings, services, request, backend)


# --- Pipfile -> Pipfile.lock ---------------------------------------------------------------------


def lock_pipfile_remote(
    files: ProjectFiles, settings: Settings, services: Services, request: LockRequest, backend: Backend
) -> LockOutcome:
    """``lock_pipfile`` with the resolution asked of ``backend``; the lock is written here, atomically."""
    started = time.monotonic()
    _refuse_local_only(settings, request)
    pipfile = load_pipfile(files, services)
    if pipfile is None or files.pipfile is None:
        raise InputFileError("no Pipfile here", path=str(settings.pipfile_path),
                             hint="create one with `thoth-pip install PACKAGE`")
    _refuse_local_paths(pipfile)
    previous = previous_lock(files)
    wire = build_request(
        settings, services, request, pipfile.requires,
        requirements=_pipfile_text(read_text(files.pipfile), pipfile, services.environ),
        requirements_format="pipenv",
        requirements_lock=_lock_text_for(previous, request.upgrade),
    )
    result = _advise(backend, wire, services)
    new = local_lock(result.lock, pipfile)
    text = pipfile_lock.dump_lock(new)
    written = _write(settings.lock_path, text, settings, request)
    return RemoteLockOutcome(
        path=settings.lock_path, text=text, lock=new, resolutions={}, changes=lock_changes(previous, new),
        seconds=time.monotonic() - started, written=written, report=remote_report(result.report),
    )


def _write(path: Path, text: str, settings: Settings, request: LockRequest) -> bool:
    """Write the checked lock atomically unless asked not to; whether it was written."""
    if not request.write or settings.dry_run:
        return False
    atomic_write(path, text)
    return True


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


def _pipfile_text(text: str, pipfile: Pipfile, environ: Mapping[str, str]) -> str:
    """The Pipfile as the backend needs it: ``${VAR}`` in source URLs expanded, the default index named."""
    if not pipfile_format.parse_pipfile(text).sources:
        source = pipfile.sources[0]
        text = f'[[source]]\nurl = "{source.url}"\nverify_ssl = {str(source.verify_ssl).lower()}\nname = "{source.name}"\n\n{text}'
    for source in pipfile.sources:
        expanded = expand_vars(source.url, environ)
        if expanded != source.url:
            text = text.replace(source.url, expanded)
    return text


def _refuse_local_paths(pipfile: Pipfile) -> None:
    for category, deps in pipfile.categories.items():
        for dep in deps:
            if dep.direct is not None and dep.direct.kind in ("file", "path") and "://" not in dep.direct.location:
                raise UsageError(
                    f"{category}.{dep.name} is a local path ({dep.direct.location}), which a backend cannot read",
                    hint="lock without --backend (and without THOTH_HOST / .thoth.yaml host)",
                )


def _lock_text_for(previous: Optional[Lock], upgrade: Any) -> Optional[str]:
    """The previous lock as the backend's preferences: none for ``--upgrade``, without the named packages for ``-P``."""
    if previous is None or upgrade is True:
        return None
    if upgrade:
        keys = {canonicalize_name(str(name)) for name in upgrade}
        kept = {category: tuple(p for p in pins if p.key not in keys) for category, pins in previous.categories.items()}
        previous = replace(previous, categories=kept)
    return pipfile_lock.dump_lock(previous)


def lock_changes(previous: Optional[Lock], new: Lock) -> dict[str, tuple[Optional[str], Optional[str]]]:
    """name -> (old, new) version for every pin that moved, category by category (as the embedded lock reports)."""
    out: dict[str, tuple[Optional[str], Optional[str]]] = {}
    for category, pins in new.categories.items():
        before = _versions(previous.categories.get(category, ()) if previous else ())
        after = _versions(pins)
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                out[name] = (before.get(name), after.get(name))
    return out


def _versions(pins: Sequence[Any]) -> dict[str, str]:
    return {str(p.key): p.version.lstrip("=") for p in pins if p.version}


# --- requirements.in -> requirements.txt -----------------------------------------------------------


def compile_remote(
    settings: Settings, services: Services, compile_request: CompileRequest, request: LockRequest, backend: Backend
) -> LockOutcome:
    """``compile_requirements`` (project requirements.in, default options) with the resolution asked of ``backend``."""
    started = time.monotonic()
    _refuse_local_only(settings, request)
    _refuse_compile_options(compile_request, request)
    src = compile_request.src
    text = read_text(src)
    if any(_INCLUDE.match(line) for line in text.splitlines()):
        raise UsageError(f"{src.name} includes other files (-r/-c), which a backend cannot read",
                         hint="lock without --backend, or put the requirements in one file")
    parsed = requirements.parse_requirements(text, str(src))
    injected = () if parsed.index_url or parsed.extra_index_urls else services.pip_sources()
    output = src.with_name("requirements.txt")
    previous_text = read_text(output) if output.is_file() else None
    wire = build_request(
        settings, services, request, {},
        requirements=_with_indexes(text, injected, services.environ),
        requirements_format="pip-tools",
        requirements_lock=None if request.upgrade else previous_text,
    )
    result = _advise(backend, wire, services)
    out_text = _without_indexes(result.lock, injected, services.environ)
    lock = local_requirements_lock(out_text, output)
    written = _write(output, out_text, settings, request)
    previous = _requirements_lock_or_none(previous_text, output)
    return RemoteLockOutcome(
        path=output, text=out_text, lock=lock, resolutions={}, changes=lock_changes(previous, lock),
        seconds=time.monotonic() - started, written=written, report=remote_report(result.report),
    )


def local_requirements_lock(text: str, path: Path) -> Lock:
    """The backend's requirements.txt, validated: every entry pinned and hashed."""
    try:
        return requirements.to_lock(requirements.parse_requirements(text, str(path)))
    except ThothPipError as exc:
        raise RemoteResolutionError(f"{ANSWER} is not a pinned, hashed requirements.txt: {exc.message}") from exc


def _refuse_compile_options(compile_request: CompileRequest, request: LockRequest) -> None:
    plain = CompileRequest(src=compile_request.src)
    if compile_request != plain or compile_request.src.name != "requirements.in":
        raise UsageError("pip-compile options (-r FILE, -o, -i, -f, -c, -P, --no-header...) are not sent to a backend",
                         hint="lock requirements.in without them, or lock without --backend")
    if request.upgrade and request.upgrade is not True:
        raise UsageError("-P/--upgrade-package is not sent to a backend in pip-compile mode", hint="use -U, or lock without --backend")


def _with_indexes(text: str, sources: Sequence[Source], environ: Mapping[str, str]) -> str:
    """The indexes pip would use here, written into the requirements the backend gets."""
    lines = [f"{'--index-url' if i == 0 else '--extra-index-url'} {s.expanded_url(environ)}" for i, s in enumerate(sources)]
    return "\n".join([*lines, text]) if lines else text


def _without_indexes(text: str, sources: Sequence[Source], environ: Mapping[str, str]) -> str:
    """The backend's answer without the index lines ``_with_indexes`` asked for (pip-compile omits implicit ones)."""
    if not sources:
        return text
    flags = {f"{'--index-url' if i == 0 else '--extra-index-url'} {s.expanded_url(environ)}" for i, s in enumerate(sources)}
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


# --- the request and the call ----------------------------------------------------------------------


def build_request(
    settings: Settings, services: Services, request: LockRequest, requires: Mapping[str, str], **files: Any
) -> AdviseRequest:
    """The ``AdviseRequest`` of ``files`` (requirements, format, lock) with what the embedded lock would use."""
    selected, _ = lock_target(settings, services, request, requires)
    options = request.guidance or GuidanceOptions()
    parse_exclude_newer(settings.exclude_newer)  # the same message as the embedded lock for a bad date
    common = {
        "runtime_environment": _without_nulls(selected.environment.to_thoth_dict()),
        "recommendation_type": (options.recommendation_type or configured_type(selected.environment)).lower(),
        "labels": {**dict(selected.environment.labels or {}), **dict(options.labels)},
        "exclude_newer": settings.exclude_newer,
        "prescriptions": prescription_texts(settings, services.environ, options.prescriptions),
        "dev": settings.dev,
        "search_limit": options.limit,  # lock: 0 (the first guided stack); advise: its search
        "pre": settings.pre,
        "min_release_age": options.min_release_age,
        "deny_licenses": list(options.deny_licenses),
        "allow_vulnerabilities": list(options.allow_vulnerabilities),
    }
    return AdviseRequest.from_dict({**common, **files})


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def prescription_texts(settings: Settings, environ: Mapping[str, str], paths: Sequence[Path]) -> list[str]:
    """The user's, the project's and the explicit prescription files, in the order the embedded lock loads them."""
    places = [user_prescriptions_dir(environ), project_dir(settings.project_dir)]
    files = [f for place in places if place.is_dir() for f in _yaml_files(place)]
    files += [f for path in paths for f in _yaml_files(Path(path))]
    return [read_text(f) for f in files]


def _yaml_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def _refuse_local_only(settings: Settings, request: LockRequest) -> None:
    """Knobs the backend API does not carry: refused rather than silently dropped."""
    unsent = {"a policy object": request.policy is not None}
    named = [flag for flag, value in unsent.items() if value]
    if named:
        raise UsageError(f"{', '.join(named)} cannot be sent to a backend",
                         hint="lock without --backend (and without THOTH_HOST / .thoth.yaml host) to use them")


def _advise(backend: Backend, wire: AdviseRequest, services: Services) -> AdviseResult:
    services.reporter.message(f"resolving on the backend at {redact_url(backend.url)}", "info")
    with RemoteResolver(backend.url, token=backend.token, verify=backend.verify, environ=services.environ) as remote:
        return remote.advise(wire)


# --- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteReport:
    """The backend's Thoth-shaped report, readable as a ``guidance.justification.Report`` (``show_report``)."""

    data: Mapping[str, Any]
    recommendation_type: str
    score: float
    packages: tuple[PackageReport, ...]
    refused: tuple[Refusal, ...]
    justification: tuple[Justification, ...]
    stack_info: tuple[Justification, ...]

    def to_thoth_json(self) -> dict[str, Any]:
        from ..resolve.wire import thaw

        return thaw(self.data)  # type: ignore[no-any-return]

    @property
    def has_errors(self) -> bool:
        return any(j.type == "ERROR" for j in (*self.justification, *self.stack_info))


def remote_report(data: Mapping[str, Any]) -> Optional[RemoteReport]:
    """The report of an ``AdviseResult``, or None when the backend sent none."""
    if not data or "products" not in data:
        return None
    packages = tuple(
        PackageReport(str(p.get("package_name")), str(p.get("version")), float(p.get("score") or 0.0),
                      _justifications(p.get("justification")), p.get("index"))
        for p in data.get("packages") or ()
    )
    refused = tuple(
        Refusal(str(r.get("package_name")), str(r.get("version")), _justifications(r.get("justification")))
        for r in data.get("refused") or ()
    )
    products: Sequence[Mapping[str, Any]] = data.get("products") or ({},)
    everything = _justifications(products[0].get("justification"))
    told = sum(len(p.justifications) for p in packages) + sum(len(r.justifications) for r in refused)
    return RemoteReport(
        data=data, recommendation_type=str(data.get("recommendation_type") or ""), score=float(data.get("score") or 0.0),
        packages=packages, refused=refused, justification=everything[: max(0, len(everything) - told)],
        stack_info=_justifications(data.get("stack_info")),
    )


def _justifications(items: Any) -> tuple[Justification, ...]:
    out = []
    for item in items or ():
        kind = str(item.get("type") or "INFO").upper()
        out.append(Justification(
            type=kind if kind in ("INFO", "WARNING", "ERROR") else "INFO",  # type: ignore[arg-type]
            message=str(item.get("message") or ""),
            link=item.get("link"),
            package=item.get("package_name"),
            version=item.get("version"),
        ))
    return tuple(out)
