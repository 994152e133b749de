"""``thoth-pip sync`` / ``install --deploy``: make an environment match a lock, verified, all-or-nothing."""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from packaging.markers import InvalidMarker, Marker, UndefinedEnvironmentName
from packaging.utils import NormalizedName

from .. import build, download, install
from ..artifacts import Artifact
from ..credentials import deferred_client
from ..digests import sha256_bytes
from ..environment import interpreter
from ..errors import (
    InputFileError,
    InstallError,
    NoCompatibleArtifact,
    TargetInterpreterError,
    UnsafeWheel,
    UsageError,
)
from ..models import DirectReference, Lock, Pin, Pipfile, Target, redact_url
from ..reporting import Reporter
from ..settings import Settings
from . import inputs, sync_state
from .project import ProjectFiles, discover
from .services import Services, open_services
from .unpack_early import EarlyUnpacker


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync did (for the final line and ``--json``)."""

    plan: install.Plan
    result: Optional[install.InstallResult]
    environment: Path
    seconds: float
    dry_run: bool = False


def sync(settings: Settings, environ: Mapping[str, str], reporter: Reporter) -> SyncOutcome:
    """Install the project's lock (Pipfile.lock, poetry.lock or requirements.txt) into its environment."""
    started = time.monotonic()
    files = discover(settings)
    with open_services(settings, environ, reporter) as services:
        lock, pipfile = inputs.load_lock(files, settings, services)
        return install_lock(lock, pipfile, files, settings, services, started)


def install_lock(
    lock: Lock,
    pipfile: Optional[Pipfile],
    files: ProjectFiles,
    settings: Settings,
    services: Services,
    started: float,
) -> SyncOutcome:
    """The shared tail of sync and install: target, plan, fetch, verify, install."""
    lock = _anchored(lock, settings)
    services.use_sources(lock.sources)
    env = select_environment(settings, files, lock, services)
    target = replace(env.interpreter.target(), formats=settings.formats.then(lock.formats))
    if settings.deploy:
        inputs.check_deploy_python(lock, target)
    pins = select_pins(lock, settings.selected_categories(), target, pipfile)
    _say_what_the_target_skips(lock, settings.selected_categories(), pins, target, services)
    wanted = [install.WantedPackage(p.name, p.version, p.direct, requested=_requested(p, pipfile)) for p in pins]
    plan = install.plan(wanted, env)
    if settings.dry_run or plan.is_empty:
        if not settings.dry_run:
            _stamp(settings, env, plan)
        return SyncOutcome(plan, None, env.prefix, time.monotonic() - started, settings.dry_run)
    needed = {w.key for w in plan.wheels_needed}
    download.check_hashes([p for p in pins if p.key in needed], path=lock.path)
    _refuse_externally_managed(env, settings, services)
    with tempfile.TemporaryDirectory(prefix="thoth-pip-build-") as scratch, \
            install.unpacking_for(settings.link_mode, env, services.cache, bytecode=settings.compile_bytecode) as unpacking:
        needed_pins = [p for p in pins if p.key in needed]
        fetched, trees, compiled = _fetch_and_unpack(needed_pins, lock, target, env, services, Path(scratch), unpacking)
        with _naming_the_origin(fetched, pins):
            result = install.execute(
                plan,
                trees,
                env,
                compile_bytecode=settings.compile_bytecode,
                reporter=services.reporter,
                lock_timeout=settings.install_timeout,
                workers=settings.workers,
                link_mode=unpacking.link_mode,
                trees_compiled=compiled,
            )
        _install_editables(plan, pins, lock, env, services)
    result = replace(result, installed=(*result.installed, *(w.describe() for w in plan.editables)))
    _stamp(settings, env, plan)
    return SyncOutcome(plan, result, env.prefix, time.monotonic() - started)


