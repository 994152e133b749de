"""``thoth-pip advise`` and the backend's resolver: a guided lock plus its report.

``advise_request`` is what ``thoth-pip serve`` plugs in: the same embedded,
guided lock as the command line, run in a scratch project built from the
request, so backend and embedded resolution give the same lock.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..environment.runtime import RuntimeEnvironment
from ..memory import keeping
from ..reporting import NULL_REPORTER, Reporter
from ..resolve.wire import DEFAULT_SEARCH_LIMIT
from ..settings import Settings
from .lock import GuidanceOptions, LockOutcome, LockRequest, lock_project

ADVISE_SEARCH_LIMIT = DEFAULT_SEARCH_LIMIT
KNOWLEDGE_VERSION = f"micro-thoth {__version__}"  # also the server's default (server/config.py)


def advise(settings: Settings, environ: Mapping[str, str], reporter: Reporter, request: LockRequest) -> LockOutcome:
    """A guided lock with the improvement search on (``--limit``), and its report."""
    options = request.guidance or GuidanceOptions()
    if options.limit <= 0:
        options = replace(options, limit=ADVISE_SEARCH_LIMIT)
    return lock_project(settings, environ, reporter, replace(request, guidance=options))


# --- the backend's resolver ------------------------------------------------------------------


def advise_request(request: Any) -> Any:
    """Resolve a ``resolve.wire.AdviseRequest`` into an ``AdviseResult`` (lock text + Thoth-shaped report)."""
    from ..resolve.wire import AdviseResult

    with _scratch_project() as project:
        _write_project(project, request)
        settings = Settings(project_dir=project, dev=request.dev, exclude_newer=request.exclude_newer, pre=request.pre,
                            formats=request.formats, follow_declared_direct=False)  # no server file for a package's say-so
        lock_request = LockRequest(
            overrides={**_overrides(request.environment), "host_hardware": False},
            write=False,  # the answer carries the lock: the scratch project is thrown away
            guidance=GuidanceOptions(
                recommendation_type=request.recommendation_type,
                min_release_age=request.min_release_age,
                labels=dict(request.labels),
                prescriptions=_prescription_files(project, request.prescriptions),
                deny_licenses=request.deny_licenses,
                allow_vulnerabilities=request.allow_vulnerabilities,
                limit=request.search_limit,
            ),
        )
        outcome = lock_project(settings, os.environ, NULL_REPORTER, lock_request)
        report = outcome.report.to_thoth_json() if outcome.report is not None else {}
        report["dependency_graph"] = dependency_graph(outcome.resolutions.values())
        return AdviseResult(lock=outcome.text, report=report, knowledge_version=KNOWLEDGE_VERSION)


_SCRATCH: list[Path] = []  # the scratch project of a process that keeps (memory.py): one, reused


@contextmanager
def _scratch_project() -> Iterator[Path]:
    """An empty directory for one request's project, emptied after: a new temporary one, or, in a
    resolver process (memory.keep()), its own one, emptied before and after each job (making and
    removing a directory cost ~4 ms a job on a busy machine's disk)."""
    if not keeping():
        with tempfile.TemporaryDirectory(prefix="thoth-pip-advise-") as scratch:
            yield Path(scratch)
        return
    if not _SCRATCH or not _SCRATCH[0].is_dir():
        _SCRATCH[:] = [Path(tempfile.mkdtemp(prefix="thoth-pip-advise-"))]
    project = _SCRATCH[0]
    _empty(project)
    try:
        yield project
    finally:
        _empty(project)  # the request's files do not outlive it


def _empty(directory: Path) -> None:
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def dependency_graph(resolutions: Iterable[Any]) -> dict[str, Any]:
    """Thoth's ``dependency_graph`` of resolved stacks: package names, and [parent, child] index pairs."""
    nodes: dict[str, int] = {}
    edges: dict[tuple[int, int], None] = {}
    for resolution in resolutions:
        for key in resolution.pins:
            nodes.setdefault(str(key), len(nodes))
        for edge in resolution.edges:
            if edge.parent is not None and edge.parent in nodes and edge.child in nodes:
                edges[(nodes[edge.parent], nodes[edge.child])] = None
    return {"nodes": list(nodes), "edges": [list(pair) for pair in edges]}


def _write_project(project: Path, request: Any) -> None:
    if request.requirements_format == "pipenv":
        (project / "Pipfile").write_text(request.requirements)
        if request.requirements_lock:
            (project / "Pipfile.lock").write_text(request.requirements_lock)
    else:
        (project / "requirements.in").write_text(request.requirements)
        if request.requirements_lock:
            (project / "requirements.txt").write_text(request.requirements_lock)


def _prescription_files(project: Path, texts: tuple[str, ...]) -> tuple[Path, ...]:
    directory = project / ".thoth-request-prescriptions"
    paths = []
    for i, text in enumerate(texts):
        directory.mkdir(exist_ok=True)
        path = directory / f"request-{i}.yaml"
        path.write_text(text)
        paths.append(path)
    return tuple(paths)


# What a request's runtime environment may set of the lock's target (as flags would).
_REQUEST_KEYS = ("python_version", "platform", "os_name", "os_version", "cpu_family", "cpu_model", "gpu_model",
                 "cuda_version", "cudnn_version", "base_image", "abi_symbols")  # abi_symbols: the client's libraries


def _overrides(environment: RuntimeEnvironment) -> dict[str, Any]:
    """The values the request states (typed, from ``AdviseRequest.environment``), as flag values."""
    return {key: value for key in _REQUEST_KEYS if (value := getattr(environment, key)) not in (None, "", ())}
