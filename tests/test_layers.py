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
    "net": "services", "credentials": "services", "build": "services", "closest": "services", "knowledge": "services", "fs": "services", "integrity": "core", "urls": "core", "cached": "core",
    "models": "core", "artifacts": "core", "categories": "core", "values": "core", "format_control": "core", "zips": "core", "timestamps": "core", "digests": "core", "memory": "core", "allocator": "core", "reporting": "core", "errors": "core", "__init__": "core", "data": "core",
}
# Third-party libraries and the modules allowed to import them (DESIGN.md).
CONFINED = {
    "resolvelib": ("resolve",),
    "tomlkit": ("formats",),
    "installer": ("install",),
    "httpx": ("index", "net", "credentials", "download", "resolve", "server", "cli"),  # credentials.py: types only
    "rapidfuzz": ("closest", "guidance"),  # closest.py: every did-you-mean; guidance/typosquat.py: OSA distance
    "difflib": (),  # one fuzzy matcher: closest.py's
    "elftools": (),  # ELF is read by knowledge/elf.py
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


# --- pure layers: no I/O -----------------------------------------------------------------------

PURE = ("formats", "resolve", "guidance", "models", "errors", "digests", "values", "reporting")
IO_MODULES = frozenset({
    "os", "subprocess", "sqlite3", "httpx", "tempfile", "shutil", "socket", "urllib.request", "http.client",
    "platformdirs", "fcntl", "asyncio", "threading", "multiprocessing", "requests",
})
# module (relative to micro_thoth/) -> the I/O modules it may import, and why. Keep it short and explicit.
IO_ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "resolve/remote.py": (frozenset({"os", "httpx"}), "the backend client: HTTP, THAMOS_* variables, CA bundle paths"),
    "models.py": (frozenset({"os"}), "Source.expanded_url reads os.environ when no mapping is given"),
}
WRITE_METHODS = frozenset({
    "write_text", "write_bytes", "mkdir", "makedirs", "unlink", "rmdir", "touch", "symlink_to", "hardlink_to",
    "rename", "chmod", "rmtree",
})


def _pure(path: Path) -> bool:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py") in PURE


def _io_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _is_io(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level and _is_io(node.module):
            found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHODS:
            found.append(f"{node.lineno}: .{node.func.attr}(...)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open" and _writes(node):
            found.append(f"{node.lineno}: open(..., write mode)")
    return found


def _is_io(name: str) -> bool:
    return name in IO_MODULES or name.split(".")[0] in IO_MODULES


def _writes(call: ast.Call) -> bool:
    modes = [a for a in call.args[1:2]] + [k.value for k in call.keywords if k.arg == "mode"]
    return any(not isinstance(m, ast.Constant) or any(c in str(m.value) for c in "wax+") for m in modes)


@pytest.mark.parametrize("path", [p for p in MODULES if _pure(p)], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_layers_do_no_io(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    allowed, _why = IO_ALLOWED.get(rel, (frozenset(), ""))
    uses = [u for u in _io_uses(path) if not any(f"import {m}" in u or f"from {m} " in u for m in allowed)]
    assert uses == [], f"{rel} is in a pure layer but does I/O: {uses}; pass it in from pipeline/, or list it in IO_ALLOWED with a reason"


def test_io_allow_list_is_current() -> None:
    for rel, (allowed, _why) in IO_ALLOWED.items():
        uses = _io_uses(PACKAGE / rel)
        for module in allowed:
            assert any(f"import {module}" in u or f"from {module} " in u for u in uses), f"{rel} no longer uses {module}: drop it from IO_ALLOWED"
