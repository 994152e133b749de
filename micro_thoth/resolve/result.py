"""The outcome of a resolution: pins with their files, markers and reasons, and the graph.

Markers of a pin: over every path from a root, the conjunction of the markers
on its edges (root edges carry the requested entry's markers); the pin's
marker is the disjunction of those, simplified. A package needed on every path
without condition gets, as pipenv writes, the marker of its Requires-Python
(``python_version >= '3.8'``), or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Optional

from packaging.utils import NormalizedName, canonicalize_name

from ..artifacts import Artifact
from ..models import DirectReference, Justification, Source
from . import markers as mk
from .candidates import PYTHON, Candidate, Requirement
from .finder import RUNS
from .provider import Provider, release_artifacts


@dataclass(frozen=True)
class ResolvedPin:
    """One package of a resolved stack, with all a lock entry needs."""

    name: str  # as the project spells it in its metadata
    version: str
    index: Optional[Source] = None
    artifacts: tuple[Artifact, ...] = ()  # every file of the version on its index
    direct: Optional[DirectReference] = None
    extras: tuple[str, ...] = ()
    markers: Optional[str] = None
    requires_python: Optional[str] = None
    via: tuple[str, ...] = ()  # canonical names of the packages that require it
    score: float = 0.0
    justifications: tuple[Justification, ...] = ()
    path_markers: Optional[str] = None  # ``markers`` without the Requires-Python fallback
    newer: Optional[str] = None  # a newer acceptable release passed over to keep the previous lock's pin

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class Edge:
    """``parent`` requires ``child`` with ``requirement``; ``parent`` None is the user's request."""

    parent: Optional[NormalizedName]
    child: NormalizedName
    requirement: str
    markers: Optional[str] = None


@dataclass(frozen=True)
class Resolution:
    """A resolved stack: pins sorted by name, the requested roots, the graph, the reasons."""

    pins: Mapping[NormalizedName, ResolvedPin] = field(default_factory=dict)
    roots: tuple[NormalizedName, ...] = ()
    edges: tuple[Edge, ...] = ()
    justifications: tuple[Justification, ...] = ()

    @property
    def score(self) -> float:
        return sum(pin.score for pin in self.pins.values())

    @property
    def graph(self) -> Mapping[Optional[NormalizedName], tuple[tuple[NormalizedName, str], ...]]:
        """parent (None for the request) -> (child, requirement) pairs."""
        out: dict[Optional[NormalizedName], list[tuple[NormalizedName, str]]] = {}
        for edge in self.edges:
            out.setdefault(edge.parent, []).append((edge.child, edge.requirement))
        return {k: tuple(v) for k, v in out.items()}

    def versions(self) -> dict[NormalizedName, str]:
        return {key: pin.version for key, pin in self.pins.items()}


@dataclass(frozen=True)
class _KeyEdge:
    parent: Optional[str]
    child: str
    requirement: Requirement


def assemble(mapping: Mapping[str, Candidate], provider: Provider, roots: Sequence[Requirement]) -> Resolution:
    """Turn resolvelib's mapping into a Resolution."""
    chosen = {k: c for k, c in mapping.items() if k != PYTHON}
    key_edges = _key_edges(chosen, provider, roots)
    conditions = _conditions(chosen, key_edges)
    by_project: dict[NormalizedName, list[Candidate]] = {}
    for candidate in chosen.values():
        by_project.setdefault(candidate.name, []).append(candidate)
    edges = _project_edges([e for e in key_edges if _real(e, chosen, provider)], chosen)
    pins = {
        name: _pin(cands, provider, conditions, edges, roots)
        for name, cands in sorted(by_project.items())
    }
    reasons = [j for pin in pins.values() for j in pin.justifications]
    reasons += [j for j in provider.refusals if j not in reasons]
    return Resolution(
        pins=MappingProxyType(pins),
        roots=tuple(dict.fromkeys(r.name for r in roots)),
        edges=tuple(edges),
        justifications=tuple(reasons),
    )


def _key_edges(chosen: Mapping[str, Candidate], provider: Provider, roots: Sequence[Requirement]) -> list[_KeyEdge]:
    edges = [_KeyEdge(None, r.key, r) for r in roots if r.key in chosen]
    for key, candidate in chosen.items():
        for req in provider.declared_requirements(candidate):
            if req.key in chosen:
                edges.append(_KeyEdge(key, req.key, req))
    return edges


def _real(edge: _KeyEdge, chosen: Mapping[str, Candidate], provider: Provider) -> bool:
    """An edge the target takes: the user's request, or a requirement the resolver followed (its
    markers hold for the target with the extras asked for), as pip-compile's ``# via`` lists."""
    return edge.parent is None or edge.requirement in provider.dependencies_of(chosen[edge.parent])


