"""Small builders for guidance tests: artifacts of a release, a policy with units from YAML text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Optional

from micro_thoth.artifacts import Artifact, CoreMetadata
from micro_thoth.guidance.policy import GuidancePolicy
from micro_thoth.guidance.prescriptions import UnitContext, parse_units
from micro_thoth.guidance.recommendation import Recommendation
from micro_thoth.models import Source

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
INDEX = Source("main", "https://index.example.invalid/simple")


def artifacts(name: str, version: str, *, uploaded: str = "2026-01-01T00:00:00Z", yanked: Optional[str] = None,
              index: Source = INDEX) -> tuple[Artifact, ...]:
    stem = f"{name.replace('-', '_')}-{version}"
    return (
        Artifact(f"{stem}-py3-none-any.whl", f"{index.url}/{stem}.whl", upload_time=uploaded, yanked=yanked, index=index),
        Artifact(f"{stem}.tar.gz", f"{index.url}/{stem}.tar.gz", upload_time=uploaded, yanked=yanked, index=index),
    )


def no_metadata() -> CoreMetadata:
    raise AssertionError("metadata must not be fetched")


def policy(rtype: str = "stable", units: str = "", *, origin: str = "project", context: Optional[UnitContext] = None,
           **kwargs: Any) -> GuidancePolicy:
    parsed: Sequence[Any] = parse_units(units, path="test.yaml", origin=origin) if units else ()
    min_age = kwargs.pop("min_release_age", None)
    return GuidancePolicy(Recommendation.for_type(rtype, min_release_age=min_age), now=kwargs.pop("now", NOW),
                          units=parsed, context=context, **kwargs)
