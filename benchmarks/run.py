"""Benchmark thoth-pip against pipenv, micropipenv, pip-tools and uv on real projects.

Two benchmarks, each run *interleaved* (A B C D A B C D ...) so that network and
machine noise falls on every tool alike:

- ``install``: the same Pipfile.lock (made once, at run time) installed into a fresh
  virtualenv by ``thoth-pip sync --deploy``, ``micropipenv install --deploy``,
  ``pipenv sync`` and ``uv pip sync --compile-bytecode`` (on the lock exported to a
  hashed requirements.txt); *cold* (empty tool cache) and *warm* (cache filled by the
  cold run just before).
- ``lock``: the same Pipfile locked by ``thoth-pip lock``, ``pipenv lock``,
  ``pip-compile --generate-hashes`` and ``uv pip compile --generate-hashes`` (the last
  two on the Pipfile's packages written as a requirements.in); cold and warm, the
  previous output removed before every run.

Every tool runs in its own virtualenv under the work directory with a private HOME and
cache directories, ``PIP_CONFIG_FILE=/dev/null``, ``UV_NO_CONFIG=1`` and no inherited
``PIP_*``/``UV_*``/``PIPENV_*`` variables, so this machine's pip configuration plays no
part (benchmarks/workspace.py). Creating the fresh target virtualenv is not timed. Times
are wall clock (``time.perf_counter``) around the tool's process.

    python benchmarks/run.py [--only install|lock] [--project medium --project large]
        [--runs 3] [--tools thoth-pip uv ...] [--work-dir DIR] [--lock-with pipenv|thoth-pip]
        [--fresh-fs tmpfs|ext4] [--link-modes copy hardlink]

``--fresh-fs`` puts every tool's caches and project copies (so its target environment) on a
file system new for each round (benchmarks/freshfs.py), so that the disk's history does not
decide the ratios. ``--link-modes`` adds, for thoth-pip and uv (and their ``-nocompile``
rows), runs with ``--link-mode copy`` / ``hardlink`` on both sides: rows named
``<tool>-copy``, ``<tool>-hardlink``, each compared with uv's row of the same name.

Prints a table of medians (min/max) and ratios peer/thoth-pip (above 1: thoth-pip is
faster) and writes it as Markdown to benchmarks/results/latest.md.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from freshfs import KINDS as FRESH_FS_KINDS
from freshfs import FreshFs
from report import (
    EXTRA_INSTALL_TOOLS,
    LINK_MODES,
    Measure,
    Results,
    family,
    markdown,
    summary_rows,
    text_table,
    variant_link_mode,
)
from workspace import (
    ROOT,
    Workspace,
    bin_path,
    install_tools,
    isolated_environ,
    make_venv,
    must_run,
)

try:
    import tomllib
except ImportError:  # Python < 3.11: the project's own dependency reads TOML too
    import tomlkit as tomllib  # type: ignore[no-redef]

PROJECTS = ROOT / "benchmarks" / "projects"
RESULTS = ROOT / "benchmarks" / "results"

INSTALL_TOOLS = ("thoth-pip", "micropipenv", "pipenv", "uv")
LOCK_TOOLS = ("thoth-pip", "pipenv", "pip-tools", "uv")


# --------------------------------------------------------------------------- projects and locks


def pipfile_requirements(pipfile: Path) -> list[str]:
    """The Pipfile's [packages] as requirement lines (for pip-compile and uv pip compile)."""
    with pipfile.open("rb") as fh:
        data = tomllib.load(fh)
    return [requirement_line(name, spec) for name, spec in data.get("packages", {}).items()]


def requirement_line(name: str, spec: object) -> str:
    """One Pipfile entry (``"*"``, a specifier, or a table with version/extras/markers) as a requirement."""
    if isinstance(spec, str):
        return name if spec == "*" else f"{name}{spec}"
    table = dict(spec)  # type: ignore[call-overload]
    extras = f"[{','.join(table['extras'])}]" if table.get("extras") else ""
    version = table.get("version", "*")
    markers = f"; {table['markers']}" if table.get("markers") else ""
    return f"{name}{extras}{'' if version == '*' else version}{markers}"


