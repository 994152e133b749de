"""Helpers shared by the resolver tests: targets, requirements from case data, a scoring policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from micro_thoth.artifacts import Artifact, CoreMetadata
from micro_thoth.models import (
    Dependency,
    DirectReference,
    Justification,
    Substitute,
    Target,
    Verdict,
)

PLATFORM_MARKERS = {
    "linux_x86_64": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"},
    "win_amd64": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"},
}


def make_target(python: str = "3.11.4", platform: str = "linux_x86_64") -> Target:
    """A CPython target on ``platform`` (markers and tags), whatever runs the tests."""
    major, minor = (int(p) for p in python.split(".")[:2])
    markers = {
        "implementation_name": "cpython",
        "implementation_version": python,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "python_version": f"{major}.{minor}",
        "python_full_version": python,
        **PLATFORM_MARKERS[platform],
    }
    plats = [platform] if platform != "linux_x86_64" else ["manylinux_2_17_x86_64", "linux_x86_64"]
    found = [*tags.cpython_tags((major, minor), platforms=plats), *tags.compatible_tags((major, minor), f"cp{major}{minor}", plats)]
    return Target(markers=markers, tags=tuple(found))


def dependency(entry: Any) -> Dependency:
    """A Dependency from a PEP 508 string or a dict of Dependency fields."""
    if isinstance(entry, str):
        req = Requirement(entry)
        return Dependency(
            name=req.name,
            specifier=str(req.specifier),
            extras=tuple(sorted(req.extras)),
            markers=str(req.marker) if req.marker else None,
        )
    fields = dict(entry)
    if "direct" in fields:
        fields["direct"] = DirectReference(**fields["direct"])
    if "extras" in fields:
        fields["extras"] = tuple(fields["extras"])
    return Dependency(**fields)


class ScorePolicy:
    """A CandidatePolicy from case data: ``scores`` {"a==1.0": -1.0}, ``refuse`` ["a==2.0"],
    ``alternatives`` {"a": [{"name": "b", "specifier": "=={version}", "index": "other"}]} (pseudonyms)."""

    def __init__(
        self,
        scores: Mapping[str, float] = {},
        refuse: Sequence[str] = (),
        overrides: Mapping[str, Sequence[str]] = {},
        alternatives: Mapping[str, Sequence[Mapping[str, str]]] = {},
    ) -> None:
        self.scores = dict(scores)
        self.refuse = set(refuse)
        self.overrides = dict(overrides)
        self.offers = dict(alternatives)
        self.judged: list[str] = []

    def judge(self, name: NormalizedName, version: Version, artifacts: Sequence[Artifact], metadata: Callable[[], CoreMetadata]) -> Verdict:
        key = f"{name}=={version}"
        self.judged.append(key)
        if key in self.refuse:
            return Verdict(False, 0.0, (Justification("ERROR", f"{key} is refused", package=name, version=str(version)),))
        score = self.scores.get(key, 0.0)
        reasons = (Justification("WARNING", f"{key} scores {score}", package=name, version=str(version)),) if score else ()
        return Verdict(True, score, reasons)

    def override_requirements(self, name: NormalizedName, version: Version, requirements: Sequence[str]) -> Sequence[str]:
        return self.overrides.get(f"{name}=={version}", requirements)

    def too_young(self, artifacts: Sequence[Artifact]) -> bool:
        return False  # no cooldown

    def alternatives(self, name: NormalizedName, version: Version, artifacts: Sequence[Artifact]) -> tuple[Substitute, ...]:
        offers = self.offers.get(f"{name}=={version}", self.offers.get(name, ()))
        return tuple(
            Substitute(o["name"], o.get("specifier", "").format(version=version), o.get("index"), f"offered for {name}")
            for o in offers
        )


def policy_from(data: Optional[Mapping[str, Any]]) -> Optional[ScorePolicy]:
    if data is None:
        return None
    return ScorePolicy(data.get("scores", {}), data.get("refuse", ()), data.get("overrides", {}), data.get("alternatives", {}))
