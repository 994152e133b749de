"""Provenance check of a lock (Thoth's provenance-checker): every locked digest must be a file of that
release on the index its entry names.

``check_request`` is what ``thoth-pip serve`` runs for ``POST /api/v1/provenance/python``:
the report is a list of Thoth-shaped findings (``type``, ``id``, ``justification``,
``package_name``, ``package_version``, ``source``), an ERROR for each digest the
index does not list and for each entry that names no index or no release.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from ..errors import InputFileError, PackageNotFound
from ..formats import pipfile_lock
from ..models import Lock, Pin, Source, redact_url
from ..reporting import NULL_REPORTER
from ..resolve.wire import AdviseResult
from ..settings import Settings
from .services import Services, open_services

LINK = "https://thoth-station.ninja/j/provenance"


def _finding(kind: str, ident: str, text: str, pin: Pin, source: Optional[Source]) -> dict[str, Any]:
    where = {"name": source.name, "url": redact_url(source.url)} if source is not None else None
    return {"type": kind, "id": ident, "justification": text, "package_name": pin.name,
            "package_version": (pin.version or "").lstrip("="), "source": where, "link": LINK}  # fmt: skip


def _release(version: Optional[str]) -> Optional[Version]:
    try:
        return Version((version or "").lstrip("=")) if version else None
    except InvalidVersion:
        return None


def _pin_findings(client: Any, lock: Lock, pin: Pin) -> Iterator[dict[str, Any]]:
    sources = {s.name: s for s in lock.sources}
    source = sources.get(pin.index or "") if pin.index else (lock.sources[0] if len(lock.sources) == 1 else None)
    if pin.direct is not None:
        return
    if source is None:
        yield _finding("ERROR", "MISSING-SOURCE", f"the entry names no index of the lock ({pin.index!r})", pin, None)
        return
    version = _release(pin.version)
    if version is None:
        yield _finding("ERROR", "NOT-PINNED", f"{pin.version!r} is not an exact version", pin, source)
        return
    try:
        page = client.project(pin.name, index=source.name)
    except PackageNotFound:
        yield _finding("ERROR", "MISSING-PACKAGE", "the index does not have this project", pin, source)
        return
    known = {digest for a in page.artifacts if a.version == version for digest in a.hashes}
    if not known:
        yield _finding("ERROR", "MISSING-RELEASE", "the index has no file of this release", pin, source)
        return
    for digest in pin.hashes:
        if digest not in known:
            text = f"{digest} is not the digest of any file of this release on {redact_url(source.url)}"
            yield _finding("ERROR", "ARTIFACT-DIFFERENT-SOURCE", text, pin, source)
    if not pin.hashes:
        yield _finding("WARNING", "MISSING-HASHES", "the entry has no digests to check", pin, source)


def check_lock(services: Services, lock: Lock) -> list[dict[str, Any]]:
    """Findings for every entry of the lock; one INFO line when nothing is wrong."""
    client = services.index_client(lock.sources)
    findings: list[dict[str, Any]] = []
    checked = 0
    for pins in lock.categories.values():
        for pin in pins:
            checked += len(pin.hashes)
            findings.extend(_pin_findings(client, lock, pin))
    if not any(f["type"] == "ERROR" for f in findings):
        findings.append({"type": "INFO", "id": "ARTIFACTS-VERIFIED", "link": LINK,
                         "justification": f"all {checked} digests of the lock are files on the indexes it names"})  # fmt: skip
    return findings


def check_request(request: Any) -> AdviseResult:
    """A ``resolve.wire.AdviseRequest`` carrying a Pipfile.lock -> an ``AdviseResult`` whose report has the findings."""
    if not request.requirements_lock:
        raise InputFileError("a provenance check needs the Pipfile.lock", path="advise input", key_path="requirements_lock")
    lock = pipfile_lock.parse_lock(request.requirements_lock, "Pipfile.lock")
    with tempfile.TemporaryDirectory(prefix="thoth-pip-provenance-") as scratch:
        settings = Settings(project_dir=Path(scratch))
        with open_services(settings, os.environ, NULL_REPORTER) as services:
            findings = check_lock(services, lock)
    return AdviseResult(lock=request.requirements_lock, report={"provenance": findings})

