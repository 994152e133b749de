"""Resolvers the backend tests plug into a real server process (``--resolver tests.server.resolvers:resolve``).

``resolve`` is a small, deterministic function of its input, so the tests can
check that what comes back is derived from what was sent: it reads the Pipfile
(or requirements.in), pins each package (``==X`` kept, anything else ``1.0.0``),
and writes a Pipfile.lock-shaped JSON (or a requirements.txt) with the sources
as written. Some names trigger behaviours: ``conflict-*`` raises
ResolutionImpossible, ``missing-*`` PackageNotFound, ``sleepy==N`` sleeps N
seconds, ``crash-*`` kills the process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from typing import Any

from micro_thoth import errors
from micro_thoth.formats.pipfile import parse_toml
from micro_thoth.resolve.wire import AdviseRequest, AdviseResult

log = logging.getLogger("micro_thoth.tests.resolver")


def _pipfile(request: AdviseRequest) -> tuple[list[dict[str, Any]], dict[str, str]]:
    data = parse_toml(request.requirements)
    packages = dict(data.get("packages", {}))
    if request.dev:
        packages.update(data.get("dev-packages", {}))
    specs = {name: spec if isinstance(spec, str) else spec.get("version", "*") for name, spec in packages.items()}
    return list(data.get("source", [])), specs


def _requirements_in(request: AdviseRequest) -> tuple[list[dict[str, Any]], dict[str, str]]:
    sources, specs = [], {}
    for line in request.requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        option = re.match(r"(-i|--index-url|--extra-index-url)\s*=?\s*(\S+)", line)
        if option:
            sources.append({"name": f"index-{len(sources)}", "url": option.group(2), "verify_ssl": True})
        elif line:
            match = re.match(r"([A-Za-z0-9._-]+)\s*(.*)", line)
            if match:
                specs[match.group(1)] = match.group(2) or "*"
    return sources, specs


def _pin(name: str, spec: str) -> str:
    if name.startswith("conflict"):
        cause = errors.ConflictCause(f"{name}>=2", ("Pipfile", f"{name}{spec}"))
        raise errors.ResolutionImpossible(f"{name}: no version satisfies both {spec} and >=2", causes=[cause])
    if name.startswith("missing"):
        raise errors.PackageNotFound(name, suggestions=["requests"])
    if name.startswith("crash"):
        os._exit(3)
    exact = re.fullmatch(r"==\s*([\w.]+)", spec.strip())
    version = exact.group(1) if exact else "1.0.0"
    if name == "sleepy":
        time.sleep(float(version))
    return version


def resolve(request: AdviseRequest) -> AdviseResult:
    sources, specs = (_pipfile if request.requirements_format == "pipenv" else _requirements_in)(request)
    for source in sources:
        log.info("using index %s", source["url"])
    pins = {name.lower(): _pin(name, spec) for name, spec in sorted(specs.items())}
    digest = lambda text: "sha256:" + hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    if request.requirements_format == "pipenv":
        lock = json.dumps({
            "_meta": {"hash": {"sha256": digest(request.requirements)[7:]}, "pipfile-spec": 6,
                      "requires": {"python_version": request.runtime_environment.get("python_version", "3.11")},
                      "sources": sources},
            "default": {n: {"hashes": [digest(f"{n}-{v}")], "version": f"=={v}"} for n, v in pins.items()},
            "develop": {},
        }, indent=4, sort_keys=True) + "\n"  # fmt: skip
    else:
        header = "".join(f"--index-url {s['url']}\n" for s in sources[:1])
        lock = header + "".join(f"{n}=={v} \\\n    --hash={digest(f'{n}-{v}')}\n" for n, v in pins.items())
    report = {
        "products": [{"justification": [{"type": "INFO", "message": f"{n} pinned to {v}"} for n, v in pins.items()],
                      "score": float(len(pins))}],
        "stack_info": [{"type": "INFO", "message": f"recommendation type {request.recommendation_type}",
                        "link": "https://example.invalid/recommendation"}],
        "sources": [s["url"] for s in sources],
        "exclude_newer": request.exclude_newer,
        "labels": dict(request.labels),
    }  # fmt: skip
    return AdviseResult(lock=lock, report=report, knowledge_version="test-knowledge-1")
