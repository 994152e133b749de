"""Whose word the resolver takes: the user's (previous pins, index pins, ``==`` on a yanked release), not a package's.

What the user wrote (roots, constraints, the lock's previous pins) decides
where a project comes from and which of its releases is tried first; a
dependency a package declares does not. A direct reference a package's
metadata declares is refused where the source follows only the user's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Union

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import ConflictCause, ResolutionImpossible
from ..models import redact_url
from .candidates import Requirement


def users_choice(requirement: Requirement) -> bool:
    """Written by the user (a root or a constraint, or the base of a root's extras): only such an
    ``==`` takes a yanked release (PEP 592); a dependency's ``==`` is not the user's choice."""
    parent = requirement.parent
    if parent is None:
        return True
    return parent.name == requirement.name and bool(parent.extras) and not requirement.extras


def kept_preferences(
    preferences: Mapping[NormalizedName, str], upgrade: Union[Collection[NormalizedName], bool]
) -> dict[NormalizedName, str]:
    if upgrade is True:
        return {}
    dropped = {canonicalize_name(n) for n in upgrade} if upgrade else set()
    return {canonicalize_name(n): v.lstrip("=") for n, v in preferences.items() if canonicalize_name(n) not in dropped}


def index_pins(requirements: Iterable[Requirement]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for req in requirements:
        if req.index is None:
            continue
        if pins.get(req.name, req.index) != req.index:
            raise ResolutionImpossible(
                f"{req.name} is pinned to two indexes, '{pins[req.name]}' and '{req.index}'",
                hint="a package can come from one index only; keep one `index =` for it",
            )
        pins[req.name] = req.index
    return pins


def declared_direct_refused(req: Requirement) -> ResolutionImpossible:
    """A package's metadata names a path, file: URL, URL or VCS checkout that this source does not follow."""
    parent = req.parent
    who = f"{parent.name} {parent.version}" if parent is not None else "a requirement"
    where = redact_url(req.direct.location) if req.direct is not None else req.text
    return ResolutionImpossible(
        f"{who} depends on {req.name} @ {where}, a direct reference declared in its metadata: "
        "the backend follows none (it reads no file of its own machine, and fetches no URL, because a package says so)",
        causes=[ConflictCause(f"{req.name} @ {where}", (f"{parent.name}=={parent.version}",) if parent is not None else ())],
        hint="lock without a backend: the embedded resolver follows such references as pip does",
    )
