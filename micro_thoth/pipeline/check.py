"""``thoth-pip check``: does the installed environment match the lock, byte for byte?

Three kinds of finding: a locked package missing or at another version; an
installed file that differs from its ``RECORD`` (or a missing ``RECORD``); a
requirement of an installed package that nothing satisfies (what ``pip check``
reports); a native file that needs a symbol version the target's system
libraries lack (``abi``). Packages the lock does not name, and packages another installer
wrote, are warnings (problems with ``strict``).
"""

from __future__ import annotations

import base64
import csv
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packaging.markers import InvalidMarker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import install
from ..artifacts import CoreMetadata
from ..digests import stream_digests
from ..guidance.abi import WheelAbi, missing_symbols, refusal_message
from ..integrity import NotRegular, irregular, open_regular
from ..knowledge import abi
from ..models import Pin, Target
from ..settings import Settings
from .environment import runtime_environment
from .inputs import load_project_lock, plain_pipfile
from .project import discover
from .sync import select_pins
from .where import IGNORED, existing_environment


@dataclass(frozen=True)
class Finding:
    """One mismatch: ``kind`` is missing, version, record, dependency, extraneous or installer."""

    kind: str
    package: str
    message: str


@dataclass(frozen=True)
class CheckOutcome:
    environment: Path
    checked: int
    problems: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check(settings: Settings, *, strict: bool = False, environ: Mapping[str, str] = {}) -> CheckOutcome:
    """Compare the project's environment with its lock (the categories selected by the settings)."""
    files = discover(settings)
    lock = load_project_lock(files)
    env = existing_environment(settings)
    target = Target(markers=dict(env.interpreter.markers), tags=())
    pins = select_pins(lock, settings.selected_categories(), target, plain_pipfile(files))
    installed = install.installed_distributions(env)
    findings = [*_pin_findings(pins, installed), *_dependency_findings(installed, pins, target.markers)]
    symbols = _target_symbols(settings, environ, env.interpreter)
    findings += [f for pin in pins if (dist := installed.get(pin.key)) is not None for f in _abi_findings(dist, symbols)]
    locked = {canonicalize_name(p.name) for pins_ in lock.categories.values() for p in pins_}
    soft = [*_extraneous(installed, locked), *_installer_findings(pins, installed)]
    problems = findings + (soft if strict else [])
    return CheckOutcome(env.prefix, len(pins), tuple(problems), tuple([] if strict else soft))


def _pin_findings(pins: Sequence[Pin], installed: Mapping[NormalizedName, install.InstalledDistribution]) -> Iterator[Finding]:
    for pin in pins:
        dist = installed.get(pin.key)
        if dist is None:
            yield Finding("missing", pin.name, f"{pin.describe()} is locked but not installed")
            continue
        if pin.direct is None and pin.version not in (None, "*") and not _same(dist.version, pin.version or ""):
            yield Finding("version", pin.name, f"{pin.name} {dist.version} is installed, the lock pins {pin.version}")
        yield from _record_findings(dist)


def _target_symbols(settings: Settings, environ: Mapping[str, str], interpreter: object) -> frozenset[str]:
    """What the environment's system libraries define (detected, or ``.thoth.yaml``'s ``abi_symbols``)."""
    selected = runtime_environment(settings.project_dir, environ=environ, interpreter=interpreter)
    return frozenset(selected.environment.abi_symbols)


def _abi_findings(dist: install.InstalledDistribution, symbols: frozenset[str]) -> Iterator[Finding]:
    """Each installed shared object whose needed symbol versions the target lacks."""
    if not symbols:
        return
    site = dist.dist_info.parent
    for relative in _recorded_files(dist):
        if not abi.looks_native(relative):
            continue
        try:
            needs = abi.file_needs(site / relative, relative)
        except (OSError, abi.NotElf):
            continue  # not ELF, unreadable, or not a regular file (which the RECORD check names)
        missing = missing_symbols(WheelAbi((needs,)), symbols)
        if missing:
            yield Finding("abi", dist.name, f"{dist.name} {dist.version}: {refusal_message(relative, missing)}")


def _recorded_files(dist: install.InstalledDistribution) -> list[str]:
    return [row[0] for row in _record_rows(dist) or []]


