"""Whole-stack rules (strides, steps with ``state``, user incompatibilities) honoured by re-resolving.

resolvelib judges one candidate at a time, so a rule about two packages
together is checked on the finished stack: if it is violated, the stack is
resolved again with one offending pin excluded (``name!=version``), breadth
first over the offenders, within ``limit`` resolutions. The resolver is passed
in as a function, so this module needs no resolver import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional, Protocol, TypeVar

from packaging.utils import canonicalize_name

from ..errors import ResolutionError, ResolutionImpossible
from ..models import Dependency, Justification
from .policy import GuidancePolicy


class Stack(Protocol):
    def versions(self) -> Mapping[Any, str]:
        ...


S = TypeVar("S", bound=Stack)


def honour_stack_rules(
    resolve_with: Callable[[Sequence[Dependency]], S], policy: GuidancePolicy, *, limit: int = 8
) -> S:
    """The first stack (fewest exclusions first) that no whole-stack rule refuses."""
    queue: list[tuple[Dependency, ...]] = [()]
    seen: set[frozenset[tuple[str, str]]] = {frozenset()}
    said: list[str] = []
    refused: list[tuple[str, Any, Justification]] = []
    failure: Optional[ResolutionError] = None
    for _ in range(limit):
        if not queue:
            break
        excluded = queue.pop(0)
        try:
            stack = resolve_with(list(excluded))
        except ResolutionError as exc:
            failure = exc
            continue
        violations = policy.stack_violations(stack.versions())
        if not violations:
            _say_left_out(policy, refused, stack.versions())
            return stack
        for name, version, why in violations:
            said.append(why.message)
            refused.append((name, version, why))
            _enqueue(queue, seen, excluded, Dependency(name, f"!={version}"))
    raise _impossible(said, failure)


def _say_left_out(policy: GuidancePolicy, refused: Sequence[tuple[str, Any, Justification]], final: Mapping[Any, str]) -> None:
    """A warning for each refused pin the returned stack does not hold: the lock changed the user's versions."""
    chosen = {canonicalize_name(str(k)): str(v) for k, v in final.items()}
    for name, version, why in refused:
        if chosen.get(canonicalize_name(name)) != str(version):
            message = f"left out of the stack: {why.message}"
            policy.stack_info[("left-out", f"{name}=={version}")] = Justification("WARNING", message, why.link, name, str(version))


def _enqueue(
    queue: list[tuple[Dependency, ...]], seen: set[frozenset[tuple[str, str]]], excluded: tuple[Dependency, ...], new: Dependency
) -> None:
    attempt = (*excluded, new)
    key = frozenset((d.key, d.specifier) for d in attempt)
    if key not in seen:
        seen.add(key)
        queue.append(attempt)


def _impossible(said: Sequence[str], failure: Optional[ResolutionError]) -> ResolutionError:
    if not said and failure is not None:
        return failure  # no whole-stack rule was involved: the resolver's own explanation is the answer
    reasons = list(dict.fromkeys(said))
    message = "no stack satisfies the prescriptions' whole-stack rules"
    if reasons:
        message += ": " + "; ".join(reasons[:5])
    error = ResolutionImpossible(message, hint="relax a pin, or remove the prescription that refuses the combination")
    error.__cause__ = failure
    return error
