"""Removing a distribution through its RECORD (and its bytecode), into the transaction's backup."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..errors import InstallError
from .environment import TargetEnvironment
from .installed import InstalledDistribution
from .transaction import Transaction, prune_dirs


def _record_paths(dist: InstalledDistribution, env: TargetEnvironment) -> list[Path]:
    """Absolute paths a RECORD lists, plus their bytecode; only inside the environment."""
    try:
        with open(dist.record_path, newline="", encoding="utf-8") as fh:
            rows = [row[0] for row in csv.reader(fh) if row]
    except OSError as exc:
        raise InstallError(
            f"cannot uninstall {dist.name}: it has no RECORD ({dist.dist_info})",
            distribution=dist.name,
            hint="it was installed by a tool that does not record its files; remove it by hand",
        ) from exc
    base = dist.dist_info.parent
    paths = [Path(os.path.normpath(base / row)) for row in rows]
    paths += _bytecode_of(paths, env.interpreter.cache_tag)
    roots = [Path(os.path.abspath(p)) for p in (str(env.prefix), *env.paths.values())]
    return [p for p in dict.fromkeys(paths) if any(p.is_relative_to(r) for r in roots)]


def _bytecode_of(paths: Sequence[Path], cache_tag: Optional[str]) -> list[Path]:
    tag = cache_tag or "*"
    found: list[Path] = []
    for path in paths:
        if path.suffix == ".py":
            found.extend(path.parent.glob(f"__pycache__/{path.stem}.{tag}*.pyc"))
    return found


def remove_distribution(dist: InstalledDistribution, env: TargetEnvironment, transaction: Transaction) -> None:
    paths = _record_paths(dist, env)
    for path in paths:
        if path.is_file() or path.is_symlink():
            transaction.stash(path)
    if dist.dist_info.is_dir():
        for leftover in [p for p in dist.dist_info.rglob("*") if p.is_file()]:
            transaction.stash(leftover)
    prune_dirs(path.parent for path in paths)
