"""Why a resolution is impossible, in words a person can act on (uv's style).

"Because you require a>=2 and b==1.0 (via c==3.0) depends on a<2, no version
of a satisfies all of them." Each conflicting requirement also comes back as a
``ConflictCause`` whose chain runs from the request to the package that asked.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from packaging.utils import canonicalize_name

from ..errors import ConflictCause, ResolutionImpossible
from .candidates import PYTHON, Candidate
from .provider import Provider

ROOT = "requested"
CONSTRAINT = "constraints"
MAX_SKIPPED_SHOWN = 5
HINT = "loosen one of these requirements, or change the package that brings one in"
MISSING_HINT = "check the name, and that the indexes you configured serve this package"


def explain(causes: Collection[Any], provider: Provider) -> ResolutionImpossible:
    """Translate resolvelib's causes (requirement, parent) into our ResolutionImpossible."""
    groups: dict[str, list[Any]] = {}
    for info in causes:
        groups.setdefault(info.requirement.name, []).append(info)
    sentences = [_sentence(name, infos, provider) for name, infos in groups.items()]
    conflict = [ConflictCause(info.requirement.text, _chain(info, provider)) for info in causes]
    for name in groups:
        conflict += [ConflictCause(c.text, (CONSTRAINT,)) for c in _limiting(name, provider)]
    missing = any(canonicalize_name(name) in provider.finder.missing for name in groups)
    return ResolutionImpossible(" ".join(sentences), causes=conflict, hint=MISSING_HINT if missing else HINT)


def _sentence(name: str, infos: Sequence[Any], provider: Provider) -> str:
    phrases = _phrases(infos, provider)
    phrases += [f"the constraint {c.text}" for c in _limiting(name, provider)]
    joined = _join(phrases)
    if name == PYTHON:
        users = " or ".join(str(info.parent) for info in infos if info.parent is not None)
        return f"Because {joined} and the target Python is {provider.python.version}, {users} cannot be used."
    if len(infos) + len(_limiting(name, provider)) == 1:
        text = f"Because {joined} and no version of {name} matches it, the request cannot be satisfied."
        return text + _available(name, provider) + _unusable(name, provider) + _refused(name, infos, provider)
    return f"Because {joined}, no version of {name} satisfies them together." + _unusable(name, provider) + _refused(name, infos, provider)


def _phrases(infos: Sequence[Any], provider: Provider) -> list[str]:
    """One phrase per requirement, but one for all the versions of a parent that were tried."""
    by_parent: dict[object, list[Any]] = {}
    for info in infos:
        by_parent.setdefault(info.parent.name if info.parent is not None else id(info), []).append(info)
    return [_phrase(group[0], provider) if len(group) == 1 else _versions_phrase(group) for group in by_parent.values()]


def _versions_phrase(group: Sequence[Any]) -> str:
    parent = group[0].parent
    each = [f"{info.requirement.text} ({info.parent})" for info in group]
    return f"the versions of {parent.display_name} tried depend on {_join(each, ', ', ' or ')}"


def _join(items: Sequence[str], sep: str = " and ", last: str = " and ") -> str:
    if len(items) <= 1:
        return "".join(items)
    return sep.join(items[:-1]) + last + items[-1]


def _limiting(name: str, provider: Provider) -> list[Any]:
    """The constraints on ``name`` that narrow its versions (not those that only pin an index)."""
    return [c for c in provider.constraints.get(name, ()) if str(c.specifier) or c.direct is not None]


def _available(name: str, provider: Provider) -> str:
    releases = provider.finder.releases(canonicalize_name(name), provider.index_pins.get(name))
    versions = [str(r.version) for r in releases if r.usable][:MAX_SKIPPED_SHOWN]
    return f" Versions of {name} for the target: {', '.join(versions)}." if versions else ""


def _phrase(info: Any, provider: Provider) -> str:
    req = info.requirement
    if info.parent is None:
        return f"you require {req.text}"
    chain = _candidates_to(info.parent, provider)
    via = f" (via {' -> '.join(chain[:-1])})" if len(chain) > 1 else ""
    verb = "requires" if req.name == PYTHON else "depends on"
    return f"{chain[-1]}{via} {verb} {req.text}"


def _unusable(name: str, provider: Provider) -> str:
    missing = provider.finder.missing.get(canonicalize_name(name))
    if missing is not None:
        pinned = provider.index_pins.get(name)
        return f" {name} was not found on " + (f"the index '{pinned}'." if pinned else "any index.")
    skipped = provider.finder.skipped.get(canonicalize_name(name), {})
    if not skipped:
        return ""
    shown = [f"{version} {why}" for version, why in list(skipped.items())[:MAX_SKIPPED_SHOWN]]
    more = f" and {len(skipped) - MAX_SKIPPED_SHOWN} more" if len(skipped) > MAX_SKIPPED_SHOWN else ""
    return f" Versions of {name} the target cannot use: {'; '.join(shown)}{more}."


def _refused(name: str, infos: Sequence[Any], provider: Provider) -> str:
    """Releases the requirements admit that the policy refused, each with the policy's reason
    (a yank and its reason, an advisory by id, a cooldown) and the way out it names."""
    wanted = canonicalize_name(name)
    reasons = [
        f"{version}: {'; '.join(j.message for j in verdict.justifications if j.type != 'INFO')}"
        for (key, version, _index), verdict in provider.verdicts.items()
        if key == wanted and not verdict.acceptable and all(i.requirement.admits(version) for i in infos)
    ]
    shown = list(dict.fromkeys(reasons))[:MAX_SKIPPED_SHOWN]
    return f" Versions of {name} refused by guidance: {' | '.join(shown)}." if shown else ""


def _chain(info: Any, provider: Provider) -> tuple[str, ...]:
    if info.parent is None:
        return (ROOT,)
    return (ROOT, *_candidates_to(info.parent, provider))


def _candidates_to(candidate: Candidate, provider: Provider) -> list[str]:
    """Names of the candidates from a root requirement down to ``candidate``."""
    path = _path(candidate, provider, frozenset())
    names: list[str] = []
    for step in path:
        if not names or names[-1] != str(step):  # a[x] -> a: same package
            names.append(str(step))
    return names


def _path(candidate: Candidate, provider: Provider, seen: frozenset[str]) -> list[Candidate]:
    asked = [r for r in provider.requested.get(candidate.key, ()) if provider.is_satisfied_by(r, candidate)]
    if any(r.parent is None for r in asked):
        return [candidate]
    for req in asked:
        parent = req.parent
        if parent is not None and parent.key not in seen:
            return [*_path(parent, provider, seen | {candidate.key}), candidate]
    return [candidate]
