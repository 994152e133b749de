"""Tiny ELF shared objects with chosen symbol versions, built with the machine's C compiler.

    libs = ElfKit(tmp_path)                       # skips the test when there is no C compiler
    new = libs.library("libstdc++.so.6", {"GLIBCXX_3.4": ["old_fn"], "GLIBCXX_3.4.30": ["new_fn"]})
    ext = libs.user("ext.so", new, calls=["new_fn"])   # needs GLIBCXX_3.4.30 from libstdc++.so.6
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


def compiler() -> str:
    found = shutil.which("cc") or shutil.which("gcc")
    if found is None:
        pytest.skip("no C compiler (cc/gcc) on this machine: cannot build ELF test files")
    return found


class ElfKit:
    """Builds libraries that define versioned symbols, and objects that need them."""

    def __init__(self, workdir: Path) -> None:
        self.cc = compiler()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)

    def _run(self, *argv: str) -> None:
        subprocess.run([self.cc, *argv], check=True, capture_output=True, cwd=self.dir)

    def library(self, soname: str, versions: Mapping[str, Sequence[str]], subdir: str = "") -> Path:
        """A shared library named ``soname`` defining each version node with its functions."""
        out = self.dir / (subdir or soname.replace("+", "p") + "-lib") / soname
        out.parent.mkdir(parents=True, exist_ok=True)
        source = "".join(f"int {fn}(void) {{ return {i}; }}\n" for i, fns in enumerate(versions.values()) for fn in fns)
        nodes, previous = [], ""
        for i, (version, fns) in enumerate(versions.items()):
            body = "global: " + " ".join(f"{fn};" for fn in fns) + (" local: *;" if i == 0 else "")
            nodes.append(f"{version} {{ {body} }} {previous};".replace(" ;", ";"))
            previous = version
        (out.parent / "lib.c").write_text(source)
        (out.parent / "lib.map").write_text("\n".join(nodes) + "\n")
        self._run("-shared", "-fPIC", "-o", str(out), f"-Wl,-soname,{soname}",
                  f"-Wl,--version-script={out.parent / 'lib.map'}", str(out.parent / "lib.c"))
        return out

    def user(self, name: str, library: Path, calls: Sequence[str]) -> bytes:
        """The bytes of a shared object that calls ``calls`` from ``library`` (so needs their versions)."""
        source = self.dir / f"{name}.c"
        body = " + ".join(f"{fn}()" for fn in calls) or "0"
        source.write_text("".join(f"extern int {fn}(void);\n" for fn in calls) + f"int use(void) {{ return {body}; }}\n")
        out = self.dir / name
        self._run("-shared", "-fPIC", "-o", str(out), str(source), f"-L{library.parent}", f"-l:{library.name}")
        return out.read_bytes()
