"""The Dependency Monkey's lab: stacks resolved with pins, installed into throwaway venvs, tested, remembered.

Each stack is installed from the cache into a new venv, where the test
command runs with a timeout (its process group killed on timeout or
interrupt). Results are kept in the knowledge store by (command, Python,
stack), so an interrupted or repeated run resumes instead of re-testing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from .. import install
from ..environment import interpreter
from ..errors import InputFileError, ResolutionError, ThothPipError, UsageError
from ..models import Dependency, Pipfile
from ..reporting import NULL_REPORTER
from ..resolve import Resolution, resolve
from ..settings import Settings
from . import lockfile
from .inputs import load_pipfile
from .lock import DEFAULT_REQUEST, lock_target
from .project import ProjectFiles, discover
from .services import Services, open_services
from .sync import install_lock

STRATEGIES = ("newest", "oldest", "sample", "bisect")
SAMPLE_VERSIONS = 30  # newest releases per package a sample draws from
RUNS = "monkey-runs-v1"  # store namespace: run key -> Run JSON
SESSIONS = "monkey-sessions-v1"  # store namespace: (project, command) -> run keys, oldest first
EXCERPT_CHARS = 2000


@dataclass(frozen=True)
class MonkeyRequest:
    """What to test and how hard to try."""

    command: str
    budget: int = 10  # stacks installed and tested in this run (results from the store are free)
    strategy: str = "bisect"
    packages: tuple[str, ...] = ()  # the packages whose versions may vary (default: every one)
    jobs: int = 1
    timeout: float = 300.0  # per test run
    max_time: float = 1800.0  # for the whole run
    seed: int = 0
    prescriptions: bool = True

    def check(self) -> None:
        if not self.command.strip():
            raise UsageError("say what to run in each stack: --test 'python -c \"import pkg\"'")
        if self.strategy not in STRATEGIES:
            raise UsageError(f"--strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.budget < 1 or self.jobs < 1 or self.timeout <= 0 or self.max_time <= 0:
            raise UsageError("--budget, --jobs, --timeout and --max-time must be positive")


@dataclass(frozen=True)
class Stack:
    """One resolved stack: (name, version) pairs sorted by name."""

    pins: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, versions: Mapping[str, str]) -> Stack:
        return cls(tuple(sorted((canonicalize_name(n), v) for n, v in versions.items())))

    @property
    def versions(self) -> dict[str, str]:
        return dict(self.pins)

    def describe(self) -> str:
        return " ".join(f"{n}=={v}" for n, v in self.pins)


@dataclass(frozen=True)
class Run:
    """One stack tested: passed or not, how long, what it printed (the tail)."""

    stack: Stack
    passed: bool
    seconds: float
    excerpt: str
    at: str
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack.versions, "passed": self.passed, "seconds": round(self.seconds, 3),
                "excerpt": self.excerpt, "at": self.at, "reused": self.reused}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        return cls(Stack.of(data["stack"]), bool(data["passed"]), float(data["seconds"]), str(data["excerpt"]),
                   str(data["at"]), reused=True)


@dataclass
class Lab:
    """Resolves stacks, runs them (in parallel, within budget and time), remembers the results."""

    settings: Settings
    services: Services
    files: ProjectFiles
    pipfile: Pipfile
    request: MonkeyRequest
    source: Any
    target: Any
    started: float = field(default_factory=time.monotonic)
    spent: int = 0
    unresolvable: int = 0
    interrupted: bool = False
    runs: dict[Stack, Run] = field(default_factory=dict)
    _resolutions: dict[Stack, Resolution] = field(default_factory=dict)
    _procs: set[subprocess.Popen[str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- stacks ------------------------------------------------------------------------------
    @property
    def dependencies(self) -> list[Dependency]:
        return list(self.pipfile.categories.get("default", ()))

    def resolve(self, pins: Mapping[str, str]) -> Optional[Stack]:
        """The stack with ``pins`` (name -> version) imposed, or None if no such stack resolves."""
        constraints = [Dependency(name, f"=={version}") for name, version in sorted(pins.items())]
        try:
            resolution = resolve(self.dependencies, source=self.source, target=self.target, constraints=constraints)
        except ResolutionError:
            self.unresolvable += 1
            return None
        stack = _stack_of(resolution)
        self._resolutions.setdefault(stack, resolution)
        return stack

    def versions(self, name: str) -> list[str]:
        """Final releases of ``name`` the Pipfile admits, newest first (the newest SAMPLE_VERSIONS)."""
        specifier = _specifier_of(self.dependencies, name)
        page = self.source.project(canonicalize_name(name))
        found = sorted((v for v in page.versions() if not v.is_prerelease and specifier.contains(v)), reverse=True)
        return [str(v) for v in found[:SAMPLE_VERSIONS]]

    # -- runs --------------------------------------------------------------------------------
    def out_of_budget(self) -> bool:
        late = time.monotonic() - self.started > self.request.max_time
        return self.interrupted or late or self.spent >= self.request.budget

    def test(self, pins: Mapping[str, str]) -> Optional[bool]:
        """Resolve and run one stack: True/False, or None (unresolvable, or out of budget)."""
        stack = self.resolve(pins)
        if stack is None:
            return None
        done = self.run_all([stack])
        return done[0].passed if done else None

    def run_all(self, stacks: Iterable[Stack]) -> list[Run]:
        """Run each new stack (known ones come from the store), up to ``jobs`` at once."""
        stacks = list(stacks)
        todo: list[Stack] = []
        for stack in dict.fromkeys(stacks):
            known = self.runs.get(stack) or self._remembered(stack)
            if known is not None:
                self.runs[stack] = known
            elif not self.out_of_budget() and self.spent + len(todo) < self.request.budget:
                todo.append(stack)
        self.spent += len(todo)
        try:
            with ThreadPoolExecutor(max_workers=self.request.jobs) as pool:
                for run in pool.map(self._run_one, todo):
                    self._keep(run)
        except KeyboardInterrupt:
            self.interrupted = True
            self._kill_all()
        return [self.runs[s] for s in stacks if s in self.runs]

    def _run_one(self, stack: Stack) -> Run:
        self.services.reporter.message(f"monkey: testing {stack.describe()}", "info")
        with tempfile.TemporaryDirectory(prefix="thoth-monkey-") as scratch:
            started = time.monotonic()
            try:
                venv = self._install(stack, Path(scratch) / "venv")
            except ThothPipError as exc:
                return _run(stack, False, time.monotonic() - started, f"install failed: {exc.message}")
            passed, output = self._command(venv)
            return _run(stack, passed, time.monotonic() - started, output)

    def _install(self, stack: Stack, venv: Path) -> Path:
        """The stack into a new venv, from the cache where it can (its own services: one per thread)."""
        resolution = self._resolutions[stack]
        lock = lockfile.build_lock(self.pipfile, {"default": resolution}, self.pipfile.sources)
        python = str(self.target_python())
        install.ensure_venv(venv, python, cache_dir=self.services.cache.root)
        settings = replace(self.settings, virtual_env=venv, ignore_virtualenvs=False, system=False,
                           dry_run=False, deploy=False, dev=False, categories=())
        with open_services(settings, self.services.environ, NULL_REPORTER) as services:
            install_lock(lock, self.pipfile, self.files, settings, services, time.monotonic())
        return venv

    def target_python(self) -> Path:
        return interpreter.find_python(self.settings.python) if self.settings.python else Path(sys.executable)

    def _command(self, venv: Path) -> tuple[bool, str]:
        env = dict(self.services.environ, VIRTUAL_ENV=str(venv),
                   PATH=os.pathsep.join([str(venv / "bin"), self.services.environ.get("PATH", os.defpath)]))
        env.pop("PYTHONHOME", None)
        proc = subprocess.Popen(self.request.command, shell=True, cwd=self.settings.project_dir, env=env, text=True,
                                errors="replace", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with self._lock:
            self._procs.add(proc)
        try:
            output, _ = proc.communicate(timeout=self.request.timeout)
            return proc.returncode == 0, output.replace(str(venv), "<venv>")[-EXCERPT_CHARS:]
        except subprocess.TimeoutExpired:
            _kill(proc)
            output, _ = proc.communicate()
            return False, (output or "")[-EXCERPT_CHARS:] + f"\n[timed out after {self.request.timeout:g}s]"
        finally:
            with self._lock:
                self._procs.discard(proc)

    def _kill_all(self) -> None:
        with self._lock:
            for proc in list(self._procs):
                _kill(proc)

    # -- the store -----------------------------------------------------------------------------
    def _key(self, stack: Stack) -> str:
        text = "\n".join([self.request.command, self.target.python_full_version, stack.describe()])
        return hashlib.sha256(text.encode()).hexdigest()

    def session_key(self) -> str:
        text = f"{self.settings.project_dir.resolve()}\n{self.request.command}"
        return hashlib.sha256(text.encode()).hexdigest()

    def _remembered(self, stack: Stack) -> Optional[Run]:
        text = self.services.store.get_value(RUNS, self._key(stack))
        return Run.from_dict(json.loads(text)) if text else None

    def _keep(self, run: Run) -> None:
        self.runs[run.stack] = run
        store = self.services.store
        store.put_value(RUNS, self._key(run.stack), json.dumps(run.to_dict(), sort_keys=True))
        keys = self.session_runs()
        store.put_value(SESSIONS, self.session_key(), json.dumps([*keys, self._key(run.stack)]))

    def session_runs(self) -> list[str]:
        text = self.services.store.get_value(SESSIONS, self.session_key())
        return list(json.loads(text)) if text else []

    def history(self) -> list[Run]:
        """Every run of this project's command, from the store (this run's included), oldest first."""
        found = [self.services.store.get_value(RUNS, key) for key in dict.fromkeys(self.session_runs())]
        earlier = [Run.from_dict(json.loads(t)) for t in found if t]
        fresh = {r.stack: r for r in self.runs.values() if not r.reused}
        return [fresh.get(r.stack, r) for r in earlier] + [r for s, r in self.runs.items()
                                                           if s not in {e.stack for e in earlier}]


def _run(stack: Stack, passed: bool, seconds: float, output: str) -> Run:
    return Run(stack, passed, seconds, output[-EXCERPT_CHARS:], datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _stack_of(resolution: Resolution) -> Stack:
    return Stack.of({str(pin.name): str(pin.version) for pin in resolution.pins.values()})


def _specifier_of(dependencies: Sequence[Dependency], name: str) -> SpecifierSet:
    for dep in dependencies:
        if dep.key == canonicalize_name(name) and dep.specifier not in ("", "*"):
            try:
                return SpecifierSet(dep.specifier)
            except InvalidSpecifier:
                break
    return SpecifierSet()


def open_lab(settings: Settings, services: Services, request: MonkeyRequest) -> Lab:
    files = discover(settings)
    pipfile = load_pipfile(files, services)
    if pipfile is None or not pipfile.categories.get("default"):
        raise InputFileError("the monkey tests the Pipfile's [packages]; there are none here",
                             path=str(settings.pipfile_path), hint="add packages with `thoth-pip install PACKAGE`")
    _selected, target = lock_target(services, DEFAULT_REQUEST, pipfile.requires)
    source = services.index_client(pipfile.sources, pinned=lockfile.pinned_indexes(pipfile.categories))
    return Lab(settings, services, files, pipfile, request, source, target)
