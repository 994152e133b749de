"""Installing into an environment: plan first (data, printable), then act with pypa/installer.

    environment.py  the environment: interpreter, scheme paths, lock file; venv creation
    installed.py    its ``*.dist-info`` directories as frozen values
    planning.py     wanted pins vs installed -> Plan (unchanged / new / replaced / extraneous)
    safety.py       refusing hostile wheels; checked one-pass unpacking
    transaction.py  the environment's lock, and undo (backups of what was removed or overwritten)
    removal.py      removing a distribution through its RECORD
    wheels.py       writing a wheel file with installer
    staging.py      where wheels are unpacked: a staging directory in the environment (clone,
                    copy: each file created once) or the cache's trees (hardlink, symlink)
    stored.py       the cache's uncompressed copies of wheels and bytecode, copied out by the kernel
    trees.py        placing unpacked trees (staged or cached) into the environment by the link mode
    bytecode.py     compiling with the target interpreter (in one batch, or a pool fed tree by tree)
    cores.py        the processors the CPU-bound pools may use
    actions.py      execute() and uninstall(): all or nothing

``installer`` is imported in this package and nowhere else.
"""

from __future__ import annotations

from .actions import MAX_WORKERS, InstallResult, execute, uninstall
from .bytecode import CompilePool, compile_bytecode, compile_pool
from .cores import cores
from .environment import (
    LOCK_NAME,
    TargetEnvironment,
    ensure_venv,
    environment_for,
    system_environment,
)
from .installed import InstalledDistribution, installed_distributions
from .planning import PROTECTED, Plan, WantedPackage, direct_url_data, plan
from .safety import BOMB_FLOOR, BOMB_RATIO, check_wheel, unpack_wheel
from .staging import STAGED_MODES, CacheTrees, Staging, unpacking_for
from .transaction import DEFAULT_LOCK_TIMEOUT, environment_lock
from .trees import missing_bytecode, precompile_trees, unpacked_tree, unpacked_trees
from .wheels import INSTALLER_NAME

__all__ = [
    "BOMB_FLOOR",
    "BOMB_RATIO",
    "DEFAULT_LOCK_TIMEOUT",
    "INSTALLER_NAME",
    "LOCK_NAME",
    "MAX_WORKERS",
    "PROTECTED",
    "STAGED_MODES",
    "CacheTrees",
    "CompilePool",
    "InstallResult",
    "InstalledDistribution",
    "Plan",
    "Staging",
    "TargetEnvironment",
    "WantedPackage",
    "check_wheel",
    "compile_bytecode",
    "compile_pool",
    "cores",
    "direct_url_data",
    "ensure_venv",
    "environment_for",
    "environment_lock",
    "execute",
    "installed_distributions",
    "missing_bytecode",
    "plan",
    "precompile_trees",
    "system_environment",
    "uninstall",
    "unpack_wheel",
    "unpacked_tree",
    "unpacked_trees",
    "unpacking_for",
]