def _fetch_and_unpack(
    pins: Sequence[Pin],
    lock: Lock,
    target: Target,
    env: install.TargetEnvironment,
    services: Services,
    scratch: Path,
    unpacking: Union[install.Staging, install.CacheTrees],
) -> tuple[Fetched, dict[NormalizedName, Path], Optional[int]]:
    """Each wheel downloaded, verified and unpacked as it arrives, its bytecode compiled meanwhile;
    the unpacked trees and how many files were compiled (the bytecode is kept for the next install)."""
    settings = services.settings
    compiler = install.compile_pool(env, settings.workers) if settings.compile_bytecode else None
    with compiler or nullcontext(), EarlyUnpacker(
        services.cache, unpacking.stage, settings.workers, compiler, env.interpreter.cache_tag,
        compiled=lambda tree: unpacking.keep_bytecode([tree]),
    ) as unpacker:
        fetched = fetch_wheels(pins, lock, target, env, services, scratch, on_ready=unpacker.ready)
        with _naming_the_origin(fetched, pins):
            trees = unpacker.trees(fetched.wheels, _verified_digests(fetched.wheels, services))
        compiled = compiler.close() if compiler is not None else None
    if settings.compile_bytecode:
        if compiled is None:
            compiled = install.precompile_trees(list(trees.values()), env)
        unpacking.keep_bytecode(trees.values(), settings.workers)
    return fetched, trees, compiled


def _anchored(lock: Lock, settings: Settings) -> Lock:
    """A lock's relative paths point from its directory (the Pipfile's, as pipenv has it), whatever
    the current directory is (``-C DIR``, ``PIPENV_PIPFILE``)."""
    return lock.anchored(str(Path(lock.path).parent if lock.path else settings.pipfile_path.parent))


def _stamp(settings: Settings, env: install.TargetEnvironment, plan: install.Plan) -> None:
    """Record the environment as this sync left it, when it is the project's (see sync_state)."""
    venv = sync_state.project_venv(settings)
    if venv is None or plan.editables or not _same_path(venv, env.prefix):
        return
    digest = sync_state.request_digest(settings, sync_state.inputs_of(discover(settings)))
    sync_state.record(env.prefix, env.site_dirs(), digest, len(plan.unchanged) + len(plan.wheels_needed))


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


@contextmanager
def _naming_the_origin(fetched: Fetched, pins: Sequence[Pin]) -> Iterator[None]:
    """A refused wheel is named with its package, version and where it came from (credentials hidden)."""
    try:
        yield
    except UnsafeWheel as exc:
        wheels = fetched.wheels
        pin = next((p for p in pins if p.key in wheels and exc.distribution in (p.name, wheels[p.key].name)), None)
        if pin is None or exc.url is not None:
            raise
        origin = redact_url(fetched.origins[pin.key])
        what = pin.describe() if pin.direct is None else pin.name
        told = f"from {origin}" if f" for {what}" in exc.message else f"{what} from {origin}"
        raise UnsafeWheel(f"{exc.message} ({told})", distribution=pin.name, hint=exc.hint, url=origin) from exc


def _verified_digests(wheels: Mapping[NormalizedName, Path], services: Services) -> dict[NormalizedName, str]:
    """Digests already known for downloaded wheels (``artifacts-v1/<aa>/<sha256>/<file>``): no re-hash."""
    digests = {key: services.cache.artifact_digest(path) for key, path in wheels.items()}
    return {key: digest for key, digest in digests.items() if digest is not None}


def _install_editables(plan: install.Plan, pins: Sequence[Pin], lock: Lock, env: install.TargetEnvironment, services: Services) -> None:
    """Editable references go in through their build backend (PEP 660), after the rest."""
    wanted = {w.key for w in plan.editables}
    index_urls = services.index_urls(lock.sources)
    for pin in pins:
        if pin.key in wanted and pin.direct is not None:
            services.reporter.message(f"Installing {pin.name} (editable)", "info")
            build.install_editable(pin.direct, python=env.python, environ=services.environ, index_urls=index_urls, package=pin.name)


def _refuse_externally_managed(env: install.TargetEnvironment, settings: Settings, services: Services) -> None:
    """PEP 668: a distribution's own Python is not ours to change, unless the user insists as pip lets them."""
    message = env.externally_managed
    if message is None or not settings.system:
        return
    insist = services.environ.get("PIP_BREAK_SYSTEM_PACKAGES") or services.environ.get("PIPENV_BREAK_SYSTEM_PACKAGES")
    if insist and insist.lower() not in ("0", "false", "no", "off"):
        return
    raise InstallError(
        f"{env.python} is externally managed (PEP 668): {message}",
        hint="install into a virtual environment, or set PIP_BREAK_SYSTEM_PACKAGES=1 to do it anyway",
    )


