"""Acting on a plan, all or nothing: check every wheel, lock, remove, install in parallel, compile."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import InstallError
from ..reporting import NULL_REPORTER, Reporter
from ..settings import DEFAULT_LINK_MODE
from .bytecode import compile_written
from .contents import check_contents
from .cores import cores
from .environment import TargetEnvironment
from .installed import installed_distributions
from .linking import Placer
from .planning import Plan, WantedPackage, plan
from .removal import remove_distribution
from .safety import check_wheel
from .transaction import DEFAULT_LOCK_TIMEOUT, Transaction, environment_lock, open_transaction
from .trees import link_tree, open_tree, precompile_trees
from .wheels import install_wheel

MAX_WORKERS = 8


@dataclass(frozen=True)
class InstallResult:
    """What ``execute`` did."""

    installed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    compiled: int = 0
    seconds: float = 0.0


def execute(
    plan: Plan,
    wheels: Mapping[NormalizedName, Path],
    env: TargetEnvironment,
    *,
    compile_bytecode: bool = True,
    reporter: Reporter = NULL_REPORTER,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    workers: Optional[int] = None,
    link_mode: str = DEFAULT_LINK_MODE,
    trees_compiled: Optional[int] = None,
) -> InstallResult:
    """Carry out ``plan`` all-or-nothing; every wheel is checked before anything is touched.

    ``wheels`` maps each package to a ``.whl`` file or to a tree made by
    ``unpack_wheel`` (the cache's ``unpacked-v1``), whose files are placed by the link mode.
    ``trees_compiled``: the caller already compiled that many files into the trees (a
    CompilePool fed as they were unpacked); they are not looked over again.
    """
    started = time.monotonic()
    jobs = _jobs(plan, wheels)
    _validate_all(jobs, reporter, workers)
    if trees_compiled is not None or not compile_bytecode:
        precompiled = trees_compiled or 0
    else:
        precompiled = precompile_trees([s for _, s in jobs if s.is_dir()], env)
    with environment_lock(env, timeout=lock_timeout, reporter=reporter), open_transaction(env, reporter) as transaction:
        plan = _still_current(plan, env, reporter)
        jobs = _jobs(plan, wheels)
        for dist in plan.to_remove:
            remove_distribution(dist, env, transaction)
        _install_all(jobs, env, transaction, reporter, workers, compile_bytecode, Placer(link_mode))
        compiled = precompiled + (compile_written(transaction, env, reporter) if compile_bytecode else 0)
    return InstallResult(
        installed=tuple(wanted.describe() for wanted, _ in jobs),
        removed=tuple(f"{d.name}=={d.version}" for d in plan.to_remove),
        unchanged=len(plan.unchanged),
        compiled=compiled,
        seconds=time.monotonic() - started,
    )


def _still_current(step: Plan, env: TargetEnvironment, reporter: Reporter) -> Plan:
    """The plan again, under the lock: another install may have changed the environment meanwhile."""
    fresh = plan(step.unchanged + step.changed, env, reinstall=step.reinstall, clean=step.clean)
    if fresh != step:
        reporter.message(f"{env.prefix} changed while waiting for it; the plan was made again", "warning")
    return fresh


def _jobs(plan: Plan, wheels: Mapping[NormalizedName, Path]) -> list[tuple[WantedPackage, Path]]:
    missing = [wanted.name for wanted in plan.wheels_needed if wanted.key not in wheels]
    if missing:
        raise InstallError(
            f"no wheel was provided for {', '.join(missing)}",
            distribution=missing[0],
            hint="if another install changed the environment meanwhile, run the command again",
        )
    return [(wanted, Path(wheels[wanted.key])) for wanted in plan.wheels_needed]


def _pool(count: int, workers: Optional[int]) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(1, min(count, workers or MAX_WORKERS, cores())))


def _check_source(job: tuple[WantedPackage, Path]) -> None:
    """A wheel file is checked in full (a tree was when it was unpacked); then what it holds."""
    wanted, source = job
    if source.is_dir():
        open_tree(source)
    else:
        check_wheel(source)
    check_contents(wanted, source)


def _validate_all(jobs: Sequence[tuple[WantedPackage, Path]], reporter: Reporter, workers: Optional[int]) -> None:
    if not jobs:
        return
    reporter.task_started("validate", len(jobs))
    with _pool(len(jobs), workers) as pool:
        for (wanted, _), _ in zip(jobs, pool.map(_check_source, jobs)):
            reporter.task_advanced("validate", 1, wanted.describe())
    reporter.task_finished("validate")


def _install_all(
    jobs: Sequence[tuple[WantedPackage, Path]],
    env: TargetEnvironment,
    transaction: Transaction,
    reporter: Reporter,
    workers: Optional[int],
    bytecode: bool,
    placer: Placer,
) -> None:
    if not jobs:
        return
    reporter.task_started("install", len(jobs))
    with _pool(len(jobs), workers) as pool:
        futures = [
            (wanted, pool.submit(_install_one, wanted, source, env, transaction, bytecode, placer)) for wanted, source in jobs
        ]
        errors = [exc for _, future in futures if (exc := future.exception()) is not None]
        for wanted, future in futures:
            if future.exception() is None:
                reporter.task_advanced("install", 1, wanted.describe())
    reporter.task_finished("install")
    if errors:
        raise errors[0]


def _install_one(
    wanted: WantedPackage, source: Path, env: TargetEnvironment, transaction: Transaction, bytecode: bool = True,
    placer: Optional[Placer] = None,
) -> None:
    """Install from an unpacked tree (placed by the link mode, with its cached bytecode) or from a wheel file (installer)."""
    if source.is_dir():
        link_tree(wanted, source, env, transaction, bytecode, placer)
    else:
        install_wheel(wanted, source, env, transaction)


def uninstall(
    names: Iterable[str],
    env: TargetEnvironment,
    *,
    reporter: Reporter = NULL_REPORTER,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> tuple[str, ...]:
    """Remove the named distributions (all or none); returns ``name==version`` of each removed."""
    with environment_lock(env, timeout=lock_timeout, reporter=reporter):
        installed = installed_distributions(env)
        chosen = [installed[key] for key in dict.fromkeys(canonicalize_name(n) for n in names) if key in installed]
        with open_transaction(env, reporter) as transaction:
            for dist in chosen:
                remove_distribution(dist, env, transaction)
                reporter.message(f"removed {dist.name}=={dist.version}")
    return tuple(f"{d.name}=={d.version}" for d in chosen)
