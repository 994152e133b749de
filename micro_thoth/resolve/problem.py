"""RFC 9457 problem bodies: an ``errors`` exception as JSON, and back as the same class."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Optional

from .. import errors
from .. import values as read
from .scrub import scrub, scrub_text

PROBLEM_TYPE_PREFIX = "urn:micro-thoth:problem:"
_EXTRA_ATTRIBUTES = (
    "path", "key_path", "reason", "expected", "actual", "status", "index", "name",
    "suggestions", "version", "target", "url", "package", "filename", "distribution", "output",
)  # fmt: skip


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.rstrip("_")).lower()


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem body; ``error_class`` names the ``errors`` class to raise again."""

    status: int
    title: str
    detail: str
    error_class: str = "RemoteResolutionError"
    hint: Optional[str] = None
    type: str = ""
    extensions: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_error(cls, exc: errors.ThothPipError, status: int) -> Problem:
        name = type(exc).__name__
        extra: dict[str, Any] = {}
        for attribute in _EXTRA_ATTRIBUTES:
            value = getattr(exc, attribute, None)
            if value is not None and attribute != "status":
                extra[attribute] = list(value) if isinstance(value, tuple) else value
        causes = getattr(exc, "causes", None)
        if causes:
            extra["causes"] = [{"requirement": c.requirement, "chain": list(c.chain)} for c in causes]
        return cls(
            status=status,
            title=_slug(name).replace("-", " ").capitalize(),
            detail=scrub_text(exc.message),
            error_class=name,
            hint=exc.hint,
            type=PROBLEM_TYPE_PREFIX + _slug(name),
            extensions=read.frozen(scrub(extra)),
        )

    @classmethod
    def from_dict(cls, data: object) -> Problem:
        data = read.object_of(data, None, "problem")
        known = ("status", "title", "detail", "error_class", "hint", "type")
        status = data.get("status")
        return cls(
            status=status if isinstance(status, int) and not isinstance(status, bool) else 500,
            title=str(data.get("title") or ""),
            detail=str(data.get("detail") or data.get("title") or "the backend reported an error"),
            error_class=str(data.get("error_class") or "RemoteResolutionError"),
            hint=data.get("hint") if isinstance(data.get("hint"), str) else None,
            type=str(data.get("type") or "about:blank"),
            extensions=read.frozen({k: v for k, v in data.items() if k not in known}),
        )

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type or "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "error_class": self.error_class,
        }
        if self.hint:
            body["hint"] = self.hint
        body.update(read.thaw(self.extensions))
        return body

    def to_error(self) -> errors.ThothPipError:
        """The exception this problem stands for, of the same ``errors`` class when known."""
        cls = getattr(errors, self.error_class, None)
        if not (isinstance(cls, type) and issubclass(cls, errors.ThothPipError)):
            return errors.RemoteResolutionError(self.detail, status=self.status, hint=self.hint)
        exc = cls.__new__(cls)
        errors.ThothPipError.__init__(exc, self.detail, hint=self.hint)
        for key, value in self.extensions.items():
            if key in _EXTRA_ATTRIBUTES:
                setattr(exc, key, tuple(value) if isinstance(value, tuple) else value)
        if issubclass(cls, errors.ResolutionImpossible):
            exc.causes = tuple(  # type: ignore[attr-defined]
                errors.ConflictCause(str(c.get("requirement", "")), tuple(c.get("chain", ())))
                for c in self.extensions.get("causes", ())
            )
        if issubclass(cls, errors.RemoteResolutionError):
            exc.status = self.status  # type: ignore[attr-defined]
        return exc