def lock_to_requirements(lock: dict[str, Any]) -> str:
    """The lock's default section as a hashed requirements.txt (what ``pipenv requirements --hash`` writes)."""
    lines = []
    for name, entry in sorted(lock.get("default", {}).items()):
        line = f"{name}{entry['version']}"
        if entry.get("markers"):
            line += f" ; {entry['markers']}"
        hashes = "".join(f" \\\n    --hash={h}" for h in entry.get("hashes", []))
        lines.append(line + hashes)
    return "\n".join(lines) + "\n"


def with_sources(pipfile: str, lock: dict[str, Any]) -> str:
    """The Pipfile with the lock's sources written out when it has none.

    pipenv hashes a Pipfile without ``[[source]]`` as if the default index were
    declared; micropipenv needs the declaration (it fails on a missing ``source``), so
    every install tool gets the explicit form. The hash stays the same.
    """
    if "[[source]]" in pipfile:
        return pipfile
    blocks = [
        f'[[source]]\nname = "{s["name"]}"\nurl = "{s["url"]}"\nverify_ssl = {str(s["verify_ssl"]).lower()}\n'
        for s in lock["_meta"].get("sources", [])
    ]
    return "\n".join(blocks) + "\n" + pipfile


def prepare_project(project: str, target: Path, files: dict[str, str]) -> None:
    """``target`` holds a fresh copy of the project's Pipfile plus ``files``; no venv, no lock."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy2(PROJECTS / project / "Pipfile", target / "Pipfile")
    for name, text in files.items():
        (target / name).write_text(text)


def make_lock(workspace: Workspace, project: str, lock_with: str, timeout: float) -> dict[str, str]:
    """Lock the project once (with pipenv or thoth-pip); the files every install tool starts from."""
    where = workspace.root / "locks" / project
    prepare_project(project, where, {})
    env, log = isolated_environ(workspace, lock_with), workspace.log(f"lock-{project}-{lock_with}.log")
    if lock_with == "pipenv":
        make_venv(workspace.python, where / ".venv", with_pip=True, env=env, log=log)
        must_run([bin_path(workspace.tool_venv("pipenv"), "pipenv"), "lock"], cwd=where, env=env, log=log, timeout=timeout)
    else:
        must_run([bin_path(workspace.tool_venv("thoth-pip"), "thoth-pip"), "lock", "-C", where], cwd=where, env=env, log=log, timeout=timeout)
    lock_text = (where / "Pipfile.lock").read_text()
    return {
        "Pipfile": with_sources((where / "Pipfile").read_text(), json.loads(lock_text)),
        "Pipfile.lock": lock_text,
        "requirements.txt": lock_to_requirements(json.loads(lock_text)),
    }


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Step:
    """One timed command: how to prepare its directory, then what to run there."""

    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    prepare: Callable[[], None]


def install_step(workspace: Workspace, tool: str, project: str, files: dict[str, str]) -> Step:
    """Install the project's lock into a fresh ``.venv`` of a fresh copy of the project."""
    where = workspace.project_dir("install", project, tool)
    env, venv = isolated_environ(workspace, tool), where / ".venv"
    tools, link = workspace.tool_venv(family(tool)), variant_link_mode(tool)
    uv_sync = [bin_path(tools, "uv"), "pip", "sync", "--python", bin_path(venv, "python"),
               "--cache-dir", workspace.cache(tool) / "uv", "requirements.txt"]
    thoth_sync = [bin_path(tools, "thoth-pip"), "sync", "--deploy", "-C", where]
    linked = ["--link-mode", link] if link else []
    compiled = "-nocompile" not in tool
    cmds = {
        "thoth-pip": [*thoth_sync, *linked, *([] if compiled else ["--no-compile"])],
        "micropipenv": [bin_path(tools, "micropipenv"), "install", "--deploy"],
        "pipenv": [bin_path(tools, "pipenv"), "sync"],
        "uv": [*uv_sync, *linked, *(["--compile-bytecode"] if compiled else [])],
    }
    if tool == "micropipenv":
        env["MICROPIPENV_PIP_BIN"] = str(bin_path(venv, "pip"))
    with_pip = tool in ("micropipenv", "pipenv")  # they run pip inside the target environment

    def prepare() -> None:
        prepare_project(project, where, files)
        make_venv(workspace.python, venv, with_pip=with_pip, env=env, log=workspace.log(f"venv-{tool}.log"))

    return Step([str(c) for c in cmds[family(tool)]], where, env, prepare)


