"""User actions about guidance: import advisories, audit a lock, record and list prescriptions, build the policy.

A run's policy is built in ``policy.py`` (re-exported here for callers of
``guidance_policy``); ``show_report`` prints a guidance report (table or
Thoth-shaped JSON).
Advisories and synced units live in the knowledge store of the knowledge dir
(``pipeline/knowledge.py``): imported knowledge, unlike the metadata cache,
must survive ``--clear``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import InputFileError
from ..guidance.advisories import Finding, audit
from ..knowledge import prescriptions as rx
from ..knowledge.locations import bundled_dir, user_prescriptions_dir
from ..models import Lock, redact_url
from ..resolve.resolver import StackReport
from ..settings import Settings
from .knowledge import import_advisories as import_advisories
from .knowledge import import_knowledge
from .policy import ADVISORIES_DB as ADVISORIES_DB
from .policy import close_policy as close_policy
from .policy import guidance_policy as guidance_policy
from .policy import load_units as load_units
from .policy import open_advisories as open_advisories
from .project import discover, read_text
from .report import knowledge_lines, not_from_knowledge


@dataclass(frozen=True)
class AuditOutcome:
    """The findings of ``thoth-pip audit`` for one lock."""

    lock_path: str
    findings: tuple[Finding, ...]
    advisories_known: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "lock": self.lock_path,
            "advisories_known": self.advisories_known,
            "vulnerable": bool(self.findings),
            "findings": [f.to_dict() for f in self.findings],
        }


def read_lock(settings: Settings) -> Lock:
    """The project's lock: Pipfile.lock, else poetry.lock, else a pinned requirements.txt."""
    files = discover(settings)
    if files.pipfile_lock is not None:
        from ..formats import pipfile_lock

        return pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
    if files.poetry_lock is not None:
        from ..formats import poetry_lock

        return poetry_lock.parse_poetry_lock(read_text(files.poetry_lock), str(files.poetry_lock))
    if files.requirements_txt is not None:
        from .inputs import load_requirements_lock

        return load_requirements_lock(files.requirements_txt)
    raise InputFileError(
        "no lock to audit (looked for Pipfile.lock, poetry.lock, requirements.txt)",
        path=str(files.directory),
        hint="run `thoth-pip lock` first",
    )


def audit_project(settings: Settings, environ: Mapping[str, str]) -> AuditOutcome:
    """Check every pin of the project's lock (the selected categories, or all) against the advisories."""
    lock = read_lock(settings)
    db = open_advisories(environ)
    try:
        categories = settings.categories or None
        findings = audit(lock, db, categories)
        return AuditOutcome(lock.path or str(settings.lock_path), findings, db.count())
    finally:
        db.close()


# -- prescriptions ------------------------------------------------------------------------------


def add_incompatibility(a: str, b: str, reason: str, environ: Mapping[str, str]) -> tuple[Path, str]:
    """Record "a does not work with b" as a unit in the user prescriptions dir."""
    return rx.add_incompatibility(a, b, reason, directory=user_prescriptions_dir(environ))


def knowledge_files(environ: Mapping[str, str]) -> dict[str, str]:
    """The prescription files this process resolves with when it serves (bundled, then the user dir,
    its ``backend/`` included), as ``{"bundled/x.yaml" | "user/y.yaml": text}``."""
    files: dict[str, str] = {}
    for label, root in (("bundled", bundled_dir()), ("user", user_prescriptions_dir(environ))):
        if root.is_dir():
            for path in rx.unit_files(root):
                files[f"{label}/{path.relative_to(root).as_posix()}"] = read_text(path)
    return files


@dataclass(frozen=True)
class SyncOutcome:
    """What ``thoth-pip prescription sync`` stored."""

    backend: str
    directory: Path
    knowledge_version: str
    digest: str
    files: int
    units: int
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "directory": str(self.directory), "knowledge_version": self.knowledge_version,
            "digest": self.digest, "files": self.files, "units": self.units, "changed": self.changed,
        }


