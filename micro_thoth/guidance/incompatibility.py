"""A user's own incompatibility ("A does not work with B") written as a prescription unit file.

``thoth-pip prescription add --incompatible A B --reason ...`` records it: one
``step.Group`` unit in Thoth's schema, checked to load with ``parse_units``
before anything is written (writing it is ``micro_thoth.knowledge``'s).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import UsageError
from .prescriptions import parse_units


def _requirement(text: str) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"not a requirement: '{text}'", hint="write it like 'numpy==1.26.0' or 'scipy>=1.11'") from exc
    if req.url or req.marker or req.extras:
        raise UsageError(f"'{text}': an incompatibility names a package and a version range only")
    return req


def incompatibility_units(a: str, b: str, reason: str) -> dict[str, Any]:
    """The YAML document (as data) for "``a`` does not work with ``b``": one ``step.Group`` unit.

    A group refuses each member when the others are in the resolved state, so the
    refusal holds whichever of the two the resolver pins first (Thoth's own form
    for such findings).
    """
    first, second = _requirement(a), _requirement(b)
    if canonicalize_name(first.name) == canonicalize_name(second.name):
        raise UsageError("an incompatibility is between two different packages")
    if not reason.strip():
        raise UsageError("say why the two are incompatible (--reason)")
    digest = hashlib.sha256(f"{first}|{second}".encode()).hexdigest()[:8]
    message = f"{first} is incompatible with {second}: {reason.strip()}"
    unit = {
        "name": f"UserIncompatibility-{_slug(f'{first}-{second}')}-{digest}",
        "type": "step.Group",
        "should_include": {"adviser_pipeline": True},
        "match": {"group": [{"package_version": _package_dict(first)}, {"package_version": _package_dict(second)}]},
        "run": {"not_acceptable": message, "justification": [{"type": "ERROR", "message": message}]},
    }
    return {"units": {"steps": [unit]}}


def _package_dict(req: Requirement) -> dict[str, str]:
    out = {"name": str(canonicalize_name(req.name))}
    if str(req.specifier):
        out["version"] = str(req.specifier)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def incompatibility_file(a: str, b: str, reason: str) -> tuple[str, str]:
    """(file name, YAML text) of the unit file recording "``a`` does not work with ``b``"; the text is checked to load."""
    document = incompatibility_units(a, b, reason)
    # imported here: only recording a finding writes YAML (a lock imports this module, and pyyaml costs ≈ 10 ms)
    import yaml

    text = "# recorded with `thoth-pip prescription add --incompatible A B`\n" + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True
    )
    name = document["units"]["steps"][0]["name"]
    parse_units(text, path=name, origin="user")  # what we write must load
    return f"{name.lower()}.yaml", text
