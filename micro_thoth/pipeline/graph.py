"""``thoth-pip graph``: the installed environment's dependency graph, shaped like ``pipenv graph``.

Built from each ``*.dist-info/METADATA`` of the environment (markers evaluated
for its interpreter, extras not followed), rendered as pipdeptree renders it:
a text tree (``--reverse``: who requires each package), flat JSON, or a JSON tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from packaging.markers import InvalidMarker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from .. import install
from ..artifacts import CoreMetadata
from ..settings import Settings
from .where import IGNORED, existing_environment


@dataclass(frozen=True)
class Edge:
    """A requirement of one installed package on another."""

    key: NormalizedName
    name: str
    spec: Optional[str]  # "" for none


@dataclass(frozen=True)
class Node:
    """An installed distribution and its (marker-applicable) requirements."""

    key: NormalizedName
    name: str
    version: str
    requires: tuple[Edge, ...]


Graph = Mapping[NormalizedName, Node]


def installed_graph(settings: Settings) -> Graph:
    """The graph of the project's environment (``--system``: the system Python's)."""
    env = existing_environment(settings)
    markers = dict(env.interpreter.markers)
    return build_graph(install.installed_distributions(env).values(), markers)


def build_graph(dists: Any, markers: Mapping[str, str]) -> Graph:
    nodes = {}
    for dist in dists:
        metadata = _metadata(dist)
        requires = metadata.requires_dist if metadata else ()
        edges = tuple(sorted(filter(None, (_edge(r, markers) for r in requires)), key=lambda e: e.key))
        nodes[dist.key] = Node(dist.key, dist.name, dist.version, edges)
    return dict(sorted(nodes.items()))


def _metadata(dist: install.InstalledDistribution) -> Optional[CoreMetadata]:
    try:
        return CoreMetadata.from_text((dist.dist_info / "METADATA").read_bytes())
    except (OSError, ValueError):
        return None


def _edge(text: str, markers: Mapping[str, str]) -> Optional[Edge]:
    try:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({**markers, "extra": ""}):
            return None
    except (InvalidRequirement, InvalidMarker, UndefinedEnvironmentName):
        return None
    spec = ",".join(sorted((str(s) for s in requirement.specifier), reverse=True))
    return Edge(canonicalize_name(requirement.name), requirement.name, spec)


def closure(graph: Graph, root: str) -> list[NormalizedName]:
    """``root`` and everything it requires, transitively (installed packages only)."""
    seen: list[NormalizedName] = []
    todo = [canonicalize_name(root)]
    while todo:
        key = todo.pop()
        if key in seen or key not in graph:
            continue
        seen.append(key)
        todo.extend(edge.key for edge in graph[key].requires)
    return seen


# --- pipdeptree's shapes -------------------------------------------------------------------


def _installed(graph: Graph, key: NormalizedName) -> str:
    node = graph.get(key)
    return node.version if node else "?"


def _shown_name(graph: Graph, edge: Edge) -> str:
    node = graph.get(edge.key)
    return node.name if node else edge.name


def top_level(graph: Graph) -> list[Node]:
    required = {edge.key for node in graph.values() for edge in node.requires}
    return [node for key, node in graph.items() if key not in required]


def render_text(graph: Graph, *, reverse: bool = False) -> str:
    """The tree as ``pipenv graph`` prints it (unicode branches)."""
    if reverse:
        return _render_reverse(graph)
    lines: list[str] = []
    for node in top_level(graph):
        if node.key in IGNORED:
            continue
        lines.append(f"{node.name}=={node.version}")
        lines += _branches(graph, node.requires, [node.key], "", lambda e: _edge_label(graph, e), _children_of(graph))
    return "\n".join(lines)


def _edge_label(graph: Graph, edge: Edge) -> str:
    return f"{_shown_name(graph, edge)} [required: {edge.spec or 'Any'}, installed: {_installed(graph, edge.key)}]"


def _children_of(graph: Graph) -> Any:
    return lambda edge: graph[edge.key].requires if edge.key in graph else ()


def _branches(graph: Graph, edges: Sequence[Edge], chain: list[str], prefix: str, label: Any, children: Any) -> list[str]:
    """pipdeptree's unicode tree: ``├── `` / ``└── `` with ``│`` continuing open branches."""
    shown = [e for e in edges if e.key not in chain]
    lines: list[str] = []
    for i, edge in enumerate(shown):
        last = i == len(shown) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{label(edge)}")
        below = prefix + ("    " if last else "│   ")
        lines += _branches(graph, children(edge), [*chain, edge.key], below, label, children)
    return lines


def _reverse_edges(graph: Graph) -> dict[NormalizedName, list[Edge]]:
    """For each package, an edge to each installed package requiring it (spec: what it asks)."""
    dependents: dict[NormalizedName, list[Edge]] = {key: [] for key in graph}
    for node in graph.values():
        for edge in node.requires:
            if edge.key in dependents:
                dependents[edge.key].append(Edge(node.key, f"{edge.name}{edge.spec or ''}", edge.spec))
    return {key: sorted(edges, key=lambda e: e.key) for key, edges in dependents.items()}


def _render_reverse(graph: Graph) -> str:
    dependents = _reverse_edges(graph)
    lines: list[str] = []
    for node in graph.values():
        if node.requires and any(e.key in graph for e in node.requires):
            continue
        lines.append(f"{node.name}=={node.version}")

        def label(edge: Edge) -> str:
            dependent = graph[edge.key]
            return f"{dependent.name}=={dependent.version} [requires: {edge.name}]"

        lines += _branches(graph, dependents[node.key], [node.key], "", label, lambda e: dependents.get(e.key, ()))
    return "\n".join(lines)


def render_json(graph: Graph) -> list[dict[str, Any]]:
    """pipdeptree's flat ``--json`` (pipenv drops pip/setuptools/wheel/pipenv)."""
    return [
        {
            "package": {"key": node.key, "package_name": node.name, "installed_version": node.version},
            "dependencies": [_edge_dict(graph, edge) for edge in node.requires],
        }
        for node in graph.values()
        if node.key not in IGNORED
    ]


def _edge_dict(graph: Graph, edge: Edge) -> dict[str, Any]:
    return {
        "key": edge.key,
        "package_name": _shown_name(graph, edge),
        "installed_version": _installed(graph, edge.key),
        "required_version": edge.spec or "Any",
    }


def render_json_tree(graph: Graph) -> list[dict[str, Any]]:
    """pipdeptree's nested ``--json-tree``."""
    roots = [n for n in top_level(graph) if n.key not in IGNORED]
    return [_tree_node(graph, node, [node.key]) for node in roots]


def _tree_node(graph: Graph, node: Node, chain: list[str], edge: Optional[Edge] = None) -> dict[str, Any]:
    data: dict[str, Any] = {"key": node.key, "package_name": node.name, "installed_version": node.version}
    data["required_version"] = (edge.spec or "Any") if edge is not None else node.version
    data["dependencies"] = [_tree_edge(graph, e, [*chain, e.key]) for e in node.requires if e.key not in chain]
    return data


def _tree_edge(graph: Graph, edge: Edge, chain: list[str]) -> dict[str, Any]:
    node = graph.get(edge.key)
    if node is None:
        return {**_edge_dict(graph, edge), "dependencies": []}
    return _tree_node(graph, node, chain, edge)
