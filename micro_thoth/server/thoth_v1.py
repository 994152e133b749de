"""Thoth User API v1, the part the published ``thamos`` client uses for ``thamos advise``.

Shapes follow thoth-station/user-api's OpenAPI: ``GET /api/v1`` (discovery),
``POST /api/v1/advise/python`` -> 202 ``{analysis_id, parameters, cached,
authenticated}``, ``GET /api/v1/advise/python/{id}`` (202 pending, 200 the
adviser document, 400 failed, 404 unknown), ``.../status`` and ``.../log``.
A resolution that fails for a reason of the request (a conflict, a missing
package) is, as in Thoth, a 200 document with ``result.error`` set, which
thamos prints; infrastructure failures (time limit, crash) are 400.
"""

from __future__ import annotations

import datetime
import json
import socket
import sys
from collections.abc import Mapping
from typing import Any, Optional

from packaging.utils import canonicalize_name

from .. import __version__, errors
from ..formats import pipfile_lock, requirements
from ..resolve.scrub import scrub
from ..resolve.wire import AdviseRequest, JobView
from ..values import thaw
from .intake import toml_data
from .storage import JobRecord

_STATE = {"queued": "pending", "running": "running", "succeeded": "succeeded", "failed": "failed"}
_PATHS = (
    "/api/v1",
    "/api/v1/advise/python",
    "/api/v1/advise/python/{analysis_id}",
    "/api/v1/advise/python/{analysis_id}/log",
    "/api/v1/advise/python/{analysis_id}/status",
    "/api/v1/provenance/python",
    "/api/v1/provenance/python/{analysis_id}",
    "/api/v1/provenance/python/{analysis_id}/log",
    "/api/v1/provenance/python/{analysis_id}/status",
)
# Thoth's analysis kinds: our job task, and the path of its endpoints under /api/v1.
KINDS = {"advise": "advise/python", "provenance": "provenance/python"}


def discovery() -> dict[str, Any]:
    """What ``GET /api/v1`` answers: the registered v1 paths."""
    return {"paths": list(_PATHS)}


def _format(stack: Mapping[str, Any]) -> str:
    value = stack.get("requirements_format") or "pipenv"
    if isinstance(value, list):  # the OpenAPI document types it as a list of one string
        value = value[0] if value else "pipenv"
    return str(value)


def to_request(body: object, query: Mapping[str, Any], task: str = "advise") -> AdviseRequest:
    """The v1 submit body and query parameters as our request (errors name v1 key paths)."""
    if not isinstance(body, Mapping):
        raise errors.InputFileError("expected a JSON object", path="advise input")
    stack = body.get("application_stack")
    if not isinstance(stack, Mapping):
        raise errors.InputFileError("is required", path="advise input", key_path="application_stack")
    if body.get("constraints"):
        raise errors.InputFileError(
            "constraints are not supported by this backend", path="advise input", key_path="constraints",
            hint="put the constraints into the Pipfile",
        )  # fmt: skip
    data = {
        "requirements": stack.get("requirements"),
        "requirements_format": _format(stack),
        "requirements_lock": stack.get("requirements_lock") or None,
        "runtime_environment": body.get("runtime_environment") or {},
        "recommendation_type": query.get("recommendation_type") or "stable",
        "labels": body.get("labels") or {},
        "dev": query.get("dev") or False,
        "force": query.get("force") or False,
    }
    if task == "provenance" and not data["requirements_lock"]:
        raise errors.InputFileError(
            "a provenance check needs the Pipfile.lock", path="advise input", key_path="application_stack.requirements_lock"
        )
    try:
        return AdviseRequest.from_dict(data)
    except errors.InputFileError as exc:
        key = exc.key_path or ""
        if key.startswith("requirements"):
            key = f"application_stack.{key}"
        raise errors.InputFileError(exc.reason, path="advise input", key_path=key, hint=exc.hint) from exc