def sync_prescriptions(
    backend: str, environ: Mapping[str, str], *, token: Optional[str] = None, verify: bool = True, client: Any = None
) -> SyncOutcome:
    """Fetch the backend's prescriptions and make them the user dir's ``backend/`` set (replaced whole)."""
    from ..resolve.remote import RemoteResolver

    resolver = RemoteResolver(backend, token=token, verify=verify, environ=environ, client=client)
    with tempfile.TemporaryDirectory(prefix="thoth-pip-bundle-") as tmp:
        bundle = Path(tmp) / "knowledge.zip"
        try:
            knowledge = resolver.prescriptions()
            with open(bundle, "wb") as out:
                served = resolver.knowledge_bundle(out)  # the backend's compiled store (synced repositories, advisories)
        finally:
            if client is None:
                resolver.close()
        directory = user_prescriptions_dir(environ)
        before = rx.backend_manifest(directory) or {}
        manifest = {"backend": redact_url(resolver.url), "knowledge_version": knowledge.knowledge_version, "digest": knowledge.digest}
        rx.replace_backend_units(knowledge.files, manifest, directory=directory)
        units = len(rx.load_path(directory / rx.BACKEND_DIR, "backend"))
        if served:
            units += import_knowledge(bundle, environ, backend=manifest["backend"]).units
    return SyncOutcome(
        manifest["backend"], directory / rx.BACKEND_DIR, knowledge.knowledge_version, knowledge.digest,
        len(knowledge.files), units, before.get("digest") != knowledge.digest,
    )


# -- printing ----------------------------------------------------------------------------------


def show_report(report: StackReport, console: Any, *, json_output: bool) -> None:
    """The report as Thoth-shaped JSON (stdout), or as tables and lines (stderr/stdout)."""
    if json_output:
        console.json(report.to_thoth_json())
        return
    rows = [(p.name, p.version, f"{p.score:+.2f}", _first(p.justifications)) for p in report.packages]
    console.table(["package", "version", "score", "why"], rows)
    for refusal in report.refused:
        console.info(f"refused {refusal.name} {refusal.version}: {refusal.reasons[0].message}")
    for item in not_from_knowledge(report.knowledge, (*report.justification, *report.stack_info)):
        if item.message in report.told:
            continue  # a unit's log said it as the run went (a boot's log and stack_info often say the same)
        (console.warn if item.type != "INFO" else console.info)(item.message + (f" ({item.link})" if item.link else ""))
    for line, warning in knowledge_lines(report.knowledge, printed={j.message for j in report.stack_info}):
        (console.warn if warning else console.info)(line)
    console.success(f"stack score {report.score:+.2f} ({report.recommendation_type})")


def _first(justifications: Sequence[Any]) -> str:
    if not justifications:
        return ""
    more = f" (+{len(justifications) - 1} more)" if len(justifications) > 1 else ""
    return str(justifications[0].message)[:70] + more


def show_findings(outcome: AuditOutcome, console: Any, *, json_output: bool) -> int:
    """Print an audit; exit code 1 when a locked package is vulnerable."""
    if json_output:
        console.json(outcome.to_dict())
        return 1 if outcome.findings else 0
    if outcome.advisories_known == 0:
        console.warn("no advisories imported yet: run `thoth-pip advisories import PATH` (OSV JSON, dir or zip)")
    if not outcome.findings:
        console.success(f"no known vulnerabilities in {outcome.lock_path} ({outcome.advisories_known} advisories known)")
        return 0
    rows = [(f.package, f.version, f.advisory.title(), ", ".join(f.advisory.fixed_versions) or "-", f.advisory.summary[:60])
            for f in outcome.findings]
    console.table(["package", "version", "advisory", "fixed in", "summary"], rows)
    console.warn(f"{len(outcome.findings)} vulnerable pin{'s' if len(outcome.findings) != 1 else ''} in {outcome.lock_path}")
    return 1