def _requested(pin: Pin, pipfile: Optional[Pipfile]) -> bool:
    if pipfile is None:
        return True
    return any(dep.key == pin.key for deps in pipfile.categories.values() for dep in deps)


# --- which environment ------------------------------------------------------------------------


def select_environment(
    settings: Settings, files: ProjectFiles, lock: Lock, services: Services, *, create: Optional[bool] = None
) -> install.TargetEnvironment:
    """``--system``; else the active virtualenv; else the project's ``.venv`` (created if missing,
    unless ``create`` is False, as under ``--dry-run``: then it is only planned)."""
    create = not settings.dry_run if create is None else create
    cache_dir = services.cache.root
    if settings.system:
        python = str(interpreter.find_python(settings.python)) if settings.python else "python3"
        return install.system_environment(python, cache_dir=cache_dir)
    if settings.use_active_virtualenv and settings.virtual_env is not None:
        return install.environment_for(settings.virtual_env / "bin" / "python", cache_dir=cache_dir)
    venv = files.directory / ".venv"
    if (venv / "pyvenv.cfg").exists():
        if settings.python:
            _check_venv_python(venv, settings.python, services)
        return install.ensure_venv(venv, sys.executable, cache_dir=cache_dir)
    return install.ensure_venv(venv, str(_python_for(settings, lock, services)), cache_dir=cache_dir, create=create)


def _check_venv_python(venv: Path, spec: str, services: Services) -> None:
    """``--python`` with an existing ``.venv`` of another Python is refused, never ignored."""
    have = _venv_version(venv)
    wanted = ".".join(map(str, interpreter.query(interpreter.find_python(spec), cache_dir=services.cache.root).version))
    if have is not None and not _same_python(spec, have, wanted):
        raise UsageError(
            f"{venv} has Python {have}, but --python {spec} asks for Python {wanted}",
            hint=f"remove {venv} to re-create it with Python {wanted}, or drop --python to use it as it is",
        )


def _venv_version(venv: Path) -> Optional[str]:
    for line in (venv / "pyvenv.cfg").read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("version", "version_info"):
            return value.strip()
    return None


def _same_python(spec: str, have: str, wanted: str) -> bool:
    """As precise as the user was: ``--python 3.11`` accepts any 3.11.x; a path, the exact version."""
    digits = spec.count(".") + 1 if spec.replace(".", "").isdigit() else 3
    return have.split(".")[:digits] == wanted.split(".")[:digits]


def _say_what_the_target_skips(lock: Lock, categories: Sequence[str], pins: Sequence[Pin], target: Target, services: Services) -> None:
    """As pipenv: warn when the lock was made for another Python than the environment's, and name
    each entry skipped because its marker does not hold here (a warning then, a detail otherwise)."""
    python = target.python_full_version
    wanted = lock.requires.get("python_full_version") or lock.requires.get("python_version")
    other = wanted is not None and python.split(".")[: wanted.count(".") + 1] != wanted.split(".")
    if other:
        services.reporter.message(
            f"the lock was made for Python {wanted} ([requires] of the Pipfile), but the environment's Python is {python}; "
            "entries whose markers differ between them are skipped or added", "warning")
    kept = {id(p) for p in pins}
    for category, pin in lock.select(categories):
        if id(pin) not in kept:
            version = f"=={pin.version.lstrip('=')}" if pin.version and pin.version != "*" else ""
            services.reporter.message(f"skipped {pin.name}{version} ({category}): "
                                      f"its marker {pin.markers or 'in the Pipfile'} does not hold for Python {python} "
                                      f"on {target.markers.get('sys_platform', '?')}", "warning" if other else "debug")


def _python_for(settings: Settings, lock: Lock, services: Services) -> Path:
    if settings.python:
        return interpreter.find_python(settings.python)
    wanted = lock.requires.get("python_full_version") or lock.requires.get("python_version")
    if wanted:
        try:
            return interpreter.find_python(wanted)
        except (TargetInterpreterError, UsageError):
            services.reporter.message(
                f"Python {wanted} (from the lock's requires) was not found; using {sys.executable}", "warning"
            )
    return Path(sys.executable)


