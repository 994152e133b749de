"""What knowledge said in one run: its justifications grouped per package (unit, origin), and why newer releases lost.

``knowledge_section`` is the report's ``knowledge`` object: where the knowledge
came from (``GuidancePolicy.knowledge_info``: sources, revisions, digest), how
much of it was read, and every justification a prescription unit or an
advisory gave, deduplicated and grouped by package. ``held_back`` names, for a
pin older than releases the policy judged, what kept those newer ones out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..models import Justification, Verdict
from .advisories import OSV_LINK
from .policy import GuidancePolicy
from .units import Unit

_UNIT = re.compile(r"\[prescription ([^;\]\s]+)")
_ADVISORY_LINK = OSV_LINK.format(id="")
STACK = ""  # the by_package key of what is said about the whole stack


def unit_of(policy: GuidancePolicy, justification: Justification) -> Optional[Unit]:
    """The unit that said ``justification`` (its message ends ``[prescription NAME...]``), if any."""
    found = _UNIT.search(justification.message)
    return policy.applied.get(found.group(1)) if found else None


def knowledge_section(policy: GuidancePolicy, justifications: Iterable[Justification]) -> dict[str, Any]:
    """The report's ``knowledge``: sources and counts, and ``by_package``: what units and advisories said."""
    by_package: dict[str, list[dict[str, Any]]] = {}
    for justification in dict.fromkeys(justifications):
        entry = _entry(policy, justification)
        if entry is not None:
            by_package.setdefault(justification.package or STACK, []).append(entry)
    counts = Counter(e["type"] for entries in by_package.values() for e in entries)
    return {
        **policy.knowledge_info,
        "units_read": sum(1 for u in policy.units if u.origin == "synced"),
        "units_applied": len(policy.applied),
        "packages_considered": len(policy.catalog.considered),
        "counts": {t: counts[t] for t in ("INFO", "WARNING", "ERROR") if counts[t]},
        "by_package": {name: by_package[name] for name in sorted(by_package)},
    }


def _entry(policy: GuidancePolicy, justification: Justification) -> Optional[dict[str, Any]]:
    out: dict[str, Any] = {"type": justification.type, "message": justification.message}
    if justification.version and justification.package:
        out["version"] = justification.version  # the release it was said of (a wrap speaks of the package)
    if justification.link:
        out["link"] = justification.link
    unit = unit_of(policy, justification)
    if unit is not None:
        return {**out, "unit": unit.name, "unit_type": unit.type, "origin": unit.origin, "path": unit.path}
    if justification.link and justification.link.startswith(_ADVISORY_LINK):
        return {**out, "unit": justification.link[len(_ADVISORY_LINK):], "unit_type": "advisory", "origin": "advisories"}
    return None


def judged_releases(policy: GuidancePolicy) -> dict[str, list[tuple[Version, Verdict]]]:
    """name -> (version, verdict) of every release the policy judged (what ``held_back`` looks through)."""
    out: dict[str, list[tuple[Version, Verdict]]] = {}
    for (name, text), verdict in policy.verdicts.items():
        version = _version(text)
        if version is not None:
            out.setdefault(name, []).append((version, verdict))
    return out


def held_back(judged: Mapping[str, Sequence[tuple[Version, Verdict]]], name: str, version: str) -> tuple[Justification, ...]:
    """One justification naming what kept each newer judged release of ``name`` out (none when ``version`` is the newest)."""
    chosen = _version(version)
    key = canonicalize_name(name)
    if chosen is None:
        return ()
    newer = sorted(((v, verdict) for v, verdict in judged.get(key, ()) if v > chosen), key=lambda item: item[0], reverse=True)
    if not newer:
        return ()
    parts = [f"{v}: {_why(verdict)}" for v, verdict in newer[:3]]
    more = f" (and {len(newer) - 3} more)" if len(newer) > 3 else ""
    message = f"held back from newer releases: {'; '.join(parts)}{more}"
    link = next((j.link for _v, verdict in newer for j in verdict.justifications if j.type != "INFO" and j.link), None)
    return (Justification("INFO", message, link=link, package=key, version=version),)  # the refusals themselves are the report's


def _why(verdict: Verdict) -> str:
    said = [j for j in verdict.justifications if j.type != "INFO"]
    if not verdict.acceptable:
        refusing = [j for j in said if j.message.startswith("refused")] or said
        return refusing[0].message if refusing else "refused"
    if verdict.score < 0 and said:
        return f"scored {verdict.score:+.2f}, {said[0].message}"
    return "acceptable, but the stack's other requirements or the previous lock keep this version (`thoth-pip update NAME` moves it)"


def _version(text: str) -> Optional[Version]:
    try:
        return Version(text.lstrip("="))
    except InvalidVersion:
        return None