def parameters(job: JobRecord, query: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The request as Thoth echoes it back (credentials already removed in storage)."""
    request = job.request
    params = {
        "analysis_id": job.id,
        "recommendation_type": request.get("recommendation_type"),
        "runtime_environment": request.get("runtime_environment") or {},
        "labels": request.get("labels") or {},
        "dev": request.get("dev", False),
        "application_stack": {
            "requirements": request.get("requirements"),
            "requirements_lock": request.get("requirements_lock") or "",
            "requirements_format": request.get("requirements_format"),
        },
    }
    for key in ("source_type", "origin", "debug"):
        if query and query.get(key) is not None:
            params[key] = query[key]
    return scrub(params)  # type: ignore[no-any-return]


def _iso(stamp: Optional[float]) -> Optional[str]:
    if stamp is None:
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat()


def status(job: JobRecord) -> dict[str, Any]:
    reason = (job.problem or {}).get("detail") if job.state == "failed" else None
    return {
        "finished_at": _iso(job.finished_at),
        "reason": reason,
        "started_at": _iso(job.started_at),
        "state": _STATE[job.state],
    }


def _justifications(items: object) -> list[dict[str, Any]]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            entry = dict(item)
            entry.setdefault("type", "INFO")
            entry.setdefault("message", "")
            entry["link"] = entry.get("link") or ""
            out.append(entry)
    return out


def requirements_dict(request: Mapping[str, Any], lock: Mapping[str, Any]) -> dict[str, Any]:
    """The Pipfile as the adviser answers it: ``source``, ``packages``, ``dev-packages``, ``requires``.

    A Pipfile without ``[[source]]`` gets the lock's sources (pipenv's hash is the same
    either way); the text was parsed when the request was accepted.
    """
    if request.get("requirements_format") != "pipenv":
        return _pipfile_of_requirements(request.get("requirements") or "", lock)
    data = toml_data(request.get("requirements") or "")
    meta = _meta(lock)
    if "source" not in data:
        data["source"] = list(meta.get("sources") or [])
    data.setdefault("packages", {})
    data.setdefault("dev-packages", {})
    data.setdefault("requires", {})
    return data


def _meta(lock: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = lock.get("_meta")
    return meta if isinstance(meta, Mapping) else {}


def _pipfile_of_requirements(text: str, lock: Mapping[str, Any]) -> dict[str, Any]:
    """A requirements.in as the Pipfile table thamos turns back into a requirements.in."""
    meta = _meta(lock)
    try:
        lines = requirements.parse_requirements(text, "requirements.in").requirements
    except errors.ThothPipError:  # checked at submission; a stored request parses
        lines = ()
    packages: dict[str, Any] = {}
    for line in lines:
        dep = line.dependency
        entry: dict[str, Any] = {"version": dep.specifier or "*"}
        if dep.extras:
            entry["extras"] = list(dep.extras)
        if dep.markers:
            entry["markers"] = dep.markers
        packages[dep.name] = entry if len(entry) > 1 else entry["version"]
    return {"source": list(meta.get("sources") or []), "packages": packages, "dev-packages": {},
            "requires": dict(meta.get("requires") or {})}  # fmt: skip


def locked_dict(request: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The answer's lock as a Pipfile.lock document (a requirements.txt answer converted)."""
    if request.get("requirements_format") != "pipenv":
        try:
            return pipfile_lock.lock_to_dict(requirements.to_lock(requirements.parse_requirements(text, "requirements.txt")))
        except errors.ThothPipError:
            return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def dependency_graph(graph: object, requirements: Mapping[str, Any], lock: Mapping[str, Any]) -> dict[str, Any]:
    """The resolver's graph with each node spelled as the Pipfile (else the lock) spells it: thamos looks them up."""
    graph = graph if isinstance(graph, Mapping) else {}
    spelled: dict[str, str] = {}
    for section in (lock.get("develop"), lock.get("default"), requirements.get("dev-packages"), requirements.get("packages")):
        for name in section if isinstance(section, Mapping) else ():
            spelled[canonicalize_name(name)] = name
    nodes = [spelled.get(canonicalize_name(str(n)), str(n)) for n in graph.get("nodes") or []]
    edges = [list(e) for e in graph.get("edges") or [] if isinstance(e, (list, tuple)) and len(e) == 2]
    return {"nodes": nodes, "edges": edges}