def _conditions(chosen: Mapping[str, Candidate], edges: Sequence[_KeyEdge]) -> dict[str, mk.Condition]:
    """Fixed point of: condition(child) = OR over edges of condition(parent) AND edge marker.

    Each pass carries conditions one edge further; a path round a cycle only adds atoms to a
    shorter path's clause (absorbed), so one pass per package plus one reaches the fixed point.
    """
    edge_markers = {id(e): mk.parse(e.requirement.markers, _edge_extras(e, chosen)) for e in edges}
    state: dict[str, mk.Condition] = {k: mk.NEVER for k in chosen}
    for _ in range(len(chosen) + 1):
        changed = False
        for edge in edges:
            parent = mk.ALWAYS if edge.parent is None else state[edge.parent]
            new = mk.disjoin(state[edge.child], mk.conjoin(parent, edge_markers[id(edge)]))
            if new != state[edge.child]:
                state[edge.child], changed = new, True
        if not changed:
            break
    return state


def _edge_extras(edge: _KeyEdge, chosen: Mapping[str, Candidate]) -> Iterable[str]:
    return () if edge.parent is None else chosen[edge.parent].extras


def _project_edges(key_edges: Sequence[_KeyEdge], chosen: Mapping[str, Candidate]) -> list[Edge]:
    seen: dict[tuple[Optional[str], str, str], Edge] = {}
    for e in key_edges:
        parent = None if e.parent is None else chosen[e.parent].name
        child = chosen[e.child].name
        if parent == child:
            continue  # a[x] -> a: the same project
        edge = Edge(parent, child, e.requirement.text, e.requirement.markers)
        seen.setdefault((parent, child, edge.requirement), edge)
    return sorted(seen.values(), key=lambda e: (e.parent or "", e.child, e.requirement))


def _pin(
    candidates: list[Candidate],
    provider: Provider,
    conditions: Mapping[str, mk.Condition],
    edges: Sequence[Edge],
    roots: Sequence[Requirement],
) -> ResolvedPin:
    base = min(candidates, key=lambda c: (len(c.extras), c.stands_for is not None))
    metadata = provider.metadata(base)
    requires_python = (base.release.requires_python if base.release else None) or metadata.requires_python
    verdict = provider.verdict(base.release) if base.release is not None else None
    condition = mk.simplify(_condition_of(candidates, conditions))
    markers = _markers(condition, roots)
    path_markers = _path_markers(condition, roots, provider)
    abi = provider.finder.abi_verdict(base.release) if base.release is not None and provider.target.abi_symbols else RUNS
    return ResolvedPin(
        name=metadata.name,
        version=str(base.version) if base.direct is None else metadata.version,
        index=base.index,
        artifacts=release_artifacts(base, provider.target, abi.skipped),
        direct=base.direct,
        extras=tuple(sorted({e for c in candidates for e in c.extras})),
        markers=markers or mk.requires_python_marker(requires_python),
        requires_python=requires_python,
        via=tuple(sorted({e.parent for e in edges if e.child == base.name and e.parent})),
        score=verdict.score if verdict else 0.0,
        justifications=(verdict.justifications if verdict else ()) + _stand_in_reasons(candidates)
        + tuple(provider.abi_refusals.get(base.name, ())) + abi.notes,
        path_markers=path_markers,
        newer=_passed_over(base, provider),
    )


def _passed_over(candidate: Candidate, provider: Provider) -> Optional[str]:
    kept = provider.kept.get(candidate.name)
    return str(kept[1]) if kept is not None and kept[0] == candidate.version else None


def _stand_in_reasons(candidates: Sequence[Candidate]) -> tuple[Justification, ...]:
    """Why a pseudonym's stand-in is here instead of the project asked for."""
    return tuple(dict.fromkeys(c.reason for c in candidates if c.reason is not None))


def _condition_of(candidates: Sequence[Candidate], conditions: Mapping[str, mk.Condition]) -> mk.Condition:
    """A package's condition: any of its identifiers' (``a``, ``a[x]``) conditions."""
    condition: mk.Condition = mk.NEVER
    for candidate in candidates:
        condition = mk.disjoin(condition, conditions[candidate.key])
    return mk.ALWAYS if condition == mk.NEVER else condition  # NEVER: unreachable, cannot happen


def _path_markers(condition: mk.Condition, roots: Sequence[Requirement], provider: Provider) -> Optional[str]:
    """The marker pip-compile's format writes: a requested entry's marker as written, else the
    condition without the Python bounds the target meets (``< '3.15'`` for 3.11: none)."""
    if any(root.markers and mk.parse(root.markers) == condition for root in roots):
        return _markers(condition, roots)
    return mk.render(mk.settle(condition, provider.target.markers))


def _markers(condition: mk.Condition, roots: Sequence[Requirement]) -> Optional[str]:
    """The rendered condition; when it is exactly a requested entry's marker (for the entry or
    what it alone brings in), that marker as written, as pipenv writes it."""
    for root in roots:
        if root.markers and mk.parse(root.markers) == condition:
            return mk.as_written(root.markers)
    return mk.render(condition)