# --- which pins --------------------------------------------------------------------------------


def select_pins(lock: Lock, categories: Sequence[str], target: Target, pipfile: Optional[Pipfile] = None) -> list[Pin]:
    """The lock's pins of ``categories`` whose markers hold on the target.

    A root package's markers in the Pipfile count too: pipenv sometimes drops
    them from the lock (a ``sys_platform`` key, say, leaves ``"version": "*"``).
    """
    unknown = [c for c in categories if c not in lock.categories and c not in ("default", "develop")]
    if unknown:
        raise UsageError(
            f"{lock.path or 'the lock'} has no category {', '.join(unknown)}",
            hint=f"categories in the lock: {', '.join(lock.categories) or '(none)'}",
        )
    declared = _declared_markers(pipfile)
    return [
        pin
        for category, pin in lock.select(categories)
        if _applies(pin.markers, target, lock.path, f"{category}.{pin.name}.markers")
        and _applies(declared.get(pin.key), target, pipfile.path if pipfile else None, f"{pin.name}.markers")
    ]


def _declared_markers(pipfile: Optional[Pipfile]) -> dict[NormalizedName, str]:
    if pipfile is None:
        return {}
    return {dep.key: dep.markers for deps in pipfile.categories.values() for dep in deps if dep.markers}


def _applies(markers: Optional[str], target: Target, path: Optional[str], key_path: str) -> bool:
    if not markers:
        return True
    try:
        return Marker(markers).evaluate({**target.markers, "extra": ""})
    except (InvalidMarker, UndefinedEnvironmentName) as exc:
        raise InputFileError(f"invalid markers: {exc}", path=path, key_path=key_path) from exc


# --- getting the wheels ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """The verified wheel of each pin, and where each came from (its file's URL, or what it was built from)."""

    wheels: dict[NormalizedName, Path]
    origins: dict[NormalizedName, str]


def fetch_wheels(
    pins: Sequence[Pin],
    lock: Lock,
    target: Target,
    env: install.TargetEnvironment,
    services: Services,
    scratch: Path,
    on_ready: Callable[[Path], object] = lambda path: None,
) -> Fetched:
    """A verified wheel for every pin: cache first, then the pin's index, then builds.

    ``on_ready`` hears of each downloaded file as soon as it is verified in the cache."""
    indexed = [p for p in pins if p.direct is None]
    files = [p for p in pins if p.direct is not None and p.direct.kind == "file" and p.hashes]
    built = [p for p in pins if p.direct is not None and p not in files]
    requests: dict[NormalizedName, download.DownloadRequest] = {}

    def each_request() -> Iterator[download.DownloadRequest]:
        """Each file as soon as it is known: its download starts while the next page is read."""
        for key, request in itertools.chain(_download_requests(indexed, lock, target, services),
                                            ((p.key, _file_request(p)) for p in files)):
            requests[key] = request
            yield request

    downloaded = download.download_all(
        each_request(), client=deferred_client(lambda: services.client, services.auth), cache=services.cache, reporter=services.reporter,
        workers=services.settings.workers, offline=services.settings.offline, on_ready=on_ready,
    )
    wheels = {key: downloaded[request] for key, request in requests.items()}
    index_urls = services.index_urls(lock.sources)
    subdirectories = {p.key: p.direct.subdirectory for p in files if p.direct is not None}
    for key, path in list(wheels.items()):
        if not path.name.endswith(".whl"):
            wheels[key] = _wheel_from_sdist(path, requests[key], target, env, services, index_urls, subdirectories.get(key))
    for pin in built:
        assert pin.direct is not None
        wheels[pin.key] = build.build_wheel_for(
            pin.direct, scratch, python=env.python, environ=services.environ, index_urls=index_urls, package=pin.name
        )
    origins = {key: request.artifact.url for key, request in requests.items()}
    return Fetched(wheels, {**origins, **{p.key: p.direct.pip_url() for p in built if p.direct is not None}})