def _product(job: JobRecord, lock: dict[str, Any], report: Mapping[str, Any]) -> dict[str, Any]:
    """Products[0] of the adviser document: the request's own Pipfile, runtime environment and
    labels (never this server's machine), the complete lock, the real graph and justification."""
    given = [p for p in report.get("products") or [] if isinstance(p, Mapping)]
    product = given[0] if given else {}
    requirements = requirements_dict(job.request, lock)
    return {
        "project": {
            "requirements": requirements,
            "requirements_locked": lock,
            "runtime_environment": job.request.get("runtime_environment") or {},
            "constraints": [],
        },
        "justification": _justifications(product.get("justification")),
        "score": float(product.get("score") or report.get("score") or 0.0),
        "advised_runtime_environment": product.get("advised_runtime_environment") or None,
        "advised_manifest_changes": list(product.get("advised_manifest_changes") or []),
        "dependency_graph": dependency_graph(report.get("dependency_graph"), requirements, lock),
    }


def _metadata(job: JobRecord, params: dict[str, Any]) -> dict[str, Any]:
    info = sys.version_info
    finished = job.finished_at or job.created_at
    return {
        "analyzer": "micro-thoth",
        "analyzer_version": __version__,
        "arguments": {"thoth-adviser": params},
        "datetime": _iso(finished),
        "distribution": {"codename": "", "id": "", "like": "", "version": "",
                         "version_parts": {"build_number": "", "major": "", "minor": ""}},
        "document_id": job.id,
        "duration": round(finished - (job.started_at or job.created_at)),
        "hostname": socket.gethostname(),
        "os_release": {},
        "python": {"api_version": sys.api_version, "implementation_name": sys.implementation.name,
                   "major": info.major, "minor": info.minor, "micro": info.micro,
                   "releaselevel": info.releaselevel, "serial": info.serial},
        "thoth_deployment_name": "micro-thoth",
        "timestamp": int(finished),
    }  # fmt: skip


def document(job: JobRecord, view: JobView) -> dict[str, Any]:
    """The adviser document of a finished job, as ``GET /api/v1/advise/python/{id}`` returns it."""
    params = parameters(job)
    if view.result is not None:
        report = thaw(view.result.report)
        report["products"] = [_product(job, locked_dict(job.request, view.result.lock), report)]
        report.pop("dependency_graph", None)
        report["stack_info"] = _justifications(report.get("stack_info"))
        result = {"error": False, "error_msg": None, "parameters": params, "report": report}
    else:
        detail = view.problem.detail if view.problem else "the resolution failed"
        stack_info = [{"type": "ERROR", "message": detail, "link": ""}]
        result = {"error": True, "error_msg": detail, "parameters": params,
                  "report": {"products": [], "stack_info": stack_info}}  # fmt: skip
    return {"metadata": _metadata(job, params), "result": result}


def provenance_document(job: JobRecord, view: JobView) -> dict[str, Any]:
    """The provenance-checker document of a finished job (``GET /api/v1/provenance/python/{id}``)."""
    params = parameters(job)
    lock = locked_dict(job.request, job.request.get("requirements_lock") or "")
    project: dict[str, Any] = {"requirements": requirements_dict(job.request, lock), "requirements_locked": lock,
               "runtime_environment": job.request.get("runtime_environment") or {}, "constraints": []}  # fmt: skip
    if view.result is not None:
        report = thaw(view.result.report.get("provenance") or [])
        error = any(item.get("type") == "ERROR" for item in report)
        result: dict[str, Any] = {"error": False, "error_msg": None, "report": report}
    else:
        detail = view.problem.detail if view.problem else "the provenance check failed"
        error, result = True, {"error": True, "error_msg": detail,
                               "report": [{"type": "ERROR", "id": "CHECK-FAILED", "justification": detail}]}  # fmt: skip
    result.update({"input": params["application_stack"], "parameters": {"project": project}})
    metadata = _metadata(job, params)
    metadata["analyzer"] = "micro-thoth-provenance-checker"
    metadata["arguments"] = {"thoth-adviser": {**params, "errors_found": error}}
    return {"metadata": metadata, "result": result}


def infrastructure_failure(view: JobView) -> bool:
    """Failures that are the backend's (time limit, crash, lost job): v1 answers 400, not a document."""
    return view.problem is None or view.problem.error_class == "RemoteResolutionError"
