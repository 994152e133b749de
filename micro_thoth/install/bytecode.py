"""Bytecode compiled by the *target* interpreter (a subprocess), never by the one running us."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..reporting import Reporter
from .environment import TargetEnvironment
from .transaction import Transaction

_COMPILE = """
import compileall, functools, sys
files = [line for line in sys.stdin.read().split("\\n") if line]
compile_one = functools.partial(compileall.compile_file, quiet=2)
if len(files) > 400:
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor() as pool:
        list(pool.map(compile_one, files, chunksize=64))
else:
    for name in files:
        compile_one(name)
"""


def compile_bytecode(files: Sequence[Path], env: TargetEnvironment) -> int:
    """Compile ``files`` to ``__pycache__`` with the target interpreter; returns how many were given."""
    sources = [str(p) for p in files if p.suffix == ".py" and "\n" not in str(p)]
    if not sources:
        return 0
    subprocess.run(
        [env.python, "-I", "-c", _COMPILE],
        input="\n".join(sources),
        text=True,
        capture_output=True,
        check=False,
    )
    return len(sources)


def pyc_path(source: str, tag: str) -> str:
    directory, name = os.path.split(source)
    return os.path.join(directory, "__pycache__", f"{name[:-3]}.{tag}.pyc")


def compile_written(transaction: Transaction, env: TargetEnvironment, reporter: Reporter) -> int:
    roots = [Path(os.path.abspath(p)) for p in (env.paths["purelib"], env.paths["platlib"])]
    prefixes = tuple(str(root).rstrip(os.sep) + os.sep for root in roots)
    tag = env.interpreter.cache_tag
    files = [
        Path(p) for p in transaction.written
        if p.endswith(".py") and p.startswith(prefixes) and not (tag and os.path.exists(pyc_path(p, tag)))
    ]
    reporter.message(f"compiling {len(files)} files to bytecode", "debug")
    return compile_bytecode(files, env)