def _record_rows(dist: install.InstalledDistribution) -> Optional[list[list[str]]]:
    """The rows of the distribution's RECORD; None when it cannot be read."""
    try:
        with open(dist.record_path, newline="", encoding="utf-8") as handle:
            return [row for row in csv.reader(handle) if row]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _same(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right.lstrip("="))
    except InvalidVersion:
        return left == right.lstrip("=")


def _record_findings(dist: install.InstalledDistribution) -> Iterator[Finding]:
    """Every file RECORD lists with a digest must exist with that digest; none may be a FIFO, a device or a directory."""
    rows = _record_rows(dist)
    if rows is None:
        yield Finding("record", dist.name, f"{dist.name} {dist.version} has no readable RECORD")
        return
    site = dist.dist_info.parent
    for row in rows:
        problem = _file_problem(site / row[0], row[1]) if len(row) >= 2 and row[1] else _irregular(site / row[0])
        if problem:
            yield Finding("record", dist.name, f"{dist.name} {dist.version}: {row[0]} {problem}")


def _file_problem(path: Path, recorded: str) -> Optional[str]:
    algorithm, _, expected = recorded.partition("=")
    try:
        with open_regular(path) as handle:
            found = {h.algorithm: h.value for h in stream_digests(handle, (algorithm,))}
        digest = bytes.fromhex(found[algorithm])
    except FileNotFoundError:
        return "is missing"
    except NotRegular as exc:
        return f"is not a regular file ({exc.kind})"
    except (OSError, ValueError):
        return "cannot be read"
    actual = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return None if actual == expected else "was modified after installation"


def _irregular(path: Path) -> Optional[str]:
    """A file RECORD lists without a digest: a problem only when it is there and not a regular file."""
    try:
        kind = irregular(os.stat(path).st_mode)
    except OSError:
        return None
    return f"is not a regular file ({kind})" if kind else None


def _dependency_findings(
    installed: Mapping[NormalizedName, install.InstalledDistribution], pins: Sequence[Pin], markers: Mapping[str, str]
) -> Iterator[Finding]:
    """``pip check``: each installed package's requirements (and its locked extras') are satisfied."""
    extras = {p.key: p.extras for p in pins}
    for key, dist in installed.items():
        for requirement in _requirements(dist, extras.get(key, ()), markers):
            found = installed.get(canonicalize_name(requirement.name))
            if found is None:
                yield Finding("dependency", dist.name,
                              f"{dist.name} {dist.version} requires {requirement.name}, which is not installed")
            elif not requirement.specifier.contains(found.version, prereleases=True):
                yield Finding("dependency", dist.name, f"{dist.name} {dist.version} has requirement {requirement}, "
                              f"but you have {found.name} {found.version}")


def _requirements(dist: install.InstalledDistribution, extras: Sequence[str], markers: Mapping[str, str]) -> Iterator[Requirement]:
    try:
        metadata = CoreMetadata.from_text((dist.dist_info / "METADATA").read_bytes())
    except (OSError, ValueError):
        return
    for text in metadata.requires_dist:
        try:
            requirement = Requirement(text)
            if requirement.marker is None or any(
                requirement.marker.evaluate({**markers, "extra": extra}) for extra in ("", *extras)
            ):
                yield requirement
        except (InvalidRequirement, InvalidMarker, UndefinedEnvironmentName):
            continue


def _extraneous(installed: Mapping[NormalizedName, install.InstalledDistribution], locked: set[NormalizedName]) -> Iterator[Finding]:
    for key, dist in sorted(installed.items()):
        if key not in locked and key not in IGNORED:
            yield Finding("extraneous", dist.name, f"{dist.name} {dist.version} is installed but not in the lock")


def _installer_findings(pins: Sequence[Pin], installed: Mapping[NormalizedName, install.InstalledDistribution]) -> Iterator[Finding]:
    for pin in pins:
        dist = installed.get(pin.key)
        if dist is not None and dist.installer != install.INSTALLER_NAME.decode().strip():
            by = dist.installer or "an unknown installer (no INSTALLER file)"
            yield Finding("installer", dist.name, f"{dist.name} {dist.version} was installed by {by}, not verified against the lock")
