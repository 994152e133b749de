"""Imports go downward only (DESIGN.md's layers), checked with an ast walk of micro_thoth/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "micro_thoth"

LAYERS = {
    "edge": 4,
    "orchestrate": 3,
    "stages": 2,
    "services": 1,
    "core": 0,
}
MODULE_LAYER = {
    "cli": "edge", "console": "edge", "server": "edge", "__main__": "edge",
    "pipeline": "orchestrate",
    "formats": "stages", "resolve": "stages", "download": "stages", "install": "stages",
    "index": "services", "cache": "services", "store": "services", "guidance": "services",
    "environment": "services", "settings": "services", "pipconf": "services",
    "net": "services", "build": "services", "knowledge": "services", "fs": "services", "integrity": "core",
    "models": "core", "values": "core", "digests": "core", "reporting": "core", "errors": "core", "__init__": "core", "data": "core",
}
# Third-party libraries and the modules allowed to import them (DESIGN.md).
CONFINED = {
    "resolvelib": ("resolve",),
    "tomlkit": ("formats",),
    "installer": ("install",),
    "httpx": ("index", "net", "download", "resolve", "server", "cli"),
    "rapidfuzz": ("guidance", "index"),
    "elftools": ("knowledge",),
    "rich": ("console",),
    "pip": (),
}


def _top(module: Path) -> str:
    rel = module.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, int]] = []
    depth = len(path.relative_to(PACKAGE).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                if up > depth:
                    continue
                base = list(path.relative_to(PACKAGE).parts[:-1])[: depth - up]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                if not target:  # "from .. import x": the package root's __init__
                    target = "__init__"
                found.append(("micro_thoth." + target, node.lineno))
            elif node.module:
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward(path: Path) -> None:
    mine = _top(path)
    assert mine in MODULE_LAYER, f"{mine} has no layer in DESIGN.md; add it to MODULE_LAYER"
    my_rank = LAYERS[MODULE_LAYER[mine]]
    for name, line in _imports(path):
        if name.startswith("micro_thoth."):
            other = name.split(".")[1]
            if other == mine:
                continue
            assert other in MODULE_LAYER, f"{path}:{line} imports unknown {name}"
            assert LAYERS[MODULE_LAYER[other]] <= my_rank, f"{path}:{line} imports {name} upward"
            if mine == "resolve":
                assert other not in ("formats", "download", "install"), f"{path}:{line}: resolve/ imports {other}"
        else:
            root = name.split(".")[0]
            if root in CONFINED:
                assert mine in CONFINED[root], f"{path}:{line} imports {root}; only {CONFINED[root]} may"
