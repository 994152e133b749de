"""Recommendation types (latest, stable, security, performance, testing) as policy parameters.

A recommendation type is a frozen bundle of switches the policy reads; the
exact semantics are documented in docs/guidance.md. The clock is injected:
the cooldown is measured against ``now`` (or the ``--exclude-newer`` date),
never against the machine's time read here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional

from ..errors import UsageError
from ..models import DEFAULT_RECOMMENDATION_TYPE, RECOMMENDATION_TYPES

VulnerabilityMode = Literal["report", "penalise", "remove"]

DEFAULT_TYPE = DEFAULT_RECOMMENDATION_TYPE
DEFAULT_COOLDOWN = timedelta(days=7)
VULNERABILITY_PENALTY = -0.5


@dataclass(frozen=True)
class Recommendation:
    """The switches one recommendation type sets; see docs/guidance.md for each."""

    type: str
    allow_prereleases: bool = False
    allow_yanked: bool = False
    min_release_age: timedelta = timedelta(0)
    vulnerabilities: VulnerabilityMode = "penalise"
    enforce_prescriptions: bool = True
    vulnerability_penalty: float = VULNERABILITY_PENALTY

    @classmethod
    def for_type(cls, name: Optional[str] = None, *, min_release_age: Optional[timedelta] = None) -> Recommendation:
        """The parameters of ``name`` (default ``stable``); ``min_release_age`` overrides the cooldown."""
        key = (name or DEFAULT_TYPE).strip().lower()
        if key not in _PRESETS:
            raise UsageError(
                f"unknown recommendation type '{name}'",
                hint="use one of: " + ", ".join(RECOMMENDATION_TYPES),
            )
        preset = _PRESETS[key]
        if min_release_age is not None:
            if min_release_age < timedelta(0):
                raise UsageError("the minimum release age cannot be negative")
            preset = replace(preset, min_release_age=min_release_age)
        return preset

    @property
    def penalises_vulnerabilities(self) -> bool:
        return self.vulnerabilities == "penalise"


_PRESETS = {
    "latest": Recommendation(
        "latest", allow_yanked=True, vulnerabilities="report", enforce_prescriptions=False
    ),
    "testing": Recommendation(
        "testing", allow_prereleases=True, allow_yanked=True, vulnerabilities="report", enforce_prescriptions=False
    ),
    "stable": Recommendation("stable", min_release_age=DEFAULT_COOLDOWN, vulnerabilities="penalise"),
    "performance": Recommendation("performance", min_release_age=DEFAULT_COOLDOWN, vulnerabilities="penalise"),
    "security": Recommendation("security", vulnerabilities="remove"),
}


def reference_time(now: datetime, exclude_newer: Optional[datetime] = None) -> datetime:
    """The instant release ages are measured from: the exclude-newer date if given, else ``now``."""
    chosen = exclude_newer if exclude_newer is not None else now
    return chosen if chosen.tzinfo is not None else chosen.replace(tzinfo=timezone.utc)


def parse_duration(text: str) -> timedelta:
    """``7d``, ``36h``, ``90m``, ``0`` or a bare number of days -> timedelta (for ``--min-release-age``)."""
    value = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "w": "weeks"}
    try:
        if value and value[-1] in units:
            return timedelta(**{units[value[-1]]: float(value[:-1])})
        return timedelta(days=float(value))
    except ValueError as exc:
        raise UsageError(f"not a duration: '{text}'", hint="write e.g. 7d, 36h or 0") from exc


def describe_duration(delta: timedelta) -> str:
    """``7 days``, ``36 hours``, ``90 minutes``: a cooldown or an age as people say it."""
    seconds = delta.total_seconds()
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"
