"""``thoth-pip monkey``: Dependency Monkey -- generate stacks, test them, isolate what broke, prescribe it.

Strategies over stacks within the Pipfile's specifiers: ``newest``; ``oldest``
(lowest-direct: each direct package at its lowest admitted release, as uv's
``--resolution lowest-direct``); ``sample`` (both, then random pins across the
state space); ``bisect`` (a passing and a failing stack, then mixtures of
the two to isolate the release that breaks, then whether it breaks only with
one release of another package). A finding is written as a local
prescription (``.thoth/prescriptions/monkey-*.yaml``): a sieve for a single
bad release, a ``step.Group`` for a pair; the next lock honours it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from packaging.version import Version

from ..fs import atomic_write
from ..guidance.findings import Finding, unit_text
from ..knowledge.locations import project_dir as project_prescriptions
from ..reporting import Reporter
from ..settings import Settings
from .monkey_lab import Lab, MonkeyRequest, Run, Stack, open_lab
from .services import open_services

Pins = dict[str, str]
SAMPLE_TRIES = 10  # resolutions tried for one new random stack


@dataclass(frozen=True)
class MonkeyOutcome:
    """Every run of this project's command (earlier ones too), the findings and the files written."""

    command: str
    strategy: str
    runs: tuple[Run, ...]
    findings: tuple[Finding, ...] = ()
    written: tuple[Path, ...] = ()
    interrupted: bool = False
    unresolvable: int = 0

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if not r.passed)


def monkey(settings: Settings, environ: Mapping[str, str], reporter: Reporter, request: MonkeyRequest) -> MonkeyOutcome:
    """Run the strategy; write findings as prescriptions; return every result of this command."""
    request.check()
    with open_services(settings, environ, reporter) as services:
        lab = open_lab(settings, services, request)
        findings = SEARCHES[request.strategy](lab)
        written = write_findings(settings.project_dir, findings) if request.prescriptions else ()
        return MonkeyOutcome(request.command, request.strategy, tuple(lab.history()), tuple(findings),
                             tuple(written), lab.interrupted, lab.unresolvable)


def write_findings(project_dir: Path, findings: Sequence[Finding]) -> tuple[Path, ...]:
    """Each finding as ``.thoth/prescriptions/monkey-<what>.yaml`` (replacing an earlier one of the same)."""
    written = []
    for finding in findings:
        path = project_prescriptions(project_dir) / f"monkey-{finding.slug}.yaml"
        atomic_write(path, unit_text(finding))
        written.append(path)
    return tuple(written)


# -- stacks ------------------------------------------------------------------------------------

def newest(lab: Lab) -> Optional[Stack]:
    return lab.resolve({})


def lowest_direct(lab: Lab) -> Optional[Stack]:
    """Each direct package (in scope) at its lowest release the Pipfile admits."""
    pins: dict[str, str] = {}
    for dep in lab.dependencies:
        if _in_scope(lab, dep.key) and dep.direct is None and (versions := lab.versions(dep.key)):
            pins[dep.key] = min(versions, key=Version)
    return lab.resolve(pins) if pins else None


def sample(lab: Lab, rng: random.Random, scope: Sequence[str], avoid: Collection[Stack]) -> Optional[Stack]:
    """A stack not in ``avoid`` with random releases of random packages in ``scope`` (a few tries)."""
    for _ in range(SAMPLE_TRIES):
        chosen = rng.sample(list(scope), k=rng.randint(1, len(scope))) if scope else []
        pins = {name: rng.choice(versions) for name in chosen if (versions := lab.versions(name))}
        stack = lab.resolve(pins)
        if stack is not None and stack not in avoid:
            return stack
    return None


def sample_until(lab: Lab, rng: random.Random, stacks: list[Stack], enough: Callable[[Sequence[Run]], bool]) -> list[Run]:
    """Add sampled stacks (and run them) until ``enough`` says so, the budget is spent or no new stack turns up."""
    runs = lab.run_all(stacks)
    while not enough(runs) and not lab.out_of_budget():
        more = sample(lab, rng, _scope(lab, stacks), set(stacks))
        if more is None:
            break
        stacks.append(more)
        runs = lab.run_all(stacks)
    return runs


def _in_scope(lab: Lab, name: str) -> bool:
    wanted = {n.lower().replace("_", "-") for n in lab.request.packages}
    return not wanted or name in wanted


