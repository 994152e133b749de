"""What Thoth's knowledge costs: sync time, store size, and a warm lock with and without it, side by side.

Takes paths to checkouts of the prescriptions repository and the PyPA advisory
database (docs/knowledge.md says how to get them; nothing of either is in this
repository), then in one run:

- ``sync``     ``thoth-pip prescription sync PATH`` into a fresh knowledge dir (wall time),
               then again with nothing changed, and ``advisories import PATH``;
- ``store``    the size of ``knowledge-v1.sqlite3`` (with its WAL);
- ``lock``     a warm ``thoth-pip lock`` of a project (default: benchmarks/projects/service,
               about 57 packages) with an empty knowledge dir and with the full one,
               interleaved (empty, full, empty, full ...), the lock removed before every run
               and one untimed warm-up each; wall time, CPU time and peak RSS, medians of ``--runs``,
               with the load average before and after;
- ``callgrind`` (``--callgrind``, needs valgrind) the instructions of one warm lock without and with
               the knowledge: a count that load on a shared machine does not change.

Each thoth-pip runs in a subprocess with a private HOME, ``PIP_CONFIG_FILE=/dev/null``,
bytecode written and read as an installed one does, and one shared cache dir (so "warm"
means the index pages and metadata are cached).

    python benchmarks/knowledge.py --prescriptions /tmp/prescriptions --advisories /tmp/advisory-database
        [--project benchmarks/projects/service] [--runs 3] [--work-dir DIR] [--skip-sync] [--callgrind]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
_CPU: list[float] = []


def _env(work: Path) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PIPENV_", "THOTH_PIP_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed thoth-pip runs from bytecode: compiling every run would hide what knowledge costs
    env.update(
        HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"), XDG_CONFIG_HOME=str(home / ".config"),
        PIP_CONFIG_FILE=os.devnull, THOTH_PIP_CACHE_DIR=str(work / "cache"), NO_COLOR="1",
    )
    return env


def _run(args: list[str], env: dict[str, str], cwd: Optional[Path] = None, prefix: tuple[str, ...] = ()) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in MB, stderr) of one ``thoth-pip`` process; exits on failure. Its CPU
    seconds (user + system) go to ``_CPU``: on a loaded machine they say more than the wall clock."""
    with tempfile.TemporaryFile("w+") as said:  # a file, not a pipe: a long report must not block the child
        started = time.perf_counter()
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "micro_thoth", *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=said)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        said.seek(0)
        err = said.read()
    _CPU.append(usage.ru_utime + usage.ru_stime)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"thoth-pip {' '.join(args)} failed:\n{err}")
    return seconds, usage.ru_maxrss // 1024, err


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("knowledge-v1.sqlite3*"))


def _lock(project: Path, knowledge: Path, env: dict[str, str]) -> tuple[float, int, float]:
    (project / "Pipfile.lock").unlink(missing_ok=True)
    seconds, rss, _err = _run(["lock", "-C", str(project), "--knowledge-dir", str(knowledge)], env)
    return seconds, rss, _CPU[-1]


def _instructions(project: Path, knowledge: Path, env: dict[str, str]) -> int:
    """Instructions one warm lock executes (valgrind's callgrind; string hashing seeded so that runs repeat)."""
    (project / "Pipfile.lock").unlink(missing_ok=True)
    prefix = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")
    _s, _r, said = _run(["lock", "-C", str(project), "--knowledge-dir", str(knowledge)], {**env, "PYTHONHASHSEED": "0"}, prefix=prefix)
    main = re.search(r"==(\d+)== Command:", said)  # the lock's own process (those it starts say theirs too)
    found = re.search(rf"=={main.group(1)}== Collected : (\d+)", said) if main else None
    return int(found.group(1)) if found else 0


def _callgrind(project: Path, empty: Path, full: Path, env: dict[str, str]) -> None:
    if shutil.which("valgrind") is None:
        print("callgrind            skipped: valgrind is not installed")
        return
    _lock(project, empty, env)  # the cache fresh: no revalidation inside the counted runs
    without, with_ = _instructions(project, empty, env), _instructions(project, full, env)
    print(f"instructions (callgrind, one warm lock): without {without / 1e9:.3f} G, with {with_ / 1e9:.3f} G, "
          f"+{(with_ - without) / 1e6:.0f} M, {with_ / max(without, 1):.3f}x")


def _sync(options: argparse.Namespace, full: Path, env: dict[str, str]) -> None:
    sync, sync_rss, said = _run(["prescription", "sync", str(options.prescriptions), "--knowledge-dir", str(full)], env)
    print(f"sync (full)          {sync:8.1f} s   peak RSS {sync_rss} MB   {said.strip().splitlines()[-1]}", flush=True)
    resync, _rss, _ = _run(["prescription", "sync", str(options.prescriptions), "--knowledge-dir", str(full)], env)
    print(f"re-sync (unchanged)  {resync:8.1f} s", flush=True)
    imported, _rss, _ = _run(["advisories", "import", str(options.advisories), "--knowledge-dir", str(full)], env)
    print(f"advisories import    {imported:8.1f} s", flush=True)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prescriptions", type=Path, required=True, help="A checkout of the prescriptions repository.")
    parser.add_argument("--advisories", type=Path, required=True, help="A checkout of the PyPA advisory database.")
    parser.add_argument("--project", type=Path, default=ROOT / "benchmarks" / "projects" / "service")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--skip-sync", action="store_true", help="Reuse the work dir's synced knowledge (lock timings only).")
    parser.add_argument("--callgrind", action="store_true", help="Also count one warm lock's instructions with valgrind, without and with the knowledge.")
    options = parser.parse_args(argv)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="thoth-pip-knowledge-bench-"))
    env = _env(work)
    full, empty = work / "knowledge-full", work / "knowledge-empty"
    shutil.rmtree(empty, ignore_errors=True)
    empty.mkdir(parents=True)
    if not options.skip_sync:
        shutil.rmtree(full, ignore_errors=True)
        _sync(options, full, env)
    print(f"store size           {_size(full) / 1e6:8.1f} MB", flush=True)

    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    shutil.copy(options.project / "Pipfile", project / "Pipfile")
    _lock(project, empty, env)  # warm-up: fills the cache
    _lock(project, full, env)
    load_before = os.getloadavg()[0]
    times: dict[str, list[tuple[float, int, float]]] = {"without": [], "with": []}
    for _ in range(options.runs):
        times["without"].append(_lock(project, empty, env))
        times["with"].append(_lock(project, full, env))
    median = {k: statistics.median(s for s, _r, _c in v) for k, v in times.items()}
    rss = {k: statistics.median(r for _s, r, _c in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _s, _r, c in v) for k, v in times.items()}
    for key in ("without", "with"):
        runs = ", ".join(f"{s:.2f}" for s, _r, _c in times[key])
        print(f"warm lock {key:8} knowledge  median {median[key]:6.2f} s wall ({runs}), {cpu[key]:.2f} s CPU, peak RSS {rss[key]:.0f} MB")
    print(f"overhead: {median['with'] / median['without']:.3f}x wall, {cpu['with'] / cpu['without']:.3f}x CPU, "
          f"{rss['with'] - rss['without']:+.0f} MB RSS "
          f"(project {options.project.name}, {options.runs} interleaved runs, {os.cpu_count()} CPUs, "
          f"load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
    if options.callgrind:
        _callgrind(project, empty, full, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
