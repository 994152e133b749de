"""The resolver backend, seen from here: its client (submit, poll with backoff, result or error) and the backend Resolver.

Behaves like thamos where it overlaps: ``THAMOS_TIMEOUT`` (seconds to wait for
a result), ``THAMOS_RETRY_ON_ERROR_COUNT`` / ``THAMOS_RETRY_ON_ERROR_SLEEP``
(connection errors and 5xx answers are retried), ``THAMOS_TOKEN`` (sent as a
bearer token). Errors the backend reports come back as the same ``errors``
classes the embedded resolver raises. Credentials in index URLs are sent for
the resolution, never stored by the backend, and put back into the lock here.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Optional

import httpx

from .. import errors, net
from ..guidance.justification import PackageReport, Refusal
from ..models import Justification, Target, redact_url
from ..reporting import NULL_REPORTER, Reporter
from ..settings import env_float
from ..values import thaw
from .problem import Problem
from .resolver import LockPolicy, Resolved, ResolverInput
from .wire import AdviseRequest, AdviseResult, JobView, Knowledge, formats_fields

DEFAULT_TIMEOUT = 2700.0  # thamos' default wait for an analysis
DEFAULT_RETRIES = 3
DEFAULT_RETRY_SLEEP = 3.0
_POLL_FIRST, _POLL_FACTOR, _POLL_MAX = 0.1, 1.6, 4.0
_MAX_RETRY_AFTER = 60.0


def base_url(url: str) -> str:
    """``host:port`` (thamos' ``host``) means https; a URL is kept; no trailing slash."""
    url = url.strip()
    if "://" not in url:
        url = f"https://{url}"
    return url.rstrip("/")


def tls_context(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """``verify`` as httpx takes it: a CA bundle file or directory becomes an SSL context."""
    if not isinstance(verify, str):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


class RemoteResolver:
    """Resolve through a backend: ``RemoteResolver(url).advise(request) -> AdviseResult``."""

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str] = None,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        retry_sleep: Optional[float] = None,
        verify: bool | str | ssl.SSLContext = True,
        client: Optional[httpx.Client] = None,
        environ: Optional[Mapping[str, str]] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        env = os.environ if environ is None else environ
        self.url = base_url(url)
        self.token = token if token is not None else (env.get("THAMOS_TOKEN") or None)
        self.timeout = timeout if timeout is not None else env_float(env, "THAMOS_TIMEOUT", DEFAULT_TIMEOUT)
        self.retries = int(retries if retries is not None else env_float(env, "THAMOS_RETRY_ON_ERROR_COUNT", DEFAULT_RETRIES))
        self.retry_sleep = retry_sleep if retry_sleep is not None else env_float(env, "THAMOS_RETRY_ON_ERROR_SLEEP", DEFAULT_RETRY_SLEEP)
        self.sleep = sleep
        headers = {"Accept": "application/json, application/problem+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._client = client or httpx.Client(verify=tls_context(verify), timeout=httpx.Timeout(60.0, connect=10.0))
        self._headers = headers

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one call ----------------------------------------------------------
    def advise(self, request: AdviseRequest) -> AdviseResult:
        """Submit ``request``, wait for it, and return the result with credentials put back."""
        deadline = time.monotonic() + self.timeout
        submitted = self._call("POST", "/api/v2/advise", deadline, json=request.to_dict())
        view = self._poll(str(submitted["id"]), deadline)
        if view.state == "failed" or view.result is None:
            problem = view.problem or Problem(500, "Failed", "the backend reported a failure without details")
            raise problem.to_error()
        return view.result.with_credentials(request.credential_urls())

    def prescriptions(self) -> Knowledge:
        """The prescription files the backend resolves with (``GET /api/v2/prescriptions``)."""
        body = self._call("GET", "/api/v2/prescriptions", time.monotonic() + self.timeout)
        try:
            return Knowledge.from_dict(body)
        except errors.InputFileError as exc:
            raise errors.RemoteResolutionError(
                f"the backend at {redact_url(self.url)} sent prescriptions that cannot be used: {exc.key_path}: {exc.reason}"
            ) from exc

    def knowledge_bundle(self, out: IO[bytes]) -> bool:
        """Write the backend's compiled knowledge, one bundle (``GET /api/v2/knowledge/bundle``), to ``out`` as it
        arrives; False if it serves none."""
        try:
            with self._client.stream("GET", self.url + "/api/v2/knowledge/bundle", headers=self._headers) as response:
                if response.status_code == 404:
                    return False
                if response.status_code != 200:
                    response.read()
                    raise _error_of(response)
                for block in response.iter_bytes(1 << 20):
                    out.write(block)
        except httpx.HTTPError as exc:
            raise errors.RemoteResolutionError(f"cannot reach the backend at {redact_url(self.url)}: {exc}") from exc
        return True

    def job(self, job_id: str) -> JobView:
        return JobView.from_dict(self._call("GET", f"/api/v2/advise/{job_id}", time.monotonic() + self.timeout))

    def _poll(self, job_id: str, deadline: float) -> JobView:
        pause = _POLL_FIRST
        while True:
            view = JobView.from_dict(self._call("GET", f"/api/v2/advise/{job_id}", deadline))
            if view.done:
                return view
            if time.monotonic() + pause > deadline:
                raise errors.RemoteResolutionError(
                    f"the backend at {redact_url(self.url)} did not finish job {job_id} within {self.timeout:g}s",
                    hint="raise THAMOS_TIMEOUT, or look at the job's log on the backend",
                )
            self.sleep(pause)
            pause = min(pause * _POLL_FACTOR, _POLL_MAX)

    # -- HTTP with retries (net.send_with_retries) ------------------------------
    def _call(self, method: str, path: str, deadline: float, **kwargs: Any) -> dict[str, Any]:
        try:
            response = net.send_with_retries(
                self._client, method, self.url + path, retries=self.retries, wait=self._waiter(deadline),
                sleep=self.sleep, headers=self._headers, **kwargs,
            )
        except httpx.HTTPError as exc:
            raise errors.RemoteResolutionError(
                f"cannot reach the backend at {redact_url(self.url)}: {exc}",
                hint="check --backend / THOTH_HOST, or resolve locally without it",
            ) from exc
        return self._decode(response)

    def _waiter(self, deadline: float) -> net.Wait:
        """thamos' rule: connection errors and 5xx answers wait ``retry_sleep`` (or Retry-After), within the deadline."""

        def wait(outcome: httpx.Response | httpx.HTTPError, attempt: int) -> Optional[float]:
            pause = self._retry_wait(outcome) if isinstance(outcome, httpx.Response) else self.retry_sleep
            return pause if pause is not None and time.monotonic() + pause <= deadline else None

        return wait

    def _retry_wait(self, response: httpx.Response) -> Optional[float]:
        """Seconds to wait before retrying a 5xx answer, or None to stop."""
        if response.status_code < 500:
            return None
        if response.status_code == 504 and _is_problem(response):
            return None  # a resolution's time limit: retrying would only repeat it
        retry_after = response.headers.get("retry-after", "")
        if retry_after.isdigit():
            return min(float(retry_after), _MAX_RETRY_AFTER)
        return self.retry_sleep

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code < 400:
            try:
                body = response.json()
            except ValueError as exc:
                raise errors.RemoteResolutionError(
                    f"the backend answered {response.status_code} with a body that is not JSON",
                    status=response.status_code,
                ) from exc
            if not isinstance(body, dict):
                raise errors.RemoteResolutionError("the backend answered with unexpected JSON", status=response.status_code)
            return body
        raise _error_of(response)


def _is_problem(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("application/problem+json")


def _error_of(response: httpx.Response) -> errors.ThothPipError:
    """The exception a 4xx/5xx answer stands for: its problem's class, else RemoteResolutionError."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("error_class" in body or _is_problem(response)):
        problem = Problem.from_dict({**body, "status": body.get("status", response.status_code)})
        return problem.to_error()
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason_phrase
    return errors.RemoteResolutionError(f"the backend answered {response.status_code}: {text}", status=response.status_code)


# --- the Resolver ------------------------------------------------------------------------------


class BackendResolver:
    """The ``Resolver`` that asks a backend: the input's files and the lock policy go out, its lock comes back.

    ``prescription_texts(paths)`` reads the user's, the project's and the
    explicit prescription files in the order the embedded lock loads them.
    """

    def __init__(
        self,
        url: str,
        *,
        token: Optional[str],
        verify: bool,
        environ: Mapping[str, str],
        prescription_texts: Callable[[Sequence[Path]], list[str]],
        reporter: Reporter = NULL_REPORTER,
    ) -> None:
        self.url, self.token, self.verify = url, token, verify
        self._environ = environ
        self._prescription_texts = prescription_texts
        self._reporter = reporter

    def resolve(self, project: ResolverInput, target: Target, policy: LockPolicy) -> Resolved:
        files = project.wire_files(self._environ)
        fields = {**self._common(policy), **formats_fields(target.formats), **dataclasses.asdict(files)}
        request = AdviseRequest.from_dict(fields)
        self._reporter.message(f"resolving on the backend at {redact_url(self.url)}", "info")
        with RemoteResolver(self.url, token=self.token, verify=self.verify, environ=self._environ) as remote:
            result = remote.advise(request)
        return Resolved(answer=result.lock, report=remote_report(result.report))

    def _common(self, policy: LockPolicy) -> dict[str, Any]:
        """What the embedded lock would use, as the request's fields."""
        return {
            "runtime_environment": _without_nulls(policy.environment.to_thoth_dict()),
            "recommendation_type": policy.recommendation_type.lower(),
            "labels": dict(policy.labels),
            "exclude_newer": policy.exclude_newer_text,
            "prescriptions": self._prescription_texts(policy.prescriptions),
            "dev": policy.dev,
            "search_limit": policy.search.limit,  # lock: 0 (the first guided stack); advise: its search
            "pre": policy.pre,
            "min_release_age": policy.min_release_age,
            "deny_licenses": list(policy.deny_licenses),
            "allow_vulnerabilities": list(policy.allow_vulnerabilities),
        }


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


# --- the backend's report ----------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteReport:
    """The backend's Thoth-shaped report, readable as a ``guidance.justification.Report`` (a StackReport)."""

    data: Mapping[str, Any]
    recommendation_type: str
    score: float
    packages: tuple[PackageReport, ...]
    refused: tuple[Refusal, ...]
    justification: tuple[Justification, ...]
    stack_info: tuple[Justification, ...]

    def to_thoth_json(self) -> dict[str, Any]:
        return thaw(self.data)  # type: ignore[no-any-return]

    @property
    def has_errors(self) -> bool:
        return any(j.type == "ERROR" for j in (*self.justification, *self.stack_info))

    @property
    def told(self) -> frozenset[str]:
        return frozenset()  # the backend's logs were never printed here

    @property
    def knowledge(self) -> Mapping[str, Any]:
        """What the backend's knowledge was and said (sources, revisions, counts, by package)."""
        value = self.data.get("knowledge")
        return value if isinstance(value, Mapping) else {}


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
