"""The versioned JSON schema between the resolver backend and its client: requests, results, jobs, problems.

Pure: no I/O. Every ``from_dict`` validates its input and raises
``InputFileError`` whose ``key_path`` names the offending member
(``runtime_environment.hardware.cpu_family``), so the server can answer with
a precise 4xx and the client can show the same message.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from packaging.utils import canonicalize_name

from .. import errors
from .. import values as read
from ..environment.runtime import THOTH_STRINGS, RuntimeEnvironment
from ..format_control import ALL_PROJECTS, ANY_FORMAT, Formats
from ..models import RECOMMENDATION_TYPES, REQUIREMENTS_FORMAT_ALIASES, REQUIREMENTS_FORMATS
from .problem import Problem
from .scrub import credential_urls, scrub

API_VERSION = 2
REQUEST_SOURCE = "advise request"
JOB_STATES = ("queued", "running", "succeeded", "failed")

def _fail(key_path: str, message: str) -> errors.InputFileError:
    return read.fail(message, REQUEST_SOURCE, key_path)


def _mapping(data: object, key_path: str) -> Mapping[str, Any]:
    return read.object_of(data, REQUEST_SOURCE, key_path)


def _optional(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], prefix: str = "") -> Any:
    return read.optional(data.get(key), kinds, REQUEST_SOURCE, read.join(prefix, key))


def _string(data: Mapping[str, Any], key: str, *, default: Optional[str] = None, prefix: str = "") -> str:
    value = read.optional_string(data.get(key), REQUEST_SOURCE, read.join(prefix, key))
    if value is None:
        if default is None:
            raise _fail(read.join(prefix, key), "is required")
        return default
    return value


def _flag(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if value is None:
        raise _fail(key, "expected a boolean, got null")
    return read.optional(value, (bool,), REQUEST_SOURCE, key) is True


def _choice(value: str, choices: Sequence[str], key_path: str) -> str:
    return read.choice(value, choices, REQUEST_SOURCE, key_path)


# -- runtime environment --------------------------------------------------------

def validate_runtime_environment(data: object, prefix: str = "runtime_environment") -> dict[str, Any]:
    """Check a Thoth-shaped runtime environment (``RuntimeEnvironment.from_thoth_dict``); unknown members are kept."""
    env = dict(_mapping(data, prefix))
    read.json_value(env, REQUEST_SOURCE, prefix)
    RuntimeEnvironment.from_thoth_dict(env, path=REQUEST_SOURCE, prefix=prefix)
    return env


# -- request ----------------------------------------------------------------------


def _exclude_newer(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.date.fromisoformat(text).isoformat()
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise _fail("exclude_newer", f"{value!r} is not an ISO 8601 date or date-time") from exc
    return stamp.isoformat()


def _labels(data: Mapping[str, Any]) -> Mapping[str, str]:
    raw = data.get("labels") or {}
    raw = _mapping(raw, "labels")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise _fail(f"labels.{key}", f"expected a string, got {type(value).__name__}")
    return MappingProxyType(dict(sorted(raw.items())))


DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 100


def _search_limit(data: Mapping[str, Any]) -> int:
    value = data.get("search_limit", DEFAULT_SEARCH_LIMIT)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEARCH_LIMIT:
        raise _fail("search_limit", f"expected an integer from 0 to {MAX_SEARCH_LIMIT}, got {value!r}")
    return value


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = data.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise _fail(key, "expected a list of strings")
    return tuple(raw)


def _prescriptions(data: Mapping[str, Any]) -> tuple[str, ...]:
    raw = data.get("prescriptions") or []
    if not isinstance(raw, list):
        raise _fail("prescriptions", f"expected a list of YAML texts, got {type(raw).__name__}")
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise _fail(f"prescriptions[{i}]", f"expected a YAML text, got {type(item).__name__}")
    return tuple(raw)


_PROJECT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _binary_names(data: Mapping[str, Any], key: str) -> frozenset[str]:
    names = read.string_list(data.get(key) or [], REQUEST_SOURCE, key)
    for i, name in enumerate(names):
        if name != ALL_PROJECTS and not _PROJECT_NAME.fullmatch(name):
            raise _fail(f"{key}[{i}]", f"{name!r} is neither a project name nor {ALL_PROJECTS}")
    return frozenset(name if name == ALL_PROJECTS else canonicalize_name(name) for name in names)


def _formats(data: Mapping[str, Any]) -> Formats:
    """pip's ``--no-binary`` / ``--only-binary`` / ``--prefer-binary`` as the client's target had them."""
    no_binary, only_binary = _binary_names(data, "no_binary"), _binary_names(data, "only_binary")
    if ALL_PROJECTS in no_binary and ALL_PROJECTS in only_binary:
        raise _fail("only_binary", f"{ALL_PROJECTS} is in no_binary too")
    if no_binary & only_binary:
        raise _fail("only_binary", f"{', '.join(sorted(no_binary & only_binary))} also in no_binary")
    return Formats(no_binary, only_binary, _flag(data, "prefer_binary"))


def formats_fields(formats: Formats) -> dict[str, Any]:
    """The request members for ``formats``: none when pip's defaults hold (requests and their digests
    stay those of a client that knows no binary options)."""
    fields: dict[str, Any] = {}
    if formats.no_binary:
        fields["no_binary"] = sorted(formats.no_binary)
    if formats.only_binary:
        fields["only_binary"] = sorted(formats.only_binary)
    if formats.prefer_binary:
        fields["prefer_binary"] = True
    return fields


def _api_version(data: Mapping[str, Any]) -> int:
    value = data.get("api_version", API_VERSION)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise _fail("api_version", f"expected an integer, got {value!r}")
    if int(value) != API_VERSION:
        raise errors.UsageError(
            f"{REQUEST_SOURCE}: api_version {value} is not supported (this side speaks {API_VERSION})",
            hint="upgrade micro-thoth on the older side",
        )
    return int(value)


def _requirements_format(data: Mapping[str, Any]) -> str:
    value = _string(data, "requirements_format", default="pipenv")
    return _choice(REQUIREMENTS_FORMAT_ALIASES.get(value, value), REQUIREMENTS_FORMATS, "requirements_format")


@dataclass(frozen=True)
class AdviseRequest:
    """One resolution asked of the backend: the project's files and what to resolve them for."""

    requirements: str
    requirements_format: str = "pipenv"
    requirements_lock: Optional[str] = None
    runtime_environment: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    recommendation_type: str = "latest"
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    exclude_newer: Optional[str] = None
    prescriptions: tuple[str, ...] = ()
    dev: bool = False
    force: bool = False
    api_version: int = API_VERSION
    # How to search (the same knobs as the command line's; defaults = `thoth-pip advise`)
    search_limit: int = DEFAULT_SEARCH_LIMIT
    pre: bool = False
    min_release_age: Optional[str] = None
    deny_licenses: tuple[str, ...] = ()
    allow_vulnerabilities: tuple[str, ...] = ()
    formats: Formats = ANY_FORMAT  # the client's --no-binary / --only-binary / --prefer-binary (and PIP_*)

    @classmethod
    def from_dict(cls, data: object) -> AdviseRequest:
        data = _mapping(data, "")
        requirements = _string(data, "requirements")
        if not requirements.strip():
            raise _fail("requirements", "is empty")
        recommendation = _string(data, "recommendation_type", default="latest").lower()
        return cls(
            requirements=requirements,
            requirements_format=_requirements_format(data),
            requirements_lock=_optional(data, "requirements_lock", (str,)) or None,
            runtime_environment=read.frozen(validate_runtime_environment(data.get("runtime_environment") or {})),
            recommendation_type=_choice(recommendation, RECOMMENDATION_TYPES, "recommendation_type"),
            labels=_labels(data),
            exclude_newer=_exclude_newer(_optional(data, "exclude_newer", (str,))),
            prescriptions=_prescriptions(data),
            dev=_flag(data, "dev"),
            force=_flag(data, "force"),
            api_version=_api_version(data),
            search_limit=_search_limit(data),
            pre=_flag(data, "pre"),
            min_release_age=_optional(data, "min_release_age", (str,)) or None,
            deny_licenses=_strings(data, "deny_licenses"),
            allow_vulnerabilities=_strings(data, "allow_vulnerabilities"),
            formats=_formats(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_version": self.api_version,
            "requirements": self.requirements,
            "requirements_format": self.requirements_format,
            "requirements_lock": self.requirements_lock,
            "runtime_environment": read.thaw(self.runtime_environment),
            "recommendation_type": self.recommendation_type,
            "labels": dict(self.labels),
            "exclude_newer": self.exclude_newer,
            "prescriptions": list(self.prescriptions),
            "dev": self.dev,
            "force": self.force,
            "search_limit": self.search_limit,
            "pre": self.pre,
            "min_release_age": self.min_release_age,
            "deny_licenses": list(self.deny_licenses),
            "allow_vulnerabilities": list(self.allow_vulnerabilities),
            **formats_fields(self.formats),
        }

    @property
    def environment(self) -> RuntimeEnvironment:
        """The runtime environment asked for, typed; what the request leaves out stays unknown (None)."""
        return RuntimeEnvironment.from_thoth_dict(read.thaw(self.runtime_environment), path=REQUEST_SOURCE)

    def scrubbed(self) -> AdviseRequest:
        """The same request with the userinfo of every URL removed: what may be stored or logged."""
        return AdviseRequest.from_dict(scrub(self.to_dict()))

    def credential_urls(self) -> dict[str, str]:
        """URLs of the request that carry credentials, keyed by their scrubbed form."""
        return credential_urls(self.to_dict())


def _normalised_text(text: Optional[str]) -> Optional[str]:
    if text is None:
        return None
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def digest(request: AdviseRequest, knowledge_version: str = "") -> str:
    """The cache key: sha256 of the normalised request (``force`` aside) and the knowledge version.

    Credentials take part in the key (hashed, never stored), so two users of
    the same private index with different tokens never share a cached answer.
    """
    data = request.to_dict()
    data.pop("force")
    data["requirements"] = _normalised_text(request.requirements)
    data["requirements_lock"] = _normalised_text(request.requirements_lock)
    data["prescriptions"] = [_normalised_text(p) for p in request.prescriptions]
    data["knowledge_version"] = knowledge_version
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_NULLABLE_STRING = {"type": ["string", "null"]}


def request_schema() -> dict[str, Any]:
    """The JSON Schema of an ``AdviseRequest`` body (published in the backend's OpenAPI document)."""
    env_strings = {key: _NULLABLE_STRING for key in THOTH_STRINGS}
    return {
        "type": "object",
        "required": ["requirements"],
        "properties": {
            "api_version": {"type": "integer", "enum": [API_VERSION]},
            "requirements": {"type": "string", "description": "Pipfile or requirements.in text"},
            "requirements_format": {"type": "string", "enum": [*REQUIREMENTS_FORMATS, *REQUIREMENTS_FORMAT_ALIASES]},
            "requirements_lock": _NULLABLE_STRING,
            "runtime_environment": {
                "type": "object",
                "properties": {
                    **env_strings,
                    "platform": {"type": ["string", "array", "null"], "items": {"type": "string"}},
                    "operating_system": {"type": ["object", "null"], "properties": {"name": _NULLABLE_STRING, "version": _NULLABLE_STRING}},
                    "hardware": {"type": ["object", "null"], "properties": {
                        "cpu_family": {"type": ["integer", "null"]}, "cpu_model": {"type": ["integer", "null"]},
                        "gpu_model": _NULLABLE_STRING}},
                },
            },
            "recommendation_type": {"type": "string", "enum": list(RECOMMENDATION_TYPES)},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "exclude_newer": {"type": ["string", "null"], "description": "ISO 8601 date or date-time"},
            "prescriptions": {"type": "array", "items": {"type": "string"}, "description": "YAML texts"},
            "dev": {"type": "boolean"},
            "force": {"type": "boolean", "description": "skip the result cache"},
            "no_binary": {"type": "array", "items": {"type": "string"}, "description": "pip's --no-binary: names or :all:"},
            "only_binary": {"type": "array", "items": {"type": "string"}, "description": "pip's --only-binary: names or :all:"},
            "prefer_binary": {"type": "boolean", "description": "pip's --prefer-binary"},
        },
    }  # fmt: skip


# -- result -----------------------------------------------------------------------


@dataclass(frozen=True)
class AdviseResult:
    """What the resolver produced: the lock text (Pipfile.lock or requirements.txt) and its report."""

    lock: str
    report: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    knowledge_version: str = ""

    @classmethod
    def from_dict(cls, data: object, *, prefix: str = "") -> AdviseResult:
        data = _mapping(data, prefix)
        report = _mapping(data.get("report") or {}, read.join(prefix, "report"))
        read.json_value(report, REQUEST_SOURCE, read.join(prefix, "report"))
        return cls(
            lock=_string(data, "lock", prefix=prefix),
            report=read.frozen(report),
            knowledge_version=_string(data, "knowledge_version", default="", prefix=prefix),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"lock": self.lock, "report": read.thaw(self.report), "knowledge_version": self.knowledge_version}

    def scrubbed(self) -> AdviseResult:
        return AdviseResult.from_dict(scrub(self.to_dict()))

    def with_credentials(self, urls: Mapping[str, str]) -> AdviseResult:
        """Put back the credentials the server removed (``urls``: scrubbed form -> original)."""
        if not urls:
            return self
        pattern = re.compile("|".join(re.escape(u) for u in sorted(urls, key=len, reverse=True)))
        lock = pattern.sub(lambda m: urls[m.group(0)], self.lock)
        return AdviseResult(lock=lock, report=self.report, knowledge_version=self.knowledge_version)


# -- jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JobView:
    """What the backend says about one submitted request (``GET /api/v2/advise/{id}``)."""

    id: str
    state: str
    cached: bool = False
    created_at: Optional[float] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    result: Optional[AdviseResult] = None
    problem: Optional[Problem] = None

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed")

    @classmethod
    def from_dict(cls, data: object) -> JobView:
        data = _mapping(data, "job")
        result = data.get("result")
        problem = data.get("problem")
        return cls(
            id=_string(data, "id", prefix="job"),
            state=_choice(_string(data, "state", prefix="job"), JOB_STATES, "job.state"),
            cached=bool(data.get("cached", False)),
            created_at=_optional(data, "created_at", (int, float), "job"),
            started_at=_optional(data, "started_at", (int, float), "job"),
            finished_at=_optional(data, "finished_at", (int, float), "job"),
            result=AdviseResult.from_dict(result, prefix="job.result") if result is not None else None,
            problem=Problem.from_dict(problem) if problem is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "cached": self.cached,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": self.result.to_dict() if self.result is not None else None,
            "problem": self.problem.to_dict() if self.problem is not None else None,
        }


# -- the backend's knowledge (GET /api/v2/prescriptions) -------------------------------------

_PRESCRIPTION_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*\.ya?ml")


def _prescription_path(value: str, key_path: str) -> str:
    """A relative path of plain names ending in .yaml/.yml: the client writes files there."""
    if not _PRESCRIPTION_PATH.fullmatch(value) or ".." in value.split("/"):
        raise _fail(key_path, f"'{value}' is not a relative path of a .yaml file")
    return value


@dataclass(frozen=True)
class Knowledge:
    """The prescription files a backend resolves with, and the version of that knowledge.

    ``files`` maps a relative path (``bundled/yanked-releases.yaml``) to YAML text;
    ``digest`` is the sha256 of the files (paths and texts), so a client can tell
    whether anything changed.
    """

    knowledge_version: str
    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def digest(self) -> str:
        hasher = hashlib.sha256()
        for path in sorted(self.files):
            hasher.update(f"{len(path)}:{path}{len(self.files[path])}:".encode())
            hasher.update(self.files[path].encode())
        return "sha256:" + hasher.hexdigest()

    @classmethod
    def from_dict(cls, data: object) -> Knowledge:
        data = _mapping(data, "")
        entries = _optional(data, "prescriptions", (list,)) or []
        files: dict[str, str] = {}
        for i, entry in enumerate(entries):
            where = f"prescriptions[{i}]"
            entry = _mapping(entry, where)
            path = _prescription_path(_string(entry, "path", prefix=where), f"{where}.path")
            if path in files:
                raise _fail(f"{where}.path", f"'{path}' is listed twice")
            files[path] = _string(entry, "text", default="", prefix=where)
        knowledge = cls(_string(data, "knowledge_version", default=""), MappingProxyType(files))
        claimed = _optional(data, "digest", (str,))
        if claimed is not None and claimed != knowledge.digest:
            raise _fail("digest", "the files do not match the digest the backend sent")
        return knowledge

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_version": API_VERSION,
            "knowledge_version": self.knowledge_version,
            "digest": self.digest,
            "prescriptions": [{"path": p, "text": self.files[p]} for p in sorted(self.files)],
        }