def _download_requests(
    pins: Sequence[Pin], lock: Lock, target: Target, services: Services
) -> Iterator[tuple[NormalizedName, download.DownloadRequest]]:
    """Cached locked files need no index (they come first); the others are looked up on their
    pinned index only, each yielded as soon as its page is read."""
    missing: list[Pin] = []
    for pin in pins:
        cached = _cached_choice(pin, target, services)
        if cached is not None:
            yield pin.key, download.DownloadRequest(pin.name, cached, pin.hashes)
        else:
            missing.append(pin)
    if missing:
        yield from _from_indexes(missing, lock, target, services)


def _cached_choice(pin: Pin, target: Target, services: Services) -> Optional[Artifact]:
    cached = download.cached_artifacts(services.cache, pin)
    wheels = [a for a in cached if a.is_wheel and target.tag_rank(a.tags) is not None]
    if not wheels or not target.formats.allows(pin.name, wheel=True):
        return None
    return download.choose_artifact(pin, wheels, target)


def _from_indexes(
    pins: Sequence[Pin], lock: Lock, target: Target, services: Services
) -> Iterator[tuple[NormalizedName, download.DownloadRequest]]:
    sources = inputs.sources_for(lock, services)
    for pin in pins:
        if pin.index is not None and not any(s.name == pin.index for s in sources):
            raise InputFileError(
                f"{pin.name} is pinned to index '{pin.index}', which the lock's sources do not name",
                path=lock.path,
                key_path=f"{pin.name}.index",
                hint=f"sources: {', '.join(s.name for s in sources) or '(none)'}",
            )
    pinned = {p.key: p.index for p in pins if p.index}
    client = services.index_client(sources, pinned=pinned)
    locked = {p.key: _sha256s(p) for p in pins}
    client.prefetch_locked({key: digests for key, digests in locked.items() if digests})
    client.prefetch([key for key, digests in locked.items() if not digests])
    for pin in pins:
        page = client.locked_files(pin.key, locked[pin.key]) if locked[pin.key] else client.project(pin.key)
        try:
            artifact = download.choose_artifact(pin, page.artifacts, target)
        except NoCompatibleArtifact:
            # A page from our cache may predate the locked file: ask the index once more.
            fresh = services.index_client(sources, pinned=pinned, refresh=True)
            artifact = download.choose_artifact(pin, fresh.project(pin.key).artifacts, target)
        yield pin.key, download.DownloadRequest(pin.name, artifact, pin.hashes)


def _sha256s(pin: Pin) -> frozenset[str]:
    """The locked sha256 digests: the files an install looks for on the pin's page."""
    return frozenset(h.value for h in pin.hashes if h.algorithm == "sha256")


def _file_request(pin: Pin) -> download.DownloadRequest:
    location = pin.direct.url()  # type: ignore[union-attr]  # a local path as a file: URL
    filename = location.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return download.DownloadRequest(pin.name, Artifact(filename=filename, url=location), pin.hashes)


def _wheel_from_sdist(
    sdist: Path,
    request: download.DownloadRequest,
    target: Target,
    env: install.TargetEnvironment,
    services: Services,
    index_urls: Sequence[str],
    subdirectory: Optional[str] = None,
) -> Path:
    """A wheel built from a verified sdist (or from the project in ``subdirectory`` of an archive, as
    pip's ``#subdirectory=``), cached by the archive's digest (and that subdirectory)."""
    digest = sdist.parent.name
    if subdirectory:
        digest = sha256_bytes(f"{digest}#subdirectory={subdirectory}".encode())
    cached = services.cache.built_wheel(digest, target)
    if cached is not None:
        return cached
    where = f"{sdist.name}, directory {subdirectory}" if subdirectory else sdist.name
    services.reporter.message(f"Building {request.package} from {where}", "info")
    source = DirectReference("file", sdist.as_uri(), subdirectory=subdirectory) if subdirectory else sdist
    with services.cache.temp_dir() as out:
        wheel = build.build_wheel(
            source, out, python=env.python, environ=services.environ, index_urls=index_urls,
            package=request.package,
        )
        return services.cache.add_built_wheel(digest, wheel)