def lock_step(workspace: Workspace, tool: str, project: str) -> Step:
    """Lock a fresh copy of the project's Pipfile (or its requirements.in) from scratch."""
    where = workspace.project_dir("lock", project, tool)
    env, tools = isolated_environ(workspace, tool), workspace.tool_venv(tool)
    files = {"requirements.in": "\n".join(pipfile_requirements(PROJECTS / project / "Pipfile")) + "\n"}
    cmds = {
        "thoth-pip": [bin_path(tools, "thoth-pip"), "lock", "-C", where],
        "pipenv": [bin_path(tools, "pipenv"), "lock"],
        "pip-tools": [bin_path(tools, "pip-compile"), "--generate-hashes", "-o", "requirements.txt", "requirements.in"],
        "uv": [bin_path(tools, "uv"), "pip", "compile", "--generate-hashes", "--python", workspace.python,
               "--cache-dir", workspace.cache("uv") / "uv", "-o", "requirements.txt", "requirements.in"],
    }

    def prepare() -> None:
        keep_venv = tool == "pipenv" and (where / ".venv").exists()
        if keep_venv:  # pipenv locks inside the project's virtualenv; creating it is not the lock's work
            for name in ("Pipfile", "Pipfile.lock"):
                (where / name).unlink(missing_ok=True)
            shutil.copy2(PROJECTS / project / "Pipfile", where / "Pipfile")
            return
        prepare_project(project, where, files)
        if tool == "pipenv":
            make_venv(workspace.python, where / ".venv", with_pip=True, env=env, log=workspace.log("venv-pipenv.log"))

    return Step([str(c) for c in cmds[tool]], where, env, prepare)


# --------------------------------------------------------------------------- timing


def clear_cache(workspace: Workspace, tool: str) -> None:
    """Empty every cache the tool keeps (its private XDG cache dir holds them all)."""
    shutil.rmtree(workspace.cache(tool), ignore_errors=True)


def run_measured(cmd: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float) -> Measure:
    """Run ``cmd`` with its output appended to ``log``; ``os.wait4`` gives this child's own rusage
    (its waited-for descendants included), so concurrent work elsewhere is not counted."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}   (cwd {cwd})\n")
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C, SIGTERM: the tool must not outlive us (nor keep a mount busy)
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        code = 124 if proc.returncode == -signal.SIGKILL else proc.returncode
        if code == 124:
            out.write(f"\n!!! timed out after {timeout}s\n")
    return Measure(code, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def timed(step: Step, log: Path, timeout: float) -> Measure:
    """Prepare (untimed), then run the step's command, measured."""
    step.prepare()
    return run_measured(step.cmd, cwd=step.cwd, env=step.env, log=log, timeout=timeout)


def interleaved(tools: Sequence[str], runs: int, modes: Sequence[str]) -> Iterator[tuple[int, str, str]]:
    """(run, mode, tool): every tool cold, then every tool warm (then no-op), run after run."""
    for run in range(1, runs + 1):
        for mode in modes:
            for tool in tools:
                yield run, mode, tool


