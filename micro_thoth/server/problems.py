"""Errors as HTTP: each ``errors`` class has a status, and every error body is RFC 9457 problem JSON."""

from __future__ import annotations

from typing import Optional

from .. import errors
from ..resolve.problem import PROBLEM_TYPE_PREFIX, Problem

PROBLEM_JSON = "application/problem+json"

# Most specific class first: the first match wins.
STATUS_BY_CLASS: tuple[tuple[type[errors.ThothPipError], int], ...] = (
    (errors.UsageError, 400),
    (errors.InputFileError, 422),
    (errors.EnvironmentError_, 422),
    (errors.ResolutionImpossible, 409),
    (errors.RemoteResolutionError, 502),
    (errors.ResolutionError, 422),
    (errors.PackageNotFound, 422),
    (errors.NoCompatibleArtifact, 422),
    (errors.PackageIndexError, 502),
    (errors.IntegrityError, 502),
    (errors.InstallError, 500),
)


def status_for(exc: errors.ThothPipError) -> int:
    """The HTTP status of an error: 4xx for the request's fault, 5xx for ours or upstream's."""
    if isinstance(exc, errors.RemoteResolutionError) and exc.status:
        return exc.status
    for cls, status in STATUS_BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 500


def from_error(exc: errors.ThothPipError, status: Optional[int] = None) -> Problem:
    """The problem body of an error (credentials in its text are removed)."""
    return Problem.from_error(exc, status or status_for(exc))


def http_problem(status: int, title: str, detail: str, *, slug: str, hint: Optional[str] = None) -> Problem:
    """A problem that is about HTTP itself (auth, size, capacity, time), not about the request's content."""
    return Problem(
        status=status,
        title=title,
        detail=detail,
        error_class="RemoteResolutionError",
        hint=hint,
        type=PROBLEM_TYPE_PREFIX + slug,
    )


def timeout(seconds: float) -> Problem:
    return http_problem(
        504,
        "Resolution timed out",
        f"the resolution took longer than the backend's limit of {seconds:g}s and was stopped",
        slug="timeout",
        hint="simplify the requirements or ask the backend's operator for a longer --timeout",
    )


def crashed(reason: str) -> Problem:
    return http_problem(500, "Resolver crashed", f"the resolver stopped unexpectedly: {reason}", slug="resolver-crashed")


def lost() -> Problem:
    return http_problem(
        503, "Job lost", "the backend replica holding this job's credentials stopped before it finished",
        slug="job-lost", hint="submit the request again",
    )  # fmt: skip


def stopped() -> Problem:
    return http_problem(
        503, "Backend stopped", "the backend stopped before this job finished (its credentials are kept by no other replica)",
        slug="stopped", hint="submit the request again",
    )  # fmt: skip


def exhausted(attempts: int) -> Problem:
    return http_problem(
        500, "Job abandoned", f"the backend replicas running this job stopped {attempts} times; it is not tried again",
        slug="abandoned", hint="the request may crash the resolver: report it to the backend's operator",
    )  # fmt: skip


def queue_full(retry_after: int) -> Problem:
    return http_problem(
        503,
        "Backend busy",
        "too many resolutions are queued on this backend",
        slug="busy",
        hint=f"retry in {retry_after}s",
    )


def not_found(job_id: str) -> Problem:
    return http_problem(404, "Not found", f"no job with id {job_id!r}", slug="not-found")


def unauthorized() -> Problem:
    return http_problem(
        401,
        "Unauthorized",
        "this backend needs a token",
        slug="unauthorized",
        hint="set THAMOS_TOKEN (sent as 'Authorization: Bearer <token>')",
    )


def too_large(limit: int) -> Problem:
    return http_problem(
        413, "Request too large", f"the request body is larger than {limit} bytes", slug="too-large"
    )