def _scope(lab: Lab, stacks: Sequence[Stack]) -> list[str]:
    names = sorted({name for stack in stacks for name, _ in stack.pins})
    return [n for n in names if _in_scope(lab, n)]


# -- strategies --------------------------------------------------------------------------------

def run_newest(lab: Lab) -> list[Finding]:
    lab.run_all([s for s in [newest(lab)] if s is not None])
    return []


def run_oldest(lab: Lab) -> list[Finding]:
    lab.run_all([s for s in [lowest_direct(lab)] if s is not None])
    return []


def run_sample(lab: Lab) -> list[Finding]:
    stacks = [s for s in (newest(lab), lowest_direct(lab)) if s is not None]
    sample_until(lab, random.Random(lab.request.seed), stacks, lambda runs: False)
    return []


def run_bisect(lab: Lab) -> list[Finding]:
    """A passing and a failing stack (sampling more if needed), then isolate what breaks."""
    stacks = [s for s in (newest(lab), lowest_direct(lab)) if s is not None]
    runs = sample_until(lab, random.Random(lab.request.seed), stacks, lambda runs: _pass_and_fail(runs) is not None)
    pair = _pass_and_fail(runs)
    if pair is None:
        return []
    finding = isolate(lab, pair[0].stack.versions, pair[1])
    return [finding] if finding is not None else []


def _pass_and_fail(runs: Sequence[Run]) -> Optional[tuple[Run, Run]]:
    passing = next((r for r in runs if r.passed), None)
    failing = next((r for r in runs if not r.passed and not r.excerpt.startswith("install failed")), None)
    return (passing, failing) if passing and failing else None


# -- bisection ---------------------------------------------------------------------------------

def isolate(lab: Lab, good: Pins, bad_run: Run) -> Optional[Finding]:
    """The release of ``bad_run``'s stack that breaks the test, and the partner it needs, if any."""
    bad = bad_run.stack.versions
    moved = [n for n in sorted(set(good) | set(bad)) if good.get(n) != bad.get(n) and _in_scope(lab, n)]
    culprit = _narrow(lab, good, bad, moved)
    if culprit is None or culprit not in bad:
        return None
    partner = _partner(lab, bad, culprit)
    return Finding(culprit, bad[culprit], lab.request.command, datetime.now(timezone.utc), bad_run.excerpt,
                   partner=(partner, bad[partner]) if partner else None)


def _mixed(good: Pins, bad: Pins, moved: Sequence[str]) -> Pins:
    """``good`` with the ``moved`` packages at their ``bad`` release (or unpinned where ``bad`` lacks them)."""
    pins = {n: v for n, v in good.items() if n not in moved}
    pins.update({n: bad[n] for n in moved if n in bad})
    return pins


def _narrow(lab: Lab, good: Pins, bad: Pins, moved: Sequence[str]) -> Optional[str]:
    """Halve the changed packages while one half alone breaks the good stack; else one at a time."""
    while len(moved) > 1 and not lab.out_of_budget():
        half = len(moved) // 2
        for part in (moved[:half], moved[half:]):
            if lab.test(_mixed(good, bad, part)) is False:
                moved = part
                break
        else:
            return _one_by_one(lab, good, bad, moved)
    return moved[0] if len(moved) == 1 else None


def _one_by_one(lab: Lab, good: Pins, bad: Pins, moved: Sequence[str]) -> Optional[str]:
    for name in moved:
        if lab.test(_mixed(good, bad, [name])) is False:
            return name
    return None


def _partner(lab: Lab, bad: Pins, culprit: str) -> Optional[str]:
    """Another package of the failing stack whose other releases make the culprit pass: the pair's other half."""
    for name in sorted(n for n in bad if n != culprit and _in_scope(lab, n)):
        for version in _alternatives(lab, name, bad[name]):
            if lab.out_of_budget():
                return None
            if lab.test({**bad, name: version}) is True:
                return name
    return None


def _alternatives(lab: Lab, name: str, version: str) -> list[str]:
    """The nearest older release, then the nearest newer one."""
    versions = sorted(lab.versions(name), key=Version)
    if version not in versions:
        return versions[-1:]
    at = versions.index(version)
    return [v for v in (versions[at - 1] if at > 0 else None, versions[at + 1] if at + 1 < len(versions) else None) if v]


SEARCHES: dict[str, Callable[[Lab], list[Finding]]] = {
    "newest": run_newest, "oldest": run_oldest, "sample": run_sample, "bisect": run_bisect,
}