def bench(workspace: Workspace, results: Results, benchmark: str, project: str,
          tools: Sequence[str], make_step: Callable[[str], Step], args: argparse.Namespace,
          fresh: Optional[FreshFs] = None) -> None:
    """Run one benchmark on one project, interleaved, recording times and failures.

    ``noop`` (install only) runs the tool's install command again on the environment its warm
    run has just made: what a sync with nothing to do costs. With ``fresh``, each tool's cold
    run starts on a new file system that its warm and no-op runs then share."""
    modes = ("cold", "warm", "noop") if benchmark == "install" else ("cold", "warm")
    try:
        for run, mode, tool in interleaved(tools, args.runs, modes):
            if mode == "cold" and fresh is not None:
                workspace.mounts[tool] = fresh.acquire(tool)
            if mode == "cold":
                clear_cache(workspace, tool)
            bench_one(workspace, results, (benchmark, project, mode, tool), run, make_step, args)
    finally:
        if fresh is not None:
            fresh.close()
            workspace.mounts.clear()


def bench_one(workspace: Workspace, results: Results, key: tuple[str, str, str, str], run: int,
              make_step: Callable[[str], Step], args: argparse.Namespace) -> None:
    """One timed run of one tool in one cache state, printed and recorded."""
    benchmark, project, mode, tool = key
    log = workspace.log(f"{benchmark}-{project}-{tool}-{mode}-{run}.log")
    log.unlink(missing_ok=True)
    step = make_step(tool)
    if mode == "noop":
        step = Step(step.cmd, step.cwd, step.env, lambda: None)
    measure = timed(step, log, args.timeout)
    load = os.getloadavg()[0]
    results.load.append(load)
    status = "ok" if measure.code == 0 else f"FAILED (exit {measure.code}, see {log})"
    print(f"  {benchmark:7} {project:7} run {run} {mode:4} {tool:28} {measure.wall:8.2f}s  cpu {measure.cpu:7.2f}s"
          f"  rss {measure.rss_mb:6.0f} MB  load {load:5.2f}  {status}", flush=True)
    if measure.code == 0:
        results.add((benchmark, project, mode, tool), measure)
    else:
        results.failures.append(f"{benchmark} {project} {mode} {tool} run {run}: exit {measure.code}, log {log}")


