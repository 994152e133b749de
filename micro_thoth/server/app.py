"""The HTTP API of the backend: our ``/api/v2`` and Thoth's ``/api/v1`` over one job queue.

``create_app(settings, resolver)`` wires storage, the job queue, limits,
authentication and error bodies (RFC 9457) into a FastAPI app; uvicorn runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pickle
import platform
import re
import sysconfig
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, errors
from ..pipeline.guidance import knowledge_files
from ..pipeline.knowledge import bundle_file
from ..pipeline.provenance import check_request
from ..resolve.problem import Problem
from ..resolve.wire import API_VERSION, AdviseRequest, JobView, Knowledge, request_schema
from . import problems, thoth_v1
from .config import ServerSettings
from .databases import open_store
from .fastpath import Answers, FastPath, presented_token, remember, replay_body, token_matches
from .intake import check_files
from .jobs import TASK_PREFIX, Jobs, QueueFull
from .knowledge import knowledge_digest
from .runners import ProcessRunner, Resolver

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


ANSWERS_FOLLOW = 0.25  # seconds: answers in memory follow the shared store this closely
LOOK_ANYWAY = 10  # a sync wait reads its job from the store at least every this many polls


class _Refused(Exception):
    """Raised inside a handler to answer with a problem body (and optional headers)."""

    def __init__(self, problem: Problem, headers: Optional[dict[str, str]] = None, legacy: Any = None) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.headers = headers or {}
        self.legacy = legacy


def problem_response(problem: Problem, headers: Optional[dict[str, str]] = None, legacy: Any = None) -> JSONResponse:
    body = problem.to_dict()
    if legacy is not None:  # Thoth's clients read {"error": ..., "parameters": ...}
        body.setdefault("error", problem.detail)
        body.setdefault("parameters", legacy)
    return JSONResponse(body, status_code=problem.status, headers=headers, media_type=problems.PROBLEM_JSON)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(problems.too_large(self.limit), {"Connection": "close"})(scope, receive, send)


class ThothVersion:
    """``X-Thoth-Version`` on every answer (``thamos version`` reads it), as a plain ASGI layer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.header = (b"x-thoth-version", __version__.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_version(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, with_version if scope["type"] == "http" else send)


def _check_token(settings: ServerSettings, request: Request, legacy: Any = None) -> bool:
    """True when the request is authenticated; raises 401 when a token is needed and wrong."""
    if settings.token is None:
        return False
    presented = presented_token(request.headers.get("authorization", ""), request.query_params.get("token"))
    if not token_matches(settings.token, presented):
        raise _Refused(problems.unauthorized(), {"WWW-Authenticate": 'Bearer realm="micro-thoth"'}, legacy)
    return True


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise _Refused(
            problems.from_error(errors.InputFileError(f"not JSON: {exc}", path="request body"), status=400)
        ) from exc


def _accept(
    settings: ServerSettings, jobs: Jobs, raw: bytes, convert: Callable[[Any], AdviseRequest], task: str = "advise",
    *, prefix: str = "", legacy: Any = None,
) -> tuple[Any, bool]:
    """Parse, check and queue a request (in a worker thread: parsing a large body takes CPU).

    Everything wrong with the request is found here, before any job exists.
    """
    try:
        request = convert(_json(raw))
        check_files(request, prefix)
    except errors.ThothPipError as exc:
        if legacy is None:
            raise
        raise _Refused(problems.from_error(exc, status=400), legacy=legacy) from exc
    return _submit(settings, jobs, request, task, legacy)


def _isolation(settings: ServerSettings, resolver: Resolver) -> ServerSettings:
    """Process isolation needs a resolver importable by name; fall back to threads otherwise."""
    if settings.isolation != "process":
        return settings
    try:
        pickle.dumps(resolver)
    except Exception:
        return replace(settings, isolation="thread")
    return settings


_TOKEN_IN_QUERY = re.compile(r"(?i)([?&]token=)[^&\s]*")


class RedactTokens(logging.Filter):
    """Hide ``token=...`` (how thamos sends THAMOS_TOKEN) in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_QUERY.sub(r"\1****", a) if isinstance(a, str) else a for a in record.args)
        return True


def create_app(settings: ServerSettings, resolver: Resolver) -> FastAPI:
    """The backend as an ASGI app; jobs start with the app and stop with it."""
    settings = _isolation(settings, resolver)
    store = open_store(settings.database_url, settings.data_dir)
    jobs = Jobs(settings, store, {"advise": resolver, "provenance": check_request})
    answers = Answers()
    jobs.changed.append(answers.drop)
    answers.finished.append(jobs.finished_elsewhere)
    watcher = threading.Thread(
        target=answers.watch, args=(store.changed, knowledge_digest, ANSWERS_FOLLOW), name="answers", daemon=True
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logging.getLogger("uvicorn.access").addFilter(RedactTokens())
        jobs.start()
        await run_in_threadpool(jobs.ready, ProcessRunner.START_TIMEOUT)  # resolver processes warm first
        await run_in_threadpool(knowledge_digest)  # the first request need not compute it
        watcher.start()
        try:
            yield
        finally:
            answers.close()
            jobs.close()
            store.close()

    app = FastAPI(
        title="micro-thoth resolver backend",
        version=__version__,
        description="Guided, pinned resolution of Python dependencies (Pipfile / requirements.in) "
        "into Pipfile.lock / requirements.txt; also speaks Thoth User API v1 for thamos.",
        lifespan=lifespan,
    )
    app.state.jobs = jobs
    app.state.answers = answers
    app.state.settings = settings
    _install_error_handlers(app)
    _install_v2(app, settings, jobs)
    _install_v1(app, settings, jobs)
    app.add_middleware(ThothVersion)
    app.add_middleware(FastPath, answers=answers, token=settings.token)
    app.add_middleware(BodyLimit, limit=settings.max_body)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(_Refused)
    async def refused(request: Request, exc: _Refused) -> JSONResponse:
        return problem_response(exc.problem, exc.headers, exc.legacy)

    @app.exception_handler(errors.ThothPipError)
    async def thoth_error(request: Request, exc: errors.ThothPipError) -> JSONResponse:
        legacy: Optional[dict[str, Any]] = {} if request.url.path.startswith("/api/v1") else None
        return problem_response(problems.from_error(exc), legacy=legacy)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = problems.http_problem(422, "Invalid request", str(exc.errors())[:500], slug="invalid-request")
        return problem_response(problem)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        problem = problems.http_problem(500, "Internal error", "the backend failed; see its log", slug="internal")
        return problem_response(problem)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        problem = problems.http_problem(exc.status_code, title, str(exc.detail), slug=f"http-{exc.status_code}")
        return problem_response(problem, getattr(exc, "headers", None))


def _submit(settings: ServerSettings, jobs: Jobs, request: AdviseRequest, task: str, legacy: Any = None) -> tuple[Any, bool]:
    try:
        return jobs.submit(request, task)
    except QueueFull:
        retry = str(settings.retry_after)
        raise _Refused(problems.queue_full(settings.retry_after), {"Retry-After": retry}, legacy) from None


def _environments() -> dict[str, Any]:
    host = {
        "name": "backend-host",
        "python_version": platform.python_version(),
        "platform": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
        "operating_system": {"name": platform.system().lower(), "version": platform.release()},
    }
    return {
        "any_target": True,
        "note": "resolution evaluates markers, requires-python and wheel tags for the runtime_environment "
        "of each request; the host below is only where the backend runs",
        "environments": [host],
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_V1_BODY = {
    "type": "object",
    "required": ["application_stack"],
    "properties": {
        "application_stack": {"type": "object", "required": ["requirements"], "properties": {
            "requirements": {"type": "string"}, "requirements_lock": {"type": "string"},
            "requirements_format": {"type": ["string", "array"]}}},
        "runtime_environment": {"type": "object"},
        "labels": {"type": "object"},
        "library_usage": {"type": ["object", "null"]},
    },
}  # fmt: skip


def _install_v2(app: FastAPI, settings: ServerSettings, jobs: Jobs) -> None:
    """The v2 API: what this service offers, then advise jobs."""
    _install_v2_service(app, settings, jobs)
    _install_v2_advise(app, settings, jobs)


def _install_v2_service(app: FastAPI, settings: ServerSettings, jobs: Jobs) -> None:
    """Health, the environments served and the knowledge resolutions here use."""
    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "api_version": API_VERSION,
            "knowledge_version": settings.knowledge_version,
            "database": jobs.store.kind,
            "workers": settings.workers,
            "isolation": settings.isolation,
            "queued": jobs.pending,
            "answers_in_memory": len(app.state.answers),
            "answered_from_memory": app.state.answers.hits,
        }

    @app.get("/api/v2/environments")
    def environments(request: Request) -> dict[str, Any]:
        _check_token(settings, request)
        return _environments()

    @app.get("/api/v2/prescriptions")
    def prescriptions(request: Request) -> dict[str, Any]:
        """The prescription files resolutions here use (clients store them with ``prescription sync``)."""
        _check_token(settings, request)
        return Knowledge(settings.knowledge_version, knowledge_files(os.environ)).to_dict()

    @app.get("/api/v2/knowledge/bundle")
    async def knowledge_bundle(request: Request) -> Response:
        """The compiled knowledge resolutions here use, as one bundle (``thoth-pip prescription sync URL`` loads it)."""
        _check_token(settings, request)
        path = await run_in_threadpool(bundle_file, os.environ)  # written to a file, sent from it: never whole in memory
        return FileResponse(path, media_type="application/zip", background=BackgroundTask(path.unlink, missing_ok=True))


def _install_v2_advise(app: FastAPI, settings: ServerSettings, jobs: Jobs) -> None:
    """Advise jobs: submit (queued or waited for), their status and their log."""
    @app.post("/api/v2/advise", status_code=202, openapi_extra=_body(request_schema()))
    async def submit(request: Request) -> JSONResponse:
        _check_token(settings, request)
        job, cached = await run_in_threadpool(_accept, settings, jobs, await request.body(), AdviseRequest.from_dict)
        if cached and job.state == "succeeded":
            remember(request.scope, job.digest, needs_token=True)
        location = f"/api/v2/advise/{job.id}"
        return JSONResponse({"id": job.id, "cached": cached, "status_url": location}, 202, {"Location": location})

    @app.post("/api/v2/advise/sync", openapi_extra=_body(request_schema()))
    async def submit_and_wait(request: Request) -> Response:
        _check_token(settings, request)
        body = await request.body()
        job, cached, (view, result) = await _wait(
            jobs, lambda: _accept(settings, jobs, body, AdviseRequest.from_dict), settings.sync_wait
        )
        view = replace(view, cached=cached or view.cached)
        if cached and view.state == "succeeded":
            remember(request.scope, job.digest, needs_token=True)
        if view.state == "failed" and view.problem is not None:
            return problem_response(view.problem, legacy=None)
        if result is not None:  # finished here: its result's JSON goes out as the resolver process wrote it
            return Response(_with_result(view, result), 200, media_type="application/json")
        return JSONResponse(view.to_dict(), 200 if view.done else 202)

    @app.get("/api/v2/advise/{job_id}")
    def job_status(job_id: str, request: Request) -> dict[str, Any]:
        _check_token(settings, request)
        view = _view(jobs, job_id)
        if view.state == "succeeded" and (job := jobs.record(job_id)) is not None:  # a store read only when remembered
            remember(request.scope, job.digest, needs_token=True)
        return view.to_dict()

    @app.get("/api/v2/advise/{job_id}/log")
    def job_log(job_id: str, request: Request) -> dict[str, Any]:
        _check_token(settings, request)
        _view(jobs, job_id)
        return {"id": job_id, "log": "\n".join(jobs.log(job_id))}


def _with_result(view: JobView, result: str) -> bytes:
    """The view's JSON (as ``JSONResponse`` writes it) with ``result``, JSON text, as its result."""
    fields = {key: value for key, value in view.to_dict().items() if key != "result"}  # named once, last
    head = json.dumps(fields, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (head[:-1] + ',"result":' + result + "}").encode()


Finished = tuple[JobView, Optional[str]]  # a view, and its result as JSON text when it is not in the view


async def _wait(jobs: Jobs, accept: Callable[[], tuple[Any, bool]], timeout: float) -> tuple[Any, bool, Finished]:
    """Submit (``accept``), then the job once finished (or at ``timeout``), without holding a thread
    while waiting: woken when this replica finishes it (its view handed over, no read of the store)
    or when the store's watcher sees it finished by another replica (then read); looking at the
    store anyway every ``LOOK_ANYWAY`` polls while this replica does not hold it (the watcher may
    have missed it: the store was unreachable)."""
    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    deadline = loop.time() + timeout

    def wake() -> None:  # from a worker's or the watcher's thread
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(finished.set)

    def start() -> tuple[Any, bool, Optional[Finished]]:  # one trip to the thread pool
        job, cached = accept()
        jobs.on_done(job.id, wake, job.digest)  # finished from now on: it wakes us; before: ``finished`` has it
        if cached and job.state != "succeeded":  # joined a job in flight: as it stands now
            return job, cached, jobs.finished_json(job.id) or _alone(jobs.view(job.id))
        return job, cached, jobs.finished_json(job.id) or (jobs.view_of(job), None)

    job, cached, found = await run_in_threadpool(start)
    looks = 0
    try:
        while found is not None and not found[0].done and loop.time() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(finished.wait(), max(0.0, min(jobs.settings.poll, deadline - loop.time())))
            woken, looks = finished.is_set(), looks + 1
            finished.clear()
            jobs.on_done(job.id, wake, job.digest)  # again: a job put back on the queue here dropped its waiters
            here = jobs.finished_json(job.id)
            if not here and (jobs.runs_here(job.id) or not (woken or looks % LOOK_ANYWAY == 0)):
                continue  # its end wakes us: no read of the store
            found = here or _alone(await run_in_threadpool(jobs.view, job.id))
    finally:
        jobs.forget(job.id, wake)
    if found is None:
        raise _Refused(problems.not_found(job.id))
    return job, cached, found


def _alone(view: Optional[JobView]) -> Optional[Finished]:
    return (view, None) if view is not None else None


def _view(jobs: Jobs, job_id: str, legacy: Any = None) -> JobView:
    view = jobs.view(job_id)
    if view is None:
        raise _Refused(problems.not_found(job_id), legacy=legacy)
    return view


def _install_v1(app: FastAPI, settings: ServerSettings, jobs: Jobs) -> None:
    @app.api_route("/api/v1", methods=["GET", "HEAD"])
    def v1_discovery() -> dict[str, Any]:
        """thamos reads the paths here, and ``X-Thoth-Version`` of a HEAD for ``thamos version``."""
        return thoth_v1.discovery()

    for task, path in thoth_v1.KINDS.items():
        _install_v1_kind(app, settings, jobs, task, path)


def _install_v1_kind(app: FastAPI, settings: ServerSettings, jobs: Jobs, task: str, path: str) -> None:
    prefix = TASK_PREFIX[task] + "-"

    @app.post(f"/api/v1/{path}", status_code=202, openapi_extra=_body(_V1_BODY), name=f"v1_{task}_submit")
    async def submit(request: Request) -> JSONResponse:
        query = dict(request.query_params)
        authenticated = _check_token(settings, request, legacy={})
        convert = lambda body: thoth_v1.to_request(body, query, task)  # noqa: E731
        job, cached = await run_in_threadpool(
            _accept, settings, jobs, await request.body(), convert, task, prefix="application_stack.", legacy={}
        )
        body = {"analysis_id": job.id, "parameters": thoth_v1.parameters(job, query), "cached": cached,
                "authenticated": authenticated}  # fmt: skip
        if cached and job.state == "succeeded":
            remember(request.scope, job.digest, needs_token=True)
        return JSONResponse(body, 202)

    @app.get(f"/api/v1/{path}/{{analysis_id}}", name=f"v1_{task}_result")
    def result(analysis_id: str, request: Request) -> JSONResponse:
        params = {"analysis_id": analysis_id}
        if not analysis_id.startswith(prefix):
            problem = problems.http_problem(400, "Wrong analysis id", "Wrong analysis id provided", slug="bad-id")
            return problem_response(problem, legacy=params)
        snapshot = jobs.snapshot(analysis_id)  # one read: a job finishing meanwhile cannot split record and view
        if snapshot is None:
            raise _Refused(problems.not_found(analysis_id), legacy=params)
        job, view = snapshot
        if not view.done:
            body = {"error": "Analysis is still in progress", "status": thoth_v1.status(job), "parameters": params}
            return JSONResponse(body, 202)
        if view.state == "failed" and thoth_v1.infrastructure_failure(view):
            body = {"error": "Analysis was not successful", "status": thoth_v1.status(job), "parameters": params}
            return JSONResponse(body, 400)
        document = thoth_v1.document if task == "advise" else thoth_v1.provenance_document
        if view.state == "succeeded":
            remember(request.scope, job.digest, needs_token=False)
        return JSONResponse(document(job, view), 200)

    @app.get(f"/api/v1/{path}/{{analysis_id}}/status", name=f"v1_{task}_status")
    def status(analysis_id: str) -> dict[str, Any]:
        params = {"analysis_id": analysis_id}
        _view(jobs, analysis_id, legacy=params)
        job = jobs.record(analysis_id)
        assert job is not None
        return {"parameters": params, "status": thoth_v1.status(job)}

    @app.get(f"/api/v1/{path}/{{analysis_id}}/log", name=f"v1_{task}_log")
    def log(analysis_id: str) -> dict[str, Any]:
        params = {"analysis_id": analysis_id}
        _view(jobs, analysis_id, legacy=params)
        return {"parameters": params, "log": "\n".join(jobs.log(analysis_id))}