def context_lines(workspace: Workspace, versions: dict[str, str], args: argparse.Namespace,
                  packages: dict[str, int], load: list[float], filesystem: str) -> dict[str, object]:
    """When, where and with what the numbers were measured."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": subprocess.run([workspace.python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=False).stdout.strip(),
        "thoth-pip": versions.get("thoth-pip", "?"),
        "peers": ", ".join(f"{t} {v}" for t, v in sorted(versions.items()) if t != "thoth-pip"),
        "runs": args.runs,
        "load average (1 min) after each run": (f"median {statistics.median(load):.1f}, max {max(load):.1f}"
                                                 if load else "n/a"),
        "locked packages": ", ".join(f"{p}: {n}" for p, n in packages.items()) or "n/a",
        "lock made with": args.lock_with,
        "bytecode": "compiled by every install tool (uv with --compile-bytecode); *-nocompile rows skip it",
        "link mode": ("each tool's default; *-copy / *-hardlink rows give --link-mode to both thoth-pip and uv"),
        "environments and caches on": filesystem,
        "load note": "a shared machine: medians of interleaved runs; CPU ratios are the steadier figure",
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("install", "lock"), help="run one benchmark (default: both)")
    parser.add_argument("--project", action="append", choices=sorted(p.name for p in PROJECTS.iterdir()),
                        help="project(s) to use (default: medium and large)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per tool and cache state")
    parser.add_argument("--tools", nargs="+", choices=sorted(set(INSTALL_TOOLS + LOCK_TOOLS + EXTRA_INSTALL_TOOLS)),
                        help="tools to compare (default: all of the benchmark's)")
    parser.add_argument("--work-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "thoth-pip-bench")
    parser.add_argument("--python", default=getattr(sys, "_base_executable", sys.executable),
                        help="interpreter of the target environments and tool virtualenvs")
    parser.add_argument("--lock-with", choices=("pipenv", "thoth-pip"), default="pipenv",
                        help="tool that makes the lock the install benchmark uses")
    parser.add_argument("--reinstall-tools", action="store_true", help="recreate the tools' virtualenvs")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds before a run counts as failed")
    parser.add_argument("--fresh-fs", choices=FRESH_FS_KINDS,
                        help="put each tool's caches and environments on a new tmpfs / loop-mounted ext4 image "
                             "every round (needs root; falls back to plain directories, saying so)")
    parser.add_argument("--link-modes", nargs="+", choices=LINK_MODES, default=[],
                        help="also run thoth-pip and uv install rows with --link-mode MODE on both sides")
    return parser.parse_args(argv)


def selected(tools: Optional[Sequence[str]], candidates: Sequence[str], link_modes: Sequence[str] = ()) -> list[str]:
    """The requested tools this benchmark knows, thoth-pip first, in a stable order; for the
    install benchmark, each chosen thoth-pip/uv row again with every link mode of ``link_modes``."""
    chosen = [t for t in candidates if tools is None or t in tools]
    if candidates is not INSTALL_TOOLS:
        return chosen
    chosen += [t for t in EXTRA_INSTALL_TOOLS if tools and t in tools]
    linked = [f"{t}-{m}" for m in link_modes for t in chosen if family(t) in ("thoth-pip", "uv") and not variant_link_mode(t)]
    return chosen + [t for t in linked if t not in chosen]


def stop_on_sigterm() -> None:
    """SIGTERM (and SIGINT, which background jobs ignore) end the runs early with a report."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    projects = args.project or ["medium", "large"]
    benchmarks = [args.only] if args.only else ["install", "lock"]
    install_tools_ = selected(args.tools, INSTALL_TOOLS, args.link_modes) if "install" in benchmarks else []
    lock_tools = selected(args.tools, LOCK_TOOLS) if "lock" in benchmarks else []
    needed = {family(t) for t in install_tools_ + lock_tools} | ({args.lock_with} if install_tools_ else set())
    workspace = Workspace(args.work_dir.resolve(), args.python)
    workspace.root.mkdir(parents=True, exist_ok=True)
    print(f"work directory {workspace.root}; setting up {', '.join(sorted(needed))}", flush=True)
    versions = install_tools(workspace, needed, reinstall=args.reinstall_tools)
    results, packages = Results(), {}
    fresh = FreshFs(args.fresh_fs, workspace.root / "fresh") if args.fresh_fs else None
    try:
        for project in projects:
            if install_tools_:
                files = make_lock(workspace, project, args.lock_with, args.timeout)
                packages[project] = len(json.loads(files["Pipfile.lock"]).get("default", {}))
                print(f"{project}: {packages[project]} locked packages", flush=True)
                install = functools.partial(install_step, workspace, project=project, files=files)
                bench(workspace, results, "install", project, install_tools_, install, args, fresh)
            if lock_tools:
                lock = functools.partial(lock_step, workspace, project=project)
                bench(workspace, results, "lock", project, lock_tools, lock, args, fresh)
    except KeyboardInterrupt:  # report what was measured so far
        results.failures.append("interrupted: the runs after this point were not made")
    finally:
        if fresh is not None:  # bench() closes it too; this covers an interrupt between benchmarks
            fresh.close()
    filesystem = fresh.description if fresh else "the work directory's file system (no --fresh-fs)"
    rows = summary_rows(results)
    print("\n" + text_table(rows))
    for failure in results.failures:
        print("FAILED:", failure)
    RESULTS.mkdir(parents=True, exist_ok=True)
    page = markdown(rows, context_lines(workspace, versions, args, packages, results.load, filesystem), results.failures)
    (RESULTS / "latest.md").write_text(page)
    raw = {"|".join(k): {"wall": v, "cpu": results.cpu[k], "rss_mb": results.rss[k]} for k, v in results.times.items()}
    (RESULTS / "latest.json").write_text(json.dumps(raw, indent=2))
    print(f"\nwritten to {RESULTS / 'latest.md'}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
